//! PGP/MIME: our own round trips, and interop with gpg over the MIME structures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Gpg, ok, status_has, write};
use secmail_core::mime::{
    EncryptedParts, Message, SignatureKind, SignedParts, canonicalize, encrypted_pgp_mime,
    signed_multipart, wrap,
};
use secmail_core::{HeaderProtectionForm, SignatureStatus};
use secmail_pgp::*;

const MSG: &[u8] = b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n\
Subject: Merger plans\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <1@example.org>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFrom the board: caf\xc3\xa9 \r\n\
--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=x.bin\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--b1--\r\n";

fn keys() -> (Cert, Cert) {
    (
        generate(&KeyGenOptions::new("Alice <alice@example.org>"))
            .unwrap()
            .key,
        generate(&KeyGenOptions::new("Bob <bob@example.net>"))
            .unwrap()
            .key,
    )
}

#[test]
fn encrypted_signed_mail_round_trip_with_header_protection() {
    let (alice, bob) = keys();
    let s = SigningKey::new(&alice, &[]).unwrap();
    let sent = encrypt_mail(MSG, &[&public_cert(&bob)], Some(&s)).unwrap();
    let outer = Message::parse(sent.clone()).unwrap();
    assert_eq!(outer.header("Subject"), Some("[...]"));
    assert!(!String::from_utf8_lossy(&sent).contains("Merger"));
    let (opened, v) = decrypt_mail(
        &sent,
        &DecryptOptions::new()
            .key(bob.clone())
            .verify_with(public_cert(&alice)),
    )
    .unwrap();
    let m = Message::parse(opened).unwrap();
    assert_eq!(m.header("Subject"), Some("Merger plans"));
    assert_eq!(v.from.as_deref(), Some("alice@example.org"));
    assert_eq!(v.parts.len(), 2);
    assert!(v.is_fully_encrypted() && v.is_fully_signed() && v.signed_by_sender());
    assert!(!v.is_mixed());
    let hp = v.header_protection.unwrap();
    assert_eq!(hp.form, HeaderProtectionForm::Rfc9788Cipher);
    assert!(hp.differs_outside.contains(&"Subject".to_string()));
    // The sender's copy opens too.
    assert!(decrypt_mail(&sent, &DecryptOptions::new().key(alice)).is_ok());
    // A flipped byte in the payload: refused.
    let mut bad = sent.clone();
    let at = sent.len() - 200;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    assert!(decrypt_mail(&bad, &DecryptOptions::new().key(bob)).is_err());
}

#[test]
fn signed_mail_round_trip_and_tamper() {
    let (alice, _) = keys();
    let s = SigningKey::new(&alice, &[]).unwrap();
    let sent = sign_mail(MSG, &s).unwrap();
    let v = verify_mail(&sent, &[public_cert(&alice)]).unwrap();
    assert!(v.is_fully_signed() && v.signed_by_sender());
    assert_eq!(
        v.header_protection.unwrap().form,
        HeaderProtectionForm::Rfc9788Clear
    );
    let text = String::from_utf8(sent.clone()).unwrap();
    let bad = text.replacen("=46rom the board", "=46rom the bored", 1);
    assert_ne!(bad, text);
    let v = verify_mail(bad.as_bytes(), &[public_cert(&alice)]).unwrap();
    assert_eq!(v.signatures[0].status, SignatureStatus::Bad);
    assert!(!v.is_fully_signed());
}

