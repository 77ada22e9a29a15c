//! Sign-then-encrypt and decrypt-then-verify of whole messages as streams.
//!
//! Writing: the header section is read (bounded), the body entity is canonicalized to CRLF and
//! hashed while it is encrypted, in one pass; the detached signature part follows the content
//! inside the envelope, so nothing is held back.
//!
//! Reading: two passes over the encrypted content, which is spooled (memory up to
//! `SPOOL_IN_MEMORY`, then an unnamed temporary file; ciphertext only, never plaintext). The
//! first pass decrypts and discards the plaintext after hashing the signed part and keeping the
//! signature part; the GCM tag (or the CBC padding) and the signature are checked; only then
//! does the second pass decrypt again and write the plaintext out. Nothing reaches the output
//! before every check passed.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::time::SystemTime;

use aws_lc_rs::digest;
use der::asn1::OctetString;
use secmail_core::mime::{self, Message};
use secmail_core::{PartProtection, Scheme, Verdict};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::b64::{Base64Reader, Base64Writer};
use super::cipher::{CbcDecrypt, Gcm};
use super::envelope::{BerReader, EnvelopeWriter, read_head, read_tail};
use crate::certs::{self, PrivateKey};
use crate::encrypt::{ContentCipher, EncryptOptions, GcmParameters};
use crate::error::{Error, Result, Usage};
use crate::mime::{ReadOptions, read_message, split_parsed};
use crate::oids;
use crate::sign::SignOptions;
use crate::verify::{Verified, verify_digest};

/// The largest header section read.
const MAX_HEADER: usize = 1024 * 1024;
/// The largest signature part kept.
const MAX_SIGNATURE: usize = 1024 * 1024;
/// Plaintext held in memory for an inner layer that cannot be streamed (an opaque signature
/// inside the envelope), and input held for an outer one that is not encrypted.
const MAX_IN_MEMORY: usize = 256 * 1024 * 1024;
/// Ciphertext spooled in memory before moving to a temporary file.
const SPOOL_IN_MEMORY: usize = 8 * 1024 * 1024;
/// Read size.
const CHUNK: usize = 256 * 1024;

/// Reads a header section (up to and including the empty line, or to the end of input).
fn read_header<R: BufRead>(r: &mut R) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(4096);
    loop {
        let start = head.len();
        let n = r
            .by_ref()
            .take((MAX_HEADER + 1 - start) as u64)
            .read_until(b'\n', &mut head)?;
        if head.len() > MAX_HEADER {
            return Err(Error::malformed(
                "message",
                "the header section is too large",
            ));
        }
        let line = &head[start..];
        if n == 0 || line == b"\r\n" || line == b"\n" {
            return Ok(head);
        }
    }
}

fn random_boundary() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| Error::Random)?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("=_smime_{hex}"))
}

/// The `application/pkcs7-mime` header fields of an envelope.
fn envelope_fields(cipher: ContentCipher) -> Vec<u8> {
    let t = match cipher {
        ContentCipher::Aes256Gcm => "authEnveloped-data",
        ContentCipher::Aes256Cbc => "enveloped-data",
    };
    format!(
        "Content-Type: application/pkcs7-mime; smime-type={t}; name=\"smime.p7m\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n"
    )
    .into_bytes()
}

/// Hashes and writes what passes, converting bare LF to CRLF.
struct Canon<'a, W: Write> {
    out: &'a mut W,
    hash: &'a mut digest::Context,
    prev: u8,
}

impl<W: Write> Canon<'_, W> {
    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.hash.update(b);
        self.out.write_all(b).map_err(unwrap_io)
    }

    fn feed(&mut self, data: &[u8]) -> Result<()> {
        let mut start = 0;
        for p in memchr::memchr_iter(b'\n', data) {
            let before = if p == 0 { self.prev } else { data[p - 1] };
            if before != b'\r' {
                self.put(&data[start..p])?;
                self.put(b"\r")?;
                start = p;
            }
        }
        self.put(&data[start..])?;
        if let Some(&l) = data.last() {
            self.prev = l;
        }
        Ok(())
    }
}

fn unwrap_io(e: io::Error) -> Error {
    match e.downcast::<Error>() {
        Ok(e) => e,
        Err(e) => Error::Io(e),
    }
}

