//! IMAP responses: decode, encode with imap-codec, decode again: equal.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_transport::proto::imap::fuzz_response_roundtrip(data);
});
