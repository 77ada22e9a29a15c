//! Encryption (the hybrid session-key scheme) and signing: streaming writers and one-shot
//! helpers over them.
//!
//! Every message gets a fresh random session key; the data is encrypted with it, and the
//! session key is encrypted to each recipient's encryption key (a PKESK packet each) and to
//! each password (a SKESK packet each). The format follows the recipients: SEIPDv1 (with MDC,
//! what GnuPG 2.2 reads) unless every recipient advertises SEIPDv2, then SEIPDv2 (AEAD, OCB).
//! Password-only messages use SEIPDv1, which `gpg -c` reads. Nothing is compressed.

use std::io::{self, Read, Write};
#[cfg(feature = "crypto-openssl")]
use std::sync::{Arc, Mutex};

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::crypto::Password;
#[cfg(feature = "crypto-openssl")]
use openpgp::packet::key::PublicParts;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Recipient, Signer};
use openpgp::types::HashAlgorithm;

use crate::error::{Error, Result};
use crate::keys::{Encoding, SigningKey};
use crate::policy::encryption_keys;

/// The hash every signature of this crate uses (`micalg=pgp-sha256` in PGP/MIME).
pub(crate) const HASH: HashAlgorithm = HashAlgorithm::SHA256;

/// What to encrypt to and sign with.
///
/// ```
/// use secmail_pgp::{EncryptOptions, DecryptOptions, KeyGenOptions, SigningKey, decrypt, encrypt, generate};
/// let alice = generate(&KeyGenOptions::new("Alice <alice@example.org>"))?.key;
/// let bob = generate(&KeyGenOptions::new("Bob <bob@example.net>"))?.key;
/// let signer = SigningKey::new(&alice, &[])?;
/// let ct = encrypt(b"hello", &EncryptOptions::new().recipient(&bob).sign_with(&signer))?;
///
/// let (pt, verdict) = decrypt(&ct, &DecryptOptions::new().key(bob).verify_with(alice))?;
/// assert_eq!(pt, b"hello");
/// assert!(verdict.is_fully_encrypted() && verdict.is_fully_signed());
/// # Ok::<(), secmail_pgp::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct EncryptOptions<'a> {
    recipients: Vec<&'a Cert>,
    passwords: Vec<Password>,
    signers: Vec<&'a SigningKey>,
    encrypt_to_self: bool,
    encoding: Encoding,
    #[cfg_attr(not(feature = "crypto-openssl"), allow(dead_code))]
    expected_size: Option<u64>,
}

impl<'a> EncryptOptions<'a> {
    /// No recipients yet; armored output; the signers' own certificates are added as
    /// recipients (so the sent copy stays readable) unless [`EncryptOptions::encrypt_to_self`]
    /// turns that off.
    pub fn new() -> Self {
        EncryptOptions {
            encrypt_to_self: true,
            ..EncryptOptions::default()
        }
    }

    /// Encrypts to `cert` (every valid encryption-capable key of it).
    pub fn recipient(mut self, cert: &'a Cert) -> Self {
        self.recipients.push(cert);
        self
    }

    /// Encrypts to each of `certs`.
    pub fn recipients(mut self, certs: impl IntoIterator<Item = &'a Cert>) -> Self {
        self.recipients.extend(certs);
        self
    }

    /// Also encrypts the session key with `password` (a SKESK packet), for `gpg -c`
    /// and any OpenPGP program.
    pub fn password(mut self, password: Password) -> Self {
        self.passwords.push(password);
        self
    }

    /// Signs inside the encryption with `key` (sign-then-encrypt), naming the recipients as
    /// intended recipients in the signature.
    pub fn sign_with(mut self, key: &'a SigningKey) -> Self {
        self.signers.push(key);
        self
    }

    /// Whether the signers' certificates are added as recipients (default: yes).
    pub fn encrypt_to_self(mut self, yes: bool) -> Self {
        self.encrypt_to_self = yes;
        self
    }

    /// Armored (default) or binary output.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The plaintext's size, when known in advance (a file's length). A SEIPDv1 message to
    /// public keys that is smaller than one bulk chunk (256 KiB) is then written by sequoia
    /// alone: the OpenSSL bulk path's one-time set-up (its own library context, whose first
    /// AES fetch builds OpenSSL's cipher table: 13% of a whole 1 KiB sign+encrypt process
    /// under callgrind) costs more than it saves at that size. The message format is the same.
    pub fn expected_size(mut self, bytes: u64) -> Self {
        self.expected_size = Some(bytes);
        self
    }
}

