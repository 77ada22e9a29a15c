//! Hostile input: every bound of `Limits` stops a message that goes past it with its own
//! `LimitKind`, deep nesting never recurses on the stack, and no input makes the parser or
//! the canonicaliser panic.
//!
//! Everything here is kept cheap (the messages are a few MiB at most, the random cases small);
//! nothing asserts a timing.

// Test helpers outside #[test] functions unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use secmail_core::mime::{
    EncryptedParts, HeaderConfidentiality, Message, SignedParts, canonicalize,
    canonicalize_with_limits, protect_headers, read_protected_headers,
};
use secmail_core::{Error, LimitKind, Limits};

const SMALL_STACK: usize = 256 * 1024;

/// Runs `f` on a thread with a 256 KiB stack: anything that recursed once per nesting level
/// would overflow it (and abort the test binary) long before 20,000 levels.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("small-stack".into())
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the thread panicked")
}

#[track_caller]
fn assert_limit(r: secmail_core::Result<Message>, want: LimitKind, limit: usize) -> usize {
    match r {
        Err(Error::LimitExceeded {
            kind,
            limit: l,
            actual,
        }) => {
            assert_eq!(kind, want);
            assert_eq!(l, limit);
            assert!(
                actual > limit,
                "actual {actual} must be over the limit {limit}"
            );
            actual
        }
        Err(e) => panic!("expected {want:?}, got error {e}"),
        Ok(m) => panic!(
            "expected {want:?}, but it parsed into {} parts",
            m.parts().count()
        ),
    }
}

fn nested_multipart(depth: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(depth * 64);
    for i in 0..depth {
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .as_bytes(),
        );
    }
    m.extend_from_slice(b"Content-Type: text/plain\r\n\r\ninnermost");
    for i in (0..depth).rev() {
        m.extend_from_slice(format!("\r\n--b{i}--").as_bytes());
    }
    m
}

fn nested_rfc822(depth: usize) -> Vec<u8> {
    let level = b"Content-Type: message/rfc822\r\n\r\n";
    let mut m = Vec::with_capacity(depth * level.len() + 16);
    for _ in 0..depth {
        m.extend_from_slice(level);
    }
    m.extend_from_slice(b"Subject: innermost\r\n\r\nx");
    m
}

// ---------------------------------------------------------------------------------------
// Depth

#[test]
fn deep_multipart_20000_is_a_depth_error_without_recursion() {
    let actual = on_small_stack(|| {
        let m = nested_multipart(20_000);
        let a = assert_limit(Message::parse(m.clone()), LimitKind::Depth, 64);
        // Canonicalisation parses first, with the same bound.
        assert!(matches!(
            canonicalize(&m),
            Err(Error::LimitExceeded {
                kind: LimitKind::Depth,
                ..
            })
        ));
        a
    });
    assert_eq!(actual, 65);
}

#[test]
fn deep_rfc822_20000_and_200000_are_depth_errors_without_recursion() {
    for depth in [20_000, 200_000] {
        on_small_stack(move || {
            let m = nested_rfc822(depth);
            assert_limit(Message::parse(m.clone()), LimitKind::Depth, 64);
            assert!(matches!(
                canonicalize(&m),
                Err(Error::LimitExceeded {
                    kind: LimitKind::Depth,
                    ..
                })
            ));
            assert!(protect_headers(&m, true, HeaderConfidentiality::Baseline).is_err());
        });
    }
}

