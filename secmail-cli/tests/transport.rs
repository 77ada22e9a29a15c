//! `secmail send` and `secmail fetch` against the real Postfix + Dovecot of
//! `scripts/mailstack.sh` (state in `$SECMAIL_MAILSTACK_DIR`, default /tmp/secmail-mailstack;
//! started here if it is not running, left running; never skipped).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn secmail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secmail"))
        .args(args)
        .output()
        .expect("run secmail")
}

fn stack() -> &'static HashMap<String, String> {
    static ENV: OnceLock<HashMap<String, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mailstack.sh");
        let dir = std::env::var("SECMAIL_MAILSTACK_DIR")
            .unwrap_or_else(|_| "/tmp/secmail-mailstack".into());
        let running = Command::new(&script).args(["status", &dir]).output().map(|o| o.status.success());
        if running.ok() != Some(true) {
            let out = Command::new(&script).args(["up", &dir]).output().expect("run mailstack.sh");
            assert!(
                out.status.success(),
                "the mail stack could not be started (`scripts/mailstack.sh up {dir}`, needs root):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = Command::new(&script).args(["env", &dir]).output().expect("mailstack env");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn url(scheme: &str, port_key: &str) -> String {
    format!("{scheme}://localhost:{}", stack()[port_key])
}

fn password_file(dir: &Path, who: &str) -> PathBuf {
    let p = dir.join(format!("{who}.pass"));
    std::fs::write(
        &p,
        format!(
            "{}\n",
            stack()[&format!("MAILSTACK_{}_PASSWORD", who.to_uppercase())]
        ),
    )
    .unwrap();
    p
}

fn token(what: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("cli-{what}-{}-{n}", std::process::id())
}

fn message(dir: &Path, tok: &str) -> (PathBuf, Vec<u8>) {
    let bob = &stack()["MAILSTACK_BOB_USER"];
    let alice = &stack()["MAILSTACK_ALICE_USER"];
    let body = format!(
        "From: Alice <{alice}>\r\nTo: Bob <{bob}>\r\nSubject: {tok}\r\nMessage-ID: <{tok}@example.test>\r\n\
         Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n.a line with a dot\r\n.\r\ncaf\u{e9}\r\n"
    );
    let p = dir.join(format!("{tok}.eml"));
    std::fs::write(&p, &body).unwrap();
    (p, body.into_bytes())
}

/// Fetches (with --delete) until a file containing each token appears; returns the files.
fn fetch_until(args: &[&str], out: &Path, tokens: &[&str]) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut found: Vec<Option<Vec<u8>>> = vec![None; tokens.len()];
    loop {
        let o = secmail(args);
        assert!(
            o.status.success(),
            "fetch failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for entry in std::fs::read_dir(out).unwrap().flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(entry.file_name().to_string_lossy().ends_with(".eml"));
            for (i, t) in tokens.iter().enumerate() {
                if bytes.windows(t.len()).any(|w| w == t.as_bytes()) {
                    found[i] = Some(bytes.clone());
                }
            }
        }
        if found.iter().all(Option::is_some) {
            return found.into_iter().map(Option::unwrap).collect();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "messages never arrived"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn send_then_fetch_over_imap_and_pop3() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = stack()["MAILSTACK_CA_FILE"].clone();
    let alice = stack()["MAILSTACK_ALICE_USER"].clone();
    let bob = stack()["MAILSTACK_BOB_USER"].clone();
    let (alice_pw, bob_pw) = (password_file(d, "alice"), password_file(d, "bob"));

    for (fetch_flag, scheme, port) in [
        ("--imap", "imaps", "MAILSTACK_IMAPS_PORT"),
        ("--pop3", "pop3", "MAILSTACK_POP3_PORT"),
    ] {
        // Two messages over one STARTTLS session, envelope from the headers.
        let (t1, t2) = (token("one"), token("two"));
        let (m1, b1) = message(d, &t1);
        let (m2, b2) = message(d, &t2);
        let o = secmail(&[
            "send",
            "--smtp",
            &url("smtp", "MAILSTACK_SMTP_STARTTLS_PORT"),
            "--user",
            &alice,
            "--password-file",
            alice_pw.to_str().unwrap(),
            "--ca-file",
            &ca,
            "--in",
            m1.to_str().unwrap(),
            "--in",
            m2.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "send failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).matches("sent ").count(),
            2
        );

        let out = d.join(format!("out-{scheme}"));
        let fetch_url = url(scheme, port);
        let args = [
            "fetch",
            fetch_flag,
            &fetch_url,
            "--user",
            &bob,
            "--password-file",
            bob_pw.to_str().unwrap(),
            "--ca-file",
            &ca,
            "--out-dir",
            out.to_str().unwrap(),
            "--delete",
        ];
        let got = fetch_until(&args, &out, &[&t1, &t2]);
        assert!(got[0].ends_with(&b1), "{scheme}: fetched bytes differ");
        assert!(got[1].ends_with(&b2), "{scheme}: fetched bytes differ");
    }
}

#[test]
fn refusals_exit_nonzero_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = stack()["MAILSTACK_CA_FILE"].clone();
    let alice = stack()["MAILSTACK_ALICE_USER"].clone();
    let pw = password_file(d, "alice");
    let (m, _) = message(d, &token("refused"));
    let send = |url: &str, ca: Option<&str>, pw: &str| {
        let mut a = vec![
            "send",
            "--smtp",
            url,
            "--user",
            &alice,
            "--password-file",
            pw,
            "--in",
            m.to_str().unwrap(),
        ];
        if let Some(ca) = ca {
            a.extend(["--ca-file", ca]);
        }
        secmail(&a)
    };
    // A server without STARTTLS.
    let o = send(
        &url("smtp", "MAILSTACK_SMTP_PLAIN_PORT"),
        Some(&ca),
        pw.to_str().unwrap(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("does not offer STARTTLS"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // An unknown CA (the Mozilla roots by default).
    let o = send(
        &url("smtps", "MAILSTACK_SMTPS_PORT"),
        None,
        pw.to_str().unwrap(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A wrong password.
    let bad = d.join("bad.pass");
    std::fs::write(&bad, "nope\n").unwrap();
    let o = send(
        &url("smtps", "MAILSTACK_SMTPS_PORT"),
        Some(&ca),
        bad.to_str().unwrap(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("login failed"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("nope"));
    // No plaintext URL scheme exists.
    let o = send("smtp+plain://localhost:25", Some(&ca), pw.to_str().unwrap());
    assert_eq!(o.status.code(), Some(1));
    // A rejected recipient is reported and makes the exit status 1.
    let o = secmail(&[
        "send",
        "--smtp",
        &url("smtps", "MAILSTACK_SMTPS_PORT"),
        "--user",
        &alice,
        "--password-file",
        pw.to_str().unwrap(),
        "--ca-file",
        &ca,
        "--to",
        "nobody@example.test",
        "--in",
        m.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nobody@example.test"));
    // fetch needs exactly one of --imap / --pop3.
    let o = secmail(&[
        "fetch",
        "--user",
        "x",
        "--password-file",
        "x",
        "--out-dir",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
