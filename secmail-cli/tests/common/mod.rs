//! Helpers for the transport tests: the `secmail` binary, the real mail stack of
//! `scripts/mailstack.sh` (state in `$SECMAIL_MAILSTACK_DIR`, default
//! /tmp/secmail-mailstack; started if it is not running, left running; never skipped), and
//! cleanup of exactly the messages a test delivered (other engineers' tests use the same
//! mailboxes).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use secmail_transport::{Endpoint, ImapClient, Options, SecretString, Security, TlsConfig};

pub fn secmail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secmail"))
        .args(args)
        .output()
        .expect("run secmail")
}

pub fn stack() -> &'static HashMap<String, String> {
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

pub fn url(scheme: &str, port_key: &str) -> String {
    format!("{scheme}://localhost:{}", stack()[port_key])
}

pub fn password_file(dir: &Path, who: &str) -> PathBuf {
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

pub fn token(what: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("cli-{what}-{}-{n}", std::process::id())
}

pub fn message(dir: &Path, tok: &str) -> (PathBuf, Vec<u8>) {
    let bob = &stack()["MAILSTACK_BOB_USER"];
    let alice = &stack()["MAILSTACK_ALICE_USER"];
    let body = format!(
        "From: Alice <{alice}>\r\nTo: Bob <{bob}>\r\nSubject: {tok}\r\nMessage-ID: {}\r\n\
         Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n.a line with a dot\r\n.\r\ncaf\u{e9}\r\n",
        message_id(tok)
    );
    let p = dir.join(format!("{tok}.eml"));
    std::fs::write(&p, &body).unwrap();
    (p, body.into_bytes())
}

/// The Message-ID [`message`] gives the message of `tok`.
pub fn message_id(tok: &str) -> String {
    format!("<{tok}@example.test>")
}

/// An IMAP session (implicit TLS) logged in as `who` ("alice", "bob" or "carol").
pub fn imap_login(who: &str) -> ImapClient {
    let env = stack();
    let tls = TlsConfig::with_ca_file(Path::new(&env["MAILSTACK_CA_FILE"])).unwrap();
    let options = Options::new(tls).with_io_timeout(Duration::from_secs(30));
    let port: u16 = env["MAILSTACK_IMAPS_PORT"].parse().unwrap();
    let endpoint = Endpoint::new(env["MAILSTACK_TLS_NAME"].clone(), port, Security::Implicit);
    let mut c = ImapClient::connect(&endpoint, &options).unwrap();
    let up = who.to_uppercase();
    let pass = SecretString::from(env[&format!("MAILSTACK_{up}_PASSWORD")].clone());
    c.login(&env[&format!("MAILSTACK_{up}_USER")], &pass)
        .unwrap();
    c
}

/// Deletes from the INBOX of `who` the message with [`message_id`] of `tok` and nothing
/// else (UID STORE \Deleted, UID EXPUNGE); returns how many copies there were. It must be
/// there already (the test fetched it).
pub fn delete_delivered(who: &str, tok: &str) -> usize {
    let mut c = imap_login(who);
    c.select("INBOX").unwrap();
    let uids = c.uid_search_header("Message-ID", &message_id(tok)).unwrap();
    for &uid in &uids {
        c.uid_add_flags(uid, &["\\Deleted"]).unwrap();
        c.uid_expunge(uid).unwrap();
    }
    c.logout().unwrap();
    uids.len()
}