#[test]
fn depth_limit_is_exact() {
    // The root is depth 0; a part at depth max_depth is allowed, one below it is not.
    let limits = Limits::default().with_max_depth(5);
    let ok = Message::parse_with_limits(nested_rfc822(5), &limits).unwrap();
    assert_eq!(ok.parts().count(), 6);
    assert_eq!(ok.parts().last().unwrap().path().depth(), 5);
    assert_eq!(
        ok.parts().last().unwrap().header("Subject"),
        Some("innermost")
    );
    assert_limit(
        Message::parse_with_limits(nested_rfc822(6), &limits),
        LimitKind::Depth,
        5,
    );
    let ok = Message::parse_with_limits(nested_multipart(5), &limits).unwrap();
    assert_eq!(ok.parts().count(), 6);
    assert_eq!(ok.parts().last().unwrap().body().text(), Some("innermost"));
    assert_limit(
        Message::parse_with_limits(nested_multipart(6), &limits),
        LimitKind::Depth,
        5,
    );
    // The default lets real-world depths through, on a small stack, canonicalisation included.
    on_small_stack(|| {
        let m = nested_multipart(64);
        let msg = Message::parse(m.clone()).unwrap();
        assert_eq!(msg.parts().count(), 65);
        let c = canonicalize(&m).unwrap();
        assert_eq!(canonicalize(&c).unwrap(), c);
        assert_limit(Message::parse(nested_multipart(65)), LimitKind::Depth, 64);
    });
}

/// Multipart and message/rfc822 levels mixed: both count.
#[test]
fn mixed_nesting_counts_every_level() {
    on_small_stack(|| {
        let mut m = Vec::new();
        let depth = 10_000;
        for i in 0..depth {
            if i % 2 == 0 {
                m.extend_from_slice(
                    format!("Content-Type: multipart/mixed; boundary=m{i}\r\n\r\n--m{i}\r\n")
                        .as_bytes(),
                );
            } else {
                m.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
            }
        }
        m.extend_from_slice(b"\r\nx");
        for i in (0..depth).rev().filter(|i| i % 2 == 0) {
            m.extend_from_slice(format!("\r\n--m{i}--").as_bytes());
        }
        assert_limit(Message::parse(m), LimitKind::Depth, 64);
    });
}

// ---------------------------------------------------------------------------------------
// Header line length

#[test]
fn header_line_of_20_mib() {
    let long = vec![b'a'; 20 << 20];
    let default_limit = Limits::default().max_header_line;
    for (prefix, eol) in [
        (&b"Subject: "[..], &b"\r\n"[..]),
        (b"Subject: ", b"\n"),
        (b"X-No-Colon-Yet", b"\r\n"),
    ] {
        let mut m = prefix.to_vec();
        m.extend_from_slice(&long);
        m.extend_from_slice(eol);
        m.extend_from_slice(eol);
        m.extend_from_slice(b"body");
        let actual = assert_limit(
            Message::parse(m.clone()),
            LimitKind::HeaderLineLength,
            default_limit,
        );
        // The parser stopped looking soon after the limit, not at the end of the line.
        assert!(actual <= default_limit + 2, "{actual}");
        assert!(canonicalize(&m).is_err());
    }
    // No line ending at all.
    let mut m = b"Subject: ".to_vec();
    m.extend_from_slice(&long);
    assert_limit(
        Message::parse(m),
        LimitKind::HeaderLineLength,
        default_limit,
    );
    // A long continuation line.
    let mut m = b"Subject: x\r\n ".to_vec();
    m.extend_from_slice(&long);
    m.extend_from_slice(b"\r\n\r\nbody");
    assert_limit(
        Message::parse(m),
        LimitKind::HeaderLineLength,
        default_limit,
    );
    // Inside a nested part.
    let mut m = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-Long: ".to_vec();
    m.extend_from_slice(&long);
    m.extend_from_slice(b"\r\n\r\nx\r\n--b--\r\n");
    assert_limit(
        Message::parse(m),
        LimitKind::HeaderLineLength,
        default_limit,
    );
}

#[test]
fn header_line_limit_is_exact() {
    let limits = Limits::default().with_max_header_line(100);
    for eol in ["\r\n", "\n"] {
        let line = |n: usize| format!("Subject: {}", "x".repeat(n - 9));
        let ok = format!("{}{eol}{eol}body", line(100));
        let m = Message::parse_with_limits(ok.into_bytes(), &limits).unwrap();
        assert_eq!(m.header("Subject").unwrap().len(), 91);
        let over = format!("{}{eol}{eol}body", line(101));
        assert_limit(
            Message::parse_with_limits(over.into_bytes(), &limits),
            LimitKind::HeaderLineLength,
            100,
        );
    }
    // Body lines are not header lines: a long body line is fine.
    let body = format!("Subject: x\r\n\r\n{}\r\n", "y".repeat(10_000));
    assert!(Message::parse_with_limits(body.into_bytes(), &limits).is_ok());
}

