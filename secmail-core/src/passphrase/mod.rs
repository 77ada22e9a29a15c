//! Passphrase encryption: a specified, streaming, authenticated container.
//!
//! Argon2id turns the passphrase into a key; an HMAC over the header checks the passphrase
//! and commits the container to it; the payload is sealed in 64 KiB chunks with the STREAM
//! construction over AES-256-GCM (the default) or ChaCha20-Poly1305. The format is specified
//! in `docs/passphrase-format.md`, and an independent Python implementation checks the test
//! vectors in `testdata/passphrase/`.
//!
//! ```
//! use secmail_core::passphrase::{self, Argon2Params, EncryptOptions, Passphrase};
//!
//! let pass = Passphrase::from("correct horse battery staple");
//! // The minimum Argon2 costs keep this example fast; use the default in real code.
//! let options = EncryptOptions::new().kdf(Argon2Params::minimum()).armor(true);
//! let sealed = passphrase::encrypt(b"meet at noon", &pass, &options)?;
//! assert!(sealed.starts_with(b"-----BEGIN SECMAIL PASSPHRASE ENCRYPTED FILE-----"));
//! assert_eq!(passphrase::decrypt(&sealed, &pass)?, b"meet at noon");
//!
//! let wrong = Passphrase::from("Tr0ub4dor&3");
//! assert!(matches!(
//!     passphrase::decrypt(&sealed, &wrong),
//!     Err(secmail_core::Error::WrongPassphrase)
//! ));
//! # Ok::<(), secmail_core::Error>(())
//! ```
//!
//! Streaming, with memory that does not grow with the input:
//!
//! ```
//! use std::io::{Read, Write};
//! use secmail_core::passphrase::{Argon2Params, Decryptor, EncryptOptions, Encryptor, Passphrase};
//!
//! let pass = Passphrase::from("correct horse battery staple");
//! let options = EncryptOptions::new().kdf(Argon2Params::minimum());
//! let mut enc = Encryptor::new(Vec::new(), &pass, &options)?;
//! enc.write_all(&[42u8; 200_000])?;
//! let sealed = enc.finish()?;
//!
//! let mut dec = Decryptor::new(&sealed[..], &pass)?; // the passphrase is checked here
//! let mut plain = Vec::new();
//! dec.read_to_end(&mut plain)?; // each chunk is released only once it authenticated
//! assert_eq!(plain.len(), 200_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors on decryption
//!
//! Coarse on purpose (docs/passphrase-format.md §6): [`Error::InvalidContainer`] or
//! [`Error::LimitExceeded`] for what anyone can see in the header or the armor,
//! [`Error::WrongPassphrase`] when the header tag does not match (before any chunk is read),
//! and one [`Error::DecryptionFailed`] for every problem in the payload. From the streaming
//! [`Decryptor`], these arrive inside the [`std::io::Error`] that `read` returns
//! ([`io::Error::get_ref`] downcasts to [`Error`]); [`from_io`] takes them out.

mod armor;
mod format;
mod kdf;
mod stream;
#[cfg(test)]
mod vectors;

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};

use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroize;

pub use format::{Argon2Params, Cipher};
pub use kdf::PassphraseKey;

use armor::{ArmorReader, ArmorWriter};
use format::{DEFAULT_CHUNK_LOG2, HEADER_LEN, Header, MAX_CHUNK_LOG2, MIN_CHUNK_LOG2, SALT_LEN};
use stream::{Stream, StreamReader, StreamWriter};

use crate::error::{Error, Result};
use crate::limits::Limits;

/// A passphrase: any bytes (UTF-8 text, not normalised, is what the command line passes).
/// Wiped from memory when dropped; `Debug` does not show it.
pub struct Passphrase(SecretBox<[u8]>);

impl Passphrase {
    /// Takes `bytes`, leaving no unwiped copy behind.
    pub fn new(mut bytes: Vec<u8>) -> Passphrase {
        let boxed: Box<[u8]> = Box::from(bytes.as_slice());
        bytes.zeroize();
        Passphrase(SecretBox::new(boxed))
    }

