//! Canonicalisation of a MIME entity for signing (RFC 3156 §3 and §5, RFC 8551 §3.1.1).
//!
//! What is signed must survive any mail transport unchanged, so the signer puts it in a form
//! that transports leave alone, and the verifier sees the same bytes:
//!
//! - every line ends in CRLF (RFC 8551 §3.1.1, RFC 3156 §5);
//! - every body is 7-bit: 8-bit and binary content, lines over 998 octets and bare CRs are
//!   re-encoded, text to quoted-printable and anything else to base64 (RFC 3156 §3, RFC 8551
//!   §3.1.3), with `Content-Transfer-Encoding` updated to match;
//! - no line ends in whitespace, which some transports strip (RFC 3156 §3): header lines lose
//!   it, bodies with it are quoted-printable encoded (which encodes such whitespace);
//! - no body line begins with `From `, which mbox storage turns into `>From ` (RFC 3156 §3):
//!   quoted-printable writes the `F` as `=46`.
//!
//! Preambles and epilogues of multiparts are kept when they are already safe and dropped when
//! they are not (no reader shows them). A multipart without its close delimiter gets one.
//!
//! Canonicalisation is idempotent: the canonical form of a canonical entity is itself.
//!
//! Verification does not canonicalise: it checks the bytes as received, with only the line
//! endings converted ([`to_crlf`]).

use super::parse::line_at;
use super::{Body, Message, Part, TransferEncoding};
use crate::error::{Error, Result};
use crate::limits::Limits;

/// The longest line RFC 5322 §2.1.1 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// The canonical form of a MIME entity (a header section and a body) for signing, with the
/// default [`Limits`].
///
/// ```
/// let part = b"Content-Type: text/plain; charset=utf-8\n\nFrom here, caf\xc3\xa9 \nbye\n";
/// let canon = secmail_core::mime::canonicalize(part)?;
/// assert_eq!(
///     canon,
///     b"Content-Type: text/plain; charset=utf-8\r\n\
///       Content-Transfer-Encoding: quoted-printable\r\n\r\n\
///       =46rom here, caf=C3=A9=20\r\nbye\r\n"
/// );
/// assert_eq!(secmail_core::mime::canonicalize(&canon)?, canon);
/// # Ok::<(), secmail_core::Error>(())
/// ```
pub fn canonicalize(entity: &[u8]) -> Result<Vec<u8>> {
    canonicalize_with_limits(entity, &Limits::default())
}

/// [`canonicalize`] with explicit [`Limits`].
pub fn canonicalize_with_limits(entity: &[u8], limits: &Limits) -> Result<Vec<u8>> {
    let msg = Message::parse_with_limits(entity.to_vec(), limits)?;
    let mut out = Vec::with_capacity(entity.len() + entity.len() / 16 + 64);
    // An explicit stack instead of recursion: the depth is bounded by the limits, but the
    // stack is the caller's.
    enum Task<'a> {
        Entity(&'a Part),
        Bytes(Vec<u8>),
    }
    let mut tasks = vec![Task::Entity(msg.root())];
    while let Some(task) = tasks.pop() {
        let part = match task {
            Task::Bytes(b) => {
                out.extend_from_slice(&b);
                continue;
            }
            Task::Entity(p) => p,
        };
        let raw = &part.raw[..];
        let body = &raw[part.body_start..part.range.end];
        let ct = part.content_type();

        if let Some(layout) = &part.layout {
            // A multipart with its parts split out.
            write_headers(&mut out, part, container_encoding(part));
            let boundary = ct.param("boundary").unwrap_or_default().as_bytes();
            if let Some(pre) = &layout.preamble {
                out.extend_from_slice(&safe_region(&raw[pre.clone()]));
                out.extend_from_slice(b"\r\n");
            }
            let mut after: Vec<Task<'_>> = Vec::new();
            for child in part.children() {
                after.push(Task::Bytes(delimiter(boundary, false)));
                after.push(Task::Entity(child));
                after.push(Task::Bytes(b"\r\n".to_vec()));
            }
            let mut close = delimiter(boundary, true);
            if let Some(epi) = &layout.epilogue {
                close.extend_from_slice(b"\r\n");
                close.extend_from_slice(&safe_region(&raw[epi.clone()]));
            }
            after.push(Task::Bytes(close));
            tasks.extend(after.into_iter().rev());
        } else if let [child] = part.children() {
            // An encapsulated message.
            write_headers(&mut out, part, container_encoding(part));
            tasks.push(Task::Entity(child));
        } else {
            let is_text = matches!(part.body(), Body::Text(_));
            match reencode(body, part.transfer_encoding(), is_text)? {
                None => {
                    write_headers(&mut out, part, None);
                    out.extend_from_slice(&to_crlf(body));
                }
                Some((cte, encoded)) => {
                    write_headers(&mut out, part, Some(cte));
                    out.extend_from_slice(&encoded);
                }
            }
        }
    }
    Ok(out)
}