/// Signs, then encrypts a message read from `input`, writing the result to `output`, in
/// bounded memory whatever the message size: the streaming form of
/// [`crate::sign_encrypt_message`]. The body is signed as it is with line endings made CRLF
/// (its transfer encoding is not changed: it travels encrypted), in a detached
/// `multipart/signed`; the envelope is BER with indefinite lengths.
///
/// On an error, what was written to `output` is incomplete and must be discarded.
pub fn sign_encrypt_message_stream<R: Read, W: Write>(
    input: R,
    output: W,
    cert: &Certificate,
    key: &PrivateKey,
    chain: &[Certificate],
    recipients: &[Certificate],
    opts: &EncryptOptions,
) -> Result<W> {
    crate::sign::check_signer(cert, key)?;
    let mut to = recipients.to_vec();
    if certs::allows(cert, Usage::Encrypt)? && !to.contains(cert) {
        to.push(cert.clone());
    }
    let mut input = BufReader::with_capacity(CHUNK, input);
    let head = read_header(&mut input)?;
    let (outer, entity_head) = split_parsed(&Message::parse(head)?)?;
    let mut output = output;
    output.write_all(&mime::wrap(&outer, &envelope_fields(opts.cipher))?)?;
    let mut env = EnvelopeWriter::new(Base64Writer::new(output), &to, opts)?;
    let boundary = random_boundary()?;
    write!(
        env,
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; \
         micalg=sha-256;\r\n boundary=\"{boundary}\"\r\n\r\n\
         This is a cryptographically signed message in MIME format.\r\n\r\n--{boundary}\r\n"
    )
    .map_err(unwrap_io)?;
    let mut hash = digest::Context::new(&digest::SHA256);
    {
        let mut canon = Canon {
            out: &mut env,
            hash: &mut hash,
            prev: 0,
        };
        canon.feed(&entity_head)?;
        loop {
            let buf = input.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let n = buf.len();
            canon.feed(buf)?;
            input.consume(n);
        }
    }
    let digest = hash.finish();
    let sopts = SignOptions::default().chain(chain.to_vec()).detached(true);
    let sig = crate::sign::sign_digest(digest.as_ref(), None, cert, key, &sopts)?;
    write!(
        env,
        "\r\n--{boundary}\r\n\
         Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n"
    )
    .map_err(unwrap_io)?;
    let mut sig_b64 = Base64Writer::new(Vec::new());
    sig_b64.write_all(&sig)?;
    env.write_all(&sig_b64.finish()?).map_err(unwrap_io)?;
    write!(env, "--{boundary}--\r\n").map_err(unwrap_io)?;
    let b64 = env.finish()?;
    let mut output = b64.finish()?;
    output.flush()?;
    Ok(output)
}

/// Ciphertext kept for the second pass.
struct Spool {
    mem: Vec<u8>,
    file: Option<std::fs::File>,
}

impl Spool {
    fn new() -> Self {
        Spool {
            mem: Vec::new(),
            file: None,
        }
    }

    fn push(&mut self, data: &[u8]) -> Result<()> {
        if let Some(f) = &mut self.file {
            return Ok(f.write_all(data)?);
        }
        if self.mem.len() + data.len() <= SPOOL_IN_MEMORY {
            self.mem.extend_from_slice(data);
            return Ok(());
        }
        let mut f = tempfile::tempfile()?;
        f.write_all(&self.mem)?;
        f.write_all(data)?;
        self.mem = Vec::new();
        self.file = Some(f);
        Ok(())
    }

    fn replay(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        match &mut self.file {
            None => {
                for c in self.mem.chunks(CHUNK) {
                    f(c)?;
                }
                Ok(())
            }
            Some(file) => {
                file.seek(SeekFrom::Start(0))?;
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = file.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    f(&buf[..n])?;
                }
            }
        }
    }
}

enum Dec {
    Cbc(CbcDecrypt),
    Gcm(Box<Gcm>),
}

/// How to decrypt the content again for the second pass.
struct Content {
    key: Zeroizing<Vec<u8>>,
    iv_or_nonce: Vec<u8>,
    gcm: bool,
}

