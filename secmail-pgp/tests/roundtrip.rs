//! Our own round trips: keys, encryption, signatures, passwords, refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use secmail_core::SignatureStatus;
use secmail_pgp::*;

fn key(uid: &str, algo: Algorithm, profile: KeyProfile) -> Cert {
    generate(&KeyGenOptions {
        userids: vec![uid.into()],
        algorithm: algo,
        profile,
        ..KeyGenOptions::default()
    })
    .unwrap()
    .key
}

fn alice() -> Cert {
    key(
        "Alice <alice@example.org>",
        Algorithm::Cv25519,
        KeyProfile::Rfc4880,
    )
}
fn bob() -> Cert {
    key(
        "Bob <bob@example.net>",
        Algorithm::Cv25519,
        KeyProfile::Rfc4880,
    )
}

#[test]
fn sign_then_encrypt_to_many_and_back() {
    let (a, b) = (alice(), bob());
    let c = key(
        "Carol <carol@example.com>",
        Algorithm::Rsa3072,
        KeyProfile::Rfc4880,
    );
    let signer = SigningKey::new(&a, &[]).unwrap();
    let ct = encrypt(
        b"the merger is off",
        &EncryptOptions::new()
            .recipient(&b)
            .recipient(&c)
            .sign_with(&signer),
    )
    .unwrap();
    assert!(ct.starts_with(b"-----BEGIN PGP MESSAGE-----"));
    // Each recipient, and the sender (encrypt-to-self), can read it.
    for k in [&b, &c, &a] {
        let (pt, v) = decrypt(
            &ct,
            &DecryptOptions::new()
                .key(k.clone())
                .verify_with(public_cert(&a))
                .from(Some("alice@example.org".into())),
        )
        .unwrap();
        assert_eq!(pt, b"the merger is off");
        assert!(v.is_fully_encrypted());
        assert_eq!(
            v.parts[0].decrypted_with.as_deref(),
            Some(fingerprint_hex(k).as_str())
        );
        assert_eq!(v.signatures.len(), 1);
        assert_eq!(v.signatures[0].status, SignatureStatus::Good);
        assert!(v.signed_by_sender());
        assert_eq!(
            v.signatures[0].identity.as_deref(),
            Some("Alice <alice@example.org>")
        );
    }
    // Without the signer's certificate the signature is from an unknown key.
    let (_, v) = decrypt(&ct, &DecryptOptions::new().key(b.clone())).unwrap();
    assert_eq!(v.signatures[0].status, SignatureStatus::UnknownKey);
    assert!(!v.signed_by_sender());
    // A stranger cannot.
    let e = decrypt(&ct, &DecryptOptions::new().key(bob())).unwrap_err();
    assert!(matches!(e, Error::CannotDecrypt), "{e}");
}

#[test]
fn encrypt_to_self_can_be_turned_off() {
    let (a, b) = (alice(), bob());
    let signer = SigningKey::new(&a, &[]).unwrap();
    let ct = encrypt(
        b"x",
        &EncryptOptions::new()
            .recipient(&b)
            .sign_with(&signer)
            .encrypt_to_self(false),
    )
    .unwrap();
    assert!(matches!(
        decrypt(&ct, &DecryptOptions::new().key(a)),
        Err(Error::CannotDecrypt)
    ));
}

#[test]
fn v6_recipients_get_seipdv2_and_v4_get_seipdv1() {
    let v6 = key(
        "Six <six@example.org>",
        Algorithm::Cv25519,
        KeyProfile::Rfc9580,
    );
    let v6b = key(
        "Sixb <sixb@example.org>",
        Algorithm::Cv25519,
        KeyProfile::Rfc9580,
    );
    let v4 = bob();
    let seipd_version = |ct: &[u8]| {
        use secmail_pgp::openpgp::parse::Parse;
        let pp = secmail_pgp::openpgp::PacketPile::from_bytes(ct).unwrap();
        pp.children()
            .find_map(|p| match p {
                secmail_pgp::openpgp::Packet::SEIP(s) => Some(s.version()),
                _ => None,
            })
            .unwrap()
    };
    let both6 = encrypt(b"x", &EncryptOptions::new().recipient(&v6).recipient(&v6b)).unwrap();
    assert_eq!(seipd_version(&both6), 2);
    let mixed = encrypt(b"x", &EncryptOptions::new().recipient(&v6).recipient(&v4)).unwrap();
    assert_eq!(seipd_version(&mixed), 1);
    for k in [&v6, &v6b] {
        let (pt, _) = decrypt(&both6, &DecryptOptions::new().key(k.clone())).unwrap();
        assert_eq!(pt, b"x");
    }
    let (pt, _) = decrypt(&mixed, &DecryptOptions::new().key(v4)).unwrap();
    assert_eq!(pt, b"x");
}