    /// Whether the passphrase is empty (nothing may be encrypted under an empty one).
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    pub(crate) fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl From<&str> for Passphrase {
    fn from(s: &str) -> Passphrase {
        Passphrase::new(s.as_bytes().to_vec())
    }
}

impl From<String> for Passphrase {
    fn from(s: String) -> Passphrase {
        Passphrase::new(s.into_bytes())
    }
}

impl From<&[u8]> for Passphrase {
    fn from(b: &[u8]) -> Passphrase {
        Passphrase::new(b.to_vec())
    }
}

impl From<Vec<u8>> for Passphrase {
    fn from(b: Vec<u8>) -> Passphrase {
        Passphrase::new(b)
    }
}

/// How to encrypt: the cipher, the Argon2id costs, armor, and the chunk size.
///
/// ```
/// use secmail_core::passphrase::{Argon2Params, Cipher, EncryptOptions};
/// let o = EncryptOptions::new()
///     .cipher(Cipher::ChaCha20Poly1305)
///     .kdf(Argon2Params::interactive())
///     .armor(true);
/// assert_eq!(o.chunk_size_log2, 16);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptOptions {
    /// The AEAD (default AES-256-GCM).
    pub cipher: Cipher,
    /// The Argon2id costs (default [`Argon2Params::recommended`]). Ignored by
    /// [`Encryptor::with_key`], which uses the key's.
    pub kdf: Argon2Params,
    /// Write the ASCII-armored form, for text channels (default: binary).
    pub armor: bool,
    /// The plaintext chunk size as a power of two, 10 (1 KiB) to 20 (1 MiB); default 16
    /// (64 KiB). Other values are for tests and special needs.
    pub chunk_size_log2: u8,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            cipher: Cipher::default(),
            kdf: Argon2Params::recommended(),
            armor: false,
            chunk_size_log2: DEFAULT_CHUNK_LOG2,
        }
    }
}

impl EncryptOptions {
    /// The defaults: AES-256-GCM, the recommended Argon2id costs, binary, 64 KiB chunks.
    pub fn new() -> EncryptOptions {
        EncryptOptions::default()
    }
    /// Sets [`EncryptOptions::cipher`].
    pub fn cipher(mut self, cipher: Cipher) -> Self {
        self.cipher = cipher;
        self
    }
    /// Sets [`EncryptOptions::kdf`].
    pub fn kdf(mut self, kdf: Argon2Params) -> Self {
        self.kdf = kdf;
        self
    }
    /// Sets [`EncryptOptions::armor`].
    pub fn armor(mut self, armor: bool) -> Self {
        self.armor = armor;
        self
    }
    /// Sets [`EncryptOptions::chunk_size_log2`].
    pub fn chunk_size_log2(mut self, log2: u8) -> Self {
        self.chunk_size_log2 = log2;
        self
    }
}

/// Where the encryptor's bytes go: straight out, or through the armor.
enum Sink<W: Write> {
    Binary(W),
    Armored(ArmorWriter<W>),
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Binary(w) => w.write(buf),
            Sink::Armored(w) => w.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Binary(w) => w.write_all(buf),
            Sink::Armored(w) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Binary(w) => w.flush(),
            Sink::Armored(w) => w.flush(),
        }
    }
}

/// Encrypts what is written to it into a container written to `W`.
///
/// The header is written when the encryptor is made; chunks follow as they fill; the last
/// chunk is written by [`Encryptor::finish`], which must be called. An encryptor dropped
/// without `finish` leaves a container without its last chunk, which no reader accepts.
pub struct Encryptor<W: Write> {
    inner: StreamWriter<Sink<W>>,
}

impl<W: Write> fmt::Debug for Encryptor<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor").finish_non_exhaustive()
    }
}

