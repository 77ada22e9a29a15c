//! The passphrase container through its public API: the vectors in testdata/passphrase/
//! (one-shot and streaming), round trips of every size, and every kind of damage.

// Helpers outside #[test] fns unwrap too: a panic here is a failed test (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Read, Write};
use std::path::PathBuf;

use proptest::prelude::*;
use secmail_core::passphrase::{
    self, Argon2Params, Cipher, Decryptor, EncryptOptions, Encryptor, Passphrase, PassphraseKey,
    from_io,
};
use secmail_core::{Error, LimitKind, Limits};
use sha2::{Digest, Sha256};

const HEADER_LEN: usize = 88;
const TAG_LEN: usize = 16;

fn pass() -> Passphrase {
    Passphrase::from("correct horse battery staple")
}

fn fast() -> EncryptOptions {
    EncryptOptions::new().kdf(Argon2Params::minimum())
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// Reads a decryptor to its end in `piece`-byte reads. Returns what was released and how it
/// ended.
fn stream_out<R: Read>(mut dec: Decryptor<R>, piece: usize) -> (Vec<u8>, Result<(), Error>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; piece];
    loop {
        match dec.read(&mut buf) {
            Ok(0) => return (out, Ok(())),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Err(from_io(e))),
        }
    }
}

fn stream_decrypt(c: &[u8], p: &Passphrase, piece: usize) -> (Vec<u8>, Result<(), Error>) {
    match Decryptor::new(c, p) {
        Ok(d) => stream_out(d, piece),
        Err(e) => (Vec::new(), Err(e)),
    }
}

fn stream_encrypt(pt: &[u8], p: &Passphrase, o: &EncryptOptions, piece: usize) -> Vec<u8> {
    let mut enc = Encryptor::new(Vec::new(), p, o).unwrap();
    for part in pt.chunks(piece.max(1)) {
        enc.write_all(part).unwrap();
    }
    enc.finish().unwrap()
}

// --- the vectors ---------------------------------------------------------------------------

