//! The streaming sign-then-encrypt writer and decrypt-then-verify reader: against the one-shot
//! API, and against OpenSSL 3 both ways (its `-stream` BER output opens in ours, ours in it).
//! A missing `openssl` fails the tests loudly; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use secmail_smime::{
    CertUsage, ContentCipher, EncryptOptions, Error, read_message, read_message_stream,
    sign_encrypt_message,
};

fn message(body_lines: usize, lf_only: bool) -> Vec<u8> {
    let mut m = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: stream\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        .to_vec();
    for i in 0..body_lines {
        m.extend_from_slice(format!("line {i} of the streamed body, some words\r\n").as_bytes());
    }
    if lf_only {
        m.retain(|&b| b != b'\r');
    }
    m
}

const CIPHERS: [(ContentCipher, &str); 2] = [
    (ContentCipher::Aes256Gcm, "gcm"),
    (ContentCipher::Aes256Cbc, "cbc"),
];

#[test]
fn stream_and_one_shot_read_each_others_messages() {
    let env = Env::new("CN=Stream CA");
    let anchors = [env.ca.certificate().clone()];
    for (cipher, name) in CIPHERS {
        for (lines, lf) in [(0, false), (3, true), (40_000, false)] {
            let msg = message(lines, lf);
            let sealed = env.seal(&msg, cipher);
            let one = read_message(&sealed, &env.strict(&anchors, Some(&env.bob)))
                .unwrap_or_else(|e| panic!("{name} {lines}: {e}"));
            assert!(one.verdict.signed_by_sender(), "{:?}", one.verdict);
            let mut out = Vec::new();
            let v =
                read_message_stream(&sealed[..], &mut out, &env.strict(&anchors, Some(&env.bob)))
                    .unwrap_or_else(|e| panic!("{name} {lines}: {e}"));
            assert!(v.signed_by_sender() && v.is_fully_encrypted(), "{v:?}");
            assert_eq!(out, one.message, "{name} {lines}");
            let tail = format!("line {} of the streamed body", lines.saturating_sub(1));
            if lines > 0 {
                assert!(String::from_utf8_lossy(&out).contains(&tail));
            }
            // The one-shot writer's output reads as a stream too.
            let old = sign_encrypt_message(
                &msg,
                &env.alice.0,
                &env.alice.1,
                &[],
                std::slice::from_ref(&env.bob.0),
                &EncryptOptions::default().cipher(cipher),
            )
            .unwrap();
            let mut out2 = Vec::new();
            let v = read_message_stream(&old[..], &mut out2, &env.strict(&anchors, Some(&env.bob)))
                .unwrap();
            assert!(v.signed_by_sender());
            assert_eq!(
                out2,
                read_message(&old, &env.strict(&anchors, Some(&env.bob)))
                    .unwrap()
                    .message
            );
        }
    }
}

#[test]
fn altered_or_truncated_stream_writes_nothing() {
    let env = Env::new("CN=Stream CA");
    let anchors = [env.ca.certificate().clone()];
    for (cipher, name) in CIPHERS {
        let sealed = env.seal(&message(2000, false), cipher);
        let text = String::from_utf8(sealed.clone()).unwrap();
        let body_at = text.find("\r\n\r\n").unwrap() + 4;
        // Flip one base64 character in the middle of the ciphertext.
        let mut bad = sealed.clone();
        let at = body_at + (bad.len() - body_at) / 2;
        bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
        let mut out = Vec::new();
        let e = read_message_stream(&bad[..], &mut out, &env.strict(&anchors, Some(&env.bob)))
            .unwrap_err();
        if cipher == ContentCipher::Aes256Gcm {
            // Whatever the altered plaintext says, the tag decides first: one error.
            assert!(matches!(e, Error::DecryptionFailed), "{name}: {e}");
        } else {
            assert!(
                matches!(
                    e,
                    Error::DecryptionFailed | Error::BadSignature(_) | Error::Malformed { .. }
                ),
                "{name}: {e}"
            );
        }
        assert!(
            out.is_empty(),
            "{name}: plaintext released before the checks"
        );
        // Altering the first ciphertext bytes (the inner header section) is caught by the tag
        // too, and not reported as a malformed header.
        if cipher == ContentCipher::Aes256Gcm {
            for at in [body_at + 1250, body_at + 1300, body_at + 1400] {
                let mut bad = sealed.clone();
                bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
                let mut out = Vec::new();
                let e =
                    read_message_stream(&bad[..], &mut out, &env.strict(&anchors, Some(&env.bob)))
                        .unwrap_err();
                assert!(matches!(e, Error::DecryptionFailed), "{e}");
                assert!(out.is_empty());
            }
        }
        let cut = &sealed[..sealed.len() - 200];
        let mut out = Vec::new();
        assert!(read_message_stream(cut, &mut out, &env.strict(&anchors, Some(&env.bob))).is_err());
        assert!(out.is_empty());
        // Not a recipient: refused, nothing written.
        let carol = env
            .ca
            .issue("carol@example.org", CertUsage::Both, 30)
            .unwrap();
        let mut o = env.strict(&anchors, Some(&env.bob));
        o.decrypt_with = Some((&carol.0, &carol.1));
        let mut out = Vec::new();
        assert!(matches!(
            read_message_stream(&sealed[..], &mut out, &o).unwrap_err(),
            Error::NotARecipient
        ));
        assert!(out.is_empty());
    }
}

