//! Interop with gpgsm (GnuPG 2.2), the third peer, driven without prompts: certificates
//! imported and the CA trusted with a `relax` trustlist line, CRL checks off, the private key
//! imported from a PKCS#12 that OpenSSL exports with the legacy PBE gpgsm reads, an empty
//! passphrase through loopback pinentry. A missing gpgsm or openssl fails loudly.
//!
//! gpgsm 2.2 reads EnvelopedData with AES-CBC and RSA PKCS#1 v1.5 key transport only: it cannot
//! open AuthEnvelopedData (AES-GCM) or RSAES-OAEP, from us or from OpenSSL, so those are not
//! tried here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use secmail_smime::{
    CertUsage, Certificate, CertificateAuthority, ContentCipher, EncryptOptions, PrivateKey,
    SignOptions, SignerStatus, certificate_to_pem, decrypt, encrypt, sign, verify,
};

struct Gpgsm {
    dir: tempfile::TempDir,
    ca: CertificateAuthority,
    alice: (Certificate, PrivateKey),
    bob: (Certificate, PrivateKey),
}

impl Drop for Gpgsm {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home())
            .status();
    }
}

fn tool(name: &str, args: &[&str], dir: &Path, home: Option<&Path>) -> (bool, Vec<u8>, String) {
    let mut c = Command::new(name);
    c.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(h) = home {
        c.env("GNUPGHOME", h);
    }
    let mut child = c.spawn().unwrap_or_else(|e| {
        panic!("{name} is required for these tests (apt-get install gpgsm openssl): {e}")
    });
    // gpgsm reads the PKCS#12 password from `--passphrase-fd 0`. With an empty password
    // gpgsm 2.2.40 is unreliable here: on an empty stdin it goes on with an undefined
    // passphrase ("password too long"), and even given an empty line the import of an
    // empty-password bundle failed now and then ("data error at
    // shrouded_key_bag.decrypted-text"). The bundle therefore has a password, given as a line.
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let _ = stdin.write_all(format!("{P12_PASSWORD}\n").as_bytes());
    }
    let out = child.wait_with_output().expect("wait for the tool");
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Gpgsm {
    fn new() -> Gpgsm {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::new_root("CN=gpgsm interop CA", 30).unwrap();
        let alice = ca.issue("alice@example.org", CertUsage::Both, 30).unwrap();
        let bob = ca.issue("bob@example.net", CertUsage::Both, 30).unwrap();
        let g = Gpgsm {
            dir,
            ca,
            alice,
            bob,
        };
        let home = g.home();
        std::fs::create_dir(&home).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::fs::write(
            home.join("gpgsm.conf"),
            "disable-crl-checks\ndisable-trusted-cert-crl-check\n",
        )
        .unwrap();
        std::fs::write(home.join("gpg-agent.conf"), "allow-loopback-pinentry\n").unwrap();
        std::fs::write(
            g.p("ca.pem"),
            certificate_to_pem(g.ca.certificate()).unwrap(),
        )
        .unwrap();
        for (n, (c, k)) in [("alice", &g.alice), ("bob", &g.bob)] {
            std::fs::write(g.p(&format!("{n}.pem")), certificate_to_pem(c).unwrap()).unwrap();
            std::fs::write(
                g.p(&format!("{n}.key")),
                k.to_pkcs8_pem().unwrap().as_bytes(),
            )
            .unwrap();
        }
        let (ok, _, err) = g.gpgsm(&["--import", "ca.pem", "alice.pem", "bob.pem"]);
        assert!(ok, "{err}");
        let (ok, out, err) = g.gpgsm(&["--with-colons", "--list-keys", "CN=gpgsm interop CA"]);
        assert!(ok, "{err}");
        let fpr = String::from_utf8_lossy(&out)
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9).map(str::to_owned))
            .expect("the CA fingerprint");
        std::fs::write(home.join("trustlist.txt"), format!("{fpr} S relax\n")).unwrap();
        // gpgsm reads only PKCS#12 with the legacy PBE (see DEPENDENCIES.md). Setup, not the
        // subject under test: gpgsm 2.2.40 fails to decrypt about one such bundle in thirty
        // made with the right password ("decryption failed; trying charset …"), and for that
        // bundle it fails every time, in a fresh agent too (seen in a CI run; reproduced: four
        // tries of one file all failed), while a new export of the same key and certificate
        // (a new random salt) imports. So each try exports the bundle anew.
        let mut errors = Vec::new();
        let imported = (0..4).any(|_| {
            let (ok, _, err) = tool(
                "openssl",
                &[
                    "pkcs12",
                    "-export",
                    "-inkey",
                    "bob.key",
                    "-in",
                    "bob.pem",
                    "-keypbe",
                    "PBE-SHA1-3DES",
                    "-certpbe",
                    "PBE-SHA1-3DES",
                    "-macalg",
                    "sha1",
                    "-passout",
                    &format!("pass:{P12_PASSWORD}"),
                    "-out",
                    "bob.p12",
                ],
                g.dir.path(),
                None,
            );
            assert!(ok, "{err}");
            let (ok, _, err) = g.gpgsm(&["--import", "bob.p12"]);
            if !ok {
                errors.push(err);
            }
            ok
        });
        assert!(
            imported,
            "{} tries failed:\n{}",
            errors.len(),
            errors.join("\n--\n")
        );
        g
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("gnupg")
    }
    fn p(&self, n: &str) -> PathBuf {
        self.dir.path().join(n)
    }
    fn gpgsm(&self, args: &[&str]) -> (bool, Vec<u8>, String) {
        let mut a = vec![
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase-fd",
            "0",
        ];
        a.extend_from_slice(args);
        tool("gpgsm", &a, self.dir.path(), Some(&self.home()))
    }
}

