//! Canonicalisation for signing: never a panic, and idempotent on everything it accepts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_core::mime::fuzz_canonicalize(data);
});
