//! `secmail smime` run as a program: the CA, sign/encrypt/decrypt/verify round trips, OpenSSL
//! reading what the command wrote, and failures that exit 1 and leave no output file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod run;

use run::{run_ok as ok, secmail};

use std::fs;
use std::path::Path;
use std::process::Command;

fn openssl(args: &[&str], dir: &Path) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is required for these tests (apt-get install openssl); it was not found")
        .status
        .success()
}

const MSG: &str = "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: test\r\n\
Content-Type: text/plain\r\n\r\nThe eagle has landed.\r\n";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("msg.eml"), MSG).unwrap();
    ok(
        &[
            "smime",
            "ca",
            "new",
            "--subject",
            "CN=CLI Test CA",
            "--out-cert",
            "ca.pem",
            "--out-key",
            "ca.key",
            "--days",
            "10",
        ],
        d,
    );
    for (who, usage) in [
        ("alice@example.org", "both"),
        ("bob@example.net", "both"),
        ("signer@example.org", "sign"),
    ] {
        let name = who.split('@').next().unwrap();
        ok(
            &[
                "smime",
                "ca",
                "issue",
                "--ca-cert",
                "ca.pem",
                "--ca-key",
                "ca.key",
                "--email",
                who,
                "--usage",
                usage,
                "--out-cert",
                &format!("{name}.pem"),
                "--out-key",
                &format!("{name}.key"),
            ],
            d,
        );
    }
    dir
}

#[test]
fn ca_keys_are_private_and_certificates_pass_openssl() {
    let dir = setup();
    let d = dir.path();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(d.join("alice.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key file is readable by others");
    }
    assert!(openssl(
        &[
            "verify",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "smimesign",
            "alice.pem"
        ],
        d
    ));
    assert!(openssl(
        &[
            "verify",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "smimeencrypt",
            "bob.pem"
        ],
        d
    ));
    assert!(!openssl(
        &[
            "verify",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "smimeencrypt",
            "signer.pem"
        ],
        d
    ));
}

#[test]
fn sign_encrypt_decrypt_verify_round_trip_with_verdict() {
    let dir = setup();
    let d = dir.path();
    ok(
        &[
            "smime",
            "sign-encrypt-mail",
            "--cert",
            "alice.pem",
            "--key",
            "alice.key",
            "--to",
            "bob.pem",
            "--in",
            "msg.eml",
            "--out",
            "sealed.eml",
        ],
        d,
    );
    // OpenSSL opens it.
    assert!(openssl(
        &[
            "cms",
            "-decrypt",
            "-recip",
            "bob.pem",
            "-inkey",
            "bob.key",
            "-in",
            "sealed.eml",
            "-out",
            "inner.eml"
        ],
        d
    ));
    assert!(openssl(
        &["smime", "-verify", "-CAfile", "ca.pem", "-in", "inner.eml"],
        d
    ));
    // The sender is a recipient by default.
    ok(
        &[
            "smime",
            "decrypt-mail",
            "--cert",
            "alice.pem",
            "--key",
            "alice.key",
            "--in",
            "sealed.eml",
            "--out",
            "mine.eml",
        ],
        d,
    );
    ok(
        &[
            "smime",
            "decrypt-mail",
            "--cert",
            "bob.pem",
            "--key",
            "bob.key",
            "--ca",
            "ca.pem",
            "--verdict",
            "v.json",
            "--in",
            "sealed.eml",
            "--out",
            "plain.eml",
        ],
        d,
    );
    let plain = fs::read_to_string(d.join("plain.eml")).unwrap();
    assert!(plain.contains("The eagle has landed."));
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("v.json")).unwrap()).unwrap();
    assert_eq!(v["from"], "alice@example.org");
    assert_eq!(v["signatures"][0]["status"], "good");
    assert_eq!(v["signatures"][0]["matches_from"], true);
    assert_eq!(v["parts"][0]["encrypted"], true);
    assert_eq!(v["parts"][0]["signed"], true);
}

#[test]
fn sign_and_verify_detached_and_opaque() {
    let dir = setup();
    let d = dir.path();
    for (extra, out) in [(None, "s.eml"), (Some("--opaque"), "o.eml")] {
        let mut args = vec![
            "smime",
            "sign-mail",
            "--cert",
            "alice.pem",
            "--key",
            "alice.key",
            "--in",
            "msg.eml",
            "--out",
            out,
        ];
        args.extend(extra);
        ok(&args, d);
        assert!(openssl(
            &["smime", "-verify", "-CAfile", "ca.pem", "-in", out],
            d
        ));
        ok(
            &[
                "smime",
                "verify-mail",
                "--ca",
                "ca.pem",
                "--in",
                out,
                "--out",
                "checked.eml",
            ],
            d,
        );
    }
}

