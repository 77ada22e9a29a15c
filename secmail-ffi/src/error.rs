//! Result codes, the thread-local last error message, and the one entry-point wrapper.
//!
//! Every code is stable: a number, once published, keeps its meaning forever. Codes are
//! grouped by the layer that reports them (the hundreds digit); a new code may be added to a
//! group, so a caller must treat an unknown code of a group like the group's generic failure.
//! Each crate's error enum is mapped to codes in one place: [`crate::core`] for secmail-core,
//! `src/pgp.rs` for secmail-pgp, `src/smime.rs` for secmail-smime.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The result of every fallible function: `SECMAIL_OK` (0) or one of the `SECMAIL_ERR_*`
/// codes. A plain integer, not a C enum, so that a code added in a later version is still a
/// valid value in an older program.
pub type secmail_result_t = i32;

/// Success.
pub const SECMAIL_OK: secmail_result_t = 0;

// --- 1xx: the call itself (arguments, encoding, internal failures, cancellation, I/O).
/// A pointer argument that may not be NULL was NULL.
pub const SECMAIL_ERR_NULL_ARGUMENT: secmail_result_t = 100;
/// An argument has a value the function does not accept (unknown flag, index out of range,
/// length too large…).
pub const SECMAIL_ERR_INVALID_ARGUMENT: secmail_result_t = 101;
/// A string argument is not valid UTF-8, or a result string would contain a NUL byte.
pub const SECMAIL_ERR_UTF8: secmail_result_t = 102;
/// An internal error (a bug in secmail) was caught at the boundary. The handles passed to
/// the failed call should only be freed.
pub const SECMAIL_ERR_PANIC: secmail_result_t = 103;
/// The operation was cancelled through its cancellation handle.
pub const SECMAIL_ERR_CANCELLED: secmail_result_t = 104;
/// The calling program used the API wrongly (a bug in the caller, not bad input): for example
/// encrypting to no recipient, or signing with a certificate that has no secret key.
pub const SECMAIL_ERR_MISUSE: secmail_result_t = 105;
/// Reading or writing failed: a read or write callback returned non-zero, or a file could
/// not be read or written.
pub const SECMAIL_ERR_IO: secmail_result_t = 106;
/// What was asked for does not exist (no part at this path, no certificate for this address
/// or fingerprint).
pub const SECMAIL_ERR_NOT_FOUND: secmail_result_t = 107;

// --- 2xx: secmail-core (MIME, limits).
/// The input is not a MIME message (or part) that can be worked with.
pub const SECMAIL_ERR_MALFORMED_MESSAGE: secmail_result_t = 200;
/// The input went past a configured bound (message size, MIME depth, number of parts,
/// header line length, number of header fields, Argon2 costs). Nothing was produced from it.
pub const SECMAIL_ERR_LIMIT_EXCEEDED: secmail_result_t = 201;
/// Another failure of the core layer (a kind added after this version of the ABI).
pub const SECMAIL_ERR_CORE_OTHER: secmail_result_t = 299;

// --- 3xx: the passphrase container (docs/passphrase-format.md).
/// Not a passphrase container this version can read (decided before the passphrase is used).
pub const SECMAIL_ERR_PASSPHRASE_INVALID_CONTAINER: secmail_result_t = 300;
/// The passphrase does not open this container (or its header was altered).
pub const SECMAIL_ERR_PASSPHRASE_WRONG: secmail_result_t = 301;
/// The passphrase was right but the payload failed to authenticate (altered, truncated or
/// extended). No plaintext past the last authenticated chunk was released.
pub const SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED: secmail_result_t = 302;

