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
}

impl Error {
    pub(crate) fn limit(kind: LimitKind, limit: usize, actual: usize) -> Self {
        Error::LimitExceeded {
            kind,
            limit,
            actual,
        }
    }

    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        Error::Malformed(what.into())
    }
}
