//! Inputs found by the fuzz targets, kept as tests of what secmail-smime does with them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use secmail_smime::{
    ReadOptions, encrypt_message, read_message, read_message_stream, sign_encrypt_message,
    sign_message,
};

/// Found by `ffi_smime` (seed `protect-leafless-multipart-min`): the writers accept a message
/// whose body is a multipart with no parts at all (`Content-Type: multipart`, no subtype, no
/// boundary). It reads back with a good signature by the sender, but its verdict describes no
/// parts, so it never says "fully signed" or "fully encrypted" — nothing is claimed of zero
/// parts.
#[test]
fn a_multipart_with_no_parts_reads_back_claiming_nothing() {
    let env = Env::new("CN=Regression CA");
    let anchors = env.anchors();
    let msg = b"From: alice@example.org\nTo: bob@example.net\nContent-Type:multipart";
    let alice = (&env.alice.0, &env.alice.1);
    let bob = std::slice::from_ref(&env.bob.0);
    let mut read = ReadOptions::default();
    read.anchors = &anchors;
    read.decrypt_with = Some((&env.bob.0, &env.bob.1));
    let made = [
        sign_message(msg, alice.0, alice.1, &[], false).unwrap(),
        sign_message(msg, alice.0, alice.1, &[], true).unwrap(),
        encrypt_message(msg, bob, &Default::default()).unwrap(),
        sign_encrypt_message(msg, alice.0, alice.1, &[], bob, &Default::default()).unwrap(),
    ];
    for (i, m) in made.iter().enumerate() {
        let r = read_message(m, &read).unwrap_or_else(|e| panic!("message {i}: {e}"));
        let v = &r.verdict;
        assert!(v.parts.is_empty(), "message {i}: {v:?}");
        assert!(
            !v.is_fully_signed() && !v.is_fully_encrypted(),
            "message {i}: {v:?}"
        );
        if i != 2 {
            assert!(v.signed_by_sender(), "message {i}: {v:?}");
        }
    }
}

/// Found by `ffi_smime` (`fuzz/known-crashes/ffi_smime-wrap-unreadable-multipart-signed`): the
/// writers wrapped a body that is a `multipart/signed` of another protocol, or of none, and
/// both readers then took it for one more S/MIME layer and refused the whole message — secmail
/// could not read what it had written. Inside a layer already removed it is content, released
/// byte-exact under the layers that cover it; at the top it is still refused.
#[test]
fn a_foreign_multipart_signed_inside_our_layers_is_content() {
    let env = Env::new("CN=Regression CA");
    let anchors = env.anchors();
    let alice = (&env.alice.0, &env.alice.1);
    let bob = std::slice::from_ref(&env.bob.0);
    let mut read = ReadOptions::default();
    read.anchors = &anchors;
    read.decrypt_with = Some((&env.bob.0, &env.bob.1));
    let bodies: [&[u8]; 3] = [
        b"From: alice@example.org\r\nTo: bob@example.net\r\nContent-Type: multipart/signed; potl\r\n\r\n",
        b"From: alice@example.org\r\nTo: bob@example.net\r\nContent-Type: multipart/signed; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\n\r\nsig\r\n--b--\r\n",
        b"From: alice@example.org\r\nTo: bob@example.net\r\nContent-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n-----END PGP SIGNATURE-----\r\n--b--\r\n",
    ];
    for (b, msg) in bodies.iter().enumerate() {
        // Unwrapped, it is not an S/MIME message.
        assert!(
            read_message(msg, &read).is_err(),
            "body {b} read at the top"
        );
        let made = [
            sign_message(msg, alice.0, alice.1, &[], false).unwrap(),
            sign_message(msg, alice.0, alice.1, &[], true).unwrap(),
            encrypt_message(msg, bob, &Default::default()).unwrap(),
            sign_encrypt_message(msg, alice.0, alice.1, &[], bob, &Default::default()).unwrap(),
        ];
        let body_of = |m: &[u8]| {
            let at = m.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            m[at + 4..].to_vec()
        };
        for (i, m) in made.iter().enumerate() {
            let r = read_message(m, &read).unwrap_or_else(|e| panic!("body {b}, message {i}: {e}"));
            assert_eq!(body_of(&r.message), body_of(msg), "body {b}, message {i}");
            if i != 2 {
                assert!(r.verdict.signed_by_sender(), "body {b}, message {i}");
            }
            let mut out = Vec::new();
            let v = read_message_stream(&m[..], &mut out, &read)
                .unwrap_or_else(|e| panic!("stream: body {b}, message {i}: {e}"));
            assert_eq!(out, r.message, "stream: body {b}, message {i}");
            assert_eq!(
                v.signed_by_sender(),
                i != 2,
                "stream: body {b}, message {i}"
            );
        }
    }
}
