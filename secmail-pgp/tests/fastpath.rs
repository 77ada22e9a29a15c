//! The SEIPDv1 fast path reads the message's packet framing itself (not through sequoia's
//! `PacketParser`): messages re-framed every legal way (old- and new-format headers, partial
//! body lengths of every size, markers) decrypt alike, binary and armored; truncation
//! anywhere, a flipped byte anywhere and data after the encrypted packet are refused with
//! nothing released; the bounds on session-key packets hold; gpg's partial-length and armored
//! output decrypts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Seek, SeekFrom, Write};

use common::{Gpg, ok};
use secmail_pgp::{
    Cert, DecryptOptions, Encoding, EncryptOptions, Error, KeyGenOptions, decrypt_stream,
    decrypt_to_file, encrypt, export_cert, fingerprint_hex, generate,
};

fn key() -> Cert {
    generate(&KeyGenOptions::new("Fast <fast@example.org>"))
        .unwrap()
        .key
}

fn data(n: usize) -> Vec<u8> {
    (0..n as u32).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// A binary message's top-level packets as (tag, body): a parser of the test's own.
fn packets(mut m: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !m.is_empty() {
        let ctb = m[0];
        assert!(ctb & 0x80 != 0);
        let mut body = Vec::new();
        let tag;
        if ctb & 0x40 != 0 {
            tag = ctb & 0x3F;
            m = &m[1..];
            loop {
                let (len, n, last) = match m[0] {
                    0..=191 => (m[0] as usize, 1, true),
                    192..=223 => (
                        (((m[0] as usize) - 192) << 8) + m[1] as usize + 192,
                        2,
                        true,
                    ),
                    255 => (
                        u32::from_be_bytes([m[1], m[2], m[3], m[4]]) as usize,
                        5,
                        true,
                    ),
                    x => (1usize << (x & 0x1F), 1, false),
                };
                body.extend_from_slice(&m[n..n + len]);
                m = &m[n + len..];
                if last {
                    break;
                }
            }
        } else {
            tag = (ctb >> 2) & 0x0F;
            let (len, n) = match ctb & 3 {
                0 => (m[1] as usize, 2),
                1 => (u16::from_be_bytes([m[1], m[2]]) as usize, 3),
                2 => (u32::from_be_bytes([m[1], m[2], m[3], m[4]]) as usize, 5),
                _ => (m.len() - 1, 1),
            };
            body.extend_from_slice(&m[n..n + len]);
            m = &m[n + len..];
        }
        out.push((tag, body));
    }
    out
}

fn definite(n: usize, five: bool) -> Vec<u8> {
    if five || n >= 8384 {
        let mut h = vec![0xFF];
        h.extend_from_slice(&(n as u32).to_be_bytes());
        h
    } else if n < 192 {
        vec![n as u8]
    } else {
        let v = n - 192;
        vec![((v >> 8) as u8) + 192, v as u8]
    }
}

/// How a packet is framed.
#[derive(Clone, Copy)]
enum Frame<'a> {
    /// New format, definite (five-octet if `true`).
    New(bool),
    /// New format, partial parts of these log2 sizes in turn, the last part definite.
    Partial(&'a [u8]),
    /// Old format with this length type (0, 1, 2).
    Old(u8),
}

fn frame(tag: u8, body: &[u8], f: Frame) -> Vec<u8> {
    match f {
        Frame::New(five) => {
            let mut p = vec![0xC0 | tag];
            p.extend_from_slice(&definite(body.len(), five));
            p.extend_from_slice(body);
            p
        }
        Frame::Partial(log2) => {
            let mut p = vec![0xC0 | tag];
            let mut rest = body;
            let mut i = 0;
            loop {
                let l = log2[i % log2.len()];
                let n = 1usize << l;
                if rest.len() <= n {
                    p.extend_from_slice(&definite(rest.len(), false));
                    p.extend_from_slice(rest);
                    return p;
                }
                p.push(0xE0 | l);
                p.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                i += 1;
            }
        }
        Frame::Old(lt) => {
            let mut p = vec![0x80 | (tag << 2) | lt];
            match lt {
                0 => p.push(body.len() as u8),
                1 => p.extend_from_slice(&(body.len() as u16).to_be_bytes()),
                _ => p.extend_from_slice(&(body.len() as u32).to_be_bytes()),
            }
            p.extend_from_slice(body);
            p
        }
    }
}

fn armor(m: &[u8]) -> Vec<u8> {
    let mut w = secmail_pgp::openpgp::armor::Writer::new(
        Vec::new(),
        secmail_pgp::openpgp::armor::Kind::Message,
    )
    .unwrap();
    w.write_all(m).unwrap();
    w.finalize().unwrap()
}

/// Decrypts through both entry points; the plaintext, or the error (checking that nothing
/// was released on failure).
fn open(m: &[u8], k: &Cert) -> Result<Vec<u8>, Error> {
    let opts = DecryptOptions::new().key(k.clone());
    let mut out = Vec::new();
    let r = decrypt_stream(m, &mut out, &opts);
    let mut f = tempfile::tempfile().unwrap();
    let r2 = decrypt_to_file(m, &mut f, &opts);
    match r {
        Ok(_) => {
            assert!(r2.is_ok());
            f.seek(SeekFrom::Start(0)).unwrap();
            let mut back = Vec::new();
            f.read_to_end(&mut back).unwrap();
            assert_eq!(back, out, "decrypt_to_file and decrypt_stream differ");
            Ok(out)
        }
        Err(e) => {
            assert!(out.is_empty(), "plaintext released on failure ({e})");
            assert!(
                r2.is_err(),
                "decrypt_to_file accepted what decrypt_stream refused"
            );
            assert_eq!(f.metadata().unwrap().len(), 0, "file not emptied ({e})");
            Err(e)
        }
    }
}

/// Our message for `pt`, binary, as packets.
fn ours(k: &Cert, pt: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let ct = encrypt(
        pt,
        &EncryptOptions::new()
            .recipient(k)
            .encoding(Encoding::Binary),
    )
    .unwrap();
    let p = packets(&ct);
    assert_eq!(p.last().unwrap().0, 18);
    p
}

#[test]
fn reframed_messages_decrypt_alike() {
    let k = key();
    for n in [0usize, 1, 700, 100_000] {
        let pt = data(n);
        let p = ours(&k, &pt);
        let (pkesk, seip) = (&p[0].1, &p[1].1);
        let marker = frame(10, b"PGP", Frame::Old(0));
        let shapes: Vec<(Vec<u8>, &str)> = vec![
            (
                [
                    frame(1, pkesk, Frame::Old(0)),
                    frame(18, seip, Frame::New(false)),
                ]
                .concat(),
                "old one-octet PKESK",
            ),
            (
                [
                    frame(1, pkesk, Frame::Old(1)),
                    frame(18, seip, Frame::New(true)),
                ]
                .concat(),
                "old two-octet PKESK, five-octet SEIP",
            ),
            (
                [
                    marker.clone(),
                    frame(1, pkesk, Frame::Old(2)),
                    frame(10, b"PGP", Frame::New(false)),
                    frame(18, seip, Frame::Partial(&[9, 0, 1, 12, 3, 5])),
                ]
                .concat(),
                "markers, tiny partial parts",
            ),
            (
                [
                    frame(1, pkesk, Frame::New(true)),
                    frame(18, seip, Frame::Partial(&[13])),
                ]
                .concat(),
                "8 KiB parts (gpg's)",
            ),
            (
                [
                    frame(1, pkesk, Frame::New(false)),
                    frame(18, seip, Frame::Partial(&[21])),
                ]
                .concat(),
                "a part larger than the body",
            ),
        ];
        for (m, what) in shapes {
            assert_eq!(open(&m, &k).unwrap(), pt, "{n} bytes, {what}");
            assert_eq!(
                open(&armor(&m), &k).unwrap(),
                pt,
                "{n} bytes, {what}, armored"
            );
        }
        // A SEIP body whose length ends exactly on a part, with a zero-length last part.
        let log2 = seip.len().next_power_of_two().trailing_zeros() as u8;
        if seip.len().is_power_of_two() && seip.len() >= 512 {
            let mut m = frame(1, pkesk, Frame::Old(0));
            m.push(0xC0 | 18);
            m.push(0xE0 | log2);
            m.extend_from_slice(seip);
            m.push(0);
            assert_eq!(open(&m, &k).unwrap(), pt);
        }
    }
}

/// A small message with many framing headers: every truncation and every flipped byte.
#[test]
fn truncation_and_flips_anywhere_are_refused() {
    let k = key();
    let pt = data(1500);
    let p = ours(&k, &pt);
    let head = frame(1, &p[0].1, Frame::Old(0));
    let m = [
        head.clone(),
        frame(18, &p[1].1, Frame::Partial(&[9, 4, 0, 7])),
    ]
    .concat();
    assert_eq!(open(&m, &k).unwrap(), pt);
    for cut in 0..m.len() {
        assert!(open(&m[..cut], &k).is_err(), "cut at {cut}");
    }
    // After the SEIP header and its version byte (m[head.len() + 2]), a flip is an integrity
    // failure (ciphertext, MDC, or a partial length: truncated or trailing data); before it,
    // a different key, packet or version.
    let body = head.len() + 3;
    for i in 0..m.len() {
        for bit in [0x01, 0x40, 0x80] {
            let mut bad = m.clone();
            bad[i] ^= bit;
            match open(&bad, &k) {
                // (The first two ciphertext blocks also carry the quick-check bytes: a flip
                // there may make the key look wrong.)
                Err(e) if i >= body => assert!(
                    matches!(e, Error::Integrity)
                        || (i < body + 32 && matches!(e, Error::CannotDecrypt)),
                    "byte {i}^{bit:#x}: {e}"
                ),
                Err(_) => {}
                Ok(out) => {
                    assert!(i < body, "byte {i}^{bit:#x} accepted");
                    assert_eq!(out, pt, "byte {i}^{bit:#x}: altered plaintext accepted");
                }
            }
        }
    }
    // Armored: truncated inside the base64 (cut in the footer, all the data is there: the
    // tolerant armor reader accepts it, as it did before).
    let a = armor(&m);
    let footer = a.windows(8).position(|w| w == b"-----END").unwrap();
    let data_end = a[..footer - 1].iter().rposition(|&c| c == b'\n').unwrap();
    for cut in 0..a.len() {
        if let Ok(out) = open(&a[..cut], &k) {
            assert!(cut >= data_end, "armored, cut at {cut} accepted");
            assert_eq!(out, pt);
        }
    }
}

#[test]
fn data_after_the_encrypted_packet_is_refused() {
    let k = key();
    let pt = data(300_000);
    let p = ours(&k, &pt);
    let good = [
        frame(1, &p[0].1, Frame::New(false)),
        frame(18, &p[1].1, Frame::Partial(&[16])),
    ]
    .concat();
    assert_eq!(open(&good, &k).unwrap(), pt);
    let seip = frame(18, &p[1].1, Frame::New(true));
    for extra in [
        &b"x"[..],
        &[0u8; 5000][..],
        &frame(10, b"PGP", Frame::New(false))[..],
        &seip[..],
    ] {
        let m = [&good[..], extra].concat();
        assert!(matches!(open(&m, &k), Err(Error::Integrity)));
        assert!(matches!(open(&armor(&m), &k), Err(Error::Integrity)));
    }
}

#[test]
fn session_key_packet_bounds() {
    let k = key();
    let pt = data(100);
    let p = ours(&k, &pt);
    let marker = frame(10, b"PGP", Frame::New(false));
    let tail = [
        frame(1, &p[0].1, Frame::New(false)),
        frame(18, &p[1].1, Frame::New(false)),
    ]
    .concat();
    // 999 markers and the PKESK: within the bound.
    let m = [marker.repeat(999), tail.clone()].concat();
    assert_eq!(open(&m, &k).unwrap(), pt);
    let m = [marker.repeat(1000), tail.clone()].concat();
    assert!(matches!(open(&m, &k), Err(Error::Malformed { .. })));
    // A session-key packet larger than any real one goes to sequoia's path (refused there).
    let big = frame(1, &[3u8; 20_000], Frame::New(true));
    assert!(open(&[big, tail.clone()].concat(), &k).is_err());
    // Only markers and an encrypted packet: no session key at all.
    assert!(
        open(
            &[marker, frame(18, &p[1].1, Frame::New(false))].concat(),
            &k
        )
        .is_err()
    );
    // A body shorter than the prefix and the MDC.
    let short = [
        frame(1, &p[0].1, Frame::New(false)),
        frame(18, &p[1].1[..30], Frame::New(false)),
    ]
    .concat();
    assert!(open(&short, &k).is_err());
}

/// gpg writes old-format PKESK packets and, reading a pipe, 8 KiB partial body lengths.
#[test]
fn gpg_partial_lengths_binary_and_armored() {
    let g = Gpg::new();
    let k = key();
    g.import(&export_cert(&k, Encoding::Armored).unwrap());
    let pt = data(200_000);
    for armored in [false, true] {
        let mut args = vec!["--encrypt", "--compress-algo", "none"];
        if armored {
            args.push("--armor");
        }
        let fpr = fingerprint_hex(&k);
        args.extend(["-r", &fpr]);
        let o = g.gpg(&args, &pt);
        ok(&o, "gpg --encrypt");
        let ct = o.stdout;
        assert_eq!(open(&ct, &k).unwrap(), pt, "armored {armored}");
        if !armored {
            let p = packets(&ct);
            assert_eq!(ct[0] & 0x40, 0, "gpg's PKESK is old-format");
            assert_eq!(p.last().unwrap().0, 18);
            // Some flips across the body (every partial header included).
            // The SEIP packet starts after the old-format PKESK; its body after the CTB, a
            // one-octet partial length, the version byte and the two quick-check blocks.
            let start = 2 + p[0].1.len();
            assert_eq!(ct[start], 0xC0 | 18);
            for i in (start + 3 + 32..ct.len())
                .step_by(4099)
                .chain(ct.len() - 30..ct.len())
            {
                let mut bad = ct.clone();
                bad[i] ^= 0x10;
                assert!(matches!(open(&bad, &k), Err(Error::Integrity)), "byte {i}");
            }
            let mut i = 0;
            let mut hdrs = 0;
            // The 8 KiB partial headers (0xED) in the SEIP packet.
            while let Some(j) = ct[start.max(i)..]
                .windows(1)
                .position(|w| w[0] == 0xED)
                .map(|j| j + start.max(i))
            {
                if hdrs > 20 {
                    break;
                }
                let mut bad = ct.clone();
                bad[j] ^= 0x01;
                assert!(open(&bad, &k).is_err(), "byte {j}");
                hdrs += 1;
                i = j + 1;
            }
        }
    }
}
