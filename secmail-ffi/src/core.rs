//! secmail-core over the C ABI: the ABI version, the error mapping of secmail-core, MIME
//! inspection and the passphrase container.

use std::ffi::c_char;
use std::io::{Read, Write};

use secmail_core::mime::{Message, Part};
use secmail_core::passphrase::{
    self, Argon2Params, Cipher, Decryptor, EncryptOptions, Encryptor, Passphrase,
};
use secmail_core::{Error, Limits};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::args::{self, Out};
use crate::buffer::{secmail_buffer_t, string_out};
use crate::error::*;
use crate::stream::{secmail_input_t, secmail_output_t, with_output};

/// The version of the C ABI this header describes. It changes only when a function's
/// signature or meaning changes incompatibly (never for additions); compare it with
/// `secmail_abi_version()` at start-up to catch a program built against another library.
pub const SECMAIL_ABI_VERSION: u32 = 1;

/// The ABI version of the loaded library (see `SECMAIL_ABI_VERSION`).
#[unsafe(no_mangle)]
pub extern "C" fn secmail_abi_version() -> u32 {
    SECMAIL_ABI_VERSION
}

/// The library's version (`"0.1.0"`), a static string: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn secmail_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The one place where secmail-core's errors become codes.
impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::LimitExceeded { .. } => SECMAIL_ERR_LIMIT_EXCEEDED,
            Error::Malformed(_) => SECMAIL_ERR_MALFORMED_MESSAGE,
            Error::Misuse(_) => SECMAIL_ERR_MISUSE,
            Error::Io(_) => SECMAIL_ERR_IO,
            Error::InvalidContainer(_) => SECMAIL_ERR_PASSPHRASE_INVALID_CONTAINER,
            Error::WrongPassphrase => SECMAIL_ERR_PASSPHRASE_WRONG,
            Error::DecryptionFailed => SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED,
            _ => SECMAIL_ERR_CORE_OTHER,
        };
        FfiError::new(code, e.to_string())
    }
}

// ---------------------------------------------------------------------------------------
// MIME

fn part_json(p: &Part) -> Value {
    let ct = p.content_type();
    let params: serde_json::Map<String, Value> = ct
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "path": p.path().to_string(),
        "depth": p.path().depth(),
        "content_type": ct.mime_type(),
        "params": params,
        "transfer_encoding": p.transfer_encoding().as_str(),
        "size": p.size(),
        "body_offset": p.body_offset(),
        "range": [p.range().start, p.range().end],
        "children": p.children().len(),
        "protection": p.protection().map(|pr| pr.name()),
        "defects": p.defects().iter().map(|d| format!("{d:?}")).collect::<Vec<_>>(),
    })
}

