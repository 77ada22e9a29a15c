//! What every `ffi_*` target checks about a call through the C ABI (secmail-ffi), whatever
//! the bytes: a result code comes back (a panic inside is `SECMAIL_ERR_PANIC`, and is a bug),
//! the code is one the header names, the last-error message is set exactly when the call
//! failed, every out-parameter is cleared on failure (they start out holding junk here, as an
//! uninitialised C variable would), and everything the library returns is read and then given
//! back through the library's own free functions (so AddressSanitizer sees any misuse).
#![allow(dead_code)] // each target uses a different part of this module

use std::ffi::{CStr, c_char};
use std::ptr::NonNull;

use secmail_ffi::*;

/// A junk pointer the out-parameters hold before a call; the library must overwrite it.
pub fn junk<T>() -> *mut T {
    NonNull::dangling().as_ptr()
}

/// A buffer holding junk before a call.
pub fn junk_buffer() -> secmail_buffer_t {
    secmail_buffer_t {
        data: junk(),
        len: 0x5eed,
    }
}

/// `(ptr, len)` for a byte argument: an empty slice goes as `NULL, 0`, which the ABI allows.
pub fn arg(data: &[u8]) -> (*const u8, usize) {
    if data.is_empty() {
        (std::ptr::null(), 0)
    } else {
        (data.as_ptr(), data.len())
    }
}

/// Checks the result code of one call and says whether it succeeded.
pub fn ok(what: &str, rc: secmail_result_t) -> bool {
    assert_ne!(
        rc,
        SECMAIL_ERR_PANIC,
        "{what}: panicked inside: {}",
        last_error()
    );
    // SAFETY: secmail_result_str never returns NULL, and the string is static.
    let name = unsafe { CStr::from_ptr(secmail_result_str(rc)) };
    assert_ne!(
        name.to_bytes(),
        b"SECMAIL_ERR_UNKNOWN",
        "{what}: returned {rc}, a code the header does not name"
    );
    let message = last_error();
    if rc == SECMAIL_OK {
        assert!(
            message.is_empty(),
            "{what}: succeeded with an error message: {message}"
        );
        true
    } else {
        assert!(
            !message.is_empty(),
            "{what}: failed ({rc}) without a message"
        );
        false
    }
}

