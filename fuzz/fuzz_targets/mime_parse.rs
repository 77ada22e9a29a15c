//! The MIME parser and everything that reads its tree: never a panic, whatever the bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_core::mime::fuzz_parse(data);
});
