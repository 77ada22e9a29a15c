//! Padding packets in SEIPDv2 messages to v6 recipients (RFC 9580 §5.14): lengths are
//! bucketed (Padmé), the overhead is bounded, and our reader accepts padded messages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use secmail_pgp::*;

fn key(uid: &str, profile: KeyProfile) -> Cert {
    generate(&KeyGenOptions {
        profile,
        ..KeyGenOptions::new(uid)
    })
    .unwrap()
    .key
}

fn lengths(cert: &Cert, sizes: std::ops::Range<usize>) -> BTreeSet<usize> {
    sizes
        .map(|n| {
            encrypt(
                &vec![b'x'; n],
                &EncryptOptions::new()
                    .recipient(cert)
                    .encoding(Encoding::Binary),
            )
            .unwrap()
            .len()
        })
        .collect()
}

#[test]
fn v6_messages_are_padded_into_buckets() {
    let v6 = key("Six <six@example.org>", KeyProfile::Rfc9580);
    let v4 = key("Four <four@example.org>", KeyProfile::Rfc4880);
    let c6 = public_cert(&v6);
    let c4 = public_cert(&v4);
    // 64 consecutive plaintext sizes: SEIPDv1 (v4, not padded) shows most of them (partial
    // body lengths hide a few); SEIPDv2 (v6, padded) only a few buckets (Padmé at ~1 KiB
    // rounds to multiples of 32 bytes).
    let plain = lengths(&c4, 1000..1064);
    assert!(plain.len() >= 16, "{plain:?}");
    let padded = lengths(&c6, 1000..1064);
    assert!(padded.len() <= 4, "{padded:?}");
    // Bounded overhead: under 12 % plus the fixed packet overhead.
    let n = 300_000;
    let unpadded = encrypt(
        &vec![0u8; n],
        &EncryptOptions::new()
            .recipient(&c4)
            .encoding(Encoding::Binary),
    )
    .unwrap()
    .len();
    let padded = encrypt(
        &vec![0u8; n],
        &EncryptOptions::new()
            .recipient(&c6)
            .encoding(Encoding::Binary),
    )
    .unwrap()
    .len();
    assert!(padded >= n, "{padded}");
    assert!(padded <= n + n * 12 / 100 + 1024, "{padded} for {n}");
    assert!(unpadded < n + 1024, "{unpadded}");
}

#[test]
fn padded_messages_decrypt_and_verify() {
    let v6 = key("Six <six@example.org>", KeyProfile::Rfc9580);
    let signer_key = key("Sig <sig@example.org>", KeyProfile::Rfc9580);
    let signer = SigningKey::new(&signer_key, &[]).unwrap();
    let c6 = public_cert(&v6);
    for n in [0usize, 1, 100, 5000, 70_000] {
        let pt = vec![b'p'; n];
        let ct = encrypt(
            &pt,
            &EncryptOptions::new().recipient(&c6).sign_with(&signer),
        )
        .unwrap();
        let (out, verdict) = decrypt(
            &ct,
            &DecryptOptions::new()
                .key(v6.clone())
                .verify_with(public_cert(&signer_key)),
        )
        .unwrap();
        assert_eq!(out, pt);
        assert!(
            verdict.is_fully_encrypted() && verdict.is_fully_signed(),
            "{n}"
        );
    }
}