/// A writer that turns what is written into an OpenPGP message; call
/// [`MessageWriter::finish`] at the end (dropping it without does not write a complete message).
pub struct MessageWriter<'a> {
    inner: Inner<'a>,
    /// The SEIPDv1 packet writer under `inner`, finished after it (see `seipdv1`).
    #[cfg(feature = "crypto-openssl")]
    seipd: Option<Arc<Mutex<crate::seipdv1::Writer<'a>>>>,
}

enum Inner<'a> {
    /// sequoia's writer stack.
    Sequoia(Message<'a>),
    /// An unsigned SEIPDv1 message: our literal packet straight into the SEIP writer.
    #[cfg(feature = "crypto-openssl")]
    Literal(Box<crate::seipdv1::LiteralWriter<'a>>),
}

impl std::fmt::Debug for MessageWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageWriter").finish_non_exhaustive()
    }
}

impl Write for MessageWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Sequoia(m) => m.write(buf),
            #[cfg(feature = "crypto-openssl")]
            Inner::Literal(l) => l.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Sequoia(m) => m.flush(),
            #[cfg(feature = "crypto-openssl")]
            Inner::Literal(l) => l.flush(),
        }
    }
}

impl<'a> MessageWriter<'a> {
    /// Writes the end of the message (signatures, MDC or final AEAD tag, armor footer).
    pub fn finish(self) -> Result<()> {
        match self.inner {
            Inner::Sequoia(m) => m.finalize().map_err(into_io)?,
            #[cfg(feature = "crypto-openssl")]
            Inner::Literal(l) => l.finish()?,
        }
        #[cfg(feature = "crypto-openssl")]
        if let Some(w) = self.seipd {
            w.lock()
                .map_err(|_| Error::Misuse("SEIPDv1 writer poisoned".into()))?
                .finish()?;
        }
        Ok(())
    }

    fn new(inner: Message<'a>) -> Self {
        MessageWriter {
            inner: Inner::Sequoia(inner),
            #[cfg(feature = "crypto-openssl")]
            seipd: None,
        }
    }
}

pub(crate) fn into_io(e: anyhow::Error) -> Error {
    match e.downcast::<io::Error>() {
        Ok(e) => Error::Io(e),
        Err(e) => Error::Misuse(e.to_string()),
    }
}

fn armorer<'a>(
    m: Message<'a>,
    encoding: Encoding,
    kind: openpgp::armor::Kind,
) -> Result<Message<'a>> {
    match encoding {
        Encoding::Binary => Ok(m),
        Encoding::Armored => Armorer::new(m).kind(kind).build().map_err(into_io),
    }
}

fn signer<'a>(
    m: Message<'a>,
    signers: &[&SigningKey],
    recipients: &[&Cert],
) -> Result<Message<'a>> {
    let mut it = signers.iter();
    let Some(first) = it.next() else {
        return Ok(m);
    };
    let mut s = Signer::new(m, first.keypair.clone())
        .and_then(|s| s.hash_algo(HASH))
        .map_err(into_io)?;
    for k in it {
        s = s.add_signer(k.keypair.clone()).map_err(into_io)?;
    }
    for r in recipients {
        s = s.add_intended_recipient(r);
    }
    s.build().map_err(into_io)
}

