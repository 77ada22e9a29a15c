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
//!   `SKESK4::with_password`) and, for signed messages, the inner packet stream (its `Signer`
//!   and `LiteralWriter` write into [`Writer`]); unsigned messages get their Literal Data packet
//!   from [`LiteralWriter`]. [`Writer`] hashes that stream with OpenSSL SHA-1, encrypts it with
//!   OpenSSL AES-CFB and frames it as a SEIP packet with 256 KiB partial body lengths, the MDC
//!   packet last.
//!
//!   CFB *encryption* is serial (each block needs the previous ciphertext) and the slowest
//!   part (about 580 MB/s here, against 1 GB/s for SHA-1), so it gets a thread of its own and
//!   the rest is pipelined around it: the caller's thread fills 256 KiB segments (read straight
//!   into them by [`LiteralWriter::read_from`]); a SHA-1 thread hashes each and appends the
//!   digest to the last; an AES thread encrypts each in place and hands it back; the caller's
//!   thread frames and writes the ciphertext between its reads. Bounded channels (two segments
//!   deep) and recycled buffers keep the memory at a few MiB whatever the size. Messages that
//!   fit one segment are hashed and encrypted on the caller's thread at `finish` and start no
//!   thread. The sink stays on the caller's thread: it may borrow (`'a`), and a thread holding
//!   it could outlive the borrow if the writer were leaked (`mem::forget`) instead of dropped.
//!
//!   Errors: the sink's error returns from the `write` or `finish` that wrote (at most a few
//!   segments after the failing byte); a stage's error (or panic, which becomes an error)
//!   closes its channels, which ends the other stage and fails the caller's next hand-over;
//!   every later call fails. On any failure, and on drop without `finish`, both channels are
//!   closed and both threads joined before the call returns: no stage blocks on a full or
//!   empty channel whose other end is gone, and no thread outlives the writer. SEIPDv2 stays
//!   entirely with sequoia (it is fast there already).
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

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};
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
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Sink::Binary(w) => w.write_vectored(bufs),
            Sink::Armored(w) => w.write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Binary(w) => w.flush(),
            Sink::Armored(w) => w.flush(),
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

/// Bytes kept free before a segment's data for what is prepended to it later: the random
/// prefix (18), the literal packet's tag (1) and length (up to 5), the SEIP version byte (1).
const ROOM: usize = 32;
/// The data capacity the first segment starts with; it grows to [`CHUNK`] only when a message
/// needs it, so a 1 KiB message never allocates (and zeroes) a whole chunk.
const FIRST_SEG: usize = 8 * 1024;
/// Segments queued between the caller and the SHA-1 thread, and between that and the AES
/// thread. With one segment in each stage and the ones the caller holds, at most about ten
/// segments (2.5 MiB) exist at a time, whatever the message size.
const DEPTH: usize = 2;

/// A piece of the SEIPDv1 plaintext (the encrypted stream: prefix, inner packets, MDC), moved
/// through the pipeline and encrypted in place: `buf[start..end]` is what is hashed and then
/// encrypted; the caller writes at most [`CHUNK`] bytes of data from `ROOM` on, headers are
/// prepended into the room, the MDC packet appended into the `MDC_LEN` bytes after it.
struct Seg {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The last segment of the message (ends with the MDC packet's header; the SHA-1 stage
    /// appends the digest).
    last: bool,
}

impl Seg {
    fn new(data_cap: usize) -> Seg {
        Seg {
            buf: vec![0; ROOM + data_cap + MDC_LEN],
            start: ROOM,
            end: ROOM,
            last: false,
        }
    }

    /// No buffer: what the writer holds after the last segment was sent.
    fn empty() -> Seg {
        Seg {
            buf: Vec::new(),
            start: 0,
            end: 0,
            last: false,
        }
    }

    /// Emptied for reuse (it holds ciphertext by then; the buffer is kept).
    fn reset(&mut self) {
        self.start = ROOM;
        self.end = ROOM;
        self.last = false;
    }

    /// Data bytes written at `ROOM..`, not counting what was prepended.
    fn data_len(&self) -> usize {
        self.end.saturating_sub(ROOM)
    }

    fn is_full(&self) -> bool {
        self.data_len() >= CHUNK
    }

