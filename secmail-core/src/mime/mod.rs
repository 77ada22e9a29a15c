//! The MIME layer: a byte-exact tree of parts, the protection structures of RFC 1847, RFC 3156
//! and RFC 8551, canonicalisation for signing, building, and RFC 9788 header protection.
//!
//! Signatures are checked over bytes, so every [`Part`] keeps the exact bytes it was parsed
//! from ([`Part::raw`]) next to its decoded content ([`Part::body`]).
//!
//! ```
//! use secmail_core::mime::{Message, Protection};
//!
//! let raw = b"From: alice@example.org\r\n\
//! Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256;\r\n\
//! \tboundary=\"b1\"\r\n\
//! \r\n\
//! --b1\r\n\
//! Content-Type: text/plain\r\n\
//! \r\n\
//! Hello\r\n\
//! --b1\r\n\
//! Content-Type: application/pgp-signature\r\n\
//! \r\n\
//! -----BEGIN PGP SIGNATURE-----\r\n\
//! -----END PGP SIGNATURE-----\r\n\
//! --b1--\r\n";
//! let msg = Message::parse(&raw[..])?;
//! let root = msg.root();
//! assert!(matches!(root.protection(), Some(Protection::PgpMimeSigned { .. })));
//! let first = msg.part("1").unwrap();
//! assert_eq!(first.raw(), b"Content-Type: text/plain\r\n\r\nHello");
//! assert_eq!(first.body().text(), Some("Hello"));
//! # Ok::<(), secmail_core::Error>(())
//! ```

mod build;
mod canon;
mod parse;
mod protect;

pub use build::{
    MessageBuilder, SignatureKind, encrypted_pgp_mime, pkcs7_mime, signed_multipart, wrap,
};
pub use canon::{canonicalize, canonicalize_with_limits, to_crlf};
pub use protect::{
    EncryptedParts, HeaderConfidentiality, ProtectedHeaders, SignedParts, protect_headers,
    read_protected_headers,
};

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::error::Result;
use crate::limits::Limits;

/// Where a part sits in its message: the 1-based index of each step down from the root.
///
/// The root entity has the empty path (written `""`); the children of any multipart are `1`,
/// `2`, …; their children `1.1`, `1.2`, …; an encapsulated `message/rfc822` has its message as
/// its one child, `N.1`. (This is structural numbering: IMAP's section numbers skip the
/// multipart levels and can differ.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PartPath(Vec<u32>);

impl PartPath {
    /// The root's path.
    pub fn root() -> Self {
        PartPath(Vec::new())
    }

    /// The steps, 1-based.
    pub fn steps(&self) -> &[u32] {
        &self.0
    }

    /// How many levels below the root.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// The path of this part's `index`-th child (1-based).
    pub fn child(&self, index: u32) -> Self {
        let mut v = self.0.clone();
        v.push(index);
        PartPath(v)
    }

    /// Parses `""`, `"1"`, `"1.2"`…; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() {
            return Some(PartPath::root());
        }
        s.split('.')
            .map(|n| n.parse::<u32>().ok().filter(|&n| n >= 1))
            .collect::<Option<Vec<_>>>()
            .map(PartPath)
    }
}

impl fmt::Display for PartPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// A `Content-Type`: type, subtype (both lower case) and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// The top-level type, lower case (`text`, `multipart`…).
    pub kind: String,
    /// The subtype, lower case (`plain`, `signed`…).
    pub subtype: String,
    /// The parameters in order, names lower case, values decoded (RFC 2231 continuations
    /// joined).
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// A content type with no parameters.
    pub fn new(kind: &str, subtype: &str) -> Self {
        ContentType {
            kind: kind.to_ascii_lowercase(),
            subtype: subtype.to_ascii_lowercase(),
            params: Vec::new(),
        }
    }

    /// `type/subtype`, lower case.
    pub fn mime_type(&self) -> String {
        format!("{}/{}", self.kind, self.subtype)
    }

    /// Whether this is `kind/subtype` (case-insensitive).
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the type is `multipart/*`.
    pub fn is_multipart(&self) -> bool {
        self.kind == "multipart"
    }

    /// Whether the type encapsulates a whole message (`message/rfc822`, `message/global`).
    pub fn is_message(&self) -> bool {
        self.kind == "message" && (self.subtype == "rfc822" || self.subtype == "global")
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.subtype)
    }
}

