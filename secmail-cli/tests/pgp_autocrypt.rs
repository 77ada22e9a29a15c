//! `secmail pgp autocrypt-read` / `autocrypt-recommend` run as a program, over headers made by
//! our key generator and by gpg.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod run;

use run::{date_days_ago, ok, secmail};

use std::fs;
use std::path::Path;
use std::process::Command;

fn mail(from: &str, date: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: bob@example.net, carol@example.com\r\nDate: {date}\r\nSubject: hi\r\n\
         Content-Type: text/plain\r\n\r\nhello\r\n"
    )
    .into_bytes()
}

#[test]
fn read_then_recommend() {
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
    let alice = secmail_pgp::read_cert(&fs::read(d.join("alice.key")).unwrap()).unwrap();
    let today = date_days_ago(0);
    let today = today.as_str();
    let m = secmail_pgp::add_autocrypt_header(
        &mail("Alice <alice@example.org>", today),
        &alice,
        secmail_pgp::PreferEncrypt::Mutual,
    )
    .unwrap();
    fs::write(d.join("a.eml"), &m).unwrap();
    let out = ok(&secmail(
        &["pgp", "autocrypt-read", "--peers", "peers", "--in", "a.eml"],
        d,
    ));
    assert!(out.contains("Autocrypt header taken"), "{out}");
    // Unknown recipients disable the whole message; a mutual sender encrypts to Alice.
    let out = ok(&secmail(
        &[
            "pgp",
            "autocrypt-recommend",
            "--peers",
            "peers",
            "--mutual",
            "--to",
            "ALICE@example.org",
        ],
        d,
    ));
    let fpr = alice.fingerprint().to_hex();
    assert!(
        out.contains(&format!("ALICE@example.org: encrypt {fpr}")),
        "{out}"
    );
    assert!(out.ends_with("all: encrypt\n"), "{out}");
    let out = ok(&secmail(
        &[
            "pgp",
            "autocrypt-recommend",
            "--peers",
            "peers",
            "--to",
            "alice@example.org",
            "--to",
            "nobody@example.org",
        ],
        d,
    ));
    assert!(out.contains("alice@example.org: available"), "{out}");
    assert!(out.contains("nobody@example.org: disable"), "{out}");
    assert!(out.ends_with("all: disable\n"), "{out}");
    // An older message changes nothing; a message without a header 40 days later discourages.
    fs::write(
        d.join("old.eml"),
        mail("alice@example.org", &date_days_ago(26)),
    )
    .unwrap();
    let out = ok(&secmail(
        &[
            "pgp",
            "autocrypt-read",
            "--peers",
            "peers",
            "--in",
            "old.eml",
        ],
        d,
    ));
    assert!(out.contains("older"), "{out}");
    // (The effective date is clamped to now, so "later" must not be in the future: move the
    // header's date back instead.)
    let m = String::from_utf8(m)
        .unwrap()
        .replace(today, &date_days_ago(180));
    let d2 = d.join("p2");
    fs::create_dir(&d2).unwrap();
    fs::write(d2.join("a.eml"), &m).unwrap();
    fs::write(d2.join("b.eml"), mail("alice@example.org", today)).unwrap();
    for f in ["a.eml", "b.eml"] {
        ok(&secmail(
            &["pgp", "autocrypt-read", "--peers", "peers", "--in", f],
            &d2,
        ));
    }
    let out = ok(&secmail(
        &[
            "pgp",
            "autocrypt-recommend",
            "--peers",
            "peers",
            "--mutual",
            "--to",
            "alice@example.org",
        ],
        &d2,
    ));
    assert!(out.ends_with("all: discourage\n"), "{out}");
    let out = ok(&secmail(
        &[
            "pgp",
            "autocrypt-recommend",
            "--peers",
            "peers",
            "--reply-to-encrypted",
            "--to",
            "alice@example.org",
        ],
        &d2,
    ));
    assert!(out.ends_with("all: encrypt\n"), "{out}");
}

