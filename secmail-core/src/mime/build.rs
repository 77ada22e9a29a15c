//! Building messages and the protection wrappers, over `mail-builder`.
//!
//! [`MessageBuilder`] makes ordinary messages (text, HTML, attachments; `multipart/mixed` and
//! `multipart/alternative` as needed). The wrapper functions make the body entities that the
//! OpenPGP and S/MIME layers put around content they have signed or encrypted:
//! [`signed_multipart`] (RFC 1847 / RFC 3156 / RFC 8551), [`encrypted_pgp_mime`] (RFC 3156 §4)
//! and [`pkcs7_mime`] (RFC 8551 §3.2). [`wrap`] puts a body entity under message headers.

use mail_builder::headers::HeaderType;
use mail_builder::headers::content_type::ContentType as MbContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart, make_boundary};

use super::SmimeType;
use crate::error::{Error, Result};

/// Builds a message: headers, a text and/or HTML body, attachments.
///
/// ```
/// use secmail_core::mime::{Message, MessageBuilder};
///
/// let raw = MessageBuilder::new()
///     .from("Alice <alice@example.org>")
///     .to("bob@example.net")
///     .subject("Quarterly figures")
///     .text_body("Hello Bob,\nthe figures are attached.\n")
///     .attachment("figures.csv", "text/csv", b"q,total\n1,100\n".to_vec())
///     .build()?;
/// let msg = Message::parse(raw)?;
/// assert!(msg.root().content_type().is("multipart", "mixed"));
/// assert_eq!(msg.part("2").unwrap().body().text(), Some("q,total\n1,100\n"));
/// # Ok::<(), secmail_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MessageBuilder {
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<(String, String, Vec<u8>)>,
}