#[test]
fn our_stream_opens_in_openssl() {
    let env = Env::new("CN=Stream CA");
    for (cipher, name) in CIPHERS {
        let sealed = env.seal(&message(5000, false), cipher);
        std::fs::write(env.p("sealed.eml"), &sealed).unwrap();
        let (ok, inner, err) = env.openssl(&[
            "cms",
            "-decrypt",
            "-in",
            "sealed.eml",
            "-recip",
            "bob.pem",
            "-inkey",
            "bob.key",
        ]);
        assert!(ok, "{name}: {err}");
        std::fs::write(env.p("inner.eml"), &inner).unwrap();
        let (ok, out, err) =
            env.openssl(&["smime", "-verify", "-CAfile", "ca.pem", "-in", "inner.eml"]);
        assert!(ok, "{name}: {err}");
        assert!(String::from_utf8_lossy(&out).contains("line 4999 of the streamed body"));
    }
}

#[test]
fn openssl_stream_output_opens_in_our_stream() {
    let env = Env::new("CN=Stream CA");
    let anchors = [env.ca.certificate().clone()];
    let mut body = b"Content-Type: text/plain\r\n\r\n".to_vec();
    for i in 0..20_000 {
        body.extend_from_slice(format!("openssl line {i}\r\n").as_bytes());
    }
    std::fs::write(env.p("body.txt"), &body).unwrap();
    let (ok, signed, err) = env.openssl(&[
        "smime",
        "-sign",
        "-stream",
        "-signer",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-in",
        "body.txt",
    ]);
    assert!(ok, "{err}");
    std::fs::write(env.p("signed.eml"), &signed).unwrap();
    for cipher in ["-aes-256-gcm", "-aes-256-cbc", "-aes-128-cbc"] {
        let tool = if cipher.ends_with("gcm") {
            "cms"
        } else {
            "smime"
        };
        let (ok, enc, err) = env.openssl(&[
            tool,
            "-encrypt",
            "-stream",
            cipher,
            "-in",
            "signed.eml",
            "-from",
            "alice@example.org",
            "-to",
            "bob@example.net",
            "bob.pem",
        ]);
        assert!(ok, "{cipher}: {err}");
        assert!(
            enc.windows(4).any(|w| w == b"MIAG") || enc.windows(3).any(|w| w == b"MIA"),
            "{cipher}: not indefinite-length BER"
        );
        let mut out = Vec::new();
        let v = read_message_stream(&enc[..], &mut out, &env.strict(&anchors, Some(&env.bob)))
            .unwrap_or_else(|e| panic!("{cipher}: {e}"));
        assert!(v.signed_by_sender() && v.is_fully_encrypted(), "{v:?}");
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("openssl line 19999"), "{cipher}");
        assert!(!text.contains("pkcs7-signature"));
    }
}

#[test]
fn mutated_messages_never_panic_and_never_release_on_error() {
    let env = Env::new("CN=Stream CA");
    let anchors = [env.ca.certificate().clone()];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (cipher, name) in CIPHERS {
        let sealed = env.seal(&message(30, false), cipher);
        for round in 0..150 {
            let mut m = sealed.clone();
            match round % 3 {
                0 => {
                    let at = (next() as usize) % m.len();
                    m[at] = next() as u8;
                }
                1 => m.truncate((next() as usize) % m.len()),
                _ => {
                    let at = (next() as usize) % m.len();
                    m.insert(at, b"\r\n= -\0"[(next() % 6) as usize]);
                }
            }
            for strict in [true, false] {
                let mut o = env.strict(&anchors, Some(&env.bob));
                o.require_valid_signature = strict;
                let mut out = Vec::new();
                if read_message_stream(&m[..], &mut out, &o).is_err() {
                    assert!(out.is_empty(), "{name} round {round}: output then error");
                }
            }
        }
    }
}

/// Past the 8 MiB in-memory spool the ciphertext goes to a temporary file: the body comes
/// back byte for byte.
#[test]
fn a_message_past_the_memory_spool_round_trips() {
    let env = Env::new("CN=Stream CA");
    let anchors = [env.ca.certificate().clone()];
    let msg = message(260_000, false);
    assert!(msg.len() > 10 << 20);
    let sealed = env.seal(&msg, ContentCipher::Aes256Gcm);
    let mut out = Vec::new();
    let v =
        read_message_stream(&sealed[..], &mut out, &env.strict(&anchors, Some(&env.bob))).unwrap();
    assert!(v.signed_by_sender() && v.is_fully_encrypted());
    let body_in = &msg[msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let body_out = &out[out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    assert_eq!(body_out, body_in);
}
