//! The crate's error type.
//!
//! Errors caused by untrusted input (a message, a certificate) are kept apart from API misuse.
//! Decryption failures are deliberately coarse ([`Error::DecryptionFailed`]): a wrong key, bad
//! padding and a failed authentication tag look the same, so that the caller cannot become a
//! padding or key oracle.

use std::fmt;

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a certificate is used for in a check.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Signing messages (keyUsage digitalSignature or nonRepudiation).
    Sign,
    /// Receiving encrypted messages (keyUsage keyEncipherment).
    Encrypt,
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Usage::Sign => "signing",
            Usage::Encrypt => "encryption",
        })
    }
}

/// Why a certificate chain was not accepted. Each check has its own variant, naming the
/// certificate (by subject) that failed it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// No chain from the certificate to one of the trust anchors could be built.
    #[error(
        "certificate {subject:?} does not chain to a trusted anchor (issuer {issuer:?} not found or its signature does not verify)"
    )]
    Untrusted {
        /// The last certificate of the longest chain found.
        subject: String,
        /// The issuer that was looked for.
        issuer: String,
    },
    /// A certificate's signature does not verify with its issuer's key.
    #[error("the signature on certificate {subject:?} does not verify with its issuer's key")]
    BadSignature {
        /// The certificate.
        subject: String,
    },
    /// A certificate was not yet valid at the time checked.
    #[error("certificate {subject:?} is not valid before {not_before} (checked at {at})")]
    NotYetValid {
        /// The certificate.
        subject: String,
        /// Its notBefore, seconds since the epoch.
        not_before: u64,
        /// The time checked, seconds since the epoch.
        at: u64,
    },
    /// A certificate had expired at the time checked.
    #[error("certificate {subject:?} expired at {not_after} (checked at {at})")]
    Expired {
        /// The certificate.
        subject: String,
        /// Its notAfter, seconds since the epoch.
        not_after: u64,
        /// The time checked, seconds since the epoch.
        at: u64,
    },
    /// An issuing certificate is not a CA (basicConstraints cA is not set).
    #[error("certificate {subject:?} issues certificates but is not a CA (basicConstraints)")]
    NotCa {
        /// The certificate.
        subject: String,
    },
    /// The chain is longer than an issuer's pathLenConstraint allows.
    #[error(
        "certificate {subject:?} allows {path_len} intermediate CAs below it; the chain has more"
    )]
    PathLenExceeded {
        /// The CA whose constraint was exceeded.
        subject: String,
        /// Its pathLenConstraint.
        path_len: u8,
    },
    /// An issuing certificate's keyUsage does not include keyCertSign.
    #[error("CA certificate {subject:?} may not sign certificates (keyUsage lacks keyCertSign)")]
    CaKeyUsage {
        /// The certificate.
        subject: String,
    },
    /// The end-entity certificate's keyUsage does not allow the use.
    #[error("certificate {subject:?} may not be used for {usage} (keyUsage)")]
    KeyUsage {
        /// The certificate.
        subject: String,
        /// The use refused.
        usage: Usage,
    },
    /// The end-entity certificate has an extendedKeyUsage without emailProtection.
    #[error(
        "certificate {subject:?} is not for email protection (extendedKeyUsage lacks emailProtection)"
    )]
    ExtendedKeyUsage {
        /// The certificate.
        subject: String,
    },
    /// No email address of the certificate matches the message's sender.
    #[error("certificate {subject:?} is for {found:?}, not for the sender {expected:?}")]
    EmailMismatch {
        /// The certificate.
        subject: String,
        /// The address looked for (the message's From).
        expected: String,
        /// The addresses the certificate has.
        found: Vec<String>,
    },
    /// An unknown extension is marked critical.
    #[error("certificate {subject:?} has an unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// The certificate.
        subject: String,
        /// The extension's OID.
        oid: String,
    },
    /// A certificate uses an algorithm this crate does not check.
    #[error("certificate {subject:?} uses an unsupported algorithm {oid}")]
    UnsupportedAlgorithm {
        /// The certificate.
        subject: String,
        /// The algorithm's OID.
        oid: String,
    },
    /// A certificate could not be decoded (an extension is malformed).
    #[error("certificate {subject:?} is malformed: {detail}")]
    Malformed {
        /// The certificate.
        subject: String,
        /// What was wrong.
        detail: String,
    },
    /// The chain is longer than the limit.
    #[error("the certificate chain is longer than {0} certificates")]
    TooLong(usize),
}

/// The error type of secmail-smime.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input (a message, a CMS object, a certificate or key file) is malformed.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// An algorithm or structure this crate does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A private key could not be used (wrong format, encrypted, unsupported type or size).
    #[error("unusable private key: {0}")]
    Key(String),
    /// The message could not be decrypted. Wrong key, bad padding and a failed integrity check
    /// all give this one error, on purpose (no decryption oracle).
    #[error("the message could not be decrypted (wrong key, or the message was altered)")]
    DecryptionFailed,
    /// None of the message's recipients is the given certificate.
    #[error("the message is not encrypted to this certificate")]
    NotARecipient,
    /// The signature does not match the content (the content or signature was altered).
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// No certificate in the message matches the signer.
    #[error("the signer's certificate is not in the message")]
    SignerCertificateMissing,
    /// The message carries no signature at all.
    #[error("the message is not signed")]
    NotSigned,
    /// The signer's certificate chain was not accepted.
    #[error("certificate validation failed: {0}")]
    Validation(#[from] ValidationError),
    /// The certificate does not allow the use (refused before doing anything).
    #[error("certificate {subject:?} may not be used for {usage}")]
    UsageNotAllowed {
        /// The certificate.
        subject: String,
        /// The refused use.
        usage: Usage,
    },
    /// Wrong use of the API (e.g. a key that does not belong to the certificate).
    #[error("API misuse: {0}")]
    Misuse(String),
    /// An error from the MIME layer of secmail-core.
    #[error(transparent)]
    Mime(#[from] secmail_core::Error),
    /// The random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// Reading the input or writing the output of a streaming operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub(crate) fn malformed(what: &'static str, detail: impl fmt::Display) -> Self {
        Error::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}
