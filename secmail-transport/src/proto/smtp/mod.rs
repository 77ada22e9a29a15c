//! SMTP (RFC 5321) as used for submission (RFC 6409): replies, EHLO extensions, commands and
//! the DATA encoder (dot-stuffing, CRLF). Sans-I/O.
//!
//! The reply grammar is small and line-oriented, so it is written here by hand; there is no
//! well-kept Rust crate for the client side of SMTP's grammar that works sans-I/O with limits.
//!
//! ```text
//! Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
//!                  Reply-code [ SP textstring ] CRLF          ; RFC 5321 4.2
//! Reply-code     = %x32-35 %x30-35 %x30-39
//! ```

use crate::error::ProtocolError;
use crate::limits::Limits;
use crate::proto::{DecodeError, Decoded, is_safe_arg, split_line};

mod session;

pub use session::{Action, Envelope, Outcome, SendReport, Session};

/// One SMTP reply: its code and its text lines (without the code and separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code, e.g. 250.
    pub code: u16,
    /// The text of each line, lossily decoded as UTF-8.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    /// 3xx (e.g. 354 after DATA, 334 in AUTH).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
    /// The enhanced status code (RFC 3463, announced by ENHANCEDSTATUSCODES, RFC 2034) at the
    /// start of the reply's first line, e.g. `5.1.1` (bad destination mailbox address).
    /// `None` when the text does not start with one, or when its class disagrees with the
    /// reply code's first digit (RFC 2034 3 requires them to agree).
    pub fn enhanced_code(&self) -> Option<EnhancedCode> {
        let code = EnhancedCode::parse_prefix(self.lines.first()?)?;
        (u16::from(code.class) == self.code / 100).then_some(code)
    }

    /// The text of the first line without its enhanced status code, if it had one.
    pub fn text(&self) -> &str {
        let first = self.lines.first().map_or("", String::as_str);
        match EnhancedCode::parse_prefix(first) {
            Some(_) => first
                .split_once(' ')
                .map_or("", |(_, rest)| rest.trim_start()),
            None => first,
        }
    }

    /// Encodes the reply as a server sends it (`250-first` … `250 last`, CRLF after each
    /// line), for scripted peers and the round-trip fuzz target. [`decode_reply`] gives the
    /// same reply back, given a line limit that fits (an invalid UTF-8 byte decoded as
    /// U+FFFD takes three bytes when encoded). A reply without lines encodes as one empty
    /// line. Refused if the code is not 200–599 or a line holds a line feed.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), crate::Error> {
        if !(200..600).contains(&self.code) {
            return Err(crate::Error::Misuse(
                "an SMTP reply code is 200 to 599".into(),
            ));
        }
        if self.lines.iter().any(|l| l.contains('\n')) {
            return Err(crate::Error::Misuse(
                "an SMTP reply line holds a line feed".into(),
            ));
        }
        let last = self.lines.len().saturating_sub(1);
        let empty = [String::new()];
        let lines = if self.lines.is_empty() {
            &empty[..]
        } else {
            &self.lines[..]
        };
        for (i, line) in lines.iter().enumerate() {
            out.extend_from_slice(self.code.to_string().as_bytes());
            out.push(if i == last { b' ' } else { b'-' });
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Ok(())
    }

    /// The reply as one line, for error messages: `550 5.1.1 no such user`.
    pub fn summary(&self) -> String {
        let text = self.lines.join(" / ");
        let text: String = text.chars().take(300).collect();
        format!("{} {}", self.code, text)
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

/// An enhanced mail system status code (RFC 3463 2):
///
/// ```text
/// status-code = class "." subject "." detail
/// class       = "2" / "4" / "5"              ; success, persistent / permanent failure
/// subject     = 1*3digit                     ; e.g. 1 = addressing, 7 = security
/// detail      = 1*3digit
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject: 0 other, 1 addressing, 2 mailbox, 3 mail system, 4 network and routing,
    /// 5 mail delivery protocol, 6 message content, 7 security or policy.
    pub subject: u16,
    /// The detail within the subject, e.g. 1 in 5.1.1 (bad destination mailbox address).
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses the code at the start of `text`, which must be followed by a space or end there.
    pub fn parse_prefix(text: &str) -> Option<EnhancedCode> {
        let word = text.split(' ').next()?;
        let mut parts = word.split('.');
        let class = match parts.next()? {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return None,
        };
        let num = |p: Option<&str>| -> Option<u16> {
            let p = p?;
            if (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().ok()
            } else {
                None
            }
        };
        let subject = num(parts.next())?;
        let detail = num(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        Some(EnhancedCode {
            class,
            subject,
            detail,
        })
    }

    /// True for class 4: the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        self.class == 4
    }
}