impl<W: Write> Encryptor<W> {
    /// Derives a key from `passphrase` (Argon2id with `options.kdf`, the slow step) and writes
    /// the header to `output`.
    pub fn new(output: W, passphrase: &Passphrase, options: &EncryptOptions) -> Result<Self> {
        let key = PassphraseKey::derive(passphrase, options.kdf)?;
        Encryptor::with_key(output, &key, options)
    }

    /// Like [`Encryptor::new`] with a key derived beforehand (no Argon2 run). Every container
    /// still gets its own payload key, from a fresh random payload salt.
    pub fn with_key(output: W, key: &PassphraseKey, options: &EncryptOptions) -> Result<Self> {
        let log2 = options.chunk_size_log2;
        if !(MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&log2) {
            return Err(Error::Misuse(format!(
                "chunk_size_log2 must be {MIN_CHUNK_LOG2} to {MAX_CHUNK_LOG2}, not {log2}"
            )));
        }
        let mut payload_salt = [0u8; SALT_LEN];
        kdf::random(&mut payload_salt)?;
        let mut header = Header {
            kdf: key.params(),
            kdf_salt: *key.salt(),
            cipher: options.cipher,
            chunk_log2: log2,
            payload_salt,
            tag: [0; format::HEADER_TAG_LEN],
        };
        let auth = header.auth_bytes();
        header.tag = key.header_tag(&auth)?;
        let payload_key = key.payload_key(&payload_salt, &auth)?;
        let stream = Stream::new(options.cipher, &payload_key)?;

        let mut sink = if options.armor {
            Sink::Armored(ArmorWriter::new(output)?)
        } else {
            Sink::Binary(output)
        };
        sink.write_all(&header.to_bytes())?;
        Ok(Encryptor {
            inner: StreamWriter::new(sink, stream, header.chunk_size()),
        })
    }

    /// Seals the last chunk, ends the armor if any, flushes, and returns the writer.
    pub fn finish(self) -> Result<W> {
        let mut w = match self.inner.finish()? {
            Sink::Binary(w) => w,
            Sink::Armored(a) => a.finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    /// Flushes what has been sealed so far (a partial chunk stays buffered).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.get_mut().flush()
    }
}

/// Where the decryptor's bytes come from: straight in, or through the armor.
enum Source<R: Read> {
    Binary(BufReader<R>),
    Armored(ArmorReader<BufReader<R>>),
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Binary(r) => r.read(buf),
            Source::Armored(r) => r.read(buf),
        }
    }
}

/// Decrypts a container read from `R`, binary or armored (told apart by the first byte).
///
/// Making it reads the header, checks it against the format and the [`Limits`], runs Argon2id
/// and checks the passphrase: [`Error::WrongPassphrase`] comes from here, before any chunk is
/// read. `read` then releases each chunk's plaintext only once its tag verified, and reports
/// the end (`Ok(0)`) only after the chunk flagged as last, with nothing after it. Any payload
/// problem is an [`io::Error`] wrapping [`Error::DecryptionFailed`] (see [`from_io`]), and
/// every later `read` fails too. Plaintext already read from a stream that then fails must
/// not be acted on: write it somewhere temporary and keep it only on success.
pub struct Decryptor<R: Read> {
    inner: StreamReader<Source<R>>,
    cipher: Cipher,
    kdf: Argon2Params,
}