#[test]
fn flipped_bytes_are_refused_with_no_output() {
    let a = alice();
    let signer = SigningKey::new(&a, &[]).unwrap();
    let pt = vec![7u8; 5000];
    for profile in [KeyProfile::Rfc4880, KeyProfile::Rfc9580] {
        let r = key("R <r@example.org>", Algorithm::Cv25519, profile);
        let ct = encrypt(
            &pt,
            &EncryptOptions::new()
                .recipient(&r)
                .sign_with(&signer)
                .encrypt_to_self(false)
                .encoding(Encoding::Binary),
        )
        .unwrap();
        for i in (0..ct.len()).step_by(7) {
            let mut bad = ct.clone();
            bad[i] ^= 0x01;
            let mut out = Vec::new();
            let r = decrypt_stream(
                &bad[..],
                &mut out,
                &DecryptOptions::new().key(r.clone()).verify_with(a.clone()),
            );
            match r {
                Err(_) => assert!(out.is_empty(), "plaintext released at byte {i}"),
                // A flip in a part that nothing authenticates (e.g. a packet's key ID hint)
                // may still decrypt: then the content must be intact.
                Ok(v) => {
                    assert_eq!(out, pt, "altered plaintext at byte {i}");
                    assert!(v.is_fully_encrypted());
                }
            }
        }
    }
}

#[test]
fn truncation_is_refused() {
    let b = bob();
    let ct = encrypt(
        &vec![1u8; 100_000],
        &EncryptOptions::new()
            .recipient(&b)
            .encoding(Encoding::Binary),
    )
    .unwrap();
    for cut in [ct.len() - 1, ct.len() - 22, ct.len() / 2] {
        let mut out = Vec::new();
        assert!(
            decrypt_stream(&ct[..cut], &mut out, &DecryptOptions::new().key(b.clone())).is_err()
        );
        assert!(out.is_empty());
    }
}

#[test]
fn passwords_and_protected_keys() {
    let ct = encrypt(b"hi", &EncryptOptions::new().password("pw1".into())).unwrap();
    let (pt, v) = decrypt(&ct, &DecryptOptions::new().password("pw1".into())).unwrap();
    assert_eq!(pt, b"hi");
    assert_eq!(v.parts[0].decrypted_with.as_deref(), Some("password"));
    assert!(matches!(
        decrypt(&ct, &DecryptOptions::new().password("nope".into())),
        Err(Error::CannotDecrypt)
    ));

    let locked = generate(&KeyGenOptions {
        passphrase: Some("sesame".into()),
        ..KeyGenOptions::new("Dan <dan@example.org>")
    })
    .unwrap()
    .key;
    assert!(matches!(
        SigningKey::new(&locked, &[]),
        Err(Error::KeyLocked { .. })
    ));
    let s = SigningKey::new(&locked, &["sesame".into()]).unwrap();
    let ct = encrypt(b"x", &EncryptOptions::new().sign_with(&s)).unwrap();
    assert!(matches!(
        decrypt(&ct, &DecryptOptions::new().key(locked.clone())),
        Err(Error::KeyLocked { .. })
    ));
    let (pt, v) = decrypt(
        &ct,
        &DecryptOptions::new()
            .key(locked)
            .key_passphrase("sesame".into()),
    )
    .unwrap();
    assert_eq!(pt, b"x");
    assert!(v.signatures[0].status.is_good());
}

#[test]
fn signatures_inline_and_detached() {
    let a = alice();
    let s = SigningKey::new(&a, &[]).unwrap();
    let signed = sign(b"data", &[&s], Encoding::Armored).unwrap();
    let (pt, v) = verify(&signed, &[public_cert(&a)], None).unwrap();
    assert_eq!(pt, b"data");
    assert!(v.signatures[0].status.is_good());
    assert!(!v.is_fully_encrypted());

    for enc in [Encoding::Armored, Encoding::Binary] {
        let sig = sign_detached(b"data", &[&s], enc).unwrap();
        let v = verify_detached(b"data", &sig, &[public_cert(&a)], None).unwrap();
        assert!(v.signatures[0].status.is_good());
        let v = verify_detached(b"dbta", &sig, &[public_cert(&a)], None).unwrap();
        assert_eq!(v.signatures[0].status, SignatureStatus::Bad);
        let v = verify_detached(b"data", &sig, &[public_cert(&bob())], None).unwrap();
        assert_eq!(v.signatures[0].status, SignatureStatus::UnknownKey);
    }
}

