//! Properties of building, parsing and canonicalising, over generated messages.
//!
//! - build → parse keeps every header value and every body byte;
//! - canonicalisation is idempotent, keeps the decoded content, and its output is 7-bit,
//!   CRLF-only, without trailing whitespace and without lines that begin with `From `;
//! - the parser finds exactly the tree that was generated, whatever the line endings.
//!
//! Case counts are bounded so that the file runs in a few seconds in a debug build.

// Test helpers outside #[test] functions unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use secmail_core::mime::{Body, Message, MessageBuilder, Part, canonicalize};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// Every property a canonical form must have (RFC 3156 §3 and §5, RFC 8551 §3.1).
fn assert_canonical_shape(c: &[u8], require_7bit: bool) -> Result<(), TestCaseError> {
    if require_7bit {
        prop_assert!(
            c.is_ascii(),
            "8-bit octet in canonical form:\n{}",
            String::from_utf8_lossy(c)
        );
    }
    for (i, &b) in c.iter().enumerate() {
        if b == b'\n' {
            prop_assert!(i > 0 && c[i - 1] == b'\r', "bare LF at {i}");
        }
        if b == b'\r' {
            prop_assert!(c.get(i + 1) == Some(&b'\n'), "bare CR at {i}");
        }
    }
    for line in c.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        prop_assert!(
            !line.ends_with(b" ") && !line.ends_with(b"\t"),
            "trailing whitespace: {:?}",
            String::from_utf8_lossy(line)
        );
        prop_assert!(
            !line.starts_with(b"From "),
            "a line starts with From: {:?}",
            String::from_utf8_lossy(line)
        );
        prop_assert!(line.len() <= 998, "line of {} octets", line.len());
    }
    Ok(())
}

