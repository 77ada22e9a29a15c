//! S/MIME: CMS SignedData / EnvelopedData / AuthEnvelopedData (BER or DER), verified and decrypted with a fixed test key: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_smime::fuzz_cms(data);
});
