//! The encrypted store (`secmail_core::store`) over the C ABI: a mailbox directory whose
//! messages and index are sealed to the owner (an OpenPGP certificate, an S/MIME certificate
//! or a passphrase), opened for adding (the public half only) or as the owner.

use std::ffi::{CString, c_char};
use std::path::Path;

use secmail_core::passphrase::{Argon2Params, Passphrase};
use secmail_core::store::{
    Descriptor, Entry, Flags, Mailbox, Opener, PassphraseSealer, Sealer, Store, StoreError,
    StoreLimits,
};
use secmail_pgp::{PgpOpener, PgpSealer};
use secmail_smime::{SmimeOpener, SmimeSealer};
use serde_json::json;

use crate::args::{self, Out};
use crate::buffer::{secmail_buffer_t, string_out};
use crate::core::{SECMAIL_PASSPHRASE_KDF_INTERACTIVE, SECMAIL_PASSPHRASE_KDF_MINIMUM};
use crate::error::*;
use crate::pgp::{password, secmail_cert_t};
use crate::smime::{secmail_smime_cert_t, secmail_smime_key_t};
use crate::stream::{secmail_input_t, secmail_output_t, with_output};

/// The one place where the store's errors become codes.
impl From<StoreError> for FfiError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::Io(_) => SECMAIL_ERR_IO,
            StoreError::InvalidStore(_) => SECMAIL_ERR_STORE_INVALID,
            StoreError::WrongKey => SECMAIL_ERR_STORE_WRONG_KEY,
            StoreError::SchemeMismatch { .. } => SECMAIL_ERR_STORE_SCHEME_MISMATCH,
            StoreError::Damaged(_) => SECMAIL_ERR_STORE_DAMAGED,
            StoreError::BadIndex(_) => SECMAIL_ERR_STORE_BAD_INDEX,
            StoreError::NotFound(_) => SECMAIL_ERR_NOT_FOUND,
            StoreError::TooLarge { .. } => SECMAIL_ERR_LIMIT_EXCEEDED,
            StoreError::Seal(_) => SECMAIL_ERR_STORE_SEAL,
            StoreError::Misuse(_) => SECMAIL_ERR_MISUSE,
            _ => SECMAIL_ERR_STORE_OTHER,
        };
        FfiError::new(code, e.to_string())
    }
}

/// Message flag: read.
pub const SECMAIL_STORE_SEEN: u32 = 1;
/// Message flag: replied to.
pub const SECMAIL_STORE_ANSWERED: u32 = 2;
/// Message flag: flagged for attention.
pub const SECMAIL_STORE_FLAGGED: u32 = 4;
/// Message flag: marked for deletion (the message stays until `secmail_store_delete`).
pub const SECMAIL_STORE_DELETED: u32 = 8;
/// Message flag: a draft.
pub const SECMAIL_STORE_DRAFT: u32 = 16;

const STORE_FLAGS: u32 = SECMAIL_STORE_SEEN
    | SECMAIL_STORE_ANSWERED
    | SECMAIL_STORE_FLAGGED
    | SECMAIL_STORE_DELETED
    | SECMAIL_STORE_DRAFT;

/// An encrypted store, opened for adding (`secmail_store_open_add`, or `secmail_store_init_*`
/// with a certificate) or as its owner (`secmail_store_open_pgp`, `_open_smime`,
/// `_open_passphrase`, or `secmail_store_init_passphrase`). Freed with `secmail_store_free`
/// (the passphrase-derived key is wiped).
///
/// Every function but `secmail_store_reseal_*` and `secmail_store_free` takes a `const`
/// handle and may be called on one handle from several threads at once: the store takes a
/// file lock around every change of its index, as it does between processes.
pub struct secmail_store_t {
    store: Store,
    /// Seals added messages (and, for the owner, the index).
    sealer: Box<dyn Sealer>,
    /// The owner's secret; `None` when opened for adding only.
    opener: Option<Box<dyn Opener>>,
}

impl secmail_store_t {
    fn mailbox(&self) -> FfiResult<Mailbox<'_>> {
        let opener = self.opener.as_deref().ok_or_else(|| {
            FfiError::new(
                SECMAIL_ERR_MISUSE,
                "this store handle was opened for adding only: open it as the owner",
            )
        })?;
        Ok(self.store.owner(self.sealer.as_ref(), opener)?)
    }
}

/// The keys of one owner.
struct Keys {
    sealer: Box<dyn Sealer>,
    opener: Box<dyn Opener>,
}

/// # Safety
/// `dir` is NULL or a NUL-terminated string.
unsafe fn dir_arg<'a>(dir: *const c_char) -> FfiResult<&'a Path> {
    // SAFETY: forwarded from the caller.
    let d = unsafe { args::str(dir, "dir") }?;
    if d.is_empty() {
        return Err(FfiError::invalid("dir is empty"));
    }
    Ok(Path::new(d))
}