#[test]
fn revoked_and_expired_signers_are_reported() {
    let g = generate(&KeyGenOptions::new("Eve <eve@example.org>")).unwrap();
    let s = SigningKey::new(&g.key, &[]).unwrap();
    let sig = sign_detached(b"data", &[&s], Encoding::Armored).unwrap();
    let revoked = apply_revocation(&public_cert(&g.key), &g.revocation).unwrap();
    let v = verify_detached(b"data", &sig, std::slice::from_ref(&revoked), None).unwrap();
    assert_eq!(v.signatures[0].status, SignatureStatus::Revoked);
    assert!(encryption_keys(&revoked).is_err());
    let mut store = CertStore::new();
    store.insert(public_cert(&g.key)).unwrap();
    assert!(store.recipient("eve@example.org").is_ok());
    // The revocation merges into the stored copy.
    let rev = export_revocation(&g.revocation).unwrap();
    assert!(rev.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    store.insert(revoked).unwrap();
    assert_eq!(store.len(), 1);
    assert!(store.recipient("eve@example.org").is_err());
}

#[test]
fn keys_export_import_and_directory_store() {
    let a = alice();
    for enc in [Encoding::Armored, Encoding::Binary] {
        let k = export_key(&a, enc).unwrap();
        let back = read_cert(&k).unwrap();
        assert!(back.is_tsk());
        assert_eq!(back.fingerprint(), a.fingerprint());
        let c = export_cert(&a, enc).unwrap();
        let back = read_cert(&c).unwrap();
        assert!(!back.is_tsk());
    }
    assert!(export_key(&public_cert(&a), Encoding::Armored).is_err());
    assert!(read_cert(b"not a key").is_err());

    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = CertStore::open(dir.path()).unwrap();
        s.insert(a.clone()).unwrap();
        s.insert(bob()).unwrap();
    }
    let s = CertStore::open(dir.path()).unwrap();
    assert_eq!(s.len(), 2);
    let got = s.get(&a.fingerprint()).unwrap();
    assert!(!got.is_tsk(), "the store keeps no secrets");
    assert_eq!(s.by_email("alice@EXAMPLE.org").len(), 1);
    let kid = secmail_pgp::openpgp::KeyHandle::from(a.keyid());
    assert_eq!(s.by_handle(&kid).len(), 1);
}

#[test]
fn rsa4096_and_v6_keys_work() {
    for (algo, prof) in [
        (Algorithm::Rsa4096, KeyProfile::Rfc4880),
        (Algorithm::Cv25519, KeyProfile::Rfc9580),
        (Algorithm::Rsa3072, KeyProfile::Rfc9580),
    ] {
        let k = key("K <k@example.org>", algo, prof);
        let s = SigningKey::new(&k, &[]).unwrap();
        let ct = encrypt(b"z", &EncryptOptions::new().sign_with(&s)).unwrap();
        let (pt, v) = decrypt(&ct, &DecryptOptions::new().key(k.clone())).unwrap();
        assert_eq!(pt, b"z");
        assert!(v.signatures[0].status.is_good());
    }
}

#[test]
fn large_messages_spool_to_disk_and_release_nothing_on_failure() {
    let pt: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    for profile in [KeyProfile::Rfc4880, KeyProfile::Rfc9580] {
        let r = key("R <r@example.org>", Algorithm::Cv25519, profile);
        let ct = encrypt(
            &pt,
            &EncryptOptions::new()
                .recipient(&r)
                .encoding(Encoding::Binary),
        )
        .unwrap();
        // Past 64 KiB the plaintext goes to an unnamed temporary file, then to the writer.
        let opts = DecryptOptions::new()
            .key(r.clone())
            .spool_in_memory(64 * 1024);
        let mut out = Vec::new();
        decrypt_stream(&ct[..], &mut out, &opts).unwrap();
        assert!(out == pt, "round trip through the file spool");
        // Altered near the end: megabytes were decrypted, none released.
        let mut bad = ct.clone();
        let at = bad.len() - 40;
        bad[at] ^= 0x80;
        let mut out = Vec::new();
        assert!(decrypt_stream(&bad[..], &mut out, &opts).is_err());
        assert!(out.is_empty());
        // Over the plaintext bound: refused.
        let mut out = Vec::new();
        let e =
            decrypt_stream(&ct[..], &mut out, &opts.clone().max_plaintext(1_000_000)).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(out.is_empty());
    }
}

/// Found by the `ffi_pgp` fuzz target (fuzz/known-crashes/README.md, "the S2K work a password
/// message can demand"): every password was tried on every SKESK, each an S2K run the sender
/// sized. The runs per message are now budgeted: a real SKESK behind `MAX_S2K_RUNS - 1` junk
/// ones still opens; behind `MAX_S2K_RUNS` of them it is refused, typed, with nothing released.
#[test]
fn password_derivations_per_message_are_budgeted() {
    let ct = encrypt(
        b"hi",
        &EncryptOptions::new()
            .password("pw1".into())
            .encoding(Encoding::Binary),
    )
    .unwrap();
    // A v4 SKESK for AES-256 with iterated-and-salted S2K (SHA-256, the smallest count) and no
    // encrypted session key: its S2K output is taken as the session key, which opens nothing.
    let junk = |n: usize| -> Vec<u8> {
        let mut m = Vec::new();
        for i in 0..n {
            m.extend_from_slice(&[0xc3, 13, 4, 9, 3, 8]);
            m.extend_from_slice(&[i as u8; 8]);
            m.push(0);
        }
        m.extend_from_slice(&ct);
        m
    };
    let opts = DecryptOptions::new().password("pw1".into());
    let (pt, _) = decrypt(&junk(MAX_S2K_RUNS - 1), &opts).unwrap();
    assert_eq!(pt, b"hi");
    assert!(matches!(
        decrypt(&junk(MAX_S2K_RUNS), &opts),
        Err(Error::CannotDecrypt)
    ));
}