impl Content {
    fn start(&self) -> Result<Dec> {
        Ok(if self.gcm {
            let nonce: [u8; 12] = self
                .iv_or_nonce
                .as_slice()
                .try_into()
                .map_err(|_| Error::DecryptionFailed)?;
            Dec::Gcm(Box::new(Gcm::new(&self.key, &nonce, &[])?))
        } else {
            let iv: [u8; 16] = self
                .iv_or_nonce
                .as_slice()
                .try_into()
                .map_err(|_| Error::DecryptionFailed)?;
            Dec::Cbc(CbcDecrypt::new(&self.key, iv)?)
        })
    }

    /// Decrypts the spooled ciphertext into `sink`; `tag` is checked at the end for GCM.
    fn run(
        &self,
        spool: &mut Spool,
        tag: Option<&[u8]>,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut dec = self.start()?;
        let mut out = Vec::with_capacity(CHUNK + 16);
        spool.replay(&mut |ct| {
            match &mut dec {
                Dec::Cbc(c) => c.update(ct, &mut out)?,
                Dec::Gcm(g) => g.decrypt(ct, &mut out)?,
            }
            sink(&out)
        })?;
        match dec {
            Dec::Cbc(c) => {
                c.finish(&mut out)?;
                sink(&out)
            }
            Dec::Gcm(g) => g.verify(tag.ok_or(Error::DecryptionFailed)?),
        }
    }
}

/// What the first pass found inside the envelope.
enum Inner {
    /// Collecting the header section of the decrypted entity.
    Head(Vec<u8>),
    /// A `multipart/signed` being scanned.
    Signed(Box<Scanner>),
    /// Something else, not signed: released whole after the checks.
    Plain,
    /// An inner layer that is read in memory (an opaque signature).
    Collect(Vec<u8>),
}

struct InnerScan {
    state: Inner,
    total: u64,
}