/// # Safety
/// `ptr` is NULL or `len` readable bytes.
unsafe fn passphrase_arg(ptr: *const u8, len: usize) -> FfiResult<Passphrase> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { args::bytes(ptr, len, "passphrase") }?;
    if bytes.is_empty() {
        return Err(FfiError::new(SECMAIL_ERR_MISUSE, "the passphrase is empty"));
    }
    Ok(Passphrase::new(bytes.to_vec()))
}

fn kdf(flags: u32) -> FfiResult<Argon2Params> {
    let allowed = SECMAIL_PASSPHRASE_KDF_INTERACTIVE | SECMAIL_PASSPHRASE_KDF_MINIMUM;
    if flags & !allowed != 0 {
        return Err(FfiError::invalid(format!(
            "unknown flags {:#x}",
            flags & !allowed
        )));
    }
    Ok(match flags {
        0 => Argon2Params::recommended(),
        SECMAIL_PASSPHRASE_KDF_INTERACTIVE => Argon2Params::interactive(),
        SECMAIL_PASSPHRASE_KDF_MINIMUM => Argon2Params::minimum(),
        _ => {
            return Err(FfiError::invalid(
                "SECMAIL_PASSPHRASE_KDF_INTERACTIVE and SECMAIL_PASSPHRASE_KDF_MINIMUM exclude each other",
            ));
        }
    })
}

/// # Safety
/// `key` is NULL or a live certificate; `pass` is NULL or `pass_len` readable bytes.
unsafe fn pgp_keys(
    key: *const secmail_cert_t,
    pass: *const u8,
    pass_len: usize,
) -> FfiResult<(Keys, Descriptor)> {
    // SAFETY: forwarded from the caller.
    let key = &unsafe { args::handle(key, "key") }?.cert;
    // SAFETY: forwarded from the caller.
    let pass = unsafe { password(pass, pass_len, "key_passphrase") }?;
    if !key.is_tsk() {
        return Err(FfiError::new(
            SECMAIL_ERR_MISUSE,
            "the key has no secret key material: the owner's secret key is needed",
        ));
    }
    let sealer = PgpSealer::new(key.clone())?;
    let descriptor = sealer.descriptor()?;
    let mut opener = PgpOpener::new(key.clone());
    if let Some(p) = pass {
        opener = opener.key_passphrase(p);
    }
    Ok((
        Keys {
            sealer: Box::new(sealer),
            opener: Box::new(opener),
        },
        descriptor,
    ))
}

/// # Safety
/// `cert` and `key` are NULL or live handles.
unsafe fn smime_keys(
    cert: *const secmail_smime_cert_t,
    key: *const secmail_smime_key_t,
) -> FfiResult<(Keys, Descriptor)> {
    // SAFETY: forwarded from the caller.
    let cert = &unsafe { args::handle(cert, "cert") }?.cert;
    // SAFETY: forwarded from the caller.
    let key = &unsafe { args::handle(key, "key") }?.key;
    let sealer = SmimeSealer::new(cert.clone())?;
    let descriptor = sealer.descriptor()?;
    // PrivateKey is not Clone (on purpose): the opener gets its own copy through PKCS#8,
    // which is wiped after.
    let key = secmail_smime::PrivateKey::load(key.to_pkcs8_pem()?.as_bytes())?;
    let opener = SmimeOpener::new(cert.clone(), key)?;
    Ok((
        Keys {
            sealer: Box::new(sealer),
            opener: Box::new(opener),
        },
        descriptor,
    ))
}

impl Keys {
    /// Whether the opener really opens what the sealer seals: `owns` compares only the public
    /// halves, so a protected OpenPGP key with a wrong key passphrase would pass it and fail
    /// on the first message. A probe round trip makes that `SECMAIL_ERR_STORE_WRONG_KEY` at
    /// once.
    fn check(&self) -> FfiResult {
        const PROBE: &[u8] = b"secmail store key probe";
        let mut sealed = Vec::new();
        self.sealer.seal(&mut &PROBE[..], &mut sealed)?;
        let mut opened = Vec::new();
        match self
            .opener
            .open(&mut &sealed[..], &mut opened, PROBE.len() as u64)
        {
            Ok(()) if opened == PROBE => Ok(()),
            _ => Err(FfiError::new(
                SECMAIL_ERR_STORE_WRONG_KEY,
                "the key does not open what is sealed to it (a wrong key passphrase?)",
            )),
        }
    }
}

