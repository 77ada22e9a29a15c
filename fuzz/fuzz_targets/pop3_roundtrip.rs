//! POP3 status lines and multi-line bodies: decode, encode, decode again: equal.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_transport::proto::pop3::fuzz_response_roundtrip(data);
});
