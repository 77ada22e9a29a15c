//! S/MIME (secmail-smime) over the C ABI: certificates and keys, the in-house CA, signing,
//! encryption, sign-then-encrypt, and reading (decrypt and verify with trust anchors).

use std::ffi::c_char;

use secmail_smime::{
    CertUsage, Certificate, CertificateAuthority, EncryptOptions, Error, PrivateKey, ReadOptions,
};

use crate::args::{self, Out};
use crate::buffer::{secmail_buffer_t, string_out};
use crate::error::*;
use crate::verdict::secmail_verdict_t;

/// The one place where secmail-smime's errors become codes.
impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Malformed { .. } => SECMAIL_ERR_SMIME_MALFORMED,
            Error::Unsupported(_) => SECMAIL_ERR_SMIME_UNSUPPORTED,
            Error::Key(_) => SECMAIL_ERR_SMIME_KEY,
            Error::DecryptionFailed => SECMAIL_ERR_SMIME_DECRYPTION_FAILED,
            Error::NotARecipient => SECMAIL_ERR_SMIME_NOT_A_RECIPIENT,
            Error::BadSignature(_) => SECMAIL_ERR_SMIME_BAD_SIGNATURE,
            Error::SignerCertificateMissing => SECMAIL_ERR_SMIME_SIGNER_CERT_MISSING,
            Error::NotSigned => SECMAIL_ERR_SMIME_NOT_SIGNED,
            Error::Validation(_) => SECMAIL_ERR_SMIME_VALIDATION,
            Error::UsageNotAllowed { .. } => SECMAIL_ERR_SMIME_USAGE_NOT_ALLOWED,
            Error::Misuse(_) => SECMAIL_ERR_MISUSE,
            Error::Random => SECMAIL_ERR_SMIME_RANDOM,
            Error::Mime(_) => {
                return match e {
                    Error::Mime(inner) => FfiError::from(inner),
                    _ => FfiError::new(SECMAIL_ERR_SMIME_OTHER, "unreachable"),
                };
            }
            _ => SECMAIL_ERR_SMIME_OTHER,
        };
        FfiError::new(code, e.to_string())
    }
}

/// An X.509 certificate. Made by `secmail_smime_cert_from_bytes` or the CA functions; freed
/// with `secmail_smime_cert_free`. Immutable: may be read from several threads at once.
pub struct secmail_smime_cert_t {
    pub(crate) cert: Certificate,
}

/// A private key (RSA or ECDSA P-256). Made by `secmail_smime_key_from_bytes` or the CA
/// functions; freed (wiped) with `secmail_smime_key_free`. Immutable: may be shared.
pub struct secmail_smime_key_t {
    pub(crate) key: PrivateKey,
}

/// An in-house certificate authority (its certificate and key). Made by
/// `secmail_smime_ca_new_root`; freed with `secmail_smime_ca_free`. Immutable.
pub struct secmail_smime_ca_t {
    ca: CertificateAuthority,
}

/// End-entity certificate usage for `secmail_smime_ca_issue`: signing and encryption.
pub const SECMAIL_SMIME_USAGE_BOTH: u32 = 0;
/// End-entity certificate usage: signing only.
pub const SECMAIL_SMIME_USAGE_SIGN: u32 = 1;
/// End-entity certificate usage: encryption only.
pub const SECMAIL_SMIME_USAGE_ENCRYPT: u32 = 2;

/// `secmail_smime_sign_message` flag: opaque signing (`application/pkcs7-mime`) instead of
/// detached `multipart/signed`.
pub const SECMAIL_SMIME_OPAQUE: u32 = 1;

/// # Safety
/// As `args::handles`.
unsafe fn certs(
    ptr: *const *const secmail_smime_cert_t,
    count: usize,
    name: &str,
) -> FfiResult<Vec<Certificate>> {
    // SAFETY: forwarded from the caller.
    Ok(unsafe { args::handles(ptr, count, name) }?
        .into_iter()
        .map(|c| c.cert.clone())
        .collect())
}

/// Reads one certificate (PEM or DER) into `*cert`.
///
/// # Safety
/// `data` is NULL or `len` readable bytes; `cert` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_cert_from_bytes(
    data: *const u8,
    len: usize,
    cert: *mut *mut secmail_smime_cert_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(cert, std::ptr::null_mut(), "cert") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let data = unsafe { args::bytes(data, len, "data") }?;
        out.set(args::into_handle(secmail_smime_cert_t {
            cert: secmail_smime::load_certificate(data)?,
        }));
        Ok(())
    })
}

/// The certificate as PEM into `*pem`.
///
/// # Safety
/// `cert` is NULL or live; `pem` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_cert_to_pem(
    cert: *const secmail_smime_cert_t,
    pem: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(pem, std::ptr::null_mut(), "pem") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        out.set(string_out(secmail_smime::certificate_to_pem(&c.cert)?)?);
        Ok(())
    })
}

