//! Passphrase-protected RFC 9580 (v6) keys: sequoia protects their secrets with Argon2 and
//! AEAD (S2K usage 253), whose associated data names the packet type (Secret-Key or
//! Secret-Subkey). The key must keep its runtime role to be unlocked; erasing it
//! (`role_into_unspecified`) made every v6 protected key read "locked" (regression).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use secmail_pgp::*;

fn v6_protected(pass: &str) -> Cert {
    generate(&KeyGenOptions {
        profile: KeyProfile::Rfc9580,
        passphrase: Some(Password::from(pass)),
        ..KeyGenOptions::new("Vera <vera@example.org>")
    })
    .unwrap()
    .key
}

#[test]
fn v6_protected_key_signs_and_decrypts_with_its_passphrase() {
    let pass = "correct horse battery staple";
    let key = v6_protected(pass);
    // Exported and read back, as the command does.
    let key = read_cert(&export_key(&key, Encoding::Binary).unwrap()).unwrap();
    let cert = public_cert(&key);

    // Locked without, or with a wrong, passphrase: a typed error.
    for pws in [vec![], vec![Password::from("wrong")]] {
        assert!(matches!(
            SigningKey::new(&key, &pws),
            Err(Error::KeyLocked { .. })
        ));
    }
    let signer = SigningKey::new(&key, &[Password::from("wrong"), Password::from(pass)])
        .expect("the right passphrase unlocks the v6 signing subkey");

    // Sign, and encrypt to the v6 certificate (SEIPDv2), signed.
    let signed = sign(b"v6 signed", &[&signer], Encoding::Binary).unwrap();
    let (data, verdict) = verify(&signed, std::slice::from_ref(&cert), None).unwrap();
    assert_eq!(data, b"v6 signed");
    assert!(verdict.is_fully_signed());
    let ct = encrypt(
        b"to a protected v6 key",
        &EncryptOptions::new().recipient(&cert).sign_with(&signer),
    )
    .unwrap();

    // Decryption needs the passphrase: without it (or with a wrong one) it fails, with no
    // plaintext; with it, the message opens and the signature verifies.
    for opts in [
        DecryptOptions::new().key(key.clone()),
        DecryptOptions::new()
            .key(key.clone())
            .key_passphrase(Password::from("wrong")),
    ] {
        assert!(decrypt(&ct, &opts).is_err());
    }
    let (pt, verdict) = decrypt(
        &ct,
        &DecryptOptions::new()
            .key(key.clone())
            .key_passphrase(Password::from(pass))
            .verify_with(cert.clone()),
    )
    .unwrap();
    assert_eq!(pt, b"to a protected v6 key");
    assert!(verdict.is_fully_encrypted() && verdict.is_fully_signed());
}

#[test]
fn v4_protected_key_still_works() {
    let pass = "v4 pass";
    let key = generate(&KeyGenOptions {
        passphrase: Some(Password::from(pass)),
        ..KeyGenOptions::new("Walt <walt@example.org>")
    })
    .unwrap()
    .key;
    assert!(matches!(
        SigningKey::new(&key, &[]),
        Err(Error::KeyLocked { .. })
    ));
    let signer = SigningKey::new(&key, &[Password::from(pass)]).unwrap();
    let cert = public_cert(&key);
    let ct = encrypt(
        b"v4",
        &EncryptOptions::new().recipient(&cert).sign_with(&signer),
    )
    .unwrap();
    let (pt, _) = decrypt(
        &ct,
        &DecryptOptions::new()
            .key(key)
            .key_passphrase(Password::from(pass)),
    )
    .unwrap();
    assert_eq!(pt, b"v4");
}
