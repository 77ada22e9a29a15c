//! The bulk of SEIPDv1 (RFC 4880 §5.13, RFC 9580 §5.13.1: AES-CFB with a zero IV over a random
//! prefix, the data and an MDC packet holding SHA-1 of all of it) over OpenSSL directly.
//!
//! # Why
//!
//! sequoia-openpgp 2.4.2 hashes the MDC with `sha1collisiondetection` whatever the crypto
//! backend (`HashAlgorithm::SHA1.context()` always builds SHA1-CD): callgrind on an 8 MiB
//! encryption put 73% of all instructions there and 16% in OpenSSL's CFB. Collision detection
//! protects signatures over attacker-chosen data; the MDC is a keyed-by-encryption integrity
//! check where it buys nothing. sequoia also decrypts CFB block by block through OpenSSL's
//! serial CFB, although CFB *decryption* parallelises (P_i = C_i ⊕ E_K(C_{i-1}), so all
//! E_K(C_{i-1}) are one pipelined AES-ECB call). Neither is configurable.
//!
//! # Design (what stays with sequoia, what is ours)
//!
//! - **Encryption**: sequoia builds the PKESK/SKESK packets (`PKESK3::for_recipient`,
//!   `SKESK4::with_password`) and the inner packet stream (its `Signer` and `LiteralWriter`
//!   write into [`Writer`]); [`Writer`] hashes that stream with OpenSSL SHA-1, encrypts it with
//!   OpenSSL AES-CFB and frames it as a SEIP packet with partial body lengths; `finish` appends
//!   the MDC packet. CFB encryption is serial, so past 256 KiB the SHA-1 runs on a second thread
//!   (`Hasher`: a bounded channel of recycled 256 KiB batches, joined at `finish`). SEIPDv2 stays entirely with sequoia (it is fast there already).
//! - **Decryption** (`decrypt.rs`): sequoia parses the armor, the ESK packets and the SEIP header,
//!   and recovers the session key through the same helper as the sequoia path. The SEIP body is
//!   decrypted by [`CfbDecryptor`] and hashed by [`Mdc`]; the plaintext goes to the spool, the
//!   last 22 bytes (the MDC packet) are held back and compared in constant time. Only then is the
//!   spooled inner packet stream handed to sequoia's `Verifier` (signatures, structure,
//!   decompression), and only after that is the literal data released. Anything the fast path
//!   does not handle (non-AES ciphers, SEIPDv2, SED, signed-only messages, unusual packet order)
//!   goes through sequoia's `Decryptor` unchanged.
//!
//! The security properties are those of the sequoia path: no plaintext before the MDC checked
//! (and the structure and signatures after it), the SED packet refused (by sequoia's path, which
//! every non-SEIPDv1 message takes), the MDC compared in constant time, the quick-check bytes
//! used only to pick the session key among several candidates, as sequoia does, never as an
//! error of their own.

use std::io::{self, Write};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use ossl::cipher::{AesSize, EncAlg, OsslCipher};
use ossl::digest::{DigestAlg, OsslDigest};
use ossl::{OsslContext, OsslSecret};
use sequoia_openpgp as openpgp;

use openpgp::types::SymmetricAlgorithm;

/// AES block size.
pub(crate) const BLOCK: usize = 16;
/// The random prefix plus its two repeated quick-check bytes.
pub(crate) const PREFIX: usize = BLOCK + 2;
/// The MDC packet: tag byte 0xD3, length 0x14, 20 bytes of SHA-1.
pub(crate) const MDC_LEN: usize = 22;
/// Partial body chunk of the SEIP packet we write: 2^18 = 256 KiB.
const CHUNK_LOG2: u8 = 18;
const CHUNK: usize = 1 << CHUNK_LOG2;
/// Below this size (when known in advance) sequoia writes the whole SEIPDv1 message: see
/// `EncryptOptions::expected_size`.
pub(crate) const SMALL_MESSAGE: u64 = CHUNK as u64;

/// Our own OpenSSL library context (default provider, loaded on first use).
fn ctx() -> io::Result<&'static OsslContext> {
    static CTX: OnceLock<Option<OsslContext>> = OnceLock::new();
    CTX.get_or_init(|| OsslContext::new_lib_ctx_checked().ok())
        .as_ref()
        .ok_or_else(|| io::Error::other("cannot create an OpenSSL library context"))
}

