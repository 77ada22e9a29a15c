//! PGP/MIME and inline PGP reading (decrypt_mail, verify_mail) with a fixed key.
#![no_main]

mod known_crashes;

libfuzzer_sys::fuzz_target!(init: known_crashes::tolerate_known_panics(), |data: &[u8]| {
    secmail_pgp::fuzz::fuzz_mime(data);
});
