//! The ASCII armor (docs/passphrase-format.md §7), streamed one line at a time.
//!
//! ```text
//! armor = *WSP-or-EOL
//!         "-----BEGIN SECMAIL PASSPHRASE ENCRYPTED FILE-----" EOL
//!         *(full-line EOL) final-line EOL
//!         "-----END SECMAIL PASSPHRASE ENCRYPTED FILE-----" [EOL]
//!         *WSP-or-EOL
//! full-line  = 64 base64 characters, no "="
//! final-line = 4 to 64 base64 characters (a multiple of 4), "=" only as padding at its end
//! EOL        = LF / CR LF
//! ```

use std::io::{self, BufRead, Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::stream::to_io;
use crate::error::Error;

pub(crate) const BEGIN: &[u8] = b"-----BEGIN SECMAIL PASSPHRASE ENCRYPTED FILE-----";
pub(crate) const END: &[u8] = b"-----END SECMAIL PASSPHRASE ENCRYPTED FILE-----";
/// Base64 characters on a full line.
const LINE: usize = 64;
/// Bytes on a full line.
const LINE_BYTES: usize = 48;
/// The longest line a reader takes in: a full line and CR LF.
const MAX_LINE: usize = LINE + 2;

fn armor_error(what: &str) -> io::Error {
    to_io(Error::InvalidContainer(format!("armor: {what}")))
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Writes the armor around what is written to it; [`ArmorWriter::finish`] ends it.
pub(crate) struct ArmorWriter<W: Write> {
    inner: W,
    /// Fewer than 48 bytes not yet on a line.
    pending: Vec<u8>,
    /// Encoded lines waiting to be written in one go.
    out: Vec<u8>,
}

impl<W: Write> ArmorWriter<W> {
    pub(crate) fn new(mut inner: W) -> io::Result<ArmorWriter<W>> {
        inner.write_all(BEGIN)?;
        inner.write_all(b"\n")?;
        Ok(ArmorWriter {
            inner,
            pending: Vec::with_capacity(LINE_BYTES),
            out: Vec::with_capacity(16 * 1024),
        })
    }

    fn push_line(&mut self, bytes: &[u8]) {
        let start = self.out.len();
        self.out.resize(start + bytes.len().div_ceil(3) * 4, 0);
        // The slice is sized for the encoding, so this cannot fail.
        let _ = STANDARD.encode_slice(bytes, &mut self.out[start..]);
        self.out.push(b'\n');
    }

    fn drain(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.out)?;
        self.out.clear();
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.push_line(&pending);
        }
        self.out.extend_from_slice(END);
        self.out.push(b'\n');
        self.drain()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ArmorWriter<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        if !self.pending.is_empty() {
            let take = (LINE_BYTES - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == LINE_BYTES {
                let pending = std::mem::take(&mut self.pending);
                self.push_line(&pending);
                self.pending = pending;
                self.pending.clear();
            }
        }
        let mut lines = data.chunks_exact(LINE_BYTES);
        for line in &mut lines {
            self.push_line(line);
        }
        self.pending.extend_from_slice(lines.remainder());
        if self.out.len() >= 16 * 1024 {
            self.drain()?;
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between BEGIN and the final data line.
    Body,
    /// The final data line was read; END must come next.
    AfterFinal,
    /// END and the whitespace after it were read.
    Done,
}

/// Takes the armor off a stream. Assumes the caller has already consumed nothing: it skips
/// leading whitespace and requires the BEGIN line itself.
pub(crate) struct ArmorReader<R: BufRead> {
    inner: R,
    state: State,
    line: Vec<u8>,
    decoded: [u8; LINE_BYTES],
    pos: usize,
    len: usize,
    lines_read: usize,
}

impl<R: BufRead> ArmorReader<R> {
    /// Skips leading whitespace and reads the BEGIN line.
    pub(crate) fn new(inner: R) -> io::Result<ArmorReader<R>> {
        let mut r = ArmorReader {
            inner,
            state: State::Body,
            line: Vec::with_capacity(MAX_LINE + 1),
            decoded: [0; LINE_BYTES],
            pos: 0,
            len: 0,
            lines_read: 0,
        };
        r.skip_space()?;
        if r.read_line()? && r.line == BEGIN {
            Ok(r)
        } else {
            Err(armor_error(
                "the input is neither a binary container nor begins with the armor's BEGIN line",
            ))
        }
    }

    /// Skips whitespace; returns whether anything but whitespace follows.
    fn skip_space(&mut self) -> io::Result<bool> {
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(false);
            }
            let n = buf.iter().take_while(|&&b| is_space(b)).count();
            let more = n < buf.len();
            self.inner.consume(n);
            if more {
                return Ok(true);
            }
        }
    }

    /// Reads one line into `self.line`, without its line end. `false` at the end of input.
    /// Only the END line may lack a line end (at the very end of the input).
    fn read_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        let n = (&mut self.inner)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Ok(false);
        }
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
        } else if self.line.len() > MAX_LINE {
            return Err(armor_error("a line is too long"));
        } else if self.line != END {
            return Err(armor_error("the input ends inside a line"));
        }
        Ok(true)
    }

    /// Reads the next line and, if it is data, decodes it into `decoded`.
    fn next_line(&mut self) -> io::Result<()> {
        if !self.read_line()? {
            return Err(armor_error("the input ends before the END line"));
        }
        if self.line == END {
            if self.lines_read == 0 {
                return Err(armor_error("no data between BEGIN and END"));
            }
            if self.skip_space()? {
                return Err(armor_error("something other than whitespace follows END"));
            }
            self.state = State::Done;
            return Ok(());
        }
        if self.state == State::AfterFinal {
            return Err(armor_error(
                "a line follows the final (short or padded) line",
            ));
        }
        let len = self.line.len();
        if len == 0 || len > LINE || !len.is_multiple_of(4) {
            return Err(armor_error("a data line has a wrong length"));
        }
        if len < LINE || self.line.contains(&b'=') {
            self.state = State::AfterFinal;
        }
        self.len = STANDARD
            .decode_slice(&self.line, &mut self.decoded)
            .map_err(|_| armor_error("invalid or non-canonical base64"))?;
        self.pos = 0;
        self.lines_read += 1;
        Ok(())
    }
}

