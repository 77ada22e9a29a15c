//! OpenPGP throughput: encrypt, decrypt, sign, verify at 1 KiB, 1 MiB and 64 MiB, to
//! Curve25519 and RSA-3072 keys, SEIPDv1 (v4 keys, what gpg 2.2 reads) and SEIPDv2 (v6 keys,
//! AEAD/OCB). Compare with peers in benches/compare.sh.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use secmail_pgp::{
    Algorithm, Cert, DecryptOptions, Encoding, EncryptOptions, KeyGenOptions, KeyProfile,
    SigningKey, decrypt_stream, encrypt, generate, sign_detached, verify_detached,
};

fn key(algo: Algorithm, profile: KeyProfile) -> Cert {
    generate(&KeyGenOptions {
        algorithm: algo,
        profile,
        ..KeyGenOptions::new("Bench <bench@example.org>")
    })
    .unwrap()
    .key
}

fn sizes() -> Vec<(&'static str, usize)> {
    let mut s = vec![("1KiB", 1024), ("1MiB", 1 << 20)];
    if std::env::var_os("SECMAIL_BENCH_SMALL").is_none() {
        s.push(("64MiB", 64 << 20));
    }
    s
}

fn bench(c: &mut Criterion) {
    let keys = [
        (
            "cv25519-seipdv1",
            key(Algorithm::Cv25519, KeyProfile::Rfc4880),
        ),
        (
            "rsa3072-seipdv1",
            key(Algorithm::Rsa3072, KeyProfile::Rfc4880),
        ),
        (
            "cv25519-seipdv2",
            key(Algorithm::Cv25519, KeyProfile::Rfc9580),
        ),
    ];
    for (size_name, size) in sizes() {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut g = c.benchmark_group(format!("pgp/{size_name}"));
        g.throughput(Throughput::Bytes(size as u64));
        if size > (1 << 20) {
            g.sample_size(10);
        }
        for (name, k) in &keys {
            let opts = EncryptOptions::new()
                .recipient(k)
                .encoding(Encoding::Binary);
            g.bench_function(BenchmarkId::new("encrypt", name), |b| {
                b.iter(|| encrypt(&data, &opts).unwrap())
            });
            let ct = encrypt(&data, &opts).unwrap();
            let dopts = DecryptOptions::new()
                .key(k.clone())
                .spool_in_memory(128 << 20);
            g.bench_function(BenchmarkId::new("decrypt", name), |b| {
                b.iter(|| decrypt_stream(&ct[..], std::io::sink(), &dopts).unwrap())
            });
            let s = SigningKey::new(k, &[]).unwrap();
            g.bench_function(BenchmarkId::new("sign", name), |b| {
                b.iter(|| sign_detached(&data, &[&s], Encoding::Binary).unwrap())
            });
            let sig = sign_detached(&data, &[&s], Encoding::Binary).unwrap();
            let certs = [k.clone()];
            g.bench_function(BenchmarkId::new("verify", name), |b| {
                b.iter(|| verify_detached(&data, &sig, &certs, None).unwrap())
            });
            let so = EncryptOptions::new()
                .recipient(k)
                .sign_with(&s)
                .encoding(Encoding::Binary);
            g.bench_function(BenchmarkId::new("sign+encrypt", name), |b| {
                b.iter(|| encrypt(&data, &so).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
