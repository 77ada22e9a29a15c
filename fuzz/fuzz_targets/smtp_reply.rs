//! SMTP replies (and the DATA encoder): never a panic, the terminator never inside the body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_transport::proto::smtp::fuzz_reply(data);
});
