//! The C ABI's byte-taking OpenPGP entry points, chosen by the first byte (modulo 9): import
//! a certificate or key (then read, export and re-import it, and import it into a certificate
//! store), decrypt (one-shot against streaming, which must agree byte for byte), verify
//! inline, verify detached (one-shot against streaming), decrypt and verify PGP/MIME, read an
//! Autocrypt header from a message, parse an Autocrypt header value, and protect a message
//! (PGP/MIME sign, encrypt-and-sign, to and from the fixed key), which must read back. The fixed key is the `pgp_decrypt` target's
//! (secmail-pgp/src/fuzz-key.asc), used to decrypt and to verify; messages may also be
//! encrypted with the password `password`. The ABI contract is checked by `ffi_common`.
#![no_main]

mod ffi_common;
mod known_crashes;

use ffi_common::*;
use secmail_ffi::*;

const FUZZ_KEY: &[u8] = include_bytes!("../../secmail-pgp/src/fuzz-key.asc");
const FROM: &std::ffi::CStr = c"fuzz@example.org";

/// The fixed key and decryption options, made once through the ABI and never freed (they
/// live as long as the fuzzing thread).
struct Fixture {
    key: *mut secmail_cert_t,
    options: *mut secmail_pgp_decrypt_options_t,
    signer: *mut secmail_pgp_signer_t,
}

fn fixture() -> &'static Fixture {
    thread_local! {
        static F: &'static Fixture = Box::leak(Box::new(make_fixture()));
    }
    F.with(|f| *f)
}

fn make_fixture() -> Fixture {
    let (mut key, mut options, mut signer) = (junk(), junk(), junk());
    // SAFETY: the key bytes are readable; every out-pointer is a local or the fixture's.
    unsafe {
        assert!(ok(
            "fixture key",
            secmail_cert_from_bytes(FUZZ_KEY.as_ptr(), FUZZ_KEY.len(), &mut key)
        ));
        assert!(ok("options", secmail_pgp_decrypt_options_new(&mut options)));
        assert!(ok(
            "add key",
            secmail_pgp_decrypt_options_add_cert(options, key, SECMAIL_PGP_ROLE_DECRYPT)
        ));
        assert!(ok(
            "add verifier",
            secmail_pgp_decrypt_options_add_cert(options, key, SECMAIL_PGP_ROLE_VERIFY)
        ));
        let pw = b"password";
        assert!(ok(
            "add password",
            secmail_pgp_decrypt_options_add_passphrase(
                options,
                pw.as_ptr(),
                pw.len(),
                SECMAIL_PGP_PASSPHRASE_MESSAGE
            )
        ));
        assert!(ok(
            "set from",
            secmail_pgp_decrypt_options_set_from(options, FROM.as_ptr())
        ));
    }
    // SAFETY: a live, unprotected key; a local out-pointer.
    unsafe {
        let r = secmail_pgp_signer_new(key, std::ptr::null(), 0, &mut signer);
        assert!(ok("signer", r));
    }
    Fixture {
        key,
        options,
        signer,
    }
}

libfuzzer_sys::fuzz_target!(init: known_crashes::tolerate_known_panics(), |data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let f = fixture();
    match selector % 9 {
        0 => import(body),
        1 => decrypt(f, body),
        2 => verify(f, body),
        3 => verify_detached(f, body),
        4 => decrypt_mail(f, body),
        5 => verify_mail(f, body),
        6 => autocrypt_read(body),
        7 => autocrypt_parse(body),
        _ => protect_mail(f, body),
    }
});