    /// The free data space (up to [`CHUNK`] data bytes), grown to full size once the small
    /// first allocation is used up.
    fn space(&mut self) -> &mut [u8] {
        let full = ROOM + CHUNK + MDC_LEN;
        if self.end + MDC_LEN >= self.buf.len() && self.buf.len() < full {
            self.buf.resize(full, 0);
        }
        let stop = (self.buf.len() - MDC_LEN).min(ROOM + CHUNK);
        self.buf.get_mut(self.end..stop).unwrap_or_default()
    }

    /// Copies as much of `data` as fits; returns how much.
    fn fill(&mut self, data: &[u8]) -> usize {
        let space = self.space();
        let n = space.len().min(data.len());
        space[..n].copy_from_slice(&data[..n]);
        self.end += n;
        n
    }

    fn prepend(&mut self, bytes: &[u8]) -> io::Result<()> {
        let at = self
            .start
            .checked_sub(bytes.len())
            .ok_or_else(|| io::Error::other("SEIPDv1 segment: no room for a header"))?;
        self.buf[at..self.start].copy_from_slice(bytes);
        self.start = at;
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let to = self.end + bytes.len();
        self.buf
            .get_mut(self.end..to)
            .ok_or_else(|| io::Error::other("SEIPDv1 segment: no room for the MDC"))?
            .copy_from_slice(bytes);
        self.end = to;
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

/// Why a pipeline stage stopped before the end of the message.
enum StageError {
    /// Its own failure (OpenSSL).
    Io(io::Error),
    /// A neighbour went away (failed, or the writer was dropped): not the cause.
    Stopped,
}

impl From<io::Error> for StageError {
    fn from(e: io::Error) -> Self {
        StageError::Io(e)
    }
}

type Stage = JoinHandle<Result<(), StageError>>;

/// The SHA-1 stage: hashes each segment as it passes, appends the digest to the last one.
fn hash_stage(mdc: Mdc, rx: Receiver<Seg>, tx: SyncSender<Seg>) -> Result<(), StageError> {
    let mut mdc = Some(mdc);
    loop {
        let mut seg = rx.recv().map_err(|_| StageError::Stopped)?;
        let m = mdc
            .as_mut()
            .ok_or_else(|| io::Error::other("segment after the last"))?;
        m.update(seg.bytes())?;
        let last = seg.last;
        if last && let Some(m) = mdc.take() {
            seg.append(&m.finish()?)?;
        }
        tx.send(seg).map_err(|_| StageError::Stopped)?;
        if last {
            return Ok(());
        }
    }
}

/// The AES-CFB stage: encrypts each segment in place and hands it back to the caller.
fn cfb_stage(
    mut cipher: OsslCipher,
    rx: Receiver<Seg>,
    back: Sender<Seg>,
) -> Result<(), StageError> {
    loop {
        let mut seg = rx.recv().map_err(|_| StageError::Stopped)?;
        encrypt_in_place(&mut cipher, &mut seg)?;
        let last = seg.last;
        back.send(seg).map_err(|_| StageError::Stopped)?;
        if last {
            return Ok(());
        }
    }
}

fn encrypt_in_place(cipher: &mut OsslCipher, seg: &mut Seg) -> io::Result<()> {
    let data = &mut seg.buf[seg.start..seg.end];
    let n = cipher.update_in_place(data).map_err(ossl_err)?;
    if n != data.len() {
        return Err(io::Error::other("AES-CFB returned a short output"));
    }
    Ok(())
}

/// Waits for a stage thread; its panic becomes an error.
fn join_stage(h: Stage, name: &str) -> Result<(), StageError> {
    h.join().unwrap_or_else(|_| {
        Err(StageError::Io(io::Error::other(format!(
            "the SEIPDv1 {name} thread panicked"
        ))))
    })
}

/// The two threads and the channels to them.
struct Threads {
    /// Plaintext segments to the SHA-1 stage.
    tx: SyncSender<Seg>,
    /// Encrypted segments back from the AES stage (unbounded, but it never holds more than
    /// the segments in flight: each one in it was sent through the bounded channels first).
    back: Receiver<Seg>,
    hasher: Stage,
    cfb: Stage,
}

impl Threads {
    fn spawn(mdc: Mdc, cipher: OsslCipher) -> io::Result<Threads> {
        let (tx, rx) = sync_channel::<Seg>(DEPTH);
        let (tx2, rx2) = sync_channel::<Seg>(DEPTH);
        let (back_tx, back) = channel::<Seg>();
        let cfb = std::thread::Builder::new()
            .name("secmail-pgp-cfb".into())
            .spawn(move || cfb_stage(cipher, rx2, back_tx))?;
        // If this spawn fails, `tx2` is dropped with the closure and the AES thread ends.
        let hasher = match std::thread::Builder::new()
            .name("secmail-pgp-mdc".into())
            .spawn(move || hash_stage(mdc, rx, tx2))
        {
            Ok(h) => h,
            Err(e) => {
                let _ = join_stage(cfb, "AES");
                return Err(e);
            }
        };
        Ok(Threads {
            tx,
            back,
            hasher,
            cfb,
        })
    }

    /// Closes the channels (a stage blocked on either end wakes up and ends) and joins both
    /// threads; returns the first error a stage reported of its own.
    fn stop(self) -> Option<io::Error> {
        let Threads {
            tx,
            back,
            hasher,
            cfb,
        } = self;
        drop(tx);
        drop(back);
        let mut first = None;
        for (h, name) in [(cfb, "AES"), (hasher, "SHA-1")] {
            if let Err(StageError::Io(e)) = join_stage(h, name)
                && first.is_none()
            {
                first = Some(e);
            }
        }
        first
    }
}

/// Where the hashing and the encryption happen.
enum Stages {
    /// Nothing sent yet: a message that fits one segment is hashed and encrypted on the
    /// caller's thread at `finish`, and starts no thread.
    Inline {
        mdc: Mdc,
        cipher: OsslCipher,
    },
    Threads(Threads),
    /// Finished.
    Done,
    /// A stage or the sink failed; the error was returned once.
    Failed,
}

/// The SEIP body's framing on the caller's side: the encrypted segments as they come back,
/// written as 256 KiB partial body parts (RFC 9580 §4.2.1.4), each only once at least one byte
/// follows it, so that the last part is always a definite length.
#[derive(Default)]
struct Framer {
    pending: VecDeque<Seg>,
    /// Bytes in `pending`.
    avail: usize,
    /// The SEIP version byte was prepended (to the first segment).
    started: bool,
}

impl Framer {
    fn push(&mut self, mut seg: Seg, sink: &mut Sink<'_>, spare: &mut Vec<Seg>) -> io::Result<()> {
        if !self.started {
            seg.prepend(&[1])?;
            self.started = true;
        }
        self.avail += seg.end - seg.start;
        self.pending.push_back(seg);
        while self.avail > CHUNK {
            self.write_part(sink, &[0xE0 | CHUNK_LOG2], CHUNK, spare)?;
        }
        Ok(())
    }

    /// The last part: a definite length over all that is left.
    fn finish(&mut self, sink: &mut Sink<'_>, spare: &mut Vec<Seg>) -> io::Result<()> {
        let header = definite_length(self.avail)?;
        self.write_part(sink, &header, self.avail, spare)
    }

    /// Writes `header` and the next `len` bytes, as one vectored write where the sink takes it.
    fn write_part(
        &mut self,
        sink: &mut Sink<'_>,
        header: &[u8],
        len: usize,
        spare: &mut Vec<Seg>,
    ) -> io::Result<()> {
        let mut slices = Vec::with_capacity(4);
        slices.push(IoSlice::new(header));
        let mut need = len;
        for s in &self.pending {
            if need == 0 {
                break;
            }
            let b = s.bytes();
            let n = need.min(b.len());
            slices.push(IoSlice::new(&b[..n]));
            need -= n;
        }
        if need != 0 {
            return Err(io::Error::other("SEIPDv1 framing: short of data"));
        }
        write_all_vectored(sink, &mut slices)?;
        let mut need = len;
        while need > 0 {
            let Some(front) = self.pending.front_mut() else {
                break;
            };
            let n = need.min(front.end - front.start);
            front.start += n;
            need -= n;
            if front.start == front.end
                && let Some(mut s) = self.pending.pop_front()
            {
                s.reset();
                spare.push(s);
            }
        }
        self.avail -= len;
        Ok(())
    }
}

fn write_all_vectored(w: &mut impl Write, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the whole buffer",
                ));
            }
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes a SEIPDv1 packet: what is written to it is the inner packet stream.
///
/// A pipeline over three threads once the message outgrows one segment (256 KiB): the
/// caller's thread fills segments (and frames and writes the ciphertext that comes back), one
/// thread hashes them (the MDC's SHA-1), one encrypts them in place (AES-CFB, serial by
/// construction, so the rest is arranged around it). The sink never leaves the caller's
/// thread: it may borrow (`'a`), and a thread that outlived the borrow would be unsound if the
/// writer were leaked instead of dropped. See the module documentation for the error rules.
pub(crate) struct Writer<'a> {
    sink: Option<Sink<'a>>,
    stages: Stages,
    /// The segment the caller fills.
    seg: Seg,
    /// The random prefix, prepended to the first segment sent.
    prefix: Option<[u8; PREFIX]>,
    framer: Framer,
    /// Segments back from the pipeline and written out, for reuse.
    spare: Vec<Seg>,
}

