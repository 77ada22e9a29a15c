//! OpenPGP (secmail-pgp) over the C ABI: keys and certificates, the certificate store,
//! encryption, decryption, signatures, PGP/MIME and Autocrypt.

use std::ffi::c_char;

use secmail_pgp::{
    Algorithm, CertStore, DecryptOptions, Encoding, EncryptOptions, Error, KeyGenOptions,
    KeyProfile, Password, PreferEncrypt, SigningKey,
};

use crate::args::{self, Out};
use crate::buffer::{secmail_buffer_t, string_out};
use crate::error::*;
use crate::stream::{secmail_input_t, secmail_output_t, with_output};
use crate::verdict::secmail_verdict_t;

/// The one place where secmail-pgp's errors become codes.
impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Misuse(_) => SECMAIL_ERR_MISUSE,
            Error::Malformed { .. } => SECMAIL_ERR_PGP_MALFORMED,
            Error::UnusableCert { .. } => SECMAIL_ERR_PGP_UNUSABLE_CERT,
            Error::KeyLocked { .. } => SECMAIL_ERR_PGP_KEY_LOCKED,
            Error::CannotDecrypt => SECMAIL_ERR_PGP_CANNOT_DECRYPT,
            Error::NoIntegrityProtection => SECMAIL_ERR_PGP_NO_INTEGRITY_PROTECTION,
            Error::Integrity => SECMAIL_ERR_PGP_INTEGRITY,
            Error::NoGoodSignature => SECMAIL_ERR_PGP_NO_GOOD_SIGNATURE,
            Error::TooLarge { .. } => SECMAIL_ERR_PGP_TOO_LARGE,
            Error::Io(_) => SECMAIL_ERR_IO,
            Error::Mime(_) => {
                return match e {
                    Error::Mime(inner) => FfiError::from(inner),
                    _ => FfiError::new(SECMAIL_ERR_PGP_OTHER, "unreachable"),
                };
            }
            _ => SECMAIL_ERR_PGP_OTHER,
        };
        FfiError::new(code, e.to_string())
    }
}

/// An OpenPGP certificate, possibly with its secret keys (a "key"). Made by
/// `secmail_pgp_generate`, `secmail_cert_from_bytes` and the lookups; freed with
/// `secmail_cert_free`. Immutable: may be read from several threads at once.
pub struct secmail_cert_t {
    pub(crate) cert: secmail_pgp::Cert,
}

/// An unlocked signing key, made from a key by `secmail_pgp_signer_new`; freed (and its
/// secret wiped) with `secmail_pgp_signer_free`. Immutable: may be shared between threads.
pub struct secmail_pgp_signer_t {
    key: SigningKey,
}

/// A store of OpenPGP certificates (public parts only), in memory or in a directory. Made by
/// `secmail_certstore_new` or `secmail_certstore_open`; freed with `secmail_certstore_free`.
/// Changed by `secmail_certstore_insert` / `_import`: use from one thread at a time.
pub struct secmail_certstore_t {
    store: CertStore,
}

/// Options for decryption (keys, passphrases, certificates to verify with). Made by
/// `secmail_pgp_decrypt_options_new`, filled with the `_add_*` functions, freed with
/// `secmail_pgp_decrypt_options_free` (passphrases wiped). One thread at a time while filling.
pub struct secmail_pgp_decrypt_options_t {
    opts: DecryptOptions,
}

/// Flag: ASCII armor instead of binary output.
pub const SECMAIL_PGP_ARMOR: u32 = 1;
/// `secmail_pgp_sign` flag: a detached signature instead of a signed message.
pub const SECMAIL_PGP_DETACHED: u32 = 2;
/// `secmail_pgp_generate` flag: an RFC 9580 (v6) key instead of RFC 4880 (v4, what gpg reads).
pub const SECMAIL_PGP_KEYGEN_RFC9580: u32 = 4;

/// Key algorithm for `secmail_pgp_generate`: Ed25519 + X25519 (the default, fast).
pub const SECMAIL_PGP_ALGO_CV25519: u32 = 0;
/// Key algorithm for `secmail_pgp_generate`: RSA 3072.
pub const SECMAIL_PGP_ALGO_RSA3072: u32 = 1;
/// Key algorithm for `secmail_pgp_generate`: RSA 4096.
pub const SECMAIL_PGP_ALGO_RSA4096: u32 = 2;

fn check_flags(flags: u32, allowed: u32) -> FfiResult<()> {
    if flags & !allowed != 0 {
        return Err(FfiError::invalid(format!(
            "unknown flags {:#x}",
            flags & !allowed
        )));
    }
    Ok(())
}

fn encoding(flags: u32) -> Encoding {
    if flags & SECMAIL_PGP_ARMOR != 0 {
        Encoding::Armored
    } else {
        Encoding::Binary
    }
}

/// # Safety
/// `ptr` is NULL or `len` readable bytes.
pub(crate) unsafe fn password(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> FfiResult<Option<Password>> {
    // SAFETY: forwarded from the caller.
    let b = unsafe { args::bytes(ptr, len, name) }?;
    Ok((!b.is_empty()).then(|| Password::from(b)))
}

/// # Safety
/// As `args::handles`.
unsafe fn certs<'a>(
    ptr: *const *const secmail_cert_t,
    count: usize,
    name: &str,
) -> FfiResult<Vec<&'a secmail_pgp::Cert>> {
    // SAFETY: forwarded from the caller.
    Ok(unsafe { args::handles(ptr, count, name) }?
        .into_iter()
        .map(|c| &c.cert)
        .collect())
}

