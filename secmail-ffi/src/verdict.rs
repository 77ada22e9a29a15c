//! The security verdict (`secmail_core::Verdict`) as an opaque handle with accessors and JSON.

use std::ffi::c_char;

use secmail_core::{SignatureStatus, Verdict};

use crate::args::{self, Out};
use crate::buffer::string_out;
use crate::error::*;

/// The security verdict on one message: which parts were encrypted, which signed, by whom.
/// Made by the decrypt/verify functions; freed with `secmail_verdict_free`. Immutable: one
/// verdict may be read from several threads at once.
pub struct secmail_verdict_t {
    pub(crate) inner: Verdict,
}

impl secmail_verdict_t {
    pub(crate) fn handle(inner: Verdict) -> *mut secmail_verdict_t {
        args::into_handle(secmail_verdict_t { inner })
    }
}

/// `secmail_verdict_flags` bit: every content part was encrypted (and there is at least one).
pub const SECMAIL_VERDICT_FULLY_ENCRYPTED: u32 = 1;
/// `secmail_verdict_flags` bit: every content part is covered by a good signature.
pub const SECMAIL_VERDICT_FULLY_SIGNED: u32 = 2;
/// `secmail_verdict_flags` bit: a good signature was made by a key bound to the `From` address.
pub const SECMAIL_VERDICT_SIGNED_BY_SENDER: u32 = 4;
/// `secmail_verdict_flags` bit: protected and unprotected parts are mixed (the EFAIL shape):
/// show them apart, or only the protected ones.
pub const SECMAIL_VERDICT_MIXED: u32 = 8;
/// `secmail_verdict_flags` bit: the message had header protection.
pub const SECMAIL_VERDICT_HEADER_PROTECTION: u32 = 16;

/// `secmail_verdict_part` flag bit: the part was inside an encrypted structure that was
/// decrypted and authenticated.
pub const SECMAIL_PART_ENCRYPTED: u32 = 1;
/// `secmail_verdict_part` flag bit: the part is covered by a good signature.
pub const SECMAIL_PART_SIGNED: u32 = 2;

/// What became of one signature (`secmail_verdict_signature_status`).
pub type secmail_signature_status_t = i32;
/// Valid, by a key that was valid when it signed.
pub const SECMAIL_SIGNATURE_GOOD: secmail_signature_status_t = 0;
/// Does not match the signed data.
pub const SECMAIL_SIGNATURE_BAD: secmail_signature_status_t = 1;
/// No key or certificate is known that could check it.
pub const SECMAIL_SIGNATURE_UNKNOWN_KEY: secmail_signature_status_t = 2;
/// The signing key had expired at the signing time.
pub const SECMAIL_SIGNATURE_EXPIRED: secmail_signature_status_t = 3;
/// The signing key is revoked.
pub const SECMAIL_SIGNATURE_REVOKED: secmail_signature_status_t = 4;
/// Valid, but the signer's certificate does not chain to a trust anchor.
pub const SECMAIL_SIGNATURE_UNTRUSTED: secmail_signature_status_t = 5;
/// Could not be checked (see the signature's detail in the JSON form).
pub const SECMAIL_SIGNATURE_ERROR: secmail_signature_status_t = 6;

fn status_code(s: SignatureStatus) -> secmail_signature_status_t {
    match s {
        SignatureStatus::Good => SECMAIL_SIGNATURE_GOOD,
        SignatureStatus::Bad => SECMAIL_SIGNATURE_BAD,
        SignatureStatus::UnknownKey => SECMAIL_SIGNATURE_UNKNOWN_KEY,
        SignatureStatus::Expired => SECMAIL_SIGNATURE_EXPIRED,
        SignatureStatus::Revoked => SECMAIL_SIGNATURE_REVOKED,
        SignatureStatus::Untrusted => SECMAIL_SIGNATURE_UNTRUSTED,
        _ => SECMAIL_SIGNATURE_ERROR,
    }
}

fn index_err(what: &str, index: usize, count: usize) -> FfiError {
    FfiError::invalid(format!(
        "{what} index {index} is out of range (there are {count})"
    ))
}

/// Frees a verdict. NULL is allowed.
///
/// # Safety
/// `verdict` is NULL or a verdict made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_verdict_free(verdict: *mut secmail_verdict_t) {
    // SAFETY: NULL or a live verdict handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(verdict) });
}

/// The whole verdict as JSON (`from`, `parts`, `signatures`, `header_protection`; the field
/// names of the Rust `Verdict`). Goes to `*json` (NULL on failure); free it with
/// `secmail_string_free`.
///
/// # Safety
/// `verdict` is NULL or a live verdict; `json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_verdict_to_json(
    verdict: *const secmail_verdict_t,
    json: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let json = unsafe { Out::new(json, std::ptr::null_mut(), "json") }?;
        // SAFETY: NULL or a live verdict (the caller's promise).
        let v = unsafe { args::handle(verdict, "verdict") }?;
        let s = serde_json::to_string(&v.inner)
            .map_err(|e| FfiError::new(SECMAIL_ERR_PANIC, format!("serialising: {e}")))?;
        json.set(string_out(s)?);
        Ok(())
    })
}

