//! The transport codecs alone (no network): SMTP DATA encoding (dot-stuffing, CRLF), SMTP
//! reply decoding, POP3 dot-unstuffing and IMAP response framing + imap-codec decoding.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use secmail_transport::Limits;
use secmail_transport::proto::{imap, pop3, smtp};
use std::hint::black_box;

/// About 1 MiB of mail-like text with leading dots on some lines.
fn message() -> Vec<u8> {
    let mut m = Vec::new();
    let mut i = 0u32;
    while m.len() < 1 << 20 {
        if i.is_multiple_of(7) {
            m.extend_from_slice(b".");
        }
        m.extend_from_slice(
            b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\r\n",
        );
        i += 1;
    }
    m
}

fn codecs(c: &mut Criterion) {
    let msg = message();
    let mut g = c.benchmark_group("transport");
    g.throughput(Throughput::Bytes(msg.len() as u64));
    g.bench_function("smtp_data_encode_1MiB", |b| {
        b.iter(|| {
            let mut enc = smtp::DataEncoder::new();
            let mut out = Vec::with_capacity(msg.len() + 64 * 1024);
            enc.push(black_box(&msg), &mut out);
            enc.finish(&mut out);
            out
        })
    });
    let mut stuffed = Vec::new();
    let mut enc = smtp::DataEncoder::new();
    enc.push(&msg, &mut stuffed);
    enc.finish(&mut stuffed);
    g.bench_function("pop3_unstuff_1MiB", |b| {
        b.iter(|| {
            let mut dec = pop3::MultilineDecoder::new(u64::MAX);
            let mut out = Vec::with_capacity(msg.len());
            dec.decode(black_box(&stuffed), &mut out).unwrap();
            assert!(dec.is_done());
            out
        })
    });
    let mut fetch = format!(
        "* 1 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE {0} BODY[] {{{0}}}\r\n",
        msg.len()
    )
    .into_bytes();
    fetch.extend_from_slice(&msg);
    fetch.extend_from_slice(b")\r\n");
    let limits = Limits::default();
    g.bench_function("imap_frame_and_decode_fetch_1MiB", |b| {
        b.iter(|| {
            let (len, _) = imap::frame(black_box(&fetch), &limits).unwrap();
            imap::decode_response(&fetch[..len]).is_ok()
        })
    });
    g.finish();

    let ehlo = b"250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-ETRN\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8\r\n";
    c.bench_function("smtp_decode_ehlo_reply", |b| {
        b.iter(|| {
            let (r, _) = smtp::decode_reply(black_box(ehlo), &limits).unwrap();
            smtp::Extensions::from_ehlo(&r)
        })
    });
}

/// One message through the SMTP session state machine, no I/O: MAIL/RCPT/DATA pipelined,
/// the replies fed back, the body encoded, the final 250 read.
fn smtp_session(c: &mut Criterion) {
    use secmail_transport::Security;
    use smtp::{Action, Envelope, Outcome, Session};
    let mut body = Vec::new();
    while body.len() < 2048 {
        body.extend_from_slice(b"A line of an ordinary short message, with nothing odd in it.\r\n");
    }
    let env = Envelope::new("alice@example.org", ["bob@example.net"]);
    let mut s = Session::new("client", Security::Implicit, Limits::default());
    let run = |s: &mut Session, server: &[u8]| -> Option<Outcome> {
        s.feed(server).unwrap();
        loop {
            match s.next_action().unwrap() {
                Action::Send(b) => {
                    black_box(b);
                }
                Action::NeedMore => return None,
                Action::NeedBody => {
                    s.push_body(&body).unwrap();
                    s.finish_body().unwrap();
                }
                Action::Done(o) => return Some(o),
                other => panic!("{other:?}"),
            }
        }
    };
    run(&mut s, b"220 mx ESMTP\r\n");
    run(
        &mut s,
        b"250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n",
    )
    .unwrap();
    c.bench_function("smtp_session_send_2KiB_message", |b| {
        b.iter(|| {
            s.send(&env, Some(body.len() as u64)).unwrap();
            run(&mut s, b"");
            run(
                &mut s,
                b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
            );
            run(&mut s, b"250 2.0.0 Ok: queued as 4ABCDEF\r\n").unwrap()
        })
    });
}

criterion_group!(benches, codecs, smtp_session);
criterion_main!(benches);