fn cert_handle(cert: secmail_pgp::Cert) -> *mut secmail_cert_t {
    args::into_handle(secmail_cert_t { cert })
}

// ---------------------------------------------------------------------------------------
// Keys and certificates

/// Generates a key (primary certification key, signing and encryption subkeys) for `userid`
/// (e.g. `"Alice <alice@example.org>"`, not NULL), with `algorithm` (`SECMAIL_PGP_ALGO_*`)
/// and `flags` (0 or `SECMAIL_PGP_KEYGEN_RFC9580`). The secret keys are protected with
/// `passphrase` when `passphrase_len` > 0. The key goes to `*key`; its revocation certificate
/// (armored; keep it safe) to `*revocation` unless `revocation` is NULL.
///
/// # Safety
/// `userid` is NULL or a NUL-terminated string; `passphrase` is NULL or readable for its
/// length; `key` is NULL or writable; `revocation` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_generate(
    userid: *const c_char,
    algorithm: u32,
    flags: u32,
    passphrase: *const u8,
    passphrase_len: usize,
    key: *mut *mut secmail_cert_t,
    revocation: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let key = unsafe { Out::new(key, std::ptr::null_mut(), "key") }?;
        let revocation = if revocation.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(revocation, secmail_buffer_t::EMPTY, "revocation") }?)
        };
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let userid = unsafe { args::str(userid, "userid") }?;
        check_flags(flags, SECMAIL_PGP_KEYGEN_RFC9580)?;
        let mut opts = KeyGenOptions::new(userid);
        opts.algorithm = match algorithm {
            SECMAIL_PGP_ALGO_CV25519 => Algorithm::Cv25519,
            SECMAIL_PGP_ALGO_RSA3072 => Algorithm::Rsa3072,
            SECMAIL_PGP_ALGO_RSA4096 => Algorithm::Rsa4096,
            other => return Err(FfiError::invalid(format!("unknown algorithm {other}"))),
        };
        if flags & SECMAIL_PGP_KEYGEN_RFC9580 != 0 {
            opts.profile = KeyProfile::Rfc9580;
        }
        // SAFETY: NULL or readable for its length (the caller's promise).
        opts.passphrase = unsafe { password(passphrase, passphrase_len, "passphrase") }?;
        let generated = secmail_pgp::generate(&opts)?;
        if let Some(out) = revocation {
            out.set(secmail_buffer_t::from_vec(secmail_pgp::export_revocation(
                &generated.revocation,
            )?));
        }
        key.set(cert_handle(generated.key));
        Ok(())
    })
}

/// Reads one certificate or key (armored or binary) from `data[0..len]` into `*cert`.
/// `SECMAIL_ERR_PGP_MALFORMED` when it is not exactly one OpenPGP certificate.
///
/// # Safety
/// `data` is NULL or `len` readable bytes; `cert` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cert_from_bytes(
    data: *const u8,
    len: usize,
    cert: *mut *mut secmail_cert_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let cert = unsafe { Out::new(cert, std::ptr::null_mut(), "cert") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let data = unsafe { args::bytes(data, len, "data") }?;
        cert.set(cert_handle(secmail_pgp::read_cert(data)?));
        Ok(())
    })
}

/// The public certificate of a key (secret key material stripped) into `*public_cert`.
///
/// # Safety
/// `cert` is NULL or a live certificate; `public_cert` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cert_to_public(
    cert: *const secmail_cert_t,
    public_cert: *mut *mut secmail_cert_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(public_cert, std::ptr::null_mut(), "public_cert") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        out.set(cert_handle(secmail_pgp::public_cert(&c.cert)));
        Ok(())
    })
}

/// Exports the public certificate (never secret keys) into `*out`; `flags` is 0 (binary) or
/// `SECMAIL_PGP_ARMOR`.
///
/// # Safety
/// `cert` is NULL or a live certificate; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cert_export(
    cert: *const secmail_cert_t,
    flags: u32,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        check_flags(flags, SECMAIL_PGP_ARMOR)?;
        out.set(secmail_buffer_t::from_vec(secmail_pgp::export_cert(
            &c.cert,
            encoding(flags),
        )?));
        Ok(())
    })
}

/// Exports the key with its secret key material (as protected as it is) into `*out`;
/// `SECMAIL_ERR_MISUSE` when `cert` has no secret keys. `flags`: 0 or `SECMAIL_PGP_ARMOR`.
///
/// # Safety
/// `cert` is NULL or a live certificate; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cert_export_secret(
    cert: *const secmail_cert_t,
    flags: u32,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        check_flags(flags, SECMAIL_PGP_ARMOR)?;
        out.set(secmail_buffer_t::from_vec(secmail_pgp::export_key(
            &c.cert,
            encoding(flags),
        )?));
        Ok(())
    })
}

/// The primary key's fingerprint (upper-case hex) into `*fingerprint`.
///
/// # Safety
/// `cert` is NULL or a live certificate; `fingerprint` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cert_fingerprint(
    cert: *const secmail_cert_t,
    fingerprint: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(fingerprint, std::ptr::null_mut(), "fingerprint") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        out.set(string_out(secmail_pgp::fingerprint_hex(&c.cert))?);
        Ok(())
    })
}

