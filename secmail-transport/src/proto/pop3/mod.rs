//! POP3 (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH): status lines, multi-line
//! responses with dot-unstuffing, and commands. Sans-I/O.
//!
//! Written by hand: POP3's grammar is two line shapes, and no maintained Rust crate offers it
//! sans-I/O with limits.
//!
//! ```text
//! single-line = ("+OK" / "-ERR") [SP text] CRLF                 ; RFC 1939 3, RFC 2449 9
//! multi-line  = single-line *(dot-stuffed-line CRLF) "." CRLF   ; a line starting with "."
//!                                                               ; has one more "." prepended
//! ```

use crate::error::ProtocolError;
use crate::limits::Limits;
use crate::proto::{DecodeError, Decoded, is_safe_arg, split_line};

mod session;

pub use session::{Action, Outcome, Session};

/// A status line: `+OK …` or `-ERR …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `+OK`.
    pub ok: bool,
    /// The text after the indicator, lossily decoded.
    pub text: String,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = self.text.chars().take(300).collect();
        write!(f, "{} {}", if self.ok { "+OK" } else { "-ERR" }, text)
    }
}

impl Status {
    /// Encodes the status line as a server sends it (`+OK text` CRLF, `+OK` CRLF when the
    /// text is empty), for scripted peers and the round-trip fuzz target: [`decode_status`]
    /// gives the same status back (a SASL continuation `+ text` comes back as `+OK text`,
    /// which decodes equal). Refused if the text holds a line feed.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), crate::Error> {
        if self.text.contains('\n') {
            return Err(crate::Error::Misuse(
                "a POP3 status holds a line feed".into(),
            ));
        }
        out.extend_from_slice(if self.ok { b"+OK" } else { b"-ERR" });
        if !self.text.is_empty() {
            out.push(b' ');
            out.extend_from_slice(self.text.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// Encodes the body of a short multi-line response (CAPA, LIST, UIDL): each line
/// dot-stuffed (RFC 1939 3), then the `.` line. [`decode_lines`] gives the lines back.
/// Refused if a line holds a line feed.
pub fn encode_lines(lines: &[String], out: &mut Vec<u8>) -> Result<(), crate::Error> {
    if lines.iter().any(|l| l.contains('\n')) {
        return Err(crate::Error::Misuse("a POP3 line holds a line feed".into()));
    }
    for line in lines {
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    Ok(())
}

/// Decodes a status line. (A SASL continuation `+ …` is decoded as `ok` with its text.)
pub fn decode_status(buf: &[u8], limits: &Limits) -> Decoded<Status> {
    let (line, used) = split_line(buf, limits.max_line)?;
    let (ok, rest) = if let Some(r) = line.strip_prefix(b"+OK") {
        (true, r)
    } else if let Some(r) = line.strip_prefix(b"-ERR") {
        (false, r)
    } else if let Some(r) = line.strip_prefix(b"+") {
        (true, r)
    } else {
        return Err(ProtocolError::malformed("POP3 status line", line).into());
    };
    let text = match rest {
        [] => &[][..],
        [b' ', t @ ..] => t,
        _ => return Err(ProtocolError::malformed("POP3 status line", line).into()),
    };
    Ok((
        Status {
            ok,
            text: String::from_utf8_lossy(text).into_owned(),
        },
        used,
    ))
}

/// Decodes the body of a short multi-line response (CAPA, LIST, UIDL) into its lines, bounded
/// by `max_reply_lines` and `max_line`.
pub fn decode_lines(buf: &[u8], limits: &Limits) -> Decoded<Vec<String>> {
    let mut pos = 0;
    let mut lines = Vec::new();
    loop {
        let (line, used) = split_line(&buf[pos..], limits.max_line)?;
        pos += used;
        if line == b"." {
            return Ok((lines, pos));
        }
        if lines.len() >= limits.max_reply_lines {
            return Err(ProtocolError::ReplyTooLong {
                limit: limits.max_reply_lines,
            }
            .into());
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        lines.push(String::from_utf8_lossy(line).into_owned());
    }
}

/// A streaming decoder of a multi-line body (RETR): undoes the dot-stuffing byte-exactly and
/// stops at the terminating `.` line, holding at most two bytes of a line start back. The
/// output is bounded by `max`.
#[derive(Debug, Clone)]
pub struct MultilineDecoder {
    at_line_start: bool,
    total: u64,
    max: u64,
    done: bool,
}

impl MultilineDecoder {
    /// A decoder for a body of at most `max` bytes.
    pub fn new(max: u64) -> Self {
        MultilineDecoder {
            at_line_start: true,
            total: 0,
            max,
            done: false,
        }
    }

    /// True once the terminator was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes from `input`, appending message bytes to `out`. Returns how many input bytes
    /// were used; the rest (after the terminator, or a line start too short to judge) stays
    /// with the caller.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ProtocolError> {
        let mut pos = 0;
        let start_len = out.len();
        while pos < input.len() && !self.done {
            let rest = &input[pos..];
            if self.at_line_start {
                if rest[0] == b'.' {
                    match rest.get(1..3) {
                        Some(b"\r\n") => {
                            self.done = true;
                            pos += 3;
                            break;
                        }
                        _ if rest.get(1) == Some(&b'\n') => {
                            self.done = true;
                            pos += 2;
                            break;
                        }
                        // ".\r" with nothing after yet, or a lone ".": wait for more.
                        None if rest.len() < 3 && rest.get(1).is_none_or(|&b| b == b'\r') => {
                            break;
                        }
                        _ => pos += 1, // the stuffed dot
                    }
                }
                self.at_line_start = false;
                continue;
            }
            match memchr::memchr(b'\n', rest) {
                Some(lf) => {
                    out.extend_from_slice(&rest[..=lf]);
                    pos += lf + 1;
                    self.at_line_start = true;
                }
                None => {
                    out.extend_from_slice(rest);
                    pos = input.len();
                }
            }
        }
        self.total += (out.len() - start_len) as u64;
        if self.total > self.max {
            return Err(ProtocolError::MessageTooLarge { limit: self.max });
        }
        Ok(pos)
    }
}

/// A POP3 command. Encoding refuses arguments with CR, LF or NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `CAPA`.
    Capa,
    /// `STLS`.
    Stls,
    /// `USER name`.
    User(&'a str),
    /// `PASS secret`.
    Pass(&'a str),
    /// `AUTH mechanism [initial-response]` (RFC 5034); the response already base64.
    Auth(&'a str, Option<&'a str>),
    /// `STAT`.
    Stat,
    /// `LIST`.
    List,
    /// `UIDL`.
    Uidl,
    /// `RETR n`.
    Retr(u32),
    /// `DELE n`.
    Dele(u32),
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

impl Command<'_> {
    /// The verb, for error messages.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth(..) => "AUTH",
            Command::Stat => "STAT",
            Command::List => "LIST",
            Command::Uidl => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
        }
    }

    /// Appends the command line, CRLF included.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), crate::Error> {
        let arg = |out: &mut Vec<u8>, s: &str| {
            if !is_safe_arg(s) {
                return Err(crate::Error::Misuse(format!(
                    "{} argument contains a line break or NUL",
                    self.verb()
                )));
            }
            out.push(b' ');
            out.extend_from_slice(s.as_bytes());
            Ok(())
        };
        out.extend_from_slice(self.verb().as_bytes());
        match self {
            Command::User(s) | Command::Pass(s) => arg(out, s)?,
            Command::Auth(m, ir) => {
                arg(out, m)?;
                if let Some(ir) = ir {
                    arg(out, if ir.is_empty() { "=" } else { ir })?;
                }
            }
            Command::Retr(n) | Command::Dele(n) => arg(out, &n.to_string())?,
            _ => {}
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// Fuzzing entry point: decodes POP3 responses from arbitrary bytes. Not API.
#[doc(hidden)]
pub fn fuzz_response(data: &[u8]) {
    let limits = Limits::default()
        .with_max_line(1024)
        .with_max_reply_lines(64);
    if let Ok((_, used)) = decode_status(data, &limits) {
        assert!(used <= data.len());
        let rest = &data[used..];
        let _ = decode_lines(rest, &limits);
        let mut whole = MultilineDecoder::new(1 << 20);
        let mut a = Vec::new();
        let used_whole = whole.decode(rest, &mut a);
        // Fed one byte at a time (keeping what it leaves), the result is the same.
        let mut bytewise = MultilineDecoder::new(1 << 20);
        let mut b = Vec::new();
        let mut pending = Vec::new();
        for &byte in rest {
            if bytewise.is_done() {
                break;
            }
            pending.push(byte);
            if let Ok(n) = bytewise.decode(&pending, &mut b) {
                pending.drain(..n);
            }
        }
        if used_whole.is_ok() && whole.is_done() {
            assert_eq!(a, b);
        }
    }
    let _ = DecodeError::Incomplete;
    fuzz_session(data, &limits);
}

/// Fuzzing entry point, the round trip imap-codec's fuzzers check for IMAP: a status line
/// and the multi-line body after it that decode are encoded again ([`Status::encode`],
/// [`encode_lines`]), and the encodings decode to equal values, using all of them. Not API.
#[doc(hidden)]
pub fn fuzz_response_roundtrip(data: &[u8]) {
    let limits = Limits::default()
        .with_max_line(1024)
        .with_max_reply_lines(64);
    // U+FFFD for one invalid byte takes three; a stuffed dot one more.
    let again_limits = limits.with_max_line(3 * 1024 + 8);
    let Ok((status, used)) = decode_status(data, &limits) else {
        return;
    };
    let mut encoded = Vec::new();
    let Ok(()) = status.encode(&mut encoded) else {
        panic!("a decoded status does not encode: {status:?}");
    };
    assert_eq!(
        decode_status(&encoded, &again_limits),
        Ok((status, encoded.len())),
        "decode(encode(x)) != x"
    );
    let Ok((lines, _)) = decode_lines(&data[used..], &limits) else {
        return;
    };
    let mut encoded = Vec::new();
    let Ok(()) = encode_lines(&lines, &mut encoded) else {
        panic!("decoded lines do not encode: {lines:?}");
    };
    assert_eq!(
        decode_lines(&encoded, &again_limits),
        Ok((lines, encoded.len())),
        "decode(encode(x)) != x"
    );
}

/// Plays `data` as everything a server says to a whole session (STLS, login, UIDL, RETR,
/// QUIT), fed in pieces: the session must end or ask for more, never panic.
fn fuzz_session(data: &[u8], limits: &Limits) {
    use secrecy::SecretString;
    let mut s = Session::new(crate::Security::StartTls, *limits);
    let mut chunks = data.chunks(5);
    let mut next_op = 0;
    for _ in 0..10_000 {
        let action = match s.next_action() {
            Ok(a) => a,
            Err(_) => return,
        };
        match action {
            Action::Send(_) | Action::Data(_) => {}
            Action::NeedMore => match chunks.next() {
                Some(c) if s.feed(c).is_ok() => {}
                _ => return,
            },
            Action::StartTls => {
                if s.tls_established().is_err() {
                    return;
                }
            }
            Action::Done(_) => {
                let started = match next_op {
                    0 => s.login("u", &SecretString::from("p".to_string())),
                    1 => s.lines(&Command::Uidl),
                    2 => s.retr(1),
                    3 => s.simple(&Command::Quit),
                    _ => return,
                };
                next_op += 1;
                if started.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_lines_encode_and_round_trip() {
        let mut out = Vec::new();
        let st = Status {
            ok: false,
            text: "no".into(),
        };
        st.encode(&mut out).unwrap();
        assert_eq!(out, b"-ERR no\r\n");
        let lines: Vec<String> = vec![".dot".into(), ".".into(), String::new(), "x\r".into()];
        let mut body = Vec::new();
        encode_lines(&lines, &mut body).unwrap();
        assert_eq!(body, b"..dot\r\n..\r\n\r\nx\r\r\n.\r\n");
        assert_eq!(
            decode_lines(&body, &Limits::default()),
            Ok((lines, body.len()))
        );
        assert!(encode_lines(&["a\nb".into()], &mut body).is_err());
        for data in [
            &b"+OK 2 messages\r\n1 120\r\n..x\r\n.\r\n"[..],
            b"+\r\n",
            b"+ \xffchallenge\r\n",
            b"-ERR\r\n.\r\n",
        ] {
            fuzz_response_roundtrip(data);
        }
    }

    #[test]
    fn status_lines() {
        let l = Limits::default();
        let (s, n) = decode_status(b"+OK Dovecot ready.\r\nX", &l).unwrap();
        assert!(s.ok && s.text == "Dovecot ready." && n == 20);
        assert!(!decode_status(b"-ERR [AUTH] bad\r\n", &l).unwrap().0.ok);
        assert!(decode_status(b"+OK\r\n", &l).unwrap().0.ok);
        assert_eq!(decode_status(b"+OK", &l), Err(DecodeError::Incomplete));
        assert!(matches!(
            decode_status(b"OK\r\n", &l),
            Err(DecodeError::Failed(_))
        ));
        assert!(matches!(
            decode_status(b"+OKAY\r\n", &l),
            Err(DecodeError::Failed(_))
        ));
    }

    #[test]
    fn short_multiline() {
        let l = Limits::default();
        let (lines, n) = decode_lines(b"TOP\r\nUIDL\r\nSTLS\r\n.\r\nrest", &l).unwrap();
        assert_eq!(
            (lines, n),
            (vec!["TOP".into(), "UIDL".into(), "STLS".into()], 20)
        );
        assert_eq!(decode_lines(b"TOP\r\n", &l), Err(DecodeError::Incomplete));
        let l2 = l.with_max_reply_lines(1);
        assert!(matches!(
            decode_lines(b"a\r\nb\r\n.\r\n", &l2),
            Err(DecodeError::Failed(ProtocolError::ReplyTooLong { .. }))
        ));
    }

    fn unstuff(chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut d = MultilineDecoder::new(1000);
        let mut out = Vec::new();
        let mut pending = Vec::new();
        for c in chunks {
            pending.extend_from_slice(c);
            let n = d.decode(&pending, &mut out).unwrap();
            pending.drain(..n);
        }
        (out, d.is_done())
    }

    #[test]
    fn dot_unstuffing_any_split() {
        let wire: &[u8] = b"..a\r\n..\r\nb\r\n...\r\n. \r\n.\r\nafter";
        let want: &[u8] = b".a\r\n.\r\nb\r\n..\r\n \r\n";
        for i in 0..wire.len() {
            for j in i..wire.len() {
                assert_eq!(
                    unstuff(&[&wire[..i], &wire[i..j], &wire[j..]]),
                    (want.to_vec(), true),
                    "{i} {j}"
                );
            }
        }
        assert_eq!(unstuff(&[b"abc\r\n."]), (b"abc\r\n".to_vec(), false));
        let mut d = MultilineDecoder::new(4);
        assert!(matches!(
            d.decode(b"abcdef\r\n.\r\n", &mut Vec::new()),
            Err(ProtocolError::MessageTooLarge { limit: 4 })
        ));
        fuzz_response(b"+OK\r\n..x\r\n.\r\n");
    }
    #[test]
    fn session_survives_mutated_scripts() {
        // A valid dialogue, then thousands of mutations of it (bytes flipped, cut, repeated):
        // the session never panics.
        let script: &[u8] = b"+OK ready\r\n+OK\r\nSTLS\r\n.\r\n+OK go\r\n+OK\r\nSASL PLAIN\r\n.\r\n+OK in\r\n+OK\r\n.\r\n+OK\r\n1 a\r\n.\r\n+OK\r\n..x\r\n.\r\n+OK bye\r\n";
        crate::proto::testing::mutations(script, 3000, fuzz_response);
    }
}