/// A `Content-Transfer-Encoding` (RFC 2045 §6).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEncoding {
    /// `7bit`, or no header at all.
    SevenBit,
    /// `8bit`.
    EightBit,
    /// `binary`.
    Binary,
    /// `quoted-printable`.
    QuotedPrintable,
    /// `base64`.
    Base64,
    /// Anything else, as written (lower case).
    Other(String),
}

impl TransferEncoding {
    pub(crate) fn from_header(value: Option<&str>) -> Self {
        let Some(v) = value else {
            return TransferEncoding::SevenBit;
        };
        let v = v.trim().to_ascii_lowercase();
        match v.as_str() {
            "7bit" | "" => TransferEncoding::SevenBit,
            "8bit" => TransferEncoding::EightBit,
            "binary" => TransferEncoding::Binary,
            "quoted-printable" => TransferEncoding::QuotedPrintable,
            "base64" => TransferEncoding::Base64,
            _ => TransferEncoding::Other(v),
        }
    }

    /// The token as written in a header.
    pub fn as_str(&self) -> &str {
        match self {
            TransferEncoding::SevenBit => "7bit",
            TransferEncoding::EightBit => "8bit",
            TransferEncoding::Binary => "binary",
            TransferEncoding::QuotedPrintable => "quoted-printable",
            TransferEncoding::Base64 => "base64",
            TransferEncoding::Other(s) => s,
        }
    }

    /// Whether the body is carried as it is (`7bit`, `8bit`, `binary`).
    pub fn is_identity(&self) -> bool {
        matches!(
            self,
            TransferEncoding::SevenBit | TransferEncoding::EightBit | TransferEncoding::Binary
        )
    }
}

impl fmt::Display for TransferEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `smime-type` of an `application/pkcs7-mime` part (RFC 8551 §3.2.2).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmimeType {
    /// `enveloped-data`: encrypted (CBC, RFC 5652 EnvelopedData).
    EnvelopedData,
    /// `authEnveloped-data`: encrypted and authenticated (RFC 5083 AuthEnvelopedData).
    AuthEnvelopedData,
    /// `signed-data`: an opaque signed message.
    SignedData,
    /// `compressed-data`.
    CompressedData,
    /// `certs-only`: certificates, no content.
    CertsOnly,
    /// No `smime-type` parameter, or one not listed here (as written, lower case).
    Unknown(String),
}

impl SmimeType {
    fn from_param(v: Option<&str>) -> Self {
        match v.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("enveloped-data") => SmimeType::EnvelopedData,
            Some("authenveloped-data") => SmimeType::AuthEnvelopedData,
            Some("signed-data") => SmimeType::SignedData,
            Some("compressed-data") => SmimeType::CompressedData,
            Some("certs-only") => SmimeType::CertsOnly,
            Some(other) => SmimeType::Unknown(other.to_owned()),
            None => SmimeType::Unknown(String::new()),
        }
    }

    /// The parameter value as RFC 8551 writes it.
    pub fn as_str(&self) -> &str {
        match self {
            SmimeType::EnvelopedData => "enveloped-data",
            SmimeType::AuthEnvelopedData => "authEnveloped-data",
            SmimeType::SignedData => "signed-data",
            SmimeType::CompressedData => "compressed-data",
            SmimeType::CertsOnly => "certs-only",
            SmimeType::Unknown(s) => s,
        }
    }
}

/// What kind of inline OpenPGP armor a text part carries.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InlinePgp {
    /// `-----BEGIN PGP MESSAGE-----`: encrypted or signed data.
    Message,
    /// `-----BEGIN PGP SIGNED MESSAGE-----`: cleartext signature.
    SignedMessage,
    /// `-----BEGIN PGP SIGNATURE-----`: a detached signature.
    Signature,
    /// `-----BEGIN PGP PUBLIC KEY BLOCK-----`: a certificate.
    PublicKey,
}

