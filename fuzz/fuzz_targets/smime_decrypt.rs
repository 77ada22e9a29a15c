//! S/MIME: CMS EnvelopedData / AuthEnvelopedData decrypted with the fixed test key (seeds are encrypted to it, so mutations reach the content decryption).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_smime::fuzz_decrypt(data);
});