struct Vector {
    name: String,
    expect: String,
    passphrase: String,
    payload: Option<String>,
    body: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/passphrase");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "README.md" {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        let split = raw.windows(2).position(|w| w == b"\n\n").unwrap();
        let head = std::str::from_utf8(&raw[..split]).unwrap();
        let field = |k: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")).map(str::to_owned))
        };
        out.push(Vector {
            name,
            expect: field("expect").unwrap(),
            passphrase: field("passphrase").unwrap(),
            payload: field("payload"),
            body: raw[split + 2..].to_vec(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn class(r: &Result<(), Error>) -> &'static str {
    match r {
        Ok(()) => "success",
        Err(Error::InvalidContainer(m)) if m.starts_with("armor") => "armor failure",
        Err(Error::InvalidContainer(_) | Error::LimitExceeded { .. }) => "header failure",
        Err(Error::WrongPassphrase) => "wrong passphrase",
        Err(Error::DecryptionFailed) => "payload failure",
        Err(_) => "other error",
    }
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn every_vector_has_its_stated_outcome_through_both_apis() {
    let vs = vectors();
    assert!(vs.len() >= 60, "only {} vectors found", vs.len());
    let mut seen = std::collections::BTreeSet::new();
    for v in &vs {
        let p = Passphrase::from(v.passphrase.as_str());
        seen.insert(v.expect.clone());

        // One-shot: all of the plaintext, or nothing.
        let one = passphrase::decrypt(&v.body, &p);
        let one_class = class(&one.as_ref().map(|_| ()).map_err(clone_err));
        assert_eq!(
            one_class,
            v.expect,
            "{} (one-shot): {:?}",
            v.name,
            one.err()
        );
        if let Ok(pt) = &one {
            assert_eq!(Some(sha256_hex(pt)), v.payload, "{}", v.name);
        }

        // Streaming, in odd-sized reads.
        for piece in [1000, 65536] {
            let (released, end) = stream_decrypt(&v.body, &p, piece);
            assert_eq!(
                class(&end),
                v.expect,
                "{} (streaming {piece}): {end:?}",
                v.name
            );
            if end.is_ok() {
                assert_eq!(Some(sha256_hex(&released)), v.payload, "{}", v.name);
            } else if v.expect == "header failure" || v.expect == "wrong passphrase" {
                // Decided before any chunk. (Payload and armor damage may come after some
                // whole chunks that authenticated, which a stream may release.)
                assert!(released.is_empty(), "{}: released plaintext", v.name);
            }
        }
    }
    for class in [
        "success",
        "header failure",
        "armor failure",
        "wrong passphrase",
        "payload failure",
    ] {
        assert!(seen.contains(class), "no vector expects {class}");
    }
}

fn clone_err(e: &Error) -> Error {
    match e {
        Error::InvalidContainer(m) => Error::InvalidContainer(m.clone()),
        Error::WrongPassphrase => Error::WrongPassphrase,
        Error::DecryptionFailed => Error::DecryptionFailed,
        Error::LimitExceeded {
            kind,
            limit,
            actual,
        } => Error::LimitExceeded {
            kind: *kind,
            limit: *limit,
            actual: *actual,
        },
        other => Error::Misuse(other.to_string()),
    }
}

// --- round trips ---------------------------------------------------------------------------

#[test]
fn every_size_round_trips_in_both_apis_ciphers_and_forms() {
    let c = 1 << 16;
    let p = pass();
    for len in [0, 1, c - 1, c, c + 1, 3 * c + 7] {
        let pt = data(len);
        for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
            for armor in [false, true] {
                let o = fast().cipher(cipher).armor(armor);
                let one = passphrase::encrypt(&pt, &p, &o).unwrap();
                let streamed = stream_encrypt(&pt, &p, &o, 4099);
                let chunks = len.div_ceil(c).max(1);
                if !armor {
                    assert_eq!(one.len(), HEADER_LEN + len + chunks * TAG_LEN, "len {len}");
                    assert_eq!(streamed.len(), one.len());
                } else {
                    assert!(
                        one.starts_with(b"-----BEGIN SECMAIL PASSPHRASE ENCRYPTED FILE-----\n")
                    );
                    assert!(one.ends_with(b"-----END SECMAIL PASSPHRASE ENCRYPTED FILE-----\n"));
                }
                // Fresh salts: two encryptions of the same input differ.
                assert_ne!(one, streamed);
                for sealed in [&one, &streamed] {
                    assert_eq!(passphrase::decrypt(sealed, &p).unwrap(), pt, "len {len}");
                    let dec = Decryptor::new(&sealed[..], &p).unwrap();
                    assert_eq!(dec.cipher(), cipher);
                    assert_eq!(dec.is_armored(), armor);
                    assert_eq!(dec.kdf_params(), Argon2Params::minimum());
                    let (out, end) = stream_out(dec, 777);
                    end.unwrap();
                    assert_eq!(out, pt);
                }
            }
        }
    }
}

#[test]
fn a_derived_key_seals_many_containers_with_distinct_payload_keys() {
    let key = PassphraseKey::derive(&pass(), Argon2Params::minimum()).unwrap();
    let o = fast().chunk_size_log2(10);
    let seal = |pt: &[u8]| {
        let mut e = Encryptor::with_key(Vec::new(), &key, &o).unwrap();
        e.write_all(pt).unwrap();
        e.finish().unwrap()
    };
    let a = seal(b"same plaintext");
    let b = seal(b"same plaintext");
    // Same KDF salt and costs, different payload salt and so different ciphertext.
    assert_eq!(a[..40], b[..40]);
    assert_ne!(a[40..56], b[40..56]);
    assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
    // The key opens both; so does the passphrase.
    for c in [&a, &b] {
        let (out, end) = stream_out(Decryptor::with_key(&c[..], &key).unwrap(), 5);
        end.unwrap();
        assert_eq!(out, b"same plaintext");
        assert_eq!(passphrase::decrypt(c, &pass()).unwrap(), b"same plaintext");
    }
    // Another key (another salt) is refused.
    let other = PassphraseKey::derive(&pass(), Argon2Params::minimum()).unwrap();
    assert!(matches!(
        Decryptor::with_key(&a[..], &other),
        Err(Error::WrongPassphrase)
    ));
    assert!(format!("{key:?}").starts_with("PassphraseKey"));
}

// --- damage --------------------------------------------------------------------------------

/// A container of three 1 KiB chunks (the last short), made under `key`.
fn three_chunks(key: &PassphraseKey, cipher: Cipher) -> (Vec<u8>, Vec<u8>) {
    let pt = data(2500);
    let mut e =
        Encryptor::with_key(Vec::new(), key, &fast().cipher(cipher).chunk_size_log2(10)).unwrap();
    e.write_all(&pt).unwrap();
    (pt, e.finish().unwrap())
}

/// What a streaming reader may have released before failing: whole chunks that precede the
/// damaged byte, never any byte of the chunk that holds it.
fn assert_released_only_authenticated(released: &[u8], pt: &[u8], damaged_at: usize) {
    assert_eq!(
        released,
        &pt[..released.len()],
        "released bytes differ from the plaintext"
    );
    assert_eq!(released.len() % 1024, 0, "released a partial chunk");
    if damaged_at >= HEADER_LEN {
        let chunk = (damaged_at - HEADER_LEN) / (1024 + TAG_LEN);
        assert!(released.len() <= chunk * 1024, "released the damaged chunk");
    } else {
        assert!(released.is_empty());
    }
}

#[test]
fn a_flipped_bit_anywhere_is_rejected_and_releases_nothing_unauthenticated() {
    let key = PassphraseKey::derive(&pass(), Argon2Params::minimum()).unwrap();
    for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
        let (pt, good) = three_chunks(&key, cipher);
        for at in 0..good.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = good.clone();
                bad[at] ^= bit;
                let (released, end) = match Decryptor::with_key(&bad[..], &key) {
                    Ok(d) => stream_out(d, 300),
                    Err(e) => (Vec::new(), Err(e)),
                };
                let err = end.expect_err(&format!("byte {at} bit {bit:#x} accepted"));
                let want = match at {
                    0..=39 => ["header failure", "armor failure", "wrong passphrase"].as_slice(),
                    40..=87 => &["wrong passphrase"],
                    _ => &["payload failure"],
                };
                assert!(
                    want.contains(&class(&Err(clone_err(&err)))),
                    "byte {at}: {err:?}"
                );
                assert_released_only_authenticated(&released, &pt, at);
            }
        }
    }
    // Through the passphrase path too, at one byte of each field and each chunk.
    let p = pass();
    let good = passphrase::encrypt(&data(2500), &p, &fast().chunk_size_log2(10)).unwrap();
    for at in [
        4,
        8,
        9,
        12,
        16,
        20,
        30,
        38,
        39,
        45,
        60,
        100,
        1200,
        2200,
        good.len() - 1,
    ] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        assert!(passphrase::decrypt(&bad, &p).is_err(), "byte {at}");
    }
}