/// Imports, reads every property, exports (public, and secret when there is some), and the
/// export must import again as the same certificate.
fn import(body: &[u8]) {
    let (p, n) = arg(body);
    let mut cert = junk();
    // SAFETY: `p, n` is `body`; `cert` is a local.
    let good = ok("secmail_cert_from_bytes", unsafe {
        secmail_cert_from_bytes(p, n, &mut cert)
    });
    check_handle("secmail_cert_from_bytes", good, cert);
    store_import(body, good);
    if !good {
        return;
    }
    let fpr = fingerprint(cert);
    // SAFETY (whole block): `cert` is live until freed at the end; out-pointers are locals.
    unsafe {
        let mut s = junk();
        let r = secmail_cert_primary_userid(cert, &mut s);
        take_string(
            "secmail_cert_primary_userid",
            ok("secmail_cert_primary_userid", r),
            s,
        );
        let mut s = junk();
        let r = secmail_cert_emails_json(cert, &mut s);
        let emails = take_string(
            "secmail_cert_emails_json",
            ok("secmail_cert_emails_json", r),
            s,
        );
        assert!(emails.is_some_and(|j| j.starts_with('[')));
        let mut secret = true;
        let r = secmail_cert_has_secret(cert, &mut secret);
        assert!(ok("secmail_cert_has_secret", r));

        let mut public = junk();
        let good = ok(
            "secmail_cert_to_public",
            secmail_cert_to_public(cert, &mut public),
        );
        check_handle("secmail_cert_to_public", good, public);
        assert_eq!(fingerprint(public), fpr);
        let mut flag = false;
        assert!(ok("has_secret", secmail_cert_has_secret(public, &mut flag)) && !flag);
        for flags in [0, SECMAIL_PGP_ARMOR] {
            let mut out = junk_buffer();
            let good = ok(
                "secmail_cert_export",
                secmail_cert_export(cert, flags, &mut out),
            );
            let bytes = take_buffer("secmail_cert_export", good, out);
            if good {
                reimport(&bytes, &fpr, false);
            }
            let mut out = junk_buffer();
            let r = secmail_cert_export_secret(cert, flags, &mut out);
            let good = ok("secmail_cert_export_secret", r);
            let bytes = take_buffer("secmail_cert_export_secret", good, out);
            if secret {
                if good {
                    reimport(&bytes, &fpr, true);
                }
            } else {
                assert_eq!(
                    r, SECMAIL_ERR_MISUSE,
                    "exported secrets of a public certificate"
                );
            }
        }
        secmail_cert_free(public);
        secmail_cert_free(cert);
    }
}

/// The same bytes into a certificate store (which takes any number of certificates): the
/// count it reports, its length, and the look-ups by fingerprint and by address.
fn store_import(body: &[u8], one_cert: bool) {
    let (p, n) = arg(body);
    let mut store = junk();
    // SAFETY (whole block): `p, n` is `body`; `store` is live until freed at the end; the
    // out-pointers are locals.
    unsafe {
        assert!(ok(
            "secmail_certstore_new",
            secmail_certstore_new(&mut store)
        ));
        let mut count = usize::MAX;
        let good = ok(
            "secmail_certstore_import",
            secmail_certstore_import(store, p, n, &mut count),
        );
        if !good {
            assert_eq!(
                count, 0,
                "secmail_certstore_import: failed but left a count"
            );
        }
        let mut len = usize::MAX;
        assert!(ok(
            "secmail_certstore_len",
            secmail_certstore_len(store, &mut len)
        ));
        if good {
            // Copies of one certificate merge; no certificate comes from nowhere.
            assert!(
                len <= count && (count == 0) == (len == 0),
                "{count} imported, {len} kept"
            );
            if one_cert {
                assert_eq!(count, 1, "one certificate, but the store imported {count}");
            }
        }
        let mut found = junk();
        let r = secmail_certstore_recipient(store, FROM.as_ptr(), &mut found);
        let good = ok("secmail_certstore_recipient", r);
        check_handle("secmail_certstore_recipient", good, found);
        if good {
            let fpr = fingerprint(found);
            let fpr = std::ffi::CString::new(fpr).unwrap_or_default();
            let mut again = junk();
            let r = secmail_certstore_get(store, fpr.as_ptr(), &mut again);
            assert!(
                ok("secmail_certstore_get", r),
                "the recipient's fingerprint is not in the store"
            );
            secmail_cert_free(again);
            secmail_cert_free(found);
        }
        secmail_certstore_free(store);
    }
}

