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

/// Autocrypt as received mail meets it: the `Autocrypt:` header value parser, a delivered
/// message through the peer state (§2.3), gossip from a "decrypted" message, and the
/// recommendation for its sender; then the peer state file format: what `decode` accepts,
/// `encode` writes back and `decode` reads to the same state. Never a panic.
#[doc(hidden)]
pub fn fuzz_autocrypt(data: &[u8]) {
    use std::time::{Duration, UNIX_EPOCH};

    // A fixed "now" keeps runs reproducible: 2026-01-01.
    let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::parse_autocrypt(text);
        if let Ok((addr, state)) = crate::peers::decode(text) {
            // Whatever was accepted is written back readable, naming the same peer, times,
            // preference and keys (by fingerprint: sequoia may re-serialise a certificate with
            // damaged components differently, even twice in a row; found by this target).
            let once = crate::peers::encode(&addr, &state)
                .unwrap_or_else(|e| panic!("a decoded peer state does not encode: {e}"));
            let (addr2, state2) = crate::peers::decode(&once)
                .unwrap_or_else(|e| panic!("our own peer file does not decode: {e}"));
            let fpr = |c: &Option<crate::Cert>| c.as_ref().map(|c| c.fingerprint());
            assert_eq!(addr2, addr, "peer state round trip changed the address");
            assert_eq!(
                (
                    state2.last_seen,
                    state2.autocrypt_timestamp,
                    state2.gossip_timestamp,
                    state2.prefer_encrypt,
                    fpr(&state2.public_key),
                    fpr(&state2.gossip_key),
                ),
                (
                    state.last_seen,
                    state.autocrypt_timestamp,
                    state.gossip_timestamp,
                    state.prefer_encrypt,
                    fpr(&state.public_key),
                    fpr(&state.gossip_key),
                ),
                "peer state round trip changed it"
            );
        }
    }
    let _ = crate::read_autocrypt(data);
    let _ = crate::read_gossip(data);
    let mut peers = crate::AutocryptPeers::new();
    let _ = peers.process_message(data, now);
    let _ = peers.process_gossip(data, now);
    let addrs: Vec<String> = peers.iter().map(|(a, _)| a.to_owned()).collect();
    let compose = crate::Compose::default();
    for a in &addrs {
        let _ = peers.recommend(a, now, &compose);
        let _ = peers.target_key(a);
    }
    let _ = peers.recommend_all(&addrs, now, &compose);
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
        super::fuzz_autocrypt(b"addr=a@example.org; keydata=AAAA");
        let mail = crate::add_autocrypt_header(
            b"From: fuzz@example.org\r\nTo: b@example.org\r\nSubject: s\r\n\r\nhi\r\n",
            k,
            crate::PreferEncrypt::Mutual,
        )
        .expect("header");
        super::fuzz_autocrypt(&mail);
        let mut peers = crate::AutocryptPeers::new();
        peers
            .process_message(&mail, std::time::SystemTime::now())
            .expect("processed");
        let (a, st) = peers.iter().next().expect("one peer");
        let file = crate::peers::encode(a, st).expect("encoded");
        super::fuzz_autocrypt(file.as_bytes());
    }
}