fn open_owner(dir: &Path, keys: Keys) -> FfiResult<*mut secmail_store_t> {
    let store = Store::open(dir)?;
    // Checks the scheme and that the secret is the owner's.
    store.owner(keys.sealer.as_ref(), keys.opener.as_ref())?;
    keys.check()?;
    Ok(args::into_handle(secmail_store_t {
        store,
        sealer: keys.sealer,
        opener: Some(keys.opener),
    }))
}

// ---------------------------------------------------------------------------------------
// Making and opening

/// Makes a new store in `dir` for the owner `descriptor` names, and its handle.
fn init(
    dir: &Path,
    descriptor: &Descriptor,
    sealer: Box<dyn Sealer>,
    opener: Option<Box<dyn Opener>>,
) -> FfiResult<*mut secmail_store_t> {
    Ok(args::into_handle(secmail_store_t {
        store: Store::init(dir, descriptor)?,
        sealer,
        opener,
    }))
}

/// Makes a new store in `dir` (created if missing; if it exists it must be empty) owned by
/// the OpenPGP certificate `cert` (its public half is all that is used and written), and
/// opens it for adding into `*store` (free with `secmail_store_free`).
///
/// Errors: `SECMAIL_ERR_STORE_INVALID` (`dir` is not empty), `SECMAIL_ERR_PGP_UNUSABLE_CERT`
/// (no valid encryption key), `SECMAIL_ERR_IO`.
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `cert` is NULL or a live certificate; `store` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_init_pgp(
    dir: *const c_char,
    cert: *const secmail_cert_t,
    store: *mut *mut secmail_store_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(store, std::ptr::null_mut(), "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let dir = unsafe { dir_arg(dir) }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let cert = &unsafe { args::handle(cert, "cert") }?.cert;
        let sealer = PgpSealer::new(cert.clone())?;
        let d = sealer.descriptor()?;
        out.set(init(dir, &d, Box::new(sealer), None)?);
        Ok(())
    })
}

/// Makes a new store in `dir` owned by the S/MIME (X.509, RSA) certificate `cert`, and opens
/// it for adding into `*store`. As `secmail_store_init_pgp` otherwise.
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `cert` is NULL or a live certificate; `store` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_init_smime(
    dir: *const c_char,
    cert: *const secmail_smime_cert_t,
    store: *mut *mut secmail_store_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(store, std::ptr::null_mut(), "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let dir = unsafe { dir_arg(dir) }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let cert = &unsafe { args::handle(cert, "cert") }?.cert;
        let sealer = SmimeSealer::new(cert.clone())?;
        let d = sealer.descriptor()?;
        out.set(init(dir, &d, Box::new(sealer), None)?);
        Ok(())
    })
}

/// Makes a new store in `dir` sealed under a passphrase (Argon2id with the recommended costs,
/// or those of `SECMAIL_PASSPHRASE_KDF_INTERACTIVE` / `_KDF_MINIMUM` in `flags`), and opens it
/// as the owner into `*store` (the passphrase is the owner's secret). The passphrase may not
/// be empty (`SECMAIL_ERR_MISUSE`).
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `passphrase` is NULL or `passphrase_len`
/// readable bytes; `store` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_init_passphrase(
    dir: *const c_char,
    passphrase: *const u8,
    passphrase_len: usize,
    flags: u32,
    store: *mut *mut secmail_store_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(store, std::ptr::null_mut(), "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let dir = unsafe { dir_arg(dir) }?;
        // SAFETY: NULL or readable for its length (the caller's promise).
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        let params = kdf(flags)?;
        let (sealer, d) = PassphraseSealer::create(&pass, params)?;
        let opener = PassphraseSealer::unlock(&d, &pass)?;
        out.set(init(dir, &d, Box::new(sealer), Some(Box::new(opener)))?);
        Ok(())
    })
}

