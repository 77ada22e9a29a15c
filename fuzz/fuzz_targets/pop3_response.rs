//! POP3 status lines and multi-line bodies: never a panic, unstuffing independent of splits.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_transport::proto::pop3::fuzz_response(data);
});