impl<R: Read> fmt::Debug for Decryptor<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("cipher", &self.cipher)
            .field("kdf", &self.kdf)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Decryptor<R> {
    /// Opens a container with the default [`Limits`].
    pub fn new(input: R, passphrase: &Passphrase) -> Result<Self> {
        Decryptor::with_limits(input, passphrase, &Limits::default())
    }

    /// Opens a container, refusing Argon2 costs past `limits` before running Argon2.
    pub fn with_limits(input: R, passphrase: &Passphrase, limits: &Limits) -> Result<Self> {
        let (source, header) = read_header(input, Some(limits))?;
        let key =
            PassphraseKey::derive_with_salt(passphrase.expose(), header.kdf, header.kdf_salt)?;
        Decryptor::open(source, header, &key)
    }

    /// Opens a container made under `key` (with [`Encryptor::with_key`]) without running
    /// Argon2. A container made from another passphrase, salt or costs gives
    /// [`Error::WrongPassphrase`].
    pub fn with_key(input: R, key: &PassphraseKey) -> Result<Self> {
        let (source, header) = read_header(input, None)?;
        if header.kdf != key.params() || header.kdf_salt != *key.salt() {
            return Err(Error::WrongPassphrase);
        }
        Decryptor::open(source, header, key)
    }

    fn open(source: Source<R>, header: Header, key: &PassphraseKey) -> Result<Self> {
        let auth = header.auth_bytes();
        key.verify_header(&auth, &header.tag)?;
        let payload_key = key.payload_key(&header.payload_salt, &auth)?;
        let stream = Stream::new(header.cipher, &payload_key)?;
        Ok(Decryptor {
            inner: StreamReader::new(source, stream, header.chunk_size()),
            cipher: header.cipher,
            kdf: header.kdf,
        })
    }

    /// The AEAD named in the header.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The Argon2id costs named in the header.
    pub fn kdf_params(&self) -> Argon2Params {
        self.kdf
    }

    /// Whether the container was armored.
    pub fn is_armored(&self) -> bool {
        matches!(self.inner.get_ref(), Source::Armored(_))
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// Detects the form, takes off the armor if any, and reads and parses the header.
fn read_header<R: Read>(input: R, limits: Option<&Limits>) -> Result<(Source<R>, Header)> {
    let mut input = BufReader::with_capacity(16 * 1024, input);
    let first = loop {
        match input.fill_buf() {
            Ok(b) => break b.first().copied(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    };
    let mut source = match first {
        None => return Err(Error::InvalidContainer("the input is empty".into())),
        Some(b) if b == format::MAGIC[0] => Source::Binary(input),
        Some(_) => Source::Armored(ArmorReader::new(input).map_err(from_io)?),
    };
    let mut bytes = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        match source.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                format::check_prefix(&bytes[..filled])?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(from_io(e)),
        }
    }
    if filled < HEADER_LEN {
        return Err(Error::InvalidContainer(format!(
            "the input ends inside the header ({filled} of {HEADER_LEN} bytes)"
        )));
    }
    let header = Header::parse(&bytes, limits)?;
    Ok((source, header))
}

/// Reads a container's header (binary or armored) and derives its key from `passphrase`,
/// refusing KDF costs past `limits` first. The key is not checked against the header tag here:
/// [`Decryptor::with_key`] does that. (For the mailbox store, which derives once per handle.)
#[cfg(feature = "store")]
pub(crate) fn key_for(
    container: &[u8],
    passphrase: &Passphrase,
    limits: &Limits,
) -> Result<PassphraseKey> {
    let (_, header) = read_header(container, Some(limits))?;
    PassphraseKey::derive_with_salt(passphrase.expose(), header.kdf, header.kdf_salt)
}

/// Takes a secmail [`Error`] back out of an [`io::Error`] that a [`Decryptor`] (or
/// [`Encryptor`]) returned; any other I/O error becomes [`Error::Io`].
pub fn from_io(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        match e.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(inner)) => *inner,
            // Unreachable: checked just above.
            _ => Error::DecryptionFailed,
        }
    } else {
        Error::Io(e)
    }
}

/// Encrypts `plaintext` in one call (over [`Encryptor`]).
pub fn encrypt(
    plaintext: &[u8],
    passphrase: &Passphrase,
    options: &EncryptOptions,
) -> Result<Vec<u8>> {
    let chunk = 1usize << options.chunk_size_log2.min(MAX_CHUNK_LOG2);
    let chunks = plaintext.len().div_ceil(chunk).max(1);
    let capacity = HEADER_LEN + plaintext.len() + chunks * stream::TAG_LEN;
    let capacity = if options.armor {
        capacity / 3 * 4 + capacity / 24 + 256
    } else {
        capacity
    };
    let mut enc = Encryptor::new(Vec::with_capacity(capacity), passphrase, options)?;
    enc.write_all(plaintext)?;
    enc.finish()
}

