//! S/MIME messages (RFC 8551): signing (detached `multipart/signed` or opaque
//! `application/pkcs7-mime; smime-type=signed-data`), encryption (`enveloped-data`,
//! `authEnveloped-data`), sign-then-encrypt, and reading all of them back into a
//! [`Verdict`].
//!
//! The message's own header fields stay outside; the body entity (its `Content-*` fields and
//! body) is what is signed or encrypted. Reading never splices decrypted parts into
//! unencrypted ones: the result is the innermost entity under the outer header fields.

use std::time::SystemTime;

use secmail_core::mime::{self, Message, SignatureKind, SignedParts, SmimeType};
use secmail_core::{PartProtection, Scheme, SignatureStatus, SignerInfo, Verdict};
use x509_cert::Certificate;

use crate::certs::{self, PrivateKey};
use crate::decrypt::decrypt;
use crate::encrypt::{ContentCipher, EncryptOptions, encrypt};
use crate::error::{Error, Result, ValidationError};
use crate::oids;
use crate::sign::{SignOptions, sign};
use crate::verify::{SignerStatus, Verified, verify};

/// How deep sign and encrypt layers may nest when reading.
const MAX_LAYERS: usize = 4;

fn is_structural(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("content-") || n == "mime-version"
}

/// Splits a message into its outer header fields and its body entity.
/// Header fields as (name, one-line value).
type Fields = Vec<(String, String)>;

fn split(message: &[u8]) -> Result<(Fields, Vec<u8>)> {
    split_parsed(&Message::parse(message.to_vec())?)
}

/// [`split`] of a message already parsed.
pub(crate) fn split_parsed(msg: &Message) -> Result<(Fields, Vec<u8>)> {
    let root = msg.root();
    let raw = msg.raw();
    let mut outer = Vec::new();
    let mut entity = Vec::with_capacity(msg.raw().len());
    let mut has_ct = false;
    for f in root.headers() {
        if is_structural(&f.name) {
            if f.name.eq_ignore_ascii_case("mime-version") {
                continue;
            }
            has_ct |= f.name.eq_ignore_ascii_case("content-type");
            if let Some(bytes) = raw.get(f.range.clone()) {
                entity.extend_from_slice(bytes);
                entity.extend_from_slice(b"\r\n");
            }
        } else {
            let bytes = raw.get(f.range.clone()).unwrap_or_default();
            let colon = bytes.iter().position(|&b| b == b':').unwrap_or(bytes.len());
            let value: Vec<u8> = bytes
                .get(colon + 1..)
                .unwrap_or_default()
                .iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect();
            outer.push((
                f.name.clone(),
                String::from_utf8_lossy(&value).trim().to_owned(),
            ));
        }
    }
    if !has_ct {
        entity.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n");
    }
    entity.extend_from_slice(b"\r\n");
    entity.extend_from_slice(root.raw_body());
    Ok((outer, entity))
}

/// Signs a whole message (header fields and body) with `cert` and `key`. Detached
/// (`multipart/signed`, readable without S/MIME support) unless `opaque`. `chain` holds
/// intermediates to include.
pub fn sign_message(
    message: &[u8],
    cert: &Certificate,
    key: &PrivateKey,
    chain: &[Certificate],
    opaque: bool,
) -> Result<Vec<u8>> {
    let (outer, entity) = split(message)?;
    let signed = sign_entity(&entity, cert, key, chain, opaque)?;
    Ok(mime::wrap(&outer, &signed)?)
}

fn sign_entity(
    entity: &[u8],
    cert: &Certificate,
    key: &PrivateKey,
    chain: &[Certificate],
    opaque: bool,
) -> Result<Vec<u8>> {
    let canon = mime::canonicalize(entity)?;
    let opts = SignOptions::default()
        .chain(chain.to_vec())
        .detached(!opaque);
    let der = sign(&canon, cert, key, &opts)?;
    Ok(if opaque {
        mime::pkcs7_mime(&der, SmimeType::SignedData)?
    } else {
        mime::signed_multipart(&canon, &der, SignatureKind::Smime, "sha-256")?
    })
}

