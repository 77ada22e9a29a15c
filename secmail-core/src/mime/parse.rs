//! The MIME structure parser: RFC 5322 header sections and RFC 2045/2046 bodies.
//!
//! Why the structure is parsed here and not by `mail-parser`'s `MessageParser::parse`: a
//! security layer needs (1) hard bounds on depth, parts, header lines and header counts, checked
//! before the work is done; (2) no recursion on attacker-controlled nesting (mail-parser keeps
//! encapsulated messages as nested values, and 200,000 nested `message/rfc822` parts — a 16 MiB
//! message — overflow the stack when it parses or drops them; measured with mail-parser 0.11.9);
//! and (3) byte ranges that follow RFC 2046 exactly, since signatures are checked over them,
//! where mail-parser's recovery heuristics may widen a part to cover a missing delimiter.
//! mail-parser still does what it is good at: each header field's value (RFC 2047 encoded
//! words, RFC 2231 parameters, address lists) and charset conversion.
//!
//! The grammar followed (RFC 2046 §5.1.1):
//!
//! ```text
//! multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF body-part
//!                   *encapsulation close-delimiter transport-padding [CRLF epilogue]
//! encapsulation  := delimiter transport-padding CRLF body-part
//! delimiter      := CRLF dash-boundary
//! dash-boundary  := "--" boundary
//! close-delimiter := delimiter "--"
//! transport-padding := *LWSP-char
//! ```
//!
//! A lone LF is accepted wherever CRLF is expected (mail stored on Unix has LF line endings).

use std::ops::Range;
use std::sync::Arc;

use base64::Engine as _;
use mail_parser::{HeaderValue, MessageParser, parsers::MessageStream};

use super::{
    Body, ContentType, Defect, HeaderField, InlinePgp, Layout, Part, PartPath, Protection,
    SmimeType, TransferEncoding,
};
use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;

/// An entity waiting to be parsed.
struct Pending {
    range: Range<usize>,
    path: PartPath,
    parent: Option<usize>,
    /// `multipart/digest` makes `message/rfc822` the default type of its children.
    digest_child: bool,
}

/// A parsed entity whose children are not yet attached.
struct Node {
    part: Part,
    parent: Option<usize>,
}

pub(super) fn parse(raw: Arc<[u8]>, limits: &Limits) -> Result<Part> {
    let parser = MessageParser::default();
    let mut nodes: Vec<Node> = Vec::new();
    let mut work = vec![Pending {
        range: 0..raw.len(),
        path: PartPath::root(),
        parent: None,
        digest_child: false,
    }];

    while let Some(p) = work.pop() {
        limits.check(LimitKind::Parts, nodes.len() + 1)?;
        limits.check(LimitKind::Depth, p.path.depth())?;
        let index = nodes.len();
        let budget = limits
            .max_parts
            .saturating_sub(nodes.len() + 1 + work.len());
        let (part, children) = parse_entity(
            &raw,
            &parser,
            limits,
            p.range,
            p.path,
            p.digest_child,
            budget,
        )?;
        // Children are pushed in reverse so that they are parsed, and numbered, in order.
        for child in children.into_iter().rev() {
            work.push(Pending {
                parent: Some(index),
                ..child
            });
        }
        nodes.push(Node {
            part,
            parent: p.parent,
        });
    }

    // Attach children to parents without recursion: every node comes after its parent, so
    // walking backwards finds each node complete (all its descendants attached) when it is
    // moved into its parent.
    let mut slots: Vec<Option<Part>> = Vec::with_capacity(nodes.len());
    let mut parents = Vec::with_capacity(nodes.len());
    for n in nodes {
        slots.push(Some(n.part));
        parents.push(n.parent);
    }
    for i in (1..slots.len()).rev() {
        let (Some(child), Some(parent)) = (slots[i].take(), parents[i]) else {
            continue;
        };
        if let Some(Some(p)) = slots.get_mut(parent) {
            p.children.push(child);
        }
    }
    let mut root = slots
        .first_mut()
        .and_then(Option::take)
        .ok_or_else(|| Error::malformed("empty message"))?;
    // Children were attached last first.
    let mut stack = vec![&mut root];
    while let Some(p) = stack.pop() {
        p.children.reverse();
        detect_protection(p);
        stack.extend(p.children.iter_mut());
    }
    Ok(root)
}