fn last_error() -> String {
    // SAFETY: never NULL; valid until the next entry point on this thread (we copy it now).
    unsafe { CStr::from_ptr(secmail_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// The bytes of a buffer out-parameter after a call (empty on failure, which is checked), then
/// the buffer is freed with `secmail_buffer_free` (twice: the second must be a no-op).
pub fn take_buffer(what: &str, succeeded: bool, mut buf: secmail_buffer_t) -> Vec<u8> {
    if !succeeded {
        assert!(
            buf.data.is_null() && buf.len == 0,
            "{what}: failed but left {{{:p}, {}}} in its buffer",
            buf.data,
            buf.len
        );
    }
    assert_eq!(
        buf.data.is_null(),
        buf.len == 0,
        "{what}: buffer {{{:p}, {}}}",
        buf.data,
        buf.len
    );
    let bytes = if buf.data.is_null() {
        Vec::new()
    } else {
        // SAFETY: a buffer filled by the library: `len` readable bytes at `data`.
        unsafe { std::slice::from_raw_parts(buf.data, buf.len) }.to_vec()
    };
    // SAFETY: filled by the library and unchanged; the first call clears it.
    unsafe {
        secmail_buffer_free(&mut buf);
        secmail_buffer_free(&mut buf);
    }
    assert!(buf.data.is_null() && buf.len == 0);
    bytes
}

/// A string out-parameter after a call (NULL on failure, which is checked), read and then
/// freed with `secmail_string_free`. `None` when NULL.
pub fn take_string(what: &str, succeeded: bool, s: *mut c_char) -> Option<String> {
    if !succeeded {
        assert!(s.is_null(), "{what}: failed but left a string pointer");
    }
    if s.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string returned by the library, freed right after.
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    // SAFETY: returned by the library through a `char **`, not freed before.
    unsafe { secmail_string_free(s) };
    Some(text)
}

/// A handle out-parameter after a call: NULL on failure, non-NULL on success.
pub fn check_handle<T>(what: &str, succeeded: bool, h: *mut T) {
    if succeeded {
        assert!(!h.is_null(), "{what}: succeeded without a handle");
    } else {
        assert!(h.is_null(), "{what}: failed but left a handle");
    }
}

/// Reads everything a verdict offers through its accessors, then frees it. Returns the flags.
pub fn consume_verdict(what: &str, succeeded: bool, v: *mut secmail_verdict_t) -> u32 {
    consume_verdict_parts(what, succeeded, v).0
}

/// As [`consume_verdict`], and also returns the number of parts the verdict describes.
pub fn consume_verdict_parts(
    what: &str,
    succeeded: bool,
    v: *mut secmail_verdict_t,
) -> (u32, usize) {
    check_handle(what, succeeded, v);
    if v.is_null() {
        return (0, 0);
    }
    let verdict = v.cast_const();
    // SAFETY (whole block): `verdict` is a live verdict made by the library; every
    // out-pointer is a local of the right type.
    unsafe {
        let mut json = junk();
        let r = secmail_verdict_to_json(verdict, &mut json);
        let json = take_string(
            "secmail_verdict_to_json",
            ok("secmail_verdict_to_json", r),
            json,
        );
        assert!(
            json.is_some_and(|j| j.starts_with('{')),
            "{what}: verdict JSON"
        );

        let mut flags = 0x5eed_u32;
        assert!(ok(
            "secmail_verdict_flags",
            secmail_verdict_flags(verdict, &mut flags)
        ));

        let mut from = junk();
        let r = secmail_verdict_from(verdict, &mut from);
        take_string("secmail_verdict_from", ok("secmail_verdict_from", r), from);

        let mut parts = usize::MAX;
        assert!(ok(
            "secmail_verdict_part_count",
            secmail_verdict_part_count(verdict, &mut parts)
        ));
        // One past the end too: an index error, with cleared out-parameters.
        for i in 0..=parts.min(64) {
            let (mut path, mut pflags) = (junk(), 0x5eed_u32);
            let r = secmail_verdict_part(verdict, i, &mut path, &mut pflags);
            let good = ok("secmail_verdict_part", r);
            assert_eq!(good, i < parts, "{what}: part {i} of {parts}");
            if !good {
                assert_eq!(pflags, 0);
            }
            assert!(take_string("secmail_verdict_part", good, path).is_some() == good);
        }

        let mut sigs = usize::MAX;
        let r = secmail_verdict_signature_count(verdict, &mut sigs);
        assert!(ok("secmail_verdict_signature_count", r));
        for i in 0..=sigs.min(64) {
            let (mut status, mut matches, mut fpr) = (-77, true, junk());
            let r = secmail_verdict_signature(verdict, i, &mut status, &mut matches, &mut fpr);
            let good = ok("secmail_verdict_signature", r);
            assert_eq!(good, i < sigs, "{what}: signature {i} of {sigs}");
            if !good {
                assert!(status == SECMAIL_SIGNATURE_ERROR && !matches);
            }
            take_string("secmail_verdict_signature", good, fpr);
        }
        secmail_verdict_free(v);
        (flags, parts)
    }
}

/// Runs a streaming call over a memory input holding `data` and a memory output; returns
/// whether it succeeded and what the output holds afterwards (nothing on failure: a memory
/// output is wiped when the call fails, which is checked).
pub fn with_memory_streams(
    what: &str,
    data: &[u8],
    call: impl FnOnce(*mut secmail_input_t, *mut secmail_output_t) -> secmail_result_t,
) -> (bool, Vec<u8>) {
    let (p, n) = arg(data);
    let (mut input, mut output) = (junk(), junk());
    // SAFETY: `p, n` is `data`; the out-pointers are locals.
    unsafe {
        assert!(ok(
            "secmail_input_from_memory",
            secmail_input_from_memory(p, n, &mut input)
        ));
        assert!(ok(
            "secmail_output_to_memory",
            secmail_output_to_memory(&mut output)
        ));
    }
    let succeeded = ok(what, call(input, output));
    let mut buf = junk_buffer();
    // SAFETY: live handles made above, freed once here.
    let out = unsafe {
        assert!(ok(
            "secmail_output_memory_take",
            secmail_output_memory_take(output, &mut buf)
        ));
        let out = take_buffer("secmail_output_memory_take", true, buf);
        secmail_input_free(input);
        secmail_output_free(output);
        out
    };
    if !succeeded {
        assert!(
            out.is_empty(),
            "{what}: failed but left {} bytes in the memory output",
            out.len()
        );
    }
    (succeeded, out)
}
