//! Autocrypt headers, peer state updates and recommendations from received mail, and the
//! peer state file format (decode, encode, decode).
#![no_main]

mod known_crashes;

libfuzzer_sys::fuzz_target!(init: known_crashes::tolerate_known_panics(), |data: &[u8]| {
    secmail_pgp::fuzz::fuzz_autocrypt(data);
});
