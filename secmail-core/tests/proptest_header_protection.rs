//! RFC 9788 header protection round trip: what `protect_headers` makes, `read_protected_headers`
//! reads back with the same form, every message field covered and its value kept, the body
//! untouched, and (against the outer message sent with it) exactly the obscured fields named
//! as differing outside.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use proptest::prelude::*;
use secmail_core::HeaderProtectionForm;
use secmail_core::mime::{HeaderConfidentiality, Message, protect_headers, read_protected_headers};

#[derive(Debug, Clone)]
struct Msg {
    fields: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Msg {
    fn render(&self) -> Vec<u8> {
        let mut m = Vec::new();
        for (n, v) in &self.fields {
            m.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        if let Some(ct) = &self.content_type {
            m.extend_from_slice(format!("MIME-Version: 1.0\r\nContent-Type: {ct}\r\n").as_bytes());
        }
        m.extend_from_slice(b"\r\n");
        m.extend_from_slice(&self.body);
        m
    }
}

fn msg() -> impl Strategy<Value = Msg> {
    let value = "[!-~]([ -~]{0,30}[!-~])?";
    let fields = (
        value,
        value,
        prop::collection::vec(
            (
                prop::sample::select(vec!["Cc", "Reply-To", "Comments", "Keywords", "X-Mailer"]),
                value,
            ),
            0..3,
        ),
    )
        .prop_map(|(subject, date, extra)| {
            let mut f = vec![
                ("From".to_owned(), "alice@example.org".to_owned()),
                ("To".to_owned(), "bob@example.net".to_owned()),
                ("Subject".to_owned(), subject),
                ("Date".to_owned(), date),
                ("Message-ID".to_owned(), "<1@example.org>".to_owned()),
            ];
            f.extend(extra.into_iter().map(|(n, v)| (n.to_owned(), v)));
            f
        });
    let ct = prop::option::of(prop::sample::select(vec![
        "text/plain; charset=utf-8".to_owned(),
        "text/plain".to_owned(),
        "multipart/mixed; boundary=\"b1\"".to_owned(),
    ]));
    let lines = prop::collection::vec("[ -~]{0,40}", 0..6);
    (fields, ct, lines).prop_map(|(fields, content_type, lines)| {
        let body = if content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("multipart"))
        {
            format!(
                "--b1\r\nContent-Type: text/plain\r\n\r\n{}\r\n--b1--\r\n",
                lines.join("\r\n")
            )
        } else {
            lines.iter().map(|l| format!("{l}\r\n")).collect()
        };
        Msg {
            fields,
            content_type,
            body: body.into_bytes(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn protect_then_read_gives_the_fields_back(m in msg(), encrypting in any::<bool>()) {
        let raw = m.render();
        let original = Message::parse(raw.clone()).unwrap();
        let p = protect_headers(&raw, encrypting, HeaderConfidentiality::Baseline).unwrap();
        let inner = Message::parse(p.payload.clone()).unwrap();
        let hp = read_protected_headers(inner.root(), None).expect("protection not recognised");
        let want = if encrypting {
            HeaderProtectionForm::Rfc9788Cipher
        } else {
            HeaderProtectionForm::Rfc9788Clear
        };
        prop_assert_eq!(hp.form, want);
        for (name, _) in &m.fields {
            prop_assert!(hp.covered.iter().any(|c| c.eq_ignore_ascii_case(name)), "{} not covered", name);
            prop_assert_eq!(inner.header(name), original.header(name));
        }
        prop_assert_eq!(inner.root().raw_body(), original.root().raw_body());

        // The outer message as sent: the outer fields, then the same body.
        let mut outer = Vec::new();
        for (n, v) in &p.outer {
            outer.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        outer.extend_from_slice(b"\r\n");
        outer.extend_from_slice(&m.body);
        let outer = Message::parse(outer).unwrap();
        let hp = read_protected_headers(inner.root(), Some(outer.root())).unwrap();
        let mut expected: Vec<String> = Vec::new();
        if encrypting {
            for (n, v) in &m.fields {
                let hidden = matches!(n.as_str(), "Comments" | "Keywords")
                    || (n == "Subject" && v != "[...]");
                if hidden && !expected.contains(n) {
                    expected.push(n.clone());
                }
            }
        }
        let mut got = hp.differs_outside.clone();
        got.sort();
        expected.sort();
        prop_assert_eq!(got, expected);
    }
}
