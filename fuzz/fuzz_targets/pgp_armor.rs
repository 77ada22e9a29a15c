//! OpenPGP ASCII armor: dearmored, armored again and dearmored back to the same bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_pgp::fuzz::fuzz_armor(data);
});