/// Opens the store in `dir` for adding messages only, with the owner's public half from the
/// store's descriptor; a passphrase store needs its passphrase (`passphrase_len` > 0), the
/// others none (NULL, 0). A handle opened this way can add, nothing else (the owner's
/// functions return `SECMAIL_ERR_MISUSE`).
///
/// Errors: `SECMAIL_ERR_STORE_INVALID` (not a store), `SECMAIL_ERR_STORE_WRONG_KEY` (wrong
/// passphrase), `SECMAIL_ERR_MISUSE` (a passphrase store without a passphrase).
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `passphrase` is NULL or `passphrase_len`
/// readable bytes; `store` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_open_add(
    dir: *const c_char,
    passphrase: *const u8,
    passphrase_len: usize,
    store: *mut *mut secmail_store_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(store, std::ptr::null_mut(), "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let dir = unsafe { dir_arg(dir) }?;
        // SAFETY: NULL or readable for its length (the caller's promise).
        let pass = unsafe { args::bytes(passphrase, passphrase_len, "passphrase") }?;
        let s = Store::open(dir)?;
        let d = s.descriptor();
        let sealer: Box<dyn Sealer> = match d.scheme.as_str() {
            "openpgp" => Box::new(PgpSealer::from_descriptor(d)?),
            "smime" => Box::new(SmimeSealer::from_descriptor(d)?),
            "passphrase" => {
                if pass.is_empty() {
                    return Err(FfiError::new(
                        SECMAIL_ERR_MISUSE,
                        "this store is sealed with a passphrase: give it",
                    ));
                }
                Box::new(PassphraseSealer::unlock(
                    d,
                    &Passphrase::new(pass.to_vec()),
                )?)
            }
            other => {
                return Err(FfiError::new(
                    SECMAIL_ERR_STORE_INVALID,
                    format!("unknown store scheme {other:?}"),
                ));
            }
        };
        out.set(args::into_handle(secmail_store_t {
            store: s,
            sealer,
            opener: None,
        }));
        Ok(())
    })
}

/// Opens the OpenPGP store in `dir` as its owner, with the owner's secret key `key` (unlocked
/// with `key_passphrase` when its secret keys are protected; NULL, 0 otherwise).
///
/// Errors: `SECMAIL_ERR_STORE_WRONG_KEY` (not the owner's key),
/// `SECMAIL_ERR_STORE_SCHEME_MISMATCH` (not an OpenPGP store), `SECMAIL_ERR_MISUSE` (`key`
/// has no secret key), `SECMAIL_ERR_STORE_INVALID`.
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `key` is NULL or a live certificate;
/// `key_passphrase` is NULL or `key_passphrase_len` readable bytes; `store` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_open_pgp(
    dir: *const c_char,
    key: *const secmail_cert_t,
    key_passphrase: *const u8,
    key_passphrase_len: usize,
    store: *mut *mut secmail_store_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(store, std::ptr::null_mut(), "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let dir = unsafe { dir_arg(dir) }?;
        // SAFETY: NULL or live / readable for their lengths (the caller's promise).
        let (keys, _) = unsafe { pgp_keys(key, key_passphrase, key_passphrase_len) }?;
        out.set(open_owner(dir, keys)?);
        Ok(())
    })
}

/// Opens the S/MIME store in `dir` as its owner, with the owner's certificate and private
/// key. Errors as `secmail_store_open_pgp`.
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `cert` and `key` are NULL or live handles;
/// `store` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_open_smime(
    dir: *const c_char,
    cert: *const secmail_smime_cert_t,
    key: *const secmail_smime_key_t,
    store: *mut *mut secmail_store_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(store, std::ptr::null_mut(), "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let dir = unsafe { dir_arg(dir) }?;
        // SAFETY: NULL or live handles (the caller's promise).
        let (keys, _) = unsafe { smime_keys(cert, key) }?;
        out.set(open_owner(dir, keys)?);
        Ok(())
    })
}

/// Opens the passphrase store in `dir` as its owner. Errors: `SECMAIL_ERR_STORE_WRONG_KEY`
/// (another passphrase), `SECMAIL_ERR_STORE_SCHEME_MISMATCH`, `SECMAIL_ERR_MISUSE` (empty
/// passphrase), `SECMAIL_ERR_LIMIT_EXCEEDED` (the store asks for Argon2 costs past the
/// default limits).
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `passphrase` is NULL or `passphrase_len`
/// readable bytes; `store` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_open_passphrase(
    dir: *const c_char,
    passphrase: *const u8,
    passphrase_len: usize,
    store: *mut *mut secmail_store_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(store, std::ptr::null_mut(), "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let dir = unsafe { dir_arg(dir) }?;
        // SAFETY: NULL or readable for its length (the caller's promise).
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        let s = Store::open(dir)?;
        let sealer = PassphraseSealer::unlock(s.descriptor(), &pass)?;
        let opener = PassphraseSealer::unlock(s.descriptor(), &pass)?;
        out.set(args::into_handle(secmail_store_t {
            store: s,
            sealer: Box::new(sealer),
            opener: Some(Box::new(opener)),
        }));
        Ok(())
    })
}