fn encrypt_entity(
    entity: &[u8],
    recipients: &[Certificate],
    opts: &EncryptOptions,
) -> Result<Vec<u8>> {
    let der = encrypt(&mime::to_crlf(entity), recipients, opts)?;
    let t = match opts.cipher {
        ContentCipher::Aes256Gcm => SmimeType::AuthEnvelopedData,
        ContentCipher::Aes256Cbc => SmimeType::EnvelopedData,
    };
    Ok(mime::pkcs7_mime(&der, t)?)
}

/// Encrypts a message's body entity to `recipients` (add the sender's own certificate to
/// keep a readable copy).
pub fn encrypt_message(
    message: &[u8],
    recipients: &[Certificate],
    opts: &EncryptOptions,
) -> Result<Vec<u8>> {
    let (outer, entity) = split(message)?;
    Ok(mime::wrap(
        &outer,
        &encrypt_entity(&entity, recipients, opts)?,
    )?)
}

/// Signs, then encrypts (RFC 8551 §3.7): the detached-signed entity is enveloped. The signer
/// is a recipient too (a readable copy for the sender) when its certificate allows encryption.
pub fn sign_encrypt_message(
    message: &[u8],
    cert: &Certificate,
    key: &PrivateKey,
    chain: &[Certificate],
    recipients: &[Certificate],
    opts: &EncryptOptions,
) -> Result<Vec<u8>> {
    let (outer, entity) = split(message)?;
    let signed = sign_entity(&entity, cert, key, chain, false)?;
    let mut to = recipients.to_vec();
    if certs::allows(cert, crate::error::Usage::Encrypt)? && !to.contains(cert) {
        to.push(cert.clone());
    }
    Ok(mime::wrap(&outer, &encrypt_entity(&signed, &to, opts)?)?)
}

/// How to read a message.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ReadOptions<'a> {
    /// The trust anchors signers must chain to. Empty: signatures are checked, certificates
    /// are not (the verdict says `untrusted`).
    pub anchors: &'a [Certificate],
    /// Fail unless the message is signed, and every signature is good, chains to `anchors`,
    /// and is by a certificate for the `From` address.
    pub require_valid_signature: bool,
    /// The time "now" for validity checks (default: the system clock).
    pub now: Option<SystemTime>,
    /// The recipient's certificate and key, to decrypt.
    pub decrypt_with: Option<(&'a Certificate, &'a PrivateKey)>,
}

/// A message read back: the innermost entity under the outer header fields, and the verdict.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ReadMessage {
    /// The message with every S/MIME layer removed.
    pub message: Vec<u8>,
    /// What was encrypted and signed, and by whom.
    pub verdict: Verdict,
}

fn status_of(s: &SignerStatus) -> (SignatureStatus, Option<String>) {
    match s {
        SignerStatus::Good => (SignatureStatus::Good, None),
        SignerStatus::NotValidated => (
            SignatureStatus::Untrusted,
            Some("no trust anchors given".into()),
        ),
        SignerStatus::Bad(d) => (SignatureStatus::Bad, Some(d.clone())),
        SignerStatus::CertificateMissing => (SignatureStatus::UnknownKey, None),
        SignerStatus::Invalid(
            v @ (ValidationError::Expired { .. } | ValidationError::NotYetValid { .. }),
        ) => (SignatureStatus::Expired, Some(v.to_string())),
        SignerStatus::Invalid(v @ ValidationError::Untrusted { .. }) => {
            (SignatureStatus::Untrusted, Some(v.to_string()))
        }
        SignerStatus::Invalid(v) => (SignatureStatus::Error, Some(v.to_string())),
        SignerStatus::Unsupported(u) => (SignatureStatus::Error, Some(u.clone())),
    }
}

/// Adds the signers of `v` to `verdict`.
pub(crate) fn add_signers(verdict: &mut Verdict, v: &Verified) {
    for s in &v.signers {
        let (status, detail) = status_of(&s.status);
        let mut si = SignerInfo::new(Scheme::Smime, status);
        si.detail = detail;
        if let Some(c) = &s.certificate {
            si.fingerprint = Some(certs::fingerprint(c));
            si.identity = Some(certs::subject(c));
            si.addresses = certs::email_addresses(c);
        }
        si.signed_at = s.signing_time.and_then(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_secs()).ok())
        });
        si.covers = vec![String::new()];
        verdict.add_signature(si);
    }
}

