//! The C ABI's byte-taking core entry points, chosen by the first byte (even: MIME, odd:
//! passphrase container): `secmail_mime_inspect_json`, and `secmail_passphrase_decrypt`
//! (passphrase `fuzz`, as the `passphrase_decrypt` seeds) against its streaming form, which
//! must agree byte for byte. The ABI contract is checked by `ffi_common`.
#![no_main]

mod ffi_common;

use ffi_common::*;
use secmail_core::passphrase::{Argon2Params, Decryptor, PassphraseKey};
use secmail_ffi::*;

const PASSPHRASE: &[u8] = b"fuzz";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        mime_inspect(body);
    } else {
        passphrase_decrypt(body);
    }
});

fn mime_inspect(body: &[u8]) {
    let (p, n) = arg(body);
    let mut json = junk();
    // SAFETY: `p, n` is `body`; `json` is a local.
    let r = unsafe { secmail_mime_inspect_json(p, n, &mut json) };
    let good = ok("secmail_mime_inspect_json", r);
    let json = take_string("secmail_mime_inspect_json", good, json);
    if let Some(j) = json {
        assert!(
            j.starts_with('{') && j.contains("\"parts\""),
            "inspect JSON: {j}"
        );
    }
}

/// Containers whose header asks for more than the minimum Argon2 costs are not decrypted:
/// the library would run Argon2 with them (up to 256 MiB, as it should), which only slows
/// the fuzzer down. The header reader itself is the `passphrase_header` target's.
fn cheap(body: &[u8]) -> bool {
    // Any key: `with_key` reads the header and the KDF parameters without running Argon2.
    static KEY: std::sync::OnceLock<Option<PassphraseKey>> = std::sync::OnceLock::new();
    let Some(key) = KEY.get_or_init(|| {
        PassphraseKey::derive(
            &secmail_core::passphrase::Passphrase::new(b"x".to_vec()),
            Argon2Params::minimum(),
        )
        .ok()
    }) else {
        return false;
    };
    match Decryptor::with_key(body, key) {
        Ok(d) => d.kdf_params() == Argon2Params::minimum(),
        // No header, or one that the library refuses before Argon2.
        Err(_) => true,
    }
}

fn passphrase_decrypt(body: &[u8]) {
    if !cheap(body) {
        return;
    }
    let (p, n) = arg(body);
    let mut out = junk_buffer();
    // SAFETY: the passphrase and `p, n` are readable; `out` is a local.
    let r = unsafe {
        secmail_passphrase_decrypt(PASSPHRASE.as_ptr(), PASSPHRASE.len(), p, n, &mut out)
    };
    let good = ok("secmail_passphrase_decrypt", r);
    let plain = take_buffer("secmail_passphrase_decrypt", good, out);

    let (good_stream, streamed) = with_memory_streams(
        "secmail_passphrase_decrypt_stream",
        body,
        |input, output| {
            // SAFETY: live handles from `with_memory_streams`; the passphrase is readable.
            unsafe {
                secmail_passphrase_decrypt_stream(
                    PASSPHRASE.as_ptr(),
                    PASSPHRASE.len(),
                    input,
                    output,
                )
            }
        },
    );
    assert_eq!(
        good, good_stream,
        "one-shot and streaming decryption disagree ({r})"
    );
    assert!(
        plain == streamed,
        "one-shot and streaming plaintexts differ"
    );
}
