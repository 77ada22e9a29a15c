//! The MIME layer: parse and canonicalise realistic messages (the Python-made fixtures, and
//! built messages with text, HTML and attachments of 1 KiB to 4 MiB). Throughput in bytes.
//!
//! `cargo bench -p secmail-benches --bench mime`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use secmail_core::mime::{Message, MessageBuilder, canonicalize};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/mime");
    let mut out = Vec::new();
    for name in [
        "nested.eml",
        "nested-lf.eml",
        "digest.eml",
        "smime-signed-openssl.eml",
    ] {
        out.push((
            name.to_owned(),
            std::fs::read(format!("{dir}/{name}")).unwrap(),
        ));
    }
    for (size, label) in [(1usize << 10, "1KiB"), (1 << 20, "1MiB"), (4 << 20, "4MiB")] {
        let attachment: Vec<u8> = (0..size).map(|i| (i * 131 % 251) as u8).collect();
        let text = "Hello Bob,\nthe figures are attached. From now on, encrypted mail only. \n"
            .repeat(size / 64 + 1);
        let msg = MessageBuilder::new()
            .from("Alice <alice@example.org>")
            .to("bob@example.net")
            .subject("Figures")
            .text_body(text)
            .html_body("<p>Hello Bob, the figures are attached.</p>")
            .attachment("figures.bin", "application/octet-stream", attachment)
            .build()
            .unwrap();
        out.push((format!("built-{label}"), msg));
    }
    out
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let mut parse = c.benchmark_group("mime/parse");
    parse.measurement_time(Duration::from_secs(3));
    for (name, raw) in &corpus {
        parse.throughput(Throughput::Bytes(raw.len() as u64));
        parse.bench_with_input(BenchmarkId::from_parameter(name), raw, |b, raw| {
            b.iter(|| Message::parse(black_box(raw.clone())).unwrap())
        });
    }
    parse.finish();
    let mut canon = c.benchmark_group("mime/canonicalize");
    canon.measurement_time(Duration::from_secs(3));
    for (name, raw) in &corpus {
        canon.throughput(Throughput::Bytes(raw.len() as u64));
        canon.bench_with_input(BenchmarkId::from_parameter(name), raw, |b, raw| {
            b.iter(|| canonicalize(black_box(raw)).unwrap())
        });
    }
    canon.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