#[test]
fn failures_exit_1_and_write_nothing() {
    let dir = setup();
    let d = dir.path();
    ok(
        &[
            "smime",
            "sign-mail",
            "--cert",
            "alice.pem",
            "--key",
            "alice.key",
            "--in",
            "msg.eml",
            "--out",
            "s.eml",
        ],
        d,
    );
    ok(
        &[
            "smime",
            "ca",
            "new",
            "--subject",
            "CN=Other",
            "--out-cert",
            "other.pem",
            "--out-key",
            "other.key",
        ],
        d,
    );
    // Untrusted anchor.
    let o = secmail(
        &[
            "smime",
            "verify-mail",
            "--ca",
            "other.pem",
            "--in",
            "s.eml",
            "--out",
            "x.eml",
            "--verdict",
            "x.json",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.join("x.eml").exists() && !d.join("x.json").exists());
    // Altered content.
    let altered = fs::read_to_string(d.join("s.eml"))
        .unwrap()
        .replace("eagle", "beagle");
    fs::write(d.join("alt.eml"), altered).unwrap();
    let o = secmail(
        &[
            "smime",
            "verify-mail",
            "--ca",
            "ca.pem",
            "--in",
            "alt.eml",
            "--out",
            "x.eml",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.join("x.eml").exists());
    // A signing-only certificate as recipient.
    let o = secmail(
        &[
            "smime",
            "encrypt-mail",
            "--to",
            "signer.pem",
            "--in",
            "msg.eml",
            "--out",
            "x.eml",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.join("x.eml").exists());
    // Wrong key.
    ok(
        &[
            "smime",
            "encrypt-mail",
            "--to",
            "bob.pem",
            "--cipher",
            "aes-256-cbc",
            "--in",
            "msg.eml",
            "--out",
            "e.eml",
        ],
        d,
    );
    let o = secmail(
        &[
            "smime",
            "decrypt-mail",
            "--cert",
            "alice.pem",
            "--key",
            "alice.key",
            "--in",
            "e.eml",
            "--out",
            "x.eml",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.join("x.eml").exists());
    // Encrypted but not signed, with --ca: refused.
    let o = secmail(
        &[
            "smime",
            "decrypt-mail",
            "--cert",
            "bob.pem",
            "--key",
            "bob.key",
            "--ca",
            "ca.pem",
            "--in",
            "e.eml",
            "--out",
            "x.eml",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.join("x.eml").exists());
}

#[test]
fn encrypted_pkcs8_keys_from_openssl_with_key_password_file() {
    let dir = setup();
    let d = dir.path();
    fs::write(d.join("pw.txt"), "correct horse\n").unwrap();
    fs::write(d.join("wrong.txt"), "wrong horse\n").unwrap();
    for (scheme, file) in [
        (&["-v2", "aes-256-cbc"][..], "alice-aes.key"),
        (
            &["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA512"][..],
            "alice-sha512.key",
        ),
        (&["-v2", "des3"][..], "alice-3des.key"),
        (&["-scrypt"][..], "alice-scrypt.key"),
    ] {
        let mut args = vec!["pkcs8", "-topk8", "-in", "alice.key", "-out", file];
        args.extend_from_slice(scheme);
        args.extend_from_slice(&["-passout", "file:pw.txt"]);
        assert!(openssl(&args, d), "openssl pkcs8 {scheme:?}");
        let out = format!("{file}.eml");
        ok(
            &[
                "smime",
                "sign-encrypt-mail",
                "--cert",
                "alice.pem",
                "--key",
                file,
                "--key-password-file",
                "pw.txt",
                "--to",
                "bob.pem",
                "--in",
                "msg.eml",
                "--out",
                &out,
            ],
            d,
        );
        // The same key decrypts the sender's copy.
        let o = ok(
            &[
                "smime",
                "decrypt-mail",
                "--cert",
                "alice.pem",
                "--key",
                file,
                "--key-password-file",
                "pw.txt",
                "--ca",
                "ca.pem",
                "--in",
                &out,
            ],
            d,
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("The eagle has landed."));
        let bad = secmail(
            &[
                "smime",
                "sign-mail",
                "--cert",
                "alice.pem",
                "--key",
                file,
                "--key-password-file",
                "wrong.txt",
                "--in",
                "msg.eml",
            ],
            d,
        );
        assert_eq!(bad.status.code(), Some(1), "{scheme:?}");
        assert!(bad.stdout.is_empty());
        // Without a password, the error says the key is encrypted.
        let none = secmail(
            &[
                "smime",
                "sign-mail",
                "--cert",
                "alice.pem",
                "--key",
                file,
                "--in",
                "msg.eml",
            ],
            d,
        );
        assert!(String::from_utf8_lossy(&none.stderr).contains("encrypted"));
    }
}

#[test]
fn pkcs12_bundles_from_openssl_with_p12() {
    let dir = setup();
    let d = dir.path();
    fs::write(d.join("pw.txt"), "bundle pass\n").unwrap();
    for (name, extra) in [
        ("alice.p12", &[][..]),
        ("alice-legacy.p12", &["-legacy"][..]),
    ] {
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            "alice.pem",
            "-inkey",
            "alice.key",
            "-certfile",
            "ca.pem",
            "-out",
            name,
            "-passout",
            "file:pw.txt",
        ];
        args.extend_from_slice(extra);
        assert!(openssl(&args, d), "openssl pkcs12 {extra:?}");
        let out = format!("{name}.eml");
        ok(
            &[
                "smime",
                "sign-encrypt-mail",
                "--p12",
                name,
                "--key-password-file",
                "pw.txt",
                "--to",
                "bob.pem",
                "--in",
                "msg.eml",
                "--out",
                &out,
            ],
            d,
        );
        let o = ok(
            &[
                "smime",
                "decrypt-mail",
                "--p12",
                name,
                "--key-password-file",
                "pw.txt",
                "--ca",
                "ca.pem",
                "--in",
                &out,
            ],
            d,
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("The eagle has landed."));
        // OpenSSL reads what was signed and encrypted with the bundle's key.
        assert!(openssl(
            &[
                "cms",
                "-decrypt",
                "-in",
                &out,
                "-recip",
                "bob.pem",
                "-inkey",
                "bob.key",
                "-out",
                "inner.eml"
            ],
            d
        ));
        assert!(openssl(
            &["smime", "-verify", "-CAfile", "ca.pem", "-in", "inner.eml"],
            d
        ));
        let bad = secmail(&["smime", "sign-mail", "--p12", name, "--in", "msg.eml"], d);
        assert_eq!(bad.status.code(), Some(1), "no password given");
        assert!(bad.stdout.is_empty());
    }
}