impl MessageBuilder {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header field, written as given (it must already be valid RFC 5322; non-ASCII
    /// is sent as RFC 6532 UTF-8).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets `From`.
    pub fn from(self, address: impl Into<String>) -> Self {
        self.header("From", address)
    }

    /// Adds a `To` recipient.
    pub fn to(self, address: impl Into<String>) -> Self {
        self.header("To", address)
    }

    /// Adds a `Cc` recipient.
    pub fn cc(self, address: impl Into<String>) -> Self {
        self.header("Cc", address)
    }

    /// Sets `Subject`.
    pub fn subject(self, subject: impl Into<String>) -> Self {
        self.header("Subject", subject)
    }

    /// Sets the plain-text body.
    pub fn text_body(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the HTML body (sent as `multipart/alternative` with the text body when both are set).
    pub fn html_body(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// Adds an attachment.
    pub fn attachment(
        mut self,
        filename: impl Into<String>,
        content_type: impl Into<String>,
        data: Vec<u8>,
    ) -> Self {
        self.attachments
            .push((filename.into(), content_type.into(), data));
        self
    }

    fn body_part(&self) -> MimePart<'_> {
        let text = self
            .text
            .as_deref()
            .map(|t| MimePart::new("text/plain", BodyPart::Text(t.into())));
        let html = self
            .html
            .as_deref()
            .map(|h| MimePart::new("text/html", BodyPart::Text(h.into())));
        let mut parts: Vec<MimePart<'_>> = Vec::new();
        match (text, html) {
            (Some(t), Some(h)) => parts.push(MimePart::new("multipart/alternative", vec![t, h])),
            (Some(p), None) | (None, Some(p)) => parts.push(p),
            (None, None) if self.attachments.is_empty() => {
                parts.push(MimePart::new("text/plain", BodyPart::Text("".into())));
            }
            (None, None) => {}
        }
        for (name, ct, data) in &self.attachments {
            let part = MimePart::new(ct.as_str(), BodyPart::Binary(data.as_slice().into()))
                .attachment(name.as_str());
            // RFC 2046 §5.2.1: an encapsulated message is never base64 or quoted-printable
            // encoded; its own parts carry their encodings.
            let is_message = ["message/rfc822", "message/global"]
                .iter()
                .any(|m| ct.trim().eq_ignore_ascii_case(m));
            parts.push(if is_message {
                part.transfer_encoding(if data.is_ascii() { "7bit" } else { "8bit" })
            } else {
                part
            });
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            MimePart::new("multipart/mixed", parts)
        }
    }

    /// The body entity alone: its MIME header fields and its content, without the message
    /// headers. This is what a signature or an encryption protects.
    pub fn build_body(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.body_part().write_part(&mut out);
        Ok(out)
    }

    /// The whole message. `Date`, `Message-ID` and `MIME-Version` are added when not set.
    pub fn build(&self) -> Result<Vec<u8>> {
        wrap(&self.headers, &self.build_body()?)
    }
}

/// Puts a body entity (its own `Content-*` fields, a blank line, its content) under the
/// message header fields `headers`. `Date`, `Message-ID` and `MIME-Version` are added when
/// not among them.
pub fn wrap(headers: &[(String, String)], body_entity: &[u8]) -> Result<Vec<u8>> {
    let mut b = mail_builder::MessageBuilder::new();
    for (name, value) in headers {
        check_field(name, value)?;
        b = b.header(name.as_str(), HeaderType::Raw(Raw::new(value.as_str())));
    }
    let b = b.body(MimePart::raw(BodyPart::Binary(body_entity.into())));
    b.write_to_vec().map_err(Error::Io)
}

/// Refuses a header field that would break the header section (header injection).
fn check_field(name: &str, value: &str) -> Result<()> {
    let name_ok = !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    let value_ok = !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
    if name_ok && value_ok {
        Ok(())
    } else {
        Err(Error::Misuse(format!(
            "header field {name:?} is not a valid field name and one-line value"
        )))
    }
}

/// A boundary that occurs in none of `contents`. It contains `=_`, which quoted-printable
/// never writes, and mail-builder's per-process counter and random state make it unique.
fn fresh_boundary(contents: &[&[u8]]) -> String {
    loop {
        let b = make_boundary("=_");
        let needle = format!("--{b}");
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        if contents.iter().all(|c| finder.find(c).is_none()) {
            return b;
        }
    }
}

/// Which signature a `multipart/signed` carries.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    /// An ASCII-armored OpenPGP signature (`application/pgp-signature`, RFC 3156 §5).
    OpenPgp,
    /// A DER CMS SignedData without content (`application/pkcs7-signature`, RFC 8551 §3.5.3).
    Smime,
}

/// A `multipart/signed` body entity (RFC 1847 §2.1) around `content` and its detached
/// `signature`.
///
/// `content` must be the canonical form of the signed entity ([`canonicalize`](super::canonicalize)),
/// exactly the bytes the signature was made over; it is written unchanged. `signature` is the
/// armored OpenPGP signature or the DER CMS object. `micalg` is the hash, as RFC 3156 §5
/// (`pgp-sha256`) or RFC 8551 §3.5.3.2 (`sha-256`) name it.
pub fn signed_multipart(
    content: &[u8],
    signature: &[u8],
    kind: SignatureKind,
    micalg: &str,
) -> Result<Vec<u8>> {
    if content.windows(2).any(|w| w[0] != b'\r' && w[1] == b'\n') || content.starts_with(b"\n") {
        return Err(Error::Misuse(
            "signed content must be canonical (CRLF line endings); use mime::canonicalize".into(),
        ));
    }
    if kind == SignatureKind::OpenPgp && !signature.is_ascii() {
        return Err(Error::Misuse(
            "an OpenPGP signature for PGP/MIME must be ASCII armor".into(),
        ));
    }
    let sig_part = match kind {
        SignatureKind::OpenPgp => MimePart::new(
            MbContentType::new("application/pgp-signature").attribute("name", "signature.asc"),
            BodyPart::Binary(signature.into()),
        )
        .header("Content-Description", Raw::new("OpenPGP digital signature"))
        .header(
            "Content-Disposition",
            MbContentType::new("attachment").attribute("filename", "signature.asc"),
        )
        // Armor is ASCII and is sent as it is, as gpg and Thunderbird do.
        .transfer_encoding("7bit"),
        SignatureKind::Smime => MimePart::new(
            MbContentType::new("application/pkcs7-signature").attribute("name", "smime.p7s"),
            BodyPart::Binary(signature.into()),
        )
        .header(
            "Content-Disposition",
            MbContentType::new("attachment").attribute("filename", "smime.p7s"),
        ),
    };
    let protocol = match kind {
        SignatureKind::OpenPgp => "application/pgp-signature",
        SignatureKind::Smime => "application/pkcs7-signature",
    };
    let boundary = fresh_boundary(&[content, signature]);
    let ct = MbContentType::new("multipart/signed")
        .attribute("protocol", protocol)
        .attribute("micalg", micalg.to_ascii_lowercase())
        .attribute("boundary", boundary);
    let part = MimePart::new(
        ct,
        BodyPart::Multipart(vec![
            MimePart::raw(BodyPart::Binary(content.into())),
            sig_part,
        ]),
    );
    let mut out = Vec::new();
    part.write_part(&mut out);
    Ok(out)
}

/// A PGP/MIME `multipart/encrypted` body entity (RFC 3156 §4) around an ASCII-armored
/// OpenPGP message.
pub fn encrypted_pgp_mime(armored: &[u8]) -> Result<Vec<u8>> {
    if !armored.is_ascii() {
        return Err(Error::Misuse(
            "a PGP/MIME payload must be ASCII armor; armor the OpenPGP message first".into(),
        ));
    }
    let control = MimePart::new(
        "application/pgp-encrypted",
        BodyPart::Binary(b"Version: 1\r\n"[..].into()),
    )
    .header(
        "Content-Description",
        Raw::new("PGP/MIME version identification"),
    )
    .transfer_encoding("7bit");
    let payload = MimePart::new(
        MbContentType::new("application/octet-stream").attribute("name", "encrypted.asc"),
        BodyPart::Binary(armored.into()),
    )
    .header("Content-Description", Raw::new("OpenPGP encrypted message"))
    .header(
        "Content-Disposition",
        MbContentType::new("inline").attribute("filename", "encrypted.asc"),
    )
    .transfer_encoding("7bit");
    let boundary = fresh_boundary(&[armored]);
    let ct = MbContentType::new("multipart/encrypted")
        .attribute("protocol", "application/pgp-encrypted")
        .attribute("boundary", boundary);
    let mut out = Vec::new();
    MimePart::new(ct, BodyPart::Multipart(vec![control, payload])).write_part(&mut out);
    Ok(out)
}

/// An `application/pkcs7-mime` body entity (RFC 8551 §3.2) carrying a DER CMS object,
/// base64-encoded.
pub fn pkcs7_mime(der: &[u8], smime_type: SmimeType) -> Result<Vec<u8>> {
    if let SmimeType::Unknown(_) = smime_type {
        return Err(Error::Misuse("pkcs7_mime needs a known smime-type".into()));
    }
    let name = match smime_type {
        SmimeType::CertsOnly => "smime.p7c",
        SmimeType::CompressedData => "smime.p7z",
        _ => "smime.p7m",
    };
    let part = MimePart::new(
        MbContentType::new("application/pkcs7-mime")
            .attribute("smime-type", smime_type.as_str().to_owned())
            .attribute("name", name),
        BodyPart::Binary(der.into()),
    )
    .header(
        "Content-Disposition",
        MbContentType::new("attachment").attribute("filename", name),
    );
    let mut out = Vec::new();
    part.write_part(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::{Message, Protection, canonicalize};

    #[test]
    fn signed_multipart_keeps_content_bytes() {
        let body = MessageBuilder::new()
            .text_body("From the start \nline two\n")
            .build_body()
            .unwrap();
        let content = canonicalize(&body).unwrap();
        let sig = b"-----BEGIN PGP SIGNATURE-----\r\n\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n";
        let entity = signed_multipart(&content, sig, SignatureKind::OpenPgp, "pgp-sha256").unwrap();
        let msg = Message::parse(entity.clone()).unwrap();
        assert_eq!(
            msg.root().protection(),
            Some(&Protection::PgpMimeSigned {
                micalg: Some("pgp-sha256".into())
            })
        );
        assert_eq!(msg.part("1").unwrap().raw(), &content[..]);
        assert_eq!(msg.part("2").unwrap().body().bytes(), sig);
    }

    #[test]
    fn signed_multipart_refuses_uncanonical_content() {
        assert!(matches!(
            signed_multipart(b"a\nb", b"s", SignatureKind::Smime, "sha-256"),
            Err(Error::Misuse(_))
        ));
    }

    #[test]
    fn pkcs7_mime_round_trips_der() {
        let der = [0x30u8, 0x80, 0x00, 0xff, 0x10];
        let e = pkcs7_mime(&der, SmimeType::EnvelopedData).unwrap();
        let msg = Message::parse(e).unwrap();
        assert_eq!(
            msg.root().protection(),
            Some(&Protection::Pkcs7Mime {
                smime_type: SmimeType::EnvelopedData
            })
        );
        assert_eq!(msg.root().body().bytes(), der);
    }

    #[test]
    fn header_injection_is_refused() {
        let r = MessageBuilder::new()
            .subject("hi\r\nBcc: eve@example.org")
            .text_body("x")
            .build();
        assert!(matches!(r, Err(Error::Misuse(_))));
    }
}