/// The primary User ID into `*userid` (NULL, with success, when there is none valid).
///
/// # Safety
/// `cert` is NULL or a live certificate; `userid` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cert_primary_userid(
    cert: *const secmail_cert_t,
    userid: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(userid, std::ptr::null_mut(), "userid") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        if let Some(u) = secmail_pgp::primary_userid(&c.cert) {
            out.set(string_out(u)?);
        }
        Ok(())
    })
}

/// The email addresses of the certificate's valid User IDs, as a JSON array of strings, into
/// `*json`.
///
/// # Safety
/// `cert` is NULL or a live certificate; `json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cert_emails_json(
    cert: *const secmail_cert_t,
    json: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(json, std::ptr::null_mut(), "json") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        out.set(string_out(
            serde_json::Value::from(secmail_pgp::emails(&c.cert)).to_string(),
        )?);
        Ok(())
    })
}

/// Whether the certificate carries secret key material, into `*has_secret`.
///
/// # Safety
/// `cert` is NULL or a live certificate; `has_secret` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cert_has_secret(
    cert: *const secmail_cert_t,
    has_secret: *mut bool,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(has_secret, false, "has_secret") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        out.set(c.cert.is_tsk());
        Ok(())
    })
}

/// Frees a certificate (secret key material is wiped by sequoia's protected memory). NULL is
/// allowed.
///
/// # Safety
/// `cert` is NULL or a certificate made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cert_free(cert: *mut secmail_cert_t) {
    // SAFETY: NULL or a live handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(cert) });
}

/// Unlocks the signing subkey of `key` with `passphrase` (NULL/0 for an unprotected key) into
/// `*signer`. `SECMAIL_ERR_MISUSE` for a certificate without secret keys,
/// `SECMAIL_ERR_PGP_KEY_LOCKED` for a wrong passphrase, `SECMAIL_ERR_PGP_UNUSABLE_CERT` when
/// no valid signing key exists.
///
/// # Safety
/// `key` is NULL or a live certificate; `passphrase` is NULL or readable for its length;
/// `signer` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_signer_new(
    key: *const secmail_cert_t,
    passphrase: *const u8,
    passphrase_len: usize,
    signer: *mut *mut secmail_pgp_signer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(signer, std::ptr::null_mut(), "signer") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let k = unsafe { args::handle(key, "key") }?;
        // SAFETY: NULL or readable for its length (the caller's promise).
        let pass = unsafe { password(passphrase, passphrase_len, "passphrase") }?;
        let passes: Vec<Password> = pass.into_iter().collect();
        out.set(args::into_handle(secmail_pgp_signer_t {
            key: SigningKey::new(&k.cert, &passes)?,
        }));
        Ok(())
    })
}

/// Frees a signer (its unlocked secret is wiped). NULL is allowed.
///
/// # Safety
/// `signer` is NULL or a signer made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_signer_free(signer: *mut secmail_pgp_signer_t) {
    // SAFETY: NULL or a live handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(signer) });
}

// ---------------------------------------------------------------------------------------
// The certificate store

/// An empty store in memory, into `*store`.
///
/// # Safety
/// `store` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_certstore_new(
    store: *mut *mut secmail_certstore_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(store, std::ptr::null_mut(), "store") }?;
        out.set(args::into_handle(secmail_certstore_t {
            store: CertStore::new(),
        }));
        Ok(())
    })
}

/// Opens (creating it if needed) a store in directory `dir` (UTF-8 path), loading every
/// certificate in it; certificates inserted later are written there too. A file that is not a
/// certificate is an error naming it.
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `store` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_certstore_open(
    dir: *const c_char,
    store: *mut *mut secmail_certstore_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(store, std::ptr::null_mut(), "store") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let dir = unsafe { args::str(dir, "dir") }?;
        out.set(args::into_handle(secmail_certstore_t {
            store: CertStore::open(dir)?,
        }));
        Ok(())
    })
}

/// Adds (a public copy of) `cert`, merged with the copy already known.
///
/// # Safety
/// `store` is NULL or a live store used by this thread only; `cert` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_certstore_insert(
    store: *mut secmail_certstore_t,
    cert: *const secmail_cert_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live store used by this thread only (the caller's promise).
        let s = unsafe { args::handle_mut(store, "store") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        s.store.insert(c.cert.clone())?;
        Ok(())
    })
}

/// Reads every certificate in `data[0..len]` (a keyring, armored or binary) and adds each;
/// how many into `*count` (may be NULL).
///
/// # Safety
/// `store` is NULL or a live store used by this thread only; `data` is NULL or `len` readable
/// bytes; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_certstore_import(
    store: *mut secmail_certstore_t,
    data: *const u8,
    len: usize,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        let count = if count.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(count, 0, "count") }?)
        };
        // SAFETY: NULL or a live store used by this thread only (the caller's promise).
        let s = unsafe { args::handle_mut(store, "store") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let data = unsafe { args::bytes(data, len, "data") }?;
        let certs = secmail_pgp::read_certs(data)?;
        let n = certs.len();
        for c in certs {
            s.store.insert(c)?;
        }
        if let Some(out) = count {
            out.set(n);
        }
        Ok(())
    })
}

/// The number of certificates in the store, into `*count`.
///
/// # Safety
/// `store` is NULL or a live store; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_certstore_len(
    store: *const secmail_certstore_t,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live store (the caller's promise).
        let s = unsafe { args::handle(store, "store") }?;
        out.set(s.store.len());
        Ok(())
    })
}