/// Changes the bounds the store handle reads with (they start at the defaults):
/// `max_message_size` is the largest message added or opened, in bytes (default 64 MiB; a
/// message is held in memory while it is opened, so this bounds memory too), `max_messages`
/// the most messages the index may list (default 1,000,000). 0 keeps a bound as it is.
/// A message past the bound is `SECMAIL_ERR_LIMIT_EXCEEDED` and nothing of it is stored or
/// released.
///
/// # Safety
/// `store` is NULL or a live store handle not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_set_limits(
    store: *mut secmail_store_t,
    max_message_size: u64,
    max_messages: usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live handle used by this thread only (the caller's promise).
        let h = unsafe { args::handle_mut(store, "store") }?;
        let mut limits: StoreLimits = h.store.limits().clone();
        if max_message_size != 0 {
            limits = limits.with_max_message_size(max_message_size);
        }
        if max_messages != 0 {
            limits = limits.with_max_messages(max_messages);
        }
        h.store = Store::open_with_limits(h.store.dir(), limits)?;
        Ok(())
    })
}

/// The store's scheme (`"openpgp"`, `"smime"` or `"passphrase"`) into `*scheme` (free with
/// `secmail_string_free`), and whether the handle was opened as the owner into `*owner`.
///
/// # Safety
/// `store` is NULL or a live store handle; `scheme` and `owner` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_info(
    store: *const secmail_store_t,
    scheme: *mut *mut c_char,
    owner: *mut bool,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let scheme = unsafe { Out::new(scheme, std::ptr::null_mut(), "scheme") }?;
        // SAFETY: NULL or writable (the caller's promise).
        let owner = unsafe { Out::new(owner, false, "owner") }?;
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        scheme.set(string_out(h.store.descriptor().scheme.clone())?);
        owner.set(h.opener.is_some());
        Ok(())
    })
}

/// Frees a store handle (wiping a passphrase-derived key). NULL is a no-op.
///
/// # Safety
/// `store` is NULL or a live store handle, not used afterwards and not in use by another
/// thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_free(store: *mut secmail_store_t) {
    // SAFETY: NULL or a live handle, not used afterwards (the caller's promise).
    entry_void(|| unsafe { args::free_handle(store) });
}

// ---------------------------------------------------------------------------------------
// Adding

fn id_out(out: Out<*mut c_char>, id: String) -> FfiResult {
    out.set(string_out(id)?);
    Ok(())
}

/// Seals the message `message[0..len]` into the store and gives its id (1 to 64 of
/// `[0-9A-Za-z.]`) in `*id` (free with `secmail_string_free`) once it is durable. Works on
/// any handle (for adding or the owner's). Nothing of the plaintext touches the disk.
///
/// Errors: `SECMAIL_ERR_LIMIT_EXCEEDED` (larger than the store's `max_message_size`),
/// `SECMAIL_ERR_STORE_SEAL`, `SECMAIL_ERR_IO`.
///
/// # Safety
/// `store` is NULL or a live store handle; `message` is NULL or `len` readable bytes; `id` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_add(
    store: *const secmail_store_t,
    message: *const u8,
    len: usize,
    id: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let id = unsafe { Out::new(id, std::ptr::null_mut(), "id") }?;
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let mut msg = unsafe { args::bytes(message, len, "message") }?;
        id_out(id, h.store.add(h.sealer.as_ref(), &mut msg)?)
    })
}

/// As `secmail_store_add`, reading the message from `input` to its end (a read callback, so a
/// large message need not be in memory; the store keeps at most its header section).
///
/// # Safety
/// `store` is NULL or a live store handle; `input` is NULL or a live input not used by
/// another thread during the call; `id` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_add_stream(
    store: *const secmail_store_t,
    input: *mut secmail_input_t,
    id: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let id = unsafe { Out::new(id, std::ptr::null_mut(), "id") }?;
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        // SAFETY: NULL or a live input used by this thread only (the caller's promise).
        let input = unsafe { args::handle_mut(input, "input") }?;
        id_out(id, h.store.add(h.sealer.as_ref(), input)?)
    })
}

// ---------------------------------------------------------------------------------------
// The owner's functions

/// One message as the index knows it, filled by `secmail_store_list_entry`. The strings
/// belong to the list and stay valid until `secmail_store_list_free`; never free them.
#[repr(C)]
pub struct secmail_store_entry_t {
    /// The message id.
    pub id: *const c_char,
    /// When it was added, in seconds since the Unix epoch.
    pub added: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its `SECMAIL_STORE_*` flags.
    pub flags: u32,
    /// Its `Date` field as written (`""` if none).
    pub date: *const c_char,
    /// Its `From` field (`""` if none).
    pub from: *const c_char,
    /// Its `Subject` field, RFC 2047 words decoded (`""` if none).
    pub subject: *const c_char,
}

struct ListedEntry {
    entry: Entry,
    id: CString,
    date: CString,
    from: CString,
    subject: CString,
}

/// A C string of `s`; a NUL inside (a header field may hold an encoded one) becomes U+FFFD.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{fffd}")).unwrap_or_default()
}

