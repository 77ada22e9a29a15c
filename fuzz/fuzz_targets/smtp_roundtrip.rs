//! SMTP replies: decode, encode (`Reply::encode`), decode again: equal.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    secmail_transport::proto::smtp::fuzz_reply_roundtrip(data);
});