/// The password of the PKCS#12 bundle handed to gpgsm (see `tool`).
const P12_PASSWORD: &str = "gpgsm-interop";

const CONTENT: &[u8] = b"Content-Type: text/plain\r\n\r\nHello from and to gpgsm\r\n";

#[test]
fn gpgsm_verifies_our_signatures() {
    let g = Gpgsm::new();
    std::fs::write(g.p("content.txt"), CONTENT).unwrap();
    let opaque = sign(CONTENT, &g.alice.0, &g.alice.1, &SignOptions::default()).unwrap();
    std::fs::write(g.p("opaque.p7m"), &opaque).unwrap();
    let (ok, out, err) = g.gpgsm(&["--verify", "--output", "-", "opaque.p7m"]);
    assert!(ok && err.contains("Good signature"), "{err}");
    assert_eq!(out, CONTENT);
    let detached = sign(
        CONTENT,
        &g.alice.0,
        &g.alice.1,
        &SignOptions::default().detached(true),
    )
    .unwrap();
    std::fs::write(g.p("detached.p7s"), &detached).unwrap();
    let (ok, _, err) = g.gpgsm(&["--verify", "detached.p7s", "content.txt"]);
    assert!(ok && err.contains("Good signature"), "{err}");
    // Altered content is refused by gpgsm too.
    std::fs::write(
        g.p("content.txt"),
        b"Content-Type: text/plain\r\n\r\nHello from and to gpgsm!\r\n",
    )
    .unwrap();
    let (ok, _, err) = g.gpgsm(&["--verify", "detached.p7s", "content.txt"]);
    assert!(!ok, "{err}");
}

#[test]
fn we_verify_gpgsm_signatures() {
    let g = Gpgsm::new();
    std::fs::write(g.p("content.txt"), CONTENT).unwrap();
    let anchors = [g.ca.certificate().clone()];
    let (ok, der, err) = g.gpgsm(&["-u", "bob@example.net", "--sign", "content.txt"]);
    assert!(ok, "{err}");
    let v = verify(&der, None, &anchors, SystemTime::now()).unwrap();
    assert_eq!(v.signers[0].status, SignerStatus::Good);
    assert_eq!(v.content, CONTENT);
    let (ok, der, err) = g.gpgsm(&["-u", "bob@example.net", "--detach-sign", "content.txt"]);
    assert!(ok, "{err}");
    let v = verify(&der, Some(CONTENT), &anchors, SystemTime::now()).unwrap();
    assert_eq!(v.signers[0].status, SignerStatus::Good);
    let v = verify(&der, Some(b"altered"), &anchors, SystemTime::now()).unwrap();
    assert!(matches!(v.signers[0].status, SignerStatus::Bad(_)));
}

#[test]
fn encryption_both_ways() {
    let g = Gpgsm::new();
    // Ours, opened by gpgsm (AES-256-CBC, PKCS#1 v1.5: what gpgsm 2.2 reads).
    let der = encrypt(
        CONTENT,
        std::slice::from_ref(&g.bob.0),
        &EncryptOptions::default().cipher(ContentCipher::Aes256Cbc),
    )
    .unwrap();
    std::fs::write(g.p("ours.p7m"), &der).unwrap();
    let (ok, out, err) = g.gpgsm(&["--decrypt", "ours.p7m"]);
    assert!(ok, "{err}");
    assert_eq!(out, CONTENT);
    // gpgsm's (BER, indefinite lengths), opened by us.
    std::fs::write(g.p("content.txt"), CONTENT).unwrap();
    let (ok, der, err) = g.gpgsm(&["-r", "bob@example.net", "--encrypt", "content.txt"]);
    assert!(ok, "{err}");
    let d = decrypt(&der, &g.bob.0, &g.bob.1).unwrap();
    assert_eq!(d.content, CONTENT);
    // Alice cannot.
    assert!(decrypt(&der, &g.alice.0, &g.alice.1).is_err());
}