/// The messages of a store at the time of `secmail_store_list`. Freed with
/// `secmail_store_list_free`. Immutable: may be read from several threads at once.
pub struct secmail_store_list_t {
    entries: Vec<ListedEntry>,
}

fn entry_json(e: &Entry) -> serde_json::Value {
    json!({
        "id": e.id, "added": e.added, "date": e.date, "from": e.from,
        "subject": e.subject, "size": e.size, "flags": e.flags.names(),
    })
}

/// Lists every message (sorted by time added, then id) into `*list` (free with
/// `secmail_store_list_free`). Owner only (`SECMAIL_ERR_MISUSE` otherwise). Messages added
/// since the last list are folded into the index.
///
/// Errors: `SECMAIL_ERR_STORE_BAD_INDEX` (the index opened but does not parse: see
/// `secmail_store_rebuild`), `SECMAIL_ERR_STORE_DAMAGED`, `SECMAIL_ERR_LIMIT_EXCEEDED`.
///
/// # Safety
/// `store` is NULL or a live store handle; `list` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_list(
    store: *const secmail_store_t,
    list: *mut *mut secmail_store_list_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(list, std::ptr::null_mut(), "list") }?;
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        let entries = h
            .mailbox()?
            .list()?
            .into_iter()
            .map(|e| ListedEntry {
                id: c_string(&e.id),
                date: c_string(&e.date),
                from: c_string(&e.from),
                subject: c_string(&e.subject),
                entry: e,
            })
            .collect();
        out.set(args::into_handle(secmail_store_list_t { entries }));
        Ok(())
    })
}

/// Lists every message as a JSON array into `*json` (free with `secmail_string_free`): one
/// object per message with `id`, `added`, `date`, `from`, `subject`, `size` and `flags` (an
/// array of `"seen"`, `"answered"`, `"flagged"`, `"deleted"`, `"draft"`), the shape of
/// `secmail store list --json`. As `secmail_store_list` otherwise.
///
/// # Safety
/// `store` is NULL or a live store handle; `json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_list_json(
    store: *const secmail_store_t,
    json: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(json, std::ptr::null_mut(), "json") }?;
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        let v: Vec<serde_json::Value> = h.mailbox()?.list()?.iter().map(entry_json).collect();
        out.set(string_out(serde_json::Value::Array(v).to_string())?);
        Ok(())
    })
}

/// The number of messages in `list`, into `*count`.
///
/// # Safety
/// `list` is NULL or a live list; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_list_count(
    list: *const secmail_store_list_t,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let count = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live list (the caller's promise).
        let l = unsafe { args::handle(list, "list") }?;
        count.set(l.entries.len());
        Ok(())
    })
}

/// Message `index` (0-based, below `secmail_store_list_count`) of `list` into `*entry`, whose
/// strings belong to the list. An index out of range is `SECMAIL_ERR_INVALID_ARGUMENT` (and
/// `*entry` is all NULL and 0).
///
/// # Safety
/// `list` is NULL or a live list; `entry` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_list_entry(
    list: *const secmail_store_list_t,
    index: usize,
    entry: *mut secmail_store_entry_t,
) -> secmail_result_t {
    crate::error::entry(|| {
        let empty = secmail_store_entry_t {
            id: std::ptr::null(),
            added: 0,
            size: 0,
            flags: 0,
            date: std::ptr::null(),
            from: std::ptr::null(),
            subject: std::ptr::null(),
        };
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(entry, empty, "entry") }?;
        // SAFETY: NULL or a live list (the caller's promise).
        let l = unsafe { args::handle(list, "list") }?;
        let e = l.entries.get(index).ok_or_else(|| {
            FfiError::invalid(format!(
                "entry {index} asked for, the list has {}",
                l.entries.len()
            ))
        })?;
        out.set(secmail_store_entry_t {
            id: e.id.as_ptr(),
            added: e.entry.added,
            size: e.entry.size,
            flags: u32::from(e.entry.flags.bits()),
            date: e.date.as_ptr(),
            from: e.from.as_ptr(),
            subject: e.subject.as_ptr(),
        });
        Ok(())
    })
}

/// Frees a list (its entries' strings with it). NULL is a no-op.
///
/// # Safety
/// `list` is NULL or a live list, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_list_free(list: *mut secmail_store_list_t) {
    // SAFETY: NULL or a live list, not used afterwards (the caller's promise).
    entry_void(|| unsafe { args::free_handle(list) });
}

