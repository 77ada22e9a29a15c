//! Checked conversions of C arguments, out-parameters and opaque handles.
//!
//! Every pointer that crosses the boundary goes through one of these: NULL becomes
//! `SECMAIL_ERR_NULL_ARGUMENT` (never silently ignored), bad UTF-8 becomes `SECMAIL_ERR_UTF8`,
//! and an out-parameter is cleared before any work so that a failed call leaves nothing in it.

use std::ffi::{CStr, c_char};

use crate::error::{FfiError, FfiResult, SECMAIL_ERR_UTF8};

/// `(ptr, len)` bytes from C. NULL is allowed only with `len == 0`.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes that stay valid and unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> FfiResult<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(FfiError::null(name))
        };
    }
    if len > isize::MAX as usize {
        return Err(FfiError::invalid(format!(
            "{name}: length {len} is too large"
        )));
    }
    // SAFETY: non-NULL, `len` ≤ isize::MAX, and the caller promises `len` readable bytes
    // valid for 'a.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A NUL-terminated UTF-8 string from C; NULL is an error.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn str<'a>(ptr: *const c_char, name: &str) -> FfiResult<&'a str> {
    // SAFETY: forwarded from the caller.
    unsafe { opt_str(ptr, name) }?.ok_or_else(|| FfiError::null(name))
}

/// A NUL-terminated UTF-8 string from C, where NULL means "none".
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn opt_str<'a>(ptr: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated, valid for 'a (the caller's promise).
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map(Some)
        .map_err(|_| FfiError::new(SECMAIL_ERR_UTF8, format!("{name} is not valid UTF-8")))
}

/// A shared reference to a handle; NULL is an error.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` made by this library, not freed, and not used
/// mutably by another thread for `'a`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, name: &str) -> FfiResult<&'a T> {
    // SAFETY: forwarded from the caller; `as_ref` turns NULL into None.
    unsafe { ptr.as_ref() }.ok_or_else(|| FfiError::null(name))
}

/// An exclusive reference to a handle; NULL is an error.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` made by this library, not freed, and not used
/// by another thread for `'a`.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, name: &str) -> FfiResult<&'a mut T> {
    // SAFETY: forwarded from the caller; `as_mut` turns NULL into None.
    unsafe { ptr.as_mut() }.ok_or_else(|| FfiError::null(name))
}

/// An array of `count` handles (`const T *const *`); NULL is allowed only with `count == 0`,
/// and no element may be NULL.
///
/// # Safety
/// `ptr` is NULL or points to `count` pointers, each NULL or a live handle of type `T`.
pub(crate) unsafe fn handles<'a, T>(
    ptr: *const *const T,
    count: usize,
    name: &str,
) -> FfiResult<Vec<&'a T>> {
    // SAFETY: forwarded from the caller (an array of `count` pointers).
    let ptrs: &[*const T] = unsafe { slice(ptr, count, name) }?;
    ptrs.iter()
        .enumerate()
        // SAFETY: each element is NULL or a live handle (the caller's promise).
        .map(|(i, p)| unsafe { handle(*p, &format!("{name}[{i}]")) })
        .collect()
}

/// `(ptr, count)` of any plain element type. NULL is allowed only with `count == 0`.
///
/// # Safety
/// `ptr` is NULL or points to `count` initialised elements valid for `'a`.
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, count: usize, name: &str) -> FfiResult<&'a [T]> {
    if ptr.is_null() {
        return if count == 0 {
            Ok(&[])
        } else {
            Err(FfiError::null(name))
        };
    }
    if count.saturating_mul(size_of::<T>()) > isize::MAX as usize {
        return Err(FfiError::invalid(format!(
            "{name}: count {count} is too large"
        )));
    }
    // SAFETY: non-NULL, aligned (the caller's array), `count` elements, size ≤ isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// An out-parameter: checked for NULL, cleared at once (so a failed call leaves the empty
/// value in it), and written only on success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `ptr` and writes `empty` into it.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for writing a `T` (it may be uninitialised: nothing is read or
    /// dropped), for as long as this `Out` lives.
    pub(crate) unsafe fn new(ptr: *mut T, empty: T, name: &str) -> FfiResult<Out<T>> {
        if ptr.is_null() {
            return Err(FfiError::null(name));
        }
        // SAFETY: non-NULL and writable (the caller's promise); `write` neither reads nor
        // drops the old value, which may be uninitialised.
        unsafe { ptr.write(empty) };
        Ok(Out(ptr))
    }

    /// Writes the result. The value written by [`Out::new`] holds nothing that needs dropping
    /// (a NULL pointer, an empty buffer, zero), so overwriting it leaks nothing.
    pub(crate) fn set(self, value: T) {
        // SAFETY: checked non-NULL and writable in `new`.
        unsafe { self.0.write(value) };
    }
}

/// Moves a value to the heap and hands it to C as an opaque handle.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by [`into_handle`]; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` made by [`into_handle`], not used afterwards.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: made by Box::into_raw in `into_handle` and freed only here (the caller's
        // promise), so ownership goes back to a Box exactly once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}
