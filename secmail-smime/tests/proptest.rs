//! Property: any message sealed (signed by Alice, then encrypted to Bob) by the one-shot or the
//! streaming writer, with AES-256-GCM or AES-256-CBC, reads back with the one-shot and the
//! streaming reader alike — the two readers agree byte for byte, the verdict says signed by
//! the sender and encrypted, the header fields survive, and the body decodes to what was
//! sent (line endings made CRLF) whichever writer sealed it. Bodies are arbitrary: CRLF or
//! LF, 8-bit, long lines, lines with trailing white space or starting with `From ` or `-`, empty.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;

use common::Env;
use proptest::prelude::*;
use secmail_core::mime::Message;
use secmail_smime::{
    ContentCipher, EncryptOptions, read_message, read_message_stream, sign_encrypt_message,
    sign_encrypt_message_stream,
};

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| Env::new("CN=Property CA"))
}

/// One body line (without its end): mostly short, sometimes past the 998-octet limit; any
/// byte but CR and LF (a bare CR is not a line end, and is re-encoded — a different test).
fn line() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x20u8..0x7f,
        // Not 0x80..0xa0: readers take ISO-8859-1 as windows-1252 (WHATWG), as they should.
        2 => 0xa0u8..=0xff,
        1 => prop::sample::select(vec![b'\t', b' ', 0u8, 0x1b]),
    ];
    let short = prop::collection::vec(byte.clone(), 0..80);
    let long = prop::collection::vec(byte, 990..1400);
    let special = prop::sample::select(vec![
        b"From me".to_vec(),
        b"--".to_vec(),
        b"-".to_vec(),
        b".".to_vec(),
        b"trailing  ".to_vec(),
        b"=".to_vec(),
    ]);
    prop_oneof![12 => short, 1 => long, 2 => special]
}

#[derive(Debug, Clone)]
struct Mail {
    subject: String,
    content_type: &'static str,
    lines: Vec<Vec<u8>>,
    lf_only: bool,
    final_newline: bool,
}

impl Mail {
    fn body(&self, eol: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            b.extend_from_slice(l);
            if i + 1 < self.lines.len() || self.final_newline {
                b.extend_from_slice(eol);
            }
        }
        b
    }
    fn bytes(&self) -> Vec<u8> {
        let eol: &[u8] = if self.lf_only { b"\n" } else { b"\r\n" };
        let mut m = Vec::new();
        for h in [
            "From: Alice <alice@example.org>".to_owned(),
            "To: bob@example.net".to_owned(),
            // Given, so that the writers add none of their own (a fresh Message-ID each).
            "Date: Sat, 28 Nov 2026 12:00:00 +0000".to_owned(),
            "Message-ID: <property@example.org>".to_owned(),
            format!("Subject: {}", self.subject),
            format!("Content-Type: {}", self.content_type),
        ] {
            m.extend_from_slice(h.as_bytes());
            m.extend_from_slice(eol);
        }
        m.extend_from_slice(eol);
        m.extend_from_slice(&self.body(eol));
        m
    }
}

fn mail() -> impl Strategy<Value = Mail> {
    (
        "[A-Za-z0-9 ,.!?-]{0,60}",
        prop::sample::select(vec![
            "text/plain; charset=iso-8859-1",
            "application/octet-stream",
        ]),
        prop::collection::vec(line(), 0..30),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(subject, content_type, lines, lf_only, final_newline)| Mail {
                subject: subject.trim().to_owned(),
                content_type,
                lines,
                lf_only,
                final_newline,
            },
        )
}

/// Bytes as readable text for assertion messages.
fn esc(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

fn check(mail: &Mail, cipher: ContentCipher) -> Result<(), TestCaseError> {
    let env = env();
    let msg = mail.bytes();
    let bob = std::slice::from_ref(&env.bob.0);
    let opts = EncryptOptions::default().cipher(cipher);
    let (alice_cert, alice_key) = (&env.alice.0, &env.alice.1);
    let sealed = [
        sign_encrypt_message(&msg, alice_cert, alice_key, &[], bob, &opts).unwrap(),
        sign_encrypt_message_stream(&msg[..], Vec::new(), alice_cert, alice_key, &[], bob, &opts)
            .unwrap(),
    ];
    let anchors = env.anchors();
    let read_opts = env.strict(&anchors, Some(&env.bob));
    let mut outputs = Vec::new();
    for s in &sealed {
        let one = read_message(s, &read_opts).unwrap();
        prop_assert!(one.verdict.signed_by_sender() && one.verdict.is_fully_encrypted());
        let mut streamed = Vec::new();
        let v = read_message_stream(&s[..], &mut streamed, &read_opts).unwrap();
        prop_assert!(v.signed_by_sender() && v.is_fully_encrypted());
        prop_assert_eq!(
            esc(&streamed),
            esc(&one.message),
            "streaming and one-shot readers differ"
        );
        outputs.push(one.message);
    }
    // The writers differ by design: the one-shot writer canonicalises the signed entity to
    // 7-bit (quoted-printable for 8-bit text and long lines), the streaming writer signs the
    // body as it is with CRLF line ends (it travels encrypted). What the reader sees must
    // mean the same: the same header fields, the same decoded body.
    for out in outputs {
        let read = Message::parse(out).unwrap();
        prop_assert_eq!(read.header("Subject").unwrap_or(""), mail.subject.as_str());
        prop_assert_eq!(read.header("Message-ID"), Some("<property@example.org>"));
        let from = read.from_address();
        prop_assert_eq!(from.as_deref(), Some("alice@example.org"));
        let root = read.root();
        let sent = mail.body(b"\r\n");
        if mail.content_type.starts_with("text/") {
            let want = latin1(&sent);
            prop_assert_eq!(root.body().text(), Some(want.as_str()));
        } else {
            // Without a Content-Transfer-Encoding the body is 7bit, that is lines: their ends
            // are canonicalised as for text (RFC 2045 §2.7, RFC 8551 §3.1.1).
            prop_assert_eq!(esc(root.body().bytes()), esc(&sent));
        }
    }
    Ok(())
}

proptest! {
    // Each case seals twice and reads four times (RSA-2048 signing and key transport).
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sign_encrypt_round_trips_gcm(mail in mail()) {
        check(&mail, ContentCipher::Aes256Gcm)?;
    }

    #[test]
    fn sign_encrypt_round_trips_cbc(mail in mail()) {
        check(&mail, ContentCipher::Aes256Cbc)?;
    }
}

#[test]
fn empty_and_edge_bodies_round_trip() {
    for lines in [
        vec![],
        vec![vec![]],
        vec![b"From x".to_vec(), vec![0xff; 2000]],
    ] {
        for lf_only in [false, true] {
            for content_type in ["text/plain; charset=iso-8859-1", "application/octet-stream"] {
                let mail = Mail {
                    subject: String::new(),
                    content_type,
                    lines: lines.clone(),
                    lf_only,
                    final_newline: true,
                };
                for cipher in [ContentCipher::Aes256Gcm, ContentCipher::Aes256Cbc] {
                    check(&mail, cipher).unwrap();
                }
            }
        }
    }
}
