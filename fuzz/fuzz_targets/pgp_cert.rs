//! Certificate parsing, the certificate store and key selection.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_pgp::fuzz::fuzz_cert(data);
});
