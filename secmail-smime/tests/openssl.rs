//! Interop with OpenSSL 3 (`openssl smime`, `openssl cms`, `openssl verify`), both directions.
//! A missing `openssl` fails the tests loudly; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use common::{Env, write_key};
use secmail_smime::{
    CertUsage, CertificateAuthority, ContentCipher, EncryptOptions, Error, IssueOptions,
    KeyTransport, OaepHash, ReadOptions, ValidationError, certificate_to_pem, encrypt_message,
    read_message, sign_encrypt_message, sign_message,
};

const MSG: &[u8] = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nHello Bob,\r\nthis is signed.\r\n";

#[test]
fn issued_certificates_pass_openssl_purpose_checks() {
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    for purpose in ["smimesign", "smimeencrypt"] {
        let (ok, _, err) = env.openssl(&[
            "verify",
            "-CAfile",
            "ca.pem",
            "-purpose",
            purpose,
            "alice.pem",
        ]);
        assert!(ok, "{purpose}: {err}");
    }
    let (c, _) = env.ca.issue("s@example.org", CertUsage::Sign, 30).unwrap();
    std::fs::write(env.p("s.pem"), certificate_to_pem(&c).unwrap()).unwrap();
    assert!(
        env.openssl(&[
            "verify",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "smimesign",
            "s.pem"
        ])
        .0
    );
    assert!(
        !env.openssl(&[
            "verify",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "smimeencrypt",
            "s.pem"
        ])
        .0
    );
}

#[test]
fn our_signatures_verify_in_openssl() {
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    for opaque in [false, true] {
        let signed = sign_message(MSG, &env.alice.0, &env.alice.1, &[], opaque).unwrap();
        std::fs::write(env.p("signed.eml"), &signed).unwrap();
        for tool in ["smime", "cms"] {
            let (ok, out, err) =
                env.openssl(&[tool, "-verify", "-CAfile", "ca.pem", "-in", "signed.eml"]);
            assert!(ok, "opaque={opaque} {tool}: {err}");
            assert!(String::from_utf8_lossy(&out).contains("this is signed."));
        }
        // And in ours, strictly.
        let anchors = env.anchors();
        let r = read_message(&signed, &env.strict(&anchors, None)).unwrap();
        assert!(r.verdict.signed_by_sender(), "{:?}", r.verdict);
        assert!(r.verdict.is_fully_signed());
    }
}

#[test]
fn openssl_signatures_verify_in_ours() {
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    std::fs::write(env.p("body.txt"), "Hello from OpenSSL\r\n").unwrap();
    let anchors = env.anchors();
    for extra in [&[][..], &["-nodetach"][..]] {
        let mut args = vec![
            "smime",
            "-sign",
            "-signer",
            "alice.pem",
            "-inkey",
            "alice.key",
            "-in",
            "body.txt",
            "-from",
            "alice@example.org",
            "-to",
            "bob@example.net",
            "-subject",
            "hi",
        ];
        args.extend_from_slice(extra);
        let (ok, out, err) = env.openssl(&args);
        assert!(ok, "{err}");
        let r = read_message(&out, &env.strict(&anchors, None)).unwrap();
        assert!(r.verdict.signed_by_sender(), "{:?}", r.verdict);
        assert!(String::from_utf8_lossy(&r.message).contains("Hello from OpenSSL"));
    }
}

#[test]
fn our_encryption_opens_in_openssl() {
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    let cases = [
        EncryptOptions::default().cipher(ContentCipher::Aes256Gcm),
        EncryptOptions::default().cipher(ContentCipher::Aes256Cbc),
        EncryptOptions::default()
            .cipher(ContentCipher::Aes256Cbc)
            .key_transport(KeyTransport::RsaOaep(OaepHash::Sha256)),
        EncryptOptions::default()
            .cipher(ContentCipher::Aes256Gcm)
            .key_transport(KeyTransport::RsaOaep(OaepHash::Sha1)),
    ];
    for opts in cases {
        let enc = encrypt_message(MSG, &[env.bob.0.clone(), env.alice.0.clone()], &opts).unwrap();
        std::fs::write(env.p("enc.eml"), &enc).unwrap();
        let (ok, out, err) = env.openssl(&[
            "cms", "-decrypt", "-recip", "bob.pem", "-inkey", "bob.key", "-in", "enc.eml",
        ]);
        assert!(ok, "{opts:?}: {err}");
        assert!(
            String::from_utf8_lossy(&out).contains("this is signed."),
            "{opts:?}"
        );
        // The sender is a recipient too.
        let mut o = ReadOptions::default();
        o.decrypt_with = Some((&env.alice.0, &env.alice.1));
        let r = read_message(&enc, &o).unwrap();
        assert!(r.verdict.is_fully_encrypted());
    }
}