/// Parses a message (with the default limits) and describes its MIME tree as JSON: an
/// object with `size`, `from`, `subject` and a `parts` array (depth first, root first), each
/// part with `path`, `depth`, `content_type`, `params`, `transfer_encoding`, `size`,
/// `body_offset`, `range`, `children`, `protection` (`null` or e.g. `"pgp-encrypted"`) and
/// `defects` — the same shape as `secmail mime inspect --json`.
///
/// `message` may be NULL only when `len` is 0. The JSON goes to `*json` (NULL on failure);
/// free it with `secmail_string_free`. Errors: `SECMAIL_ERR_MALFORMED_MESSAGE`,
/// `SECMAIL_ERR_LIMIT_EXCEEDED`.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_mime_inspect_json(
    message: *const u8,
    len: usize,
    json: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let json = unsafe { Out::new(json, std::ptr::null_mut(), "json") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let raw = unsafe { args::bytes(message, len, "message") }?;
        let msg = Message::parse_with_limits(raw.to_vec(), &Limits::default())?;
        let v = json!({
            "size": msg.raw().len(),
            "from": msg.from_address(),
            "subject": msg.header("Subject"),
            "parts": msg.parts().map(part_json).collect::<Vec<_>>(),
        });
        json.set(string_out(v.to_string())?);
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// The passphrase container

/// `secmail_passphrase_encrypt` flag: write the ASCII-armored form.
pub const SECMAIL_PASSPHRASE_ARMOR: u32 = 1;
/// `secmail_passphrase_encrypt` flag: ChaCha20-Poly1305 instead of AES-256-GCM.
pub const SECMAIL_PASSPHRASE_CHACHA20: u32 = 2;
/// `secmail_passphrase_encrypt` flag: the "interactive" Argon2id costs (64 MiB, 3 passes)
/// instead of the recommended ones.
pub const SECMAIL_PASSPHRASE_KDF_INTERACTIVE: u32 = 4;
/// `secmail_passphrase_encrypt` flag: the format's minimum Argon2id costs. For tests only:
/// they make a weak passphrase cheap to guess.
pub const SECMAIL_PASSPHRASE_KDF_MINIMUM: u32 = 8;

const PASSPHRASE_FLAGS: u32 = SECMAIL_PASSPHRASE_ARMOR
    | SECMAIL_PASSPHRASE_CHACHA20
    | SECMAIL_PASSPHRASE_KDF_INTERACTIVE
    | SECMAIL_PASSPHRASE_KDF_MINIMUM;

fn passphrase_options(flags: u32) -> FfiResult<EncryptOptions> {
    if flags & !PASSPHRASE_FLAGS != 0 {
        return Err(FfiError::invalid(format!(
            "unknown flags {:#x}",
            flags & !PASSPHRASE_FLAGS
        )));
    }
    let kdf = match (
        flags & SECMAIL_PASSPHRASE_KDF_INTERACTIVE != 0,
        flags & SECMAIL_PASSPHRASE_KDF_MINIMUM != 0,
    ) {
        (false, false) => Argon2Params::recommended(),
        (true, false) => Argon2Params::interactive(),
        (false, true) => Argon2Params::minimum(),
        (true, true) => {
            return Err(FfiError::invalid(
                "SECMAIL_PASSPHRASE_KDF_INTERACTIVE and SECMAIL_PASSPHRASE_KDF_MINIMUM exclude each other",
            ));
        }
    };
    let cipher = if flags & SECMAIL_PASSPHRASE_CHACHA20 != 0 {
        Cipher::ChaCha20Poly1305
    } else {
        Cipher::Aes256Gcm
    };
    Ok(EncryptOptions::new()
        .cipher(cipher)
        .kdf(kdf)
        .armor(flags & SECMAIL_PASSPHRASE_ARMOR != 0))
}

/// # Safety
/// `ptr` is NULL or `len` readable bytes.
unsafe fn passphrase_arg(ptr: *const u8, len: usize) -> FfiResult<Passphrase> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { args::bytes(ptr, len, "passphrase") }?;
    Ok(Passphrase::new(bytes.to_vec()))
}

/// Encrypts `data[0..data_len]` under a passphrase into secmail's passphrase container
/// (docs/passphrase-format.md): Argon2id, then AES-256-GCM or ChaCha20-Poly1305 in 64 KiB
/// chunks. `flags` is 0 or an OR of `SECMAIL_PASSPHRASE_*` (unknown bits:
/// `SECMAIL_ERR_INVALID_ARGUMENT`).
///
/// The passphrase is bytes (`passphrase_len` of them; it may not be empty:
/// `SECMAIL_ERR_MISUSE`). `data` may be NULL when `data_len` is 0. The container goes to
/// `*out` (`{NULL, 0}` on failure); free it with `secmail_buffer_free`.
///
/// # Safety
/// `passphrase` and `data` are NULL or readable for their lengths; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_passphrase_encrypt(
    passphrase: *const u8,
    passphrase_len: usize,
    data: *const u8,
    data_len: usize,
    flags: u32,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or readable for their lengths (the caller's promise).
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        // SAFETY: as above.
        let data = unsafe { args::bytes(data, data_len, "data") }?;
        let opts = passphrase_options(flags)?;
        out.set(secmail_buffer_t::from_vec(passphrase::encrypt(
            data, &pass, &opts,
        )?));
        Ok(())
    })
}

