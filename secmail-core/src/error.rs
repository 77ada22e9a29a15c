//! The one error type of secmail-core.

use std::fmt;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which configured bound an input went past. See [`Limits`](crate::Limits).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The whole message, in bytes ([`Limits::max_message_size`](crate::Limits::max_message_size)).
    MessageSize,
    /// Nesting of multiparts and encapsulated messages ([`Limits::max_depth`](crate::Limits::max_depth)).
    Depth,
    /// Number of MIME parts in the message ([`Limits::max_parts`](crate::Limits::max_parts)).
    Parts,
    /// Length of one physical header line, in bytes ([`Limits::max_header_line`](crate::Limits::max_header_line)).
    HeaderLineLength,
    /// Number of header fields in one part ([`Limits::max_headers`](crate::Limits::max_headers)).
    HeaderCount,
    /// Argon2 memory, in KiB, asked for by a passphrase container's header
    /// ([`Limits::max_kdf_memory_kib`](crate::Limits::max_kdf_memory_kib)).
    KdfMemory,
    /// Argon2 passes asked for by a passphrase container's header
    /// ([`Limits::max_kdf_passes`](crate::Limits::max_kdf_passes)).
    KdfPasses,
    /// Argon2 lanes asked for by a passphrase container's header
    /// ([`Limits::max_kdf_lanes`](crate::Limits::max_kdf_lanes)).
    KdfLanes,
}

impl LimitKind {
    /// The name of the [`Limits`](crate::Limits) field that sets this bound.
    pub fn field(self) -> &'static str {
        match self {
            LimitKind::MessageSize => "max_message_size",
            LimitKind::Depth => "max_depth",
            LimitKind::Parts => "max_parts",
            LimitKind::HeaderLineLength => "max_header_line",
            LimitKind::HeaderCount => "max_headers",
            LimitKind::KdfMemory => "max_kdf_memory_kib",
            LimitKind::KdfPasses => "max_kdf_passes",
            LimitKind::KdfLanes => "max_kdf_lanes",
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::MessageSize => "message size",
            LimitKind::Depth => "MIME nesting depth",
            LimitKind::Parts => "number of MIME parts",
            LimitKind::HeaderLineLength => "header line length",
            LimitKind::HeaderCount => "number of header fields in one part",
            LimitKind::KdfMemory => "Argon2 memory (KiB) asked for by the container",
            LimitKind::KdfPasses => "Argon2 passes asked for by the container",
            LimitKind::KdfLanes => "Argon2 lanes asked for by the container",
        })
    }
}

/// Everything that can go wrong in secmail-core.
///
/// The variants keep two kinds of failure apart, as rustls does: [`Error::Misuse`] is a bug in
/// the calling program, every other variant is caused by the input (which may come from an
/// attacker) or by the environment.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input went past a configured bound. Nothing was produced from it.
    #[error(
        "{kind} is at least {actual}, over the limit of {limit}; \
         if this input is trusted, raise Limits::{field}",
        field = kind.field()
    )]
    LimitExceeded {
        /// Which bound.
        kind: LimitKind,
        /// The bound in force.
        limit: usize,
        /// How far the input went when it was stopped (a lower bound of its real size).
        actual: usize,
    },
    /// The input is not a MIME message (or part) that can be worked with.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The calling program used the API wrongly (a bug in the caller, not bad input).
    #[error("API misuse: {0}")]
    Misuse(String),
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    // --- The passphrase container (docs/passphrase-format.md §6). Decryption reports one of
    // these, or `LimitExceeded` for KDF costs past the limits; nothing finer (no oracle).
    /// The input is not a passphrase container this version of secmail can read: not one at
    /// all, cut short inside its header, malformed armor, a version or algorithm id it does
    /// not know, or KDF costs outside the format's bounds. Decided from public bytes only,
    /// before the passphrase is used.
    #[error("not a readable passphrase container: {0}")]
    InvalidContainer(String),
    /// The passphrase does not open this container: the header's key-commitment tag did not
    /// match. (An altered header gives the same result; the two cannot be told apart.) No
    /// payload was read.
    #[error("wrong passphrase (or the container's header was altered)")]
    WrongPassphrase,
    /// The passphrase was right but the encrypted payload failed to authenticate: it was
    /// altered, reordered, truncated or extended. Nothing past the last authenticated chunk
    /// was released; treat any plaintext already received from a stream as untrustworthy.
    #[error("decryption failed: the encrypted data was altered, truncated or extended")]
    DecryptionFailed,
}

impl Error {
    pub(crate) fn limit(kind: LimitKind, limit: usize, actual: usize) -> Self {
        Error::LimitExceeded {
            kind,
            limit,
            actual,
        }
    }

    // Unused until the MIME parser lands; without the allow, clippy -D warnings fails.
    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        Error::Malformed(what.into())
    }
}
