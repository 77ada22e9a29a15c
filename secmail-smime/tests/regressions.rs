//! Inputs found by the fuzz targets, kept as tests of what secmail-smime does with them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use secmail_smime::{
    ReadOptions, encrypt_message, read_message, sign_encrypt_message, sign_message,
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