// --- 4xx: OpenPGP (secmail-pgp).
/// The input is not the OpenPGP data that was expected (not a certificate, a malformed
/// packet, bad armor…).
pub const SECMAIL_ERR_PGP_MALFORMED: secmail_result_t = 400;
/// A certificate cannot be used (expired, revoked, weak binding, no key for the purpose).
pub const SECMAIL_ERR_PGP_UNUSABLE_CERT: secmail_result_t = 401;
/// A secret key is locked and none of the passphrases given opens it.
pub const SECMAIL_ERR_PGP_KEY_LOCKED: secmail_result_t = 402;
/// No key or passphrase that was given opens this message (deliberately coarse).
pub const SECMAIL_ERR_PGP_CANNOT_DECRYPT: secmail_result_t = 403;
/// The message is encrypted without integrity protection (no MDC) and was refused.
pub const SECMAIL_ERR_PGP_NO_INTEGRITY_PROTECTION: secmail_result_t = 404;
/// The message failed its integrity check; no plaintext was released.
pub const SECMAIL_ERR_PGP_INTEGRITY: secmail_result_t = 405;
/// A signature was required and none was good.
pub const SECMAIL_ERR_PGP_NO_GOOD_SIGNATURE: secmail_result_t = 406;
/// The plaintext went past the configured bound.
pub const SECMAIL_ERR_PGP_TOO_LARGE: secmail_result_t = 407;
/// Another OpenPGP failure (a kind added after this version of the ABI).
pub const SECMAIL_ERR_PGP_OTHER: secmail_result_t = 499;

// --- 5xx: S/MIME (secmail-smime).
/// The input is not the CMS, X.509 or key data that was expected.
pub const SECMAIL_ERR_SMIME_MALFORMED: secmail_result_t = 500;
/// An algorithm or structure secmail does not support.
pub const SECMAIL_ERR_SMIME_UNSUPPORTED: secmail_result_t = 501;
/// The private key cannot be used (wrong type, does not match the certificate…).
pub const SECMAIL_ERR_SMIME_KEY: secmail_result_t = 502;
/// The message could not be decrypted (wrong key, or the message was altered; coarse).
pub const SECMAIL_ERR_SMIME_DECRYPTION_FAILED: secmail_result_t = 503;
/// The message is not encrypted to this certificate.
pub const SECMAIL_ERR_SMIME_NOT_A_RECIPIENT: secmail_result_t = 504;
/// A signature does not verify.
pub const SECMAIL_ERR_SMIME_BAD_SIGNATURE: secmail_result_t = 505;
/// The signer's certificate is not in the message.
pub const SECMAIL_ERR_SMIME_SIGNER_CERT_MISSING: secmail_result_t = 506;
/// The message is not signed.
pub const SECMAIL_ERR_SMIME_NOT_SIGNED: secmail_result_t = 507;
/// A certificate did not validate (untrusted, expired, wrong usage, address mismatch…).
pub const SECMAIL_ERR_SMIME_VALIDATION: secmail_result_t = 508;
/// A certificate may not be used for this operation (key usage).
pub const SECMAIL_ERR_SMIME_USAGE_NOT_ALLOWED: secmail_result_t = 509;
/// The system random number generator failed.
pub const SECMAIL_ERR_SMIME_RANDOM: secmail_result_t = 510;
/// Another S/MIME failure (a kind added after this version of the ABI).
pub const SECMAIL_ERR_SMIME_OTHER: secmail_result_t = 599;

// --- 6xx: transport (SMTP, IMAP, POP3) and 7xx: the encrypted store are reserved for those
// layers' entry points.