/// A protection structure recognised on a part.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// RFC 3156 `multipart/signed; protocol="application/pgp-signature"`.
    PgpMimeSigned {
        /// The `micalg` parameter (e.g. `pgp-sha256`).
        micalg: Option<String>,
    },
    /// RFC 3156 `multipart/encrypted; protocol="application/pgp-encrypted"`.
    PgpMimeEncrypted,
    /// RFC 8551 `multipart/signed; protocol="application/pkcs7-signature"` (or `x-pkcs7-…`).
    SmimeSigned {
        /// The `micalg` parameter (e.g. `sha-256`).
        micalg: Option<String>,
    },
    /// RFC 1847 `multipart/signed` with another or no protocol.
    OtherSigned {
        /// The `protocol` parameter.
        protocol: Option<String>,
        /// The `micalg` parameter.
        micalg: Option<String>,
    },
    /// RFC 1847 `multipart/encrypted` with another or no protocol.
    OtherEncrypted {
        /// The `protocol` parameter.
        protocol: Option<String>,
    },
    /// `application/pgp-encrypted`: the control part of PGP/MIME encryption.
    PgpEncryptedControl,
    /// `application/pgp-signature`: a detached OpenPGP signature.
    PgpSignature,
    /// `application/pgp-keys`: OpenPGP certificates.
    PgpKeys,
    /// `application/pkcs7-mime` (or `x-pkcs7-mime`): an S/MIME object.
    Pkcs7Mime {
        /// Its `smime-type`.
        smime_type: SmimeType,
    },
    /// `application/pkcs7-signature` (or `x-pkcs7-signature`): a detached S/MIME signature.
    Pkcs7Signature,
    /// OpenPGP armor inside a text part.
    InlinePgp(InlinePgp),
}

impl Protection {
    /// A short stable name, for output and scripts (`pgp-mime-signed`, `pkcs7-mime`…).
    pub fn name(&self) -> &'static str {
        match self {
            Protection::PgpMimeSigned { .. } => "pgp-mime-signed",
            Protection::PgpMimeEncrypted => "pgp-mime-encrypted",
            Protection::SmimeSigned { .. } => "smime-signed",
            Protection::OtherSigned { .. } => "multipart-signed",
            Protection::OtherEncrypted { .. } => "multipart-encrypted",
            Protection::PgpEncryptedControl => "pgp-encrypted-control",
            Protection::PgpSignature => "pgp-signature",
            Protection::PgpKeys => "pgp-keys",
            Protection::Pkcs7Mime { smime_type } => match smime_type {
                SmimeType::EnvelopedData => "smime-enveloped-data",
                SmimeType::AuthEnvelopedData => "smime-authenveloped-data",
                SmimeType::SignedData => "smime-signed-data",
                SmimeType::CompressedData => "smime-compressed-data",
                SmimeType::CertsOnly => "smime-certs-only",
                SmimeType::Unknown(_) => "pkcs7-mime",
            },
            Protection::Pkcs7Signature => "pkcs7-signature",
            Protection::InlinePgp(k) => match k {
                InlinePgp::Message => "inline-pgp-message",
                InlinePgp::SignedMessage => "inline-pgp-signed",
                InlinePgp::Signature => "inline-pgp-signature",
                InlinePgp::PublicKey => "inline-pgp-public-key",
            },
        }
    }

    /// Whether the structure carries encrypted content.
    pub fn is_encryption(&self) -> bool {
        matches!(
            self,
            Protection::PgpMimeEncrypted
                | Protection::OtherEncrypted { .. }
                | Protection::Pkcs7Mime {
                    smime_type: SmimeType::EnvelopedData | SmimeType::AuthEnvelopedData
                }
                | Protection::InlinePgp(InlinePgp::Message)
        )
    }
}

/// Something odd the parser found and worked around. The message still parsed; a security
/// layer may refuse to act on a part with defects.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Defect {
    /// More than one `Content-Type` field; the first was used.
    DuplicateContentType,
    /// More than one `Content-Transfer-Encoding` field; the first was used.
    DuplicateTransferEncoding,
    /// A multipart without a `boundary` parameter, read as one opaque part.
    MissingBoundary,
    /// A multipart in which the boundary never occurs, read as one opaque part.
    BoundaryNotFound,
    /// A multipart whose closing delimiter is missing; its last part runs to the end.
    MissingCloseDelimiter,
    /// The header section ended at a line that is not a header field, with no blank line.
    HeaderWithoutBlankLine,
    /// The body is not valid for its transfer encoding; the decoded content is the raw body.
    BadTransferEncoding,
    /// An encapsulated message with a transfer encoding other than 7bit/8bit/binary
    /// (RFC 2046 §5.2.1 forbids it); it is kept as an opaque leaf.
    EncodedMessage,
    /// The charset is unknown; the text was decoded as UTF-8 with replacement characters.
    UnknownCharset,
}

/// One header field of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The field name as written.
    pub name: String,
    /// The value: unfolded, RFC 2047 encoded words decoded for unstructured fields,
    /// surrounding whitespace trimmed.
    pub value: String,
    /// Where the whole field (name to the end of its last line, without the line ending)
    /// sits in the message's raw bytes.
    pub range: Range<usize>,
}