// ---------------------------------------------------------------------------------------
// Parts, headers, size

fn flat_multipart(parts: usize) -> Vec<u8> {
    let mut m = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..parts {
        m.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    m.extend_from_slice(b"--b--\r\n");
    m
}

#[test]
fn too_many_parts() {
    // The root counts: 9,999 children + the root is 10,000, the default.
    let m = Message::parse(flat_multipart(9_999)).unwrap();
    assert_eq!(m.parts().count(), 10_000);
    assert_eq!(m.part("9999").unwrap().body().text(), Some("x"));
    assert_limit(
        Message::parse(flat_multipart(10_000)),
        LimitKind::Parts,
        10_000,
    );
    assert_limit(
        Message::parse(flat_multipart(100_000)),
        LimitKind::Parts,
        10_000,
    );
    // Parts are counted over the whole tree, not per multipart.
    let limits = Limits::default().with_max_parts(6);
    let nested = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n\
Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\na\r\n--i\r\n\r\nb\r\n--i--\r\n\
--o\r\n\r\nc\r\n--o--\r\n";
    assert_eq!(
        Message::parse_with_limits(&nested[..], &limits)
            .unwrap()
            .parts()
            .count(),
        5
    );
    let limits = Limits::default().with_max_parts(4);
    assert_limit(
        Message::parse_with_limits(&nested[..], &limits),
        LimitKind::Parts,
        4,
    );
    assert!(matches!(
        canonicalize_with_limits(&nested[..], &limits),
        Err(Error::LimitExceeded {
            kind: LimitKind::Parts,
            ..
        })
    ));
}

fn many_headers(n: usize) -> Vec<u8> {
    let mut m = Vec::new();
    for i in 0..n {
        m.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    m.extend_from_slice(b"\r\nbody");
    m
}

#[test]
fn too_many_headers() {
    let m = Message::parse(many_headers(1_000)).unwrap();
    assert_eq!(m.root().headers().len(), 1_000);
    assert_limit(
        Message::parse(many_headers(1_001)),
        LimitKind::HeaderCount,
        1_000,
    );
    assert_limit(
        Message::parse(many_headers(200_000)),
        LimitKind::HeaderCount,
        1_000,
    );
    // In a nested part.
    let mut m = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n".to_vec();
    m.extend_from_slice(&many_headers(1_001));
    m.extend_from_slice(b"\r\n--b--\r\n");
    assert_limit(Message::parse(m), LimitKind::HeaderCount, 1_000);
    // Folded lines are one field.
    let limits = Limits::default().with_max_headers(1);
    let folded = b"Subject: a\r\n b\r\n c\r\n\r\nx";
    assert!(Message::parse_with_limits(&folded[..], &limits).is_ok());
}

#[test]
fn too_large_a_message() {
    let default = Limits::default().max_message_size;
    assert_eq!(default, 128 << 20);
    let mut big = vec![b'a'; default + 1];
    big[..4].copy_from_slice(b"\r\n\r\n");
    assert_limit(Message::parse(big), LimitKind::MessageSize, default);

    let limits = Limits::default().with_max_message_size(1_000);
    let ok = format!("Subject: x\r\n\r\n{}", "y".repeat(1_000 - 14));
    assert_eq!(ok.len(), 1_000);
    assert!(Message::parse_with_limits(ok.clone().into_bytes(), &limits).is_ok());
    let over = format!("{ok}z");
    assert_limit(
        Message::parse_with_limits(over.clone().into_bytes(), &limits),
        LimitKind::MessageSize,
        1_000,
    );
    assert!(matches!(
        canonicalize_with_limits(over.as_bytes(), &limits),
        Err(Error::LimitExceeded {
            kind: LimitKind::MessageSize,
            ..
        })
    ));
}

#[test]
fn limit_errors_say_which_field_to_raise() {
    let e = Message::parse(many_headers(1_001)).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("max_headers"), "{text}");
    assert!(text.contains("1000"), "{text}");
    assert_eq!(LimitKind::Depth.field(), "max_depth");
    assert_eq!(LimitKind::Parts.field(), "max_parts");
    assert_eq!(LimitKind::HeaderLineLength.field(), "max_header_line");
    assert_eq!(LimitKind::MessageSize.field(), "max_message_size");
}

// ---------------------------------------------------------------------------------------
// No panics

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "testdata", "mime", name]
        .iter()
        .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn fixtures() -> Vec<Vec<u8>> {
    [
        "nested.eml",
        "nested-lf.eml",
        "digest.eml",
        "smime-signed-openssl.eml",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect()
}

/// Small limits, so that random input reaches the limit paths too.
fn tight() -> Limits {
    Limits::default()
        .with_max_depth(6)
        .with_max_parts(40)
        .with_max_headers(12)
        .with_max_header_line(60)
}

/// Parses `input` and uses everything the parse returned; canonicalises it; builds header
/// protection from it. Checks the invariants that hold for any input that parses.
fn exercise(input: &[u8]) {
    for limits in [Limits::default(), tight()] {
        let Ok(msg) = Message::parse_with_limits(input.to_vec(), &limits) else {
            continue;
        };
        assert_eq!(msg.raw(), input);
        let root = msg.root();
        let mut count = 0;
        for p in msg.parts() {
            count += 1;
            assert!(count <= limits.max_parts);
            assert!(p.path().depth() <= limits.max_depth);
            let r = p.range();
            assert!(r.start <= r.end && r.end <= input.len());
            assert_eq!(p.raw(), &input[r.clone()]);
            assert!(p.body_offset() >= r.start && p.body_offset() <= r.end);
            assert_eq!(p.raw_headers().len() + p.raw_body().len(), p.raw().len());
            assert!(p.headers().len() <= limits.max_headers);
            for h in p.headers() {
                assert!(h.range.start >= r.start && h.range.end <= p.body_offset());
            }
            for c in p.children() {
                let cr = c.range();
                assert!(cr.start >= p.body_offset() && cr.end <= r.end);
                assert_eq!(c.path().depth(), p.path().depth() + 1);
                assert_eq!(msg.part(&c.path().to_string()).map(|x| x.range()), Some(cr));
            }
            let _ = (p.content_type().mime_type(), p.transfer_encoding().as_str());
            let _ = (p.body().bytes().len(), p.body().text(), p.defects());
            if let Some(prot) = p.protection() {
                let _ = (prot.name(), prot.is_encryption());
            }
            if let Ok(sp) = SignedParts::of(p) {
                let _ = sp.signed_bytes();
            }
            let _ = EncryptedParts::of(p);
            let _ = read_protected_headers(p, Some(root));
        }
        let _ = msg.from_address();
        if let Ok(c) = canonicalize_with_limits(input, &limits) {
            // The canonical form parses back and is canonical itself.
            let again = canonicalize_with_limits(&c, &Limits::default());
            assert!(again.is_ok(), "canonical output does not canonicalise");
        }
        let _ = protect_headers(input, true, HeaderConfidentiality::Baseline);
        let _ = protect_headers(input, false, HeaderConfidentiality::NoConfidentiality);
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Pieces that make random input look like MIME often enough to reach the deep code paths.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b"x",
    b"\xff",
    b"\x00",
    b":",
    b"=",
    b"=4",
    b"=\r\n",
    b"From ",
    b"--b",
    b"--b--",
    b"--c",
    b"--c--",
    b"--",
    b"Content-Type: multipart/mixed; boundary=b",
    b"Content-Type: multipart/alternative; boundary=\"c\"",
    b"Content-Type: multipart/digest; boundary=c",
    b"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=b",
    b"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=c",
    b"Content-Type: application/pgp-encrypted",
    b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data",
    b"Content-Type: message/rfc822",
    b"Content-Type: message/global",
    b"Content-Type: text/plain; charset=utf-8; hp=cipher",
    b"Content-Type: text/plain; charset=iso-2022-jp",
    b"Content-Type: text/plain; charset*0*=utf-8''a; charset*1=b",
    b"Content-Type: ",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Transfer-Encoding: binary",
    b"Content-Transfer-Encoding: 8bit",
    b"Content-Transfer-Encoding: x-uuencode",
    b"Subject: =?utf-8?q?caf=C3=A9?=",
    b"Subject: =?utf-8?b?",
    b"From: a@example.org",
    b"From: \"a\" <",
    b"To: g: a@b, c@d;",
    b"-----BEGIN PGP MESSAGE-----",
    b"aGVsbG8=",
    b"caf\xc3\xa9",
];

fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|ts| ts.concat())
}