#[test]
fn openssl_encryption_opens_in_ours() {
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    std::fs::write(
        env.p("body.txt"),
        "Content-Type: text/plain\r\n\r\nsecret words\r\n",
    )
    .unwrap();
    let cases: [&[&str]; 4] = [
        &["smime", "-encrypt", "-aes256", "-in", "body.txt", "bob.pem"],
        &[
            "cms",
            "-encrypt",
            "-aes-256-cbc",
            "-in",
            "body.txt",
            "-recip",
            "bob.pem",
        ],
        &[
            "cms",
            "-encrypt",
            "-aes-256-gcm",
            "-in",
            "body.txt",
            "-recip",
            "bob.pem",
        ],
        &[
            "cms",
            "-encrypt",
            "-aes-256-cbc",
            "-in",
            "body.txt",
            "-recip",
            "bob.pem",
            "-keyopt",
            "rsa_padding_mode:oaep",
        ],
    ];
    for args in cases {
        let (ok, out, err) = env.openssl(args);
        assert!(ok, "{args:?}: {err}");
        let mut o = ReadOptions::default();
        o.decrypt_with = Some((&env.bob.0, &env.bob.1));
        let r = read_message(&out, &o).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert!(
            String::from_utf8_lossy(&r.message).contains("secret words"),
            "{args:?}"
        );
        assert!(r.verdict.is_fully_encrypted());
    }
}

#[test]
fn sign_then_encrypt_both_ways() {
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    let anchors = env.anchors();
    for cipher in [ContentCipher::Aes256Gcm, ContentCipher::Aes256Cbc] {
        let m = sign_encrypt_message(
            MSG,
            &env.alice.0,
            &env.alice.1,
            &[],
            &[env.bob.0.clone(), env.alice.0.clone()],
            &EncryptOptions::default().cipher(cipher),
        )
        .unwrap();
        std::fs::write(env.p("se.eml"), &m).unwrap();
        let (ok, dec, err) = env.openssl(&[
            "cms", "-decrypt", "-recip", "bob.pem", "-inkey", "bob.key", "-in", "se.eml",
        ]);
        assert!(ok, "{err}");
        std::fs::write(env.p("dec.eml"), &dec).unwrap();
        let (ok, _, err) =
            env.openssl(&["smime", "-verify", "-CAfile", "ca.pem", "-in", "dec.eml"]);
        assert!(ok, "{err}");
        let r = read_message(&m, &env.strict(&anchors, Some(&env.bob))).unwrap();
        assert!(
            r.verdict.signed_by_sender() && r.verdict.is_fully_encrypted(),
            "{:?}",
            r.verdict
        );
    }
    // OpenSSL signs, then encrypts; we decrypt and verify.
    std::fs::write(
        env.p("body.txt"),
        "Content-Type: text/plain\r\n\r\nfrom openssl, signed and sealed\r\n",
    )
    .unwrap();
    let (ok, signed, err) = env.openssl(&[
        "smime",
        "-sign",
        "-signer",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-in",
        "body.txt",
    ]);
    assert!(ok, "{err}");
    std::fs::write(env.p("signed.eml"), &signed).unwrap();
    let (ok, out, err) = env.openssl(&[
        "cms",
        "-encrypt",
        "-aes-256-gcm",
        "-in",
        "signed.eml",
        "-recip",
        "bob.pem",
        "-from",
        "alice@example.org",
        "-subject",
        "x",
    ]);
    assert!(ok, "{err}");
    let r = read_message(&out, &env.strict(&anchors, Some(&env.bob))).unwrap();
    assert!(
        r.verdict.signed_by_sender() && r.verdict.is_fully_encrypted(),
        "{:?}",
        r.verdict
    );
}