impl<'a> Writer<'a> {
    /// Writes the SEIP packet's tag to `sink` (after the ESK packets the caller wrote there)
    /// and sets up the hash and the cipher.
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
        let mut prefix = [0u8; PREFIX];
        openpgp::crypto::random(&mut prefix[..BLOCK]).map_err(io::Error::other)?;
        prefix.copy_within(BLOCK - 2..BLOCK, BLOCK);
        Ok(Writer {
            sink: Some(sink),
            stages: Stages::Inline {
                mdc: Mdc::new()?,
                cipher,
            },
            seg: Seg::new(FIRST_SEG),
            prefix: Some(prefix),
            framer: Framer::default(),
            spare: Vec::new(),
        })
    }

    /// Fails if the writer failed or finished before.
    fn check(&self) -> io::Result<()> {
        match self.stages {
            Stages::Failed => Err(io::Error::other("the SEIPDv1 writer failed earlier")),
            Stages::Done => Err(io::Error::other("SEIPDv1 writer used after finish")),
            _ => Ok(()),
        }
    }

    /// A segment for the caller to fill: a spare one, or a new one.
    fn fresh(&mut self) -> Seg {
        self.spare.pop().unwrap_or_else(|| Seg::new(CHUNK))
    }

    /// Sends the current segment on (and starts filling a fresh one).
    fn send(&mut self, last: bool) -> io::Result<()> {
        let next = if last { Seg::empty() } else { self.fresh() };
        let seg = std::mem::replace(&mut self.seg, next);
        // Any error leaves the writer failed (and its threads stopped): a message missing a
        // piece must not go on being written.
        self.send_seg(seg, last).map_err(|e| self.fail(Some(e)))
    }

    /// Hands `seg` to the pipeline (or, at the end of a one-segment message, hashes and
    /// encrypts it here), and writes out what came back encrypted. The last segment gets the
    /// MDC packet's header here; after it, everything is written but the final body part.
    fn send_seg(&mut self, mut seg: Seg, last: bool) -> io::Result<()> {
        self.check()?;
        if let Some(prefix) = self.prefix.take() {
            seg.prepend(&prefix)?;
        }
        seg.last = last;
        if last {
            seg.append(&[0xD3, 0x14])?;
        }
        if let Stages::Inline { .. } = self.stages {
            if last {
                let r = self.inline(seg);
                return r.map_err(|e| self.fail(Some(e)));
            }
            let Stages::Inline { mdc, cipher } =
                std::mem::replace(&mut self.stages, Stages::Failed)
            else {
                return Err(io::Error::other("SEIPDv1 writer in a bad state"));
            };
            self.stages = Stages::Threads(Threads::spawn(mdc, cipher)?);
        }
        let Stages::Threads(t) = &self.stages else {
            return Err(io::Error::other("SEIPDv1 writer in a bad state"));
        };
        if t.tx.send(seg).is_err() {
            return Err(self.fail(None));
        }
        // Write out what is back already; at the end, wait for all of it.
        loop {
            let Stages::Threads(t) = &self.stages else {
                return Err(io::Error::other("SEIPDv1 writer in a bad state"));
            };
            let got = if last {
                t.back.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                t.back.try_recv()
            };
            match got {
                Ok(seg) => {
                    let end = seg.last;
                    self.output(seg)?;
                    if end {
                        break;
                    }
                }
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => return Err(self.fail(None)),
            }
        }
        match std::mem::replace(&mut self.stages, Stages::Done) {
            Stages::Threads(t) => match t.stop() {
                None => Ok(()),
                Some(e) => {
                    self.stages = Stages::Failed;
                    Err(e)
                }
            },
            _ => Err(io::Error::other("SEIPDv1 writer in a bad state")),
        }
    }

    /// A message in one segment, on the caller's thread.
    fn inline(&mut self, mut seg: Seg) -> io::Result<()> {
        let Stages::Inline { mdc, mut cipher } = std::mem::replace(&mut self.stages, Stages::Done)
        else {
            return Err(io::Error::other("SEIPDv1 writer in a bad state"));
        };
        let mut mdc = mdc;
        mdc.update(seg.bytes())?;
        seg.append(&mdc.finish()?)?;
        encrypt_in_place(&mut cipher, &mut seg)?;
        self.output(seg)
    }

    /// Frames and writes an encrypted segment.
    fn output(&mut self, seg: Seg) -> io::Result<()> {
        let Some(sink) = self.sink.as_mut() else {
            return Err(io::Error::other("SEIPDv1 writer used after finish"));
        };
        let r = self.framer.push(seg, sink, &mut self.spare);
        r.map_err(|e| self.fail(Some(e)))
    }

    /// Tears the pipeline down after a failure and returns the error to report: `own` (the
    /// sink's, usually), else the first a stage reported.
    fn fail(&mut self, own: Option<io::Error>) -> io::Error {
        let from_stage = match std::mem::replace(&mut self.stages, Stages::Failed) {
            Stages::Threads(t) => t.stop(),
            _ => None,
        };
        own.or(from_stage)
            .unwrap_or_else(|| io::Error::other("a SEIPDv1 pipeline thread stopped"))
    }

    /// Copies `data` into segments, sending each full one on once more data follows.
    fn put(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.check()?;
        while !data.is_empty() {
            if self.seg.is_full() {
                self.send(false)?;
            }
            let n = self.seg.fill(data);
            data = &data[n..];
        }
        Ok(())
    }

    /// Sends the last segment (with the MDC packet), writes the last body part and the armor
    /// footer.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.check()?;
        self.send(true)?;
        self.close()
    }

    /// After the last segment came back: the last body part and the armor footer.
    fn close(&mut self) -> io::Result<()> {
        let Some(mut sink) = self.sink.take() else {
            return Err(io::Error::other("SEIPDv1 writer finished twice"));
        };
        self.framer.finish(&mut sink, &mut self.spare)?;
        self.spare.clear();
        match sink {
            Sink::Binary(mut w) => w.flush(),
            Sink::Armored(w) => w.finalize()?.flush(),
        }
    }
}