/// A fixture with a few byte-level mutations: replace, insert, delete, truncate, duplicate a
/// slice.
fn mutated_fixture() -> impl Strategy<Value = Vec<u8>> {
    (
        0..4usize,
        prop::collection::vec((0u8..5, any::<Index>(), any::<Index>(), any::<u8>()), 1..6),
    )
        .prop_map(|(which, ops)| {
            let mut data = fixtures().swap_remove(which);
            for (op, at, len, byte) in ops {
                if data.is_empty() {
                    break;
                }
                let i = at.index(data.len());
                match op {
                    0 => data[i] = byte,
                    1 => data.insert(i, byte),
                    2 => {
                        data.remove(i);
                    }
                    3 => data.truncate(i),
                    _ => {
                        let n = len.index(64.min(data.len() - i) + 1);
                        let slice = data[i..i + n].to_vec();
                        data.splice(i..i, slice);
                    }
                }
            }
            data
        })
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..400)) {
        exercise(&input);
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn token_soup_never_panics(input in token_soup()) {
        exercise(&input);
    }
}

proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn mutated_fixtures_never_panic(input in mutated_fixture()) {
        exercise(&input);
    }
}

#[test]
fn fixtures_and_every_truncation_never_panic() {
    for f in fixtures() {
        exercise(&f);
        for cut in (0..f.len()).step_by(37) {
            exercise(&f[..cut]);
        }
    }
}

