//! The one security verdict that every protection reports into.
//!
//! A mail program must tell its user exactly what was protected and by whom, part by part:
//! EFAIL showed what happens when decrypted and unencrypted parts are shown as one. The
//! OpenPGP and S/MIME crates fill a [`Verdict`]; the FFI and the command line print it.

use std::fmt;

/// The scheme that protected a part or made a signature.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Scheme {
    /// OpenPGP (RFC 4880 / RFC 9580), including PGP/MIME (RFC 3156) and inline armor.
    OpenPgp,
    /// S/MIME (RFC 8551) and CMS (RFC 5652).
    Smime,
    /// secmail's passphrase container (docs/passphrase-format.md).
    Passphrase,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::OpenPgp => "OpenPGP",
            Scheme::Smime => "S/MIME",
            Scheme::Passphrase => "passphrase",
        })
    }
}

/// What became of one signature.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum SignatureStatus {
    /// The signature is valid and made by a key that was valid when it signed.
    Good,
    /// The signature does not match the signed data (the data or the signature was altered).
    Bad,
    /// No key or certificate is known that could check this signature.
    UnknownKey,
    /// The signing key or certificate had expired at the signing time.
    Expired,
    /// The signing key or certificate is revoked.
    Revoked,
    /// The signature is valid, but the signer's certificate does not chain to a trust anchor.
    Untrusted,
    /// The signature could not be checked (unsupported algorithm, malformed packet…);
    /// [`SignerInfo::detail`] says why.
    Error,
}

impl SignatureStatus {
    /// Whether the signature can be relied on.
    pub fn is_good(self) -> bool {
        self == SignatureStatus::Good
    }
}

/// One signature found on the message and what became of it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignerInfo {
    /// The scheme of the signature.
    pub scheme: Scheme,
    /// The outcome.
    pub status: SignatureStatus,
    /// The signer's key or certificate fingerprint (hex, upper case), when known.
    pub fingerprint: Option<String>,
    /// The signer's identity as its key or certificate states it (an OpenPGP User ID, an
    /// X.509 subject), when known.
    pub identity: Option<String>,
    /// The email addresses the key or certificate binds to the signer.
    pub addresses: Vec<String>,
    /// Whether one of [`SignerInfo::addresses`] is the address in the message's `From` field.
    /// A good signature by someone else is not a signature by the sender.
    pub matches_from: bool,
    /// The signing time the signature claims, in seconds since the Unix epoch.
    pub signed_at: Option<i64>,
    /// The paths of the parts the signature covers (see `mime::PartPath`, to come).
    pub covers: Vec<String>,
    /// A human-readable detail (why a signature is bad or could not be checked).
    pub detail: Option<String>,
}

impl SignerInfo {
    /// A signature by `scheme` with `status`, and nothing else known yet.
    pub fn new(scheme: Scheme, status: SignatureStatus) -> Self {
        SignerInfo {
            scheme,
            status,
            fingerprint: None,
            identity: None,
            addresses: Vec::new(),
            matches_from: false,
            signed_at: None,
            covers: Vec::new(),
            detail: None,
        }
    }

    /// Sets [`SignerInfo::matches_from`] by comparing `from` with the signer's addresses
    /// (the local part exactly, the domain without regard to case, as RFC 5321 allows).
    pub fn check_from(&mut self, from: &str) {
        self.matches_from = self.addresses.iter().any(|a| same_address(a, from));
    }
}

/// Compares two addresses: the domain without regard to case (RFC 5321 §2.4), the local part
/// exactly, since only the receiving domain may decide that it is case-insensitive.
pub(crate) fn same_address(a: &str, b: &str) -> bool {
    let split = |s: &str| {
        let s = s.trim().trim_start_matches('<').trim_end_matches('>');
        s.rsplit_once('@')
            .map(|(l, d)| (l.to_owned(), d.to_ascii_lowercase()))
    };
    match (split(a), split(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// How one part of the message was protected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PartProtection {
    /// The part's path in the message as it was received (see `mime::PartPath`, to come).
    pub path: String,
    /// The part was inside an encrypted structure, which was decrypted and authenticated.
    pub encrypted: bool,
    /// The part is covered by at least one signature whose status is [`SignatureStatus::Good`].
    pub signed: bool,
    /// The scheme that encrypted or signed it.
    pub scheme: Option<Scheme>,
    /// The fingerprint of the key or certificate that decrypted it.
    pub decrypted_with: Option<String>,
}

impl PartProtection {
    /// A part at `path` with no protection recorded yet.
    pub fn new(path: impl Into<String>) -> Self {
        PartProtection {
            path: path.into(),
            encrypted: false,
            signed: false,
            scheme: None,
            decrypted_with: None,
        }
    }
}

/// Which form of header protection a message used.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum HeaderProtectionForm {
    /// RFC 9788 with `hp="cipher"`: the headers were encrypted (and may be obscured outside).
    Rfc9788Cipher,
    /// RFC 9788 with `hp="clear"`: the headers were signed only.
    Rfc9788Clear,
    /// The older `protected-headers="v1"` form (draft-autocrypt-lamps-protected-headers).
    LegacyV1,
}

/// Header protection found in the message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HeaderProtection {
    /// The form used.
    pub form: HeaderProtectionForm,
    /// The names of the header fields carried inside the protected part.
    pub covered: Vec<String>,
    /// The header fields whose outer value differs from the protected one (obscured, such
    /// as `Subject: [...]`, or altered on the way). The protected value is the one to show.
    pub differs_outside: Vec<String>,
}