#[test]
fn refusals() {
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    let anchors = env.anchors();
    let signed = sign_message(MSG, &env.alice.0, &env.alice.1, &[], false).unwrap();

    // Untrusted CA.
    let other = CertificateAuthority::new_root("CN=Other CA", 30).unwrap();
    let other_anchor = vec![other.certificate().clone()];
    let e = read_message(&signed, &env.strict(&other_anchor, None)).unwrap_err();
    assert!(
        matches!(e, Error::Validation(ValidationError::Untrusted { .. })),
        "{e}"
    );

    // Expired certificate (and OpenSSL agrees).
    let now = SystemTime::now();
    let opts = IssueOptions::days(1).validity(
        now - Duration::from_secs(86_400 * 10),
        now - Duration::from_secs(86_400),
    );
    let (old, old_key) = env.ca.issue_with("alice@example.org", &opts).unwrap();
    let signed_old = sign_message(MSG, &old, &old_key, &[], false).unwrap();
    let e = read_message(&signed_old, &env.strict(&anchors, None)).unwrap_err();
    assert!(
        matches!(e, Error::Validation(ValidationError::Expired { .. })),
        "{e}"
    );
    std::fs::write(env.p("old.eml"), &signed_old).unwrap();
    assert!(
        !env.openssl(&["smime", "-verify", "-CAfile", "ca.pem", "-in", "old.eml"])
            .0
    );

    // From does not match the certificate.
    let forged = String::from_utf8(signed.clone())
        .unwrap()
        .replace("From: alice@example.org", "From: mallory@example.org");
    let e = read_message(forged.as_bytes(), &env.strict(&anchors, None)).unwrap_err();
    assert!(
        matches!(e, Error::Validation(ValidationError::EmailMismatch { .. })),
        "{e}"
    );

    // Altered content.
    let altered = String::from_utf8(signed.clone())
        .unwrap()
        .replace("this is signed.", "this is forged.");
    let e = read_message(altered.as_bytes(), &env.strict(&anchors, None)).unwrap_err();
    assert!(matches!(e, Error::BadSignature(_)), "{e}");
    std::fs::write(env.p("alt.eml"), &altered).unwrap();
    assert!(
        !env.openssl(&["smime", "-verify", "-CAfile", "ca.pem", "-in", "alt.eml"])
            .0
    );

    // A signing-only certificate is refused as a recipient; an encryption-only one cannot sign.
    let (sign_only, _) = env.ca.issue("s@example.org", CertUsage::Sign, 30).unwrap();
    let e = encrypt_message(MSG, &[sign_only], &EncryptOptions::default()).unwrap_err();
    assert!(matches!(e, Error::UsageNotAllowed { .. }), "{e}");
    let (enc_only, enc_key) = env
        .ca
        .issue("alice@example.org", CertUsage::Encrypt, 30)
        .unwrap();
    let e = sign_message(MSG, &enc_only, &enc_key, &[], false).unwrap_err();
    assert!(matches!(e, Error::UsageNotAllowed { .. }), "{e}");

    // Wrong key: not a recipient; a tampered key-transport block gives the one coarse error.
    let enc = encrypt_message(
        MSG,
        std::slice::from_ref(&env.bob.0),
        &EncryptOptions::default(),
    )
    .unwrap();
    let mut o = ReadOptions::default();
    o.decrypt_with = Some((&env.alice.0, &env.alice.1));
    assert!(matches!(
        read_message(&enc, &o).unwrap_err(),
        Error::NotARecipient
    ));
    let mut o = ReadOptions::default();
    o.decrypt_with = Some((&env.bob.0, &env.alice.1));
    assert!(matches!(
        read_message(&enc, &o).unwrap_err(),
        Error::Misuse(_)
    ));
}

