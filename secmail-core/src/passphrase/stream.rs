//! STREAM (Hoang, Reyhanitabar, Rogaway, Vizár, CRYPTO 2015) over AES-256-GCM or
//! ChaCha20-Poly1305 (docs/passphrase-format.md §5 and §6).
//!
//! ```text
//! nonce(i, last) = 0x00 * 7 || u32be(i) || (last ? 0x01 : 0x00)
//! chunk_i        = Seal(payload_key, nonce(i, i = n-1), "", M_i)
//! ```
//!
//! [`StreamWriter`] cuts what it is given into chunks and seals each once it knows whether
//! more follows; [`StreamReader`] reads one chunk ahead by a single byte to learn whether the
//! chunk in hand is the last, opens it, and releases its plaintext only once its tag verified.
//! Both hold one chunk of memory whatever the length of the input.

use std::io::{self, Read, Write};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use zeroize::Zeroize;

use super::format::Cipher;
use crate::error::{Error, Result};

/// The AEAD tag length, for both ciphers.
pub(crate) const TAG_LEN: usize = 16;

/// A nonce: the chunk index and whether it is the last chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nonce {
    index: u32,
    last: bool,
}

impl Nonce {
    pub(crate) fn new(index: u32, last: bool) -> Nonce {
        Nonce { index, last }
    }

    pub(crate) fn to_bytes(self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[7..11].copy_from_slice(&self.index.to_be_bytes());
        n[11] = u8::from(self.last);
        n
    }
}

/// The AEAD keyed with the payload key. Both ciphers wipe their key schedule on drop.
enum Aead {
    Aes(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

/// The chunk sealer/opener: the keyed AEAD and the index of the next chunk.
pub(crate) struct Stream {
    aead: Aead,
    /// Index of the next chunk; `None` once 2^32 chunks have been used.
    next: Option<u32>,
}

impl Stream {
    pub(crate) fn new(cipher: Cipher, key: &[u8; 32]) -> Result<Stream> {
        let bad_key = |_| Error::Misuse("AEAD key length".into());
        let aead = match cipher {
            Cipher::Aes256Gcm => {
                Aead::Aes(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad_key)?))
            }
            Cipher::ChaCha20Poly1305 => Aead::ChaCha(Box::new(
                ChaCha20Poly1305::new_from_slice(key).map_err(bad_key)?,
            )),
        };
        Ok(Stream {
            aead,
            next: Some(0),
        })
    }

    /// The index the next chunk will have (for the "empty last chunk only at index 0" rule).
    pub(crate) fn is_at_start(&self) -> bool {
        self.next == Some(0)
    }

    fn take_nonce(&mut self, last: bool) -> Option<[u8; 12]> {
        let index = self.next?;
        self.next = index.checked_add(1);
        Some(Nonce::new(index, last).to_bytes())
    }

    /// Seals `buf` in place as the next chunk and returns its tag.
    pub(crate) fn seal_next(&mut self, buf: &mut [u8], last: bool) -> Result<[u8; TAG_LEN]> {
        self.seal_inout(buf.into(), last)
    }

    /// Seals the next chunk from `buf`'s input into its output (no copy beforehand).
    fn seal_inout(&mut self, buf: InOutBuf<'_, '_, u8>, last: bool) -> Result<[u8; TAG_LEN]> {
        let nonce = self.take_nonce(last).ok_or_else(|| {
            Error::Misuse("the plaintext is longer than a container can hold (2^32 chunks)".into())
        })?;
        let nonce = (&nonce).into();
        let tag = match &self.aead {
            Aead::Aes(a) => a.encrypt_inout_detached(nonce, &[], buf),
            Aead::ChaCha(c) => c.encrypt_inout_detached(nonce, &[], buf),
        }
        .map_err(|_| Error::Misuse("chunk too long for the AEAD".into()))?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&tag);
        Ok(out)
    }

    /// Opens the next chunk in place. On failure, `buf` holds no plaintext.
    pub(crate) fn open_next(&mut self, buf: &mut [u8], tag: &[u8], last: bool) -> Result<()> {
        self.open_inout(buf.into(), tag, last)
    }

    /// Opens the next chunk from `buf`'s input into its output. On failure, the output holds
    /// no plaintext.
    fn open_inout(&mut self, mut buf: InOutBuf<'_, '_, u8>, tag: &[u8], last: bool) -> Result<()> {
        let nonce = self.take_nonce(last).ok_or(Error::DecryptionFailed)?;
        let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| Error::DecryptionFailed)?;
        let nonce = (&nonce).into();
        let tag = tag.into();
        // Both crates check the tag before they decrypt, so on failure the output was never
        // written with plaintext; it is wiped anyway, so no caller can see a byte of it even
        // if a future version decrypted first.
        let ok = match &self.aead {
            Aead::Aes(a) => a.decrypt_inout_detached(nonce, &[], buf.reborrow(), tag),
            Aead::ChaCha(c) => c.decrypt_inout_detached(nonce, &[], buf.reborrow(), tag),
        };
        ok.map_err(|_| {
            buf.get_out().zeroize();
            Error::DecryptionFailed
        })
    }
}