#[test]
fn gossip_only_from_decrypted_and_gpg_key() {
    for tool in ["gpg", "gpgconf"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .status()
            .unwrap()
            .success();
        assert!(found, "{tool} is missing: apt-get install gnupg");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = d.join("gnupg");
    fs::create_dir(&home).unwrap();
    let gpg = |args: &[&str]| {
        let o = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    gpg(&[
        "--quick-gen-key",
        "Carol <carol@example.com>",
        "future-default",
        "default",
        "never",
    ]);
    let carol = secmail_pgp::read_cert(&gpg(&["--export", "carol@example.com"])).unwrap();
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "all"])
        .status();
    let m =
        secmail_pgp::add_gossip_headers(&mail("dave@example.net", &date_days_ago(0)), &[&carol])
            .unwrap();
    fs::write(d.join("g.eml"), &m).unwrap();
    // Without --decrypted, gossip is not read.
    let out = ok(&secmail(
        &["pgp", "autocrypt-read", "--peers", "peers", "--in", "g.eml"],
        d,
    ));
    assert!(!out.contains("gossip"), "{out}");
    let rec = |d: &Path| {
        ok(&secmail(
            &[
                "pgp",
                "autocrypt-recommend",
                "--peers",
                "peers",
                "--mutual",
                "--to",
                "carol@example.com",
            ],
            d,
        ))
    };
    assert!(rec(d).ends_with("all: disable\n"));
    let out = ok(&secmail(
        &[
            "pgp",
            "autocrypt-read",
            "--peers",
            "peers",
            "--decrypted",
            "--in",
            "g.eml",
        ],
        d,
    ));
    assert!(out.contains("gossip: 1 key(s) taken"), "{out}");
    // A gossiped key alone discourages.
    let out = rec(d);
    assert!(
        out.contains(&format!("discourage {}", carol.fingerprint().to_hex())),
        "{out}"
    );
}

#[test]
fn damaged_state_fails_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("peers")).unwrap();
    fs::write(d.join("peers").join("x.peer"), b"not a state\n").unwrap();
    let o = secmail(
        &[
            "pgp",
            "autocrypt-recommend",
            "--peers",
            "peers",
            "--to",
            "a@b.c",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let o = secmail(
        &[
            "pgp",
            "autocrypt-recommend",
            "--peers",
            "missing",
            "--to",
            "a@b.c",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
}

/// (Not Autocrypt, but this branch's fix.) A v6 key made with a passphrase signs and decrypts
/// with it through the command; without it, exit 1 and no output.
#[test]
fn v6_key_with_passphrase_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("pw"), "v6 secret\n").unwrap();
    fs::write(d.join("msg"), "hello v6\n").unwrap();
    ok(&secmail(
        &[
            "pgp",
            "keygen",
            "--userid",
            "Six <six@example.org>",
            "--profile",
            "rfc9580",
            "--passphrase-file",
            "pw",
            "--out",
            "six.key",
        ],
        d,
    ));
    ok(&secmail(
        &["pgp", "cert", "--in", "six.key", "--out", "six.cert"],
        d,
    ));
    let o = secmail(
        &[
            "pgp", "sign", "--key", "six.key", "--in", "msg", "--out", "s",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.join("s").exists());
    ok(&secmail(
        &[
            "pgp",
            "encrypt",
            "--to",
            "six.cert",
            "--sign-with",
            "six.key",
            "--key-passphrase-file",
            "pw",
            "--in",
            "msg",
            "--out",
            "ct",
        ],
        d,
    ));
    ok(&secmail(
        &[
            "pgp",
            "decrypt",
            "--key",
            "six.key",
            "--passphrase-file",
            "pw",
            "--signer",
            "six.cert",
            "--in",
            "ct",
            "--out",
            "back",
        ],
        d,
    ));
    assert_eq!(fs::read(d.join("back")).unwrap(), b"hello v6\n");
}
