//! The SEIPDv1 encryption pipeline (`seipdv1::Writer`: the caller's thread, a SHA-1 thread and
//! an AES-CFB thread): every size around its buffer boundaries round-trips and gpg reads it; a
//! sink that fails at any point makes the next write or `finish` fail promptly with the sink's
//! error, never a hang; dropping a writer without `finish` stops and joins its threads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{Gpg, ok};
use secmail_pgp::*;

/// One partial body chunk of the SEIP and literal packets we write.
const C: usize = 256 * 1024;

/// The tests that count the pipeline's threads must not overlap with ones that start them.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn key(uid: &str) -> Cert {
    generate(&KeyGenOptions::new(uid)).unwrap().key
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Runs `f` on a thread and fails the test if it has not returned within a minute (a hang).
fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{what}: {e} (a hang, or a panic above)"))
}

/// Sizes of unsigned plaintext that put a boundary of ours right at, before and after their
/// end: the first segment's small start (8 KiB, less the 6 literal header bytes), the length
/// forms (192, 8384), the first literal chunk (C - 6 data bytes), the first SEIP part (the
/// body is 53 bytes more than the data: version, prefix, tag, 5-byte length, literal header,
/// MDC; so the MDC straddles the part boundary between C - 52 and C - 32), and the next chunks.
fn boundary_sizes() -> Vec<usize> {
    let mut v = vec![0, 1, 2];
    for base in [
        186,
        8378,
        8192 - 6,
        C - 53,
        C - 43,
        C - 32,
        C - 6,
        C,
        2 * C - 6,
        2 * C + 14,
        3 * C - 6,
    ] {
        for d in 0..5 {
            v.push(base + d - 2);
        }
    }
    v
}

/// A reader handing out its data in uneven pieces.
struct Uneven<'a> {
    data: &'a [u8],
    turn: usize,
}

impl Read for Uneven<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        const STEPS: [usize; 5] = [1, 4093, 70_000, 300_000, 17];
        self.turn += 1;
        let n = STEPS[self.turn % STEPS.len()]
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn roundtrip(ct: &[u8], key: &Cert, want: &[u8], what: &str) {
    let (pt, v) = decrypt(ct, &DecryptOptions::new().key(key.clone()))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(pt == want, "{what}: different plaintext back");
    assert!(v.is_fully_encrypted(), "{what}");
}

/// Every boundary size, written three ways (one write, 1000-byte writes, read from an uneven
/// reader by `encrypt_stream`), binary and armored, decrypts to the same bytes.
#[test]
fn sizes_around_every_boundary_round_trip() {
    let _s = serial();
    let bob = key("Bob <bob@example.net>");
    let all = data(3 * C + 10);
    for n in boundary_sizes() {
        let pt = &all[..n];
        for encoding in [Encoding::Binary, Encoding::Armored] {
            let opts = EncryptOptions::new().recipient(&bob).encoding(encoding);
            let one = encrypt(pt, &opts).unwrap();
            roundtrip(
                &one,
                &bob,
                pt,
                &format!("{n} bytes, one write, {encoding:?}"),
            );

            let mut pieces = Vec::new();
            let mut w = encrypt_writer(&mut pieces, &opts).unwrap();
            for c in pt.chunks(1000) {
                w.write_all(c).unwrap();
            }
            w.finish().unwrap();
            roundtrip(&pieces, &bob, pt, &format!("{n} bytes, 1000-byte writes"));

            let mut streamed = Vec::new();
            let r = Uneven { data: pt, turn: 0 };
            encrypt_stream(r, &mut streamed, &opts).unwrap();
            roundtrip(&streamed, &bob, pt, &format!("{n} bytes, uneven reads"));
        }
    }
}

/// Signed messages (sequoia's signer writing into our SEIP writer) across the segment
/// boundaries, verified.
#[test]
fn signed_sizes_round_trip() {
    let _s = serial();
    let alice = key("Alice <alice@example.org>");
    let signer = SigningKey::new(&alice, &[]).unwrap();
    let all = data(3 * C);
    for n in [0, 1, C - 100, C, C + 100, 2 * C + 7, 3 * C] {
        let pt = &all[..n];
        let opts = EncryptOptions::new()
            .sign_with(&signer)
            .encoding(Encoding::Binary);
        let ct = encrypt(pt, &opts).unwrap();
        let (back, v) = decrypt(
            &ct,
            &DecryptOptions::new()
                .key(alice.clone())
                .require_signer(alice.clone()),
        )
        .unwrap_or_else(|e| panic!("signed, {n} bytes: {e}"));
        assert!(back == pt, "signed, {n} bytes");
        assert!(v.is_fully_signed() && v.is_fully_encrypted(), "{n} bytes");
    }
}

/// gpg decrypts the sizes where our framing changes shape: one part, the MDC across the part
/// boundary, exactly full chunks, several parts; signed too.
#[test]
fn gpg_reads_every_framing_shape() {
    let _s = serial();
    let g = Gpg::new();
    let bob = key("Bob <bob@example.net>");
    g.import(&export_key(&bob, Encoding::Binary).unwrap());
    let signer = SigningKey::new(&bob, &[]).unwrap();
    let all = data(2 * C + 100);
    for n in [
        0,
        C - 53,
        C - 52,
        C - 42,
        C - 32,
        C - 31,
        C - 6,
        C - 5,
        2 * C - 6,
        2 * C + 100,
    ] {
        let pt = &all[..n];
        let ct = encrypt(pt, &EncryptOptions::new().recipient(&bob)).unwrap();
        let o = g.gpg(&["--decrypt"], &ct);
        ok(&o, &format!("gpg --decrypt of {n} bytes"));
        assert!(o.stdout == pt, "gpg: {n} bytes differ");
    }
    let pt = &all[..2 * C + 100];
    let ct = encrypt(
        pt,
        &EncryptOptions::new()
            .recipient(&bob)
            .sign_with(&signer)
            .encoding(Encoding::Binary),
    )
    .unwrap();
    let o = g.gpg(&["--status-fd", "2", "--decrypt"], &ct);
    ok(&o, "gpg --decrypt (signed)");
    assert!(o.stdout == pt);
    assert!(common::status_has(&o, "GOODSIG"));
}