/// Opens message `id` into `*message` (byte-exact as added; free with `secmail_buffer_free`,
/// which wipes it). Owner only. Nothing is released unless the whole message authenticated.
///
/// Errors: `SECMAIL_ERR_NOT_FOUND` (no such id), `SECMAIL_ERR_STORE_DAMAGED` (altered,
/// truncated, or not sealed to this owner), `SECMAIL_ERR_LIMIT_EXCEEDED`.
///
/// # Safety
/// `store` is NULL or a live store handle; `id` is NULL or a NUL-terminated string; `message`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_get(
    store: *const secmail_store_t,
    id: *const c_char,
    message: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(message, secmail_buffer_t::EMPTY, "message") }?;
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let id = unsafe { args::str(id, "id") }?;
        let mut buf = zeroize::Zeroizing::new(Vec::new());
        h.mailbox()?.get(id, &mut *buf)?;
        out.set(secmail_buffer_t::from_vec(std::mem::take(&mut *buf)));
        Ok(())
    })
}

/// As `secmail_store_get`, writing the message to `output` (a write callback or memory).
/// The message is written only after it authenticated; if the output fails part-way, discard
/// what it received.
///
/// # Safety
/// `store` is NULL or a live store handle; `id` is NULL or a NUL-terminated string; `output`
/// is NULL or a live output not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_get_stream(
    store: *const secmail_store_t,
    id: *const c_char,
    output: *mut secmail_output_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let id = unsafe { args::str(id, "id") }?;
        // SAFETY: NULL or a live output used by this thread only (the caller's promise).
        let output = unsafe { args::handle_mut(output, "output") }?;
        let mb = h.mailbox()?;
        with_output(output, |o| {
            mb.get(id, o)?;
            Ok(())
        })
    })
}

/// Sets the `SECMAIL_STORE_*` flags in `set` and clears those in `clear` on message `id`
/// (clearing wins where both name a flag); its new flags go to `*flags` unless `flags` is
/// NULL. Owner only. Unknown bits are `SECMAIL_ERR_INVALID_ARGUMENT`; no such id is
/// `SECMAIL_ERR_NOT_FOUND`.
///
/// # Safety
/// `store` is NULL or a live store handle; `id` is NULL or a NUL-terminated string; `flags`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_flag(
    store: *const secmail_store_t,
    id: *const c_char,
    set: u32,
    clear: u32,
    flags: *mut u32,
) -> secmail_result_t {
    entry(|| {
        let flags = if flags.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(flags, 0, "flags") }?)
        };
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let id = unsafe { args::str(id, "id") }?;
        let to_flags = |bits: u32, name: &str| {
            u8::try_from(bits)
                .ok()
                .filter(|_| bits & !STORE_FLAGS == 0)
                .and_then(Flags::from_bits)
                .ok_or_else(|| {
                    FfiError::invalid(format!("{name}: unknown flags {:#x}", bits & !STORE_FLAGS))
                })
        };
        let (s, c) = (to_flags(set, "set")?, to_flags(clear, "clear")?);
        let now = h.mailbox()?.flag(id, s, c)?;
        if let Some(f) = flags {
            f.set(u32::from(now.bits()));
        }
        Ok(())
    })
}

/// Deletes message `id`: first from the index (durably), then its file. Owner only. No such
/// id is `SECMAIL_ERR_NOT_FOUND`.
///
/// # Safety
/// `store` is NULL or a live store handle; `id` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_delete(
    store: *const secmail_store_t,
    id: *const c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        // SAFETY: NULL or a string (the caller's promise).
        let id = unsafe { args::str(id, "id") }?;
        Ok(h.mailbox()?.delete(id)?)
    })
}

/// Opens every message and checks it against the index. Whether nothing is wrong goes to
/// `*clean`; unless `report` is NULL, a JSON report to `*report` (free with
/// `secmail_string_free`): `{"ok": n, "problems": ["…", …], "leftovers": n}` (`ok`:
/// messages that open and match; `problems`: one line each; `leftovers`: files of writes in
/// progress or cut short by a crash, which are not problems). Owner only. Problems found are
/// not an error: the call returns `SECMAIL_OK` with `*clean` false.
///
/// # Safety
/// `store` is NULL or a live store handle; `clean` is NULL or writable; `report` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_verify(
    store: *const secmail_store_t,
    clean: *mut bool,
    report: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let clean = unsafe { Out::new(clean, false, "clean") }?;
        let report = if report.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(report, std::ptr::null_mut(), "report") }?)
        };
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        let r = h.mailbox()?.verify()?;
        if let Some(out) = report {
            let v = json!({"ok": r.ok, "problems": r.problems, "leftovers": r.leftovers});
            out.set(string_out(v.to_string())?);
        }
        clean.set(r.is_clean());
        Ok(())
    })
}

