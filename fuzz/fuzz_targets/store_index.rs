//! The mailbox store's index and record parser, on an index that has already been opened
//! (what the owner's key decrypted): never a panic, and what parses re-encodes to itself.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_core::store::fuzz_index(data);
});
