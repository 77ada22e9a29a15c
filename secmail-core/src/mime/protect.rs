//! Protection structures: the two halves of RFC 1847 `multipart/signed` and
//! `multipart/encrypted`, and RFC 9788 header protection.
//!
//! RFC 1847 §2.1 (`multipart/signed`): exactly two body parts; the first is the signed content,
//! the second the control information, whose type is the `protocol` parameter:
//!
//! ```text
//! Content-Type: multipart/signed; protocol="TYPE/STYPE"; micalg="MICALG"; boundary="B"
//! ```
//!
//! RFC 1847 §2.2 (`multipart/encrypted`): exactly two body parts; the first is the control
//! information, whose type is the `protocol` parameter, the second the encrypted data,
//! `application/octet-stream`.
//!
//! RFC 9788 (header protection): the cryptographic payload's outermost part carries the
//! message's real header fields, and a `hp` parameter on its `Content-Type` (`"cipher"` when
//! encrypted, `"clear"` when only signed). When encrypted, `HP-Outer` fields record each outer
//! header field as sent (RFC 9788 §2.2), so the reader can tell what was exposed. Readers also
//! accept the older `protected-headers="v1"` form.

use super::parse::{field_value, unfold};
use super::{Message, Part, canon::to_crlf};
use crate::error::{Error, Result};
use crate::verdict::{HeaderProtection, HeaderProtectionForm};

/// The two parts of an RFC 1847 `multipart/signed`.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    /// The signed content (the first part).
    pub content: &'a Part,
    /// The signature (the second part).
    pub signature: &'a Part,
    /// The `protocol` parameter, lower case.
    pub protocol: &'a str,
    /// The `micalg` parameter, when present.
    pub micalg: Option<&'a str>,
}

impl<'a> SignedParts<'a> {
    /// Checks that `part` is a well-formed `multipart/signed` and returns its halves.
    pub fn of(part: &'a Part) -> Result<Self> {
        let ct = part.content_type();
        if !ct.is("multipart", "signed") {
            return Err(Error::malformed(format!(
                "expected multipart/signed, found {ct}"
            )));
        }
        let protocol = ct
            .param("protocol")
            .ok_or_else(|| Error::malformed("multipart/signed without a protocol parameter"))?;
        let [content, signature] = part.children() else {
            return Err(Error::malformed(format!(
                "multipart/signed must have exactly 2 parts, found {}",
                part.children().len()
            )));
        };
        if !signature
            .content_type()
            .mime_type()
            .eq_ignore_ascii_case(protocol.trim())
        {
            return Err(Error::malformed(format!(
                "the signature part is {}, but the protocol says {protocol}",
                signature.content_type()
            )));
        }
        Ok(SignedParts {
            content,
            signature,
            protocol,
            micalg: ct.param("micalg"),
        })
    }

    /// The bytes the signature is checked over: the first part exactly as received, with its
    /// line endings made CRLF (RFC 3156 §5, RFC 8551 §3.1.1). Nothing else is changed: a
    /// verifier never canonicalises further, or it would accept altered content.
    pub fn signed_bytes(&self) -> Vec<u8> {
        to_crlf(self.content.raw())
    }
}

/// The two parts of an RFC 1847 `multipart/encrypted`.
#[derive(Debug, Clone, Copy)]
pub struct EncryptedParts<'a> {
    /// The control information (the first part), e.g. `application/pgp-encrypted`.
    pub control: &'a Part,
    /// The encrypted data (the second part).
    pub payload: &'a Part,
    /// The `protocol` parameter.
    pub protocol: &'a str,
}

impl<'a> EncryptedParts<'a> {
    /// Checks that `part` is a well-formed `multipart/encrypted` and returns its halves. For
    /// PGP/MIME it also checks the control part's `Version: 1` (RFC 3156 §4).
    pub fn of(part: &'a Part) -> Result<Self> {
        let ct = part.content_type();
        if !ct.is("multipart", "encrypted") {
            return Err(Error::malformed(format!(
                "expected multipart/encrypted, found {ct}"
            )));
        }
        let protocol = ct
            .param("protocol")
            .ok_or_else(|| Error::malformed("multipart/encrypted without a protocol parameter"))?;
        let [control, payload] = part.children() else {
            return Err(Error::malformed(format!(
                "multipart/encrypted must have exactly 2 parts, found {}",
                part.children().len()
            )));
        };
        if !control
            .content_type()
            .mime_type()
            .eq_ignore_ascii_case(protocol.trim())
        {
            return Err(Error::malformed(format!(
                "the control part is {}, but the protocol says {protocol}",
                control.content_type()
            )));
        }
        if control.content_type().is("application", "pgp-encrypted") {
            let version_1 = String::from_utf8_lossy(control.body().bytes())
                .lines()
                .any(|l| l.trim() == "Version: 1");
            if !version_1 {
                return Err(Error::malformed(
                    "the application/pgp-encrypted part does not say Version: 1",
                ));
            }
        }
        Ok(EncryptedParts {
            control,
            payload,
            protocol,
        })
    }
}