#[test]
fn truncation_at_any_point_is_rejected() {
    let key = PassphraseKey::derive(&pass(), Argon2Params::minimum()).unwrap();
    let (pt, good) = three_chunks(&key, Cipher::Aes256Gcm);
    for len in 0..good.len() {
        let cut = &good[..len];
        let (released, end) = match Decryptor::with_key(cut, &key) {
            Ok(d) => stream_out(d, 1 << 12),
            Err(e) => (Vec::new(), Err(e)),
        };
        let err = end.expect_err(&format!("truncated to {len} accepted"));
        let want = if len < HEADER_LEN {
            "header failure"
        } else {
            "payload failure"
        };
        assert_eq!(class(&Err(err)), want, "truncated to {len}");
        assert_released_only_authenticated(&released, &pt, len);
    }
}

#[test]
fn header_alone_concatenation_and_trailing_data_are_rejected() {
    let p = pass();
    let o = fast().chunk_size_log2(10);
    for len in [0usize, 5, 1024, 2048] {
        let a = passphrase::encrypt(&data(len), &p, &o).unwrap();
        let b = passphrase::encrypt(&data(len), &p, &o).unwrap();
        let cases = [
            a[..HEADER_LEN].to_vec(),
            [a.clone(), b].concat(),
            [a.clone(), a.clone()].concat(),
            [a.clone(), vec![0]].concat(),
            [a.clone(), a[HEADER_LEN..].to_vec()].concat(),
        ];
        for (i, c) in cases.iter().enumerate() {
            assert!(
                matches!(passphrase::decrypt(c, &p), Err(Error::DecryptionFailed)),
                "len {len} case {i}"
            );
            let (released, end) = stream_decrypt(c, &p, 100_000);
            assert!(
                matches!(end, Err(Error::DecryptionFailed)),
                "len {len} case {i}"
            );
            // Whole authenticated chunks at most; never the last chunk of `a`.
            assert!(released.len() < len.max(1), "len {len} case {i}");
        }
    }
}

