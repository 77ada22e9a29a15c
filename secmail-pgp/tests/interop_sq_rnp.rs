//! Interoperability with sq (Sequoia's command, on Nettle) and rnp (on Botan), both directions.
//! sq 0.27 reads passphrases only from a terminal: its cases use unprotected keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{need, ok, run, write};
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

fn p(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn sq_both_directions() {
    need("sq");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let alice = ours("Alice <alice@example.org>", Algorithm::Cv25519);
    let bob = ours("Bob <bob@example.net>", Algorithm::Rsa3072);
    let alice_key = write(
        d,
        "alice.key",
        &export_key(&alice, Encoding::Armored).unwrap(),
    );
    let alice_cert = write(
        d,
        "alice.cert",
        &export_cert(&alice, Encoding::Armored).unwrap(),
    );
    let bob_key = write(d, "bob.key", &export_key(&bob, Encoding::Armored).unwrap());
    let bob_cert = write(
        d,
        "bob.cert",
        &export_cert(&bob, Encoding::Armored).unwrap(),
    );
    let pt = b"sq and secmail\n";

    // Ours -> sq: signed and encrypted to bob (RSA) and alice.
    let s = SigningKey::new(&alice, &[]).unwrap();
    let ct = encrypt(pt, &EncryptOptions::new().recipient(&bob).sign_with(&s)).unwrap();
    for key in [&bob_key, &alice_key] {
        let o = run(
            Command::new("sq").args([
                "decrypt",
                "--recipient-key",
                p(key),
                "--signer-cert",
                p(&alice_cert),
            ]),
            &ct,
        );
        ok(&o, "sq decrypt");
        assert_eq!(o.stdout, pt);
    }
    // A detached signature of ours, checked by sq.
    let sig = write(
        d,
        "sig",
        &sign_detached(pt, &[&s], Encoding::Armored).unwrap(),
    );
    let data = write(d, "data", pt);
    let o = run(
        Command::new("sq").args([
            "verify",
            "--detached",
            p(&sig),
            "--signer-cert",
            p(&alice_cert),
            p(&data),
        ]),
        b"",
    );
    ok(&o, "sq verify");

    // sq -> ours: bob signs, encrypts to alice and bob.
    let o = run(
        Command::new("sq").args([
            "encrypt",
            "--recipient-cert",
            p(&alice_cert),
            "--recipient-cert",
            p(&bob_cert),
            "--signer-key",
            p(&bob_key),
        ]),
        pt,
    );
    ok(&o, "sq encrypt");
    for k in [&alice, &bob] {
        let (got, v) = decrypt(
            &o.stdout,
            &DecryptOptions::new()
                .key(k.clone())
                .verify_with(public_cert(&bob))
                .from(Some("bob@example.net".into())),
        )
        .unwrap();
        assert_eq!(got, pt);
        assert!(v.is_fully_encrypted());
        assert_eq!(v.signatures[0].status, SignatureStatus::Good);
        assert!(v.signed_by_sender());
    }
    // sq's detached signature, checked by us.
    let o = run(
        Command::new("sq").args(["sign", "--detached", "--signer-key", p(&bob_key)]),
        pt,
    );
    ok(&o, "sq sign --detached");
    let v = verify_detached(pt, &o.stdout, &[public_cert(&bob)], None).unwrap();
    assert!(v.signatures[0].status.is_good());
}

fn rnp(
    home: &std::path::Path,
    keyfile: &std::path::Path,
    args: &[&str],
    stdin: &[u8],
) -> std::process::Output {
    run(
        Command::new("rnp")
            .arg("--homedir")
            .arg(home)
            .arg("--keyfile")
            .arg(keyfile)
            .args(["--notty", "--password", ""])
            .args(args),
        stdin,
    )
}

#[test]
fn rnp_both_directions() {
    need("rnp");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = d.join("rnp");
    std::fs::create_dir(&home).unwrap();
    let alice = ours("Alice <alice@example.org>", Algorithm::Cv25519);
    let bob = ours("Bob <bob@example.net>", Algorithm::Rsa3072);
    // rnp reads one keyring file: bob's secret key and alice's certificate.
    let mut ring = export_key(&bob, Encoding::Binary).unwrap();
    ring.extend(export_cert(&alice, Encoding::Binary).unwrap());
    let ring = write(d, "ring.pgp", &ring);
    let pt = b"rnp and secmail\n";

    // Ours -> rnp.
    let s = SigningKey::new(&alice, &[]).unwrap();
    let ct = encrypt(pt, &EncryptOptions::new().recipient(&bob).sign_with(&s)).unwrap();
    let o = rnp(&home, &ring, &["--decrypt", "--output", "-"], &ct);
    ok(&o, "rnp --decrypt");
    assert_eq!(o.stdout, pt);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Good signature"), "{err}");

    // rnp -> ours: bob signs and encrypts to alice and bob (RSA).
    let o = rnp(
        &home,
        &ring,
        &[
            "--encrypt",
            "--sign",
            "-u",
            &fingerprint_hex(&bob),
            "-r",
            &fingerprint_hex(&alice),
            "-r",
            &fingerprint_hex(&bob),
            "--output",
            "-",
        ],
        pt,
    );
    ok(&o, "rnp --encrypt --sign");
    for k in [&alice, &bob] {
        let (got, v) = decrypt(
            &o.stdout,
            &DecryptOptions::new()
                .key(k.clone())
                .verify_with(public_cert(&bob)),
        )
        .unwrap();
        assert_eq!(got, pt);
        assert!(v.signatures[0].status.is_good());
    }

    // Password messages both ways.
    let o = rnp(
        &home,
        &ring,
        &["--symmetric", "--password", "pw", "--output", "-"],
        pt,
    );
    ok(&o, "rnp -c");
    let (got, _) = decrypt(&o.stdout, &DecryptOptions::new().password("pw".into())).unwrap();
    assert_eq!(got, pt);
    let ct = encrypt(pt, &EncryptOptions::new().password("pw".into())).unwrap();
    let o = rnp(
        &home,
        &ring,
        &["--decrypt", "--password", "pw", "--output", "-"],
        &ct,
    );
    ok(&o, "rnp -d (password)");
    assert_eq!(o.stdout, pt);

    // Detached signatures both ways.
    let data = write(d, "data", pt);
    let o = rnp(
        &home,
        &ring,
        &[
            "--sign",
            "--detach",
            "-u",
            &fingerprint_hex(&bob),
            "--output",
            "-",
            p(&data),
        ],
        b"",
    );
    ok(&o, "rnp --sign --detach");
    let v = verify_detached(pt, &o.stdout, &[public_cert(&bob)], None).unwrap();
    assert!(v.signatures[0].status.is_good());
    let sig = write(
        d,
        "data.sig",
        &sign_detached(pt, &[&s], Encoding::Binary).unwrap(),
    );
    let o = rnp(
        &home,
        &ring,
        &["--verify", p(&sig), "--source", p(&data)],
        b"",
    );
    ok(&o, "rnp --verify");
}
