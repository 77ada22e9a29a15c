//! S/MIME: certificate files, and chain validation over what they hold: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_smime::fuzz_certificate(data);
});
