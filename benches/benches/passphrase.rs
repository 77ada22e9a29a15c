//! The passphrase container: seal and open at 1 KiB, 1 MiB and 64 MiB for each AEAD (KDF
//! excluded: the key is derived once), each Argon2id profile alone, and the bare AEADs on one
//! 64 KiB chunk for comparison.
//!
//! `cargo bench -p secmail-benches --bench passphrase`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Duration;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use secmail_core::passphrase::{
    Argon2Params, Cipher, Decryptor, EncryptOptions, Encryptor, Passphrase, PassphraseKey,
};

const SIZES: [(usize, &str); 3] = [(1 << 10, "1KiB"), (1 << 20, "1MiB"), (64 << 20, "64MiB")];
const CIPHERS: [Cipher; 2] = [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305];

fn seal(key: &PassphraseKey, cipher: Cipher, pt: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut e = Encryptor::with_key(&mut *out, key, &EncryptOptions::new().cipher(cipher)).unwrap();
    e.write_all(pt).unwrap();
    e.finish().unwrap();
}

fn bench_seal_open(c: &mut Criterion) {
    let key = PassphraseKey::derive(&Passphrase::from("bench"), Argon2Params::minimum()).unwrap();
    for (op, is_seal) in [("seal", true), ("open", false)] {
        let mut g = c.benchmark_group(format!("passphrase/{op}"));
        for (size, label) in SIZES {
            if size >= 64 << 20 {
                g.sample_size(10).measurement_time(Duration::from_secs(6));
            } else {
                g.sample_size(30).measurement_time(Duration::from_secs(3));
            }
            g.throughput(Throughput::Bytes(size as u64));
            let pt: Vec<u8> = (0..size).map(|i| i as u8).collect();
            for cipher in CIPHERS {
                let mut sealed = Vec::with_capacity(size + size / 1000 + 256);
                seal(&key, cipher, &pt, &mut sealed);
                let id = BenchmarkId::new(cipher.name(), label);
                if is_seal {
                    let mut out = Vec::with_capacity(sealed.capacity());
                    g.bench_function(id, |b| {
                        b.iter(|| seal(&key, cipher, black_box(&pt), &mut out))
                    });
                } else {
                    let mut buf = vec![0u8; 256 << 10];
                    g.bench_function(id, |b| {
                        b.iter(|| {
                            let mut d = Decryptor::with_key(black_box(&sealed[..]), &key).unwrap();
                            let mut total = 0;
                            loop {
                                let n = d.read(&mut buf).unwrap();
                                if n == 0 {
                                    break;
                                }
                                total += n;
                            }
                            assert_eq!(total, size);
                        })
                    });
                }
            }
        }
        g.finish();
    }
}

fn bench_kdf(c: &mut Criterion) {
    let mut g = c.benchmark_group("passphrase/argon2id");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let pass = Passphrase::from("correct horse battery staple");
    for (name, params) in [
        ("recommended-64MiB-t3-p4", Argon2Params::recommended()),
        ("interactive-19MiB-t2-p1", Argon2Params::interactive()),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| PassphraseKey::derive(&pass, params).unwrap())
        });
    }
    g.finish();
}

fn bench_raw_aead(c: &mut Criterion) {
    let mut g = c.benchmark_group("aead-64KiB-chunk");
    g.throughput(Throughput::Bytes(1 << 16));
    let mut buf = vec![0u8; 1 << 16];
    let nonce = [0u8; 12];
    let aes = Aes256Gcm::new_from_slice(&[1; 32]).unwrap();
    g.bench_function("aes-256-gcm/seal", |b| {
        b.iter(|| {
            aes.encrypt_inout_detached((&nonce).into(), &[], buf.as_mut_slice().into())
                .unwrap()
        })
    });
    let chacha = ChaCha20Poly1305::new_from_slice(&[1; 32]).unwrap();
    g.bench_function("chacha20-poly1305/seal", |b| {
        b.iter(|| {
            chacha
                .encrypt_inout_detached((&nonce).into(), &[], buf.as_mut_slice().into())
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_raw_aead, bench_seal_open, bench_kdf);
criterion_main!(benches);