fn fingerprint(cert: *const secmail_cert_t) -> String {
    let mut s = junk();
    // SAFETY: `cert` is a live certificate; `s` is a local.
    let r = unsafe { secmail_cert_fingerprint(cert, &mut s) };
    let fpr = take_string(
        "secmail_cert_fingerprint",
        ok("secmail_cert_fingerprint", r),
        s,
    );
    fpr.unwrap_or_default()
}

fn reimport(bytes: &[u8], fpr: &str, secret: bool) {
    let mut again = junk();
    // SAFETY: `bytes` is readable; `again` is a local, freed below.
    let good = ok("re-import", unsafe {
        secmail_cert_from_bytes(bytes.as_ptr(), bytes.len(), &mut again)
    });
    assert!(good, "an exported certificate does not import again");
    assert_eq!(fingerprint(again), fpr, "export changed the certificate");
    let mut has = !secret;
    // SAFETY: `again` is live; freed right after.
    unsafe {
        assert!(ok("has_secret", secmail_cert_has_secret(again, &mut has)));
        assert_eq!(has, secret, "export lost or added secret key material");
        secmail_cert_free(again);
    }
}

fn decrypt(f: &Fixture, body: &[u8]) {
    let (p, n) = arg(body);
    let (mut out, mut verdict) = (junk_buffer(), junk());
    // SAFETY: `p, n` is `body`; the options are live; out-pointers are locals.
    let r = unsafe { secmail_pgp_decrypt(p, n, f.options, &mut out, &mut verdict) };
    let good = ok("secmail_pgp_decrypt", r);
    let plain = take_buffer("secmail_pgp_decrypt", good, out);
    let flags = consume_verdict("secmail_pgp_decrypt", good, verdict);

    let mut sverdict = junk();
    let (good_stream, streamed) =
        with_memory_streams("secmail_pgp_decrypt_stream", body, |i, o| {
            // SAFETY: live handles from `with_memory_streams`, live options, a local out-pointer.
            unsafe { secmail_pgp_decrypt_stream(i, f.options, o, &mut sverdict) }
        });
    let sflags = consume_verdict("secmail_pgp_decrypt_stream", good_stream, sverdict);
    assert_eq!(
        good, good_stream,
        "one-shot and streaming decryption disagree ({r})"
    );
    assert!(
        plain == streamed,
        "one-shot and streaming plaintexts differ"
    );
    assert_eq!(flags, sflags, "one-shot and streaming verdicts differ");
}

fn verify(f: &Fixture, body: &[u8]) {
    let (p, n) = arg(body);
    let certs = [f.key.cast_const()];
    let (mut out, mut verdict) = (junk_buffer(), junk());
    // SAFETY: `p, n` is `body`; one live certificate; out-pointers are locals.
    let r = unsafe {
        secmail_pgp_verify(
            p,
            n,
            certs.as_ptr(),
            certs.len(),
            FROM.as_ptr(),
            &mut out,
            &mut verdict,
        )
    };
    let good = ok("secmail_pgp_verify", r);
    take_buffer("secmail_pgp_verify", good, out);
    consume_verdict("secmail_pgp_verify", good, verdict);
}

