//! RFC 9788 header protection: read from a payload, made and read back: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_core::mime::fuzz_protected_headers(data);
});
