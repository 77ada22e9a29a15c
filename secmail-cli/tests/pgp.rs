//! `secmail pgp` run as a program: keys, messages, PGP/MIME, `--signer`, `--verdict`,
//! and failures that leave no output; interop with gpg through the command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod run;

use run::{fails, ok, secmail};

use std::fs;
use std::process::Command;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&secmail(
        &[
            "pgp",
            "keygen",
            "--userid",
            "Alice <alice@example.org>",
            "--out",
            "alice.key",
        ],
        d,
    ));
    assert!(d.join("alice.key.rev").exists());
    ok(&secmail(
        &[
            "pgp",
            "keygen",
            "--userid",
            "Bob <bob@example.net>",
            "--algo",
            "rsa3072",
            "--out",
            "bob.key",
        ],
        d,
    ));
    ok(&secmail(
        &[
            "pgp",
            "keygen",
            "--userid",
            "Mallory <m@example.com>",
            "--out",
            "mallory.key",
        ],
        d,
    ));
    for n in ["alice", "bob", "mallory"] {
        ok(&secmail(
            &[
                "pgp",
                "cert",
                "--in",
                &format!("{n}.key"),
                "--out",
                &format!("{n}.cert"),
            ],
            d,
        ));
    }
    fs::write(d.join("msg.txt"), "attack at dawn\n").unwrap();
    fs::write(
        d.join("mail.eml"),
        "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Dawn\r\n\
Content-Type: text/plain\r\n\r\nattack at dawn\r\n",
    )
    .unwrap();
    fs::write(d.join("pw"), "hunter2 hunter2\n").unwrap();
    dir
}

#[test]
fn encrypt_decrypt_with_signer_and_verdict() {
    let dir = setup();
    let d = dir.path();
    ok(&secmail(
        &[
            "pgp",
            "encrypt",
            "--to",
            "bob.cert",
            "--sign-with",
            "alice.key",
            "--armor",
            "--in",
            "msg.txt",
            "--out",
            "msg.asc",
        ],
        d,
    ));
    let o = secmail(
        &[
            "pgp",
            "decrypt",
            "--key",
            "bob.key",
            "--signer",
            "alice.cert",
            "--verdict",
            "v.json",
            "--in",
            "msg.asc",
        ],
        d,
    );
    ok(&o);
    assert_eq!(o.stdout, b"attack at dawn\n");
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("v.json")).unwrap()).unwrap();
    assert_eq!(v["signatures"][0]["status"], "good");
    assert_eq!(v["parts"][0]["encrypted"], true);
    // Alice can read her sent copy.
    ok(&secmail(
        &["pgp", "decrypt", "--key", "alice.key", "--in", "msg.asc"],
        d,
    ));
    // --signer someone else: exit 1, nothing out, no file.
    let o = secmail(
        &[
            "pgp",
            "decrypt",
            "--key",
            "bob.key",
            "--signer",
            "mallory.cert",
            "--in",
            "msg.asc",
            "--out",
            "out.txt",
        ],
        d,
    );
    fails(&o);
    assert!(!d.join("out.txt").exists());
    // The wrong key: exit 1.
    fails(&secmail(
        &["pgp", "decrypt", "--key", "mallory.key", "--in", "msg.asc"],
        d,
    ));
    // A flipped byte: exit 1, nothing out.
    let mut ct = fs::read(d.join("msg.asc")).unwrap();
    let i = ct.len() - 120;
    ct[i] = if ct[i] == b'A' { b'B' } else { b'A' };
    fs::write(d.join("bad.asc"), ct).unwrap();
    fails(&secmail(
        &["pgp", "decrypt", "--key", "bob.key", "--in", "bad.asc"],
        d,
    ));
}