/// Which outer header fields an encrypted message exposes (RFC 9788 §3, the header
/// confidentiality policy).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderConfidentiality {
    /// `hcp_baseline`: `Subject` becomes `[...]`; `Comments` and `Keywords` are removed;
    /// the fields that delivery needs (From, To, Cc, Date, Message-ID…) stay.
    #[default]
    Baseline,
    /// `hcp_no_confidentiality`: every field stays as it is (the headers are still
    /// protected from tampering).
    NoConfidentiality,
}

impl HeaderConfidentiality {
    /// The outer value of a field under this policy: `None` removes it.
    fn outer_value(self, name: &str, value: &str) -> Option<String> {
        match self {
            HeaderConfidentiality::NoConfidentiality => Some(value.to_owned()),
            HeaderConfidentiality::Baseline => {
                if name.eq_ignore_ascii_case("subject") {
                    Some("[...]".to_owned())
                } else if name.eq_ignore_ascii_case("comments")
                    || name.eq_ignore_ascii_case("keywords")
                {
                    None
                } else {
                    Some(value.to_owned())
                }
            }
        }
    }
}

/// A message split for header protection: the cryptographic payload to sign or encrypt, and
/// the header fields to send outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedHeaders {
    /// The cryptographic payload: the message's body entity with the message's header fields
    /// inside it, `hp` set, and (when encrypting) the `HP-Outer` record.
    pub payload: Vec<u8>,
    /// The header fields for the outer message (name, value), after the confidentiality policy.
    pub outer: Vec<(String, String)>,
}

/// Whether a field belongs to the MIME structure of a part rather than to the message.
fn is_structural(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("content-") || n == "mime-version"
}

/// Trace and transport fields, which describe the path of this copy and are not protected.
fn is_trace(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "received" | "return-path" | "dkim-signature" | "authentication-results" | "delivered-to"
    ) || n.starts_with("arc-")
        || n == "hp-outer"
}

/// Builds the RFC 9788 cryptographic payload of `message` (a whole message: header fields and
/// body) and the outer header fields.
///
/// With `encrypting`, the payload gets `hp="cipher"` and one `HP-Outer` field per outer field,
/// and the outer fields follow `policy`. Without, it gets `hp="clear"` and the outer fields are
/// the originals (a signed-only message hides nothing).
///
/// ```
/// use secmail_core::mime::{HeaderConfidentiality, Message, protect_headers, read_protected_headers};
///
/// let msg = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: Merger plans\r\n\
/// Content-Type: text/plain\r\n\r\nsecret\r\n";
/// let p = protect_headers(msg, true, HeaderConfidentiality::Baseline)?;
/// assert!(p.outer.contains(&("Subject".into(), "[...]".into())));
/// let inner = Message::parse(p.payload)?;
/// assert_eq!(inner.header("Subject"), Some("Merger plans"));
/// assert_eq!(inner.root().content_type().param("hp"), Some("cipher"));
/// let hp = read_protected_headers(inner.root(), None).unwrap();
/// assert!(hp.covered.contains(&"Subject".to_string()));
/// # Ok::<(), secmail_core::Error>(())
/// ```
pub fn protect_headers(
    message: &[u8],
    encrypting: bool,
    policy: HeaderConfidentiality,
) -> Result<ProtectedHeaders> {
    let msg = Message::parse(message.to_vec())?;
    let root = msg.root();
    let raw = msg.raw();
    let hp = if encrypting { "cipher" } else { "clear" };

    let mut payload = Vec::with_capacity(message.len() + 512);
    let mut outer = Vec::new();
    let mut has_ct = false;
    for field in root.headers() {
        let bytes = &raw[field.range.clone()];
        if field.name.eq_ignore_ascii_case("content-type") {
            has_ct = true;
            payload.extend_from_slice(bytes.trim_ascii_end());
            payload.extend_from_slice(format!(";\r\n hp=\"{hp}\"\r\n").as_bytes());
            continue;
        }
        payload.extend_from_slice(bytes);
        payload.extend_from_slice(b"\r\n");
        if is_structural(&field.name) || is_trace(&field.name) {
            continue;
        }
        let value = unfold(field_value(bytes));
        let outer_value = if encrypting {
            policy.outer_value(&field.name, &value)
        } else {
            Some(value)
        };
        if let Some(v) = outer_value {
            outer.push((field.name.clone(), v));
        }
    }
    if !has_ct {
        payload.extend_from_slice(
            format!("Content-Type: text/plain; charset=us-ascii;\r\n hp=\"{hp}\"\r\n").as_bytes(),
        );
    }
    if encrypting {
        for (name, value) in &outer {
            payload.extend_from_slice(format!("HP-Outer: {name}: {value}\r\n").as_bytes());
        }
    }
    payload.extend_from_slice(b"\r\n");
    payload.extend_from_slice(root.raw_body());
    Ok(ProtectedHeaders { payload, outer })
}

