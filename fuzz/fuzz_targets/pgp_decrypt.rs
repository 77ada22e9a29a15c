//! OpenPGP message parsing, decryption (fixed key, a password) and verification.
#![no_main]

mod known_crashes;

libfuzzer_sys::fuzz_target!(init: known_crashes::tolerate_known_panics(), |data: &[u8]| {
    secmail_pgp::fuzz::fuzz_decrypt(data);
});
