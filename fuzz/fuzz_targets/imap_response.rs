//! IMAP response framing (lines, literals, limits) and imap-codec's decoding: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_transport::proto::imap::fuzz_response(data);
});