/// Starts an encrypted (and, with signers, signed) message written to `sink`.
pub fn encrypt_writer<'a, W: Write + Send + Sync + 'a>(
    sink: W,
    opts: &'a EncryptOptions<'a>,
) -> Result<MessageWriter<'a>> {
    let mut certs: Vec<&Cert> = opts.recipients.clone();
    if opts.encrypt_to_self {
        for s in &opts.signers {
            if !certs
                .iter()
                .any(|c| c.fingerprint() == s.cert.fingerprint())
                && encryption_keys(&s.cert).is_ok()
            {
                certs.push(&s.cert);
            }
        }
    }
    if certs.is_empty() && opts.passwords.is_empty() {
        return Err(Error::Misuse(
            "encryption needs at least one recipient or password".into(),
        ));
    }
    let mut keys = Vec::new();
    for c in &certs {
        keys.extend(encryption_keys(c)?);
    }
    // SEIPDv2 when every recipient advertises it (sequoia's rule), else SEIPDv1, which
    // OpenSSL builds write through our own bulk path (see `seipdv1`).
    #[cfg(feature = "crypto-openssl")]
    if keys.is_empty() || !keys.iter().all(supports_seipdv2) {
        // Small messages to keys only (sequoia picks SEIPDv1 for them too, as not every
        // recipient supports SEIPDv2); with passwords, always ours (SEIPDv1 for `gpg -c`).
        let small = opts
            .expected_size
            .is_some_and(|n| n < crate::seipdv1::SMALL_MESSAGE);
        if !(small && !keys.is_empty() && opts.passwords.is_empty()) {
            return seipdv1_writer(sink, opts, &certs, &keys);
        }
    }
    let recipients: Vec<Recipient<'a>> = keys.into_iter().map(Into::into).collect();
    let m = Message::new(sink);
    let m = armorer(m, opts.encoding, openpgp::armor::Kind::Message)?;
    let m = Encryptor::for_recipients(m, recipients)
        .add_passwords(opts.passwords.iter().cloned())
        .build()
        .map_err(into_io)?;
    let m = crate::padding::pad(m).map_err(into_io)?;
    let m = signer(m, &opts.signers, &certs)?;
    let m = LiteralWriter::new(m).build().map_err(into_io)?;
    Ok(MessageWriter::new(m))
}

#[cfg(feature = "crypto-openssl")]
fn supports_seipdv2(ka: &ValidErasedKeyAmalgamation<'_, PublicParts>) -> bool {
    use openpgp::cert::Preferences;
    ka.valid_cert()
        .features()
        .is_some_and(|f| f.supports_seipdv2())
}

/// A SEIPDv1 message: sequoia writes the ESK packets and the inner packets (signatures,
/// literal data), [`crate::seipdv1::Writer`] the encrypted SEIP packet around them.
#[cfg(feature = "crypto-openssl")]
fn seipdv1_writer<'a, W: Write + Send + Sync + 'a>(
    sink: W,
    opts: &'a EncryptOptions<'a>,
    certs: &[&'a Cert],
    keys: &[ValidErasedKeyAmalgamation<'a, PublicParts>],
) -> Result<MessageWriter<'a>> {
    use crate::seipdv1::{Sink, Writer};
    use openpgp::Packet;
    use openpgp::crypto::SessionKey;
    use openpgp::packet::{PKESK, SKESK, pkesk::PKESK3, skesk::SKESK4};
    use openpgp::serialize::Serialize;
    use openpgp::types::SymmetricAlgorithm;

    let algo = SymmetricAlgorithm::AES256;
    let sk = SessionKey::new(32).map_err(into_io)?;
    let sink: Box<dyn Write + Send + Sync + 'a> = Box::new(sink);
    let mut out = match opts.encoding {
        Encoding::Binary => Sink::Binary(sink),
        Encoding::Armored => Sink::Armored(openpgp::armor::Writer::new(
            sink,
            openpgp::armor::Kind::Message,
        )?),
    };
    for ka in keys {
        let pkesk = PKESK3::for_recipient(algo, &sk, ka.key()).map_err(into_io)?;
        Packet::PKESK(PKESK::from(pkesk))
            .serialize(&mut out)
            .map_err(into_io)?;
    }
    for pw in &opts.passwords {
        let skesk =
            SKESK4::with_password(algo, algo, Default::default(), &sk, pw).map_err(into_io)?;
        Packet::SKESK(SKESK::from(skesk))
            .serialize(&mut out)
            .map_err(into_io)?;
    }
    let w = Writer::new(out, ossl::cipher::AesSize::Aes256, &sk)?;
    if opts.signers.is_empty() {
        return Ok(MessageWriter {
            inner: Inner::Literal(Box::new(crate::seipdv1::LiteralWriter::new(w)?)),
            seipd: None,
        });
    }
    let w = Arc::new(Mutex::new(w));
    let m = Message::new(Shared(w.clone()));
    let m = signer(m, &opts.signers, certs)?;
    let m = LiteralWriter::new(m).build().map_err(into_io)?;
    Ok(MessageWriter {
        inner: Inner::Sequoia(m),
        seipd: Some(w),
    })
}

/// sequoia's writer stack owns its sink; this handle lets [`MessageWriter::finish`] finish
/// the SEIP packet after sequoia finished the packets inside it.
#[cfg(feature = "crypto-openssl")]
struct Shared<'a>(Arc<Mutex<crate::seipdv1::Writer<'a>>>);

