//! Sans-I/O protocol cores: types, codecs and byte-fed state machines. Nothing here touches a
//! socket; the drivers in `blocking` own the connection and feed these.

pub mod imap;
pub mod pop3;
pub mod smtp;
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

/// Splits off one line ending in LF (the CR before it is removed too, when present).
/// Returns the line without its ending. A line longer than `max` bytes fails, so that a
/// server that never sends LF cannot make us buffer without bound.
///
/// RFC 5321, 3501 and 1939 all end lines with CRLF; a bare LF is accepted on reading (as
/// Postfix and Dovecot do) because it changes no meaning here.
pub fn split_line(buf: &[u8], max: usize) -> Decoded<&[u8]> {
    let window = &buf[..buf.len().min(max.saturating_add(2))];
    match memchr::memchr(b'\n', window) {
        Some(lf) => {
            let line = &buf[..lf];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > max {
                return Err(ProtocolError::LineTooLong { limit: max }.into());
            }
            Ok((line, lf + 1))
        }
        None if buf.len() > max.saturating_add(1) => {
            Err(ProtocolError::LineTooLong { limit: max }.into())
        }
        None => Err(DecodeError::Incomplete),
    }
}

/// The receive buffer of a state machine: bytes fed by the driver, consumed from the front
/// without moving the rest on every reply.
#[derive(Debug, Default)]
pub(crate) struct InBuf {
    buf: Vec<u8>,
    start: usize,
}

impl InBuf {
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }
    /// Throws every buffered byte away; returns how many there were.
    pub(crate) fn discard(&mut self) -> usize {
        let n = self.buf.len() - self.start;
        self.buf.clear();
        self.start = 0;
        n
    }
    /// Puts `bytes` in front of what is buffered.
    pub(crate) fn prepend(&mut self, bytes: &[u8]) {
        let mut buf = Vec::with_capacity(bytes.len() + self.len());
        buf.extend_from_slice(bytes);
        buf.extend_from_slice(self.data());
        self.buf = buf;
        self.start = 0;
    }
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.start
    }
    /// Decodes one item from the front with `f`; `Ok(None)` if more bytes are needed.
    pub(crate) fn decode<T>(
        &mut self,
        f: impl FnOnce(&[u8]) -> Decoded<T>,
    ) -> Result<Option<T>, ProtocolError> {
        match f(self.data()) {
            Ok((item, used)) => {
                self.consume(used);
                Ok(Some(item))
            }
            Err(DecodeError::Incomplete) => Ok(None),
            Err(DecodeError::Failed(e)) => Err(e),
        }
    }
}

/// True if `s` can go on a command line as it is: no CR, LF or NUL (command injection).
pub(crate) fn is_safe_arg(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(split_line(b"abc\r\nrest", 10), Ok((&b"abc"[..], 5)));
        assert_eq!(split_line(b"abc\nrest", 10), Ok((&b"abc"[..], 4)));
        assert_eq!(split_line(b"abc", 10), Err(DecodeError::Incomplete));
        assert_eq!(
            split_line(b"0123456789\r", 10),
            Err(DecodeError::Incomplete)
        );
        assert_eq!(
            split_line(b"0123456789\r\n", 10),
            Ok((&b"0123456789"[..], 12))
        );
        assert!(matches!(
            split_line(b"0123456789ab", 10),
            Err(DecodeError::Failed(ProtocolError::LineTooLong {
                limit: 10
            }))
        ));
        assert!(matches!(
            split_line(b"0123456789a\r\n", 10),
            Err(DecodeError::Failed(ProtocolError::LineTooLong {
                limit: 10
            }))
        ));
    }
}
