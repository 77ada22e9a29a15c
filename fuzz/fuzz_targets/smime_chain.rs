//! S/MIME: a certificate chain (leaf first) validated against the fixed test anchor.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_smime::fuzz_chain(data);
});