/// The input is split at its first NUL into a signature and the data it should cover (or is
/// all signature, over `data`).
fn verify_detached(f: &Fixture, body: &[u8]) {
    let (sig, data) = match body.iter().position(|&b| b == 0) {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &b"data"[..]),
    };
    let ((sp, sn), (dp, dn)) = (arg(sig), arg(data));
    let certs = [f.key.cast_const()];
    let mut verdict = junk();
    // SAFETY: both byte ranges are readable; one live certificate; a local out-pointer.
    let r = unsafe {
        secmail_pgp_verify_detached(
            dp,
            dn,
            sp,
            sn,
            certs.as_ptr(),
            certs.len(),
            std::ptr::null(),
            &mut verdict,
        )
    };
    let good = ok("secmail_pgp_verify_detached", r);
    let flags = consume_verdict("secmail_pgp_verify_detached", good, verdict);

    let (mut input, mut sverdict) = (junk(), junk());
    // SAFETY: `dp, dn` and `sp, sn` are readable; one live certificate; local out-pointers;
    // the input is freed once.
    let (good_stream, sflags) = unsafe {
        assert!(ok(
            "secmail_input_from_memory",
            secmail_input_from_memory(dp, dn, &mut input)
        ));
        let r = secmail_pgp_verify_detached_stream(
            input,
            sp,
            sn,
            certs.as_ptr(),
            certs.len(),
            std::ptr::null(),
            &mut sverdict,
        );
        secmail_input_free(input);
        let good = ok("secmail_pgp_verify_detached_stream", r);
        (
            good,
            consume_verdict("secmail_pgp_verify_detached_stream", good, sverdict),
        )
    };
    assert_eq!(
        good, good_stream,
        "one-shot and streaming detached verification disagree"
    );
    assert_eq!(
        flags, sflags,
        "one-shot and streaming detached verdicts differ"
    );
}

fn decrypt_mail(f: &Fixture, body: &[u8]) {
    let (p, n) = arg(body);
    let (mut out, mut verdict) = (junk_buffer(), junk());
    // SAFETY: `p, n` is `body`; live options; out-pointers are locals.
    let r = unsafe { secmail_pgp_decrypt_mail(p, n, f.options, &mut out, &mut verdict) };
    let good = ok("secmail_pgp_decrypt_mail", r);
    take_buffer("secmail_pgp_decrypt_mail", good, out);
    consume_verdict("secmail_pgp_decrypt_mail", good, verdict);
}

fn verify_mail(f: &Fixture, body: &[u8]) {
    let (p, n) = arg(body);
    let certs = [f.key.cast_const()];
    let mut verdict = junk();
    // SAFETY: `p, n` is `body`; one live certificate; a local out-pointer.
    let r = unsafe { secmail_pgp_verify_mail(p, n, certs.as_ptr(), certs.len(), &mut verdict) };
    let good = ok("secmail_pgp_verify_mail", r);
    consume_verdict("secmail_pgp_verify_mail", good, verdict);
}

fn autocrypt_read(body: &[u8]) {
    let (p, n) = arg(body);
    let (mut addr, mut mutual, mut cert) = (junk(), true, junk());
    // SAFETY: `p, n` is `body`; out-pointers are locals.
    let r = unsafe { secmail_autocrypt_read(p, n, &mut addr, &mut mutual, &mut cert) };
    let good = ok("secmail_autocrypt_read", r);
    if !good {
        assert!(
            !mutual,
            "secmail_autocrypt_read: failed but left prefer_mutual set"
        );
    }
    let addr = take_string("secmail_autocrypt_read", good, addr);
    if good {
        // Both or neither: a header was found, or there was none.
        assert_eq!(
            addr.is_some(),
            !cert.is_null(),
            "address without certificate or back"
        );
    } else {
        assert!(
            cert.is_null(),
            "secmail_autocrypt_read: failed but left a certificate"
        );
    }
    if !cert.is_null() {
        fingerprint(cert);
        // SAFETY: a live certificate returned above, freed once.
        unsafe { secmail_cert_free(cert) };
    }
}

/// An `Autocrypt:` header value (a C string: the bytes up to the first NUL).
fn autocrypt_parse(body: &[u8]) {
    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
    let Ok(value) = std::ffi::CString::new(&body[..end]) else {
        return;
    };
    let (mut addr, mut mutual, mut cert) = (junk(), true, junk());
    // SAFETY: a NUL-terminated string; local out-pointers.
    let r = unsafe { secmail_autocrypt_parse(value.as_ptr(), &mut addr, &mut mutual, &mut cert) };
    let good = ok("secmail_autocrypt_parse", r);
    if !good {
        assert!(
            !mutual,
            "secmail_autocrypt_parse: failed but left prefer_mutual set"
        );
    }
    let addr = take_string("secmail_autocrypt_parse", good, addr);
    assert_eq!(addr.is_some(), good);
    check_handle("secmail_autocrypt_parse", good, cert);
    if good {
        fingerprint(cert);
        // SAFETY: a live certificate returned above, freed once.
        unsafe { secmail_cert_free(cert) };
    }
}