impl Drop for Writer<'_> {
    /// Stops and joins the threads (they end after the segment they are working on).
    fn drop(&mut self) {
        if let Stages::Threads(t) = std::mem::replace(&mut self.stages, Stages::Failed) {
            let _ = t.stop();
        }
    }
}

impl Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        self.sink
            .as_mut()
            .ok_or_else(|| io::Error::other("SEIPDv1 writer used after finish"))?
            .flush()
    }
}

/// Reads into `buf`, retrying on `Interrupted`.
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A Literal Data packet (binary, no file name, date 0: what sequoia's `LiteralWriter` writes
/// by default) framed with 256 KiB partial body lengths, written straight into a [`Writer`]'s
/// segments. Used for unsigned messages instead of sequoia's `LiteralWriter`, whose
/// partial-body filter copies every write twice and buffers 4 MiB (callgrind and perf on
/// 64 MiB: see benches/notes-pgp-speed.md). Each segment holds one literal body chunk: its
/// length header is prepended when the chunk is sent (a full chunk once more data follows, the
/// last one at `finish`), so the data is copied once, from the caller's buffer into the
/// segment — and not at all through [`LiteralWriter::read_from`].
pub(crate) struct LiteralWriter<'a> {
    w: Writer<'a>,
    /// The packet's tag is still to be prepended (to the first chunk).
    first: bool,
}

