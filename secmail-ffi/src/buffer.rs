//! Library-owned bytes and strings handed to C, freed (and wiped) only by the library.

use std::ffi::{CString, c_char};

use zeroize::Zeroize;

use crate::error::{FfiError, FfiResult, SECMAIL_ERR_UTF8, entry_void};

/// Bytes owned by the library: `data` points to `len` bytes, or is NULL when `len` is 0.
///
/// Filled by the library through a `secmail_buffer_t *` out-parameter; read `data[0..len]`,
/// then give it back with `secmail_buffer_free`, which wipes the bytes before freeing them.
/// Never free `data` with `free()`, and never change `data` or `len`.
#[repr(C)]
#[derive(Debug)]
pub struct secmail_buffer_t {
    /// The bytes (NULL when `len` is 0).
    pub data: *mut u8,
    /// The number of bytes.
    pub len: usize,
}

impl secmail_buffer_t {
    /// The empty buffer (`{NULL, 0}`), what a failed call leaves in its out-parameter.
    pub(crate) const EMPTY: secmail_buffer_t = secmail_buffer_t {
        data: std::ptr::null_mut(),
        len: 0,
    };

    /// Hands `bytes` to C. The bytes are moved into an allocation of exactly their length
    /// (so that `secmail_buffer_free` knows its size); a spare-capacity original is wiped.
    pub(crate) fn from_vec(mut bytes: Vec<u8>) -> secmail_buffer_t {
        if bytes.is_empty() {
            bytes.zeroize();
            return secmail_buffer_t::EMPTY;
        }
        let exact: Box<[u8]> = if bytes.len() == bytes.capacity() {
            bytes.into_boxed_slice()
        } else {
            // `into_boxed_slice` would shrink in place or copy without wiping the original.
            let copy = Box::<[u8]>::from(&bytes[..]);
            bytes.zeroize();
            copy
        };
        let len = exact.len();
        secmail_buffer_t {
            data: Box::into_raw(exact).cast::<u8>(),
            len,
        }
    }
}

/// Wipes and frees the bytes of a buffer filled by the library, and sets it to `{NULL, 0}`.
/// `buffer` may be NULL, and an empty buffer may be freed (both do nothing); freeing the
/// same filled buffer twice is safe because the first call clears it.
///
/// # Safety
/// `buffer` is NULL or points to a `secmail_buffer_t` that is empty or was filled by this
/// library and not changed since.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_buffer_free(buffer: *mut secmail_buffer_t) {
    entry_void(|| {
        // SAFETY: NULL or a valid buffer struct (the caller's promise).
        let Some(buf) = (unsafe { buffer.as_mut() }) else {
            return;
        };
        if !buf.data.is_null() && buf.len != 0 {
            let raw = std::ptr::slice_from_raw_parts_mut(buf.data, buf.len);
            // SAFETY: `data`/`len` came from Box::into_raw of a Box<[u8]> of exactly `len`
            // bytes in `from_vec`, unchanged since (the caller's promise), and are taken back
            // once: the struct is cleared right after.
            let mut owned: Box<[u8]> = unsafe { Box::from_raw(raw) };
            owned.zeroize();
            drop(owned);
        }
        *buf = secmail_buffer_t::EMPTY;
    });
}

/// Hands a string to C as a NUL-terminated, library-owned `char *` (free it with
/// [`secmail_string_free`]). The original is wiped.
pub(crate) fn string_out(mut s: String) -> FfiResult<*mut c_char> {
    if s.as_bytes().contains(&0) {
        s.zeroize();
        return Err(FfiError::new(
            SECMAIL_ERR_UTF8,
            "the result contains a NUL byte and cannot be returned as a C string",
        ));
    }
    let mut bytes = Vec::with_capacity(s.len() + 1);
    bytes.extend_from_slice(s.as_bytes());
    s.zeroize();
    // No NUL inside (checked above) and capacity for the terminator: no reallocation.
    let c = CString::new(bytes).map_err(|_| FfiError::new(SECMAIL_ERR_UTF8, "NUL in result"))?;
    Ok(c.into_raw())
}

/// Wipes and frees a string returned by the library. NULL is allowed (nothing happens).
///
/// # Safety
/// `s` is NULL or a string returned by this library through a `char **` out-parameter, not
/// freed before. Strings documented as static (`secmail_result_str`,
/// `secmail_last_error_message`) must not be passed here.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_string_free(s: *mut c_char) {
    entry_void(|| {
        if s.is_null() {
            return;
        }
        // SAFETY: made by CString::into_raw in `string_out` and not freed before (the
        // caller's promise); its length is found again from its NUL terminator.
        let c = unsafe { CString::from_raw(s) };
        let mut bytes = c.into_bytes_with_nul();
        bytes.zeroize();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_round_trip_and_clear() {
        let mut v = Vec::with_capacity(100);
        v.extend_from_slice(b"secret");
        let mut b = secmail_buffer_t::from_vec(v);
        assert_eq!(b.len, 6);
        // SAFETY: `b` was filled by `from_vec` just above.
        let bytes = unsafe { std::slice::from_raw_parts(b.data, b.len) };
        assert_eq!(bytes, b"secret");
        // SAFETY: a buffer filled by the library, freed twice (the second is a no-op).
        unsafe {
            secmail_buffer_free(&mut b);
            assert!(b.data.is_null() && b.len == 0);
            secmail_buffer_free(&mut b);
            secmail_buffer_free(std::ptr::null_mut());
        }
        let e = secmail_buffer_t::from_vec(Vec::new());
        assert!(e.data.is_null() && e.len == 0);
    }

    #[test]
    fn strings_with_a_nul_are_refused() {
        let err = string_out("a\0b".to_owned()).err().map(|e| e.code);
        assert_eq!(err, Some(SECMAIL_ERR_UTF8));
        let s = string_out("fine".to_owned()).unwrap_or(std::ptr::null_mut());
        assert!(!s.is_null());
        // SAFETY: `s` came from `string_out`; NULL is allowed too.
        unsafe {
            secmail_string_free(s);
            secmail_string_free(std::ptr::null_mut());
        }
    }
}