impl std::fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// Decodes one complete reply from the front of `buf`.
pub fn decode_reply(buf: &[u8], limits: &Limits) -> Decoded<Reply> {
    let mut pos = 0;
    let mut code = None;
    let mut lines = Vec::new();
    loop {
        if lines.len() >= limits.max_reply_lines {
            return Err(ProtocolError::ReplyTooLong {
                limit: limits.max_reply_lines,
            }
            .into());
        }
        let (line, used) = split_line(&buf[pos..], limits.max_line)?;
        pos += used;
        if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
            return Err(ProtocolError::malformed("SMTP reply", line).into());
        }
        let this = u16::from(line[0] - b'0') * 100
            + u16::from(line[1] - b'0') * 10
            + u16::from(line[2] - b'0');
        if !(200..600).contains(&this) {
            return Err(ProtocolError::malformed("SMTP reply code", line).into());
        }
        if *code.get_or_insert(this) != this {
            return Err(
                ProtocolError::malformed("SMTP multi-line reply (code changed)", line).into(),
            );
        }
        let (last, text) = match line.get(3) {
            None => (true, &[][..]),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return Err(ProtocolError::malformed("SMTP reply", line).into()),
        };
        lines.push(String::from_utf8_lossy(text).into_owned());
        if last {
            return Ok((Reply { code: this, lines }, pos));
        }
    }
}

/// A byte-fed reply reader: push what the connection gave, pull complete replies.
#[derive(Debug, Default)]
pub struct ReplyReader {
    buf: Vec<u8>,
    limits: Limits,
}

impl ReplyReader {
    /// An empty reader with these limits.
    pub fn new(limits: Limits) -> Self {
        ReplyReader {
            buf: Vec::new(),
            limits,
        }
    }
    /// Adds bytes received from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
    /// The next complete reply, `Ok(None)` if more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ProtocolError> {
        match decode_reply(&self.buf, &self.limits) {
            Ok((reply, used)) => {
                self.buf.drain(..used);
                Ok(Some(reply))
            }
            Err(DecodeError::Incomplete) => Ok(None),
            Err(DecodeError::Failed(e)) => Err(e),
        }
    }
    /// Bytes received but not yet part of a reply. Before a TLS upgrade these must be thrown
    /// away (the STARTTLS command-injection class): see [`ReplyReader::discard`].
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
    /// Throws away every buffered byte.
    pub fn discard(&mut self) {
        self.buf.clear();
    }
}

/// The SMTP service extensions a server announced in its EHLO reply (RFC 5321 4.1.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `PIPELINING` (RFC 2920).
    pub pipelining: bool,
    /// `8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub enhanced_status_codes: bool,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `SIZE` (RFC 1870): `Some(0)` means no fixed limit.
    pub size: Option<u64>,
    /// `AUTH` mechanisms (RFC 4954), upper case.
    pub auth: Vec<String>,
}

impl Extensions {
    /// Reads the extensions from an EHLO reply (its first line is the greeting, skipped).
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut ext = Extensions::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => ext.starttls = true,
                "PIPELINING" => ext.pipelining = true,
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "ENHANCEDSTATUSCODES" => ext.enhanced_status_codes = true,
                "REQUIRETLS" => ext.requiretls = true,
                "SIZE" => ext.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "AUTH" => ext.auth = words.map(|m| m.to_ascii_uppercase()).collect(),
                _ => {}
            }
        }
        ext
    }

    /// True if the server offers this AUTH mechanism.
    pub fn offers_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