/// Parses one entity: its header section and body. Returns the part and the entities below it.
/// `budget` is how many more parts the message may have after this one.
fn parse_entity(
    raw: &Arc<[u8]>,
    parser: &MessageParser,
    limits: &Limits,
    range: Range<usize>,
    path: PartPath,
    digest_child: bool,
    budget: usize,
) -> Result<(Part, Vec<Pending>)> {
    let bytes = &raw[..];
    let mut defects = Vec::new();
    let section = split_headers(bytes, range.clone(), limits)?;
    if section.no_blank_line {
        defects.push(Defect::HeaderWithoutBlankLine);
    }
    let headers = decode_headers(bytes, parser, &section);

    let mut ct_fields = field_values(bytes, parser, &section, "content-type");
    let content_type = match ct_fields.next() {
        Some(HeaderValue::ContentType(ct)) => Some(convert_content_type(&ct)),
        // RFC 2045 §5.2: a syntactically invalid Content-Type means the default.
        _ => None,
    };
    if ct_fields.next().is_some() {
        defects.push(Defect::DuplicateContentType);
    }
    let content_type_explicit = content_type.is_some();
    let content_type = content_type.unwrap_or_else(|| {
        if digest_child {
            ContentType::new("message", "rfc822")
        } else {
            let mut ct = ContentType::new("text", "plain");
            ct.params.push(("charset".into(), "us-ascii".into()));
            ct
        }
    });

    let mut cte_fields = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-transfer-encoding"));
    let transfer_encoding =
        TransferEncoding::from_header(cte_fields.next().map(|h| h.value.as_str()));
    if cte_fields.next().is_some() {
        defects.push(Defect::DuplicateTransferEncoding);
    }

    let body_range = section.body_start..range.end;
    let mut children = Vec::new();
    let mut body = Body::Container;
    let mut layout = None;

    if content_type.is_multipart() {
        match content_type.param("boundary").filter(|b| !b.is_empty()) {
            None => defects.push(Defect::MissingBoundary),
            Some(boundary) => match split_multipart(
                bytes,
                body_range.clone(),
                boundary.as_bytes(),
                budget,
                limits,
            )? {
                None => defects.push(Defect::BoundaryNotFound),
                Some(split) => {
                    if !split.layout.closed {
                        defects.push(Defect::MissingCloseDelimiter);
                    }
                    let digest = content_type.subtype == "digest";
                    layout = Some(split.layout);
                    for (i, r) in split.parts.into_iter().enumerate() {
                        let index = u32::try_from(i + 1)
                            .map_err(|_| Error::limit(LimitKind::Parts, limits.max_parts, i + 1))?;
                        children.push(Pending {
                            range: r,
                            path: path.child(index),
                            parent: None,
                            digest_child: digest,
                        });
                    }
                }
            },
        }
    } else if content_type.is_message() {
        if transfer_encoding.is_identity() {
            children.push(Pending {
                range: body_range.clone(),
                path: path.child(1),
                parent: None,
                digest_child: false,
            });
        } else {
            defects.push(Defect::EncodedMessage);
        }
    }

    let is_container = !children.is_empty()
        || (content_type.is_multipart()
            && !defects
                .iter()
                .any(|d| matches!(d, Defect::MissingBoundary | Defect::BoundaryNotFound)));
    if !is_container {
        body = decode_body(
            &bytes[body_range.clone()],
            &content_type,
            &transfer_encoding,
            &mut defects,
        );
    }

    let part = Part {
        raw: Arc::clone(raw),
        path,
        range,
        body_start: section.body_start,
        headers,
        content_type,
        content_type_explicit,
        transfer_encoding,
        body,
        children: Vec::new(),
        protection: None,
        defects,
        layout,
    };
    Ok((part, children))
}

/// The header section of an entity, as located by [`split_headers`].
pub(crate) struct HeaderSection {
    /// The range of each field, from its name to the end of its last line (no line ending).
    pub fields: Vec<Range<usize>>,
    /// Where the body starts (after the blank line).
    pub body_start: usize,
    /// The section ended at a non-field line rather than a blank line.
    pub no_blank_line: bool,
}