// --- 6xx: transport (secmail-transport: SMTP, IMAP, POP3).
/// No TCP connection could be made (refused, unreachable, unknown host, connect timeout).
pub const SECMAIL_ERR_TRANSPORT_CONNECT: secmail_result_t = 600;
/// Reading or writing the connection failed.
pub const SECMAIL_ERR_TRANSPORT_IO: secmail_result_t = 601;
/// The server did not answer (or accept data) within the read/write timeout.
pub const SECMAIL_ERR_TRANSPORT_TIMEOUT: secmail_result_t = 602;
/// The server closed the connection, possibly in the middle of a reply.
pub const SECMAIL_ERR_TRANSPORT_CLOSED: secmail_result_t = 603;
/// The TLS handshake or the TLS layer failed (unknown CA, wrong name, bad record…).
pub const SECMAIL_ERR_TRANSPORT_TLS: secmail_result_t = 604;
/// STARTTLS/STLS was required but the server does not offer it or refused it. Nothing was
/// sent in plaintext beyond the greeting and the capability request.
pub const SECMAIL_ERR_TRANSPORT_TLS_UNAVAILABLE: secmail_result_t = 605;
/// The server rejected the login.
pub const SECMAIL_ERR_TRANSPORT_AUTH_FAILED: secmail_result_t = 606;
/// The server offers no authentication mechanism this library can use.
pub const SECMAIL_ERR_TRANSPORT_NO_AUTH_MECHANISM: secmail_result_t = 607;
/// The server rejected a command (its reply is in the last error message).
pub const SECMAIL_ERR_TRANSPORT_REJECTED: secmail_result_t = 608;
/// Every recipient of a message was rejected; nothing was sent.
pub const SECMAIL_ERR_TRANSPORT_ALL_RECIPIENTS_REJECTED: secmail_result_t = 609;
/// REQUIRETLS was requested but the server does not offer it; nothing was sent.
pub const SECMAIL_ERR_TRANSPORT_REQUIRETLS_NOT_OFFERED: secmail_result_t = 610;
/// The message is larger than the server accepts or than the library's bound.
pub const SECMAIL_ERR_TRANSPORT_MESSAGE_TOO_LARGE: secmail_result_t = 611;
/// The server sent something that breaks the protocol or a bound (a line, a reply or a
/// message too long).
pub const SECMAIL_ERR_TRANSPORT_PROTOCOL: secmail_result_t = 612;
/// The configuration is unusable: a bad server URL, a CA file that cannot be read or holds
/// no certificate, an invalid host name.
pub const SECMAIL_ERR_TRANSPORT_CONFIG: secmail_result_t = 613;
/// Another transport failure (a kind added after this version of the ABI).
pub const SECMAIL_ERR_TRANSPORT_OTHER: secmail_result_t = 699;

// --- 7xx: the encrypted store (secmail_core::store). An unknown id is SECMAIL_ERR_NOT_FOUND,
// a message past the store's bounds SECMAIL_ERR_LIMIT_EXCEEDED, a failing directory
// SECMAIL_ERR_IO, a handle opened for adding used for an owner's function SECMAIL_ERR_MISUSE.
/// The directory is not a store this version can use (no or a damaged `store.conf`, an
/// unknown format version), or `secmail_store_init_*` found something already there.
pub const SECMAIL_ERR_STORE_INVALID: secmail_result_t = 700;
/// The key or passphrase given is not the store owner's (deliberately coarse).
pub const SECMAIL_ERR_STORE_WRONG_KEY: secmail_result_t = 701;
/// The key given is for another scheme than the store's (an OpenPGP key for an S/MIME
/// store…).
pub const SECMAIL_ERR_STORE_SCHEME_MISMATCH: secmail_result_t = 702;
/// A stored message or the index did not open: altered, truncated, or not sealed to this
/// store's owner. Nothing of it was released.
pub const SECMAIL_ERR_STORE_DAMAGED: secmail_result_t = 703;
/// The index opened but could not be parsed: `secmail_store_rebuild` makes it again from the
/// messages.
pub const SECMAIL_ERR_STORE_BAD_INDEX: secmail_result_t = 704;
/// Sealing failed (the owner's certificate has no usable encryption key…).
pub const SECMAIL_ERR_STORE_SEAL: secmail_result_t = 705;
/// Another store failure (a kind added after this version of the ABI).
pub const SECMAIL_ERR_STORE_OTHER: secmail_result_t = 799;

