//! Makes the test vectors in `testdata/passphrase/` (docs/passphrase-format.md §8).
//!
//! `cargo test -p secmail-core --lib -- --ignored generate_vectors` rewrites them. Salts are
//! derived from each vector's name, so running it again gives the same files. The must-fail
//! vectors are built here, below the public API, because most of them cannot be made through
//! it (a chunk sealed with the wrong flag, chunks in the wrong order...).

use std::fmt::Write as _;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::armor::ArmorWriter;
use super::format::{HEADER_LEN, Header};
use super::stream::Stream;
use super::*;

const PASS: &str = "secmail test vector";

fn salt(name: &str, which: &str) -> [u8; 16] {
    let d = Sha256::digest(format!("{which}:{name}").as_bytes());
    let mut s = [0u8; 16];
    s.copy_from_slice(&d[..16]);
    s
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// A deterministic plaintext of `len` bytes.
fn plaintext(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = Sha256::digest(b"secmail vector plaintext");
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    out.truncate(len);
    out
}

/// One container being made: a header and the keyed stream, so that chunks can be sealed
/// in any order with any flag.
struct Maker {
    header: Header,
    stream_key: Key32Copy,
    cipher: Cipher,
}

type Key32Copy = [u8; 32];

impl Maker {
    fn new(name: &str, pass: &str, cipher: Cipher, chunk_log2: u8, kdf: Argon2Params) -> Maker {
        let key = PassphraseKey::derive_with_salt(pass.as_bytes(), kdf, salt(name, "kdf")).unwrap();
        let mut header = Header {
            kdf,
            kdf_salt: salt(name, "kdf"),
            cipher,
            chunk_log2,
            payload_salt: salt(name, "payload"),
            tag: [0; 32],
        };
        let auth = header.auth_bytes();
        header.tag = key.header_tag(&auth).unwrap();
        let stream_key = *key.payload_key(&header.payload_salt, &auth).unwrap();
        Maker {
            header,
            stream_key,
            cipher,
        }
    }

    fn simple(name: &str, cipher: Cipher, chunk_log2: u8) -> Maker {
        Maker::new(name, PASS, cipher, chunk_log2, Argon2Params::minimum())
    }

    /// Seals `chunks` as (plaintext, index, last), in the order given.
    fn seal(&self, chunks: &[(&[u8], u32, bool)]) -> Vec<u8> {
        let mut out = self.header.to_bytes().to_vec();
        for (pt, index, last) in chunks {
            // A fresh stream per chunk, advanced to the wanted index.
            let mut s = Stream::new(self.cipher, &self.stream_key).unwrap();
            for _ in 0..*index {
                s.seal_next(&mut [], false).unwrap();
            }
            let mut buf = pt.to_vec();
            let tag = s.seal_next(&mut buf, *last).unwrap();
            out.extend_from_slice(&buf);
            out.extend_from_slice(&tag);
        }
        out
    }

    /// The canonical container for `pt`.
    fn container(&self, pt: &[u8]) -> Vec<u8> {
        let c = self.header.chunk_size();
        let pieces: Vec<&[u8]> = if pt.is_empty() {
            vec![&[]]
        } else {
            pt.chunks(c).collect()
        };
        let n = pieces.len();
        let chunks: Vec<(&[u8], u32, bool)> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, i as u32, i + 1 == n))
            .collect();
        self.seal(&chunks)
    }
}

fn armor_bytes(bin: &[u8]) -> Vec<u8> {
    let mut w = ArmorWriter::new(Vec::new()).unwrap();
    w.write_all(bin).unwrap();
    w.finish().unwrap()
}

struct Vector {
    name: &'static str,
    expect: &'static str,
    passphrase: &'static str,
    payload: Option<Vec<u8>>,
    comment: String,
    body: Vec<u8>,
}

fn good(name: &'static str, pt: Vec<u8>, comment: &str, body: Vec<u8>) -> Vector {
    Vector {
        name,
        expect: "success",
        passphrase: PASS,
        payload: Some(pt),
        comment: comment.into(),
        body,
    }
}

fn bad(name: &'static str, expect: &'static str, comment: &str, body: Vec<u8>) -> Vector {
    Vector {
        name,
        expect,
        passphrase: PASS,
        payload: None,
        comment: comment.into(),
        body,
    }
}