/// A client command. Encoding refuses arguments with CR, LF or NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `EHLO name`.
    Ehlo(&'a str),
    /// `STARTTLS`.
    StartTls,
    /// `AUTH mechanism [initial-response]`; the response is already base64.
    Auth {
        /// The SASL mechanism.
        mechanism: &'a str,
        /// The base64 initial response (RFC 4954), if any.
        initial: Option<&'a str>,
    },
    /// A base64 line answering a 334 challenge.
    AuthResponse(&'a str),
    /// `MAIL FROM:<addr> params…`.
    MailFrom {
        /// The reverse path (may be empty: the null sender).
        from: &'a str,
        /// ESMTP parameters such as `BODY=8BITMIME`, `SIZE=n`, `SMTPUTF8`, `REQUIRETLS`.
        params: &'a [String],
    },
    /// `RCPT TO:<addr>`.
    RcptTo(&'a str),
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

impl Command<'_> {
    /// The command's verb, for error messages.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } | Command::AuthResponse(_) => "AUTH",
            Command::MailFrom { .. } => "MAIL FROM",
            Command::RcptTo(_) => "RCPT TO",
            Command::Data => "DATA",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
        }
    }

    /// Appends the command line, CRLF included, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), crate::Error> {
        let check = |s: &str| {
            if is_safe_arg(s) && !s.contains(['<', '>']) {
                Ok(())
            } else {
                Err(crate::Error::Misuse(format!(
                    "{} argument contains a line break, NUL or angle bracket",
                    self.verb()
                )))
            }
        };
        match self {
            Command::Ehlo(name) => {
                check(name)?;
                out.extend_from_slice(b"EHLO ");
                out.extend_from_slice(name.as_bytes());
            }
            Command::StartTls => out.extend_from_slice(b"STARTTLS"),
            Command::Auth { mechanism, initial } => {
                check(mechanism)?;
                out.extend_from_slice(b"AUTH ");
                out.extend_from_slice(mechanism.as_bytes());
                if let Some(ir) = initial {
                    check(ir)?;
                    out.push(b' ');
                    // RFC 4954: an empty initial response is sent as "=".
                    out.extend_from_slice(if ir.is_empty() { b"=" } else { ir.as_bytes() });
                }
            }
            Command::AuthResponse(r) => {
                check(r)?;
                out.extend_from_slice(r.as_bytes());
            }
            Command::MailFrom { from, params } => {
                check(from)?;
                out.extend_from_slice(b"MAIL FROM:<");
                out.extend_from_slice(from.as_bytes());
                out.push(b'>');
                for p in params.iter() {
                    check(p)?;
                    out.push(b' ');
                    out.extend_from_slice(p.as_bytes());
                }
            }
            Command::RcptTo(to) => {
                check(to)?;
                out.extend_from_slice(b"RCPT TO:<");
                out.extend_from_slice(to.as_bytes());
                out.push(b'>');
            }
            Command::Data => out.extend_from_slice(b"DATA"),
            Command::Rset => out.extend_from_slice(b"RSET"),
            Command::Noop => out.extend_from_slice(b"NOOP"),
            Command::Quit => out.extend_from_slice(b"QUIT"),
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// Streaming encoder of a message for DATA (RFC 5321 4.5.2): every line ending becomes CRLF
/// (a bare LF or bare CR is turned into CRLF, as RFC 5321 2.3.8 forbids them), a `.` at the
/// start of a line is doubled, and [`DataEncoder::finish`] ends the last line and adds the
/// `.` CRLF terminator.
#[derive(Debug, Clone)]
pub struct DataEncoder {
    at_line_start: bool,
    pending_cr: bool,
}

impl Default for DataEncoder {
    fn default() -> Self {
        DataEncoder {
            at_line_start: true,
            pending_cr: false,
        }
    }
}

impl DataEncoder {
    /// A fresh encoder (at the start of a line).
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `input`, appending to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64 + 4);
        while !input.is_empty() {
            if self.pending_cr {
                self.pending_cr = false;
                out.extend_from_slice(b"\r\n");
                self.at_line_start = true;
                if input[0] == b'\n' {
                    input = &input[1..];
                    continue;
                }
            }
            if self.at_line_start && input[0] == b'.' {
                out.push(b'.');
            }
            // Copy the run up to the next line-ending byte in one go.
            match memchr::memchr2(b'\r', b'\n', input) {
                None => {
                    out.extend_from_slice(input);
                    self.at_line_start = false;
                    return;
                }
                Some(i) => {
                    out.extend_from_slice(&input[..i]);
                    if input[i] == b'\r' {
                        self.pending_cr = true;
                        self.at_line_start = false;
                    } else {
                        out.extend_from_slice(b"\r\n");
                        self.at_line_start = true;
                    }
                    input = &input[i + 1..];
                }
            }
        }
    }

    /// Ends the message: completes the last line and appends `.` CRLF.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            self.pending_cr = false;
            out.extend_from_slice(b"\r\n");
            self.at_line_start = true;
        }
        if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.at_line_start = true;
    }
}

