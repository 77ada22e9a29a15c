//! Interoperability with GnuPG 2.2 in both directions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Gpg, ok, status_has, write};
use secmail_core::SignatureStatus;
use secmail_pgp::*;

fn ours(uid: &str, algo: Algorithm) -> Cert {
    generate(&KeyGenOptions {
        algorithm: algo,
        ..KeyGenOptions::new(uid)
    })
    .unwrap()
    .key
}

/// gpg decrypts and verifies what we encrypt and sign, to Curve25519 and RSA, to several
/// recipients at once.
#[test]
fn gpg_reads_our_signed_encryption_to_many() {
    let g = Gpg::new();
    let alice = ours("Alice <alice@example.org>", Algorithm::Cv25519);
    let bob = ours("Bob <bob@example.net>", Algorithm::Cv25519);
    let carol = ours("Carol <carol@example.com>", Algorithm::Rsa3072);
    let signer = SigningKey::new(&alice, &[]).unwrap();
    let pt = b"Meet at noon.\nBring the documents.\n";
    let ct = encrypt(
        pt,
        &EncryptOptions::new()
            .recipient(&public_cert(&bob))
            .recipient(&public_cert(&carol))
            .sign_with(&signer),
    )
    .unwrap();
    g.import(&export_cert(&alice, Encoding::Armored).unwrap());
    for k in [&bob, &carol] {
        g.import(&export_key(k, Encoding::Binary).unwrap());
    }
    // gpg decrypts with either secret key: remove bob's to make it use carol's (RSA).
    let o = g.gpg(&["--status-fd", "2", "--decrypt"], &ct);
    ok(&o, "gpg --decrypt");
    assert_eq!(o.stdout, pt);
    assert!(
        status_has(&o, "GOODSIG"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(status_has(&o, "DECRYPTION_OKAY"));
    let bob_fpr = fingerprint_hex(&bob);
    let o = g.gpg(&["--delete-secret-and-public-keys", &bob_fpr], b"");
    ok(&o, "gpg --delete-secret-and-public-keys");
    let o = g.gpg(&["--status-fd", "2", "--decrypt"], &ct);
    ok(&o, "gpg --decrypt (RSA)");
    assert_eq!(o.stdout, pt);
    assert!(status_has(&o, "GOODSIG"));
}

/// We decrypt and verify what gpg encrypts and signs, from Curve25519 and RSA keys that gpg
/// made, to several recipients.
#[test]
fn we_read_gpg_signed_encryption() {
    let g = Gpg::new();
    let gus = g.gen_key("Gus <gus@example.org>", "future-default");
    let rita = g.gen_key("Rita <rita@example.org>", "rsa3072");
    let bob = ours("Bob <bob@example.net>", Algorithm::Cv25519);
    g.import(&export_cert(&bob, Encoding::Armored).unwrap());
    let gus_key = read_cert(&g.export_secret(&gus)).unwrap();
    let rita_key = read_cert(&g.export_secret(&rita)).unwrap();
    let pt = b"From gpg with love\n";
    for signer in [&gus, &rita] {
        let o = g.gpg(
            &[
                "--armor",
                "--sign",
                "--encrypt",
                "-u",
                signer,
                "-r",
                &fingerprint_hex(&bob),
                "-r",
                &gus,
                "-r",
                &rita,
            ],
            pt,
        );
        ok(&o, "gpg --sign --encrypt");
        let signer_cert = if signer == &gus { &gus_key } else { &rita_key };
        for k in [&bob, &gus_key, &rita_key] {
            let (got, v) = decrypt(
                &o.stdout,
                &DecryptOptions::new()
                    .key(k.clone())
                    .verify_with(public_cert(signer_cert))
                    .from(emails(signer_cert).first().cloned()),
            )
            .unwrap();
            assert_eq!(got, pt);
            assert!(v.is_fully_encrypted());
            assert_eq!(v.signatures[0].status, SignatureStatus::Good);
            assert!(v.signed_by_sender());
            assert_eq!(
                v.parts[0].decrypted_with.as_deref(),
                Some(fingerprint_hex(k).as_str())
            );
        }
    }
}

#[test]
fn password_messages_both_ways() {
    let g = Gpg::new();
    let pw = "correct horse battery staple";
    // gpg -c, then us.
    let o = run_sym(&g, &["--symmetric", "--armor"], pw, b"for your eyes\n");
    ok(&o, "gpg -c");
    let (pt, v) = decrypt(&o.stdout, &DecryptOptions::new().password(pw.into())).unwrap();
    assert_eq!(pt, b"for your eyes\n");
    assert_eq!(v.parts[0].decrypted_with.as_deref(), Some("password"));
    assert!(matches!(
        decrypt(&o.stdout, &DecryptOptions::new().password("wrong".into())),
        Err(Error::CannotDecrypt)
    ));
    // Us, then gpg -d.
    let ct = encrypt(b"back to you\n", &EncryptOptions::new().password(pw.into())).unwrap();
    let o = run_sym(&g, &["--decrypt"], pw, &ct);
    ok(&o, "gpg -d");
    assert_eq!(o.stdout, b"back to you\n");
}

fn run_sym(g: &Gpg, args: &[&str], pw: &str, input: &[u8]) -> std::process::Output {
    let mut c = std::process::Command::new("gpg");
    c.arg("--homedir")
        .arg(g.home.path())
        .args([
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            pw,
        ])
        .args(args);
    common::run(&mut c, input)
}

/// gpg --rfc2440 writes a Symmetrically Encrypted Data packet without MDC: refused, nothing out.
#[test]
fn gpg_rfc2440_without_integrity_is_refused() {
    let g = Gpg::new();
    let o = run_sym(
        &g,
        &["--rfc2440", "--symmetric", "--cipher-algo", "AES256"],
        "pw",
        b"efail\n",
    );
    ok(&o, "gpg --rfc2440 -c");
    let mut out = Vec::new();
    let e = decrypt_stream(
        &o.stdout[..],
        &mut out,
        &DecryptOptions::new().password("pw".into()),
    )
    .unwrap_err();
    assert!(matches!(e, Error::NoIntegrityProtection), "{e}");
    assert!(out.is_empty());
}

/// A byte flipped anywhere in a gpg-made message: refused, nothing released.
#[test]
fn flipped_byte_in_gpg_message_is_refused() {
    let g = Gpg::new();
    let bob = ours("Bob <bob@example.net>", Algorithm::Cv25519);
    g.import(&export_cert(&bob, Encoding::Armored).unwrap());
    let pt = vec![b'a'; 3000];
    let o = g.gpg(
        &[
            "--encrypt",
            "--compress-algo",
            "none",
            "-r",
            &fingerprint_hex(&bob),
        ],
        &pt,
    );
    ok(&o, "gpg --encrypt");
    let ct = o.stdout;
    let mut refused = 0;
    for i in 0..ct.len() {
        let mut bad = ct.clone();
        bad[i] ^= 0x40;
        let mut out = Vec::new();
        match decrypt_stream(&bad[..], &mut out, &DecryptOptions::new().key(bob.clone())) {
            Err(_) => {
                assert!(out.is_empty(), "plaintext released with byte {i} flipped");
                refused += 1;
            }
            Ok(_) => assert_eq!(out, pt, "altered plaintext accepted at byte {i}"),
        }
    }
    assert!(
        refused > ct.len() * 9 / 10,
        "only {refused} of {} refused",
        ct.len()
    );
}

#[test]
fn detached_and_inline_signatures_both_ways() {
    let g = Gpg::new();
    let gus = g.gen_key("Gus <gus@example.org>", "future-default");
    let gus_cert = read_cert(&g.export(&gus)).unwrap();
    let data = b"signed data\r\n";
    let dir = g.home.path();
    let data_path = write(dir, "data", data);

    // gpg's detached (armored and binary) and inline signatures, checked by us.
    for armor in [true, false] {
        let mut args = vec!["--detach-sign", "-u", &gus];
        if armor {
            args.push("--armor");
        }
        let o = g.gpg(&args, data);
        ok(&o, "gpg --detach-sign");
        let v = verify_detached(data, &o.stdout, std::slice::from_ref(&gus_cert), None).unwrap();
        assert_eq!(v.signatures[0].status, SignatureStatus::Good);
        let v = verify_detached(
            b"signed dat4\r\n",
            &o.stdout,
            std::slice::from_ref(&gus_cert),
            None,
        )
        .unwrap();
        assert_eq!(v.signatures[0].status, SignatureStatus::Bad);
    }
    let o = g.gpg(&["--sign", "-u", &gus], data);
    ok(&o, "gpg --sign");
    let (got, v) = verify(&o.stdout, std::slice::from_ref(&gus_cert), None).unwrap();
    assert_eq!(got, data);
    assert!(v.signatures[0].status.is_good());
    let o = g.gpg(&["--clear-sign", "-u", &gus], b"clear text\n");
    ok(&o, "gpg --clear-sign");
    let (got, v) = verify(&o.stdout, std::slice::from_ref(&gus_cert), None).unwrap();
    // The line ending before the signature armor belongs to the framing (RFC 9580 §7.1).
    assert_eq!(got.trim_ascii_end(), b"clear text");
    assert!(v.signatures[0].status.is_good());

    // Ours, checked by gpg.
    let alice = ours("Alice <alice@example.org>", Algorithm::Rsa3072);
    g.import(&export_cert(&alice, Encoding::Armored).unwrap());
    let s = SigningKey::new(&alice, &[]).unwrap();
    for enc in [Encoding::Armored, Encoding::Binary] {
        let sig = sign_detached(data, &[&s], enc).unwrap();
        let sig_path = write(dir, "sig", &sig);
        let o = g.gpg(
            &[
                "--status-fd",
                "2",
                "--verify",
                sig_path.to_str().unwrap(),
                data_path.to_str().unwrap(),
            ],
            b"",
        );
        ok(&o, "gpg --verify");
        assert!(status_has(&o, "GOODSIG"));
    }
    let signed = sign(data, &[&s], Encoding::Armored).unwrap();
    let o = g.gpg(&["--status-fd", "2", "--decrypt"], &signed);
    ok(&o, "gpg --decrypt (signed)");
    assert_eq!(o.stdout, data);
    assert!(status_has(&o, "GOODSIG"));
}

/// A gpg-made key protected by a passphrase opens with that passphrase only.
#[test]
fn gpg_protected_key_needs_its_passphrase() {
    let g = Gpg::new();
    let mut c = g.cmd();
    // The last --passphrase wins.
    c.args([
        "--passphrase",
        "s3cret",
        "--quick-gen-key",
        "Pat <pat@example.org>",
        "future-default",
        "default",
        "never",
    ]);
    ok(&common::run(&mut c, b""), "gpg --quick-gen-key (protected)");
    let fpr = g.fingerprint("Pat <pat@example.org>");
    let mut c = g.cmd();
    c.args(["--passphrase", "s3cret", "--export-secret-keys", &fpr]);
    let o = common::run(&mut c, b"");
    ok(&o, "gpg --export-secret-keys");
    let key = read_cert(&o.stdout).unwrap();
    let ct = encrypt(b"x", &EncryptOptions::new().recipient(&key)).unwrap();
    assert!(matches!(
        decrypt(&ct, &DecryptOptions::new().key(key.clone())),
        Err(Error::KeyLocked { .. })
    ));
    let (pt, _) = decrypt(
        &ct,
        &DecryptOptions::new()
            .key(key)
            .key_passphrase("s3cret".into()),
    )
    .unwrap();
    assert_eq!(pt, b"x");
}