impl<'a> LiteralWriter<'a> {
    pub(crate) fn new(mut w: Writer<'a>) -> io::Result<Self> {
        // Format 'b' (binary), empty file name, date 0: the start of the literal body.
        w.put(&[b'b', 0, 0, 0, 0, 0])?;
        Ok(LiteralWriter { w, first: true })
    }

    /// Prepends the chunk's length header (and, to the first, the packet's tag) and sends it.
    fn frame(&mut self, last: bool) -> io::Result<()> {
        self.w.check()?;
        self.frame_inner(last).map_err(|e| self.w.fail(Some(e)))
    }

    fn frame_inner(&mut self, last: bool) -> io::Result<()> {
        let header = if last {
            definite_length(self.w.seg.data_len())?
        } else {
            vec![0xE0 | CHUNK_LOG2]
        };
        self.w.seg.prepend(&header)?;
        if std::mem::take(&mut self.first) {
            // New-format CTB, tag 11 (Literal Data).
            self.w.seg.prepend(&[0xC0 | 11])?;
        }
        self.w.send(last)
    }

    /// Reads `r` to its end straight into the segments (no copy on the caller's side).
    pub(crate) fn read_from(&mut self, r: &mut impl Read) -> io::Result<u64> {
        self.w.check()?;
        let mut total = 0u64;
        loop {
            if self.w.seg.is_full() {
                // A full chunk is sent as a partial one only once data follows it: read the
                // next into a fresh segment first.
                let mut next = self.w.fresh();
                let n = read_some(r, next.space())?;
                if n == 0 {
                    self.w.spare.push(next);
                    return Ok(total);
                }
                next.end += n;
                total += n as u64;
                self.frame(false)?;
                let fresh = std::mem::replace(&mut self.w.seg, next);
                self.w.spare.push(fresh);
                continue;
            }
            let n = read_some(r, self.w.seg.space())?;
            if n == 0 {
                return Ok(total);
            }
            self.w.seg.end += n;
            total += n as u64;
        }
    }