/// Decrypts a passphrase container (binary or armored, with the default limits on the
/// Argon2 costs it may ask for). All of the plaintext goes to `*out`, or nothing (`{NULL, 0}`)
/// on failure.
///
/// Errors: `SECMAIL_ERR_PASSPHRASE_INVALID_CONTAINER` (not a container),
/// `SECMAIL_ERR_PASSPHRASE_WRONG`, `SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED` (altered or
/// truncated), `SECMAIL_ERR_LIMIT_EXCEEDED` (Argon2 costs past the limits).
///
/// # Safety
/// `passphrase` and `container` are NULL or readable for their lengths; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_passphrase_decrypt(
    passphrase: *const u8,
    passphrase_len: usize,
    container: *const u8,
    container_len: usize,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or readable for their lengths (the caller's promise).
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        // SAFETY: as above.
        let container = unsafe { args::bytes(container, container_len, "container") }?;
        out.set(secmail_buffer_t::from_vec(passphrase::decrypt(
            container, &pass,
        )?));
        Ok(())
    })
}

/// Copies `reader` into `writer` through a wiped buffer, keeping secmail errors that travel
/// inside `io::Error` (the passphrase streams report that way).
fn copy_wiped(reader: &mut dyn Read, writer: &mut dyn Write) -> Result<(), std::io::Error> {
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
    }
}

/// The streaming form of `secmail_passphrase_encrypt`: reads the plaintext from `input` to
/// its end and writes the container to `output`, in memory that does not grow with the data.
///
/// On failure, what was written to a memory output is wiped; a callback output has received
/// part of a container, which the caller must discard.
///
/// # Safety
/// `passphrase` is NULL or readable for its length; `input` and `output` are NULL or live
/// handles not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_passphrase_encrypt_stream(
    passphrase: *const u8,
    passphrase_len: usize,
    input: *mut secmail_input_t,
    flags: u32,
    output: *mut secmail_output_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or readable for its length (the caller's promise).
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        // SAFETY: NULL or live handles used by this thread only (the caller's promise).
        let input = unsafe { args::handle_mut(input, "input") }?;
        // SAFETY: as above.
        let output = unsafe { args::handle_mut(output, "output") }?;
        let opts = passphrase_options(flags)?;
        with_output(output, |output| {
            let mut enc = Encryptor::new(&mut *output, &pass, &opts)?;
            copy_wiped(input, &mut enc).map_err(passphrase::from_io)?;
            enc.finish()?;
            Ok(())
        })
    })
}

/// The streaming form of `secmail_passphrase_decrypt`: reads the container from `input` and
/// writes the plaintext to `output`, one authenticated chunk at a time.
///
/// Only authenticated plaintext is written, but a container cut short or altered further on
/// fails after earlier chunks were written: when the call fails, discard everything it wrote
/// (a memory output is wiped by the library).
///
/// # Safety
/// `passphrase` is NULL or readable for its length; `input` and `output` are NULL or live
/// handles not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_passphrase_decrypt_stream(
    passphrase: *const u8,
    passphrase_len: usize,
    input: *mut secmail_input_t,
    output: *mut secmail_output_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or readable for its length (the caller's promise).
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        // SAFETY: NULL or live handles used by this thread only (the caller's promise).
        let input = unsafe { args::handle_mut(input, "input") }?;
        // SAFETY: as above.
        let output = unsafe { args::handle_mut(output, "output") }?;
        with_output(output, |output| {
            let mut dec = Decryptor::new(input, &pass)?;
            copy_wiped(&mut dec, output).map_err(passphrase::from_io)?;
            Ok(())
        })
    })
}