fn ossl_err(e: ossl::Error) -> io::Error {
    io::Error::other(format!("OpenSSL: {e:?}"))
}

/// The AES key size of `algo`, if the fast path handles it.
pub(crate) fn aes_size(algo: SymmetricAlgorithm) -> Option<AesSize> {
    match algo {
        SymmetricAlgorithm::AES128 => Some(AesSize::Aes128),
        SymmetricAlgorithm::AES192 => Some(AesSize::Aes192),
        SymmetricAlgorithm::AES256 => Some(AesSize::Aes256),
        _ => None,
    }
}

/// SHA-1 over the SEIPDv1 plaintext (prefix, data, MDC header), by OpenSSL.
pub(crate) struct Mdc(OsslDigest);

impl Mdc {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Mdc(
            OsslDigest::new(ctx()?, DigestAlg::Sha1, None).map_err(ossl_err)?
        ))
    }
    pub(crate) fn update(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.update(data).map_err(ossl_err)
    }
    pub(crate) fn finish(mut self) -> io::Result<[u8; 20]> {
        let mut d = [0u8; 20];
        let n = self.0.finalize(&mut d).map_err(ossl_err)?;
        if n != d.len() {
            return Err(io::Error::other(
                "SHA-1 returned a digest of the wrong size",
            ));
        }
        Ok(d)
    }
}

/// Whether `tail` (the last 22 plaintext bytes) is an MDC packet carrying `digest`, compared in
/// constant time (no early exit on the first differing byte).
pub(crate) fn mdc_matches(tail: &[u8; MDC_LEN], digest: &[u8; 20]) -> bool {
    let mut diff = (tail[0] ^ 0xD3) | (tail[1] ^ 0x14);
    for (a, b) in tail[2..].iter().zip(digest.iter()) {
        diff |= a ^ b;
    }
    std::hint::black_box(diff) == 0
}

/// OpenPGP CFB decryption (zero IV, no resynchronisation) as one AES-ECB encryption of the
/// previous ciphertext blocks per call, XORed with the ciphertext: pipelined AES-NI instead of
/// one block at a time.
pub(crate) struct CfbDecryptor {
    ecb: OsslCipher,
    ks: Vec<u8>,
}

impl CfbDecryptor {
    pub(crate) fn new(size: AesSize, key: &[u8]) -> io::Result<Self> {
        let mut ecb = OsslCipher::new(
            ctx()?,
            EncAlg::AesEcb(size),
            true,
            OsslSecret::from_slice(key),
            None,
            None,
        )
        .map_err(ossl_err)?;
        ecb.set_padding(false).map_err(ossl_err)?;
        Ok(CfbDecryptor {
            ecb,
            ks: Vec::new(),
        })
    }

    /// Decrypts `area[BLOCK..]` in place, where `area[..BLOCK]` holds the ciphertext block
    /// before it (zeros, the IV, at the start of the message); afterwards `area[..BLOCK]` holds
    /// the last ciphertext block, ready for the next call. Every call but the last must cover
    /// whole blocks. The ciphertext is read where it lies: no copy before the AES call.
    pub(crate) fn decrypt(&mut self, area: &mut [u8]) -> io::Result<()> {
        let len = area.len().saturating_sub(BLOCK);
        if len == 0 {
            return Ok(());
        }
        let blocks = len.div_ceil(BLOCK);
        self.ks.resize(blocks * BLOCK, 0);
        let n = self
            .ecb
            .update(&area[..blocks * BLOCK], &mut self.ks)
            .map_err(ossl_err)?;
        if n != blocks * BLOCK {
            return Err(io::Error::other("AES-ECB returned a short key stream"));
        }
        let mut last = [0u8; BLOCK];
        if len.is_multiple_of(BLOCK) {
            last.copy_from_slice(&area[len..]);
        }
        for (p, k) in area[BLOCK..].iter_mut().zip(self.ks.iter()) {
            *p ^= k;
        }
        area[..BLOCK].copy_from_slice(&last);
        Ok(())
    }
}

