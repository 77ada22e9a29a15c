//! IMAP (RFC 3501 / RFC 9051), client side: response framing, command encoding, and the
//! response grammar through [imap-codec](https://docs.rs/imap-codec).
//!
//! The split follows imap-next: framing (lines and literals, with limits) is done here, then a
//! complete frame goes to imap-codec's `ResponseCodec`, which owns the grammar (nested
//! structures, quoted strings, FETCH items). The framer is ours rather than imap-codec's
//! `Fragmentizer` because that one bounds only the whole message, while this crate bounds a
//! line ([`Limits::max_line`]) and a literal ([`Limits::max_message`]) separately, and does
//! not copy the bytes.
//!
//! ```text
//! response  = *(continue-req / response-data) response-done        ; RFC 3501 7
//! literal   = "{" number ["+"] "}" CRLF *CHAR8                      ; number = octet count
//! ```
//!
//! Commands are encoded by hand: this client sends few, simple commands, and the driver must
//! decide per string whether it goes quoted, as a LITERAL+ or as a synchronizing literal.

use imap_codec::ResponseCodec;
use imap_codec::decode::{Decoder, ResponseDecodeError};
use imap_codec::imap_types::response::Response;

use crate::error::ProtocolError;
use crate::limits::Limits;
use crate::proto::{DecodeError, Decoded, split_line};

mod session;

pub use session::{Action, Outcome, Part, Session};

/// Finds the end of the first complete response in `buf` (its lines and literals) and returns
/// its length.
pub fn frame(buf: &[u8], limits: &Limits) -> Decoded<usize> {
    let mut pos = 0;
    let mut lines = 0;
    loop {
        let (line, used) = split_line(&buf[pos..], limits.max_line)?;
        pos += used;
        lines += 1;
        if lines > limits.max_reply_lines {
            return Err(ProtocolError::ReplyTooLong {
                limit: limits.max_reply_lines,
            }
            .into());
        }
        match literal_length(line)? {
            None => return Ok((pos, pos)),
            Some(n) => {
                if n > limits.max_message {
                    return Err(ProtocolError::MessageTooLarge {
                        limit: limits.max_message,
                    }
                    .into());
                }
                let n = usize::try_from(n).map_err(|_| ProtocolError::MessageTooLarge {
                    limit: limits.max_message,
                })?;
                if buf.len() - pos < n {
                    return Err(DecodeError::Incomplete);
                }
                pos += n;
            }
        }
    }
}

/// The length of the literal announced at the end of a line: `{123}` or `{123+}`.
pub(crate) fn literal_length(line: &[u8]) -> Result<Option<u64>, ProtocolError> {
    let Some(inner) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let Some(open) = memchr::memrchr(b'{', inner) else {
        return Ok(None);
    };
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        // `}` at the end of a line that is not a literal (text of a status response).
        return Ok(None);
    }
    let mut n: u64 = 0;
    for d in digits {
        n = n * 10 + u64::from(d - b'0');
    }
    Ok(Some(n))
}

/// Decodes one complete frame (as found by [`frame`]) with imap-codec.
pub fn decode_response<'a>(frame: &'a [u8]) -> Result<Response<'a>, ProtocolError> {
    match ResponseCodec::default().decode(frame) {
        Ok((&[], response)) => Ok(response),
        Ok(_) | Err(ResponseDecodeError::Failed) | Err(ResponseDecodeError::Incomplete) => {
            Err(ProtocolError::malformed("IMAP response", frame))
        }
        Err(ResponseDecodeError::LiteralFound { .. }) => Err(ProtocolError::malformed(
            "IMAP response (unexpected literal)",
            frame,
        )),
    }
}

/// Appends an IMAP string argument: quoted when it can be, else `None` (the caller must send
/// it as a literal).
pub fn quoted(s: &[u8], out: &mut Vec<u8>) -> bool {
    // RFC 3501 9: quoted = DQUOTE *QUOTED-CHAR DQUOTE, QUOTED-CHAR = any TEXT-CHAR except
    // quoted-specials, or "\" quoted-specials; TEXT-CHAR = any CHAR except CR and LF.
    if s.len() > 1024
        || s.iter()
            .any(|&b| b == 0 || b == b'\r' || b == b'\n' || b >= 0x80)
    {
        return false;
    }
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    true
}

/// Fuzzing entry point: frames and decodes IMAP responses from arbitrary bytes. Not API.
#[doc(hidden)]
pub fn fuzz_response(data: &[u8]) {
    let limits = Limits::default()
        .with_max_line(4096)
        .with_max_reply_lines(64)
        .with_max_message(1 << 20);
    let mut buf = data;
    while let Ok((len, _)) = frame(buf, &limits) {
        assert!(len > 0 && len <= buf.len());
        let _ = decode_response(&buf[..len]);
        buf = &buf[len..];
    }
    fuzz_session(data, &limits);
}

