//! What the S/MIME integration tests share: a throw-away CA with two users (Alice signs, Bob
//! reads) written to a temporary directory for `openssl`, the `openssl` runner (a missing
//! `openssl` fails loudly; the tests never skip), and the strict read options.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use secmail_smime::{
    CertUsage, Certificate, CertificateAuthority, ContentCipher, EncryptOptions, PrivateKey,
    ReadOptions, certificate_to_pem, sign_encrypt_message_stream,
};

/// A CA, Alice and Bob (both certified for signing and encryption), and their files
/// (`ca.pem`, `alice.pem`, `alice.key`, `bob.pem`, `bob.key`) in `dir`.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub ca: CertificateAuthority,
    pub alice: (Certificate, PrivateKey),
    pub bob: (Certificate, PrivateKey),
}

/// Runs `openssl` in `dir`: (success, stdout, stderr).
pub fn openssl(args: &[&str], dir: &Path) -> (bool, Vec<u8>, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is required for these tests (apt-get install openssl); it was not found");
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `k` as unencrypted PKCS#8 PEM.
pub fn write_key(path: &Path, k: &PrivateKey) {
    std::fs::write(path, k.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
}

impl Env {
    /// A new root CA named `ca_subject` and its two users, valid for 30 days.
    pub fn new(ca_subject: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::new_root(ca_subject, 30).unwrap();
        let alice = ca.issue("alice@example.org", CertUsage::Both, 30).unwrap();
        let bob = ca.issue("bob@example.net", CertUsage::Both, 30).unwrap();
        let env = Env {
            dir,
            ca,
            alice,
            bob,
        };
        std::fs::write(
            env.p("ca.pem"),
            certificate_to_pem(env.ca.certificate()).unwrap(),
        )
        .unwrap();
        for (name, (c, k)) in [("alice", &env.alice), ("bob", &env.bob)] {
            std::fs::write(
                env.p(&format!("{name}.pem")),
                certificate_to_pem(c).unwrap(),
            )
            .unwrap();
            write_key(&env.p(&format!("{name}.key")), k);
        }
        env
    }

    /// A path in the temporary directory.
    pub fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `openssl` in the temporary directory.
    pub fn openssl(&self, args: &[&str]) -> (bool, Vec<u8>, String) {
        openssl(args, self.dir.path())
    }

    /// The CA's certificate, as the one trust anchor.
    pub fn anchors(&self) -> Vec<Certificate> {
        vec![self.ca.certificate().clone()]
    }

    /// Read options that require a good signature by the `From` address, chaining to
    /// `anchors`, decrypting with `me` when given.
    pub fn strict<'a>(
        &'a self,
        anchors: &'a [Certificate],
        me: Option<&'a (Certificate, PrivateKey)>,
    ) -> ReadOptions<'a> {
        let mut o = ReadOptions::default();
        o.anchors = anchors;
        o.require_valid_signature = true;
        o.decrypt_with = me.map(|(c, k)| (c, k));
        o
    }

    /// `msg` signed by Alice and encrypted to Bob with the streaming writer.
    pub fn seal(&self, msg: &[u8], cipher: ContentCipher) -> Vec<u8> {
        sign_encrypt_message_stream(
            msg,
            Vec::new(),
            &self.alice.0,
            &self.alice.1,
            &[],
            std::slice::from_ref(&self.bob.0),
            &EncryptOptions::default().cipher(cipher),
        )
        .unwrap()
    }
}