/// Decrypts the first [`PREFIX`] bytes with `key` and tells whether the quick-check bytes
/// repeat (used only to choose among candidate session keys, as sequoia does).
pub(crate) fn quick_check(size: AesSize, key: &[u8], first: &[u8; PREFIX]) -> bool {
    let Ok(mut d) = CfbDecryptor::new(size, key) else {
        return false;
    };
    let mut b = [0u8; BLOCK + PREFIX];
    b[BLOCK..].copy_from_slice(first);
    if d.decrypt(&mut b).is_err() {
        return false;
    }
    b[2 * BLOCK - 2..2 * BLOCK] == b[2 * BLOCK..]
}

/// The sink [`Writer`] writes the SEIP packet to: the caller's writer, armored or not.
pub(crate) enum Sink<'a> {
    /// Binary output.
    Binary(Box<dyn Write + Send + Sync + 'a>),
    /// ASCII-armored output.
    Armored(openpgp::armor::Writer<Box<dyn Write + Send + Sync + 'a>>),
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Binary(w) => w.write(buf),
            Sink::Armored(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Binary(w) => w.flush(),
            Sink::Armored(w) => w.flush(),
        }
    }
}

/// How much plaintext is hashed per batch once hashing moved to its own thread.
const HASH_BATCH: usize = 256 * 1024;

/// The MDC's SHA-1 of what [`Writer`] encrypts (and of what `decrypt.rs` decrypts). CFB encryption is serial (each block needs the
/// previous ciphertext), so SHA-1 is the part that can run beside it: from the first full
/// batch on, batches go to a second thread (bounded channel, buffers recycled). Messages
/// under one batch are hashed inline and start no thread.
pub(crate) struct Hasher {
    pending: Vec<u8>,
    state: HashState,
}

enum HashState {
    Inline(Mdc),
    Thread {
        tx: SyncSender<Vec<u8>>,
        back: Receiver<Vec<u8>>,
        handle: JoinHandle<io::Result<[u8; 20]>>,
    },
    Done,
}

impl Hasher {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Hasher {
            pending: Vec::new(),
            state: HashState::Inline(Mdc::new()?),
        })
    }

    pub(crate) fn update(&mut self, data: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(data);
        if self.pending.len() >= HASH_BATCH {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        if matches!(self.state, HashState::Inline(_))
            && let HashState::Inline(mut mdc) = std::mem::replace(&mut self.state, HashState::Done)
        {
            let (tx, rx) = sync_channel::<Vec<u8>>(2);
            let (give_back, back) = sync_channel::<Vec<u8>>(4);
            let handle = std::thread::Builder::new()
                .name("secmail-pgp-mdc".into())
                .spawn(move || {
                    for mut buf in rx {
                        mdc.update(&buf)?;
                        buf.clear();
                        let _ = give_back.try_send(buf);
                    }
                    mdc.finish()
                })?;
            self.state = HashState::Thread { tx, back, handle };
        }
        match &self.state {
            HashState::Thread { tx, back, .. } => {
                let fresh = back
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(HASH_BATCH + CHUNK));
                let batch = std::mem::replace(&mut self.pending, fresh);
                tx.send(batch)
                    .map_err(|_| io::Error::other("the MDC thread stopped"))
            }
            _ => Err(io::Error::other("SEIPDv1 hasher in a bad state")),
        }
    }

    pub(crate) fn finish(self) -> io::Result<[u8; 20]> {
        match self.state {
            HashState::Inline(mut mdc) => {
                mdc.update(&self.pending)?;
                mdc.finish()
            }
            HashState::Thread { tx, back, handle } => {
                if !self.pending.is_empty() {
                    tx.send(self.pending)
                        .map_err(|_| io::Error::other("the MDC thread stopped"))?;
                }
                drop(tx);
                drop(back);
                handle
                    .join()
                    .map_err(|_| io::Error::other("the MDC thread panicked"))?
            }
            HashState::Done => Err(io::Error::other("SEIPDv1 hasher in a bad state")),
        }
    }
}

/// A new-format definite body length (RFC 9580 §4.2.1.1–3).
fn definite_length(len: usize) -> io::Result<Vec<u8>> {
    let mut header = Vec::with_capacity(5);
    if len < 192 {
        header.push(len as u8);
    } else if len < 8384 {
        let v = len - 192;
        header.push(((v >> 8) as u8) + 192);
        header.push(v as u8);
    } else {
        header.push(0xFF);
        header.extend_from_slice(&u32::try_from(len).map_err(io::Error::other)?.to_be_bytes());
    }
    Ok(header)
}

