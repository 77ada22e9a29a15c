//! `secmail send` and `secmail fetch` against the real Postfix + Dovecot of
//! `scripts/mailstack.sh` (state in `$SECMAIL_MAILSTACK_DIR`, default /tmp/secmail-mailstack;
//! started here if it is not running, left running; never skipped).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{delete_delivered, imap_login, message, password_file, secmail, stack, token, url};

/// Fetches until a file containing each token appears; returns the files.
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
        ];
        // Not --delete: bob's INBOX is shared with other tests; ours are deleted alone.
        let got = fetch_until(&args, &out, &[&t1, &t2]);
        assert!(got[0].ends_with(&b1), "{scheme}: fetched bytes differ");
        assert!(got[1].ends_with(&b2), "{scheme}: fetched bytes differ");
        assert_eq!(delete_delivered("bob", &t1), 1);
        assert_eq!(delete_delivered("bob", &t2), 1);
    }
}

/// `fetch --delete` over IMAP, in a mailbox of the test's own (bob's INBOX is shared): every
/// message fetched, then gone; the mailbox is removed again.
#[test]
fn fetch_delete_in_a_mailbox_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tok = token("delete");
    let mailbox = format!("secmail-{tok}");
    let (_, body) = message(d, &tok);
    let mut c = imap_login("bob");
    c.create(&mailbox).unwrap();
    c.append(&mailbox, &[], &body).unwrap();
    let out = d.join("out");
    let bob = stack()["MAILSTACK_BOB_USER"].clone();
    let pw = password_file(d, "bob");
    let o = secmail(&[
        "fetch",
        "--imap",
        &url("imaps", "MAILSTACK_IMAPS_PORT"),
        "--user",
        &bob,
        "--password-file",
        pw.to_str().unwrap(),
        "--ca-file",
        &stack()["MAILSTACK_CA_FILE"],
        "--mailbox",
        &mailbox,
        "--out-dir",
        out.to_str().unwrap(),
        "--delete",
    ]);
    let fetched: Vec<_> = std::fs::read_dir(&out)
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    let exists = c.examine(&mailbox).unwrap();
    c.delete_mailbox(&mailbox).unwrap();
    c.logout().unwrap();
    assert!(
        o.status.success(),
        "fetch failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(fetched.len(), 1);
    assert_eq!(std::fs::read(fetched[0].path()).unwrap(), body);
    assert_eq!(exists, 0, "--delete left the message");
}

/// `fetch --pop3 --delete` (POP3 sees only the INBOX): in carol's INBOX, which the stack
/// reserves for tests that empty a whole mailbox. Every message is written, then gone.
#[test]
fn pop3_fetch_delete_empties_the_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tok = token("pop3-delete");
    let (_, body) = message(d, &tok);
    let mut c = imap_login("carol");
    c.append("INBOX", &[], &body).unwrap();
    let out = d.join("out");
    let carol = stack()["MAILSTACK_CAROL_USER"].clone();
    let pw = password_file(d, "carol");
    let o = secmail(&[
        "fetch",
        "--pop3",
        &url("pop3s", "MAILSTACK_POP3S_PORT"),
        "--user",
        &carol,
        "--password-file",
        pw.to_str().unwrap(),
        "--ca-file",
        &stack()["MAILSTACK_CA_FILE"],
        "--out-dir",
        out.to_str().unwrap(),
        "--delete",
    ]);
    assert!(
        o.status.success(),
        "fetch failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let fetched: Vec<Vec<u8>> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    assert_eq!(
        fetched.iter().filter(|m| m.ends_with(&body)).count(),
        1,
        "our message, byte-exact, once"
    );
    let exists = c.examine("INBOX").unwrap();
    c.logout().unwrap();
    assert_eq!(exists, 0, "--delete left {exists} message(s)");
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
