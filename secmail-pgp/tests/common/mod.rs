//! Driving the real peers: gpg, sq, rnp. A missing tool fails the test loudly.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn need(tool: &str) {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "the interop tests need `{tool}` on PATH: apt-get install -y gnupg sq rnp \
         (scripts/install-deps.sh does it)"
    );
}

pub fn run(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut si = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let t = std::thread::spawn(move || {
        let _ = si.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    t.join().unwrap();
    out
}

pub fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throw-away GnuPG home; its agent is killed on drop.
pub struct Gpg {
    pub home: tempfile::TempDir,
}

impl Gpg {
    pub fn new() -> Gpg {
        need("gpg");
        let home = tempfile::Builder::new().prefix("gpg").tempdir().unwrap();
        // Short paths keep the agent socket under the 108-byte limit.
        std::fs::write(
            home.path().join("gpg.conf"),
            "no-greeting\nno-auto-key-locate\ntrust-model always\n",
        )
        .unwrap();
        Gpg { home }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("gpg");
        c.arg("--homedir").arg(self.home.path()).args([
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ]);
        c
    }

    pub fn gpg(&self, args: &[&str], stdin: &[u8]) -> Output {
        run(self.cmd().args(args), stdin)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    pub fn import(&self, data: &[u8]) {
        let o = self.gpg(&["--import"], data);
        ok(&o, "gpg --import");
    }

    /// Generates a key in gpg: `algo` is `future-default` (Ed25519 + Cv25519) or `rsa3072`.
    pub fn gen_key(&self, uid: &str, algo: &str) -> String {
        let o = self.gpg(&["--quick-gen-key", uid, algo, "default", "never"], b"");
        ok(&o, "gpg --quick-gen-key");
        let fpr = self.fingerprint(uid);
        if algo.starts_with("rsa") {
            let o = self.gpg(&["--quick-add-key", &fpr, algo, "encr", "never"], b"");
            ok(&o, "gpg --quick-add-key");
        }
        fpr
    }

    pub fn fingerprint(&self, uid: &str) -> String {
        let o = self.gpg(&["--with-colons", "--list-keys", uid], b"");
        ok(&o, "gpg --list-keys");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_owned()
    }

    pub fn export_secret(&self, fpr: &str) -> Vec<u8> {
        let o = self.gpg(&["--export-secret-keys", fpr], b"");
        ok(&o, "gpg --export-secret-keys");
        assert!(!o.stdout.is_empty());
        o.stdout
    }

    pub fn export(&self, fpr: &str) -> Vec<u8> {
        let o = self.gpg(&["--export", fpr], b"");
        ok(&o, "gpg --export");
        o.stdout
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub fn status_has(out: &Output, token: &str) -> bool {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .any(|l| l.starts_with("[GNUPG:] ") && l[9..].starts_with(token))
}

pub fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}