/// Decrypts a container (binary or armored) in one call (over [`Decryptor`]), with the
/// default [`Limits`]. Returns all of the plaintext or an error, never part of it.
pub fn decrypt(container: &[u8], passphrase: &Passphrase) -> Result<Vec<u8>> {
    decrypt_with_limits(container, passphrase, &Limits::default())
}

/// [`decrypt`] with the given [`Limits`].
pub fn decrypt_with_limits(
    container: &[u8],
    passphrase: &Passphrase,
    limits: &Limits,
) -> Result<Vec<u8>> {
    let mut dec = Decryptor::with_limits(container, passphrase, limits)?;
    let mut out = Vec::with_capacity(container.len());
    match dec.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) => {
            out.zeroize();
            Err(from_io(e))
        }
    }
}

/// The key the `passphrase_decrypt` fuzz target decrypts with: passphrase `fuzz`, the minimum
/// Argon2 profile, derived once.
fn fuzz_key() -> Option<&'static PassphraseKey> {
    static KEY: std::sync::OnceLock<Option<PassphraseKey>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        PassphraseKey::derive(&Passphrase::new(b"fuzz".to_vec()), Argon2Params::minimum()).ok()
    })
    .as_ref()
}

/// A container for the fuzz seed corpus, sealed under [`fuzz_key`]. Not part of the stable API.
#[doc(hidden)]
pub fn fuzz_seed(plaintext: &[u8], options: &EncryptOptions) -> Option<Vec<u8>> {
    let mut enc = Encryptor::with_key(Vec::new(), fuzz_key()?, options).ok()?;
    enc.write_all(plaintext).ok()?;
    enc.finish().ok()
}

/// The body of the `passphrase_decrypt` fuzz target: header parsing, armor and STREAM opening
/// never panic, and nothing is released from a container that fails. Argon2 runs once, not per
/// input (the key is derived beforehand). Not part of the stable API.
#[doc(hidden)]
pub fn fuzz_decrypt(data: &[u8]) {
    let Some(key) = fuzz_key() else {
        return;
    };
    let Ok(mut dec) = Decryptor::with_key(data, key) else {
        return;
    };
    let mut out = Vec::new();
    if dec.read_to_end(&mut out).is_err() {
        // What was read before the error must be whole authenticated chunks only; the one-shot
        // API must agree that the container is bad.
        assert!(decrypt_with_key(data, key).is_err());
    }
}

/// The body of the `passphrase_header` fuzz target: the fixed-size header alone (magic,
/// version, ids, Argon2 costs, chunk size), parsed with and without the reader's limits, and
/// written back byte for byte when it parses. Not part of the stable API.
#[doc(hidden)]
pub fn fuzz_header(data: &[u8]) {
    let _ = format::check_prefix(data);
    let Some(b) = data.get(..format::HEADER_LEN) else {
        return;
    };
    let mut h = [0u8; format::HEADER_LEN];
    h.copy_from_slice(b);
    let limits = Limits::default();
    let bounded = format::Header::parse(&h, Some(&limits));
    if let Ok(header) = format::Header::parse(&h, None) {
        assert_eq!(header.to_bytes(), h, "header not written back as read");
        assert!(header.chunk_size() > 0);
    } else {
        assert!(
            bounded.is_err(),
            "the limits accepted what the format refused"
        );
    }
}

/// One-shot decryption with a key derived beforehand (see [`Decryptor::with_key`]).
pub fn decrypt_with_key(container: &[u8], key: &PassphraseKey) -> Result<Vec<u8>> {
    let mut dec = Decryptor::with_key(container, key)?;
    let mut out = Vec::new();
    dec.read_to_end(&mut out).map_err(from_io)?;
    Ok(out)
}