#[cfg(feature = "crypto-openssl")]
impl Write for Shared<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("SEIPDv1 writer poisoned"))?
            .write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("SEIPDv1 writer poisoned"))?
            .flush()
    }
}

/// Encrypts everything from `input` to `output`, streaming.
pub fn encrypt_stream<R: Read, W: Write + Send + Sync>(
    mut input: R,
    output: W,
    opts: &EncryptOptions<'_>,
) -> Result<()> {
    let mut w = encrypt_writer(output, opts)?;
    // Our literal writer reads straight into its segments; anything else gets copied.
    #[cfg(feature = "crypto-openssl")]
    if let Inner::Literal(l) = &mut w.inner {
        l.read_from(&mut input)?;
        return w.finish();
    }
    copy_large(&mut input, &mut w)?;
    w.finish()
}

/// How much [`copy_large`] reads at a time: one SEIPDv1 partial-body chunk, so that whole
/// chunks pass through the literal and SEIP writers without being buffered.
const COPY_BUF: usize = 256 * 1024;

/// `io::copy` with a large buffer: `io::copy` reads 8 KiB at a time, which made one `read`
/// system call and one pass through the writer stack per 8 KiB (perf: 8% of a 64 MiB
/// encryption in `read` alone).
/// Small inputs never pay for the large buffer (zeroing 256 KiB was 4.5% of a 1 KiB
/// sign+encrypt under callgrind): reads start in an 8 KiB stack buffer and move to the large
/// one once a read fills it.
pub(crate) fn copy_large(input: &mut impl Read, output: &mut impl Write) -> io::Result<u64> {
    let mut small = [0u8; 8 * 1024];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut small) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        output.write_all(&small[..n])?;
        total += n as u64;
        if n == small.len() {
            break;
        }
    }
    let mut buf = vec![0u8; COPY_BUF];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        output.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Encrypts `plaintext` in one call.
pub fn encrypt(plaintext: &[u8], opts: &EncryptOptions<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plaintext.len() + plaintext.len() / 3 + 1024);
    encrypt_stream(plaintext, &mut out, opts)?;
    Ok(out)
}

/// Starts a signed message written to `sink`: inline (a one-pass-signed literal) or, with
/// `detached`, just the signature over what is written.
pub fn sign_writer<'a, W: Write + Send + Sync + 'a>(
    sink: W,
    signers: &[&SigningKey],
    detached: bool,
    encoding: Encoding,
) -> Result<MessageWriter<'a>> {
    if signers.is_empty() {
        return Err(Error::Misuse("signing needs at least one key".into()));
    }
    let m = Message::new(sink);
    let kind = if detached {
        openpgp::armor::Kind::Signature
    } else {
        openpgp::armor::Kind::Message
    };
    let m = armorer(m, encoding, kind)?;
    let mut first = true;
    let mut s: Option<Signer<'a>> = None;
    let mut m = Some(m);
    for k in signers {
        s = Some(if first {
            first = false;
            let inner = m.take().ok_or_else(|| Error::Misuse("no sink".into()))?;
            Signer::new(inner, k.keypair.clone())
                .and_then(|s| s.hash_algo(HASH))
                .map_err(into_io)?
        } else {
            s.ok_or_else(|| Error::Misuse("no signer".into()))?
                .add_signer(k.keypair.clone())
                .map_err(into_io)?
        });
    }
    let mut s = s.ok_or_else(|| Error::Misuse("signing needs at least one key".into()))?;
    if detached {
        s = s.detached();
    }
    let m = s.build().map_err(into_io)?;
    let m = if detached {
        m
    } else {
        LiteralWriter::new(m).build().map_err(into_io)?
    };
    Ok(MessageWriter::new(m))
}

/// Signs `data` in one call: an inline signed message.
pub fn sign(data: &[u8], signers: &[&SigningKey], encoding: Encoding) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = sign_writer(&mut out, signers, false, encoding)?;
    w.write_all(data)?;
    w.finish()?;
    Ok(out)
}

/// A detached signature over `data`, in one call.
pub fn sign_detached(data: &[u8], signers: &[&SigningKey], encoding: Encoding) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = sign_writer(&mut out, signers, true, encoding)?;
    w.write_all(data)?;
    w.finish()?;
    Ok(out)
}