/// What a reader sees in a part: its path, type and decoded content (text with LF line
/// endings: MIME text line breaks are CRLF on the wire whatever they were before).
fn leaves(m: &Message) -> Vec<(String, String, Vec<u8>)> {
    m.parts()
        .map(|p| {
            let content = match p.body() {
                Body::Container => b"<container>".to_vec(),
                Body::Text(t) => lf(t).into_bytes(),
                other => other.bytes().to_vec(),
            };
            (p.path().to_string(), p.content_type().mime_type(), content)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Built messages

/// Text made of pieces that stress the transfer encodings: non-ASCII, trailing spaces and
/// tabs, `From ` at the start of lines, `=` and `.`, long runs.
fn text_strategy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "hello",
        " ",
        "  ",
        "\t",
        "\n",
        "\n",
        "From ",
        "From the top\n",
        "caf\u{e9}",
        "\u{65e5}\u{672c}",
        "\u{1F600}",
        "=",
        "=20",
        ".",
        "--",
        "line with trailing spaces   \n",
        "x",
        "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

fn header_value_strategy(ascii_only: bool) -> impl Strategy<Value = String> {
    let re = if ascii_only {
        "[A-Za-z0-9!#$%&'*+./?^_`{|}~(),;<>@\\[\\]-][A-Za-z0-9 !#$%&'*+./?^_`{|}~(),;<>@\\[\\]-]{0,100}"
    } else {
        "[A-Za-z0-9\u{e9}\u{fc}\u{65e5}.,!-][A-Za-z0-9 \u{e9}\u{fc}\u{65e5}\u{1F600}.,!-]{0,100}"
    };
    re.prop_map(|s: String| s.trim_end().to_owned())
        .prop_filter("non-empty", |s| !s.is_empty())
}

#[derive(Debug, Clone)]
struct Built {
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<(String, String, Vec<u8>)>,
}

impl Built {
    fn builder(&self) -> MessageBuilder {
        let mut b = MessageBuilder::new();
        for (n, v) in &self.headers {
            b = b.header(n.clone(), v.clone());
        }
        if let Some(t) = &self.text {
            b = b.text_body(t.clone());
        }
        if let Some(h) = &self.html {
            b = b.html_body(h.clone());
        }
        for (name, ct, data) in &self.attachments {
            b = b.attachment(name.clone(), ct.clone(), data.clone());
        }
        b
    }
}

fn built_strategy(ascii_headers: bool) -> impl Strategy<Value = Built> {
    let header_names = prop::sample::select(vec![
        "Subject",
        "Comments",
        "X-Custom",
        "X-Another-Field",
        "Keywords",
        "X-Mailer",
    ]);
    let attachment = (
        "[a-z]{1,8}\\.(bin|dat|png)",
        prop::sample::select(vec![
            "application/octet-stream",
            "image/png",
            "application/pdf",
        ]),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(n, ct, d)| (n, ct.to_owned(), d));
    (
        prop::collection::vec(
            (header_names, header_value_strategy(ascii_headers))
                .prop_map(|(n, v)| (n.to_owned(), v)),
            0..6,
        ),
        prop::option::of(text_strategy()),
        prop::option::of(text_strategy().prop_map(|t| format!("<p>{t}</p>"))),
        prop::collection::vec(attachment, 0..3),
    )
        .prop_map(|(headers, text, html, attachments)| Built {
            headers,
            text,
            html,
            attachments,
        })
}

/// The leaves a built message must parse into, in order: (mime type, decoded content).
fn expected_leaves(b: &Built) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    if let Some(t) = &b.text {
        v.push(("text/plain".to_owned(), t.clone().into_bytes()));
    }
    if let Some(h) = &b.html {
        v.push(("text/html".to_owned(), h.clone().into_bytes()));
    }
    if b.text.is_none() && b.html.is_none() && b.attachments.is_empty() {
        v.push(("text/plain".to_owned(), Vec::new()));
    }
    for (_, ct, data) in &b.attachments {
        v.push((ct.clone(), data.clone()));
    }
    v
}

fn leaf_contents(m: &Message) -> Vec<(String, Vec<u8>)> {
    m.parts()
        .filter(|p| p.children().is_empty())
        .map(|p| {
            let content = match p.body() {
                Body::Text(t) => lf(t).into_bytes(),
                other => other.bytes().to_vec(),
            };
            (p.content_type().mime_type(), content)
        })
        .collect()
}

/// build → parse keeps every header value, in order, under its name.
fn check_built_headers(b: &Built) -> Result<(), TestCaseError> {
    let raw = b.builder().build().unwrap();
    let msg = Message::parse(raw).unwrap();
    for (name, _) in &b.headers {
        let got: Vec<&str> = msg
            .root()
            .headers()
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
            .collect();
        let want: Vec<&str> = b
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        prop_assert_eq!(got, want, "header {}", name);
    }
    prop_assert!(msg.header("Date").is_some());
    prop_assert!(msg.header("Message-ID").is_some());
    prop_assert_eq!(msg.header("MIME-Version"), Some("1.0"));
    Ok(())
}

/// build → parse keeps every body byte; canonicalisation of the message and of its body
/// entity is idempotent, keeps the decoded content and has the canonical shape.
fn check_built_bodies(b: &Built, ascii_headers: bool) -> Result<(), TestCaseError> {
    let raw = b.builder().build().unwrap();
    let msg = Message::parse(raw.clone()).unwrap();
    prop_assert_eq!(leaf_contents(&msg), expected_leaves(b));
    for p in msg.parts() {
        prop_assert!(p.defects().is_empty(), "{} {:?}", p.path(), p.defects());
    }

    let body = b.builder().build_body().unwrap();
    for (entity, is_whole) in [(&raw, true), (&body, false)] {
        let c = canonicalize(entity).unwrap();
        let again = canonicalize(&c).unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(&c));
        // Canonicalisation promises 7-bit bodies; RFC 6532 UTF-8 header values stay as they
        // are, so a whole message is 7-bit only when its header values are.
        assert_canonical_shape(&c, !is_whole || ascii_headers)?;
        let cm = Message::parse(c).unwrap();
        prop_assert_eq!(leaf_contents(&cm), expected_leaves(b));
        if is_whole {
            // The same header fields, by their parsed values.
            let fields = |m: &Message| -> Vec<(String, String)> {
                m.root()
                    .headers()
                    .iter()
                    .filter(|h| !h.name.eq_ignore_ascii_case("content-transfer-encoding"))
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect()
            };
            prop_assert_eq!(fields(&cm), fields(&msg));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(150))]

    #[test]
    fn build_parse_keeps_header_values(b in built_strategy(false)) {
        check_built_headers(&b)?;
    }

    #[test]
    fn build_parse_keeps_body_bytes_ascii_headers(b in built_strategy(true)) {
        check_built_bodies(&b, true)?;
    }

    #[test]
    fn build_parse_keeps_body_bytes_utf8_headers(b in built_strategy(false)) {
        check_built_bodies(&b, false)?;
    }
}

#[test]
fn build_parse_hand_picked() {
    let b = Built {
        headers: vec![
            (
                "Subject".into(),
                "Gr\u{fc}\u{df}e \u{2014} caf\u{e9}".into(),
            ),
            ("X-Custom".into(), "a  b\tc".into()),
            (
                "Comments".into(),
                "a very long value ".repeat(12).trim_end().to_owned(),
            ),
        ],
        text: Some("From here\nwith trailing spaces   \ncaf\u{e9}\n\nFrom there\n".into()),
        html: Some("<p>From</p>\n".into()),
        attachments: vec![
            ("zero.bin".into(), "application/octet-stream".into(), vec![]),
            (
                "all.bin".into(),
                "application/octet-stream".into(),
                (0..=255u8).collect(),
            ),
            (
                "crlf.bin".into(),
                "application/octet-stream".into(),
                b"From \r\n\r\n--x\r\n\n\r.\r\n".to_vec(),
            ),
        ],
    };
    check_built_bodies(&b, false).unwrap();
    // Header values too (short enough not to be folded, and no whitespace runs at folds).
    check_built_headers(&b).unwrap();
}

// ---------------------------------------------------------------------------------------
// Generated multipart shapes, written by hand (not by our builder)

#[derive(Debug, Clone, Copy, PartialEq)]
enum TextCte {
    None,
    SevenBit,
    EightBit,
    QuotedPrintable,
    Base64,
}

#[derive(Debug, Clone)]
enum Shape {
    Text {
        subtype: &'static str,
        cte: TextCte,
        content: String,
    },
    Binary {
        /// `binary` rather than base64 (only with CRLF line endings: binary content can hold
        /// any octet, so LF conversion would change it).
        raw_binary: bool,
        content: Vec<u8>,
    },
    Multipart {
        subtype: &'static str,
        preamble: Option<String>,
        epilogue: Option<String>,
        children: Vec<Shape>,
    },
    Message(Box<Shape>),
}

fn shape_strategy() -> impl Strategy<Value = Shape> {
    let text = (
        prop::sample::select(vec!["plain", "html", "x-note"]),
        prop::sample::select(vec![
            TextCte::None,
            TextCte::SevenBit,
            TextCte::EightBit,
            TextCte::QuotedPrintable,
            TextCte::Base64,
        ]),
        text_strategy(),
    )
        .prop_map(|(subtype, cte, content)| {
            let content = if matches!(cte, TextCte::None | TextCte::SevenBit) {
                content
                    .chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect()
            } else {
                content
            };
            Shape::Text {
                subtype,
                cte,
                content,
            }
        });
    let binary = (any::<bool>(), prop::collection::vec(any::<u8>(), 0..200)).prop_map(
        |(raw_binary, content)| Shape::Binary {
            raw_binary,
            content,
        },
    );
    let region = prop::option::of(prop::sample::select(vec![
        "",
        "This is a multi-part message in MIME format.",
        "From a preamble",
        "trailing space here ",
        "two\nlines",
        "caf\u{e9}",
    ]));
    let leaf = prop_oneof![3 => text, 1 => binary];
    leaf.prop_recursive(4, 24, 4, move |inner| {
        prop_oneof![
            3 => (
                prop::sample::select(vec!["mixed", "alternative", "related", "signed", "x-custom"]),
                region.clone(),
                region.clone(),
                prop::collection::vec(inner.clone(), 1..4),
            )
                .prop_map(|(subtype, preamble, epilogue, children)| Shape::Multipart {
                    subtype,
                    preamble: preamble.map(str::to_owned),
                    epilogue: epilogue.map(str::to_owned),
                    children,
                }),
            1 => inner.prop_map(|s| Shape::Message(Box::new(s))),
        ]
    })
}

/// Writes a shape with `eol` line endings and unique boundaries. Header lines sometimes get
/// trailing whitespace (which canonicalisation must remove).
struct Writer {
    eol: &'static str,
    next_boundary: usize,
    out: Vec<u8>,
}

impl Writer {
    fn line(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(self.eol.as_bytes());
    }

    fn text_lines(&mut self, s: &str) {
        self.out
            .extend_from_slice(s.replace('\n', self.eol).as_bytes());
    }

    fn write(&mut self, shape: &Shape) {
        match shape {
            Shape::Text {
                subtype,
                cte,
                content,
            } => {
                let ascii = content.is_ascii();
                let charset = if ascii { "us-ascii" } else { "utf-8" };
                self.line(&format!("Content-Type: text/{subtype}; charset={charset} "));
                let name = match cte {
                    TextCte::None => None,
                    TextCte::SevenBit => Some("7bit"),
                    TextCte::EightBit => Some("8bit"),
                    TextCte::QuotedPrintable => Some("quoted-printable"),
                    TextCte::Base64 => Some("base64"),
                };
                if let Some(n) = name {
                    self.line(&format!("Content-Transfer-Encoding: {n}\t"));
                }
                self.line("");
                match cte {
                    TextCte::None | TextCte::SevenBit | TextCte::EightBit => {
                        self.text_lines(content)
                    }
                    TextCte::QuotedPrintable => {
                        let lines: Vec<String> = content
                            .split('\n')
                            .map(|l| {
                                quoted_printable::encode_with_options(
                                    l.as_bytes(),
                                    quoted_printable::Options::default()
                                        .input_mode(quoted_printable::InputMode::Binary),
                                )
                            })
                            .collect();
                        let encoded = lines.join("\r\n").replace("\r\n", self.eol);
                        self.out.extend_from_slice(encoded.as_bytes());
                    }
                    TextCte::Base64 => {
                        let crlf = content.replace('\n', "\r\n");
                        self.base64(crlf.as_bytes());
                    }
                }
            }
            Shape::Binary {
                raw_binary,
                content,
            } => {
                self.line("Content-Type: application/octet-stream");
                if *raw_binary && self.eol == "\r\n" {
                    self.line("Content-Transfer-Encoding: binary");
                    self.line("");
                    self.out.extend_from_slice(content);
                } else {
                    self.line("Content-Transfer-Encoding: base64");
                    self.line("");
                    self.base64(content);
                }
            }
            Shape::Multipart {
                subtype,
                preamble,
                epilogue,
                children,
            } => {
                self.next_boundary += 1;
                let boundary = format!("=_b{}_", self.next_boundary);
                self.line(&format!("Content-Type: multipart/{subtype};  "));
                self.line(&format!("  boundary=\"{boundary}\"  "));
                self.line("");
                if let Some(p) = preamble {
                    self.text_lines(p);
                    self.out.extend_from_slice(self.eol.as_bytes());
                }
                for c in children {
                    self.line(&format!("--{boundary}"));
                    self.write(c);
                    self.out.extend_from_slice(self.eol.as_bytes());
                }
                self.out
                    .extend_from_slice(format!("--{boundary}--").as_bytes());
                if let Some(e) = epilogue {
                    self.out.extend_from_slice(self.eol.as_bytes());
                    self.text_lines(e);
                }
            }
            Shape::Message(inner) => {
                self.line("Content-Type: message/rfc822");
                self.line("");
                self.line("Subject: an encapsulated message ");
                self.line("From: someone@example.org");
                self.write(inner);
            }
        }
    }

    fn base64(&mut self, data: &[u8]) {
        use base64::Engine as _;
        let flat = base64::engine::general_purpose::STANDARD.encode(data);
        for chunk in flat.as_bytes().chunks(76) {
            self.out.extend_from_slice(chunk);
            self.out.extend_from_slice(self.eol.as_bytes());
        }
    }
}

fn render(shape: &Shape, eol: &'static str) -> Vec<u8> {
    let mut w = Writer {
        eol,
        next_boundary: 0,
        out: Vec::new(),
    };
    w.write(shape);
    w.out
}

/// The (path, type, decoded content) list the shape must parse into.
fn expected_tree(shape: &Shape) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, &Shape)> = vec![(String::new(), shape)];
    while let Some((path, s)) = stack.pop() {
        let child = |i: usize| {
            if path.is_empty() {
                i.to_string()
            } else {
                format!("{path}.{i}")
            }
        };
        match s {
            Shape::Text {
                subtype, content, ..
            } => out.push((
                path,
                format!("text/{subtype}"),
                content.clone().into_bytes(),
            )),
            Shape::Binary { content, .. } => {
                out.push((path, "application/octet-stream".into(), content.clone()))
            }
            Shape::Multipart {
                subtype, children, ..
            } => {
                for (i, c) in children.iter().enumerate().rev() {
                    stack.push((child(i + 1), c));
                }
                out.push((
                    path,
                    format!("multipart/{subtype}"),
                    b"<container>".to_vec(),
                ));
            }
            Shape::Message(inner) => {
                stack.push((child(1), inner));
                out.push((path, "message/rfc822".into(), b"<container>".to_vec()));
            }
        }
    }
    out
}