/// Finds the end of a line starting at `pos`, before `end`: (content end, next line start).
pub(crate) fn line_at(bytes: &[u8], pos: usize, end: usize) -> (usize, usize) {
    match bytes
        .get(pos..end)
        .and_then(|s| s.iter().position(|&b| b == b'\n'))
    {
        Some(i) => {
            let nl = pos + i;
            let content_end = if nl > pos && bytes[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            (content_end, nl + 1)
        }
        None => (end, end),
    }
}

/// Whether `line` starts a header field: a name of printable ASCII without `:`, optional
/// whitespace (obsolete syntax), then `:`.
fn is_field_start(line: &[u8]) -> bool {
    let name_len = line
        .iter()
        .take_while(|&&b| (33..=126).contains(&b) && b != b':')
        .count();
    if name_len == 0 {
        return false;
    }
    line[name_len..]
        .iter()
        .find(|&&b| b != b' ' && b != b'\t')
        .is_some_and(|&b| b == b':')
}

/// Splits the header section of the entity at `range` into fields, enforcing the limits.
pub(crate) fn split_headers(
    bytes: &[u8],
    range: Range<usize>,
    limits: &Limits,
) -> Result<HeaderSection> {
    let mut fields: Vec<Range<usize>> = Vec::new();
    let mut pos = range.start;
    while pos < range.end {
        // Never look further than the line-length limit for the end of a header line.
        let window_end = range
            .end
            .min(pos.saturating_add(limits.max_header_line + 2));
        let (content_end, next) = line_at(bytes, pos, window_end);
        let line = &bytes[pos..content_end];
        let terminated = next > content_end || content_end == range.end;
        if !terminated {
            return Err(Error::limit(
                LimitKind::HeaderLineLength,
                limits.max_header_line,
                window_end - pos,
            ));
        }
        if line.is_empty() {
            return Ok(HeaderSection {
                fields,
                body_start: next,
                no_blank_line: false,
            });
        }
        let continuation = line[0] == b' ' || line[0] == b'\t';
        if continuation && !fields.is_empty() {
            limits.check(LimitKind::HeaderLineLength, line.len())?;
            if let Some(f) = fields.last_mut() {
                f.end = content_end;
            }
        } else if !continuation && is_field_start(line) {
            limits.check(LimitKind::HeaderLineLength, line.len())?;
            limits.check(LimitKind::HeaderCount, fields.len() + 1)?;
            fields.push(pos..content_end);
        } else {
            // Not a header line: the body starts here, without a blank line.
            return Ok(HeaderSection {
                no_blank_line: pos != range.start || !fields.is_empty(),
                fields,
                body_start: pos,
            });
        }
        pos = next;
    }
    Ok(HeaderSection {
        fields,
        body_start: range.end,
        no_blank_line: false,
    })
}

/// Parses one field with mail-parser. `field` is the whole field, name included, without its
/// final line ending.
fn parse_field(parser: &MessageParser, field: &[u8]) -> Option<HeaderValue<'static>> {
    // mail-parser reads a header section, and a field is complete only at its line ending.
    let mut terminated = Vec::with_capacity(field.len() + 2);
    terminated.extend_from_slice(field);
    terminated.extend_from_slice(b"\r\n");
    let mut out = Vec::new();
    MessageStream::new(&terminated).parse_headers(parser, &mut out);
    out.into_iter().next().map(|h| h.value.into_owned())
}

fn field_name(field: &[u8]) -> &[u8] {
    let n = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    field[..n].trim_ascii_end()
}

/// The raw value of a whole field: everything after the first colon, still folded (empty when
/// there is no colon).
pub(crate) fn field_value(field: &[u8]) -> &[u8] {
    field
        .iter()
        .position(|&b| b == b':')
        .map_or(&field[field.len()..], |c| &field[c + 1..])
}

/// The parsed values of every field called `name` (lower case), in order.
fn field_values<'x>(
    bytes: &'x [u8],
    parser: &'x MessageParser,
    section: &'x HeaderSection,
    name: &'x str,
) -> impl Iterator<Item = HeaderValue<'static>> + 'x {
    section
        .fields
        .iter()
        .map(move |r| &bytes[r.clone()])
        .filter(move |f| field_name(f).eq_ignore_ascii_case(name.as_bytes()))
        .map(move |f| parse_field(parser, f).unwrap_or(HeaderValue::Empty))
}

/// Unfolds a raw field value: line endings removed (RFC 5322 §2.2.3), then trimmed.
pub(crate) fn unfold(raw: &[u8]) -> String {
    let trimmed = raw.trim_ascii();
    if memchr::memchr2(b'\r', b'\n', trimmed).is_none() {
        return String::from_utf8_lossy(trimmed).into_owned();
    }
    let v: Vec<u8> = trimmed
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    String::from_utf8_lossy(&v).trim().to_owned()
}