/// Reads header protection from the outermost part of a cryptographic payload (after
/// decryption, or the signed part of a signed message). `outer` is the message as received,
/// to compare its header fields with the protected ones.
///
/// Returns `None` when the part carries no header protection (neither RFC 9788's `hp` nor the
/// older `protected-headers="v1"`).
pub fn read_protected_headers(payload: &Part, outer: Option<&Part>) -> Option<HeaderProtection> {
    let ct = payload.content_type();
    let form = match ct
        .param("hp")
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("cipher") => HeaderProtectionForm::Rfc9788Cipher,
        Some("clear") => HeaderProtectionForm::Rfc9788Clear,
        _ if ct
            .param("protected-headers")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("v1")) =>
        {
            HeaderProtectionForm::LegacyV1
        }
        _ => return None,
    };
    let mut covered: Vec<String> = Vec::new();
    for f in payload.headers() {
        if is_structural(&f.name) || is_trace(&f.name) {
            continue;
        }
        if !covered.iter().any(|c| c.eq_ignore_ascii_case(&f.name)) {
            covered.push(f.name.clone());
        }
    }
    let differs_outside = match outer {
        None => Vec::new(),
        Some(o) => covered
            .iter()
            .filter(|name| {
                let inner: Vec<&str> = values(payload, name);
                let outside: Vec<&str> = values(o, name);
                inner != outside
            })
            .cloned()
            .collect(),
    };
    Some(HeaderProtection {
        form,
        covered,
        differs_outside,
    })
}

fn values<'p>(part: &'p Part, name: &str) -> Vec<&'p str> {
    part.headers()
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"Received: from x\r\nFrom: alice@example.org\r\nTo: bob@example.net\r\n\
Subject: Merger plans\r\nKeywords: secret\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n";

    #[test]
    fn cipher_payload_records_outer_fields() {
        let p = protect_headers(MSG, true, HeaderConfidentiality::Baseline).unwrap();
        let text = String::from_utf8(p.payload.clone()).unwrap();
        assert!(text.contains("HP-Outer: Subject: [...]\r\n"));
        assert!(text.contains("HP-Outer: From: alice@example.org\r\n"));
        assert!(!text.contains("HP-Outer: Keywords"));
        assert!(!text.contains("HP-Outer: Received"));
        assert!(!p.outer.iter().any(|(n, _)| n == "Keywords"));
        let inner = Message::parse(p.payload).unwrap();
        assert_eq!(inner.root().body().text(), Some("hello\r\n"));
        assert_eq!(inner.header("Keywords"), Some("secret"));

        let outer_msg = crate::mime::wrap(&p.outer, b"Content-Type: text/plain\r\n\r\nx").unwrap();
        let outer_msg = Message::parse(outer_msg).unwrap();
        let hp = read_protected_headers(inner.root(), Some(outer_msg.root())).unwrap();
        assert_eq!(hp.form, HeaderProtectionForm::Rfc9788Cipher);
        assert_eq!(
            hp.differs_outside,
            vec!["Subject".to_string(), "Keywords".to_string()]
        );
    }

    #[test]
    fn clear_payload_hides_nothing() {
        let p = protect_headers(MSG, false, HeaderConfidentiality::Baseline).unwrap();
        assert!(p.outer.contains(&("Subject".into(), "Merger plans".into())));
        assert!(!String::from_utf8_lossy(&p.payload).contains("HP-Outer"));
        let inner = Message::parse(p.payload).unwrap();
        assert_eq!(inner.root().content_type().param("hp"), Some("clear"));
    }

    #[test]
    fn legacy_v1_is_read() {
        let m = Message::parse(
            &b"Content-Type: multipart/mixed; boundary=b; protected-headers=\"v1\"\r\n\
Subject: real\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"[..],
        )
        .unwrap();
        let hp = read_protected_headers(m.root(), None).unwrap();
        assert_eq!(hp.form, HeaderProtectionForm::LegacyV1);
        assert_eq!(hp.covered, vec!["Subject".to_string()]);
    }

    #[test]
    fn malformed_signed_structures_are_refused() {
        let three = Message::parse(
            &b"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n\
--b\r\n\r\nx\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\ns\r\n--b\r\n\r\ny\r\n--b--\r\n"[..],
        )
        .unwrap();
        assert!(SignedParts::of(three.root()).is_err());
        let wrong_protocol = Message::parse(
            &b"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n\
--b\r\n\r\nx\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\ns\r\n--b--\r\n"[..],
        )
        .unwrap();
        assert!(SignedParts::of(wrong_protocol.root()).is_err());
    }

    #[test]
    fn pgp_mime_encrypted_needs_version_1() {
        let m = Message::parse(
            &b"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n\
--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 2\r\n\
--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n--b--\r\n"[..],
        )
        .unwrap();
        assert!(EncryptedParts::of(m.root()).is_err());
    }
}
