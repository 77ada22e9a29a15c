//! The real mail stack (Postfix + Dovecot on loopback, `scripts/mailstack.sh`) for the
//! integration tests.
//!
//! The stack's state directory is `$SECMAIL_MAILSTACK_DIR`, default `/tmp/secmail-mailstack`.
//! If `scripts/mailstack.sh status DIR` says it is not running, the first test that needs it
//! runs `scripts/mailstack.sh up DIR` (root, installs Postfix and Dovecot if missing) and
//! leaves it running for the next test binaries; `scripts/mailstack.sh down DIR` stops it.
//! If it cannot be started the tests fail loudly: they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use secmail_transport::{Endpoint, ImapClient, Options, SecretString, Security, TlsConfig};

pub mod peer;

pub struct Stack {
    pub env: HashMap<String, String>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mailstack.sh")
}

pub fn stack_dir() -> String {
    std::env::var("SECMAIL_MAILSTACK_DIR").unwrap_or_else(|_| "/tmp/secmail-mailstack".into())
}

pub fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let dir = stack_dir();
        let running = Command::new(script())
            .args(["status", &dir])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !running {
            let out = Command::new(script())
                .args(["up", &dir])
                .output()
                .expect("cannot run scripts/mailstack.sh");
            assert!(
                out.status.success(),
                "the mail stack (Postfix + Dovecot) could not be started with \
                 `scripts/mailstack.sh up {dir}` (it needs root and apt):\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = Command::new(script())
            .args(["env", &dir])
            .output()
            .expect("cannot run scripts/mailstack.sh env");
        assert!(out.status.success(), "mailstack.sh env failed");
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Stack { env }
    })
}

impl Stack {
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("mailstack env lacks {key}"))
    }
    pub fn port(&self, key: &str) -> u16 {
        self.get(key).parse().expect("port")
    }
    /// An endpoint on the stack by the name in its certificate (`localhost`).
    pub fn endpoint(&self, port_key: &str, security: Security) -> Endpoint {
        Endpoint::new(
            self.get("MAILSTACK_TLS_NAME"),
            self.port(port_key),
            security,
        )
    }
    pub fn options(&self) -> Options {
        let tls = TlsConfig::with_ca_file(Path::new(self.get("MAILSTACK_CA_FILE"))).expect("CA");
        Options::new(tls).with_io_timeout(Duration::from_secs(30))
    }
    pub fn alice(&self) -> (String, SecretString) {
        (
            self.get("MAILSTACK_ALICE_USER").to_string(),
            SecretString::from(self.get("MAILSTACK_ALICE_PASSWORD").to_string()),
        )
    }
    pub fn bob(&self) -> (String, SecretString) {
        (
            self.get("MAILSTACK_BOB_USER").to_string(),
            SecretString::from(self.get("MAILSTACK_BOB_PASSWORD").to_string()),
        )
    }
    /// Waits (up to 30 s) for a message containing `token` in bob's Maildir and returns its
    /// stored bytes; then deletes it through IMAP ([`Stack::delete_delivered`]). Never
    /// removes the file itself: Dovecot's index would still list it, and another session's
    /// UID FETCH would then get `BODY[] NIL` for it.
    pub fn wait_in_bob_maildir(&self, token: &str) -> Vec<u8> {
        let root = PathBuf::from(self.get("MAILSTACK_BOB_MAILDIR"));
        let start = Instant::now();
        loop {
            for sub in ["new", "cur"] {
                if let Ok(dir) = std::fs::read_dir(root.join(sub)) {
                    for entry in dir.flatten() {
                        if let Ok(bytes) = std::fs::read(entry.path())
                            && contains(&bytes, token.as_bytes())
                        {
                            let (bob, pass) = self.bob();
                            self.delete_delivered(&bob, &pass, token);
                            return bytes;
                        }
                    }
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "message {token} never arrived in bob's Maildir"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (up to 30 s) until the INBOX of `user` holds the message with
    /// `Message-ID: <token@example.test>` (as [`tricky_message`] writes it), then deletes
    /// exactly that message (UID STORE \Deleted, UID EXPUNGE): other engineers' tests use
    /// the same mailboxes, so nothing else is touched. Returns how many copies it deleted.
    pub fn delete_delivered(&self, user: &str, pass: &SecretString, token: &str) -> usize {
        let start = Instant::now();
        let id = message_id(token);
        loop {
            let mut c = ImapClient::connect(
                &self.endpoint("MAILSTACK_IMAPS_PORT", Security::Implicit),
                &self.options(),
            )
            .unwrap();
            c.login(user, pass).unwrap();
            c.select("INBOX").unwrap();
            let uids = c.uid_search_header("Message-ID", &id).unwrap();
            for &uid in &uids {
                c.uid_add_flags(uid, &["\\Deleted"]).unwrap();
                c.uid_expunge(uid).unwrap();
            }
            c.logout().unwrap();
            if !uids.is_empty() {
                return uids.len();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{id} never arrived in {user}'s INBOX"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The Message-ID [`tricky_message`] gives the message of `token`.
pub fn message_id(token: &str) -> String {
    format!("<{token}@example.test>")
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A unique token for a test's message.
pub fn token(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{test}-{}-{nanos}", std::process::id())
}

/// A message that exercises the transparency rules: dots at line starts, a lone `.` line,
/// 8-bit text, a 998-character line, and optionally a large attachment.
pub fn tricky_message(token: &str, from: &str, to: &str, attachment: usize) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(
        format!(
            "From: {from}\r\nTo: {to}\r\nSubject: {token}\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n\
             Message-ID: {}\r\nMIME-Version: 1.0\r\n",
            message_id(token)
        )
        .as_bytes(),
    );
    let body = format!(
        "Token {token}\r\n.leading dot\r\n..two dots\r\n.\r\nabove was a lone dot\r\n\
         8-bit: caf\u{e9} na\u{ef}ve \u{65e5}\u{672c}\u{8a9e}\r\n{}\r\n. \r\nend\r\n",
        "x".repeat(998)
    );
    if attachment == 0 {
        m.extend_from_slice(
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        m.extend_from_slice(body.as_bytes());
    } else {
        m.extend_from_slice(b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n");
        m.extend_from_slice(
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        m.extend_from_slice(body.as_bytes());
        m.extend_from_slice(b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        // Pseudo-random bytes, base64 in 76-character lines.
        let mut x: u32 = 0x1234_5678;
        let raw: Vec<u8> = (0..attachment)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        for line in b64.as_bytes().chunks(76) {
            m.extend_from_slice(line);
            m.extend_from_slice(b"\r\n");
        }
        m.extend_from_slice(b"--b1--\r\n");
    }
    m
}

/// Sends `msg` from alice to bob over implicit TLS.
pub fn send_to_bob(msg: &[u8]) {
    use secmail_transport::{Envelope, SmtpClient};
    let s = stack();
    let (alice, pass) = s.alice();
    let (bob, _) = s.bob();
    let mut c = SmtpClient::connect(
        &s.endpoint("MAILSTACK_SMTPS_PORT", Security::Implicit),
        &s.options(),
    )
    .unwrap();
    c.login(&alice, &pass).unwrap();
    c.send_bytes(&Envelope::new(&alice, [&bob]), msg).unwrap();
    c.quit().unwrap();
}