#[test]
fn what_we_send_opens_in_gpg() {
    let g = Gpg::new();
    let (alice, bob) = keys();
    g.import(&export_cert(&alice, Encoding::Armored).unwrap());
    g.import(&export_key(&bob, Encoding::Armored).unwrap());
    let s = SigningKey::new(&alice, &[]).unwrap();

    // multipart/signed: gpg verifies the signature over the raw first part.
    let sent = sign_mail(MSG, &s).unwrap();
    let m = Message::parse(sent).unwrap();
    let sp = SignedParts::of(m.root()).unwrap();
    assert_eq!(sp.micalg, Some("pgp-sha256"));
    let data = write(g.home.path(), "part", &sp.signed_bytes());
    let sig = write(g.home.path(), "part.asc", sp.signature.body().bytes());
    let o = g.gpg(
        &[
            "--status-fd",
            "2",
            "--verify",
            sig.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        b"",
    );
    ok(&o, "gpg --verify (multipart/signed)");
    assert!(status_has(&o, "GOODSIG"));

    // multipart/encrypted: gpg decrypts the payload; inside, a multipart/signed it verifies.
    let sent = encrypt_mail(MSG, &[&public_cert(&bob)], Some(&s)).unwrap();
    let m = Message::parse(sent).unwrap();
    let ep = EncryptedParts::of(m.root()).unwrap();
    let o = g.gpg(&["--decrypt"], ep.payload.body().bytes());
    ok(&o, "gpg --decrypt (PGP/MIME)");
    let inner = Message::parse(o.stdout).unwrap();
    let sp = SignedParts::of(inner.root()).unwrap();
    let data = write(g.home.path(), "inner", &sp.signed_bytes());
    let sig = write(g.home.path(), "inner.asc", sp.signature.body().bytes());
    let o = g.gpg(
        &[
            "--status-fd",
            "2",
            "--verify",
            sig.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        b"",
    );
    ok(&o, "gpg --verify (inner multipart/signed)");
    assert!(status_has(&o, "GOODSIG"));
}

#[test]
fn what_gpg_makes_opens_in_ours() {
    let g = Gpg::new();
    let gus = g.gen_key("Gus <gus@example.org>", "future-default");
    let gus_key = read_cert(&g.export_secret(&gus)).unwrap();
    let (_, bob) = keys();
    g.import(&export_cert(&bob, Encoding::Armored).unwrap());
    let headers = vec![
        ("From".to_string(), "Gus <gus@example.org>".to_string()),
        ("To".to_string(), "bob@example.net".to_string()),
        ("Subject".to_string(), "from gpg".to_string()),
    ];
    let entity = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello from gpg\r\n";

    // As Enigmail/Thunderbird do: gpg signs the canonical first part, detached and armored.
    let canon = canonicalize(entity).unwrap();
    let o = g.gpg(
        &[
            "--armor",
            "--detach-sign",
            "--digest-algo",
            "SHA512",
            "-u",
            &gus,
        ],
        &canon,
    );
    ok(&o, "gpg --detach-sign");
    let signed = signed_multipart(&canon, &o.stdout, SignatureKind::OpenPgp, "pgp-sha512").unwrap();
    let mail = wrap(&headers, &signed).unwrap();
    let v = verify_mail(&mail, &[public_cert(&gus_key)]).unwrap();
    assert!(v.is_fully_signed() && v.signed_by_sender(), "{v:?}");

    // Encrypted and signed in one OpenPGP message (RFC 3156 §6.2), as gpg-based clients send.
    let o = g.gpg(
        &[
            "--armor",
            "--sign",
            "--encrypt",
            "-u",
            &gus,
            "-r",
            &fingerprint_hex(&bob),
        ],
        entity,
    );
    ok(&o, "gpg --sign --encrypt");
    let mail = wrap(&headers, &encrypted_pgp_mime(&o.stdout).unwrap()).unwrap();
    let (opened, v) = decrypt_mail(
        &mail,
        &DecryptOptions::new()
            .key(bob.clone())
            .verify_with(public_cert(&gus_key)),
    )
    .unwrap();
    let m = Message::parse(opened).unwrap();
    assert_eq!(m.header("Subject"), Some("from gpg"));
    assert_eq!(m.root().body().text(), Some("Hello from gpg\r\n"));
    assert!(v.is_fully_encrypted() && v.signed_by_sender());

    // Inline PGP in a text part (received, never sent by us).
    let o = g.gpg(
        &["--armor", "--encrypt", "-r", &fingerprint_hex(&bob)],
        b"inline secret\n",
    );
    ok(&o, "gpg --encrypt --armor");
    let mut body = b"Content-Type: text/plain\r\n\r\n".to_vec();
    body.extend_from_slice(&o.stdout);
    let mail = wrap(&headers, &body).unwrap();
    let (opened, v) = decrypt_mail(&mail, &DecryptOptions::new().key(bob)).unwrap();
    let m = Message::parse(opened).unwrap();
    assert_eq!(m.root().body().text(), Some("inline secret\r\n"));
    assert!(v.is_fully_encrypted());
    let o = g.gpg(&["--clear-sign", "-u", &gus], b"inline signed\n");
    ok(&o, "gpg --clear-sign");
    let mut body = b"Content-Type: text/plain\r\n\r\n".to_vec();
    body.extend_from_slice(&o.stdout);
    let mail = wrap(&headers, &body).unwrap();
    let v = verify_mail(&mail, &[public_cert(&gus_key)]).unwrap();
    assert!(v.signed_by_sender());
}

#[test]
fn efail_shape_is_not_spliced() {
    // An attacker wraps a captured PGP/MIME message inside a multipart/mixed with their own
    // text: we do not decrypt nested ciphertext into surrounding parts.
    let (alice, bob) = keys();
    let s = SigningKey::new(&alice, &[]).unwrap();
    let sent = encrypt_mail(MSG, &[&public_cert(&bob)], Some(&s)).unwrap();
    let m = Message::parse(sent).unwrap();
    let mut evil =
        b"From: mallory@example.com\r\nContent-Type: multipart/mixed; boundary=\"e\"\r\n\r\n\
--e\r\nContent-Type: text/html\r\n\r\n<img src=\"http://evil/\r\n--e\r\n"
            .to_vec();
    let root = m.root();
    let ct = root.header("Content-Type").unwrap();
    evil.extend_from_slice(format!("Content-Type: {ct}\r\n\r\n").as_bytes());
    evil.extend_from_slice(root.raw_body());
    evil.extend_from_slice(b"\r\n--e--\r\n");
    assert!(decrypt_mail(&evil, &DecryptOptions::new().key(bob)).is_err());
}
