//! The passphrase container reader (header, armor, STREAM): never a panic, whatever the bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_core::passphrase::fuzz_decrypt(data);
});