fn all_vectors() -> Vec<Vector> {
    use Cipher::{Aes256Gcm as Aes, ChaCha20Poly1305 as ChaCha};
    let mut v = Vec::new();

    // --- success
    for (name, cipher) in [("empty_aes", Aes), ("empty_chacha", ChaCha)] {
        let m = Maker::simple(name, cipher, 16);
        v.push(good(
            name,
            vec![],
            "empty plaintext: one empty last chunk",
            m.container(&[]),
        ));
    }
    let m = Maker::simple("one_byte_aes", Aes, 16);
    v.push(good(
        "one_byte_aes",
        plaintext(1),
        "one byte",
        m.container(&plaintext(1)),
    ));
    let m = Maker::simple("one_full_chunk_chacha", ChaCha, 10);
    v.push(good(
        "one_full_chunk_chacha",
        plaintext(1024),
        "exactly one 1 KiB chunk: a full last chunk, no empty chunk after it",
        m.container(&plaintext(1024)),
    ));
    let m = Maker::simple("chunk_plus_one_aes", Aes, 10);
    v.push(good(
        "chunk_plus_one_aes",
        plaintext(1025),
        "1 KiB chunks, 1025 bytes: a full chunk and a 1-byte last chunk",
        m.container(&plaintext(1025)),
    ));
    let m = Maker::simple("many_chunks_chacha", ChaCha, 10);
    v.push(good(
        "many_chunks_chacha",
        plaintext(5000),
        "1 KiB chunks, 5000 bytes: five chunks",
        m.container(&plaintext(5000)),
    ));
    let m = Maker::simple("default_chunk_two_aes", Aes, 16);
    v.push(good(
        "default_chunk_two_aes",
        plaintext(65537),
        "64 KiB chunks (the default), 65537 bytes: two chunks",
        m.container(&plaintext(65537)),
    ));
    let m = Maker::simple("armored_aes", Aes, 10);
    let text = b"Meet me at the usual place at noon.\n".repeat(40);
    v.push(good(
        "armored_aes",
        text.clone(),
        "armored, 1 KiB chunks, two chunks",
        armor_bytes(&m.container(&text)),
    ));
    let m = Maker::simple("armored_crlf_chacha", ChaCha, 16);
    let arm = String::from_utf8(armor_bytes(&m.container(b"hello"))).unwrap();
    let body = format!(
        "\r\n  \r\n{}\r\n\t\r\n",
        arm.replace('\n', "\r\n").trim_end()
    );
    v.push(good(
        "armored_crlf_chacha",
        b"hello".to_vec(),
        "armored with CR LF line ends and whitespace before BEGIN and after END, as a mail body",
        body.into_bytes(),
    ));
    let m = Maker::new(
        "unicode_passphrase",
        "pässwörd 🔑 ünïcödé",
        Aes,
        16,
        Argon2Params::minimum(),
    );
    let mut u = good(
        "unicode_passphrase",
        b"x".to_vec(),
        "a non-ASCII passphrase, as UTF-8 bytes",
        m.container(b"x"),
    );
    u.passphrase = "pässwörd 🔑 ünïcödé";
    v.push(u);
    let kdf = Argon2Params::new(8192, 2, 4).unwrap();
    let m = Maker::new("four_lanes_two_passes", PASS, ChaCha, 16, kdf);
    v.push(good(
        "four_lanes_two_passes",
        plaintext(100),
        "Argon2id with m = 8 MiB, t = 2, p = 4",
        m.container(&plaintext(100)),
    ));

    // --- header failure (nothing secret involved; decided before Argon2 runs)
    let m = Maker::simple("header_base", Aes, 16);
    let base = m.container(b"payload");
    let patch = |at: usize, bytes: &[u8]| {
        let mut b = base.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        b
    };
    v.push(bad(
        "bad_magic",
        "header failure",
        "fifth magic byte changed ('C' to 'D')",
        patch(4, b"D"),
    ));
    v.push(bad(
        "not_a_container",
        "armor failure",
        "first byte changed from 0x89: read as armor (docs §7), which it is not",
        patch(0, &[0x88]),
    ));
    v.push(bad(
        "bad_magic_text_mode",
        "header failure",
        "CR LF in the magic turned into LF by a text-mode copy",
        {
            let mut b = base.clone();
            b.remove(5);
            b
        },
    ));
    v.push(bad(
        "unknown_version",
        "header failure",
        "version 2",
        patch(8, &[2]),
    ));
    v.push(bad(
        "unknown_kdf",
        "header failure",
        "KDF id 2",
        patch(9, &[2]),
    ));
    v.push(bad(
        "unknown_aead",
        "header failure",
        "AEAD id 3",
        patch(38, &[3]),
    ));
    v.push(bad(
        "aead_zero",
        "header failure",
        "AEAD id 0",
        patch(38, &[0]),
    ));
    v.push(bad(
        "chunk_too_small",
        "header failure",
        "chunk_log2 9",
        patch(39, &[9]),
    ));
    v.push(bad(
        "chunk_too_large",
        "header failure",
        "chunk_log2 21",
        patch(39, &[21]),
    ));
    v.push(bad(
        "kdf_memory_over_format_bound",
        "header failure",
        "m = 2 GiB, over the format's bound of 1 GiB",
        patch(10, &(2u32 << 20).to_be_bytes()),
    ));
    v.push(bad(
        "kdf_memory_over_reader_limit",
        "header failure",
        "m = 512 MiB: inside the format, over the default reader limit of 256 MiB",
        patch(10, &(512u32 << 10).to_be_bytes()),
    ));
    v.push(bad(
        "kdf_memory_huge",
        "header failure",
        "m = 2^32 - 1 KiB",
        patch(10, &u32::MAX.to_be_bytes()),
    ));
    v.push(bad(
        "kdf_memory_under_minimum",
        "header failure",
        "m = 4 MiB, under the format's minimum of 8 MiB",
        patch(10, &(4u32 << 10).to_be_bytes()),
    ));
    v.push(bad(
        "kdf_passes_zero",
        "header failure",
        "t = 0",
        patch(14, &0u32.to_be_bytes()),
    ));
    v.push(bad(
        "kdf_passes_over_format_bound",
        "header failure",
        "t = 17",
        patch(14, &17u32.to_be_bytes()),
    ));
    v.push(bad(
        "kdf_passes_over_reader_limit",
        "header failure",
        "t = 9: inside the format, over the default reader limit of 8",
        patch(14, &9u32.to_be_bytes()),
    ));
    v.push(bad(
        "kdf_lanes_zero",
        "header failure",
        "p = 0",
        patch(18, &0u32.to_be_bytes()),
    ));
    v.push(bad(
        "kdf_lanes_over_format_bound",
        "header failure",
        "p = 17",
        patch(18, &17u32.to_be_bytes()),
    ));
    v.push(bad(
        "truncated_header",
        "header failure",
        "the first 50 bytes",
        base[..50].to_vec(),
    ));
    v.push(bad(
        "header_minus_one",
        "header failure",
        "87 header bytes",
        base[..HEADER_LEN - 1].to_vec(),
    ));
    v.push(bad(
        "empty_file",
        "header failure",
        "no bytes at all",
        vec![],
    ));

    // --- wrong passphrase (the header tag)
    let mut w = good("wrong_passphrase", vec![], "", base.clone());
    w.name = "wrong_passphrase";
    w.expect = "wrong passphrase";
    w.payload = None;
    w.passphrase = "secmail test vectoR";
    w.comment = "a good container, tried with a passphrase that differs in one letter".into();
    v.push(w);
    v.push(bad(
        "header_payload_salt_altered",
        "wrong passphrase",
        "one bit of payload_salt flipped: the header tag no longer matches",
        patch(40, &[base[40] ^ 1]),
    ));
    v.push(bad(
        "header_cipher_swapped",
        "wrong passphrase",
        "aead_id changed to the other valid id",
        patch(38, &[2]),
    ));
    v.push(bad(
        "header_chunk_size_altered",
        "wrong passphrase",
        "chunk_log2 changed to another valid value",
        patch(39, &[12]),
    ));
    v.push(bad(
        "header_kdf_salt_altered",
        "wrong passphrase",
        "one bit of kdf_salt flipped",
        patch(22, &[base[22] ^ 0x80]),
    ));
    v.push(bad(
        "header_tag_altered",
        "wrong passphrase",
        "last byte of header_tag flipped",
        patch(87, &[base[87] ^ 1]),
    ));

    // --- payload failure (one undifferentiated error)
    let m = Maker::simple("payload_base", Aes, 10);
    let pt = plaintext(3000); // chunks of 1024, 1024, 952
    let (c0, c1, c2) = (&pt[..1024], &pt[1024..2048], &pt[2048..]);
    let good3 = m.seal(&[(c0, 0, false), (c1, 1, false), (c2, 2, true)]);
    let chunk_len = 1024 + 16;
    v.push(good(
        "payload_base",
        pt.clone(),
        "the container the payload-failure vectors below alter: 3000 bytes in 1 KiB chunks",
        good3.clone(),
    ));
    v.push(bad(
        "header_only",
        "payload failure",
        "the 88-byte header and no chunk",
        good3[..HEADER_LEN].to_vec(),
    ));
    let mut b = good3.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    v.push(bad(
        "last_tag_flipped",
        "payload failure",
        "last byte of the last chunk's tag flipped",
        b,
    ));
    let mut b = good3.clone();
    b[HEADER_LEN + chunk_len + 100] ^= 0x40;
    v.push(bad(
        "middle_ciphertext_flipped",
        "payload failure",
        "one ciphertext bit of chunk 1 flipped",
        b,
    ));
    let mut b = good3.clone();
    b[HEADER_LEN] ^= 1;
    v.push(bad(
        "first_ciphertext_flipped",
        "payload failure",
        "first ciphertext byte of chunk 0 flipped",
        b,
    ));
    v.push(bad(
        "truncated_at_chunk_boundary",
        "payload failure",
        "the last chunk dropped: chunk 1 was sealed as not-last",
        good3[..HEADER_LEN + 2 * chunk_len].to_vec(),
    ));
    v.push(bad(
        "truncated_mid_chunk",
        "payload failure",
        "cut 100 bytes into the last chunk",
        good3[..HEADER_LEN + 2 * chunk_len + 100].to_vec(),
    ));
    v.push(bad(
        "truncated_one_byte",
        "payload failure",
        "the last byte removed",
        good3[..good3.len() - 1].to_vec(),
    ));
    v.push(bad(
        "final_piece_shorter_than_tag",
        "payload failure",
        "header and 10 bytes",
        good3[..HEADER_LEN + 10].to_vec(),
    ));
    v.push(bad(
        "two_containers_concatenated",
        "payload failure",
        "this container followed by a second good one under the same passphrase",
        [
            good3.clone(),
            Maker::simple("second", Aes, 10).container(b"second"),
        ]
        .concat(),
    ));
    v.push(bad(
        "itself_concatenated",
        "payload failure",
        "the container twice",
        [good3.clone(), good3.clone()].concat(),
    ));
    v.push(bad(
        "trailing_byte",
        "payload failure",
        "one zero byte after the last chunk",
        [good3.clone(), vec![0]].concat(),
    ));
    v.push(bad(
        "reordered_chunks",
        "payload failure",
        "chunks 0 and 1 swapped",
        [
            good3[..HEADER_LEN].to_vec(),
            good3[HEADER_LEN + chunk_len..HEADER_LEN + 2 * chunk_len].to_vec(),
            good3[HEADER_LEN..HEADER_LEN + chunk_len].to_vec(),
            good3[HEADER_LEN + 2 * chunk_len..].to_vec(),
        ]
        .concat(),
    ));
    v.push(bad(
        "duplicated_chunk",
        "payload failure",
        "chunk 0 twice",
        [
            good3[..HEADER_LEN + chunk_len].to_vec(),
            good3[HEADER_LEN..].to_vec(),
        ]
        .concat(),
    ));
    v.push(bad(
        "last_flag_missing",
        "payload failure",
        "every chunk sealed as not-last",
        m.seal(&[(c0, 0, false), (c1, 1, false), (c2, 2, false)]),
    ));
    v.push(bad(
        "early_last_flag",
        "payload failure",
        "chunk 0 sealed as last, then chunks 1 and 2",
        m.seal(&[(c0, 0, true), (c1, 1, false), (c2, 2, true)]),
    ));
    v.push(bad(
        "index_skipped",
        "payload failure",
        "chunks sealed with indexes 0, 2, 3",
        m.seal(&[(c0, 0, false), (c1, 2, false), (c2, 3, true)]),
    ));
    v.push(bad(
        "empty_last_chunk_after_full",
        "payload failure",
        "1024 bytes sealed as a full not-last chunk and an empty last chunk (non-canonical)",
        m.seal(&[(c0, 0, false), (&[], 1, true)]),
    ));
    v.push(bad(
        "empty_chunk_not_last",
        "payload failure",
        "one empty chunk sealed as not-last",
        m.seal(&[(&[], 0, false)]),
    ));
    let other = Maker::simple("splice_source", Aes, 10);
    let other3 = other.seal(&[(c0, 0, false), (c1, 1, false), (c2, 2, true)]);
    v.push(bad(
        "chunk_spliced_from_other_container",
        "payload failure",
        "chunk 1 taken from a container with the same passphrase and plaintext but another payload salt",
        [
            good3[..HEADER_LEN + chunk_len].to_vec(),
            other3[HEADER_LEN + chunk_len..HEADER_LEN + 2 * chunk_len].to_vec(),
            good3[HEADER_LEN + 2 * chunk_len..].to_vec(),
        ]
        .concat(),
    ));

    // --- armor failure
    let arm = String::from_utf8(armor_bytes(&good3)).unwrap();
    v.push(bad(
        "armor_text_before_begin",
        "armor failure",
        "a line of text before BEGIN",
        format!("Hi Bob,\n{arm}").into_bytes(),
    ));
    v.push(bad(
        "armor_text_after_end",
        "armor failure",
        "a signature after END",
        format!("{arm}-- \nAlice\n").into_bytes(),
    ));
    v.push(bad(
        "armor_missing_end",
        "armor failure",
        "the END line removed",
        arm.replace("-----END SECMAIL PASSPHRASE ENCRYPTED FILE-----\n", "")
            .into_bytes(),
    ));
    v.push(bad(
        "armor_bad_character",
        "armor failure",
        "a '*' in the first data line",
        {
            let mut b = arm.clone().into_bytes();
            b[BEGIN_LEN + 1] = b'*';
            b
        },
    ));
    v.push(bad(
        "armor_short_line_inside",
        "armor failure",
        "the first data line split in two",
        {
            let mut s = arm.clone();
            s.insert(BEGIN_LEN + 1 + 32, '\n');
            s.into_bytes()
        },
    ));
    v.push(bad(
        "armor_trailing_space",
        "armor failure",
        "a space at the end of the first data line",
        {
            let mut s = arm.clone();
            s.insert(BEGIN_LEN + 1 + 64, ' ');
            s.into_bytes()
        },
    ));
    v.push(bad(
        "armor_non_canonical",
        "armor failure",
        "the last base64 group of the final line has non-zero unused bits",
        non_canonical(&arm).into_bytes(),
    ));
    v.push(bad(
        "armor_wrong_label",
        "armor failure",
        "BEGIN AGE ENCRYPTED FILE",
        arm.replace("SECMAIL PASSPHRASE", "AGE").into_bytes(),
    ));
    v
}