/// The certificate's SHA-256 fingerprint (hex) into `*fingerprint`.
///
/// # Safety
/// `cert` is NULL or live; `fingerprint` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_cert_fingerprint(
    cert: *const secmail_smime_cert_t,
    fingerprint: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(fingerprint, std::ptr::null_mut(), "fingerprint") }?;
        // SAFETY: NULL or a live certificate (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        out.set(string_out(secmail_smime::fingerprint(&c.cert))?);
        Ok(())
    })
}

/// Frees a certificate. NULL is allowed.
///
/// # Safety
/// `cert` is NULL or a certificate made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_cert_free(cert: *mut secmail_smime_cert_t) {
    // SAFETY: NULL or a live handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(cert) });
}

/// Reads a private key (PEM or DER: PKCS#8, PKCS#1, SEC1) into `*key`.
///
/// # Safety
/// `data` is NULL or `len` readable bytes; `key` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_key_from_bytes(
    data: *const u8,
    len: usize,
    key: *mut *mut secmail_smime_key_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(key, std::ptr::null_mut(), "key") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let data = unsafe { args::bytes(data, len, "data") }?;
        out.set(args::into_handle(secmail_smime_key_t {
            key: PrivateKey::load(data)?,
        }));
        Ok(())
    })
}

/// The key as unencrypted PKCS#8 PEM into `*pem` (secret: free it promptly; it is wiped).
///
/// # Safety
/// `key` is NULL or live; `pem` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_key_to_pem(
    key: *const secmail_smime_key_t,
    pem: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(pem, std::ptr::null_mut(), "pem") }?;
        // SAFETY: NULL or a live key (the caller's promise).
        let k = unsafe { args::handle(key, "key") }?;
        let p = k.key.to_pkcs8_pem()?;
        out.set(string_out(String::clone(&p))?);
        Ok(())
    })
}

/// Frees a private key (wiped). NULL is allowed.
///
/// # Safety
/// `key` is NULL or a key made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_key_free(key: *mut secmail_smime_key_t) {
    // SAFETY: NULL or a live handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(key) });
}

/// A new self-signed root CA (RSA-2048) for `subject` (an RFC 4514 name such as
/// `"CN=Example Mail CA,O=Example"`), valid for `days` days, into `*ca`.
///
/// # Safety
/// `subject` is NULL or a NUL-terminated string; `ca` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_ca_new_root(
    subject: *const c_char,
    days: u32,
    ca: *mut *mut secmail_smime_ca_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(ca, std::ptr::null_mut(), "ca") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let subject = unsafe { args::str(subject, "subject") }?;
        out.set(args::into_handle(secmail_smime_ca_t {
            ca: CertificateAuthority::new_root(subject, days)?,
        }));
        Ok(())
    })
}

/// A copy of the CA's certificate (the trust anchor to give readers) into `*cert`.
///
/// # Safety
/// `ca` is NULL or live; `cert` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_ca_certificate(
    ca: *const secmail_smime_ca_t,
    cert: *mut *mut secmail_smime_cert_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(cert, std::ptr::null_mut(), "cert") }?;
        // SAFETY: NULL or a live CA (the caller's promise).
        let c = unsafe { args::handle(ca, "ca") }?;
        out.set(args::into_handle(secmail_smime_cert_t {
            cert: c.ca.certificate().clone(),
        }));
        Ok(())
    })
}

/// Issues an end-entity certificate for `email` with a fresh RSA-2048 key, for `usage`
/// (`SECMAIL_SMIME_USAGE_*`), valid for `days` days: the certificate into `*cert`, the key
/// into `*key`.
///
/// # Safety
/// `ca` is NULL or live; `email` is NULL or a NUL-terminated string; `cert` and `key` are
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_ca_issue(
    ca: *const secmail_smime_ca_t,
    email: *const c_char,
    usage: u32,
    days: u32,
    cert: *mut *mut secmail_smime_cert_t,
    key: *mut *mut secmail_smime_key_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let cert = unsafe { Out::new(cert, std::ptr::null_mut(), "cert") }?;
        // SAFETY: NULL or writable (the caller's promise).
        let key = unsafe { Out::new(key, std::ptr::null_mut(), "key") }?;
        // SAFETY: NULL or a live CA (the caller's promise).
        let c = unsafe { args::handle(ca, "ca") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let email = unsafe { args::str(email, "email") }?;
        let usage = match usage {
            SECMAIL_SMIME_USAGE_BOTH => CertUsage::Both,
            SECMAIL_SMIME_USAGE_SIGN => CertUsage::Sign,
            SECMAIL_SMIME_USAGE_ENCRYPT => CertUsage::Encrypt,
            other => return Err(FfiError::invalid(format!("unknown usage {other}"))),
        };
        let (c, k) = c.ca.issue(email, usage, days)?;
        cert.set(args::into_handle(secmail_smime_cert_t { cert: c }));
        key.set(args::into_handle(secmail_smime_key_t { key: k }));
        Ok(())
    })
}

/// Frees a CA (its key wiped). NULL is allowed.
///
/// # Safety
/// `ca` is NULL or a CA made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_ca_free(ca: *mut secmail_smime_ca_t) {
    // SAFETY: NULL or a live handle (the caller's promise).
    entry_void(|| unsafe { args::free_handle(ca) });
}