    /// Writes the last body part (a definite length, possibly 0) and finishes the SEIP packet.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.frame(true)?;
        self.w.close()
    }
}

impl Write for LiteralWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.w.check()?;
        let total = data.len();
        let mut data = data;
        while !data.is_empty() {
            if self.w.seg.is_full() {
                self.frame(false)?;
            }
            let n = self.w.seg.fill(data);
            data = &data[n..];
        }
        Ok(total)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
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
    fn a_stage_panic_is_an_error() {
        let h: Stage = std::thread::spawn(|| panic!("injected"));
        match join_stage(h, "test") {
            Err(StageError::Io(e)) => assert!(e.to_string().contains("panicked"), "{e}"),
            _ => panic!("a panicking stage must give an error"),
        }
    }

    /// A stage whose neighbour disappears stops instead of blocking: the SHA-1 stage when
    /// the AES stage is gone, the AES stage when the caller is gone.
    #[test]
    fn stages_stop_when_a_neighbour_is_gone() {
        let (tx, rx) = sync_channel::<Seg>(DEPTH);
        let (tx2, rx2) = sync_channel::<Seg>(DEPTH);
        drop(rx2);
        let h = std::thread::spawn(move || hash_stage(Mdc::new().unwrap(), rx, tx2));
        for _ in 0..2 * DEPTH + 2 {
            if tx.send(Seg::new(16)).is_err() {
                break;
            }
        }
        assert!(matches!(join_stage(h, "SHA-1"), Err(StageError::Stopped)));

        let (tx, rx) = sync_channel::<Seg>(DEPTH);
        let (back_tx, back) = channel::<Seg>();
        drop(back);
        let cipher = OsslCipher::new(
            ctx().unwrap(),
            EncAlg::AesCfb128(AesSize::Aes128),
            true,
            OsslSecret::from_slice(&[1u8; 16]),
            Some(vec![0; BLOCK]),
            None,
        )
        .unwrap();
        let h = std::thread::spawn(move || cfb_stage(cipher, rx, back_tx));
        let _ = tx.send(Seg::new(16));
        assert!(matches!(join_stage(h, "AES"), Err(StageError::Stopped)));
        // And with no more input and no last segment: stopped, not finished.
        let (tx, rx) = sync_channel::<Seg>(DEPTH);
        let (tx2, _rx2) = sync_channel::<Seg>(DEPTH);
        let h = std::thread::spawn(move || hash_stage(Mdc::new().unwrap(), rx, tx2));
        drop(tx);
        assert!(matches!(join_stage(h, "SHA-1"), Err(StageError::Stopped)));
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
