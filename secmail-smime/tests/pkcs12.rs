//! PKCS#12 bundles and encrypted keys as OpenSSL 3 makes them (`openssl pkcs12 -export`, modern
//! default and `-legacy`). A missing `openssl` fails the tests loudly; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use secmail_smime::{
    CertUsage, CertificateAuthority, EncryptOptions, Error, ReadOptions, certificate_to_pem,
    load_pkcs12, read_message, sign_encrypt_message,
};

fn openssl(args: &[&str], dir: &std::path::Path) {
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
fn openssl_bundles_modern_and_legacy_load_and_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = CertificateAuthority::new_root("CN=P12 CA", 30).unwrap();
    let (alice, alice_key) = ca.issue("alice@example.org", CertUsage::Both, 30).unwrap();
    std::fs::write(d.join("alice.pem"), certificate_to_pem(&alice).unwrap()).unwrap();
    std::fs::write(
        d.join("alice.key"),
        alice_key.to_pkcs8_pem().unwrap().as_bytes(),
    )
    .unwrap();
    std::fs::write(
        d.join("ca.pem"),
        certificate_to_pem(ca.certificate()).unwrap(),
    )
    .unwrap();
    std::fs::write(d.join("pw.txt"), "s3cret pässword\n").unwrap();
    for (name, extra) in [
        ("modern.p12", &[][..]),
        ("legacy.p12", &["-legacy"][..]),
        ("sha512.p12", &["-macalg", "sha512"][..]),
        (
            "3des.p12",
            &[
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ][..],
        ),
    ] {
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            "alice.pem",
            "-inkey",
            "alice.key",
            "-certfile",
            "ca.pem",
            "-out",
            name,
            "-passout",
            "file:pw.txt",
        ];
        args.extend_from_slice(extra);
        openssl(&args, d);
        let data = std::fs::read(d.join(name)).unwrap();
        let b = load_pkcs12(&data, "s3cret pässword").unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(b.certificate, alice, "{name}");
        assert_eq!(b.chain, vec![ca.certificate().clone()], "{name}");
        // The key works: sign and decrypt with it.
        let msg = b"From: alice@example.org\r\nTo: alice@example.org\r\n\r\nfrom a bundle\r\n";
        let sealed = sign_encrypt_message(
            msg,
            &b.certificate,
            &b.key,
            &b.chain,
            &[],
            &EncryptOptions::default(),
        )
        .unwrap();
        let anchors = [ca.certificate().clone()];
        let mut o = ReadOptions::default();
        o.anchors = &anchors;
        o.require_valid_signature = true;
        o.decrypt_with = Some((&b.certificate, &b.key));
        assert!(
            read_message(&sealed, &o)
                .unwrap()
                .verdict
                .signed_by_sender()
        );
        // A wrong password fails the MAC check, as a key error.
        assert!(matches!(
            load_pkcs12(&data, "wrong").unwrap_err(),
            Error::Key(_)
        ));
        // An altered bundle is refused.
        let mut bad = data.clone();
        let at = bad.len() / 2;
        bad[at] ^= 1;
        assert!(load_pkcs12(&bad, "s3cret pässword").is_err());
    }
}