/// The name of a result code (`"SECMAIL_ERR_PGP_CANNOT_DECRYPT"`), or `"SECMAIL_ERR_UNKNOWN"`
/// for a code this version does not know. Never NULL; the string is static: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn secmail_result_str(code: secmail_result_t) -> *const c_char {
    let s: &'static [u8] = match code {
        SECMAIL_OK => b"SECMAIL_OK\0",
        SECMAIL_ERR_NULL_ARGUMENT => b"SECMAIL_ERR_NULL_ARGUMENT\0",
        SECMAIL_ERR_INVALID_ARGUMENT => b"SECMAIL_ERR_INVALID_ARGUMENT\0",
        SECMAIL_ERR_UTF8 => b"SECMAIL_ERR_UTF8\0",
        SECMAIL_ERR_PANIC => b"SECMAIL_ERR_PANIC\0",
        SECMAIL_ERR_CANCELLED => b"SECMAIL_ERR_CANCELLED\0",
        SECMAIL_ERR_MISUSE => b"SECMAIL_ERR_MISUSE\0",
        SECMAIL_ERR_IO => b"SECMAIL_ERR_IO\0",
        SECMAIL_ERR_NOT_FOUND => b"SECMAIL_ERR_NOT_FOUND\0",
        SECMAIL_ERR_MALFORMED_MESSAGE => b"SECMAIL_ERR_MALFORMED_MESSAGE\0",
        SECMAIL_ERR_LIMIT_EXCEEDED => b"SECMAIL_ERR_LIMIT_EXCEEDED\0",
        SECMAIL_ERR_CORE_OTHER => b"SECMAIL_ERR_CORE_OTHER\0",
        SECMAIL_ERR_PASSPHRASE_INVALID_CONTAINER => b"SECMAIL_ERR_PASSPHRASE_INVALID_CONTAINER\0",
        SECMAIL_ERR_PASSPHRASE_WRONG => b"SECMAIL_ERR_PASSPHRASE_WRONG\0",
        SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED => b"SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED\0",
        SECMAIL_ERR_PGP_MALFORMED => b"SECMAIL_ERR_PGP_MALFORMED\0",
        SECMAIL_ERR_PGP_UNUSABLE_CERT => b"SECMAIL_ERR_PGP_UNUSABLE_CERT\0",
        SECMAIL_ERR_PGP_KEY_LOCKED => b"SECMAIL_ERR_PGP_KEY_LOCKED\0",
        SECMAIL_ERR_PGP_CANNOT_DECRYPT => b"SECMAIL_ERR_PGP_CANNOT_DECRYPT\0",
        SECMAIL_ERR_PGP_NO_INTEGRITY_PROTECTION => b"SECMAIL_ERR_PGP_NO_INTEGRITY_PROTECTION\0",
        SECMAIL_ERR_PGP_INTEGRITY => b"SECMAIL_ERR_PGP_INTEGRITY\0",
        SECMAIL_ERR_PGP_NO_GOOD_SIGNATURE => b"SECMAIL_ERR_PGP_NO_GOOD_SIGNATURE\0",
        SECMAIL_ERR_PGP_TOO_LARGE => b"SECMAIL_ERR_PGP_TOO_LARGE\0",
        SECMAIL_ERR_PGP_OTHER => b"SECMAIL_ERR_PGP_OTHER\0",
        SECMAIL_ERR_SMIME_MALFORMED => b"SECMAIL_ERR_SMIME_MALFORMED\0",
        SECMAIL_ERR_SMIME_UNSUPPORTED => b"SECMAIL_ERR_SMIME_UNSUPPORTED\0",
        SECMAIL_ERR_SMIME_KEY => b"SECMAIL_ERR_SMIME_KEY\0",
        SECMAIL_ERR_SMIME_DECRYPTION_FAILED => b"SECMAIL_ERR_SMIME_DECRYPTION_FAILED\0",
        SECMAIL_ERR_SMIME_NOT_A_RECIPIENT => b"SECMAIL_ERR_SMIME_NOT_A_RECIPIENT\0",
        SECMAIL_ERR_SMIME_BAD_SIGNATURE => b"SECMAIL_ERR_SMIME_BAD_SIGNATURE\0",
        SECMAIL_ERR_SMIME_SIGNER_CERT_MISSING => b"SECMAIL_ERR_SMIME_SIGNER_CERT_MISSING\0",
        SECMAIL_ERR_SMIME_NOT_SIGNED => b"SECMAIL_ERR_SMIME_NOT_SIGNED\0",
        SECMAIL_ERR_SMIME_VALIDATION => b"SECMAIL_ERR_SMIME_VALIDATION\0",
        SECMAIL_ERR_SMIME_USAGE_NOT_ALLOWED => b"SECMAIL_ERR_SMIME_USAGE_NOT_ALLOWED\0",
        SECMAIL_ERR_SMIME_RANDOM => b"SECMAIL_ERR_SMIME_RANDOM\0",
        SECMAIL_ERR_SMIME_OTHER => b"SECMAIL_ERR_SMIME_OTHER\0",
        SECMAIL_ERR_TRANSPORT_CONNECT => b"SECMAIL_ERR_TRANSPORT_CONNECT\0",
        SECMAIL_ERR_TRANSPORT_IO => b"SECMAIL_ERR_TRANSPORT_IO\0",
        SECMAIL_ERR_TRANSPORT_TIMEOUT => b"SECMAIL_ERR_TRANSPORT_TIMEOUT\0",
        SECMAIL_ERR_TRANSPORT_CLOSED => b"SECMAIL_ERR_TRANSPORT_CLOSED\0",
        SECMAIL_ERR_TRANSPORT_TLS => b"SECMAIL_ERR_TRANSPORT_TLS\0",
        SECMAIL_ERR_TRANSPORT_TLS_UNAVAILABLE => b"SECMAIL_ERR_TRANSPORT_TLS_UNAVAILABLE\0",
        SECMAIL_ERR_TRANSPORT_AUTH_FAILED => b"SECMAIL_ERR_TRANSPORT_AUTH_FAILED\0",
        SECMAIL_ERR_TRANSPORT_NO_AUTH_MECHANISM => b"SECMAIL_ERR_TRANSPORT_NO_AUTH_MECHANISM\0",
        SECMAIL_ERR_TRANSPORT_REJECTED => b"SECMAIL_ERR_TRANSPORT_REJECTED\0",
        SECMAIL_ERR_TRANSPORT_ALL_RECIPIENTS_REJECTED => {
            b"SECMAIL_ERR_TRANSPORT_ALL_RECIPIENTS_REJECTED\0"
        }
        SECMAIL_ERR_TRANSPORT_REQUIRETLS_NOT_OFFERED => {
            b"SECMAIL_ERR_TRANSPORT_REQUIRETLS_NOT_OFFERED\0"
        }
        SECMAIL_ERR_TRANSPORT_MESSAGE_TOO_LARGE => b"SECMAIL_ERR_TRANSPORT_MESSAGE_TOO_LARGE\0",
        SECMAIL_ERR_TRANSPORT_PROTOCOL => b"SECMAIL_ERR_TRANSPORT_PROTOCOL\0",
        SECMAIL_ERR_TRANSPORT_CONFIG => b"SECMAIL_ERR_TRANSPORT_CONFIG\0",
        SECMAIL_ERR_TRANSPORT_OTHER => b"SECMAIL_ERR_TRANSPORT_OTHER\0",
        SECMAIL_ERR_STORE_INVALID => b"SECMAIL_ERR_STORE_INVALID\0",
        SECMAIL_ERR_STORE_WRONG_KEY => b"SECMAIL_ERR_STORE_WRONG_KEY\0",
        SECMAIL_ERR_STORE_SCHEME_MISMATCH => b"SECMAIL_ERR_STORE_SCHEME_MISMATCH\0",
        SECMAIL_ERR_STORE_DAMAGED => b"SECMAIL_ERR_STORE_DAMAGED\0",
        SECMAIL_ERR_STORE_BAD_INDEX => b"SECMAIL_ERR_STORE_BAD_INDEX\0",
        SECMAIL_ERR_STORE_SEAL => b"SECMAIL_ERR_STORE_SEAL\0",
        SECMAIL_ERR_STORE_OTHER => b"SECMAIL_ERR_STORE_OTHER\0",
        _ => b"SECMAIL_ERR_UNKNOWN\0",
    };
    s.as_ptr().cast()
}