#[test]
fn a_wrong_passphrase_is_told_apart_and_reads_no_payload() {
    let sealed = passphrase::encrypt(b"secret", &pass(), &fast()).unwrap();
    for wrong in [
        "correct horse battery stapl",
        "Correct horse battery staple",
        "",
        " ",
    ] {
        let w = Passphrase::from(wrong);
        assert!(matches!(
            passphrase::decrypt(&sealed, &w),
            Err(Error::WrongPassphrase)
        ));
        assert!(matches!(
            Decryptor::new(&sealed[..], &w),
            Err(Error::WrongPassphrase)
        ));
    }
    // The payload is not even needed to know.
    assert!(matches!(
        Decryptor::new(&sealed[..HEADER_LEN], &Passphrase::from("nope")),
        Err(Error::WrongPassphrase)
    ));
}

#[test]
fn kdf_costs_past_the_limits_are_refused_before_argon2_runs() {
    let mut sealed = passphrase::encrypt(b"x", &pass(), &fast()).unwrap();
    sealed[10..14].copy_from_slice(&(1024u32 * 1024).to_be_bytes()); // 1 GiB
    let start = std::time::Instant::now();
    match passphrase::decrypt(&sealed, &pass()) {
        Err(Error::LimitExceeded {
            kind: LimitKind::KdfMemory,
            limit,
            actual,
        }) => {
            assert_eq!(limit, 256 * 1024);
            assert_eq!(actual, 1024 * 1024);
        }
        other => panic!("{other:?}"),
    }
    // A 1 GiB Argon2 run takes seconds; refusing it takes nothing.
    assert!(start.elapsed() < std::time::Duration::from_millis(500));
    // Tighter limits refuse the recommended profile's own costs.
    let tight = Limits::default().with_max_kdf_memory_kib(16 * 1024);
    let normal =
        passphrase::encrypt(b"x", &pass(), &fast().kdf(Argon2Params::interactive())).unwrap();
    assert!(matches!(
        passphrase::decrypt_with_limits(&normal, &pass(), &tight),
        Err(Error::LimitExceeded {
            kind: LimitKind::KdfMemory,
            ..
        })
    ));
}

#[test]
fn misuse_is_reported_as_misuse() {
    assert!(matches!(
        passphrase::encrypt(b"x", &Passphrase::from(""), &fast()),
        Err(Error::Misuse(_))
    ));
    for log2 in [9, 21] {
        assert!(matches!(
            passphrase::encrypt(b"x", &pass(), &fast().chunk_size_log2(log2)),
            Err(Error::Misuse(_))
        ));
    }
    assert!(matches!(
        Argon2Params::new(1 << 21, 1, 1),
        Err(Error::Misuse(_))
    ));
    assert!(matches!(
        Argon2Params::new(8192, 0, 1),
        Err(Error::Misuse(_))
    ));
    assert!(matches!(
        Argon2Params::new(8192, 1, 17),
        Err(Error::Misuse(_))
    ));
}