impl<R: BufRead> Read for ArmorReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            if self.state == State::Done || out.is_empty() {
                return Ok(0);
            }
            self.next_line()?;
        }
        let n = (self.len - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.decoded[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn armor(data: &[u8], pieces: usize) -> Vec<u8> {
        let mut w = ArmorWriter::new(Vec::new()).unwrap();
        for p in data.chunks(pieces.max(1)) {
            w.write_all(p).unwrap();
        }
        w.finish().unwrap()
    }

    fn dearmor(text: &[u8]) -> io::Result<Vec<u8>> {
        let mut r = ArmorReader::new(text)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_every_tail_length() {
        for len in [1usize, 2, 3, 47, 48, 49, 95, 96, 97, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            for pieces in [1, 5, 48, 1000] {
                let text = armor(&data, pieces);
                assert_eq!(dearmor(&text).unwrap(), data, "len {len} pieces {pieces}");
                for line in text.split(|&b| b == b'\n') {
                    assert!(line.len() <= 64 || line == BEGIN, "{len}");
                }
            }
        }
    }

    #[test]
    fn lenient_only_outside_the_markers_and_on_line_ends() {
        let data = vec![9u8; 100];
        let text = armor(&data, 100);
        let mut crlf = b" \r\n\t\n".to_vec();
        crlf.extend(
            String::from_utf8(text.clone())
                .unwrap()
                .replace('\n', "\r\n")
                .bytes(),
        );
        crlf.extend_from_slice(b"\r\n  \n");
        assert_eq!(dearmor(&crlf).unwrap(), data);
        // END without a final line end.
        assert_eq!(dearmor(&text[..text.len() - 1]).unwrap(), data);

        let s = String::from_utf8(text).unwrap();
        let bad = [
            format!("x{s}"),
            format!("{s}x"),
            s.replacen('\n', "\n\n", 2), // blank line after the first data line
            s.replacen("-----\n", "----- \n", 1),
            s.replace("-----END", "-----ENDX"),
            s[..s.len() - 10].to_string(),
            s.replacen('A', "*", 1),
        ];
        for b in bad {
            assert!(dearmor(b.as_bytes()).is_err(), "{b:?}");
        }
    }

    #[test]
    fn non_canonical_base64_and_padding_mid_stream_are_rejected() {
        // "AB==" has non-zero unused bits for one byte ("AA==" is canonical).
        let t = [BEGIN, b"\nAB==\n", END, b"\n"].concat();
        assert!(dearmor(&t).is_err());
        let t = [BEGIN, b"\nAA==\n", END, b"\n"].concat();
        assert_eq!(dearmor(&t).unwrap(), vec![0]);
        // A padded line followed by another data line.
        let t = [BEGIN, b"\nAA==\nAAAA\n", END, b"\n"].concat();
        assert!(dearmor(&t).is_err());
        // A short line in the middle.
        let t = [BEGIN, b"\nAAAA\n", &[b'A'; 64], b"\n", END].concat();
        assert!(dearmor(&t).is_err());
        // Over-long line.
        let t = [BEGIN, b"\n", &[b'A'; 68], b"\n", END].concat();
        assert!(dearmor(&t).is_err());
    }
}