/// The `protocol` of an S/MIME `multipart/signed` (RFC 8551 §3.5.3; `x-` from older senders).
pub(crate) fn is_smime_signature(protocol: &str) -> bool {
    protocol == "application/pkcs7-signature" || protocol == "application/x-pkcs7-signature"
}

/// Reads a message: decrypts (when `opts.decrypt_with` is given) and verifies every S/MIME
/// layer, and fills a [`Verdict`].
pub fn read_message(message: &[u8], opts: &ReadOptions<'_>) -> Result<ReadMessage> {
    let (from, outer, mut entity) = {
        let msg = Message::parse(message.to_vec())?;
        let (outer, entity) = split_parsed(&msg)?;
        (msg.from_address(), outer, entity)
    };
    let mut inner = None;
    let now = opts.now.unwrap_or_else(SystemTime::now);
    let mut encrypted = false;
    let mut decrypted_with = None;
    let mut verifications: Vec<Verified> = Vec::new();
    for _ in 0..MAX_LAYERS {
        let part = Message::parse(entity.clone())?;
        let root = part.root();
        let ct = root.content_type();
        let pkcs7_mime = ct.is("application", "pkcs7-mime") || ct.is("application", "x-pkcs7-mime");
        // The smime-type parameter is optional and sometimes wrong (Outlook sends
        // application/x-pkcs7-mime without it): the CMS content type decides.
        let cms_type = if pkcs7_mime {
            Some(crate::ber::content_type(root.body().bytes())?)
        } else {
            None
        };
        if cms_type
            .is_some_and(|t| t == oids::ID_ENVELOPED_DATA || t == oids::ID_AUTH_ENVELOPED_DATA)
        {
            let (cert, key) = opts.decrypt_with.ok_or_else(|| {
                Error::Misuse("the message is encrypted; give a certificate and key".into())
            })?;
            let d = decrypt(root.body().bytes(), cert, key)?;
            encrypted = true;
            decrypted_with = Some(certs::fingerprint(cert));
            entity = d.content;
        } else if ct.is("multipart", "signed") {
            let proto = ct
                .param("protocol")
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !is_smime_signature(&proto) {
                // Inside a layer this message's S/MIME already authenticated (or decrypted),
                // a multipart/signed of another protocol (PGP/MIME, or none at all) is content
                // the sender put there: it is released as such, covered by the layers around
                // it, and the verdict names no signature for it. At the top it is not an
                // S/MIME message.
                if encrypted || !verifications.is_empty() {
                    inner = Some(part);
                    break;
                }
                return Err(Error::Unsupported(format!(
                    "multipart/signed with protocol {proto:?}"
                )));
            }
            let sp = SignedParts::of(root)?;
            let content = sp.signed_bytes();
            let v = verify(
                sp.signature.body().bytes(),
                Some(&content),
                opts.anchors,
                now,
            )?;
            entity = content;
            verifications.push(v);
        } else if cms_type == Some(oids::ID_SIGNED_DATA) {
            let v = verify(root.body().bytes(), None, opts.anchors, now)?;
            entity = v.content.clone();
            verifications.push(v);
        } else {
            inner = Some(part);
            break;
        }
    }
    let inner = match inner {
        Some(m) => m,
        None => Message::parse(entity.clone())?,
    };
    let mut verdict = Verdict::new(from.clone());
    for p in inner.parts() {
        if p.content_type().is_multipart() {
            continue;
        }
        let mut pp = PartProtection::new(
            p.path()
                .steps()
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join("."),
        );
        pp.encrypted = encrypted;
        if encrypted {
            pp.scheme = Some(Scheme::Smime);
            pp.decrypted_with = decrypted_with.clone();
        }
        verdict.parts.push(pp);
    }
    for v in &verifications {
        add_signers(&mut verdict, v);
    }
    if opts.require_valid_signature {
        if verifications.is_empty() {
            return Err(Error::NotSigned);
        }
        for v in &verifications {
            v.require_valid(from.as_deref())?;
        }
        if from.is_none() {
            return Err(Error::malformed(
                "message",
                "no single From address to check the signer against",
            ));
        }
    }
    let message = mime::wrap(&outer, &entity)?;
    Ok(ReadMessage { message, verdict })
}