/// Signs and encrypts-and-signs `body` (a message from anyone) as PGP/MIME with the fixed
/// key: whatever the writers accept must read back, with the protection they applied.
fn protect_mail(f: &Fixture, body: &[u8]) {
    let (p, n) = arg(body);
    let me = [f.key.cast_const()];
    // SAFETY (whole block): `p, n` is `body`; live key, signer and options; local out-pointers.
    let (signed, sealed) = unsafe {
        let mut out = junk_buffer();
        let r = secmail_pgp_sign_mail(p, n, f.signer, &mut out);
        let good = ok("secmail_pgp_sign_mail", r);
        let signed = take_buffer("secmail_pgp_sign_mail", good, out);
        let mut out = junk_buffer();
        let r = secmail_pgp_encrypt_mail(p, n, me.as_ptr(), me.len(), f.signer, &mut out);
        let good = ok("secmail_pgp_encrypt_mail", r);
        (signed, take_buffer("secmail_pgp_encrypt_mail", good, out))
    };
    // Content that is itself signed or encrypted is opened by the readers too, where a
    // malformed inner layer may fail the read (see ffi_smime and fuzz/known-crashes/README.md).
    if claims_protection(body) {
        return;
    }
    if !signed.is_empty() {
        let (sp, sn) = arg(&signed);
        let mut verdict = junk();
        // SAFETY: `signed` is readable; one live certificate; a local out-pointer.
        let r = unsafe { secmail_pgp_verify_mail(sp, sn, me.as_ptr(), me.len(), &mut verdict) };
        let good = ok("secmail_pgp_verify_mail", r);
        let (flags, parts) = consume_verdict_parts("secmail_pgp_verify_mail", good, verdict);
        assert!(
            good,
            "secmail_pgp_verify_mail: cannot read what secmail_pgp_sign_mail made"
        );
        if parts > 0 {
            assert!(
                flags & SECMAIL_VERDICT_FULLY_SIGNED != 0,
                "signed mail reads as not signed"
            );
        }
    }
    if !sealed.is_empty() {
        let (sp, sn) = arg(&sealed);
        let (mut out, mut verdict) = (junk_buffer(), junk());
        // SAFETY: `sealed` is readable; live options; local out-pointers.
        let r = unsafe { secmail_pgp_decrypt_mail(sp, sn, f.options, &mut out, &mut verdict) };
        let good = ok("secmail_pgp_decrypt_mail", r);
        take_buffer("secmail_pgp_decrypt_mail", good, out);
        let (flags, parts) = consume_verdict_parts("secmail_pgp_decrypt_mail", good, verdict);
        assert!(
            good,
            "secmail_pgp_decrypt_mail: cannot read what secmail_pgp_encrypt_mail made"
        );
        let want = SECMAIL_VERDICT_FULLY_ENCRYPTED | SECMAIL_VERDICT_FULLY_SIGNED;
        if parts > 0 {
            assert_eq!(
                flags & want,
                want,
                "encrypted and signed mail reads back without both"
            );
        }
    }
}

/// Whether any part of `body`, parsed as a message, is typed as signed or encrypted content.
fn claims_protection(body: &[u8]) -> bool {
    let Ok(msg) = secmail_core::mime::Message::parse(body.to_vec()) else {
        return false;
    };
    msg.parts().any(|p| {
        let t = p.content_type().mime_type().to_ascii_lowercase();
        t.starts_with("multipart/signed")
            || t.starts_with("multipart/encrypted")
            || t.contains("pkcs7")
            || t.contains("pgp")
    })
}