/// Hand-picked hostile shapes for canonicalisation.
#[test]
fn hostile_canonicalisation_never_panics() {
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\r\n".to_vec(),
        b"\n\n\n".to_vec(),
        b"\r\r\r".to_vec(),
        b":".to_vec(),
        b" x\r\n\r\n".to_vec(),
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--".to_vec(),
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b".to_vec(),
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n--b--\r\n--b\r\n".to_vec(),
        b"Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: base64\r\n\r\n--b\r\n\r\n\xff\r\n--b--".to_vec(),
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n\xff\xfe".to_vec(),
        b"Content-Type: message/rfc822\r\n\r\n".to_vec(),
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\xff=ZZ=\r\n\xc3".to_vec(),
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\xff".to_vec(),
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@ \r\n".to_vec(),
        b"Content-Transfer-Encoding: x-uuencode\r\n\r\n\xff".to_vec(),
        b"Content-Type: text/plain\r\n\r\nbare\rcr and a NUL \x00\r\n".to_vec(),
        {
            let mut v = b"Content-Type: text/plain\r\n\r\n".to_vec();
            v.extend(std::iter::repeat_n(b'a', 100_000));
            v
        },
        {
            let mut v = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n".to_vec();
            v.extend((0..=255u8).cycle().take(70_000));
            v
        },
        nested_multipart(64),
        nested_multipart(65),
        nested_rfc822(64),
        flat_multipart(5_000),
    ];
    for c in &cases {
        exercise(c);
        let _ = canonicalize(c);
    }
}