/// The certificate with fingerprint `fingerprint` (hex, any case) into `*cert`;
/// `SECMAIL_ERR_NOT_FOUND` when the store has none, `SECMAIL_ERR_INVALID_ARGUMENT` when
/// `fingerprint` is not a fingerprint.
///
/// # Safety
/// `store` is NULL or a live store; `fingerprint` is NULL or a NUL-terminated string; `cert`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_certstore_get(
    store: *const secmail_certstore_t,
    fingerprint: *const c_char,
    cert: *mut *mut secmail_cert_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(cert, std::ptr::null_mut(), "cert") }?;
        // SAFETY: NULL or a live store (the caller's promise).
        let s = unsafe { args::handle(store, "store") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let f = unsafe { args::str(fingerprint, "fingerprint") }?;
        let fpr: secmail_pgp::openpgp::Fingerprint = f
            .parse()
            .map_err(|_| FfiError::invalid(format!("{f:?} is not a fingerprint")))?;
        let c = s
            .store
            .get(&fpr)
            .ok_or_else(|| FfiError::new(SECMAIL_ERR_NOT_FOUND, format!("no certificate {f}")))?;
        out.set(cert_handle(c.clone()));
        Ok(())
    })
}

/// The certificate to encrypt to for `email` into `*cert`: among those bound to the address,
/// the one with the most recent valid encryption key. `SECMAIL_ERR_PGP_UNUSABLE_CERT` (or
/// another 4xx code) when there is none usable.
///
/// # Safety
/// `store` is NULL or a live store; `email` is NULL or a NUL-terminated string; `cert` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_certstore_recipient(
    store: *const secmail_certstore_t,
    email: *const c_char,
    cert: *mut *mut secmail_cert_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(cert, std::ptr::null_mut(), "cert") }?;
        // SAFETY: NULL or a live store (the caller's promise).
        let s = unsafe { args::handle(store, "store") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let email = unsafe { args::str(email, "email") }?;
        out.set(cert_handle(s.store.recipient(email)?.clone()));
        Ok(())
    })
}

/// Frees a store. NULL is allowed.
///
/// # Safety
/// `store` is NULL or a store made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_certstore_free(store: *mut secmail_certstore_t) {
    // SAFETY: NULL or a live handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(store) });
}

// ---------------------------------------------------------------------------------------
// Encryption and signing

/// # Safety
/// As the arguments of `secmail_pgp_encrypt`.
unsafe fn encrypt_options<'a>(
    recipients: *const *const secmail_cert_t,
    recipient_count: usize,
    password_ptr: *const u8,
    password_len: usize,
    signer: *const secmail_pgp_signer_t,
    flags: u32,
) -> FfiResult<EncryptOptions<'a>> {
    check_flags(flags, SECMAIL_PGP_ARMOR)?;
    // SAFETY: forwarded from the caller.
    let recipients = unsafe { certs(recipients, recipient_count, "recipients") }?;
    let mut opts = EncryptOptions::new()
        .recipients(recipients)
        .encoding(encoding(flags));
    // SAFETY: forwarded from the caller.
    if let Some(p) = unsafe { password(password_ptr, password_len, "password") }? {
        opts = opts.password(p);
    }
    // SAFETY: NULL or a live signer (the caller's promise); NULL means no signature.
    if let Some(s) = unsafe { signer.as_ref() } {
        opts = opts.sign_with(&s.key);
    }
    Ok(opts)
}

/// Encrypts `data[0..len]` to `recipient_count` certificates in `recipients` and/or with a
/// `password` (NULL/0 for none; at least one recipient or a password:
/// `SECMAIL_ERR_MISUSE`), signed inside when `signer` is not NULL. `flags`: 0 or
/// `SECMAIL_PGP_ARMOR`. The message goes to `*out`.
///
/// # Safety
/// `data` and `password` are NULL or readable for their lengths; `recipients` is NULL or an
/// array of `recipient_count` live certificates; `signer` is NULL or live; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_encrypt(
    data: *const u8,
    len: usize,
    recipients: *const *const secmail_cert_t,
    recipient_count: usize,
    password: *const u8,
    password_len: usize,
    signer: *const secmail_pgp_signer_t,
    flags: u32,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let data = unsafe { args::bytes(data, len, "data") }?;
        // SAFETY: forwarded from the caller.
        let opts = unsafe {
            encrypt_options(
                recipients,
                recipient_count,
                password,
                password_len,
                signer,
                flags,
            )
        }?;
        out.set(secmail_buffer_t::from_vec(secmail_pgp::encrypt(
            data, &opts,
        )?));
        Ok(())
    })
}

/// The streaming form of `secmail_pgp_encrypt`: from `input` to `output`.
///
/// # Safety
/// As `secmail_pgp_encrypt`; `input` and `output` are NULL or live handles used by this
/// thread only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_encrypt_stream(
    input: *mut secmail_input_t,
    recipients: *const *const secmail_cert_t,
    recipient_count: usize,
    password: *const u8,
    password_len: usize,
    signer: *const secmail_pgp_signer_t,
    flags: u32,
    output: *mut secmail_output_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or live handles used by this thread only (the caller's promise).
        let input = unsafe { args::handle_mut(input, "input") }?;
        // SAFETY: as above.
        let output = unsafe { args::handle_mut(output, "output") }?;
        // SAFETY: forwarded from the caller.
        let opts = unsafe {
            encrypt_options(
                recipients,
                recipient_count,
                password,
                password_len,
                signer,
                flags,
            )
        }?;
        with_output(output, |output| {
            secmail_pgp::encrypt_stream(input, output, &opts)?;
            Ok(())
        })
    })
}