fn find_header_end(b: &[u8]) -> Option<usize> {
    let a = memchr::memmem::find(b, b"\n\r\n").map(|i| i + 3);
    let c = memchr::memmem::find(b, b"\n\n").map(|i| i + 2);
    match (a, c) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

impl InnerScan {
    fn feed(&mut self, data: &[u8]) -> Result<()> {
        self.total += data.len() as u64;
        match &mut self.state {
            Inner::Head(h) => {
                h.extend_from_slice(data);
                if let Some(end) = find_header_end(h) {
                    let head = std::mem::take(h);
                    self.state = Self::classify(&head, end)?;
                    let rest = &head[end..];
                    self.feed_state(rest)?;
                } else if h.len() > MAX_HEADER {
                    return Err(Error::malformed(
                        "decrypted entity",
                        "the header section is too large",
                    ));
                }
                Ok(())
            }
            _ => self.feed_state(data),
        }
    }

    fn feed_state(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.state {
            Inner::Signed(s) => s.feed(data),
            Inner::Collect(c) => {
                if c.len() + data.len() > MAX_IN_MEMORY {
                    return Err(Error::Unsupported(
                        "an opaque signed message this large inside an envelope".into(),
                    ));
                }
                c.extend_from_slice(data);
                Ok(())
            }
            Inner::Plain | Inner::Head(_) => Ok(()),
        }
    }

    fn classify(head: &[u8], end: usize) -> Result<Inner> {
        let msg = Message::parse(head[..end].to_vec())?;
        let root = msg.root();
        let ct = root.content_type();
        if ct.is("multipart", "signed") {
            let proto = ct
                .param("protocol")
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !crate::mime::is_smime_signature(&proto) {
                // Inside the envelope, a multipart/signed of another protocol (or none) is
                // content, as in `read_message`.
                return Ok(Inner::Plain);
            }
            let boundary = ct
                .param("boundary")
                .ok_or_else(|| Error::malformed("multipart/signed", "no boundary"))?
                .to_owned();
            let micalg = ct
                .param("micalg")
                .unwrap_or("sha-256")
                .trim()
                .to_ascii_lowercase();
            let (alg, oid): (&'static digest::Algorithm, _) = match micalg.as_str() {
                "sha-256" | "sha256" => (&digest::SHA256, oids::SHA256),
                "sha-384" | "sha384" => (&digest::SHA384, oids::SHA384),
                "sha-512" | "sha512" => (&digest::SHA512, oids::SHA512),
                m => {
                    return Err(Error::Unsupported(format!(
                        "micalg {m} (SHA-256, SHA-384 and SHA-512 are read)"
                    )));
                }
            };
            // The scan starts at the line break that ends the header section, so that a
            // delimiter on the first body line is found like any other.
            let mut win = Vec::with_capacity(CHUNK * 2);
            win.push(b'\n');
            Ok(Inner::Signed(Box::new(Scanner {
                needle: memchr::memmem::Finder::new(format!("\n--{boundary}").as_bytes())
                    .into_owned(),
                win,
                base: end as u64 - 1,
                phase: Phase::Preamble,
                hash: digest::Context::new(alg),
                digest_oid: oid,
                first_start: 0,
                first_len: 0,
                sig: Vec::new(),
                skip: 1,
            })))
        } else if ct.is("application", "pkcs7-mime") || ct.is("application", "x-pkcs7-mime") {
            Ok(Inner::Collect(head[..end].to_vec()))
        } else {
            Ok(Inner::Plain)
        }
    }
}

#[derive(PartialEq, Eq)]
enum Phase {
    Preamble,
    First,
    Signature,
    Epilogue,
}

/// Finds the two parts of a `multipart/signed` in a stream: hashes the first (the signed
/// content, without the line break before the delimiter, RFC 1847 §2.1) and keeps the second.
struct Scanner {
    needle: memchr::memmem::Finder<'static>,
    /// Bytes not yet released; `win[0]` is at plaintext offset `base`.
    win: Vec<u8>,
    base: u64,
    phase: Phase,
    hash: digest::Context,
    digest_oid: const_oid::ObjectIdentifier,
    first_start: u64,
    first_len: u64,
    sig: Vec<u8>,
    /// 1 when `win[0]` is the line break of the last delimiter line (not content).
    skip: usize,
}

impl Scanner {
    fn release(&mut self, upto: usize) -> Result<()> {
        let bytes = self.win.get(self.skip..upto).unwrap_or_default();
        match self.phase {
            Phase::First => {
                self.hash.update(bytes);
                self.first_len += bytes.len() as u64;
            }
            Phase::Signature => {
                if self.sig.len() + bytes.len() > MAX_SIGNATURE {
                    return Err(Error::malformed(
                        "multipart/signed",
                        "the signature part is too large",
                    ));
                }
                self.sig.extend_from_slice(bytes);
            }
            Phase::Preamble | Phase::Epilogue => {}
        }
        Ok(())
    }

    fn feed(&mut self, data: &[u8]) -> Result<()> {
        if self.phase == Phase::Epilogue {
            return Ok(());
        }
        self.win.extend_from_slice(data);
        let nlen = self.needle.needle().len();
        let mut search = 0;
        let mut keep_from;
        loop {
            let Some(i) = self.needle.find(&self.win[search..]).map(|i| i + search) else {
                keep_from = self.win.len().saturating_sub(nlen);
                break;
            };
            let after = i + nlen;
            let line_end = memchr::memchr(b'\n', &self.win[after..]).map(|j| after + j);
            let Some(le) = line_end else {
                if self.win.len() - after > 998 {
                    search = i + 1;
                    continue;
                }
                keep_from = i.saturating_sub(1);
                break;
            };
            let mut rest = &self.win[after..le];
            if rest.last() == Some(&b'\r') {
                rest = &rest[..rest.len() - 1];
            }
            while let Some((&l, r)) = rest.split_last() {
                if l == b' ' || l == b'\t' {
                    rest = r;
                } else {
                    break;
                }
            }
            let close = match rest {
                b"" => false,
                b"--" => true,
                _ => {
                    search = i + 1;
                    continue;
                }
            };
            let content_end = if i > 0 && self.win[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            self.release(content_end)?;
            let next_start = self.base + le as u64 + 1;
            self.phase = match (&self.phase, close) {
                (Phase::Preamble, false) => {
                    self.first_start = next_start;
                    Phase::First
                }
                (Phase::First, false) => Phase::Signature,
                (Phase::Signature, true) => Phase::Epilogue,
                _ => {
                    return Err(Error::malformed(
                        "multipart/signed",
                        "it must have exactly two parts",
                    ));
                }
            };
            // Keep the line break that ends the delimiter line: it may start the next one.
            self.win.drain(..le);
            self.base += le as u64;
            self.skip = 1;
            search = 0;
            if self.phase == Phase::Epilogue {
                self.win.clear();
                return Ok(());
            }
        }
        keep_from = keep_from.min(self.win.len());
        self.release(keep_from)?;
        self.win.drain(..keep_from);
        self.base += keep_from as u64;
        if keep_from > 0 {
            self.skip = 0;
        }
        Ok(())
    }
}

/// Decrypts (and verifies) a message read from `input` and writes the innermost entity
/// under the outer header fields to `output`: the streaming form of [`read_message`].
///
/// An `application/pkcs7-mime` envelope at the top is streamed; the `multipart/signed` inside
/// it is hashed as it passes. The output is written only after the content decrypted
/// correctly (the GCM tag, or the CBC padding) and, with `require_valid_signature`, the
/// signature inside checked out; on an error nothing was written. The encrypted content is
/// spooled for that (in memory up to 8 MiB, beyond that in an unnamed temporary file, which is
/// ciphertext only).
///
/// Other shapes (a message that is only signed, an opaque signature inside the envelope) are
/// read in memory, up to 256 MiB, as [`read_message`] does.
pub fn read_message_stream<R: Read, W: Write>(
    input: R,
    mut output: W,
    opts: &ReadOptions<'_>,
) -> Result<Verdict> {
    let mut input = BufReader::with_capacity(CHUNK, input);
    let head = read_header(&mut input)?;
    let msg = Message::parse(head.clone())?;
    let from = msg.from_address();
    let (outer, _) = split_parsed(&msg)?;
    let root = msg.root();
    let ct = root.content_type();
    let pkcs7 = ct.is("application", "pkcs7-mime") || ct.is("application", "x-pkcs7-mime");
    let b64 = root
        .headers()
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case("content-transfer-encoding"))
        .and_then(|f| msg.raw().get(f.range.clone()))
        .is_some_and(|raw| {
            String::from_utf8_lossy(raw)
                .to_ascii_lowercase()
                .contains("base64")
        });
    let envelope = pkcs7 && b64 && is_envelope(&mut input)?;
    let (Some((cert, key)), true) = (opts.decrypt_with, envelope) else {
        // Not a top-level envelope: read in memory.
        let mut all = head;
        input
            .take((MAX_IN_MEMORY + 1) as u64)
            .read_to_end(&mut all)?;
        if all.len() > MAX_IN_MEMORY {
            return Err(Error::Unsupported(
                "a message this large that is not encrypted at the top".into(),
            ));
        }
        let read = read_message(&all, opts)?;
        output.write_all(&read.message)?;
        output.flush()?;
        return Ok(read.verdict);
    };
    if !key.matches(cert) {
        return Err(Error::Misuse(
            "the private key does not belong to the certificate".into(),
        ));
    }
    let mut ber = BerReader::new(Base64Reader::new(&mut input));
    let env = read_head(&mut ber)?;
    let (key_len, gcm) = match env.alg.oid {
        o if o == oids::AES256_GCM => (32, true),
        o if o == oids::AES128_GCM => (16, true),
        o if o == oids::AES256_CBC => (32, false),
        o if o == oids::AES192_CBC => (24, false),
        o if o == oids::AES128_CBC => (16, false),
        o => {
            return Err(Error::Unsupported(format!(
                "content encryption {o} (AES-CBC and AES-GCM are read)"
            )));
        }
    };
    if gcm != env.auth {
        return Err(Error::malformed(
            "CMS",
            "AES-GCM belongs in an AuthEnvelopedData, AES-CBC in an EnvelopedData",
        ));
    }
    let iv_or_nonce = if gcm {
        let p: GcmParameters = env
            .alg
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as().ok())
            .ok_or_else(|| Error::malformed("AES-GCM parameters", "missing or malformed"))?;
        if p.nonce.as_bytes().len() != 12 {
            return Err(Error::Unsupported(
                "an AES-GCM nonce that is not 12 bytes".into(),
            ));
        }
        if p.icv_len != 16 {
            return Err(Error::Unsupported(
                "an AES-GCM tag that is not 16 bytes".into(),
            ));
        }
        p.nonce.as_bytes().to_vec()
    } else {
        let iv = env
            .alg
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<OctetString>().ok())
            .ok_or_else(|| Error::malformed("AES-CBC parameters", "no IV"))?;
        if iv.as_bytes().len() != 16 {
            return Err(Error::malformed(
                "AES-CBC parameters",
                "the IV is not 16 bytes",
            ));
        }
        iv.as_bytes().to_vec()
    };
    let cek = crate::decrypt::unwrap_cek(&env.recipients, cert, key, key_len)?;
    let content = Content {
        key: cek,
        iv_or_nonce,
        gcm,
    };
    // First pass: decrypt, scan and check; nothing is released.
    let mut spool = Spool::new();
    let mut scan = InnerScan {
        state: Inner::Head(Vec::new()),
        total: 0,
    };
    // An error in what the plaintext says is held back until the tag checked out: before
    // that, the plaintext is the attacker's to choose (GCM is malleable), and telling a
    // format error apart from a bad tag would be an oracle on it.
    let mut scan_err = None;
    let mac = {
        let mut dec = content.start()?;
        let mut out = Vec::with_capacity(CHUNK + 16);
        let h = env.content.clone();
        ber.octets(
            &h,
            &mut |ct| {
                spool.push(ct)?;
                match &mut dec {
                    Dec::Cbc(c) => c.update(ct, &mut out)?,
                    Dec::Gcm(g) => g.decrypt(ct, &mut out)?,
                }
                if scan_err.is_none()
                    && let Err(e) = scan.feed(&out)
                {
                    scan_err = Some(e);
                }
                Ok(())
            },
            0,
        )?;
        let mac = read_tail(&mut ber, &env)?;
        match dec {
            Dec::Cbc(c) => {
                c.finish(&mut out)?;
                if scan_err.is_none()
                    && let Err(e) = scan.feed(&out)
                {
                    scan_err = Some(e);
                }
            }
            Dec::Gcm(g) => g.verify(mac.as_deref().ok_or(Error::DecryptionFailed)?)?,
        }
        mac
    };
    if let Some(e) = scan_err {
        return Err(e);
    }
    let decrypted_with = certs::fingerprint(cert);
    let now = opts.now.unwrap_or_else(SystemTime::now);
    let (range, verified) = match scan.state {
        Inner::Head(_) | Inner::Plain => (0..scan.total, None),
        Inner::Signed(s) => {
            if s.phase != Phase::Epilogue {
                return Err(Error::malformed(
                    "multipart/signed",
                    "the closing delimiter is missing",
                ));
            }
            let digest = s.hash.finish();
            let sig_part = Message::parse(s.sig)?;
            let v = verify_digest(
                sig_part.root().body().bytes(),
                s.digest_oid,
                digest.as_ref(),
                opts.anchors,
                now,
            )?;
            (s.first_start..s.first_start + s.first_len, Some(v))
        }
        Inner::Collect(plain) => {
            // An opaque signature (or another layer) inside: the in-memory reader does the
            // rest, on the entity under the outer fields.
            let inner = mime::wrap(&outer, &plain)?;
            let mut o = opts.clone();
            o.decrypt_with = None;
            let read = read_message(&inner, &o)?;
            let mut verdict = read.verdict;
            for p in &mut verdict.parts {
                p.encrypted = true;
                p.scheme = Some(Scheme::Smime);
                p.decrypted_with = Some(decrypted_with.clone());
            }
            output.write_all(&read.message)?;
            output.flush()?;
            return Ok(verdict);
        }
    };
    let mut verdict = Verdict::new(from.clone());
    let mut pp = PartProtection::new(String::new());
    pp.encrypted = true;
    pp.scheme = Some(Scheme::Smime);
    pp.decrypted_with = Some(decrypted_with);
    verdict.parts.push(pp);
    if let Some(v) = &verified {
        crate::mime::add_signers(&mut verdict, v);
    }
    if opts.require_valid_signature {
        let v: &Verified = verified.as_ref().ok_or(Error::NotSigned)?;
        v.require_valid(from.as_deref())?;
        if from.is_none() {
            return Err(Error::malformed(
                "message",
                "no single From address to check the signer against",
            ));
        }
    }
    // Second pass: every check passed; decrypt again and write the entity out.
    let mut writer = Release {
        out: &mut output,
        outer: &outer,
        pos: 0,
        range,
        head: Some(Vec::new()),
    };
    content.run(&mut spool, mac.as_deref(), &mut |pt| writer.feed(pt))?;
    writer.end()?;
    output.flush()?;
    Ok(verdict)
}