/// The security verdict on one message: what was encrypted, what was signed, by whom.
///
/// ```
/// use secmail_core::{PartProtection, Scheme, SignatureStatus, SignerInfo, Verdict};
///
/// let mut verdict = Verdict::new(Some("alice@example.org".into()));
/// let mut part = PartProtection::new("1");
/// part.encrypted = true;
/// part.scheme = Some(Scheme::OpenPgp);
/// verdict.parts.push(part);
/// let mut sig = SignerInfo::new(Scheme::OpenPgp, SignatureStatus::Good);
/// sig.addresses.push("alice@example.org".into());
/// verdict.add_signature(sig);
/// assert!(verdict.signed_by_sender());
/// assert!(verdict.is_fully_encrypted());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Verdict {
    /// The address in the message's `From` field (from the protected headers when present).
    pub from: Option<String>,
    /// Every part that carries content, with how it was protected.
    pub parts: Vec<PartProtection>,
    /// Every signature found, good or not.
    pub signatures: Vec<SignerInfo>,
    /// Header protection, when the message had it.
    pub header_protection: Option<HeaderProtection>,
}

impl Verdict {
    /// An empty verdict for a message from `from`.
    pub fn new(from: Option<String>) -> Self {
        Verdict {
            from,
            ..Verdict::default()
        }
    }

    /// Records a signature: checks its signer against [`Verdict::from`] and, when it is good,
    /// marks the parts it covers as signed.
    pub fn add_signature(&mut self, mut sig: SignerInfo) {
        if let Some(from) = &self.from {
            sig.check_from(from);
        }
        if sig.status.is_good() {
            for part in &mut self.parts {
                if sig.covers.iter().any(|c| covers(c, &part.path)) {
                    part.signed = true;
                    part.scheme.get_or_insert(sig.scheme);
                }
            }
        }
        self.signatures.push(sig);
    }

    /// Whether every content part was encrypted (and there is at least one).
    pub fn is_fully_encrypted(&self) -> bool {
        !self.parts.is_empty() && self.parts.iter().all(|p| p.encrypted)
    }

    /// Whether every content part is covered by a good signature (and there is at least one).
    pub fn is_fully_signed(&self) -> bool {
        !self.parts.is_empty() && self.parts.iter().all(|p| p.signed)
    }

    /// Whether a good signature was made by a key bound to the `From` address.
    pub fn signed_by_sender(&self) -> bool {
        self.signatures
            .iter()
            .any(|s| s.status.is_good() && s.matches_from)
    }

    /// Whether the message mixes protected and unprotected content parts (the EFAIL shape):
    /// a reader must show them apart, or show only the protected ones.
    pub fn is_mixed(&self) -> bool {
        let enc = self.parts.iter().filter(|p| p.encrypted).count();
        let sig = self.parts.iter().filter(|p| p.signed).count();
        (enc != 0 && enc != self.parts.len()) || (sig != 0 && sig != self.parts.len())
    }
}

/// Whether a signature over `root` covers the part at `path` (itself or a descendant).
fn covers(root: &str, path: &str) -> bool {
    root.is_empty()
        || path == root
        || (path.len() > root.len()
            && path.starts_with(root)
            && path.as_bytes()[root.len()] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_is_by_path_prefix() {
        assert!(covers("", "1.2"));
        assert!(covers("1", "1.2"));
        assert!(covers("1", "1"));
        assert!(!covers("1", "12"));
        assert!(!covers("1.2", "1"));
    }

    #[test]
    fn from_match_folds_only_the_domain() {
        assert!(same_address("Alice@Example.ORG", "<Alice@example.org>"));
        assert!(!same_address("alice@example.org", "Alice@example.org"));
        assert!(!same_address("alice@example.org", "alice@example.org.evil"));
        assert!(!same_address("nobody", "nobody"));
    }

    #[test]
    fn a_bad_signature_marks_nothing_signed() {
        let mut v = Verdict::new(Some("a@b.example".into()));
        v.parts.push(PartProtection::new("1"));
        let mut s = SignerInfo::new(Scheme::Smime, SignatureStatus::Bad);
        s.addresses.push("a@b.example".into());
        s.covers.push("1".into());
        v.add_signature(s);
        assert!(!v.parts[0].signed);
        assert!(!v.signed_by_sender());
        assert!(v.signatures[0].matches_from);
    }

    #[test]
    fn mixed_content_is_flagged() {
        let mut v = Verdict::new(None);
        let mut a = PartProtection::new("1");
        a.encrypted = true;
        v.parts.push(a);
        v.parts.push(PartProtection::new("2"));
        assert!(v.is_mixed());
        assert!(!v.is_fully_encrypted());
    }
}
