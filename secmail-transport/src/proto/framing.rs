//! The bounded line framing the three sessions share: a receive buffer fed by the driver
//! and consumed from the front, lines split off it under a length limit, and the rule that
//! no byte is taken while a TLS handshake is due (the STARTTLS command-injection class).

use crate::error::{Error, ProtocolError};
use crate::proto::{DecodeError, Decoded};

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
    /// Takes bytes from the driver if `gate` lets them in. Nothing fed is always fine;
    /// bytes while a TLS handshake is due are an error, after which the caller's session must
    /// die; a dead session takes nothing.
    pub(crate) fn feed_gated(&mut self, bytes: &[u8], gate: Gate) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        match gate {
            Gate::Open => {
                self.feed(bytes);
                Ok(())
            }
            Gate::HandshakeDue(command) => Err(ProtocolError::Malformed {
                what: if command == "STLS" {
                    "STLS upgrade"
                } else {
                    "STARTTLS upgrade"
                },
                detail: format!(
                    "bytes arrived after the {command} reply, before the TLS handshake"
                ),
            }
            .into()),
            Gate::Closed => Err(Error::ConnectionClosed),
        }
    }
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

/// Whether a session takes bytes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Yes.
    Open,
    /// No: the reply to this command (STARTTLS, STLS) came, the TLS handshake is next.
    HandshakeDue(&'static str),
    /// No: the session is dead.
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;

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
