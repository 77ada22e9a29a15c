//! Streaming base64 for MIME bodies (RFC 2045 §6.8): an encoder that writes 76-character
//! CRLF lines, and a decoder that skips line breaks and white space. Core's MIME parser
//! decodes a whole body at once; these keep a large body out of memory.

use std::io::{self, BufRead, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// 57 input bytes make one 76-character line.
const LINE_IN: usize = 57;
/// Lines encoded per batch.
const BATCH_LINES: usize = 1024;

/// Writes base64 in 76-character CRLF lines to the inner writer.
pub(crate) struct Base64Writer<W: Write> {
    inner: W,
    pending: Vec<u8>,
    out: Vec<u8>,
}

impl<W: Write> Base64Writer<W> {
    pub(crate) fn new(inner: W) -> Self {
        Base64Writer {
            inner,
            pending: Vec::with_capacity(LINE_IN * BATCH_LINES),
            out: Vec::with_capacity(78 * BATCH_LINES),
        }
    }

    fn encode_lines(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.clear();
        let mut line = [0u8; 76];
        for chunk in data.chunks(LINE_IN) {
            let n = STANDARD
                .encode_slice(chunk, &mut line)
                .map_err(|e| io::Error::other(e.to_string()))?;
            self.out.extend_from_slice(&line[..n]);
            self.out.extend_from_slice(b"\r\n");
        }
        self.inner.write_all(&self.out)
    }

    /// Writes what is left and returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.encode_lines(&rest)?;
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for Base64Writer<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        let batch = LINE_IN * BATCH_LINES;
        if !self.pending.is_empty() {
            let take = (batch - self.pending.len()).min(buf.len());
            self.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.pending.len() < batch {
                return Ok(n);
            }
            let p = std::mem::take(&mut self.pending);
            self.encode_lines(&p)?;
            self.pending = p;
            self.pending.clear();
        }
        while buf.len() >= batch {
            self.encode_lines(&buf[..batch])?;
            buf = &buf[batch..];
        }
        self.pending.extend_from_slice(buf);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Appends `input` without CR, LF, space and tab: line by line, with a byte-by-byte filter
/// only for the rare line that has white space inside.
fn strip_white(input: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', input).chain(std::iter::once(input.len()));
    for end in ends {
        let line = &input[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if memchr::memchr3(b' ', b'\t', b'\r', line).is_none() {
            out.extend_from_slice(line);
        } else {
            out.extend(
                line.iter()
                    .copied()
                    .filter(|b| !matches!(b, b' ' | b'\t' | b'\r')),
            );
        }
    }
}

/// Reads base64 from the inner reader, skipping CR, LF, space and tab. Anything after the
/// padded end other than white space is an error, as is a truncated final group.
pub(crate) struct Base64Reader<R: BufRead> {
    inner: R,
    /// Base64 characters not yet decoded (fewer than 4 after each decode).
    chars: Vec<u8>,
    decoded: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: BufRead> Base64Reader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Base64Reader {
            inner,
            chars: Vec::with_capacity(1 << 16),
            decoded: Vec::with_capacity(1 << 16),
            pos: 0,
            done: false,
        }
    }

    fn bad(msg: &str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("base64: {msg}"))
    }

    fn refill(&mut self) -> io::Result<()> {
        self.decoded.clear();
        self.pos = 0;
        while self.decoded.is_empty() && !self.done {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                self.done = true;
                let rest = std::mem::take(&mut self.chars);
                if rest.iter().any(|&c| c != b'=') && !rest.is_empty() {
                    if !rest.len().is_multiple_of(4) {
                        return Err(Self::bad("truncated"));
                    }
                    self.decode(&rest)?;
                }
                break;
            }
            let n = buf.len();
            strip_white(buf, &mut self.chars);
            self.inner.consume(n);
            // Decode every complete group; a group with padding must be the last.
            let full = self.chars.len() / 4 * 4;
            if full > 0 {
                let chars = std::mem::take(&mut self.chars);
                let (now, later) = chars.split_at(full);
                if let Some(p) = now.iter().position(|&c| c == b'=') {
                    // The padded group ends the data; only padding may follow.
                    let end = (p / 4 + 1) * 4;
                    if now[end..].iter().chain(later).any(|&c| c != b'=') {
                        return Err(Self::bad("data after the end"));
                    }
                    self.decode(&now[..end])?;
                    self.chars = Vec::new();
                    self.drain_tail()?;
                    self.done = true;
                } else {
                    self.decode(now)?;
                    self.chars = chars;
                    self.chars.drain(..full);
                }
            }
        }
        Ok(())
    }

    fn drain_tail(&mut self) -> io::Result<()> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            if buf
                .iter()
                .any(|&b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t' | b'='))
            {
                return Err(Self::bad("data after the end"));
            }
            let n = buf.len();
            self.inner.consume(n);
        }
    }

    fn decode(&mut self, chars: &[u8]) -> io::Result<()> {
        let start = self.decoded.len();
        self.decoded.resize(start + chars.len() / 4 * 3 + 3, 0);
        let n = STANDARD
            .decode_slice(chars, &mut self.decoded[start..])
            .map_err(|e| Self::bad(&e.to_string()))?;
        self.decoded.truncate(start + n);
        Ok(())
    }
}

impl<R: BufRead> Read for Base64Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Base64Reader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.decoded.len() {
            self.refill()?;
        }
        Ok(&self.decoded[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.decoded.len());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_in_lines_and_back() {
        for len in [0usize, 1, 2, 3, 56, 57, 58, 1000, 100_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut w = Base64Writer::new(Vec::new());
            for c in data.chunks(333) {
                w.write_all(c).unwrap();
            }
            let text = w.finish().unwrap();
            assert!(text.split(|&b| b == b'\n').all(|l| l.len() <= 77));
            assert_eq!(text, {
                let mut t = Vec::new();
                for c in data.chunks(57) {
                    t.extend_from_slice(STANDARD.encode(c).as_bytes());
                    t.extend_from_slice(b"\r\n");
                }
                t
            });
            let mut back = Vec::new();
            Base64Reader::new(&text[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
        }
        let mut v = Vec::new();
        assert!(
            Base64Reader::new(&b"QUJD\r\nRA==\r\nQUJD\r\n"[..])
                .read_to_end(&mut v)
                .is_err()
        );
        assert!(
            Base64Reader::new(&b"QUJDR"[..])
                .read_to_end(&mut v)
                .is_err()
        );
    }
}