/// Writes the plaintext bytes in `range` (the released entity) under the outer fields.
struct Release<'a, W: Write> {
    out: &'a mut W,
    outer: &'a [(String, String)],
    pos: u64,
    range: std::ops::Range<u64>,
    /// The entity's header section while it is being collected.
    head: Option<Vec<u8>>,
}

impl<W: Write> Release<'_, W> {
    fn feed(&mut self, data: &[u8]) -> Result<()> {
        let start = self.pos;
        self.pos += data.len() as u64;
        let lo = self.range.start.max(start);
        let hi = self.range.end.min(self.pos);
        if lo >= hi {
            return Ok(());
        }
        let mut bytes = &data[(lo - start) as usize..(hi - start) as usize];
        if let Some(h) = &mut self.head {
            let before = h.len();
            h.extend_from_slice(bytes);
            let Some(end) = find_header_end(h) else {
                if h.len() > MAX_HEADER {
                    return Err(Error::malformed("decrypted entity", "header too large"));
                }
                return Ok(());
            };
            h.truncate(end);
            self.out.write_all(&mime::wrap(self.outer, h)?)?;
            bytes = &bytes[end - before..];
            self.head = None;
        }
        self.out.write_all(bytes)?;
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        if let Some(h) = self.head.take() {
            self.out.write_all(&mime::wrap(self.outer, &h)?)?;
        }
        Ok(())
    }
}