#[test]
fn openssl_streamed_ber_opens_in_ours() {
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    std::fs::write(
        env.p("body.txt"),
        "Content-Type: text/plain\r\n\r\nstreamed words\r\n",
    )
    .unwrap();
    let anchors = env.anchors();
    let (ok, out, err) = env.openssl(&[
        "cms",
        "-sign",
        "-stream",
        "-nodetach",
        "-signer",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-in",
        "body.txt",
        "-from",
        "alice@example.org",
    ]);
    assert!(ok, "{err}");
    let r = read_message(&out, &env.strict(&anchors, None)).unwrap();
    assert!(r.verdict.signed_by_sender());
    assert!(String::from_utf8_lossy(&r.message).contains("streamed words"));
    for cipher in ["-aes-256-gcm", "-aes-256-cbc"] {
        let (ok, out, err) = env.openssl(&[
            "cms", "-encrypt", "-stream", cipher, "-in", "body.txt", "-recip", "bob.pem",
        ]);
        assert!(ok, "{err}");
        let mut o = ReadOptions::default();
        o.decrypt_with = Some((&env.bob.0, &env.bob.1));
        let r = read_message(&out, &o).unwrap_or_else(|e| panic!("{cipher}: {e}"));
        assert!(String::from_utf8_lossy(&r.message).contains("streamed words"));
    }
}

#[test]
fn pss_and_ecdsa_signatures_both_ways() {
    use secmail_smime::{KeyKind, SignOptions, SignatureAlgorithm, SignerStatus, sign, verify};
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    let anchors = env.anchors();
    let (ec, ec_key) = env
        .ca
        .issue_with(
            "carol@example.org",
            &IssueOptions::days(30)
                .usage(CertUsage::Sign)
                .key(KeyKind::P256),
        )
        .unwrap();
    std::fs::write(env.p("carol.pem"), certificate_to_pem(&ec).unwrap()).unwrap();
    write_key(&env.p("carol.key"), &ec_key);
    let content = b"Content-Type: text/plain\r\n\r\nalgorithms\r\n";
    std::fs::write(env.p("content.txt"), content).unwrap();
    for (cert, key, alg) in [
        (&env.alice.0, &env.alice.1, SignatureAlgorithm::RsaPssSha256),
        (&ec, &ec_key, SignatureAlgorithm::EcdsaP256Sha256),
    ] {
        let der = sign(
            content,
            cert,
            key,
            &SignOptions::default().detached(true).algorithm(alg),
        )
        .unwrap();
        std::fs::write(env.p("sig.der"), &der).unwrap();
        let (ok, _, err) = env.openssl(&[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "sig.der",
            "-content",
            "content.txt",
            "-binary",
            "-CAfile",
            "ca.pem",
            "-out",
            "/dev/null",
        ]);
        assert!(ok, "{alg:?}: {err}");
        let v = verify(&der, Some(content), &anchors, SystemTime::now()).unwrap();
        assert_eq!(v.signers[0].status, SignerStatus::Good, "{alg:?}");
    }
    // OpenSSL's PSS and ECDSA signatures in ours.
    for (signer, key, extra) in [
        (
            "alice.pem",
            "alice.key",
            &["-keyopt", "rsa_padding_mode:pss"][..],
        ),
        ("carol.pem", "carol.key", &[][..]),
    ] {
        let mut args = vec![
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-signer",
            signer,
            "-inkey",
            key,
            "-in",
            "content.txt",
        ];
        args.extend_from_slice(extra);
        let (ok, der, err) = env.openssl(&args);
        assert!(ok, "{err}");
        let v = verify(&der, Some(content), &anchors, SystemTime::now()).unwrap();
        assert_eq!(v.signers[0].status, SignerStatus::Good, "{signer}");
    }
}

