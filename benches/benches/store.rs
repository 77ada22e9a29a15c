//! The encrypted mailbox store: add 10,000 small messages, then list them (the first list
//! folds 10,000 pending records into the consolidated index; the second opens the index only),
//! for the passphrase and the OpenPGP sealer. A measured loop, not criterion: one run of each
//! step is already seconds long, and the goal (list under 10 s) is about a single run.
//!
//! `cargo bench -p secmail-benches --bench store` (set `STORE_BENCH_N` for another count).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use secmail_core::passphrase::{Argon2Params, Passphrase};
use secmail_core::store::{Opener, PassphraseSealer, Sealer, Store};
use secmail_pgp::{KeyGenOptions, PgpOpener, PgpSealer, generate};

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: owner@example.net\r\nSubject: Report {i}\r\n\
         Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <{i}@example.org>\r\n\r\n\
         Hello, this is message {i}.\r\n"
    )
    .into_bytes()
}

fn run(name: &str, n: usize, store: &Store, sealer: &dyn Sealer, opener: &dyn Opener) {
    let start = Instant::now();
    for i in 0..n {
        store.add(sealer, &mut &message(i)[..]).unwrap();
    }
    let add = start.elapsed();
    let mb = store.owner(sealer, opener).unwrap();
    let start = Instant::now();
    let first = mb.list().unwrap();
    let compact = start.elapsed();
    assert_eq!(first.len(), n);
    // The consolidated index only: the minimum of three runs (the machine is shared).
    let mut list = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        assert_eq!(mb.list().unwrap().len(), n);
        list = list.min(start.elapsed());
    }
    let start = Instant::now();
    let mut out = Vec::new();
    mb.get(&first[n / 2].id, &mut out).unwrap();
    let get = start.elapsed();
    println!(
        "store/{name}: add {n}: {:.2} s ({:.0} µs each, fsync included); first list (folds {n} \
         pending records): {:.2} s; list of the consolidated index: {:.3} s; get one: {:.2} ms",
        add.as_secs_f64(),
        add.as_secs_f64() * 1e6 / n as f64,
        compact.as_secs_f64(),
        list.as_secs_f64(),
        get.as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this with a tiny count.
    let testing = !std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("STORE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if testing { 50 } else { 10_000 });

    // STORE_BENCH_ONLY=passphrase|openpgp runs one scheme.
    let only = std::env::var("STORE_BENCH_ONLY").unwrap_or_default();
    let dir = tempfile::tempdir().unwrap();
    if only.is_empty() || only == "passphrase" {
        passphrase(n, dir.path());
    }
    if only.is_empty() || only == "openpgp" {
        openpgp(n, dir.path());
    }
}

fn passphrase(n: usize, dir: &std::path::Path) {
    let (sealer, desc) = PassphraseSealer::create(
        &Passphrase::from("bench passphrase"),
        Argon2Params::interactive(),
    )
    .unwrap();
    let store = Store::init(dir.join("pass"), &desc).unwrap();
    run("passphrase", n, &store, &sealer, &sealer);
}

fn openpgp(n: usize, dir: &std::path::Path) {
    let key = generate(&KeyGenOptions::new("Owner <owner@example.net>"))
        .unwrap()
        .key;
    let sealer = PgpSealer::new(key.clone()).unwrap();
    let opener = PgpOpener::new(key);
    let store = Store::init(dir.join("pgp"), &sealer.descriptor().unwrap()).unwrap();
    run("openpgp", n, &store, &sealer, &opener);
}