/// Signs `data[0..len]` with `signer`: a signed message, or with `SECMAIL_PGP_DETACHED` a
/// detached signature; `SECMAIL_PGP_ARMOR` for armor. The result goes to `*out`.
///
/// # Safety
/// `data` is NULL or `len` readable bytes; `signer` is NULL or live; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_sign(
    data: *const u8,
    len: usize,
    signer: *const secmail_pgp_signer_t,
    flags: u32,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let data = unsafe { args::bytes(data, len, "data") }?;
        // SAFETY: NULL or a live signer (the caller's promise).
        let s = unsafe { args::handle(signer, "signer") }?;
        check_flags(flags, SECMAIL_PGP_ARMOR | SECMAIL_PGP_DETACHED)?;
        let signed = if flags & SECMAIL_PGP_DETACHED != 0 {
            secmail_pgp::sign_detached(data, &[&s.key], encoding(flags))?
        } else {
            secmail_pgp::sign(data, &[&s.key], encoding(flags))?
        };
        out.set(secmail_buffer_t::from_vec(signed));
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Decryption and verification

/// New, empty decryption options into `*options`.
///
/// # Safety
/// `options` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_decrypt_options_new(
    options: *mut *mut secmail_pgp_decrypt_options_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(options, std::ptr::null_mut(), "options") }?;
        out.set(args::into_handle(secmail_pgp_decrypt_options_t {
            opts: DecryptOptions::new(),
        }));
        Ok(())
    })
}

/// What `secmail_pgp_decrypt_options_add_cert` adds `cert` as.
pub type secmail_pgp_cert_role_t = u32;
/// A secret key to decrypt with.
pub const SECMAIL_PGP_ROLE_DECRYPT: secmail_pgp_cert_role_t = 0;
/// A certificate to verify signatures with.
pub const SECMAIL_PGP_ROLE_VERIFY: secmail_pgp_cert_role_t = 1;
/// A signer whose good signature is required (`SECMAIL_ERR_PGP_NO_GOOD_SIGNATURE` without it).
pub const SECMAIL_PGP_ROLE_REQUIRE_SIGNER: secmail_pgp_cert_role_t = 2;

/// Adds a copy of `cert` to the options in `role` (`SECMAIL_PGP_ROLE_*`).
///
/// # Safety
/// `options` is NULL or live options used by this thread only; `cert` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_decrypt_options_add_cert(
    options: *mut secmail_pgp_decrypt_options_t,
    cert: *const secmail_cert_t,
    role: secmail_pgp_cert_role_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or live options used by this thread only (the caller's promise).
        let o = unsafe { args::handle_mut(options, "options") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?.cert.clone();
        let opts = std::mem::take(&mut o.opts);
        o.opts = match role {
            SECMAIL_PGP_ROLE_DECRYPT => opts.key(c),
            SECMAIL_PGP_ROLE_VERIFY => opts.verify_with(c),
            SECMAIL_PGP_ROLE_REQUIRE_SIGNER => opts.require_signer(c),
            other => {
                o.opts = opts;
                return Err(FfiError::invalid(format!("unknown role {other}")));
            }
        };
        Ok(())
    })
}

/// What `secmail_pgp_decrypt_options_add_passphrase` adds.
pub type secmail_pgp_passphrase_role_t = u32;
/// A passphrase that may unlock one of the decryption keys.
pub const SECMAIL_PGP_PASSPHRASE_KEY: secmail_pgp_passphrase_role_t = 0;
/// A password the message itself may be encrypted with (symmetric encryption).
pub const SECMAIL_PGP_PASSPHRASE_MESSAGE: secmail_pgp_passphrase_role_t = 1;

/// Adds a passphrase (`SECMAIL_PGP_PASSPHRASE_*` says which kind); may not be empty.
///
/// # Safety
/// `options` is NULL or live options used by this thread only; `passphrase` is NULL or
/// readable for its length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_decrypt_options_add_passphrase(
    options: *mut secmail_pgp_decrypt_options_t,
    passphrase: *const u8,
    passphrase_len: usize,
    role: secmail_pgp_passphrase_role_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or live options used by this thread only (the caller's promise).
        let o = unsafe { args::handle_mut(options, "options") }?;
        // SAFETY: NULL or readable for its length (the caller's promise).
        let p = unsafe { password(passphrase, passphrase_len, "passphrase") }?
            .ok_or_else(|| FfiError::new(SECMAIL_ERR_MISUSE, "the passphrase is empty"))?;
        let opts = std::mem::take(&mut o.opts);
        o.opts = match role {
            SECMAIL_PGP_PASSPHRASE_KEY => opts.key_passphrase(p),
            SECMAIL_PGP_PASSPHRASE_MESSAGE => opts.password(p),
            other => {
                o.opts = opts;
                return Err(FfiError::invalid(format!("unknown role {other}")));
            }
        };
        Ok(())
    })
}

/// Sets the `From` address signatures are judged against (NULL clears it).
///
/// # Safety
/// `options` is NULL or live options used by this thread only; `from` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_decrypt_options_set_from(
    options: *mut secmail_pgp_decrypt_options_t,
    from: *const c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or live options used by this thread only (the caller's promise).
        let o = unsafe { args::handle_mut(options, "options") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let from = unsafe { args::opt_str(from, "from") }?.map(str::to_owned);
        o.opts = std::mem::take(&mut o.opts).from(from);
        Ok(())
    })
}