fn check_shape(shape: &Shape) -> Result<(), TestCaseError> {
    let expected = expected_tree(shape);
    let mut canonical_forms = Vec::new();
    for eol in ["\r\n", "\n"] {
        let raw = render(shape, eol);
        let msg = Message::parse(raw.clone()).unwrap();
        prop_assert_eq!(leaves(&msg), expected.clone(), "eol {:?}", eol);
        for p in msg.parts() {
            prop_assert!(p.defects().is_empty(), "{} {:?}", p.path(), p.defects());
        }

        let c = canonicalize(&raw).unwrap();
        let again = canonicalize(&c).unwrap();
        prop_assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&c),
            "not idempotent"
        );
        assert_canonical_shape(&c, true)?;
        let cm = Message::parse(c.clone()).unwrap();
        prop_assert_eq!(
            leaves(&cm),
            expected.clone(),
            "canonical form changed content"
        );
        // Canonicalising the canonical form of any part leaves it alone too.
        for p in cm.parts() {
            let pc = canonicalize(p.raw()).unwrap();
            prop_assert_eq!(
                String::from_utf8_lossy(&pc),
                String::from_utf8_lossy(p.raw()),
                "part {} of a canonical form is not canonical",
                p.path()
            );
        }
        canonical_forms.push(c);
    }
    // Binary parts are written as `binary` only with CRLF, so the two canonical forms are
    // the same exactly when no part is.
    if !has_raw_binary(shape) {
        prop_assert_eq!(
            String::from_utf8_lossy(&canonical_forms[0]),
            String::from_utf8_lossy(&canonical_forms[1]),
            "LF and CRLF input canonicalise differently"
        );
    }
    Ok(())
}

