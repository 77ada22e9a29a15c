//! Streaming input and output through C callbacks (after rnp's `rnp_input_from_callback`),
//! adapted to Rust's `Read` and `Write`.

use std::ffi::c_void;
use std::io::{self, Cursor, Read, Write};

use zeroize::Zeroize;

use crate::args::{self, Out};
use crate::buffer::secmail_buffer_t;
use crate::error::{FfiError, FfiResult, secmail_result_t};
use crate::error::{entry, entry_void};

/// A read callback: fill `buf` with up to `len` bytes, store how many in `*read` (0 means the
/// end of the input), and return 0; return any other value on error (the operation then fails
/// with `SECMAIL_ERR_IO`). Called only during a secmail call that was given the input, on the
/// thread of that call.
pub type secmail_read_cb = Option<
    unsafe extern "C" fn(user: *mut c_void, buf: *mut u8, len: usize, read: *mut usize) -> i32,
>;

/// A write callback: take all `len` bytes at `buf` and return 0; return any other value on
/// error (the operation then fails with `SECMAIL_ERR_IO`). Called only during a secmail call
/// that was given the output, on the thread of that call.
pub type secmail_write_cb =
    Option<unsafe extern "C" fn(user: *mut c_void, buf: *const u8, len: usize) -> i32>;

enum Source {
    Callback {
        read: secmail_read_cb,
        user: *mut c_void,
    },
    Memory(Cursor<Vec<u8>>),
}

/// A source of bytes for the streaming functions: a read callback or a copy of a memory
/// region. Made by `secmail_input_from_callback` or `secmail_input_from_memory`, freed with
/// `secmail_input_free`. Not thread-safe: use one input from one thread at a time.
pub struct secmail_input_t {
    source: Source,
}

impl Drop for secmail_input_t {
    fn drop(&mut self) {
        if let Source::Memory(c) = &mut self.source {
            c.get_mut().zeroize();
        }
    }
}

// SAFETY: the header requires the callback and its user pointer to be usable from the thread
// that calls the function reading the input; the library reads an input only inside such a
// call, on that thread (the Send/Sync bounds come from sequoia's reader types, which do not
// move readers to other threads). `&secmail_input_t` offers no way to call the callback.
unsafe impl Send for secmail_input_t {}
// SAFETY: as above: reading needs `&mut`, so a shared reference cannot reach the callback.
unsafe impl Sync for secmail_input_t {}

impl Read for secmail_input_t {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.source {
            Source::Memory(c) => c.read(buf),
            Source::Callback { read, user } => {
                let Some(cb) = read else {
                    return Err(io::Error::other("no read callback"));
                };
                let mut n: usize = 0;
                // SAFETY: the callback contract (header): it writes at most `buf.len()` bytes
                // into `buf` and a count into `n`; `user` is the caller's own pointer.
                let rc = unsafe { cb(*user, buf.as_mut_ptr(), buf.len(), &mut n) };
                if rc != 0 {
                    return Err(io::Error::other(format!("the read callback returned {rc}")));
                }
                if n > buf.len() {
                    return Err(io::Error::other(format!(
                        "the read callback reported {n} bytes read into a {}-byte buffer",
                        buf.len()
                    )));
                }
                Ok(n)
            }
        }
    }
}

enum Sink {
    Callback {
        write: secmail_write_cb,
        user: *mut c_void,
    },
    Memory(Vec<u8>),
}

/// A destination for the streaming functions: a write callback or a library-owned memory
/// buffer. Made by `secmail_output_to_callback` or `secmail_output_to_memory`, freed with
/// `secmail_output_free`. Not thread-safe: use one output from one thread at a time.
pub struct secmail_output_t {
    sink: Sink,
}

impl Drop for secmail_output_t {
    fn drop(&mut self) {
        if let Sink::Memory(v) = &mut self.sink {
            v.zeroize();
        }
    }
}

// SAFETY: as for `secmail_input_t`: the callback is called only inside a call that was given
// the output, on that call's thread.
unsafe impl Send for secmail_output_t {}
// SAFETY: writing needs `&mut`, so a shared reference cannot reach the callback.
unsafe impl Sync for secmail_output_t {}

