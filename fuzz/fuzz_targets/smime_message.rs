//! S/MIME: whole messages read (decrypt, verify) strictly with a fixed test identity: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_smime::fuzz_message(data);
});
