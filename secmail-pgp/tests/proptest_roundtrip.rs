//! OpenPGP round trips on random data: encrypt (SEIPDv1 for a v4 key, SEIPDv2 for a v6 key;
//! armored or binary; signed or not) then decrypt gives the data and the verdict names the
//! signer; a detached signature verifies over the data and not over the data changed.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::LazyLock;

use proptest::prelude::*;
use secmail_pgp::{
    Algorithm, Cert, DecryptOptions, Encoding, EncryptOptions, KeyGenOptions, KeyProfile,
    SigningKey, decrypt, encrypt, generate, sign_detached, verify_detached,
};

fn key(profile: KeyProfile) -> Cert {
    generate(&KeyGenOptions {
        algorithm: Algorithm::Cv25519,
        profile,
        ..KeyGenOptions::new("Prop <prop@example.org>")
    })
    .unwrap()
    .key
}

static V4: LazyLock<Cert> = LazyLock::new(|| key(KeyProfile::Rfc4880));
static V6: LazyLock<Cert> = LazyLock::new(|| key(KeyProfile::Rfc9580));

/// A verdict with signatures, all good (an error, or a bad signature, is not good).
fn good(r: secmail_pgp::Result<secmail_core::Verdict>) -> bool {
    r.is_ok_and(|v| !v.signatures.is_empty() && v.signatures.iter().all(|s| s.status.is_good()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn encrypt_then_decrypt_gives_the_data(
        data in prop::collection::vec(any::<u8>(), 0..3000),
        v6 in any::<bool>(),
        armored in any::<bool>(),
        signed in any::<bool>(),
    ) {
        let k: &Cert = if v6 { &V6 } else { &V4 };
        let signer = SigningKey::new(k, &[]).unwrap();
        let mut opts = EncryptOptions::new()
            .recipient(k)
            .encoding(if armored { Encoding::Armored } else { Encoding::Binary });
        if signed {
            opts = opts.sign_with(&signer);
        }
        let ct = encrypt(&data, &opts).unwrap();
        let mut dopts = DecryptOptions::new().key(k.clone());
        if signed {
            dopts = dopts.require_signer(k.clone());
        }
        let (pt, verdict) = decrypt(&ct, &dopts).unwrap();
        prop_assert_eq!(pt, data);
        prop_assert!(dopts.signers_satisfied(&verdict));
    }

    #[test]
    fn detached_signatures_verify_over_the_data_only(
        data in prop::collection::vec(any::<u8>(), 1..2000),
        flip in any::<usize>(),
        armored in any::<bool>(),
    ) {
        let signer = SigningKey::new(&V4, &[]).unwrap();
        let enc = if armored { Encoding::Armored } else { Encoding::Binary };
        let sig = sign_detached(&data, &[&signer], enc).unwrap();
        let certs = [V4.clone()];
        prop_assert!(good(verify_detached(&data, &sig, &certs, None)));
        let mut changed = data.clone();
        let i = flip % changed.len();
        changed[i] ^= 0x01;
        prop_assert!(!good(verify_detached(&changed, &sig, &certs, None)));
    }
}