#[test]
fn password_encryption_and_gpg() {
    let dir = setup();
    let d = dir.path();
    ok(&secmail(
        &[
            "pgp",
            "encrypt",
            "--passphrase-file",
            "pw",
            "--in",
            "msg.txt",
            "--out",
            "msg.pgp",
        ],
        d,
    ));
    let o = secmail(
        &[
            "pgp",
            "decrypt",
            "--passphrase-file",
            "pw",
            "--in",
            "msg.pgp",
        ],
        d,
    );
    ok(&o);
    assert_eq!(o.stdout, b"attack at dawn\n");
    // gpg -d reads it.
    let home = tempfile::Builder::new().prefix("g").tempdir().unwrap();
    let g = Command::new("gpg")
        .arg("--homedir")
        .arg(home.path())
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "hunter2 hunter2",
            "--decrypt",
        ])
        .arg(d.join("msg.pgp"))
        .output()
        .expect("gpg is needed: apt-get install -y gnupg");
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "all"])
        .status();
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    assert_eq!(g.stdout, b"attack at dawn\n");
}

#[test]
fn sign_and_verify_inline_and_detached() {
    let dir = setup();
    let d = dir.path();
    ok(&secmail(
        &[
            "pgp",
            "sign",
            "--key",
            "alice.key",
            "--detached",
            "--armor",
            "--in",
            "msg.txt",
            "--out",
            "msg.sig",
        ],
        d,
    ));
    ok(&secmail(
        &[
            "pgp",
            "verify",
            "--signer",
            "alice.cert",
            "--signature",
            "msg.sig",
            "--in",
            "msg.txt",
        ],
        d,
    ));
    fails(&secmail(
        &[
            "pgp",
            "verify",
            "--signer",
            "mallory.cert",
            "--signature",
            "msg.sig",
            "--in",
            "msg.txt",
        ],
        d,
    ));
    fs::write(d.join("other.txt"), "retreat at dawn\n").unwrap();
    fails(&secmail(
        &[
            "pgp",
            "verify",
            "--signer",
            "alice.cert",
            "--signature",
            "msg.sig",
            "--in",
            "other.txt",
        ],
        d,
    ));
    ok(&secmail(
        &[
            "pgp",
            "sign",
            "--key",
            "alice.key",
            "--in",
            "msg.txt",
            "--out",
            "msg.signed",
        ],
        d,
    ));
    ok(&secmail(
        &[
            "pgp",
            "verify",
            "--signer",
            "alice.cert",
            "--in",
            "msg.signed",
        ],
        d,
    ));
}

#[test]
fn mail_commands() {
    let dir = setup();
    let d = dir.path();
    ok(&secmail(
        &[
            "pgp",
            "encrypt-mail",
            "--to",
            "bob.cert",
            "--sign-with",
            "alice.key",
            "--in",
            "mail.eml",
            "--out",
            "sent.eml",
        ],
        d,
    ));
    let sent = fs::read_to_string(d.join("sent.eml")).unwrap();
    assert!(sent.contains("multipart/encrypted"));
    assert!(!sent.contains("Subject: Dawn"));
    let o = secmail(
        &[
            "pgp",
            "decrypt-mail",
            "--key",
            "bob.key",
            "--signer",
            "alice.cert",
            "--verdict",
            "v.json",
            "--in",
            "sent.eml",
        ],
        d,
    );
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Subject: Dawn"));
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("v.json")).unwrap()).unwrap();
    assert_eq!(v["signatures"][0]["matches_from"], true);
    assert_eq!(v["header_protection"]["form"], "rfc9788-cipher");
    fails(&secmail(
        &[
            "pgp",
            "decrypt-mail",
            "--key",
            "bob.key",
            "--signer",
            "mallory.cert",
            "--in",
            "sent.eml",
        ],
        d,
    ));

    ok(&secmail(
        &[
            "pgp",
            "sign-mail",
            "--key",
            "alice.key",
            "--in",
            "mail.eml",
            "--out",
            "signed.eml",
        ],
        d,
    ));
    ok(&secmail(
        &[
            "pgp",
            "verify-mail",
            "--signer",
            "alice.cert",
            "--verdict",
            "s.json",
            "--in",
            "signed.eml",
        ],
        d,
    ));
    fails(&secmail(
        &[
            "pgp",
            "verify-mail",
            "--signer",
            "mallory.cert",
            "--in",
            "signed.eml",
        ],
        d,
    ));
}
