//! OpenPGP message parsing, decryption (fixed key, a password) and verification.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_pgp::fuzz::fuzz_decrypt(data);
});