/// Sets the largest plaintext decryption accepts, in bytes (a bound against compression
/// bombs; the default is secmail-pgp's, 256 MiB). A message whose plaintext goes past it is
/// `SECMAIL_ERR_PGP_TOO_LARGE` and nothing of it is released; 0 is
/// `SECMAIL_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` is NULL or live options used by this thread only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_decrypt_options_set_max_plaintext(
    options: *mut secmail_pgp_decrypt_options_t,
    bytes: u64,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or live options used by this thread only (the caller's promise).
        let o = unsafe { args::handle_mut(options, "options") }?;
        if bytes == 0 {
            return Err(FfiError::invalid(
                "the plaintext bound must be at least 1 byte",
            ));
        }
        o.opts = std::mem::take(&mut o.opts).max_plaintext(bytes);
        Ok(())
    })
}

/// Frees decryption options (passphrases wiped). NULL is allowed.
///
/// # Safety
/// `options` is NULL or options made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_decrypt_options_free(
    options: *mut secmail_pgp_decrypt_options_t,
) {
    // SAFETY: NULL or a live handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(options) });
}

/// Decrypts (or reads a signed-only) OpenPGP message and verifies its signatures: the
/// plaintext goes to `*out` and the verdict to `*verdict`, only when every check passed.
/// Errors: `SECMAIL_ERR_PGP_CANNOT_DECRYPT` (no key or password opens it),
/// `SECMAIL_ERR_PGP_INTEGRITY`, `SECMAIL_ERR_PGP_NO_INTEGRITY_PROTECTION`,
/// `SECMAIL_ERR_PGP_MALFORMED`, `SECMAIL_ERR_PGP_NO_GOOD_SIGNATURE` (a required signer).
/// A message that was not encrypted succeeds: check `SECMAIL_VERDICT_FULLY_ENCRYPTED`.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `options` is NULL or live; `out` and `verdict`
/// are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_decrypt(
    message: *const u8,
    len: usize,
    options: *const secmail_pgp_decrypt_options_t,
    out: *mut secmail_buffer_t,
    verdict: *mut *mut secmail_verdict_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or writable (the caller's promise).
        let verdict = unsafe { Out::new(verdict, std::ptr::null_mut(), "verdict") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: NULL or live options (the caller's promise).
        let o = unsafe { args::handle(options, "options") }?;
        let (plain, v) = secmail_pgp::decrypt(message, &o.opts)?;
        out.set(secmail_buffer_t::from_vec(plain));
        verdict.set(secmail_verdict_t::handle(v));
        Ok(())
    })
}

/// The streaming form of `secmail_pgp_decrypt`: from `input` to `output`. Plaintext reaches
/// `output` only once every check passed (secmail-pgp spools it until then).
///
/// # Safety
/// As `secmail_pgp_decrypt`; `input` and `output` are NULL or live handles used by this
/// thread only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_decrypt_stream(
    input: *mut secmail_input_t,
    options: *const secmail_pgp_decrypt_options_t,
    output: *mut secmail_output_t,
    verdict: *mut *mut secmail_verdict_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let verdict = unsafe { Out::new(verdict, std::ptr::null_mut(), "verdict") }?;
        // SAFETY: NULL or live handles used by this thread only (the caller's promise).
        let input = unsafe { args::handle_mut(input, "input") }?;
        // SAFETY: as above.
        let output = unsafe { args::handle_mut(output, "output") }?;
        // SAFETY: NULL or live options (the caller's promise).
        let o = unsafe { args::handle(options, "options") }?;
        let v = with_output(output, |output| {
            Ok(secmail_pgp::decrypt_stream(input, output, &o.opts)?)
        })?;
        verdict.set(secmail_verdict_t::handle(v));
        Ok(())
    })
}

/// Verifies an inline-signed or cleartext-signed message against `cert_count` certificates:
/// its content goes to `*out` and the verdict to `*verdict`, whatever the signatures' status
/// (read the verdict). `from` (may be NULL) is the sender's address. An encrypted message
/// is refused.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `certs` is NULL or an array of `cert_count`
/// live certificates; `from` is NULL or a NUL-terminated string; `out` and `verdict` are NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_verify(
    message: *const u8,
    len: usize,
    certs_ptr: *const *const secmail_cert_t,
    cert_count: usize,
    from: *const c_char,
    out: *mut secmail_buffer_t,
    verdict: *mut *mut secmail_verdict_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or writable (the caller's promise).
        let verdict = unsafe { Out::new(verdict, std::ptr::null_mut(), "verdict") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: forwarded from the caller.
        let cs: Vec<_> = unsafe { certs(certs_ptr, cert_count, "certs") }?
            .into_iter()
            .cloned()
            .collect();
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let from = unsafe { args::opt_str(from, "from") }?.map(str::to_owned);
        let (content, v) = secmail_pgp::verify(message, &cs, from)?;
        out.set(secmail_buffer_t::from_vec(content));
        verdict.set(secmail_verdict_t::handle(v));
        Ok(())
    })
}