/// The `--boundary` line (without line endings around it), or `--boundary--` when `close`.
fn delimiter(boundary: &[u8], close: bool) -> Vec<u8> {
    let mut d = Vec::with_capacity(boundary.len() + 6);
    d.extend_from_slice(b"--");
    d.extend_from_slice(boundary);
    if close {
        d.extend_from_slice(b"--");
    } else {
        d.extend_from_slice(b"\r\n");
    }
    d
}

/// A container whose own encoding claims 8bit or binary holds only 7-bit parts once they are
/// canonical, and says so.
fn container_encoding(part: &Part) -> Option<&'static str> {
    match part.transfer_encoding() {
        TransferEncoding::EightBit | TransferEncoding::Binary => Some("7bit"),
        _ => None,
    }
}

/// Writes the header section: CRLF line endings, no trailing whitespace, whitespace-only
/// continuation lines removed (folding nothing), and the transfer encoding set to `cte` when
/// given. Always ends with the blank line.
fn write_headers(out: &mut Vec<u8>, part: &Part, cte: Option<&str>) {
    let raw = &part.raw[..];
    let mut cte_written = false;
    for field in part.headers() {
        let is_cte = field.name.eq_ignore_ascii_case("content-transfer-encoding");
        if let (true, Some(cte)) = (is_cte, cte) {
            if !cte_written {
                out.extend_from_slice(b"Content-Transfer-Encoding: ");
                out.extend_from_slice(cte.as_bytes());
                out.extend_from_slice(b"\r\n");
                cte_written = true;
            }
            continue;
        }
        let mut pos = field.range.start;
        let end = field.range.end;
        let mut first = true;
        while pos < end {
            let (content_end, next) = line_at(raw, pos, end);
            // A CR left inside a line is a bare CR, which no header may hold: it becomes a space.
            let mut line: Vec<u8> = raw[pos..content_end.min(end)]
                .iter()
                .map(|&b| if b == b'\r' { b' ' } else { b })
                .collect();
            if first {
                // Obsolete `Name :` syntax becomes `Name:`, so no line can begin `From `.
                if let Some(colon) = line.iter().position(|&b| b == b':') {
                    let name_end = line[..colon].trim_ascii_end().len();
                    line.drain(name_end..colon);
                }
            }
            let line = line.trim_ascii_end();
            if first || !line.is_empty() {
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
            first = false;
            pos = next.max(pos + 1);
        }
    }
    if let (false, Some(cte)) = (cte_written, cte) {
        out.extend_from_slice(b"Content-Transfer-Encoding: ");
        out.extend_from_slice(cte.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether `body`, as it would be sent (after line endings become CRLF), is unsafe to sign:
/// 8-bit or NUL octets, bare CR, over-long lines, trailing whitespace, or `From ` lines.
fn unsafe_to_sign(body: &[u8]) -> bool {
    let mut pos = 0;
    while pos < body.len() {
        let (content_end, next) = line_at(body, pos, body.len());
        let line = &body[pos..content_end];
        if line.len() > MAX_LINE
            || line.ends_with(b" ")
            || line.ends_with(b"\t")
            || line.starts_with(b"From ")
            || line.iter().any(|&b| b >= 0x80 || b == 0 || b == b'\r')
        {
            return true;
        }
        pos = next;
    }
    false
}

/// A preamble or epilogue: kept (with CRLF line endings) when safe, dropped when not.
fn safe_region(region: &[u8]) -> Vec<u8> {
    if unsafe_to_sign(region) {
        Vec::new()
    } else {
        to_crlf(region)
    }
}

/// Decides whether a leaf body must be re-encoded; if so, returns the new transfer encoding
/// and the encoded body.
fn reencode(
    body: &[u8],
    cte: &TransferEncoding,
    is_text: bool,
) -> Result<Option<(&'static str, Vec<u8>)>> {
    if !unsafe_to_sign(body) {
        return Ok(None);
    }
    let content = match cte {
        // Binary content keeps its bytes exactly; line-oriented content is CRLF in canonical form.
        TransferEncoding::Binary => body.to_vec(),
        TransferEncoding::SevenBit | TransferEncoding::EightBit => to_crlf(body),
        TransferEncoding::QuotedPrintable => to_crlf(
            &quoted_printable::decode(body, quoted_printable::ParseMode::Robust)
                .map_err(|e| Error::malformed(format!("bad quoted-printable body: {e}")))?,
        ),
        TransferEncoding::Base64 => {
            super::parse::decode_base64(body).ok_or_else(|| Error::malformed("bad base64 body"))?
        }
        TransferEncoding::Other(name) => {
            return Err(Error::malformed(format!(
                "cannot make a part with transfer encoding {name:?} safe to sign"
            )));
        }
    };
    Ok(Some(
        if is_text && !matches!(cte, TransferEncoding::Binary) {
            ("quoted-printable", qp_encode(&content))
        } else {
            ("base64", base64_lines(&content))
        },
    ))
}

/// Quoted-printable (RFC 2045 §6.7) for text whose line endings are CRLF, with lines that
/// begin `From ` written `=46rom ` (RFC 3156 §3), and lines that begin `-` written `=2D`: a
/// soft line break can put text such as `--boundary` that sat mid-line at the start of a line,
/// where it would read as a multipart delimiter (found by the `mime_canonicalize` fuzz target:
/// canonicalising twice split the part). The `quoted_printable` crate encodes; it does neither,
/// so those steps are done here.
pub(crate) fn qp_encode(text: &[u8]) -> Vec<u8> {
    // 73 leaves room for the 2 octets `=46` adds over `F`, within RFC 2045's 76.
    let options = quoted_printable::Options::default()
        .input_mode(quoted_printable::InputMode::Text)
        .line_length_limit(73);
    let encoded = quoted_printable::encode_with_options(text, options);
    let mut out = Vec::with_capacity(encoded.len() + 16);
    for (i, line) in encoded.split("\r\n").enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        match line.strip_prefix('F') {
            Some(rest) if rest.starts_with("rom ") => {
                out.extend_from_slice(b"=46");
                out.extend_from_slice(rest.as_bytes());
            }
            _ => match line.strip_prefix('-') {
                Some(rest) => {
                    out.extend_from_slice(b"=2D");
                    out.extend_from_slice(rest.as_bytes());
                }
                None => out.extend_from_slice(line.as_bytes()),
            },
        }
    }
    out
}

/// Base64 in lines of 76 characters ending in CRLF (RFC 2045 §6.8).
pub(crate) fn base64_lines(data: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let flat = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(flat.len() + flat.len() / 38 + 2);
    for chunk in flat.as_bytes().chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `data` with every line ending made CRLF: a lone LF becomes CRLF; CRLF and lone CR stay.
///
/// This is the one transformation a verifier applies before checking a signature over a part
/// as received (RFC 3156 §5, RFC 8551 §3.1.1).
pub fn to_crlf(data: &[u8]) -> Vec<u8> {
    let extra = memchr::memchr_iter(b'\n', data).count();
    let mut out = Vec::with_capacity(data.len() + extra);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_conversion_keeps_existing_crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc\rd\n"), b"a\r\nb\r\nc\rd\r\n");
    }

    /// Found by the `mime_canonicalize` fuzz target: a soft line break put `--XX` (mid-line in
    /// the body) at the start of a line, which the second canonicalisation read as a delimiter.
    #[test]
    fn qp_soft_break_never_starts_a_line_with_a_delimiter() {
        let input = include_bytes!(
            "../../../testdata/mime/fuzz-regressions/canonicalize-qp-soft-break-boundary.eml"
        );
        let limits = Limits::default()
            .with_max_depth(16)
            .with_max_parts(256)
            .with_max_header_line(4096);
        let once = super::super::canonicalize_with_limits(input, &limits).unwrap();
        let twice = super::super::canonicalize_with_limits(&once, &limits).unwrap();
        assert_eq!(once, twice);
        assert_eq!(qp_encode(b"-- \r\n"), b"=2D-=20\r\n");
    }

    #[test]
    fn qp_protects_from_lines_and_trailing_space() {
        let out = qp_encode(b"From me \r\nok\r\n");
        assert_eq!(out, b"=46rom me=20\r\nok\r\n");
    }

    #[test]
    fn seven_bit_text_is_left_alone_but_for_line_endings() {
        let part = b"Content-Type: text/plain\n\nhello\nworld\n";
        assert_eq!(
            canonicalize(part).unwrap(),
            b"Content-Type: text/plain\r\n\r\nhello\r\nworld\r\n"
        );
    }

    #[test]
    fn binary_attachment_becomes_base64() {
        let part = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\xff\r\n";
        let out = canonicalize(part).unwrap();
        assert_eq!(
            out,
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAP8NCg==\r\n"
        );
    }

    #[test]
    fn multipart_is_rebuilt_with_safe_children() {
        let m = b"Content-Type: multipart/mixed; boundary=XX\n\
Content-Transfer-Encoding: 8bit\n\
\n\
preamble \xe9\n\
--XX  \n\
Content-Type: text/plain; charset=utf-8\n\
\n\
caf\xc3\xa9\n\
--XX\n\
Content-Type: text/plain\n\
\n\
plain\n\
--XX--\n\
epilogue\n";
        let out = canonicalize(m).unwrap();
        let expected: &[u8] = b"Content-Type: multipart/mixed; boundary=XX\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
\r\n\
--XX\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
caf=C3=A9\r\n\
--XX\r\n\
Content-Type: text/plain\r\n\
\r\n\
plain\r\n\
--XX--\r\n\
epilogue\r\n";
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected)
        );
        assert_eq!(canonicalize(&out).unwrap(), out);
    }

    #[test]
    fn missing_close_delimiter_is_added() {
        let m = b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n\r\nhi\r\n";
        let out = canonicalize(m).unwrap();
        assert_eq!(
            out,
            b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n\r\nhi\r\n\r\n--XX--"
        );
        assert_eq!(canonicalize(&out).unwrap(), out);
    }

    #[test]
    fn header_trailing_space_and_empty_continuations_go() {
        let m = b"Subject: hi  \r\n \r\n there\r\n\r\nbody\r\n";
        assert_eq!(
            canonicalize(m).unwrap(),
            b"Subject: hi\r\n there\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn unknown_encoding_with_8bit_is_refused() {
        let m = b"Content-Transfer-Encoding: x-uuencode\r\n\r\n\xff\r\n";
        assert!(matches!(canonicalize(m), Err(Error::Malformed(_))));
    }
}