/// Writes a SEIPDv1 packet: what is written to it is the inner packet stream.
pub(crate) struct Writer<'a> {
    sink: Option<Sink<'a>>,
    cipher: OsslCipher,
    mdc: Option<Hasher>,
    /// One partial body chunk: `body[..filled]` is encrypted and not yet written. Allocated
    /// (and zeroed) once; the cipher writes straight into it, so plaintext is never copied
    /// here first.
    body: Vec<u8>,
    filled: usize,
}

impl<'a> Writer<'a> {
    /// Writes the SEIP packet header and the encrypted random prefix to `sink` (after the ESK
    /// packets the caller wrote there).
    pub(crate) fn new(mut sink: Sink<'a>, size: AesSize, key: &[u8]) -> io::Result<Self> {
        // New-format CTB, tag 18 (SEIP).
        sink.write_all(&[0xC0 | 18])?;
        let cipher = OsslCipher::new(
            ctx()?,
            EncAlg::AesCfb128(size),
            true,
            OsslSecret::from_slice(key),
            Some(vec![0; BLOCK]),
            None,
        )
        .map_err(ossl_err)?;
        let mut body = vec![0u8; CHUNK];
        body[0] = 1; // version
        let mut w = Writer {
            sink: Some(sink),
            cipher,
            mdc: Some(Hasher::new()?),
            body,
            filled: 1,
        };
        let mut prefix = [0u8; PREFIX];
        openpgp::crypto::random(&mut prefix[..BLOCK]).map_err(io::Error::other)?;
        prefix.copy_within(BLOCK - 2..BLOCK, BLOCK);
        w.process(&prefix)?;
        Ok(w)
    }

    fn sink(&mut self) -> io::Result<&mut Sink<'a>> {
        self.sink
            .as_mut()
            .ok_or_else(|| io::Error::other("SEIPDv1 writer used after finish"))
    }

    /// Hashes `data` into the MDC and encrypts it.
    fn process(&mut self, data: &[u8]) -> io::Result<()> {
        self.mdc
            .as_mut()
            .ok_or_else(|| io::Error::other("SEIPDv1 writer used after finish"))?
            .update(data)?;
        self.encrypt(data)
    }

    /// Encrypts `data` into the packet body, writing each full partial-body chunk.
    fn encrypt(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let start = self.filled;
            let n = data.len().min(CHUNK - start);
            let out = self
                .body
                .get_mut(start..start + n)
                .ok_or_else(|| io::Error::other("SEIPDv1 writer used after finish"))?;
            let k = self.cipher.update(&data[..n], out).map_err(ossl_err)?;
            if k != n {
                return Err(io::Error::other("AES-CFB returned a short output"));
            }
            self.filled += n;
            data = &data[n..];
            if self.filled == CHUNK {
                let sink = self
                    .sink
                    .as_mut()
                    .ok_or_else(|| io::Error::other("SEIPDv1 writer used after finish"))?;
                sink.write_all(&[0xE0 | CHUNK_LOG2])?;
                sink.write_all(&self.body)?;
                self.filled = 0;
            }
        }
        Ok(())
    }

    /// Appends the MDC packet, writes the last body part and the armor footer.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.process(&[0xD3, 0x14])?;
        let digest = self
            .mdc
            .take()
            .ok_or_else(|| io::Error::other("SEIPDv1 writer finished twice"))?
            .finish()?;
        self.encrypt(&digest)?;
        let len = self.filled;
        let header = definite_length(len)?;
        let body = std::mem::take(&mut self.body);
        let sink = self.sink()?;
        sink.write_all(&header)?;
        sink.write_all(body.get(..len).unwrap_or_default())?;
        match self.sink.take() {
            Some(Sink::Binary(mut w)) => w.flush(),
            Some(Sink::Armored(w)) => w.finalize()?.flush(),
            None => Err(io::Error::other("SEIPDv1 writer finished twice")),
        }
    }
}