/// Verifies a detached `signature` over `data` against `cert_count` certificates; the
/// verdict goes to `*verdict` (its one signature says good or not).
///
/// # Safety
/// `data` and `signature` are NULL or readable for their lengths; `certs` is NULL or an array
/// of `cert_count` live certificates; `from` is NULL or a NUL-terminated string; `verdict` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_verify_detached(
    data: *const u8,
    len: usize,
    signature: *const u8,
    signature_len: usize,
    certs_ptr: *const *const secmail_cert_t,
    cert_count: usize,
    from: *const c_char,
    verdict: *mut *mut secmail_verdict_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let verdict = unsafe { Out::new(verdict, std::ptr::null_mut(), "verdict") }?;
        // SAFETY: NULL or readable for their lengths (the caller's promise).
        let data = unsafe { args::bytes(data, len, "data") }?;
        // SAFETY: as above.
        let sig = unsafe { args::bytes(signature, signature_len, "signature") }?;
        // SAFETY: forwarded from the caller.
        let cs: Vec<_> = unsafe { certs(certs_ptr, cert_count, "certs") }?
            .into_iter()
            .cloned()
            .collect();
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let from = unsafe { args::opt_str(from, "from") }?.map(str::to_owned);
        let v = secmail_pgp::verify_detached(data, sig, &cs, from)?;
        verdict.set(secmail_verdict_t::handle(v));
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// PGP/MIME and Autocrypt

/// Signs a whole message (RFC 5322 bytes) as PGP/MIME `multipart/signed` into `*out`.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `signer` is NULL or live; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_sign_mail(
    message: *const u8,
    len: usize,
    signer: *const secmail_pgp_signer_t,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: NULL or a live signer (the caller's promise).
        let s = unsafe { args::handle(signer, "signer") }?;
        out.set(secmail_buffer_t::from_vec(secmail_pgp::sign_mail(
            message, &s.key,
        )?));
        Ok(())
    })
}

/// Encrypts a whole message as PGP/MIME to `recipient_count` certificates (and to the signer
/// when `signer` is not NULL, signing inside). The real header fields travel inside
/// (RFC 9788); outside, `Subject` reads `[...]`. The result goes to `*out`.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `recipients` is NULL or an array of
/// `recipient_count` live certificates; `signer` is NULL or live; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_encrypt_mail(
    message: *const u8,
    len: usize,
    recipients: *const *const secmail_cert_t,
    recipient_count: usize,
    signer: *const secmail_pgp_signer_t,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: forwarded from the caller.
        let rs = unsafe { certs(recipients, recipient_count, "recipients") }?;
        // SAFETY: NULL or a live signer (the caller's promise); NULL means unsigned.
        let s = unsafe { signer.as_ref() }.map(|s| &s.key);
        out.set(secmail_buffer_t::from_vec(secmail_pgp::encrypt_mail(
            message, &rs, s,
        )?));
        Ok(())
    })
}

/// Decrypts a PGP/MIME message (or verifies a signed-only one) into `*out` (the message with
/// its protected header fields) and `*verdict`. Plaintext only when the integrity check
/// passed.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `options` is NULL or live; `out` and `verdict`
/// are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_decrypt_mail(
    message: *const u8,
    len: usize,
    options: *const secmail_pgp_decrypt_options_t,
    out: *mut secmail_buffer_t,
    verdict: *mut *mut secmail_verdict_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or writable (the caller's promise).
        let verdict = unsafe { Out::new(verdict, std::ptr::null_mut(), "verdict") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: NULL or live options (the caller's promise).
        let o = unsafe { args::handle(options, "options") }?;
        let (plain, v) = secmail_pgp::decrypt_mail(message, &o.opts)?;
        out.set(secmail_buffer_t::from_vec(plain));
        verdict.set(secmail_verdict_t::handle(v));
        Ok(())
    })
}

/// Verifies a PGP/MIME `multipart/signed` message (or an inline cleartext signature in a
/// single text part) against `cert_count` certificates; the verdict goes to `*verdict`.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `certs` is NULL or an array of `cert_count`
/// live certificates; `verdict` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_verify_mail(
    message: *const u8,
    len: usize,
    certs_ptr: *const *const secmail_cert_t,
    cert_count: usize,
    verdict: *mut *mut secmail_verdict_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let verdict = unsafe { Out::new(verdict, std::ptr::null_mut(), "verdict") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: forwarded from the caller.
        let cs: Vec<_> = unsafe { certs(certs_ptr, cert_count, "certs") }?
            .into_iter()
            .cloned()
            .collect();
        verdict.set(secmail_verdict_t::handle(secmail_pgp::verify_mail(
            message, &cs,
        )?));
        Ok(())
    })
}

fn prefer(mutual: bool) -> PreferEncrypt {
    if mutual {
        PreferEncrypt::Mutual
    } else {
        PreferEncrypt::NoPreference
    }
}

/// Adds an `Autocrypt:` header for `cert` (its address taken from the message's `From`) to a
/// message, into `*out`. `prefer_mutual` sets `prefer-encrypt=mutual`.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `cert` is NULL or live; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_autocrypt_add_header(
    message: *const u8,
    len: usize,
    cert: *const secmail_cert_t,
    prefer_mutual: bool,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        out.set(secmail_buffer_t::from_vec(
            secmail_pgp::add_autocrypt_header(message, &c.cert, prefer(prefer_mutual))?,
        ));
        Ok(())
    })
}

/// The value of an `Autocrypt:` header for `cert` and `addr` (a minimal certificate: the
/// User ID for `addr` and the current subkeys) into `*value`.
///
/// # Safety
/// `cert` is NULL or live; `addr` is NULL or a NUL-terminated string; `value` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_autocrypt_value(
    cert: *const secmail_cert_t,
    addr: *const c_char,
    prefer_mutual: bool,
    value: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(value, std::ptr::null_mut(), "value") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let addr = unsafe { args::str(addr, "addr") }?;
        out.set(string_out(secmail_pgp::autocrypt_value(
            &c.cert,
            addr,
            prefer(prefer_mutual),
        )?)?);
        Ok(())
    })
}