/// Makes the index again from the messages themselves (after it was lost or damaged: list,
/// flag and delete then work again). Flags are kept where the old index still opens. Owner
/// only. Unless `failed` is NULL, the names of the files that did not open (left where they
/// are) go to `*failed` as a JSON array of strings (free with `secmail_string_free`).
///
/// # Safety
/// `store` is NULL or a live store handle; `failed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_rebuild(
    store: *const secmail_store_t,
    failed: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        let failed = if failed.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(failed, std::ptr::null_mut(), "failed") }?)
        };
        // SAFETY: NULL or a live handle (the caller's promise).
        let h = unsafe { args::handle(store, "store") }?;
        let names = h.mailbox()?.rebuild()?;
        if let Some(out) = failed {
            out.set(string_out(json!(names).to_string())?);
        }
        Ok(())
    })
}

/// Re-seals everything to `new` and switches the handle to the new owner.
fn reseal(
    h: &mut secmail_store_t,
    new: Keys,
    descriptor: &Descriptor,
    count: Out<usize>,
) -> FfiResult {
    let old = h.opener.as_deref().ok_or_else(|| {
        FfiError::new(
            SECMAIL_ERR_MISUSE,
            "this store handle was opened for adding only: open it as the owner",
        )
    })?;
    new.check()?;
    let n = h.store.reseal(
        (h.sealer.as_ref(), old),
        descriptor,
        (new.sealer.as_ref(), new.opener.as_ref()),
    )?;
    h.store = Store::open_with_limits(h.store.dir(), h.store.limits().clone())?;
    h.sealer = new.sealer;
    h.opener = Some(new.opener);
    count.set(n);
    Ok(())
}

/// Re-seals every message and the index to a new owner, the OpenPGP key `key` (key rotation;
/// crash-safe: after an interruption, call it again with the same keys). The handle must be
/// the current owner's; on success it becomes the new owner's, and the number of objects
/// re-sealed goes to `*count`. Processes that opened the store for adding before the switch
/// keep sealing to the old owner: stop them or reseal again once they are done.
///
/// # Safety
/// `store` is NULL or a live store handle not used by another thread during the call; `key`
/// is NULL or a live certificate; `key_passphrase` is NULL or `key_passphrase_len` readable
/// bytes; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_reseal_pgp(
    store: *mut secmail_store_t,
    key: *const secmail_cert_t,
    key_passphrase: *const u8,
    key_passphrase_len: usize,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let count = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live handle used by this thread only (the caller's promise).
        let h = unsafe { args::handle_mut(store, "store") }?;
        // SAFETY: NULL or live / readable for their lengths (the caller's promise).
        let (keys, d) = unsafe { pgp_keys(key, key_passphrase, key_passphrase_len) }?;
        reseal(h, keys, &d, count)
    })
}

/// As `secmail_store_reseal_pgp`, to the S/MIME certificate `cert` and its private `key`.
///
/// # Safety
/// `store` is NULL or a live store handle not used by another thread during the call; `cert`
/// and `key` are NULL or live handles; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_reseal_smime(
    store: *mut secmail_store_t,
    cert: *const secmail_smime_cert_t,
    key: *const secmail_smime_key_t,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let count = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live handle used by this thread only (the caller's promise).
        let h = unsafe { args::handle_mut(store, "store") }?;
        // SAFETY: NULL or live handles (the caller's promise).
        let (keys, d) = unsafe { smime_keys(cert, key) }?;
        reseal(h, keys, &d, count)
    })
}

/// As `secmail_store_reseal_pgp`, to a passphrase (Argon2id costs chosen by `flags` as for
/// `secmail_store_init_passphrase`). If an interrupted run already switched the store to this
/// passphrase, its salt is reused so that the run can finish.
///
/// # Safety
/// `store` is NULL or a live store handle not used by another thread during the call;
/// `passphrase` is NULL or `passphrase_len` readable bytes; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_store_reseal_passphrase(
    store: *mut secmail_store_t,
    passphrase: *const u8,
    passphrase_len: usize,
    flags: u32,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let count = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live handle used by this thread only (the caller's promise).
        let h = unsafe { args::handle_mut(store, "store") }?;
        // SAFETY: NULL or readable for its length (the caller's promise).
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        let params = kdf(flags)?;
        let current = h.store.descriptor().clone();
        let old_owns = h
            .opener
            .as_deref()
            .is_some_and(|o| o.owns(&current.public).is_ok());
        let (sealer, d) = match PassphraseSealer::unlock(&current, &pass) {
            // An earlier run switched the descriptor to this passphrase already.
            Ok(s) if !old_owns => (s, current),
            _ => PassphraseSealer::create(&pass, params)?,
        };
        let opener = PassphraseSealer::unlock(&d, &pass)?;
        let keys = Keys {
            sealer: Box::new(sealer),
            opener: Box::new(opener),
        };
        reseal(h, keys, &d, count)
    })
}
