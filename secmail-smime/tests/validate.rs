//! Chain validation: each failure its own typed error. Certificates our CA cannot make (a CA
//! without keyCertSign, a certificate issued by an end entity, a server-auth-only certificate,
//! a legacy emailAddress subject) are made with OpenSSL, which fails the test loudly if missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use secmail_smime::{
    CertUsage, Certificate, CertificateAuthority, IssueOptions, Policy, Usage, ValidationError,
    certificate_to_pem, load_certificate, validate,
};

fn policy(email: Option<&str>) -> Policy<'_> {
    Policy {
        usage: Usage::Sign,
        email,
        times: vec![SystemTime::now()],
    }
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is required for these tests (apt-get install openssl); it was not found");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn intermediates_and_path_length() {
    let root = CertificateAuthority::new_root("CN=Root", 30).unwrap();
    let inter = root
        .issue_intermediate("CN=Intermediate", Some(0), 30)
        .unwrap();
    let (leaf, _) = inter.issue("a@example.org", CertUsage::Both, 30).unwrap();
    let anchors = [root.certificate().clone()];
    let chain = validate(
        &leaf,
        &[inter.certificate().clone()],
        &anchors,
        &policy(Some("a@example.org")),
    )
    .unwrap();
    assert_eq!(chain.len(), 3);
    // Without the intermediate there is no path.
    let e = validate(&leaf, &[], &anchors, &policy(None)).unwrap_err();
    assert!(matches!(e, ValidationError::Untrusted { .. }), "{e}");
    // pathLen 0 forbids a second intermediate below the first.
    let inter2 = inter.issue_intermediate("CN=Too deep", None, 30).unwrap();
    let (deep, _) = inter2.issue("a@example.org", CertUsage::Both, 30).unwrap();
    let e = validate(
        &deep,
        &[inter.certificate().clone(), inter2.certificate().clone()],
        &anchors,
        &policy(None),
    )
    .unwrap_err();
    assert!(
        matches!(e, ValidationError::PathLenExceeded { path_len: 0, .. }),
        "{e}"
    );
}

#[test]
fn times_usage_and_address() {
    let root = CertificateAuthority::new_root("CN=Root", 30).unwrap();
    let anchors = [root.certificate().clone()];
    let now = SystemTime::now();
    let future = IssueOptions::days(1).validity(
        now + Duration::from_secs(3600),
        now + Duration::from_secs(7200),
    );
    let (later, _) = root.issue_with("a@example.org", &future).unwrap();
    assert!(matches!(
        validate(&later, &[], &anchors, &policy(None)).unwrap_err(),
        ValidationError::NotYetValid { .. }
    ));
    // Valid now but not at a signing time a year ago.
    let (cert, _) = root.issue("a@example.org", CertUsage::Sign, 30).unwrap();
    let mut p = policy(None);
    p.times.insert(0, now - Duration::from_secs(365 * 86_400));
    assert!(matches!(
        validate(&cert, &[], &anchors, &p).unwrap_err(),
        ValidationError::NotYetValid { .. }
    ));
    // A signing-only certificate is not for encryption.
    let mut p = policy(None);
    p.usage = Usage::Encrypt;
    assert!(matches!(
        validate(&cert, &[], &anchors, &p).unwrap_err(),
        ValidationError::KeyUsage {
            usage: Usage::Encrypt,
            ..
        }
    ));
    // The address: domain case-insensitive, local part exact.
    validate(&cert, &[], &anchors, &policy(Some("a@EXAMPLE.org"))).unwrap();
    assert!(matches!(
        validate(&cert, &[], &anchors, &policy(Some("A@example.org"))).unwrap_err(),
        ValidationError::EmailMismatch { .. }
    ));
    // A certificate whose signature was altered.
    let pem = certificate_to_pem(&cert).unwrap();
    let mut der = secmail_smime::load_certificates(pem.as_bytes()).unwrap();
    let mut bytes = der::Encode::to_der(&der.remove(0)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let bad = load_certificate(&bytes).unwrap();
    assert!(matches!(
        validate(&bad, &[], &anchors, &policy(None)).unwrap_err(),
        ValidationError::BadSignature { .. }
    ));
}

#[test]
fn certificates_made_by_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = CertificateAuthority::new_root("CN=Root", 30).unwrap();
    std::fs::write(
        d.join("ca.pem"),
        certificate_to_pem(root.certificate()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        d.join("ca.key"),
        root.key().to_pkcs8_pem().unwrap().as_bytes(),
    )
    .unwrap();
    let (alice, alice_key) = root
        .issue("alice@example.org", CertUsage::Both, 30)
        .unwrap();
    std::fs::write(d.join("alice.pem"), certificate_to_pem(&alice).unwrap()).unwrap();
    std::fs::write(
        d.join("alice.key"),
        alice_key.to_pkcs8_pem().unwrap().as_bytes(),
    )
    .unwrap();
    std::fs::write(
        d.join("ext.cnf"),
        "[server]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
         subjectAltName=email:s@example.org\n\
         [leaf]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\n\
         [badca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    openssl(
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.pem",
            "-out",
            "r.csr",
            "-subj",
            "/CN=legacy/emailAddress=legacy@example.org",
        ],
        d,
    );
    let x509 = |ca: &str, key: &str, ext: &str, out: &str| {
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "r.csr",
                "-CA",
                ca,
                "-CAkey",
                key,
                "-CAcreateserial",
                "-days",
                "5",
                "-extfile",
                "ext.cnf",
                "-extensions",
                ext,
                "-out",
                out,
            ],
            d,
        );
    };
    let load =
        |f: &str| -> Certificate { load_certificate(&std::fs::read(d.join(f)).unwrap()).unwrap() };
    let anchors = [root.certificate().clone()];

    // Server authentication only: not for email.
    x509("ca.pem", "ca.key", "server", "server.pem");
    assert!(matches!(
        validate(&load("server.pem"), &[], &anchors, &policy(None)).unwrap_err(),
        ValidationError::ExtendedKeyUsage { .. }
    ));
    // The legacy emailAddress attribute, no subjectAltName.
    x509("ca.pem", "ca.key", "leaf", "legacy.pem");
    validate(
        &load("legacy.pem"),
        &[],
        &anchors,
        &policy(Some("legacy@example.org")),
    )
    .unwrap();
    // Issued by an end entity.
    x509("alice.pem", "alice.key", "leaf", "by-alice.pem");
    assert!(matches!(
        validate(
            &load("by-alice.pem"),
            std::slice::from_ref(&alice),
            &anchors,
            &policy(None)
        )
        .unwrap_err(),
        ValidationError::NotCa { .. }
    ));
    // A CA whose keyUsage lacks keyCertSign.
    openssl(
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "badca.key",
            "-out",
            "badca.csr",
            "-subj",
            "/CN=Bad CA",
        ],
        d,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "badca.csr",
            "-signkey",
            "badca.key",
            "-days",
            "5",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "badca",
            "-out",
            "badca.pem",
        ],
        d,
    );
    x509("badca.pem", "badca.key", "leaf", "by-badca.pem");
    let bad_anchor = [load("badca.pem")];
    assert!(matches!(
        validate(&load("by-badca.pem"), &[], &bad_anchor, &policy(None)).unwrap_err(),
        ValidationError::CaKeyUsage { .. }
    ));
}