const BEGIN_LEN: usize = super::armor::BEGIN.len();

/// Changes the final data line so its base64 has non-zero unused bits (3000 + 88 + 48 bytes
/// make the last line end in "=" or "==").
fn non_canonical(arm: &str) -> String {
    let lines: Vec<&str> = arm.lines().collect();
    let final_idx = lines.len() - 2;
    let last = lines[final_idx];
    let pad = last.bytes().rev().take_while(|&b| b == b'=').count();
    assert!(pad > 0, "the vector needs a padded final line");
    let pos = last.len() - pad - 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let idx = alphabet
        .iter()
        .position(|&c| c == last.as_bytes()[pos])
        .unwrap();
    let new = alphabet[idx | 1] as char; // set the lowest (unused) bit
    let mut l = last.to_string();
    l.replace_range(pos..pos + 1, &new.to_string());
    let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    out[final_idx] = l;
    out.join("\n") + "\n"
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/passphrase")
}

#[test]
#[ignore = "rewrites testdata/passphrase/; run by hand"]
fn generate_vectors() {
    let dir = vectors_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for old in std::fs::read_dir(&dir).unwrap() {
        let p = old.unwrap().path();
        if p.file_name().is_some_and(|n| n != "README.md") {
            std::fs::remove_file(p).unwrap();
        }
    }
    for v in all_vectors() {
        let mut file = format!("expect: {}\npassphrase: {}\n", v.expect, v.passphrase);
        if let Some(p) = &v.payload {
            file.push_str(&format!("payload: {}\n", hex(&Sha256::digest(p))));
        }
        file.push_str(&format!("comment: {}\n\n", v.comment));
        let mut bytes = file.into_bytes();
        bytes.extend_from_slice(&v.body);
        std::fs::write(dir.join(v.name), bytes).unwrap();
    }
}

/// The generator's own vectors must come out as they say, through the public API (the
/// integration test checks the files on disk the same way).
#[test]
fn every_generated_vector_has_its_stated_outcome() {
    for v in all_vectors() {
        let got = decrypt(&v.body, &Passphrase::from(v.passphrase));
        let ok = match (v.expect, &got) {
            ("success", Ok(p)) => Some(p) == v.payload.as_ref(),
            ("header failure", Err(Error::InvalidContainer(_) | Error::LimitExceeded { .. })) => {
                true
            }
            ("armor failure", Err(Error::InvalidContainer(m))) => m.starts_with("armor"),
            ("wrong passphrase", Err(Error::WrongPassphrase)) => true,
            ("payload failure", Err(Error::DecryptionFailed)) => true,
            _ => false,
        };
        assert!(
            ok,
            "{}: expected {}, got {:?}",
            v.name,
            v.expect,
            got.map(|p| p.len())
        );
    }
}
