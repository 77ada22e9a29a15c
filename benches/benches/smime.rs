//! S/MIME: sign-then-encrypt and decrypt-then-verify of whole messages (RSA-2048, SHA-256,
//! AES-256-GCM and AES-256-CBC), in memory (`sign_encrypt_*`, `decrypt_verify_*`) and streamed
//! as `secmail smime sign-encrypt-mail` and `decrypt-mail --ca` do them (`stream_*`, 64 MiB
//! only). Compare with OpenSSL:
//! `openssl smime -sign … | openssl cms -encrypt -aes-256-gcm …` (see the issue for its numbers).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use secmail_smime::{
    CertUsage, CertificateAuthority, ContentCipher, EncryptOptions, ReadOptions, read_message,
    read_message_stream, sign_encrypt_message, sign_encrypt_message_stream,
};

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bench\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m
}

fn bench(c: &mut Criterion) {
    let ca = CertificateAuthority::new_root("CN=Bench CA", 30).unwrap();
    let (alice, alice_key) = ca.issue("alice@example.org", CertUsage::Both, 30).unwrap();
    let (bob, bob_key) = ca.issue("bob@example.net", CertUsage::Both, 30).unwrap();
    let anchors = [ca.certificate().clone()];
    let mut g = c.benchmark_group("smime");
    g.sample_size(10);
    for size in [1 << 20, 16 << 20, 64 << 20] {
        let msg = message(size);
        g.throughput(Throughput::Bytes(msg.len() as u64));
        for (name, cipher) in [
            ("gcm", ContentCipher::Aes256Gcm),
            ("cbc", ContentCipher::Aes256Cbc),
        ] {
            let opts = EncryptOptions::default().cipher(cipher);
            let recipients = [bob.clone(), alice.clone()];
            g.bench_with_input(
                BenchmarkId::new(format!("sign_encrypt_{name}"), size),
                &msg,
                |b, m| {
                    b.iter(|| {
                        sign_encrypt_message(m, &alice, &alice_key, &[], &recipients, &opts)
                            .unwrap()
                    })
                },
            );
            let sealed =
                sign_encrypt_message(&msg, &alice, &alice_key, &[], &recipients, &opts).unwrap();
            let mut ro = ReadOptions::default();
            ro.anchors = &anchors;
            ro.require_valid_signature = true;
            ro.decrypt_with = Some((&bob, &bob_key));
            g.bench_with_input(
                BenchmarkId::new(format!("decrypt_verify_{name}"), size),
                &sealed,
                |b, m| b.iter(|| read_message(m, &ro).unwrap()),
            );
            if size == 64 << 20 {
                g.bench_with_input(
                    BenchmarkId::new(format!("stream_sign_encrypt_{name}"), size),
                    &msg,
                    |b, m| {
                        b.iter(|| {
                            sign_encrypt_message_stream(
                                &m[..],
                                std::io::sink(),
                                &alice,
                                &alice_key,
                                &[],
                                &recipients,
                                &opts,
                            )
                            .unwrap()
                        })
                    },
                );
                let streamed = sign_encrypt_message_stream(
                    &msg[..],
                    Vec::new(),
                    &alice,
                    &alice_key,
                    &[],
                    &recipients,
                    &opts,
                )
                .unwrap();
                g.bench_with_input(
                    BenchmarkId::new(format!("stream_decrypt_verify_{name}"), size),
                    &streamed,
                    |b, m| b.iter(|| read_message_stream(&m[..], std::io::sink(), &ro).unwrap()),
                );
            }
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