impl Write for secmail_output_t {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Memory(v) => {
                // Grow by hand so that the bytes left behind by a reallocation are wiped.
                if v.capacity() - v.len() < buf.len() {
                    let want = v.len().saturating_add(buf.len()).max(v.capacity() * 2);
                    let mut grown = Vec::with_capacity(want);
                    grown.extend_from_slice(v);
                    v.zeroize();
                    *v = grown;
                }
                v.extend_from_slice(buf);
                Ok(buf.len())
            }
            Sink::Callback { write, user } => {
                let Some(cb) = write else {
                    return Err(io::Error::other("no write callback"));
                };
                if buf.is_empty() {
                    return Ok(0);
                }
                // SAFETY: the callback contract (header): it reads `buf.len()` bytes from
                // `buf`, which is valid for that long; `user` is the caller's own pointer.
                let rc = unsafe { cb(*user, buf.as_ptr(), buf.len()) };
                if rc != 0 {
                    return Err(io::Error::other(format!(
                        "the write callback returned {rc}"
                    )));
                }
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl secmail_output_t {
    /// Whether this is a memory output (which failed operations can roll back).
    pub(crate) fn mark(&self) -> Option<usize> {
        match &self.sink {
            Sink::Memory(v) => Some(v.len()),
            Sink::Callback { .. } => None,
        }
    }

    /// Wipes what a failed operation wrote into a memory output after `mark`.
    pub(crate) fn rollback(&mut self, mark: Option<usize>) {
        if let (Sink::Memory(v), Some(m)) = (&mut self.sink, mark)
            && v.len() > m
        {
            v[m..].zeroize();
            v.truncate(m);
        }
    }
}

/// Runs a streaming operation on `output`; on failure, what it wrote to a memory output is
/// wiped (a callback output has already received it: the header tells the caller to discard
/// everything written by a call that failed).
pub(crate) fn with_output<T>(
    output: &mut secmail_output_t,
    op: impl FnOnce(&mut secmail_output_t) -> FfiResult<T>,
) -> FfiResult<T> {
    let mark = output.mark();
    let r = op(output);
    if r.is_err() {
        output.rollback(mark);
    }
    r
}

/// Makes an input that reads through `read` with `user` passed back to it.
///
/// `read` may not be NULL; `user` may be anything (it is only passed to `read`). The result
/// goes to `*out` (set to NULL on failure); free it with `secmail_input_free`.
///
/// # Safety
/// `out` is NULL or writable; `read` and `user` stay usable until the input is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_input_from_callback(
    read: secmail_read_cb,
    user: *mut c_void,
    out: *mut *mut secmail_input_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: `out` is NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, std::ptr::null_mut(), "out") }?;
        if read.is_none() {
            return Err(FfiError::null("read"));
        }
        out.set(args::into_handle(secmail_input_t {
            source: Source::Callback { read, user },
        }));
        Ok(())
    })
}

/// Makes an input that reads a copy of `data[0..len]` (`data` may be NULL when `len` is 0).
/// The copy is wiped when the input is freed. The result goes to `*out` (NULL on failure).
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_input_from_memory(
    data: *const u8,
    len: usize,
    out: *mut *mut secmail_input_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: `out` is NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: `data` is NULL or `len` readable bytes (the caller's promise).
        let data = unsafe { args::bytes(data, len, "data") }?;
        out.set(args::into_handle(secmail_input_t {
            source: Source::Memory(Cursor::new(data.to_vec())),
        }));
        Ok(())
    })
}

/// Frees an input. NULL is allowed.
///
/// # Safety
/// `input` is NULL or an input made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_input_free(input: *mut secmail_input_t) {
    // SAFETY: NULL or a live input handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(input) });
}

/// Makes an output that passes every byte to `write` with `user`. `write` may not be NULL.
/// The result goes to `*out` (NULL on failure); free it with `secmail_output_free`.
///
/// # Safety
/// `out` is NULL or writable; `write` and `user` stay usable until the output is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_output_to_callback(
    write: secmail_write_cb,
    user: *mut c_void,
    out: *mut *mut secmail_output_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: `out` is NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, std::ptr::null_mut(), "out") }?;
        if write.is_none() {
            return Err(FfiError::null("write"));
        }
        out.set(args::into_handle(secmail_output_t {
            sink: Sink::Callback { write, user },
        }));
        Ok(())
    })
}

/// Makes an output that collects the bytes in library memory; take them with
/// `secmail_output_memory_take`. A streaming call that fails wipes what it wrote here.
///
/// # Safety
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_output_to_memory(
    out: *mut *mut secmail_output_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: `out` is NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, std::ptr::null_mut(), "out") }?;
        out.set(args::into_handle(secmail_output_t {
            sink: Sink::Memory(Vec::new()),
        }));
        Ok(())
    })
}

/// Moves the bytes collected by a memory output into `*buffer` (free it with
/// `secmail_buffer_free`) and empties the output. `SECMAIL_ERR_INVALID_ARGUMENT` for a
/// callback output.
///
/// # Safety
/// `output` is NULL or a live output; `buffer` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_output_memory_take(
    output: *mut secmail_output_t,
    buffer: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: `buffer` is NULL or writable (the caller's promise).
        let buffer = unsafe { Out::new(buffer, secmail_buffer_t::EMPTY, "buffer") }?;
        // SAFETY: NULL or a live output used by this thread only (the caller's promise).
        let output = unsafe { args::handle_mut(output, "output") }?;
        match &mut output.sink {
            Sink::Memory(v) => {
                buffer.set(secmail_buffer_t::from_vec(std::mem::take(v)));
                Ok(())
            }
            Sink::Callback { .. } => Err(FfiError::invalid(
                "output is a callback output; only a memory output holds bytes",
            )),
        }
    })
}

/// Frees an output (a memory output's bytes are wiped). NULL is allowed.
///
/// # Safety
/// `output` is NULL or an output made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_output_free(output: *mut secmail_output_t) {
    // SAFETY: NULL or a live output handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(output) });
}
