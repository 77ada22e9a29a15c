//! The passphrase container's fixed header alone (ids, Argon2 costs, chunk size): parsed, bounded, written back byte for byte.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_core::passphrase::fuzz_header(data);
});
