//! PGP/MIME and inline PGP reading (decrypt_mail, verify_mail) with a fixed key.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_pgp::fuzz::fuzz_mime(data);
});