/// What a message looks like on the wire after [`DataEncoder`] and before the terminator,
/// i.e. what a server stores: line endings made CRLF, the last line ended. Handy to compare
/// what was sent with what was fetched.
pub fn canonical_crlf(message: &[u8]) -> Vec<u8> {
    let mut enc = DataEncoder::new();
    let mut out = Vec::new();
    enc.push(message, &mut out);
    enc.finish(&mut out);
    out.truncate(out.len() - 3);
    // Undo the dot-stuffing: only the line endings were asked for.
    let mut plain = Vec::with_capacity(out.len());
    let mut start = true;
    let mut i = 0;
    while i < out.len() {
        if start && out[i] == b'.' {
            i += 1;
        }
        let end = memchr::memchr(b'\n', &out[i..]).map_or(out.len(), |n| i + n + 1);
        plain.extend_from_slice(&out[i..end]);
        start = true;
        i = end;
    }
    plain
}

/// Fuzzing entry point: decodes SMTP replies from arbitrary bytes. Not API.
#[doc(hidden)]
pub fn fuzz_reply(data: &[u8]) {
    let limits = Limits::default()
        .with_max_line(1024)
        .with_max_reply_lines(64);
    let mut buf = data;
    while let Ok((reply, used)) = decode_reply(buf, &limits) {
        assert!(used > 0 && used <= buf.len());
        let _ = Extensions::from_ehlo(&reply);
        buf = &buf[used..];
    }
    fuzz_session(data, &limits);
    let mut enc = DataEncoder::new();
    let mut out = Vec::new();
    enc.push(data, &mut out);
    enc.finish(&mut out);
    // The encoded body never contains the terminator before its end.
    assert!(!out[..out.len() - 3].windows(5).any(|w| w == b"\r\n.\r\n"));
}

/// Fuzzing entry point, the round trip imap-codec's fuzzers check for IMAP: every reply
/// that decodes is encoded again ([`Reply::encode`]), and the encoding decodes to an equal
/// reply, using all of it. Not API.
#[doc(hidden)]
pub fn fuzz_reply_roundtrip(data: &[u8]) {
    let limits = Limits::default()
        .with_max_line(1024)
        .with_max_reply_lines(64);
    // U+FFFD for one invalid byte takes three: room for the encoding of any decoded line.
    let again_limits = limits.with_max_line(3 * 1024 + 4);
    let mut buf = data;
    while let Ok((reply, used)) = decode_reply(buf, &limits) {
        let mut encoded = Vec::new();
        let Ok(()) = reply.encode(&mut encoded) else {
            panic!("a decoded reply does not encode: {reply:?}");
        };
        match decode_reply(&encoded, &again_limits) {
            Ok((again, n)) => {
                assert_eq!(reply, again, "decode(encode(x)) != x");
                assert_eq!(n, encoded.len(), "the encoding is one reply");
            }
            Err(e) => panic!("cannot decode the encoding {encoded:?}: {e:?}"),
        }
        buf = &buf[used..];
    }
}