/// Plays `data` as everything a server says to a whole session (STARTTLS, LOGIN with a
/// literal, SELECT, UID FETCH, IDLE, LOGOUT), fed in pieces: the session must end or ask for
/// more, never panic.
fn fuzz_session(data: &[u8], limits: &Limits) {
    let mut s = Session::new(crate::Security::StartTls, *limits);
    let mut chunks = data.chunks(9);
    let mut next_op = 0;
    for _ in 0..10_000 {
        let action = match s.next_action() {
            Ok(a) => a,
            Err(_) => return,
        };
        match action {
            Action::Send(_) | Action::Data(_) | Action::Literal(_) => {}
            Action::NeedMore => match chunks.next() {
                Some(c) if s.feed(c).is_ok() => {}
                _ if s.is_idling() => {
                    if s.idle_done().is_err() {
                        return;
                    }
                }
                _ => return,
            },
            Action::StartTls => {
                if s.tls_established().is_err() {
                    return;
                }
            }
            Action::Done(_) => {
                let started = match next_op {
                    0 => s.login(b"u", "p\u{e4}".as_bytes()),
                    1 => s.command(&[Part::Text(b"SELECT "), Part::String(b"INBOX")], "SELECT"),
                    2 => {
                        s.fetch_streaming(&[Part::Text(b"UID FETCH 1 (BODY.PEEK[])")], "UID FETCH")
                    }
                    3 => s.idle(),
                    4 => s.command(&[Part::Text(b"LOGOUT")], "LOGOUT"),
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

/// Fuzzing entry point, the round trip imap-codec's own fuzzers check: every response that
/// decodes is encoded again (imap-codec's encoder), and the encoding frames as one response
/// and decodes to an equal value. Not API.
#[doc(hidden)]
pub fn fuzz_response_roundtrip(data: &[u8]) {
    use imap_codec::encode::Encoder;

    let limits = Limits::default()
        .with_max_line(4096)
        .with_max_reply_lines(64)
        .with_max_message(1 << 20);
    let mut buf = data;
    while let Ok((len, _)) = frame(buf, &limits) {
        if let Ok(first) = decode_response(&buf[..len]) {
            let encoded = ResponseCodec::default().encode(&first).dump();
            let Ok(again) = decode_response(&encoded) else {
                panic!("imap-codec cannot decode its own encoding: {encoded:?}");
            };
            assert_eq!(first, again, "decode(encode(x)) != x");
        }
        buf = &buf[len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::imap_types::response::{Data, Status};

    #[test]
    fn framing_with_literals() {
        let l = Limits::default();
        let fetch = b"* 1 FETCH (UID 7 BODY[] {5}\r\nab\r\nc RFC822.SIZE 5)\r\nA1 OK done\r\n";
        let (n, _) = frame(fetch, &l).unwrap();
        assert_eq!(&fetch[n..], b"A1 OK done\r\n");
        match decode_response(&fetch[..n]).unwrap() {
            Response::Data(Data::Fetch { items, .. }) => assert_eq!(items.as_ref().len(), 3),
            other => panic!("{other:?}"),
        }
        assert_eq!(frame(&fetch[..30], &l), Err(DecodeError::Incomplete));
        assert!(matches!(
            decode_response(b"A1 OK done\r\n").unwrap(),
            Response::Status(Status::Tagged(_))
        ));
        // A literal larger than the limit is refused before any byte of it arrives.
        assert!(matches!(
            frame(
                b"* 1 FETCH (BODY[] {99999999}\r\n",
                &l.with_max_message(1000)
            ),
            Err(DecodeError::Failed(ProtocolError::MessageTooLarge {
                limit: 1000
            }))
        ));
        // A "}" in text is not a literal.
        assert_eq!(frame(b"* OK {not}\r\n", &l), Ok((12, 12)));
        fuzz_response(fetch);
    }

    #[test]
    fn quoting() {
        let mut out = Vec::new();
        assert!(quoted(b"a\"b\\c", &mut out));
        assert_eq!(out, b"\"a\\\"b\\\\c\"");
        assert!(!quoted(b"a\r\nb", &mut out));
        assert!(!quoted("é".as_bytes(), &mut out));
    }
    #[test]
    fn session_survives_mutated_scripts() {
        // A valid dialogue, then thousands of mutations of it (bytes flipped, cut, repeated):
        // the session never panics.
        let script: &[u8] = b"* OK ready\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\nS1 OK done\r\nS2 OK go\r\n* CAPABILITY IMAP4rev1 IDLE\r\nS3 OK done\r\n+ go\r\nS4 OK in\r\n* CAPABILITY IMAP4rev1 IDLE\r\nS5 OK c\r\n* 1 EXISTS\r\nS6 OK sel\r\n* 1 FETCH (UID 1 BODY[] {3}\r\nabc)\r\nS7 OK f\r\n+ idling\r\nS8 OK i\r\n* BYE x\r\nS9 OK o\r\n";
        crate::proto::testing::mutations(script, 3000, fuzz_response);
    }
}