fn has_raw_binary(shape: &Shape) -> bool {
    let mut stack = vec![shape];
    while let Some(s) = stack.pop() {
        match s {
            Shape::Binary { raw_binary, .. } if *raw_binary => return true,
            Shape::Multipart { children, .. } => stack.extend(children),
            Shape::Message(inner) => stack.push(inner),
            _ => {}
        }
    }
    false
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn generated_shapes_parse_and_canonicalise(shape in shape_strategy()) {
        check_shape(&shape)?;
    }
}

#[test]
fn part_raw_of_canonical_signed_content_is_unchanged_by_wrapping() {
    // The first part of a multipart/signed made by our wrappers is the canonical form,
    // byte for byte, whatever the content.
    let body = MessageBuilder::new()
        .text_body("From me \ncaf\u{e9}\n")
        .attachment("a.bin", "application/octet-stream", vec![0, 255, 13, 10])
        .build_body()
        .unwrap();
    let c = canonicalize(&body).unwrap();
    let signed = secmail_core::mime::signed_multipart(
        &c,
        b"-----BEGIN PGP SIGNATURE-----\r\n\r\nAA==\r\n-----END PGP SIGNATURE-----\r\n",
        secmail_core::mime::SignatureKind::OpenPgp,
        "pgp-sha256",
    )
    .unwrap();
    let m = Message::parse(signed).unwrap();
    let first: &Part = m.part("1").unwrap();
    assert_eq!(first.raw(), &c[..]);
}