/// Parses the value of an `Autocrypt:` header: the address into `*addr`, whether it asks
/// for `prefer-encrypt=mutual` into `*prefer_mutual` (may be NULL), and the certificate into
/// `*cert`. A malformed value is `SECMAIL_ERR_PGP_MALFORMED`.
///
/// # Safety
/// `value` is NULL or a NUL-terminated string; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_autocrypt_parse(
    value: *const c_char,
    addr: *mut *mut c_char,
    prefer_mutual: *mut bool,
    cert: *mut *mut secmail_cert_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let addr = unsafe { Out::new(addr, std::ptr::null_mut(), "addr") }?;
        // SAFETY: NULL or writable (the caller's promise).
        let cert = unsafe { Out::new(cert, std::ptr::null_mut(), "cert") }?;
        let prefer_mutual = if prefer_mutual.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(prefer_mutual, false, "prefer_mutual") }?)
        };
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let value = unsafe { args::str(value, "value") }?;
        let h = secmail_pgp::parse_autocrypt(value)?;
        let a = string_out(h.addr)?;
        addr.set(a);
        if let Some(p) = prefer_mutual {
            p.set(h.prefer_encrypt == PreferEncrypt::Mutual);
        }
        cert.set(cert_handle(h.cert));
        Ok(())
    })
}

/// Reads the `Autocrypt:` header of a received message (exactly one, whose `addr` is the
/// `From` address; otherwise there is none, per Autocrypt Level 1 §2.3). When there is one,
/// its address goes to `*addr`, `prefer-encrypt=mutual` to `*prefer_mutual` (may be NULL)
/// and its certificate to `*cert`; when there is none the call succeeds with `*addr` and
/// `*cert` NULL.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_autocrypt_read(
    message: *const u8,
    len: usize,
    addr: *mut *mut c_char,
    prefer_mutual: *mut bool,
    cert: *mut *mut secmail_cert_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let addr = unsafe { Out::new(addr, std::ptr::null_mut(), "addr") }?;
        // SAFETY: NULL or writable (the caller's promise).
        let cert = unsafe { Out::new(cert, std::ptr::null_mut(), "cert") }?;
        let prefer_mutual = if prefer_mutual.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(prefer_mutual, false, "prefer_mutual") }?)
        };
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        if let Some(h) = secmail_pgp::read_autocrypt(message)? {
            let a = string_out(h.addr)?;
            addr.set(a);
            if let Some(p) = prefer_mutual {
                p.set(h.prefer_encrypt == PreferEncrypt::Mutual);
            }
            cert.set(cert_handle(h.cert));
        }
        Ok(())
    })
}

/// The streaming form of `secmail_pgp_sign`: signs what `input` yields, writing the signed
/// message (or, with `SECMAIL_PGP_DETACHED`, the detached signature) to `output`.
///
/// # Safety
/// `input` and `output` are NULL or live handles used by this thread only; `signer` is NULL
/// or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_sign_stream(
    input: *mut secmail_input_t,
    signer: *const secmail_pgp_signer_t,
    flags: u32,
    output: *mut secmail_output_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or live handles used by this thread only (the caller's promise).
        let input = unsafe { args::handle_mut(input, "input") }?;
        // SAFETY: as above.
        let output = unsafe { args::handle_mut(output, "output") }?;
        // SAFETY: NULL or a live signer (the caller's promise).
        let s = unsafe { args::handle(signer, "signer") }?;
        check_flags(flags, SECMAIL_PGP_ARMOR | SECMAIL_PGP_DETACHED)?;
        with_output(output, |output| {
            let mut w = secmail_pgp::sign_writer(
                output,
                &[&s.key],
                flags & SECMAIL_PGP_DETACHED != 0,
                encoding(flags),
            )?;
            std::io::copy(input, &mut w)?;
            w.finish()?;
            Ok(())
        })
    })
}

/// The streaming form of `secmail_pgp_verify_detached`: the signed data comes from `input`.
///
/// # Safety
/// `input` is NULL or a live input used by this thread only; `signature` is NULL or readable
/// for its length; `certs` is NULL or an array of `cert_count` live certificates; `from` is
/// NULL or a NUL-terminated string; `verdict` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pgp_verify_detached_stream(
    input: *mut secmail_input_t,
    signature: *const u8,
    signature_len: usize,
    certs_ptr: *const *const secmail_cert_t,
    cert_count: usize,
    from: *const c_char,
    verdict: *mut *mut secmail_verdict_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let verdict = unsafe { Out::new(verdict, std::ptr::null_mut(), "verdict") }?;
        // SAFETY: NULL or a live input used by this thread only (the caller's promise).
        let input = unsafe { args::handle_mut(input, "input") }?;
        // SAFETY: NULL or readable for its length (the caller's promise).
        let sig = unsafe { args::bytes(signature, signature_len, "signature") }?;
        // SAFETY: forwarded from the caller.
        let cs: Vec<_> = unsafe { certs(certs_ptr, cert_count, "certs") }?
            .into_iter()
            .cloned()
            .collect();
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let from = unsafe { args::opt_str(from, "from") }?.map(str::to_owned);
        let v = secmail_pgp::verify_detached_stream(input, sig, &cs, from)?;
        verdict.set(secmail_verdict_t::handle(v));
        Ok(())
    })
}