fn decode_headers(
    bytes: &[u8],
    parser: &MessageParser,
    section: &HeaderSection,
) -> Vec<HeaderField> {
    section
        .fields
        .iter()
        .map(|r| {
            let field = &bytes[r.clone()];
            let name = String::from_utf8_lossy(field_name(field)).into_owned();
            let raw_value = field_value(field);
            // Values are unfolded (only the line breaks go, RFC 5322 §2.2.3) and otherwise
            // kept as written, since a re-rendering could hide what was sent. Unstructured
            // fields that carry RFC 2047 encoded words get them decoded by mail-parser.
            let unstructured = ["subject", "comments", "content-description"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n));
            let encoded = unstructured && memchr::memmem::find(raw_value, b"=?").is_some();
            let value = match encoded.then(|| parse_field(parser, field)).flatten() {
                Some(HeaderValue::Text(t)) => t.trim().to_owned(),
                _ => unfold(raw_value),
            };
            HeaderField {
                name,
                value,
                range: r.clone(),
            }
        })
        .collect()
}

fn convert_content_type(ct: &mail_parser::ContentType<'_>) -> ContentType {
    let mut out = ContentType::new(
        ct.ctype(),
        ct.subtype()
            .unwrap_or(if ct.ctype().eq_ignore_ascii_case("text") {
                "plain"
            } else {
                ""
            }),
    );
    if let Some(attrs) = ct.attributes() {
        out.params = attrs
            .iter()
            .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
            .collect();
    }
    out
}

/// The parts of a multipart body, by byte range.
struct Split {
    parts: Vec<Range<usize>>,
    layout: Layout,
}

/// Splits a multipart body at its delimiters; `None` when the boundary never occurs.
///
/// At most `budget` parts are collected: past it, the split stops with a parts-limit error, so
/// a body of nothing but delimiters cannot allocate before the limit is checked.
fn split_multipart(
    bytes: &[u8],
    body: Range<usize>,
    boundary: &[u8],
    budget: usize,
    limits: &Limits,
) -> Result<Option<Split>> {
    let mut dash = Vec::with_capacity(boundary.len() + 2);
    dash.extend_from_slice(b"--");
    dash.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&dash);

    let hay = &bytes[body.clone()];
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut preamble = None;
    let mut search = 0;
    while let Some(i) = finder.find(&hay[search..]) {
        let at = search + i;
        search = at + 1;
        if at != 0 && hay[at - 1] != b'\n' {
            continue;
        }
        let mut q = at + dash.len();
        let close = hay.get(q..q + 2) == Some(b"--");
        if close {
            q += 2;
        }
        while q < hay.len() && (hay[q] == b' ' || hay[q] == b'\t') {
            q += 1;
        }
        let line_end = match hay.get(q) {
            None => hay.len(),
            Some(b'\n') => q + 1,
            Some(b'\r') if hay.get(q + 1) == Some(&b'\n') => q + 2,
            // Something else follows the boundary on this line: not a delimiter.
            Some(_) => continue,
        };
        // The line ending before the delimiter belongs to the delimiter.
        let eol = if at >= 2 && &hay[at - 2..at] == b"\r\n" {
            2
        } else if at >= 1 {
            1
        } else {
            0
        };
        match current {
            Some(start) => {
                let end = (at - eol).max(start);
                if parts.len() >= budget {
                    return Err(Error::limit(
                        LimitKind::Parts,
                        limits.max_parts,
                        limits.max_parts.saturating_add(1),
                    ));
                }
                parts.push(body.start + start..body.start + end);
            }
            None => {
                preamble = (at != 0).then(|| body.start..body.start + at - eol);
            }
        }
        if close {
            let epilogue = (q < hay.len()).then(|| body.start + line_end..body.end);
            return Ok(Some(Split {
                parts,
                layout: Layout {
                    preamble,
                    epilogue,
                    closed: true,
                },
            }));
        }
        current = Some(line_end);
        search = line_end.max(search);
    }
    let Some(start) = current else {
        return Ok(None);
    };
    if parts.len() >= budget {
        return Err(Error::limit(
            LimitKind::Parts,
            limits.max_parts,
            limits.max_parts.saturating_add(1),
        ));
    }
    parts.push(body.start + start..body.end);
    Ok(Some(Split {
        parts,
        layout: Layout {
            preamble,
            epilogue: None,
            closed: false,
        },
    }))
}