/// Wraps a secmail error for the `io` traits; [`super::from_io`] takes it out again.
pub(crate) fn to_io(e: Error) -> io::Error {
    match e {
        Error::Io(e) => e,
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

/// The writer's chunk buffer: plaintext in `[..len]`, wiped on drop. Only `[..len]` is wiped:
/// sealing happens in place, so the spare capacity holds nothing but ciphertext, and wiping a
/// whole 64 KiB buffer byte by byte (as `Zeroizing<Vec>` does) costs more than sealing a
/// small container.
struct PlainBuf(Vec<u8>);

impl Drop for PlainBuf {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

impl std::ops::Deref for PlainBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for PlainBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// Seals what is written into chunks of `chunk` bytes. See the module docs.
pub(crate) struct StreamWriter<W: Write> {
    inner: W,
    stream: Stream,
    chunk: usize,
    /// Up to `chunk` bytes of plaintext, then (briefly) the sealed chunk and its tag.
    buf: PlainBuf,
    /// Where the fast path seals a chunk (ciphertext only; allocated on first use).
    sealed: Vec<u8>,
    /// Set once sealing or writing failed: the output is broken, nothing more may follow.
    poisoned: bool,
}

impl<W: Write> StreamWriter<W> {
    pub(crate) fn new(inner: W, stream: Stream, chunk: usize) -> StreamWriter<W> {
        StreamWriter {
            inner,
            stream,
            chunk,
            buf: PlainBuf(Vec::with_capacity(chunk + TAG_LEN)),
            sealed: Vec::new(),
            poisoned: false,
        }
    }

    fn check_poisoned(&self) -> io::Result<()> {
        if self.poisoned {
            Err(io::Error::other(
                "an earlier write failed; the container is incomplete",
            ))
        } else {
            Ok(())
        }
    }

    fn seal_buffered(&mut self, last: bool) -> io::Result<()> {
        self.check_poisoned()?;
        self.poisoned = true;
        let tag = self.stream.seal_next(&mut self.buf, last).map_err(to_io)?;
        self.buf.extend_from_slice(&tag);
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.poisoned = false;
        Ok(())
    }

    /// Seals a full, not-last chunk from `pt` (the buffer is empty) and writes it.
    fn seal_direct(&mut self, pt: &[u8]) -> io::Result<()> {
        self.check_poisoned()?;
        self.poisoned = true;
        let n = pt.len();
        if self.sealed.len() != n + TAG_LEN {
            self.sealed = vec![0; n + TAG_LEN];
        }
        let inout = InOutBuf::new(pt, &mut self.sealed[..n])
            .map_err(|_| io::Error::other("chunk buffer size"))?;
        let tag = self.stream.seal_inout(inout, false).map_err(to_io)?;
        self.sealed[n..].copy_from_slice(&tag);
        self.inner.write_all(&self.sealed)?;
        self.poisoned = false;
        Ok(())
    }

    /// Seals what is left as the last chunk (empty only if nothing was written at all) and
    /// returns the inner writer, not flushed.
    pub(crate) fn finish(mut self) -> Result<W> {
        self.seal_buffered(true)?;
        // `self` implements no Drop, so the writer can be moved out.
        Ok(self.inner)
    }

    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for StreamWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // After a failure the buffer may hold a sealed chunk: nothing more may be added.
        self.check_poisoned()?;
        if data.is_empty() {
            return Ok(0);
        }
        // A full buffer is sealed as not-last only now that more data is known to follow.
        if self.buf.len() == self.chunk {
            self.seal_buffered(false)?;
        }
        // Fast path: a whole chunk with more after it is sealed straight from `data`, without
        // first copying it into the buffer.
        if self.buf.is_empty() && data.len() > self.chunk {
            return self.seal_direct(&data[..self.chunk]).map(|()| self.chunk);
        }
        let take = (self.chunk - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..take]);
        Ok(take)
    }

    /// Flushes the inner writer. A partial chunk stays buffered: chunks have a fixed size.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Opens the chunks read from `inner`. See the module docs.
pub(crate) struct StreamReader<R: Read> {
    inner: R,
    stream: Stream,
    chunk: usize,
    /// One sealed chunk plus one byte of look-ahead; after opening, `buf[pos..end]` is
    /// plaintext not yet handed out.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// How far into `buf` plaintext has ever been staged: wiped on drop.
    dirty: usize,
    /// The look-ahead byte: the first byte of the next chunk.
    carry: Option<u8>,
    /// The last chunk has been opened.
    done: bool,
    /// A chunk failed (or reading failed); every later read fails too.
    failed: bool,
}

impl<R: Read> StreamReader<R> {
    pub(crate) fn new(inner: R, stream: Stream, chunk: usize) -> StreamReader<R> {
        StreamReader {
            inner,
            stream,
            chunk,
            buf: vec![0u8; chunk + TAG_LEN + 1],
            pos: 0,
            end: 0,
            dirty: 0,
            carry: None,
            done: false,
            failed: false,
        }
    }

    pub(crate) fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Reads the next sealed chunk into `buf`; returns its plaintext length and whether it is
    /// the last.
    fn fill_chunk(&mut self) -> io::Result<(usize, bool)> {
        let cap = self.chunk + TAG_LEN + 1;
        let mut filled = 0;
        if let Some(b) = self.carry.take() {
            self.buf[0] = b;
            filled = 1;
        }
        while filled < cap {
            match self.inner.read(&mut self.buf[filled..cap]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Input ended inside this read: the chunk in hand is the final one.
        let last = filled < cap;
        let sealed_len = if last { filled } else { cap - 1 };
        let Some(pt_len) = sealed_len.checked_sub(TAG_LEN) else {
            // Header with no chunk, or a final piece too short to hold a tag.
            return Err(to_io(Error::DecryptionFailed));
        };
        if last && pt_len == 0 && !self.stream.is_at_start() {
            // Only an empty plaintext ends in an empty chunk.
            return Err(to_io(Error::DecryptionFailed));
        }
        if !last {
            self.carry = Some(self.buf[cap - 1]);
        }
        Ok((pt_len, last))
    }

    /// Reads, opens and stages the next chunk in `buf`.
    fn next_chunk(&mut self) -> io::Result<()> {
        let (pt_len, last) = self.fill_chunk()?;
        let (body, rest) = self.buf.split_at_mut(pt_len);
        self.stream
            .open_next(body, &rest[..TAG_LEN], last)
            .map_err(to_io)?;
        self.pos = 0;
        self.end = pt_len;
        self.dirty = self.dirty.max(pt_len);
        self.done = last;
        Ok(())
    }

    /// Reads the next chunk and opens it straight into `out` (at least a chunk long), saving
    /// a copy. On failure `out` holds no plaintext.
    fn next_chunk_into(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let (pt_len, last) = self.fill_chunk()?;
        let (body, rest) = self.buf.split_at(pt_len);
        let inout = InOutBuf::new(body, &mut out[..pt_len])
            .map_err(|_| io::Error::other("chunk buffer size"))?;
        self.stream
            .open_inout(inout, &rest[..TAG_LEN], last)
            .map_err(to_io)?;
        self.done = last;
        Ok(pt_len)
    }
}

impl<R: Read> Drop for StreamReader<R> {
    /// Wipes whatever part of the buffer ever held plaintext (the rest only held ciphertext).
    fn drop(&mut self) {
        let dirty = self.dirty.min(self.buf.len());
        self.buf[..dirty].zeroize();
    }
}

impl<R: Read> Read for StreamReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.failed {
                return Err(to_io(Error::DecryptionFailed));
            }
            if self.pos < self.end {
                let n = (self.end - self.pos).min(out.len());
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.done || out.is_empty() {
                return Ok(0);
            }
            if out.len() >= self.chunk {
                match self.next_chunk_into(out) {
                    // An empty last chunk: loop round to report the end.
                    Ok(0) => continue,
                    Ok(n) => return Ok(n),
                    Err(e) => {
                        self.failed = true;
                        return Err(e);
                    }
                }
            }
            if let Err(e) = self.next_chunk() {
                self.failed = true;
                self.pos = 0;
                self.end = 0;
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(cipher: Cipher, chunk: usize, pt: &[u8]) -> Vec<u8> {
        let mut w = StreamWriter::new(Vec::new(), Stream::new(cipher, &[5; 32]).unwrap(), chunk);
        // Odd write sizes cross chunk boundaries.
        for piece in pt.chunks(7) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    fn open(cipher: Cipher, chunk: usize, ct: &[u8]) -> Result<Vec<u8>> {
        let mut r = StreamReader::new(ct, Stream::new(cipher, &[5; 32]).unwrap(), chunk);
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(super::super::from_io)?;
        Ok(out)
    }

    #[test]
    fn nonce_layout_is_age_compatible() {
        assert_eq!(Nonce::new(0, false).to_bytes(), [0; 12]);
        assert_eq!(
            Nonce::new(0x0102_0304, true).to_bytes(),
            [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 1]
        );
    }

    #[test]
    fn chunk_counts_follow_the_cutting_rule() {
        let c = 1024;
        for (len, chunks) in [
            (0, 1),
            (1, 1),
            (c, 1),
            (c + 1, 2),
            (2 * c, 2),
            (5 * c + 3, 6),
        ] {
            let pt = vec![0xA5u8; len];
            for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
                let ct = seal(cipher, c, &pt);
                assert_eq!(ct.len(), len + TAG_LEN * chunks, "len {len}");
                assert_eq!(open(cipher, c, &ct).unwrap(), pt);
            }
        }
    }

    #[test]
    fn an_empty_last_chunk_after_a_full_one_is_rejected() {
        // Seal a full chunk as not-last, then an empty last chunk: a non-canonical ending.
        let mut s = Stream::new(Cipher::Aes256Gcm, &[5; 32]).unwrap();
        let mut a = vec![1u8; 1024];
        let t = s.seal_next(&mut a, false).unwrap();
        a.extend_from_slice(&t);
        let t = s.seal_next(&mut [], true).unwrap();
        a.extend_from_slice(&t);
        assert!(matches!(
            open(Cipher::Aes256Gcm, 1024, &a),
            Err(Error::DecryptionFailed)
        ));
    }

    #[test]
    fn a_failed_write_poisons_the_writer_without_panicking() {
        /// Accepts `room` bytes, then fails.
        struct Full {
            room: usize,
        }
        impl Write for Full {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.room == 0 {
                    return Err(io::Error::other("disk full"));
                }
                let n = b.len().min(self.room);
                self.room -= n;
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let stream = Stream::new(Cipher::Aes256Gcm, &[5; 32]).unwrap();
        let mut w = StreamWriter::new(Full { room: 100 }, stream, 1024);
        // The first chunk is sealed once more data follows, and its write fails.
        assert!(w.write_all(&[1u8; 3000]).is_err());
        for size in [1, 5, 1024, 5000] {
            assert!(w.write(&vec![2u8; size]).is_err());
        }
        assert!(w.finish().is_err());

        // The same when the failing chunk was sealed in the buffer (it then holds ciphertext
        // and a tag, more than a chunk: adding to it must not be attempted).
        let stream = Stream::new(Cipher::Aes256Gcm, &[5; 32]).unwrap();
        let mut w = StreamWriter::new(Full { room: 100 }, stream, 1024);
        w.write_all(&[1u8; 1024]).unwrap();
        assert!(w.write(&[1]).is_err());
        for size in [1, 5, 1024, 5000] {
            assert!(w.write(&vec![2u8; size]).is_err());
        }
        assert!(w.finish().is_err());
    }

    #[test]
    fn a_failed_chunk_releases_nothing_and_stays_failed() {
        let pt = vec![7u8; 3000];
        let mut ct = seal(Cipher::Aes256Gcm, 1024, &pt);
        ct[1024 + TAG_LEN + 5] ^= 1; // in chunk 1
        let mut r = StreamReader::new(
            &ct[..],
            Stream::new(Cipher::Aes256Gcm, &[5; 32]).unwrap(),
            1024,
        );
        let mut buf = [0u8; 4096];
        assert_eq!(r.read(&mut buf).unwrap(), 1024); // chunk 0 authenticated
        assert!(r.read(&mut buf).is_err());
        assert!(r.read(&mut buf).is_err());
    }
}
