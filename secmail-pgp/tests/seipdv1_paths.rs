//! The SEIPDv1 bulk path (OpenSSL CFB + MDC) and the replay to sequoia's Decryptor for what it
//! does not handle, against gpg and sq: password (SKESK) messages both ways with sq, ciphers
//! other than AES from gpg (replayed to sequoia), and tampering the fast path must refuse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{Gpg, need, ok, run};
use secmail_pgp::{
    DecryptOptions, Encoding, EncryptOptions, Error, KeyGenOptions, decrypt, decrypt_stream,
    encrypt, generate,
};

const PW: &str = "correct horse battery staple";

/// Runs an `expect` script (sq 0.27 reads passwords only from a terminal).
fn expect(dir: &std::path::Path, script: &str) {
    need("expect");
    let path = common::write(dir, "run.exp", script.as_bytes());
    let o = run(Command::new("expect").arg(&path).current_dir(dir), b"");
    ok(&o, "expect");
}

#[test]
fn sq_password_messages_both_ways() {
    need("sq");
    let dir = tempfile::tempdir().unwrap();
    // sq encrypt --symmetric, then us.
    common::write(dir.path(), "m.txt", b"from sq, by password\n");
    expect(
        dir.path(),
        &format!(
            "set timeout 60\nspawn sq encrypt --symmetric --output m.sq m.txt\n\
             expect -re \"(?i)password\"\nsend \"{PW}\\r\"\nexpect eof\n\
             catch wait r\nexit [lindex $r 3]\n"
        ),
    );
    let ct = std::fs::read(dir.path().join("m.sq")).unwrap();
    let (pt, v) = decrypt(&ct, &DecryptOptions::new().password(PW.into())).unwrap();
    assert_eq!(pt, b"from sq, by password\n");
    assert_eq!(v.parts[0].decrypted_with.as_deref(), Some("password"));
    assert!(matches!(
        decrypt(&ct, &DecryptOptions::new().password("wrong".into())),
        Err(Error::CannotDecrypt)
    ));

    // Us, then sq decrypt.
    let ct = encrypt(
        b"to sq, by password\n",
        &EncryptOptions::new().password(PW.into()),
    )
    .unwrap();
    common::write(dir.path(), "m.ours", &ct);
    expect(
        dir.path(),
        &format!(
            "set timeout 60\nspawn sq decrypt --output m.back m.ours\n\
             expect -re \"(?i)password\"\nsend \"{PW}\\r\"\nexpect eof\n\
             catch wait r\nexit [lindex $r 3]\n"
        ),
    );
    assert_eq!(
        std::fs::read(dir.path().join("m.back")).unwrap(),
        b"to sq, by password\n"
    );
}

fn gpg_symmetric(g: &Gpg, cipher: &str, data: &[u8]) -> Vec<u8> {
    let o = run(
        Command::new("gpg")
            .arg("--homedir")
            .arg(g.home.path())
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                PW,
                "--s2k-count",
                "65536",
                "--compress-algo",
                "none",
                "--cipher-algo",
                cipher,
                "--symmetric",
                "--output",
                "-",
            ]),
        data,
    );
    ok(&o, "gpg --symmetric");
    o.stdout
}

#[test]
fn every_cipher_gpg_writes_is_read_fast_path_or_replayed() {
    let g = Gpg::new();
    // AES-128/192/256 take the OpenSSL path; Camellia is replayed to sequoia's Decryptor.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for cipher in ["AES", "AES192", "AES256", "CAMELLIA128", "CAMELLIA256"] {
        let ct = gpg_symmetric(&g, cipher, &data);
        let (pt, v) = decrypt(&ct, &DecryptOptions::new().password(PW.into()))
            .unwrap_or_else(|e| panic!("{cipher}: {e}"));
        assert_eq!(pt, data, "{cipher}");
        assert!(v.is_fully_encrypted(), "{cipher}");
    }
}

#[test]
fn fast_path_refuses_tampering_and_releases_nothing() {
    let bob = generate(&KeyGenOptions::new("Bob <bob@example.net>"))
        .unwrap()
        .key;
    let data = vec![0x5Au8; 100_000];
    let ct = encrypt(
        &data,
        &EncryptOptions::new()
            .recipient(&bob)
            .encoding(Encoding::Binary),
    )
    .unwrap();
    let opts = DecryptOptions::new().key(bob);
    assert_eq!(decrypt(&ct, &opts).unwrap().0, data);

    let refused = |m: &[u8], what: &str| {
        let mut out = Vec::new();
        let r = decrypt_stream(m, &mut out, &opts);
        assert!(r.is_err(), "{what} accepted");
        assert!(out.is_empty(), "{what}: plaintext released");
    };
    // A flipped bit in the MDC, in the middle, in the prefix's quick-check bytes.
    for pos in [ct.len() - 1, ct.len() - 21, ct.len() / 2] {
        let mut m = ct.clone();
        m[pos] ^= 0x01;
        refused(&m, &format!("flip at {pos}"));
    }
    // Truncated (the MDC cut off), and a packet after the encrypted one.
    refused(&ct[..ct.len() - 1], "truncated");
    refused(&ct[..ct.len() - 22], "MDC removed");
    let mut m = ct.clone();
    m.extend_from_slice(&[0xCA, 0x03, b'P', b'G', b'P']); // a Marker packet
    refused(&m, "trailing packet");
    // The plaintext bound holds on this path too.
    assert!(matches!(
        decrypt(
            &ct,
            &DecryptOptions::new().key(
                generate(&KeyGenOptions::new("x <x@example.org>"))
                    .unwrap()
                    .key
            )
        ),
        Err(Error::CannotDecrypt)
    ));
    let bob2 = opts.clone().max_plaintext(1000);
    assert!(matches!(decrypt(&ct, &bob2), Err(Error::TooLarge { .. })));
}