/// A sink that takes `left` bytes and then fails as a full disk does (in `write`, or only in
/// `flush` with `in_flush`).
struct FailAfter {
    left: usize,
    in_flush: bool,
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 && !self.in_flush {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        let n = if self.in_flush {
            buf.len()
        } else {
            buf.len().min(self.left)
        };
        self.left -= n.min(self.left);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.in_flush {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        Ok(())
    }
}

/// What feeding `total` bytes into a writer over `sink` gave: how much was accepted before
/// the first error, and that error's kind (`None`: no error at all).
fn feed(sink: FailAfter, total: usize, signed: bool) -> (usize, Option<io::ErrorKind>) {
    let bob = key("Bob <bob@example.net>");
    let signer = SigningKey::new(&bob, &[]).unwrap();
    let mut opts = EncryptOptions::new()
        .recipient(&bob)
        .encoding(Encoding::Binary);
    if signed {
        opts = opts.sign_with(&signer);
    }
    let kind = |e: Error| match e {
        Error::Io(e) => e.kind(),
        other => panic!("not an I/O error: {other}"),
    };
    let mut w = match encrypt_writer(sink, &opts) {
        Ok(w) => w,
        Err(e) => return (0, Some(kind(e))),
    };
    let piece = vec![0x5Au8; 64 * 1024];
    let mut accepted = 0;
    while accepted < total {
        if let Err(e) = w.write_all(&piece) {
            // Every later call fails too (sequoia's literal writer over ours, in the signed
            // case, passes data on in 4 MiB pieces).
            assert!(
                w.write_all(&[0; 5 << 20]).is_err(),
                "a write after an error"
            );
            return (accepted, Some(e.kind()));
        }
        accepted += piece.len();
    }
    (accepted, w.finish().err().map(kind))
}

/// The sink fails in the ESK packets, the SEIP header, the first part, in the middle, in
/// the last part, at the very end, or only in `flush`: the error comes back (as the sink's
/// `StorageFull`) from the next write or from `finish`, within a few MiB of input after the
/// failure, and nothing hangs.
#[test]
fn failing_sink_fails_the_writer_promptly() {
    let _s = serial();
    const TOTAL: usize = 16 << 20;
    // The binary output is the input plus about 200 bytes of ESK, headers and MDC.
    for signed in [false, true] {
        for at in [0, 10, 100, C - 1, C + 1, 3 << 20, TOTAL - 1000, TOTAL + 64] {
            let (accepted, err) = within_a_minute("failing sink", move || {
                feed(
                    FailAfter {
                        left: at,
                        in_flush: false,
                    },
                    TOTAL,
                    signed,
                )
            });
            assert_eq!(
                err,
                Some(io::ErrorKind::StorageFull),
                "sink failing after {at} bytes (signed: {signed})"
            );
            // The segments in flight (about 2.5 MiB), and in the signed case the 4 MiB
            // sequoia's literal writer buffers in front of ours.
            let slack = if signed { 8 << 20 } else { 4 << 20 };
            assert!(
                accepted <= at + slack,
                "sink failing after {at} bytes: {accepted} bytes accepted after it (signed: {signed})"
            );
        }
        let (_, err) = within_a_minute("failing flush", move || {
            feed(
                FailAfter {
                    left: 0,
                    in_flush: true,
                },
                4 << 20,
                signed,
            )
        });
        assert_eq!(err, Some(io::ErrorKind::StorageFull), "failing flush");
    }
}

/// The pipeline's threads alive now (by name; Linux).
fn pipeline_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|c| c.starts_with("secmail-pgp-"))
        .count()
}

fn wait_for_no_pipeline_threads() -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        if pipeline_threads() == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Dropping a writer without `finish` (after the threads started, and after a failure) stops
/// and joins its threads; a small message starts none.
#[test]
fn drop_without_finish_joins_the_threads() {
    let _s = serial();
    assert!(wait_for_no_pipeline_threads());
    let bob = key("Bob <bob@example.net>");
    let opts = EncryptOptions::new()
        .recipient(&bob)
        .encoding(Encoding::Binary);

    let mut out = Vec::new();
    let mut w = encrypt_writer(&mut out, &opts).unwrap();
    w.write_all(&data(C - 100)).unwrap();
    assert_eq!(
        pipeline_threads(),
        0,
        "a message under one chunk starts no thread"
    );
    w.write_all(&data(3 * C)).unwrap();
    assert_eq!(pipeline_threads(), 2, "the SHA-1 and AES threads");
    drop(w);
    assert!(wait_for_no_pipeline_threads(), "threads left after drop");

    let mut w = encrypt_writer(
        FailAfter {
            left: C,
            in_flush: false,
        },
        &opts,
    )
    .unwrap();
    let piece = data(64 * 1024);
    let mut failed = false;
    for _ in 0..256 {
        if w.write_all(&piece).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed);
    assert!(
        wait_for_no_pipeline_threads(),
        "threads left after a failure"
    );
    drop(w);

    let mut out = Vec::new();
    let mut w = encrypt_writer(&mut out, &opts).unwrap();
    w.write_all(&data(C / 2)).unwrap();
    w.finish().unwrap();
    assert_eq!(pipeline_threads(), 0);
    roundtrip(&out, &bob, &data(C / 2), "small");
}