/// Plays `data` as everything a server says to a whole session (STARTTLS, login, one
/// message, QUIT), fed in pieces: whatever the bytes, the session must end or ask for more,
/// never panic.
fn fuzz_session(data: &[u8], limits: &Limits) {
    use secrecy::SecretString;
    let mut s = Session::new("fuzz", crate::Security::StartTls, *limits);
    let mut chunks = data.chunks(7);
    let mut next_op = 0;
    for _ in 0..10_000 {
        let action = match s.next_action() {
            Ok(a) => a,
            Err(_) => return,
        };
        match action {
            Action::Send(_) => {}
            Action::NeedMore => match chunks.next() {
                Some(c) if s.feed(c).is_ok() => {}
                _ => return,
            },
            Action::StartTls => {
                if s.tls_established().is_err() {
                    return;
                }
            }
            Action::NeedBody => {
                if s.push_body(b".x\n").is_err() || s.finish_body().is_err() {
                    return;
                }
            }
            Action::Done(outcome) => {
                if let Outcome::Sent(report) = &outcome {
                    assert!(!report.accepted.is_empty());
                }
                let started = match next_op {
                    0 => s.login("u", &SecretString::from("p".to_string())),
                    1 => s.send(&Envelope::new("a@x", ["b@y", "c@y"]), Some(3)),
                    2 => s.quit(),
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

    fn lim() -> Limits {
        Limits::default()
    }

    #[test]
    fn reply_encodes_and_round_trips() {
        let r = Reply {
            code: 250,
            lines: vec!["first".into(), String::new(), "last\r".into()],
        };
        let mut out = Vec::new();
        r.encode(&mut out).unwrap();
        assert_eq!(out, b"250-first\r\n250-\r\n250 last\r\r\n");
        assert_eq!(decode_reply(&out, &Limits::default()), Ok((r, out.len())));
        let mut out = Vec::new();
        assert!(
            Reply {
                code: 199,
                lines: vec![]
            }
            .encode(&mut out)
            .is_err()
        );
        assert!(
            Reply {
                code: 250,
                lines: vec!["a\nb".into()]
            }
            .encode(&mut out)
            .is_err()
        );
        Reply {
            code: 354,
            lines: vec![],
        }
        .encode(&mut out)
        .unwrap();
        assert_eq!(out, b"354 \r\n");
        for data in [
            &b"250-a\r\n250 \xff\xfe\r\n220 x\r\n"[..],
            b"250\r\n",
            b"550 5.1.1 no\rsuch\r\n",
        ] {
            fuzz_reply_roundtrip(data);
        }
    }

    #[test]
    fn single_and_multi_line_replies() {
        let (r, n) = decode_reply(b"220 mx ESMTP\r\nextra", &lim()).unwrap();
        assert_eq!(
            (r.code, r.lines.clone(), n),
            (220, vec!["mx ESMTP".into()], 14)
        );
        let ehlo = b"250-localhost\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-AUTH PLAIN login\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
        let (r, n) = decode_reply(ehlo, &lim()).unwrap();
        assert_eq!(n, ehlo.len());
        let e = Extensions::from_ehlo(&r);
        assert!(e.pipelining && e.starttls && e.eight_bit_mime && !e.smtputf8);
        assert_eq!(e.size, Some(1000));
        assert!(e.offers_auth("LOGIN") && e.offers_auth("plain") && !e.offers_auth("XOAUTH2"));
        assert_eq!(decode_reply(b"250", &lim()), Err(DecodeError::Incomplete));
        assert_eq!(
            decode_reply(b"250-a\r\n250", &lim()),
            Err(DecodeError::Incomplete)
        );
        assert_eq!(
            decode_reply(b"250\r\n", &lim()).unwrap().0.lines,
            vec![String::new()]
        );
    }

    #[test]
    fn enhanced_status_codes() {
        let r = |t: &[u8]| decode_reply(t, &lim()).unwrap().0;
        let rej = r(b"550-5.1.1 <x@y>: Recipient address rejected\r\n550 5.1.1 more\r\n");
        let code = rej.enhanced_code().unwrap();
        assert_eq!(
            (code.class, code.subject, code.detail, code.to_string()),
            (5, 1, 1, "5.1.1".to_string())
        );
        assert_eq!(rej.text(), "<x@y>: Recipient address rejected");
        assert!(!code.is_transient());
        assert!(
            r(b"451 4.7.1 try later\r\n")
                .enhanced_code()
                .unwrap()
                .is_transient()
        );
        assert_eq!(
            r(b"250 2.0.0\r\n").enhanced_code().unwrap().to_string(),
            "2.0.0"
        );
        // The class must agree with the reply code; not every dotted word is a code.
        for no in [
            &b"250 5.1.1 odd\r\n"[..],
            b"250 Ok\r\n",
            b"250 2.0 short\r\n",
            b"250 2.0.0.0 long\r\n",
            b"250 2.1234.0 wide\r\n",
            b"250 3.0.0 class\r\n",
            b"250 2.a.0 x\r\n",
            b"250\r\n",
        ] {
            assert_eq!(r(no).enhanced_code(), None, "{no:?}");
        }
        assert_eq!(r(b"250 Ok queued\r\n").text(), "Ok queued");
    }

    #[test]
    fn malformed_and_bounded_replies() {
        for bad in [
            &b"25 x\r\n"[..],
            b"2500 x\r\n",
            b"abc x\r\n",
            b"250-a\r\n251 b\r\n",
            b"100 x\r\n",
            b"250_x\r\n",
        ] {
            assert!(
                matches!(decode_reply(bad, &lim()), Err(DecodeError::Failed(_))),
                "{bad:?}"
            );
        }
        let l = lim().with_max_line(8).with_max_reply_lines(2);
        assert!(matches!(
            decode_reply(b"250 0123456789", &l),
            Err(DecodeError::Failed(ProtocolError::LineTooLong { limit: 8 }))
        ));
        assert!(matches!(
            decode_reply(b"250-a\r\n250-b\r\n250 c\r\n", &l),
            Err(DecodeError::Failed(ProtocolError::ReplyTooLong {
                limit: 2
            }))
        ));
    }

    #[test]
    fn commands_refuse_injection() {
        let mut out = Vec::new();
        Command::MailFrom {
            from: "a@b",
            params: &["BODY=8BITMIME".into()],
        }
        .encode(&mut out)
        .unwrap();
        Command::RcptTo("c@d").encode(&mut out).unwrap();
        assert_eq!(out, b"MAIL FROM:<a@b> BODY=8BITMIME\r\nRCPT TO:<c@d>\r\n");
        assert!(
            Command::RcptTo("c@d>\r\nRCPT TO:<e@f")
                .encode(&mut out)
                .is_err()
        );
        assert!(Command::Ehlo("x\ny").encode(&mut out).is_err());
    }

    fn data(input: &[&[u8]]) -> Vec<u8> {
        let mut e = DataEncoder::new();
        let mut out = Vec::new();
        for chunk in input {
            e.push(chunk, &mut out);
        }
        e.finish(&mut out);
        out
    }

    #[test]
    fn dot_stuffing_and_line_endings() {
        assert_eq!(data(&[b"a\r\n.\r\n..b\r\n"]), b"a\r\n..\r\n...b\r\n.\r\n");
        assert_eq!(data(&[b".x"]), b"..x\r\n.\r\n");
        assert_eq!(data(&[b"a\nb\rc\r\n"]), b"a\r\nb\r\nc\r\n.\r\n");
        assert_eq!(data(&[b""]), b".\r\n");
        // Split anywhere, the result is the same.
        let msg: &[u8] = b"x\r\n.\r\n.y\n\r.z\r";
        let whole = data(&[msg]);
        for i in 0..msg.len() {
            for j in i..msg.len() {
                assert_eq!(data(&[&msg[..i], &msg[i..j], &msg[j..]]), whole, "{i} {j}");
            }
        }
        assert_eq!(canonical_crlf(b".a\nb"), b".a\r\nb\r\n");
        fuzz_reply(b"250-x\r\n250 y\r\n\r\n.\r\n");
    }
    #[test]
    fn session_survives_mutated_scripts() {
        // A valid dialogue, then thousands of mutations of it (bytes flipped, cut, repeated):
        // the session never panics.
        let script: &[u8] = b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\n250-mx\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n235 ok\r\n250 ok\r\n550 5.1.1 no\r\n250 ok\r\n354 go\r\n250 2.0.0 queued\r\n221 bye\r\n";
        crate::proto::testing::mutations(script, 3000, fuzz_reply);
    }
}