/// Transfer-decodes a leaf body and, for text, converts it to UTF-8.
fn decode_body(
    raw: &[u8],
    ct: &ContentType,
    cte: &TransferEncoding,
    defects: &mut Vec<Defect>,
) -> Body {
    let decoded: Vec<u8> = match cte {
        TransferEncoding::Base64 => match decode_base64(raw) {
            Some(d) => d,
            None => {
                defects.push(Defect::BadTransferEncoding);
                raw.to_vec()
            }
        },
        TransferEncoding::QuotedPrintable => {
            match quoted_printable::decode(raw, quoted_printable::ParseMode::Robust) {
                Ok(d) => d,
                Err(_) => {
                    defects.push(Defect::BadTransferEncoding);
                    raw.to_vec()
                }
            }
        }
        _ => raw.to_vec(),
    };
    if ct.kind != "text" {
        return Body::Binary(decoded);
    }
    let charset = ct.param("charset").unwrap_or("us-ascii").trim();
    let is_utf8_compatible = ["us-ascii", "utf-8", "utf8", "ascii"]
        .iter()
        .any(|c| charset.eq_ignore_ascii_case(c));
    if is_utf8_compatible {
        return Body::Text(match String::from_utf8(decoded) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        });
    }
    match mail_parser::decoders::charsets::map::charset_decoder(charset.as_bytes()) {
        Some(decoder) => Body::Text(decoder(&decoded)),
        None => {
            defects.push(Defect::UnknownCharset);
            Body::Text(String::from_utf8_lossy(&decoded).into_owned())
        }
    }
}

/// Decodes base64 as MIME carries it: line breaks and other whitespace ignored (RFC 2045 §6.8),
/// padding optional. Any other character outside the alphabet is an error.
pub(crate) fn decode_base64(raw: &[u8]) -> Option<Vec<u8>> {
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    engine.decode(compact).ok()
}

/// Sets [`Part::protection`] from the content type and, for text, the content.
fn detect_protection(p: &mut Part) {
    let ct = &p.content_type;
    let param = |n: &str| ct.param(n).map(|v| v.trim().to_ascii_lowercase());
    let protection = match (ct.kind.as_str(), ct.subtype.as_str()) {
        ("multipart", "signed") => {
            let micalg = param("micalg");
            match param("protocol").as_deref() {
                Some("application/pgp-signature") => Some(Protection::PgpMimeSigned { micalg }),
                Some("application/pkcs7-signature" | "application/x-pkcs7-signature") => {
                    Some(Protection::SmimeSigned { micalg })
                }
                _ => Some(Protection::OtherSigned {
                    protocol: param("protocol"),
                    micalg,
                }),
            }
        }
        ("multipart", "encrypted") => match param("protocol").as_deref() {
            Some("application/pgp-encrypted") => Some(Protection::PgpMimeEncrypted),
            _ => Some(Protection::OtherEncrypted {
                protocol: param("protocol"),
            }),
        },
        ("application", "pgp-encrypted") => Some(Protection::PgpEncryptedControl),
        ("application", "pgp-signature") => Some(Protection::PgpSignature),
        ("application", "pgp-keys") => Some(Protection::PgpKeys),
        ("application", "pkcs7-mime" | "x-pkcs7-mime") => Some(Protection::Pkcs7Mime {
            smime_type: SmimeType::from_param(ct.param("smime-type")),
        }),
        ("application", "pkcs7-signature" | "x-pkcs7-signature") => {
            Some(Protection::Pkcs7Signature)
        }
        ("text", _) => p
            .body
            .text()
            .and_then(inline_armor)
            .map(Protection::InlinePgp),
        _ => None,
    };
    p.protection = protection;
}

/// The first OpenPGP armor header line (RFC 9580 §6.2) in `text`, at the start of a line.
fn inline_armor(text: &str) -> Option<InlinePgp> {
    text.lines().find_map(|l| match l.trim_end() {
        "-----BEGIN PGP MESSAGE-----" => Some(InlinePgp::Message),
        "-----BEGIN PGP SIGNED MESSAGE-----" => Some(InlinePgp::SignedMessage),
        "-----BEGIN PGP SIGNATURE-----" => Some(InlinePgp::Signature),
        "-----BEGIN PGP PUBLIC KEY BLOCK-----" => Some(InlinePgp::PublicKey),
        _ => None,
    })
}

/// The one address of an address field (`local@domain`), or `None` for none, several or a group.
pub(crate) fn single_address(raw_value: &[u8]) -> Option<String> {
    let mut field = Vec::with_capacity(raw_value.len() + 5);
    field.extend_from_slice(b"From:");
    field.extend_from_slice(raw_value);
    let HeaderValue::Address(addr) = parse_field(&MessageParser::default(), &field)? else {
        return None;
    };
    match addr.as_list()? {
        [one] => one.address.as_ref().map(|a| a.to_string()),
        _ => None,
    }
}

impl Part {
    /// Whether the `Content-Type` was written (not the RFC 2045 default).
    pub fn has_explicit_content_type(&self) -> bool {
        self.content_type_explicit
    }
}