/// Whether the base64 body about to be read starts an (Auth)EnvelopedData: decodes the first
/// characters without consuming them.
fn is_envelope<R: BufRead>(input: &mut R) -> Result<bool> {
    let buf = input.fill_buf()?;
    let chars: Vec<u8> = buf
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .take(64)
        .collect();
    let chars = &chars[..chars.len() / 4 * 4];
    let mut raw = Vec::new();
    for g in chars.chunks(4) {
        use base64::Engine;
        match base64::engine::general_purpose::STANDARD.decode(g) {
            Ok(b) => raw.extend(b),
            Err(_) => return Ok(false),
        }
    }
    Ok(crate::ber::content_type(&raw)
        .is_ok_and(|t| t == oids::ID_ENVELOPED_DATA || t == oids::ID_AUTH_ENVELOPED_DATA))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scan(body: &[u8], split: usize) -> Result<(Vec<u8>, Vec<u8>)> {
        let head = b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=\"B\"\r\n\r\n";
        let mut all = head.to_vec();
        all.extend_from_slice(body);
        let mut s = InnerScan {
            state: Inner::Head(Vec::new()),
            total: 0,
        };
        for c in all.chunks(split) {
            s.feed(c)?;
        }
        let Inner::Signed(sc) = s.state else {
            panic!("not signed")
        };
        assert!(sc.phase == Phase::Epilogue);
        let first = all[sc.first_start as usize..(sc.first_start + sc.first_len) as usize].to_vec();
        let d = sc.hash.finish();
        assert_eq!(d.as_ref(), digest::digest(&digest::SHA256, &first).as_ref());
        Ok((first, sc.sig))
    }

    #[test]
    fn scanner_finds_the_parts_at_any_split() {
        let body = b"preamble\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--Bx\r\n--B \r\nsig\r\n--B--\r\nepilogue";
        for split in [1, 2, 3, 7, 1000] {
            let (first, sig) = scan(body, split).unwrap();
            assert_eq!(first, b"Content-Type: text/plain\r\n\r\nhi\r\n--Bx");
            assert_eq!(sig, b"sig");
        }
        let (first, _) = scan(b"--B\n\n--B\nS\n--B--\n", 1).unwrap();
        assert_eq!(first, b"");
        assert!(scan(b"--B\r\nx\r\n--B--\r\n", 4).is_err());
    }
}