/// The verdict's summary as an OR of `SECMAIL_VERDICT_*` bits, into `*flags`.
///
/// # Safety
/// `verdict` is NULL or a live verdict; `flags` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_verdict_flags(
    verdict: *const secmail_verdict_t,
    flags: *mut u32,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let flags = unsafe { Out::new(flags, 0, "flags") }?;
        // SAFETY: NULL or a live verdict (the caller's promise).
        let v = &unsafe { args::handle(verdict, "verdict") }?.inner;
        let mut f = 0;
        for (on, bit) in [
            (v.is_fully_encrypted(), SECMAIL_VERDICT_FULLY_ENCRYPTED),
            (v.is_fully_signed(), SECMAIL_VERDICT_FULLY_SIGNED),
            (v.signed_by_sender(), SECMAIL_VERDICT_SIGNED_BY_SENDER),
            (v.is_mixed(), SECMAIL_VERDICT_MIXED),
            (
                v.header_protection.is_some(),
                SECMAIL_VERDICT_HEADER_PROTECTION,
            ),
        ] {
            if on {
                f |= bit;
            }
        }
        flags.set(f);
        Ok(())
    })
}

/// The `From` address the verdict was judged against, into `*from`; `*from` is NULL (and the
/// call succeeds) when the message had none. Free it with `secmail_string_free`.
///
/// # Safety
/// `verdict` is NULL or a live verdict; `from` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_verdict_from(
    verdict: *const secmail_verdict_t,
    from: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let from = unsafe { Out::new(from, std::ptr::null_mut(), "from") }?;
        // SAFETY: NULL or a live verdict (the caller's promise).
        let v = &unsafe { args::handle(verdict, "verdict") }?.inner;
        if let Some(f) = &v.from {
            from.set(string_out(f.clone())?);
        }
        Ok(())
    })
}

/// The number of content parts the verdict describes, into `*count`.
///
/// # Safety
/// `verdict` is NULL or a live verdict; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_verdict_part_count(
    verdict: *const secmail_verdict_t,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let count = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live verdict (the caller's promise).
        let v = &unsafe { args::handle(verdict, "verdict") }?.inner;
        count.set(v.parts.len());
        Ok(())
    })
}

/// Part `index` (0-based, below `secmail_verdict_part_count`): its path (`"1.2"`, `""` for
/// the root) into `*path` (free with `secmail_string_free`) and its `SECMAIL_PART_*` bits
/// into `*flags`. An index out of range is `SECMAIL_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `verdict` is NULL or a live verdict; `path` and `flags` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_verdict_part(
    verdict: *const secmail_verdict_t,
    index: usize,
    path: *mut *mut c_char,
    flags: *mut u32,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let path = unsafe { Out::new(path, std::ptr::null_mut(), "path") }?;
        // SAFETY: NULL or writable (the caller's promise).
        let flags = unsafe { Out::new(flags, 0, "flags") }?;
        // SAFETY: NULL or a live verdict (the caller's promise).
        let v = &unsafe { args::handle(verdict, "verdict") }?.inner;
        let p = v
            .parts
            .get(index)
            .ok_or_else(|| index_err("part", index, v.parts.len()))?;
        let mut f = 0;
        if p.encrypted {
            f |= SECMAIL_PART_ENCRYPTED;
        }
        if p.signed {
            f |= SECMAIL_PART_SIGNED;
        }
        path.set(string_out(p.path.clone())?);
        flags.set(f);
        Ok(())
    })
}

/// The number of signatures found (good or not), into `*count`.
///
/// # Safety
/// `verdict` is NULL or a live verdict; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_verdict_signature_count(
    verdict: *const secmail_verdict_t,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let count = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live verdict (the caller's promise).
        let v = &unsafe { args::handle(verdict, "verdict") }?.inner;
        count.set(v.signatures.len());
        Ok(())
    })
}

/// Signature `index` (0-based): its status into `*status` (a `SECMAIL_SIGNATURE_*` value),
/// whether the signer is bound to the `From` address into `*matches_from`, and the signer's
/// fingerprint (upper-case hex) into `*fingerprint` — NULL when unknown; free it with
/// `secmail_string_free`. `fingerprint` and `matches_from` may be NULL if not wanted;
/// `status` may not.
///
/// # Safety
/// `verdict` is NULL or a live verdict; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_verdict_signature(
    verdict: *const secmail_verdict_t,
    index: usize,
    status: *mut secmail_signature_status_t,
    matches_from: *mut bool,
    fingerprint: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let status = unsafe { Out::new(status, SECMAIL_SIGNATURE_ERROR, "status") }?;
        let matches_from = if matches_from.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(matches_from, false, "matches_from") }?)
        };
        let fingerprint = if fingerprint.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(fingerprint, std::ptr::null_mut(), "fingerprint") }?)
        };
        // SAFETY: NULL or a live verdict (the caller's promise).
        let v = &unsafe { args::handle(verdict, "verdict") }?.inner;
        let s = v
            .signatures
            .get(index)
            .ok_or_else(|| index_err("signature", index, v.signatures.len()))?;
        if let (Some(out), Some(fpr)) = (fingerprint, &s.fingerprint) {
            out.set(string_out(fpr.clone())?);
        }
        if let Some(out) = matches_from {
            out.set(s.matches_from);
        }
        status.set(status_code(s.status));
        Ok(())
    })
}