/// A Literal Data packet (binary, no file name, date 0: what sequoia's `LiteralWriter` writes
/// by default) framed with partial body lengths, written straight into a [`Writer`]. Used for
/// unsigned messages instead of sequoia's `LiteralWriter`, whose partial-body filter copies
/// every write twice and buffers 4 MiB (callgrind and perf on 64 MiB: see
/// benches/notes-pgp-speed.md). Full chunks go to the [`Writer`] from the caller's buffer
/// without a copy; at most one chunk is held.
pub(crate) struct LiteralWriter<'a> {
    w: Writer<'a>,
    /// Body bytes (the literal header first) not yet framed; always under one chunk.
    buf: Vec<u8>,
}

impl<'a> LiteralWriter<'a> {
    pub(crate) fn new(mut w: Writer<'a>) -> io::Result<Self> {
        // New-format CTB, tag 11 (Literal Data).
        w.process(&[0xC0 | 11])?;
        let mut buf = Vec::with_capacity(CHUNK);
        // Format 'b' (binary), empty file name, date 0.
        buf.extend_from_slice(&[b'b', 0, 0, 0, 0, 0]);
        Ok(LiteralWriter { w, buf })
    }

    /// Writes the last body part (a definite length, possibly 0) and finishes the SEIP packet.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        let header = definite_length(self.buf.len())?;
        self.w.process(&header)?;
        self.w.process(&self.buf)?;
        self.w.finish()
    }
}

impl Write for LiteralWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        let mut data = data;
        while self.buf.len() + data.len() > CHUNK {
            let take = CHUNK - self.buf.len();
            self.w.process(&[0xE0 | CHUNK_LOG2])?;
            self.w.process(&self.buf)?;
            self.w.process(&data[..take])?;
            self.buf.clear();
            data = &data[take..];
        }
        self.buf.extend_from_slice(data);
        Ok(total)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.process(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.sink()?.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfb_decryptor_matches_openssl_cfb() {
        let key = [7u8; 32];
        let pt: Vec<u8> = (0..1000u32).map(|i| (i * 31) as u8).collect();
        let mut enc = OsslCipher::new(
            ctx().unwrap(),
            EncAlg::AesCfb128(AesSize::Aes256),
            true,
            OsslSecret::from_slice(&key),
            Some(vec![0; BLOCK]),
            None,
        )
        .unwrap();
        let mut ct = pt.clone();
        enc.update_in_place(&mut ct).unwrap();
        for split in [0usize, 16, 32, 160, 992] {
            let mut d = CfbDecryptor::new(AesSize::Aes256, &key).unwrap();
            let mut out = Vec::new();
            let mut area = vec![0u8; BLOCK];
            for part in [&ct[..split], &ct[split..]] {
                area.truncate(BLOCK);
                area.extend_from_slice(part);
                d.decrypt(&mut area).unwrap();
                out.extend_from_slice(&area[BLOCK..]);
            }
            assert_eq!(out, pt, "split at {split}");
        }
    }

    #[test]
    fn hasher_thread_and_inline_agree() {
        let data: Vec<u8> = (0..3 * HASH_BATCH as u32 + 1234).map(|i| i as u8).collect();
        let mut one = Mdc::new().unwrap();
        one.update(&data).unwrap();
        let want = one.finish().unwrap();
        for piece in [1000usize, 8192, HASH_BATCH, data.len()] {
            let mut h = Hasher::new().unwrap();
            for c in data.chunks(piece) {
                h.update(c).unwrap();
            }
            assert_eq!(h.finish().unwrap(), want, "pieces of {piece}");
        }
        let mut small = Hasher::new().unwrap();
        small.update(&data[..100]).unwrap();
        assert!(matches!(small.state, HashState::Inline(_)));
        let mut one = Mdc::new().unwrap();
        one.update(&data[..100]).unwrap();
        assert_eq!(small.finish().unwrap(), one.finish().unwrap());
    }

    #[test]
    fn mdc_compare() {
        let d = [9u8; 20];
        let mut t = [9u8; MDC_LEN];
        t[0] = 0xD3;
        t[1] = 0x14;
        assert!(mdc_matches(&t, &d));
        t[21] ^= 1;
        assert!(!mdc_matches(&t, &d));
        t[21] ^= 1;
        t[1] = 0x15;
        assert!(!mdc_matches(&t, &d));
    }
}
