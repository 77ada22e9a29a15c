//! Bodies of the fuzz targets (`fuzz/fuzz_targets/pgp_*.rs`). Not part of the stable API.
//!
//! `fuzz-key.asc` is a throw-away unprotected Curve25519 key made for the fuzzer with
//! `generate` (User ID `Fuzz <fuzz@example.org>`, no expiry); it protects nothing.

use std::sync::OnceLock;

use crate::openpgp::Cert;

const FUZZ_KEY: &[u8] = include_bytes!("fuzz-key.asc");

fn key() -> Option<&'static Cert> {
    static KEY: OnceLock<Option<Cert>> = OnceLock::new();
    KEY.get_or_init(|| crate::read_cert(FUZZ_KEY).ok()).as_ref()
}

/// Message parsing, decryption with a fixed key and a password, and verification: never a
/// panic, and nothing released on failure.
#[doc(hidden)]
pub fn fuzz_decrypt(data: &[u8]) {
    let Some(k) = key() else { return };
    let opts = crate::DecryptOptions::new()
        .key(k.clone())
        .password("password".into())
        .max_plaintext(1 << 20);
    let mut out = Vec::new();
    if crate::decrypt_stream(data, &mut out, &opts).is_err() {
        assert!(out.is_empty(), "plaintext released on failure");
    }
    let _ = crate::verify_detached(b"data", data, std::slice::from_ref(k), None);
}

/// Certificate parsing, the store, and key selection: never a panic.
#[doc(hidden)]
pub fn fuzz_cert(data: &[u8]) {
    let Ok(certs) = crate::read_certs(data) else {
        return;
    };
    let mut store = crate::CertStore::new();
    for c in certs.into_iter().take(16) {
        let _ = crate::emails(&c);
        let _ = crate::primary_userid(&c);
        let _ = crate::encryption_keys(&c).map(|k| k.len());
        let _ = crate::SigningKey::new(&c, &[]);
        let _ = store.insert(c);
    }
    let _ = store.recipient("fuzz@example.org");
}

/// PGP/MIME reading with the fixed key: never a panic.
#[doc(hidden)]
pub fn fuzz_mime(data: &[u8]) {
    let Some(k) = key() else { return };
    let opts = crate::DecryptOptions::new()
        .key(k.clone())
        .max_plaintext(1 << 20);
    let _ = crate::decrypt_mail(data, &opts);
    let _ = crate::verify_mail(data, std::slice::from_ref(k));
}

/// ASCII armor (RFC 9580 §6) as every reader here meets it: dearmored (bounded), then armored
/// again and dearmored back to the same bytes. Never a panic.
#[doc(hidden)]
pub fn fuzz_armor(data: &[u8]) {
    use std::io::{Read, Write};

    use crate::openpgp::armor;

    let mut r = armor::Reader::from_bytes(data, armor::ReaderMode::Tolerant(None));
    let mut body = Vec::new();
    if (&mut r).take(1 << 20).read_to_end(&mut body).is_err() {
        return;
    }
    let _ = r.headers();
    // sequoia's tolerant reader accepts a block with no data (BEGIN then a mangled END), but
    // refuses the empty block its own writer makes: an upstream asymmetry with no effect on
    // what secmail reads (found by this target; fuzz/known-crashes/README.md). Round-trip only
    // what has data.
    if body.is_empty() {
        return;
    }
    let kind = r.kind().unwrap_or(armor::Kind::File);
    let Ok(mut w) = armor::Writer::new(Vec::new(), kind) else {
        return;
    };
    assert!(w.write_all(&body).is_ok(), "armoring into memory failed");
    let Ok(again) = w.finalize() else {
        panic!("armoring into memory failed");
    };
    let mut back = Vec::new();
    let mut r = armor::Reader::from_bytes(&again, armor::ReaderMode::Tolerant(None));
    assert!(
        r.read_to_end(&mut back).is_ok(),
        "our own armor is unreadable"
    );
    assert_eq!(back, body, "armor round trip changed the data");
}

#[cfg(test)]
mod tests {
    #[test]
    fn fuzz_bodies_take_garbage_and_real_input() {
        super::fuzz_decrypt(b"");
        super::fuzz_decrypt(b"-----BEGIN PGP MESSAGE-----\n\nxx\n");
        super::fuzz_cert(super::FUZZ_KEY);
        super::fuzz_cert(b"\x99\x00\x01");
        super::fuzz_armor(super::FUZZ_KEY);
        // Found by the pgp_armor target: a block with no data (also in its seeds).
        super::fuzz_armor(b"-----BEGIN PGP SIGNATURE-----\n--END PGP SIGNATURE4----\n");
        super::fuzz_armor(b"-----BEGIN PGP MESSAGE-----\n\nxx\n");
        super::fuzz_mime(b"Content-Type: multipart/encrypted; boundary=b\r\n\r\n--b--\r\n");
        let k = super::key().expect("the fuzz key parses");
        let ct = crate::encrypt(b"x", &crate::EncryptOptions::new().recipient(k)).expect("encrypt");
        super::fuzz_decrypt(&ct);
    }
}