/// A failure on its way to the boundary: the code returned, the message kept for
/// [`secmail_last_error_message`].
#[derive(Debug)]
pub(crate) struct FfiError {
    pub(crate) code: secmail_result_t,
    pub(crate) message: String,
}

impl FfiError {
    pub(crate) fn new(code: secmail_result_t, message: impl Into<String>) -> Self {
        FfiError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn null(name: &str) -> Self {
        FfiError::new(SECMAIL_ERR_NULL_ARGUMENT, format!("{name} is NULL"))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        FfiError::new(SECMAIL_ERR_INVALID_ARGUMENT, message)
    }
}

impl From<std::io::Error> for FfiError {
    fn from(e: std::io::Error) -> Self {
        FfiError::new(SECMAIL_ERR_IO, format!("I/O error: {e}"))
    }
}

/// What every entry point returns inside the wrapper.
pub(crate) type FfiResult<T = ()> = Result<T, FfiError>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message never contains a NUL of its own; replace one rather than lose the message.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with` fails only while the thread is being torn down; the message is then moot.
    let _ = LAST_ERROR.try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = c;
        }
    });
}

/// The detailed message of the last call on this thread that returned a
/// `secmail_result_t`: empty after a success, a sentence saying what was wrong (and often
/// what to do) after a failure. Never NULL.
///
/// The string belongs to the library and stays valid until the next call on this thread of a
/// function that returns a `secmail_result_t`; copy it to keep it. Each thread has its own.
/// It never contains secret material (no key, passphrase or plaintext).
#[unsafe(no_mangle)]
pub extern "C" fn secmail_last_error_message() -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    LAST_ERROR
        .try_with(|cell| match cell.try_borrow() {
            // The CString's heap buffer does not move until the slot is replaced, which only
            // an entry point on this same thread does.
            Ok(s) => s.as_ptr(),
            Err(_) => EMPTY.as_ptr().cast(),
        })
        .unwrap_or(EMPTY.as_ptr().cast())
}

/// The one wrapper around the body of every exported function that returns a
/// `secmail_result_t`: catches a panic (so none crosses the boundary), maps the error to its
/// code and records the message for [`secmail_last_error_message`].
pub(crate) fn entry(body: impl FnOnce() -> FfiResult) -> secmail_result_t {
    // AssertUnwindSafe: after a panic the only thing the caller is told to do with the
    // handles of the call is free them (SECMAIL_ERR_PANIC), so a broken invariant inside one
    // cannot be observed.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            set_last_error("");
            SECMAIL_OK
        }
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.code
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".to_owned());
            // Dropping a panic payload can itself panic; leak it instead (once per bug).
            std::mem::forget(payload);
            set_last_error(&format!(
                "internal error in secmail (please report it): {what}"
            ));
            SECMAIL_ERR_PANIC
        }
    }
}

/// The wrapper for functions that return nothing (the `_free` functions): a panic is
/// swallowed rather than allowed to cross the boundary.
pub(crate) fn entry_void(body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        std::mem::forget(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: the pointer is valid until the next entry point on this thread.
        unsafe { CStr::from_ptr(secmail_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let rc = entry(|| panic!("boom"));
        assert_eq!(rc, SECMAIL_ERR_PANIC);
        assert!(last().contains("boom"), "{}", last());
        // The next success clears the message.
        assert_eq!(entry(|| Ok(())), SECMAIL_OK);
        assert_eq!(last(), "");
        entry_void(|| panic!("swallowed"));
    }

    #[test]
    fn errors_keep_their_code_and_message() {
        let rc = entry(|| Err(FfiError::null("widget")));
        assert_eq!(rc, SECMAIL_ERR_NULL_ARGUMENT);
        assert_eq!(last(), "widget is NULL");
        // A message with a NUL inside is kept, the NUL made visible.
        entry(|| Err(FfiError::invalid("a\0b")));
        assert_eq!(last(), "a\\0b");
    }

    #[test]
    fn every_code_has_a_distinct_name() {
        let codes = [
            SECMAIL_OK,
            SECMAIL_ERR_NULL_ARGUMENT,
            SECMAIL_ERR_INVALID_ARGUMENT,
            SECMAIL_ERR_UTF8,
            SECMAIL_ERR_PANIC,
            SECMAIL_ERR_CANCELLED,
            SECMAIL_ERR_MISUSE,
            SECMAIL_ERR_IO,
            SECMAIL_ERR_NOT_FOUND,
            SECMAIL_ERR_MALFORMED_MESSAGE,
            SECMAIL_ERR_LIMIT_EXCEEDED,
            SECMAIL_ERR_CORE_OTHER,
            SECMAIL_ERR_PASSPHRASE_INVALID_CONTAINER,
            SECMAIL_ERR_PASSPHRASE_WRONG,
            SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED,
            SECMAIL_ERR_PGP_MALFORMED,
            SECMAIL_ERR_PGP_UNUSABLE_CERT,
            SECMAIL_ERR_PGP_KEY_LOCKED,
            SECMAIL_ERR_PGP_CANNOT_DECRYPT,
            SECMAIL_ERR_PGP_NO_INTEGRITY_PROTECTION,
            SECMAIL_ERR_PGP_INTEGRITY,
            SECMAIL_ERR_PGP_NO_GOOD_SIGNATURE,
            SECMAIL_ERR_PGP_TOO_LARGE,
            SECMAIL_ERR_PGP_OTHER,
            SECMAIL_ERR_SMIME_MALFORMED,
            SECMAIL_ERR_SMIME_UNSUPPORTED,
            SECMAIL_ERR_SMIME_KEY,
            SECMAIL_ERR_SMIME_DECRYPTION_FAILED,
            SECMAIL_ERR_SMIME_NOT_A_RECIPIENT,
            SECMAIL_ERR_SMIME_BAD_SIGNATURE,
            SECMAIL_ERR_SMIME_SIGNER_CERT_MISSING,
            SECMAIL_ERR_SMIME_NOT_SIGNED,
            SECMAIL_ERR_SMIME_VALIDATION,
            SECMAIL_ERR_SMIME_USAGE_NOT_ALLOWED,
            SECMAIL_ERR_SMIME_RANDOM,
            SECMAIL_ERR_SMIME_OTHER,
            SECMAIL_ERR_STORE_INVALID,
            SECMAIL_ERR_STORE_WRONG_KEY,
            SECMAIL_ERR_STORE_SCHEME_MISMATCH,
            SECMAIL_ERR_STORE_DAMAGED,
            SECMAIL_ERR_STORE_BAD_INDEX,
            SECMAIL_ERR_STORE_SEAL,
            SECMAIL_ERR_STORE_OTHER,
        ];
        let mut names = std::collections::HashSet::new();
        for c in codes {
            // SAFETY: secmail_result_str returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(secmail_result_str(c)) }
                .to_str()
                .unwrap_or("");
            assert!(
                name.starts_with("SECMAIL_") && name != "SECMAIL_ERR_UNKNOWN",
                "{c}"
            );
            assert!(names.insert(name), "{name} twice");
        }
    }
}