/// The decoded content of a part.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A multipart or encapsulated message: the content is in [`Part::children`].
    Container,
    /// A `text/*` part: transfer-decoded and converted from its charset to UTF-8.
    Text(String),
    /// Any other part: transfer-decoded bytes.
    Binary(Vec<u8>),
}

impl Body {
    /// The text of a text part.
    pub fn text(&self) -> Option<&str> {
        match self {
            Body::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The decoded bytes (UTF-8 for text).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Body::Container => &[],
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b,
        }
    }
}

/// One MIME entity of a message: its headers and body, exact and decoded.
#[derive(Debug, Clone)]
pub struct Part {
    raw: Arc<[u8]>,
    path: PartPath,
    range: Range<usize>,
    body_start: usize,
    headers: Vec<HeaderField>,
    content_type: ContentType,
    content_type_explicit: bool,
    transfer_encoding: TransferEncoding,
    body: Body,
    children: Vec<Part>,
    protection: Option<Protection>,
    defects: Vec<Defect>,
    /// For a multipart: where its preamble and epilogue are.
    layout: Option<Layout>,
}

/// Where the text around a multipart's parts sits (RFC 2046 §5.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The preamble, when there is a line ending before the first delimiter (it may be empty).
    pub preamble: Option<Range<usize>>,
    /// The epilogue, when there is a line ending after the close delimiter (it may be empty).
    pub epilogue: Option<Range<usize>>,
    /// Whether the close delimiter was found.
    pub closed: bool,
}

impl Part {
    /// Where the part sits in the message.
    pub fn path(&self) -> &PartPath {
        &self.path
    }

    /// The exact bytes of the whole part (header section and body) as received. For a part
    /// inside a multipart this excludes the line ending before the next delimiter, which
    /// belongs to the delimiter (RFC 2046 §5.1.1); this is what a `multipart/signed`
    /// signature covers.
    pub fn raw(&self) -> &[u8] {
        self.raw.get(self.range.clone()).unwrap_or_default()
    }

    /// The exact bytes of the header section, including the blank line that ends it.
    pub fn raw_headers(&self) -> &[u8] {
        self.raw
            .get(self.range.start..self.body_start)
            .unwrap_or_default()
    }

    /// The exact bytes of the body, still transfer-encoded.
    pub fn raw_body(&self) -> &[u8] {
        self.raw
            .get(self.body_start..self.range.end)
            .unwrap_or_default()
    }

    /// Where [`Part::raw`] sits in the whole message's bytes.
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    /// Where the body starts in the whole message's bytes.
    pub fn body_offset(&self) -> usize {
        self.body_start
    }

    /// The header fields, in order.
    pub fn headers(&self) -> &[HeaderField] {
        &self.headers
    }

    /// The value of the first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The content type (the RFC 2045 default when the part has none).
    pub fn content_type(&self) -> &ContentType {
        &self.content_type
    }

    /// The transfer encoding.
    pub fn transfer_encoding(&self) -> &TransferEncoding {
        &self.transfer_encoding
    }

    /// The decoded content.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The child parts of a multipart, or the one encapsulated message of `message/rfc822`.
    pub fn children(&self) -> &[Part] {
        &self.children
    }

    /// The protection structure this part is, if any.
    pub fn protection(&self) -> Option<&Protection> {
        self.protection.as_ref()
    }

    /// What the parser found odd about this part.
    pub fn defects(&self) -> &[Defect] {
        &self.defects
    }

    /// The part's size: the length of [`Part::raw`].
    pub fn size(&self) -> usize {
        self.range.len()
    }

    /// This part and every part below it, depth first, in message order.
    pub fn walk(&self) -> Walk<'_> {
        Walk { stack: vec![self] }
    }
}

impl Drop for Part {
    /// Drops the tree without recursion, so that a deep tree (allowed by raised limits) cannot
    /// overflow the stack.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.children);
        while let Some(mut p) = stack.pop() {
            stack.append(&mut p.children);
        }
    }
}

/// A depth-first walk over a part tree (see [`Part::walk`]); it uses no recursion.
pub struct Walk<'a> {
    stack: Vec<&'a Part>,
}

impl<'a> Iterator for Walk<'a> {
    type Item = &'a Part;
    fn next(&mut self) -> Option<&'a Part> {
        let p = self.stack.pop()?;
        self.stack.extend(p.children.iter().rev());
        Some(p)
    }
}

