//! The one error type of secmail-pgp.

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The underlying cause of an error, for logs (never shown to a remote party).
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in secmail-pgp.
///
/// As in rustls, [`Error::Misuse`] (a bug in the calling program) is kept apart from the
/// variants caused by the input, which may come from an attacker. Decryption failures are
/// deliberately coarse: a wrong key, a wrong passphrase and a tampered session-key packet all
/// read [`Error::CannotDecrypt`]; anything wrong after the session key was found reads
/// [`Error::Integrity`]. In every failure case no plaintext was released.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The calling program used the API wrongly (no recipients, a public key where a secret
    /// key is needed…).
    #[error("API misuse: {0}")]
    Misuse(String),
    /// The input is not the OpenPGP data that was expected (not a certificate, a malformed
    /// packet, bad armor…).
    #[error("malformed OpenPGP {what}: {source}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why it was refused.
        #[source]
        source: Source,
    },
    /// A certificate or key cannot be used: expired, revoked, bound with SHA-1, using an
    /// algorithm the policy rejects, or without a key that can do what was asked.
    #[error("unusable certificate {fingerprint}: {reason}")]
    UnusableCert {
        /// The certificate's fingerprint (hex).
        fingerprint: String,
        /// Why (e.g. "no valid encryption-capable subkey").
        reason: String,
    },
    /// A secret key is protected by a passphrase and none of the passphrases given opens it.
    #[error("the secret key {fingerprint} is locked: give its passphrase")]
    KeyLocked {
        /// The key's fingerprint (hex).
        fingerprint: String,
    },
    /// No key or passphrase that was given opens this message (also: trying the passwords
    /// would cost more than [`MAX_S2K_RUNS`](crate::MAX_S2K_RUNS) S2K runs).
    #[error("cannot decrypt: none of the keys or passphrases given opens this message")]
    CannotDecrypt,
    /// The message is encrypted without integrity protection (a Symmetrically Encrypted Data
    /// packet without MDC, the EFAIL shape). It is refused; nothing was decrypted.
    #[error(
        "refused: the message is encrypted without integrity protection (no MDC); \
         ask the sender to use a current OpenPGP program"
    )]
    NoIntegrityProtection,
    /// The message failed its integrity check (altered, truncated, or a policy-rejected
    /// algorithm inside). No plaintext was released.
    #[error(
        "the message failed its integrity check (altered or truncated); no plaintext was released"
    )]
    Integrity,
    /// A signature was required and none was good.
    #[error("no good signature from the expected signers")]
    NoGoodSignature,
    /// The plaintext went past the configured bound.
    #[error(
        "the plaintext is larger than the limit of {limit} bytes; raise it if the input is trusted"
    )]
    TooLarge {
        /// The bound, in bytes.
        limit: u64,
    },
    /// A MIME structure was malformed, or past a bound of the MIME layer.
    #[error(transparent)]
    Mime(#[from] secmail_core::Error),
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A bound of the Autocrypt peer state was reached: too many peers, a key or a state file
    /// too large. Nothing was changed.
    #[error("Autocrypt peer state: {what} is past the limit of {limit}")]
    PeerLimit {
        /// What went past the bound ("peers", "key size", "state file size").
        what: &'static str,
        /// The bound.
        limit: u64,
    },
}

impl Error {
    pub(crate) fn malformed(what: &'static str, e: impl Into<Source>) -> Self {
        Error::Malformed {
            what,
            source: e.into(),
        }
    }

    pub(crate) fn malformed_any(what: &'static str, e: anyhow::Error) -> Self {
        Error::Malformed {
            what,
            source: e.into(),
        }
    }

    pub(crate) fn unusable(fpr: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::UnusableCert {
            fingerprint: fpr.to_string(),
            reason: reason.into(),
        }
    }
}
