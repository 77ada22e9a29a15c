//! Round trips of the dot-stuffing codecs: what the SMTP DATA encoder writes, the POP3
//! multi-line decoder (the same RFC 5321 4.5.2 / RFC 1939 3 transparency rule) reads back as
//! the message with its line endings made CRLF, however both sides' input is split.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use proptest::prelude::*;
use secmail_transport::Limits;
use secmail_transport::proto::{DecodeError, pop3, smtp};

/// Messages rich in what the codecs care about: dots, CR, LF, and lines starting with them.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b".".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\r\n.\r\n".to_vec()),
            Just(b"..".to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
            "[a-z ]{0,12}".prop_map(String::into_bytes),
        ],
        0..40,
    )
    .prop_map(|pieces| pieces.concat())
}

/// The model: every CR LF, bare CR and bare LF becomes CR LF; a last line without an ending
/// gets one.
fn crlf_model(m: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.len() + 8);
    let mut i = 0;
    while i < m.len() {
        match m[i] {
            b'\r' if m.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn encode_split(m: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut enc = smtp::DataEncoder::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts {
        let c = c % (m.len() + 1);
        if c > start {
            enc.push(&m[start..c], &mut out);
            start = c;
        }
    }
    enc.push(&m[start..], &mut out);
    enc.finish(&mut out);
    out
}

/// Decodes feeding `step` bytes at a time, keeping what the decoder leaves.
fn decode_stepwise(wire: &[u8], step: usize) -> (Vec<u8>, usize) {
    let mut dec = pop3::MultilineDecoder::new(1 << 20);
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let mut fed = 0;
    while !dec.is_done() && fed < wire.len() {
        let end = (fed + step).min(wire.len());
        pending.extend_from_slice(&wire[fed..end]);
        fed = end;
        let used = dec.decode(&pending, &mut out).unwrap();
        pending.drain(..used);
    }
    assert!(dec.is_done(), "the terminator was not found");
    (out, pending.len() + (wire.len() - fed))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn data_encoding_then_pop3_decoding_gives_the_crlf_message(
        m in message(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        step in 1usize..9,
        trailer in prop::collection::vec(any::<u8>(), 0..6),
    ) {
        let wire = encode_split(&m, &cuts);
        // The encoding does not depend on how the input was split.
        prop_assert_eq!(&wire, &encode_split(&m, &[]));
        prop_assert!(wire.ends_with(b".\r\n"));
        prop_assert_eq!(smtp::canonical_crlf(&m), crlf_model(&m));
        let mut with_trailer = wire.clone();
        with_trailer.extend_from_slice(&trailer);
        let (body, left) = decode_stepwise(&with_trailer, step);
        prop_assert_eq!(body, crlf_model(&m));
        // Nothing after the terminator is taken.
        prop_assert_eq!(left, trailer.len());
    }

    #[test]
    fn multiline_replies_decode_whatever_the_split(
        lines in prop::collection::vec("[ -~]{0,20}", 1..6),
        code in (2u16..6, 0u16..6, 0u16..10).prop_map(|(a, b, c)| a * 100 + b * 10 + c),
        cut in any::<usize>(),
    ) {
        let mut wire = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            wire.extend_from_slice(format!("{code}{sep}{l}\r\n").as_bytes());
        }
        let limits = Limits::default();
        let (reply, used) = smtp::decode_reply(&wire, &limits).unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(reply.code, code);
        prop_assert_eq!(&reply.lines, &lines);
        // A cut inside the reply is Incomplete, never a different reply.
        let cut = cut % wire.len();
        prop_assert_eq!(smtp::decode_reply(&wire[..cut], &limits), Err(DecodeError::Incomplete));
    }
}