#[test]
fn secrets_do_not_show_in_debug() {
    let p = Passphrase::from("hunter2-very-secret");
    assert!(!format!("{p:?}").contains("hunter2"));
    let sealed = passphrase::encrypt(b"x", &p, &fast()).unwrap();
    let dec = Decryptor::new(&sealed[..], &p).unwrap();
    let shown = format!("{dec:?}");
    assert!(!shown.contains("hunter2"));
    let enc = Encryptor::new(Vec::new(), &p, &fast()).unwrap();
    assert!(!format!("{enc:?}").contains("hunter2"));
}

#[test]
fn a_dropped_encryptor_leaves_an_unreadable_container() {
    let p = pass();
    let mut out = Vec::new();
    {
        let mut enc = Encryptor::new(&mut out, &p, &fast().chunk_size_log2(10)).unwrap();
        enc.write_all(&data(5000)).unwrap();
        // no finish()
    }
    assert!(out.len() > HEADER_LEN);
    assert!(matches!(
        passphrase::decrypt(&out, &p),
        Err(Error::DecryptionFailed)
    ));
}

#[test]
fn io_errors_pass_through_as_io_errors() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    assert!(matches!(Decryptor::new(Broken, &pass()), Err(Error::Io(_))));
}

// --- properties ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trips_any_input_any_chunking(
        pt in proptest::collection::vec(any::<u8>(), 0..6000),
        log2 in 10u8..=12,
        chacha in any::<bool>(),
        armor in any::<bool>(),
        write_piece in 1usize..3000,
        read_piece in 1usize..3000,
    ) {
        let key = PassphraseKey::derive(&pass(), Argon2Params::minimum()).unwrap();
        let cipher = if chacha { Cipher::ChaCha20Poly1305 } else { Cipher::Aes256Gcm };
        let o = fast().cipher(cipher).armor(armor).chunk_size_log2(log2);
        let mut e = Encryptor::with_key(Vec::new(), &key, &o).unwrap();
        for part in pt.chunks(write_piece) {
            e.write_all(part).unwrap();
        }
        let sealed = e.finish().unwrap();
        let (out, end) = stream_out(Decryptor::with_key(&sealed[..], &key).unwrap(), read_piece);
        prop_assert!(end.is_ok());
        prop_assert_eq!(out, pt);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random bytes, random bytes behind a valid magic and version, and random armor-looking
    /// text: the decoder returns an error and never panics.
    #[test]
    fn random_input_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        shape in 0u8..4,
    ) {
        let input = match shape {
            0 => body,
            1 => [b"\x89SMPC\r\n\x1a\x01".as_slice(), &body].concat(),
            2 => {
                // A valid header for the minimum costs, then random payload.
                let mut h = b"\x89SMPC\r\n\x1a\x01\x01\x00\x00\x20\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
                h.extend_from_slice(&body);
                if h.len() > 38 { h[38] = 1 + (h[38] & 1); }
                if h.len() > 39 { h[39] = 10 + h[39] % 11; }
                h
            }
            _ => {
                let b64: String = body.iter().map(|b| {
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n\r "[*b as usize % 67] as char
                }).collect();
                format!("-----BEGIN SECMAIL PASSPHRASE ENCRYPTED FILE-----\n{b64}\n-----END SECMAIL PASSPHRASE ENCRYPTED FILE-----\n").into_bytes()
            }
        };
        let r = passphrase::decrypt(&input, &pass());
        prop_assert!(r.is_err());
        let (_, end) = stream_decrypt(&input, &pass(), 512);
        prop_assert!(end.is_err());
    }
}