#[test]
fn legacy_x_pkcs7_names_are_read() {
    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    let anchors = env.anchors();
    let detached =
        String::from_utf8(sign_message(MSG, &env.alice.0, &env.alice.1, &[], false).unwrap())
            .unwrap()
            .replace(
                "application/pkcs7-signature",
                "application/x-pkcs7-signature",
            );
    assert!(detached.contains("x-pkcs7-signature"));
    let r = read_message(detached.as_bytes(), &env.strict(&anchors, None)).unwrap();
    assert!(r.verdict.signed_by_sender());
    // Outlook's form: x-pkcs7-mime, and no smime-type parameter at all.
    let sealed = String::from_utf8(
        sign_encrypt_message(
            MSG,
            &env.alice.0,
            &env.alice.1,
            &[],
            std::slice::from_ref(&env.bob.0),
            &EncryptOptions::default(),
        )
        .unwrap(),
    )
    .unwrap()
    .replace("application/pkcs7-mime", "application/x-pkcs7-mime")
    .replace("smime-type=\"authEnveloped-data\";", "")
    .replace("smime-type=authEnveloped-data;", "");
    assert!(!sealed.contains("smime-type"), "{sealed:.400}");
    let r = read_message(sealed.as_bytes(), &env.strict(&anchors, Some(&env.bob))).unwrap();
    assert!(r.verdict.signed_by_sender() && r.verdict.is_fully_encrypted());
}

/// Altering the wrapped key (PKCS#1 v1.5 or OAEP), the CBC ciphertext or the GCM tag all give
/// the one coarse error: no padding or key oracle.
#[test]
fn every_decryption_failure_looks_the_same() {
    use cms::content_info::ContentInfo;
    use cms::enveloped_data::{EnvelopedData, RecipientInfo};
    use der::asn1::OctetString;
    use der::{Any, Decode, Encode};
    use secmail_smime::{decrypt, encrypt};

    let env = Env::new("CN=Test Mail CA,O=secmail tests");
    let (cert, key) = (&env.bob.0, &env.bob.1);
    for kt in [
        KeyTransport::RsaPkcs1v15,
        KeyTransport::RsaOaep(OaepHash::Sha256),
    ] {
        let opts = EncryptOptions::default()
            .cipher(ContentCipher::Aes256Cbc)
            .key_transport(kt);
        let der = encrypt(b"secret", std::slice::from_ref(cert), &opts).unwrap();
        assert_eq!(decrypt(&der, cert, key).unwrap().content, b"secret");
        let ci = ContentInfo::from_der(&der).unwrap();
        let ed: EnvelopedData = ci.content.decode_as().unwrap();
        // A wrapped key that no longer unwraps.
        let mut bad_key = ed.clone();
        let mut infos: Vec<RecipientInfo> = bad_key.recip_infos.0.iter().cloned().collect();
        if let RecipientInfo::Ktri(k) = &mut infos[0] {
            let mut b = k.enc_key.as_bytes().to_vec();
            b[10] ^= 0x55;
            k.enc_key = OctetString::new(b).unwrap();
        }
        bad_key.recip_infos.0 = der::asn1::SetOfVec::from_iter(infos).unwrap();
        // Ciphertext altered in its last block (breaks the padding).
        let mut bad_ct = ed.clone();
        let mut c = bad_ct
            .encrypted_content
            .encrypted_content
            .as_ref()
            .unwrap()
            .as_bytes()
            .to_vec();
        let n = c.len();
        c[n - 1] ^= 1;
        bad_ct.encrypted_content.encrypted_content = Some(OctetString::new(c).unwrap());
        for altered in [bad_key, bad_ct] {
            let ci = ContentInfo {
                content_type: ci.content_type,
                content: Any::encode_from(&altered).unwrap(),
            };
            let e = decrypt(&ci.to_der().unwrap(), cert, key).unwrap_err();
            assert!(matches!(e, Error::DecryptionFailed), "{kt:?}: {e}");
        }
    }
    // GCM: any altered byte of the tail (ciphertext or tag) fails the same way, with no output.
    let der = encrypt(
        b"secret",
        std::slice::from_ref(cert),
        &EncryptOptions::default(),
    )
    .unwrap();
    for back in [1, 20, 30] {
        let mut d = der.clone();
        let i = d.len() - back;
        d[i] ^= 1;
        let e = decrypt(&d, cert, key).unwrap_err();
        assert!(matches!(e, Error::DecryptionFailed), "{back}: {e}");
    }
}