/// Signs a whole message with `cert` and `key`: detached `multipart/signed`, or opaque with
/// `SECMAIL_SMIME_OPAQUE`. `chain` holds `chain_count` intermediates to include (NULL/0 for
/// none). The signed message goes to `*out`.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `cert`, `key` are NULL or live; `chain` is NULL
/// or an array of `chain_count` live certificates; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_sign_message(
    message: *const u8,
    len: usize,
    cert: *const secmail_smime_cert_t,
    key: *const secmail_smime_key_t,
    chain: *const *const secmail_smime_cert_t,
    chain_count: usize,
    flags: u32,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: NULL or live handles (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        // SAFETY: as above.
        let k = unsafe { args::handle(key, "key") }?;
        // SAFETY: forwarded from the caller.
        let chain = unsafe { certs(chain, chain_count, "chain") }?;
        if flags & !SECMAIL_SMIME_OPAQUE != 0 {
            return Err(FfiError::invalid(format!("unknown flags {flags:#x}")));
        }
        let opaque = flags & SECMAIL_SMIME_OPAQUE != 0;
        out.set(secmail_buffer_t::from_vec(secmail_smime::sign_message(
            message, &c.cert, &k.key, &chain, opaque,
        )?));
        Ok(())
    })
}

/// Encrypts a message's body to `recipient_count` certificates (AES-256-GCM
/// AuthEnvelopedData, RSA-OAEP; add the sender's certificate to keep a readable copy) into
/// `*out`.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `recipients` is NULL or an array of
/// `recipient_count` live certificates; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_encrypt_message(
    message: *const u8,
    len: usize,
    recipients: *const *const secmail_smime_cert_t,
    recipient_count: usize,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: forwarded from the caller.
        let to = unsafe { certs(recipients, recipient_count, "recipients") }?;
        out.set(secmail_buffer_t::from_vec(secmail_smime::encrypt_message(
            message,
            &to,
            &EncryptOptions::default(),
        )?));
        Ok(())
    })
}

/// Signs, then encrypts (RFC 8551 §3.7) a message with `cert`/`key` to `recipient_count`
/// certificates (and to the signer when its certificate allows encryption) into `*out`.
///
/// # Safety
/// As `secmail_smime_sign_message` and `secmail_smime_encrypt_message`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_sign_encrypt_message(
    message: *const u8,
    len: usize,
    cert: *const secmail_smime_cert_t,
    key: *const secmail_smime_key_t,
    recipients: *const *const secmail_smime_cert_t,
    recipient_count: usize,
    out: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(out, secmail_buffer_t::EMPTY, "out") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: NULL or live handles (the caller's promise).
        let c = unsafe { args::handle(cert, "cert") }?;
        // SAFETY: as above.
        let k = unsafe { args::handle(key, "key") }?;
        // SAFETY: forwarded from the caller.
        let to = unsafe { certs(recipients, recipient_count, "recipients") }?;
        out.set(secmail_buffer_t::from_vec(
            secmail_smime::sign_encrypt_message(
                message,
                &c.cert,
                &k.key,
                &[],
                &to,
                &EncryptOptions::default(),
            )?,
        ));
        Ok(())
    })
}

/// Reads an S/MIME message: decrypts it with `cert`/`key` when both are given (both NULL to
/// only verify), verifies its signatures, validating signers against `anchor_count` trust
/// anchors (none: signatures are checked, certificates are not — the verdict says
/// untrusted). The innermost entity under the outer header fields goes to `*out`, the
/// verdict to `*verdict`. `require_valid_signature` makes a message without a good, trusted
/// signature by the `From` address an error.
///
/// # Safety
/// `message` is NULL or `len` readable bytes; `cert`, `key` are NULL or live; `anchors` is
/// NULL or an array of `anchor_count` live certificates; `out`, `verdict` are NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smime_read_message(
    message: *const u8,
    len: usize,
    cert: *const secmail_smime_cert_t,
    key: *const secmail_smime_key_t,
    anchors: *const *const secmail_smime_cert_t,
    anchor_count: usize,
    require_valid_signature: bool,
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
        // SAFETY: NULL or live handles (the caller's promise).
        let (c, k) = unsafe { (cert.as_ref(), key.as_ref()) };
        let decrypt_with = match (c, k) {
            (Some(c), Some(k)) => Some((&c.cert, &k.key)),
            (None, None) => None,
            _ => {
                return Err(FfiError::null(
                    "cert or key (give both to decrypt, or neither to verify only)",
                ));
            }
        };
        // SAFETY: forwarded from the caller.
        let anchors = unsafe { certs(anchors, anchor_count, "anchors") }?;
        let mut opts = ReadOptions::default();
        opts.anchors = &anchors;
        opts.require_valid_signature = require_valid_signature;
        opts.decrypt_with = decrypt_with;
        let read = secmail_smime::read_message(message, &opts)?;
        out.set(secmail_buffer_t::from_vec(read.message));
        verdict.set(secmail_verdict_t::handle(read.verdict));
        Ok(())
    })
}