/// A parsed message: the root part and the bytes everything points into.
#[derive(Debug, Clone)]
pub struct Message {
    root: Part,
}

impl Message {
    /// Parses a message with the default [`Limits`].
    pub fn parse(raw: impl Into<Vec<u8>>) -> Result<Message> {
        Message::parse_with_limits(raw, &Limits::default())
    }

    /// Parses a message, refusing anything past `limits`.
    pub fn parse_with_limits(raw: impl Into<Vec<u8>>, limits: &Limits) -> Result<Message> {
        let raw: Vec<u8> = raw.into();
        limits.check(crate::LimitKind::MessageSize, raw.len())?;
        let root = parse::parse(Arc::from(raw), limits)?;
        Ok(Message { root })
    }

    /// The whole message as received.
    pub fn raw(&self) -> &[u8] {
        &self.root.raw
    }

    /// The root part (the message itself).
    pub fn root(&self) -> &Part {
        &self.root
    }

    /// Every part, depth first, in message order; the root first.
    pub fn parts(&self) -> Walk<'_> {
        self.root.walk()
    }

    /// The part at `path` (`""` is the root, then `"1"`, `"1.2"`…).
    pub fn part(&self, path: &str) -> Option<&Part> {
        let path = PartPath::parse(path)?;
        let mut cur = &self.root;
        for &step in path.steps() {
            cur = cur.children.get((step as usize).checked_sub(1)?)?;
        }
        Some(cur)
    }

    /// The value of the first top-level header field called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.root.header(name)
    }

    /// The address of the `From` field (`local@domain`), if there is exactly one.
    pub fn from_address(&self) -> Option<String> {
        parse::single_address(self.root.header_raw_value("From")?)
    }
}

impl Part {
    /// The raw (undecoded, still folded) value of the first field called `name`.
    pub(crate) fn header_raw_value(&self, name: &str) -> Option<&[u8]> {
        let h = self
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))?;
        self.raw.get(h.range.clone()).map(parse::field_value)
    }
}

/// The body of the `mime_parse` fuzz target: parses with tight limits (so the fuzzer explores
/// structure, not size) and exercises every reader of the tree. Not part of the stable API.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    let limits = Limits::default()
        .with_max_depth(16)
        .with_max_parts(256)
        .with_max_header_line(4096);
    let Ok(msg) = Message::parse_with_limits(data.to_vec(), &limits) else {
        return;
    };
    let _ = msg.from_address();
    for part in msg.parts() {
        let _ = (
            part.raw(),
            part.raw_headers(),
            part.raw_body(),
            part.body().bytes(),
        );
        let _ = protect::SignedParts::of(part).map(|s| s.signed_bytes());
        let _ = protect::EncryptedParts::of(part);
        let _ = protect::read_protected_headers(part, Some(msg.root()));
    }
}

/// The body of the `mime_protected_headers` fuzz target: RFC 9788 header protection read from
/// a payload (against itself as the outer message), and made then read back: never a panic,
/// and what `protect_headers` makes, `read_protected_headers` recognises. Not part of the
/// stable API.
#[doc(hidden)]
pub fn fuzz_protected_headers(data: &[u8]) {
    let limits = Limits::default()
        .with_max_depth(16)
        .with_max_parts(256)
        .with_max_header_line(4096);
    if let Ok(msg) = Message::parse_with_limits(data.to_vec(), &limits) {
        let _ = protect::read_protected_headers(msg.root(), Some(msg.root()));
        let _ = protect::read_protected_headers(msg.root(), None);
    }
    for encrypting in [true, false] {
        let Ok(p) = protect::protect_headers(data, encrypting, HeaderConfidentiality::Baseline)
        else {
            continue;
        };
        if let Ok(inner) = Message::parse_with_limits(p.payload, &limits) {
            let _ = protect::read_protected_headers(inner.root(), None);
        }
    }
}

/// The body of the `mime_canonicalize` fuzz target: canonicalisation never panics, and the
/// canonical form of a canonical form is itself. Not part of the stable API.
#[doc(hidden)]
pub fn fuzz_canonicalize(data: &[u8]) {
    let limits = Limits::default()
        .with_max_depth(16)
        .with_max_parts(256)
        .with_max_header_line(4096);
    if let Ok(canon) = canonicalize_with_limits(data, &limits) {
        let again = canonicalize_with_limits(&canon, &limits);
        assert_eq!(again.ok().as_deref(), Some(&canon[..]), "not idempotent");
    }
}
