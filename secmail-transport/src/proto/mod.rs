//! Sans-I/O protocol cores: types, codecs and byte-fed state machines. Nothing here touches a
//! socket; the drivers in `blocking` own the connection and feed these.

pub mod imap;
pub mod pop3;
pub mod smtp;

mod framing;
pub use framing::split_line;
pub(crate) use framing::{Gate, InBuf};
#[cfg(test)]
pub(crate) mod testing;

use crate::error::ProtocolError;

/// Why a decoder returned no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes so far are a valid prefix: read more and call again with all of them.
    Incomplete,
    /// The bytes can never become valid (or break a limit): end the session.
    Failed(ProtocolError),
}

impl From<ProtocolError> for DecodeError {
    fn from(e: ProtocolError) -> Self {
        DecodeError::Failed(e)
    }
}

/// A decoded value and how many bytes of the input it used.
pub type Decoded<T> = Result<(T, usize), DecodeError>;

/// True if `s` can go on a command line as it is: no CR, LF or NUL (command injection).
pub(crate) fn is_safe_arg(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}
