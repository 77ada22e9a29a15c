//! The C ABI's byte-taking S/MIME entry points, chosen by the first byte (modulo 5): read a
//! certificate (then write it as PEM, which must read back as the same certificate), read a
//! private key (likewise), read a message decrypting with the fixed identity of the
//! `smime_decrypt` target (secmail-smime/fuzz-fixture/) and verifying against its CA, and read
//! a message strictly (verify only, a good trusted signature required), and protect a message
//! (sign detached, sign opaque, encrypt, sign-then-encrypt, to and from the fixed identity),
//! which must then read back as signed and/or encrypted. The ABI contract is checked by
//! `ffi_common`.
#![no_main]

mod ffi_common;

use ffi_common::*;
use secmail_ffi::*;

const CA: &[u8] = include_bytes!("../../secmail-smime/fuzz-fixture/ca.pem");
const CERT: &[u8] = include_bytes!("../../secmail-smime/fuzz-fixture/cert.pem");
const KEY: &[u8] = include_bytes!("../../secmail-smime/fuzz-fixture/key.pem");

/// The fixed identity and anchor, made once through the ABI and never freed.
struct Fixture {
    ca: *mut secmail_smime_cert_t,
    cert: *mut secmail_smime_cert_t,
    key: *mut secmail_smime_key_t,
}

fn fixture() -> &'static Fixture {
    thread_local! {
        static F: &'static Fixture = Box::leak(Box::new(make_fixture()));
    }
    F.with(|f| *f)
}

fn make_fixture() -> Fixture {
    let (mut ca, mut cert, mut key) = (junk(), junk(), junk());
    // SAFETY: the fixture bytes are readable; the out-pointers are locals.
    unsafe {
        assert!(ok(
            "ca",
            secmail_smime_cert_from_bytes(CA.as_ptr(), CA.len(), &mut ca)
        ));
        assert!(ok(
            "cert",
            secmail_smime_cert_from_bytes(CERT.as_ptr(), CERT.len(), &mut cert)
        ));
        assert!(ok(
            "key",
            secmail_smime_key_from_bytes(KEY.as_ptr(), KEY.len(), &mut key)
        ));
    }
    Fixture { ca, cert, key }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let f = fixture();
    match selector % 5 {
        0 => certificate(body),
        1 => key(body),
        2 => drop(read(f, body, true, false)),
        3 => drop(read(f, body, false, true)),
        _ => protect(f, body),
    }
});

fn pem_of_cert(cert: *const secmail_smime_cert_t) -> String {
    let mut pem = junk();
    // SAFETY: a live certificate; a local out-pointer.
    let r = unsafe { secmail_smime_cert_to_pem(cert, &mut pem) };
    take_string(
        "secmail_smime_cert_to_pem",
        ok("secmail_smime_cert_to_pem", r),
        pem,
    )
    .unwrap_or_default()
}

fn fingerprint(cert: *const secmail_smime_cert_t) -> String {
    let mut s = junk();
    // SAFETY: a live certificate; a local out-pointer.
    let r = unsafe { secmail_smime_cert_fingerprint(cert, &mut s) };
    take_string(
        "secmail_smime_cert_fingerprint",
        ok("secmail_smime_cert_fingerprint", r),
        s,
    )
    .unwrap_or_default()
}

fn certificate(body: &[u8]) {
    let (p, n) = arg(body);
    let mut cert = junk();
    // SAFETY: `p, n` is `body`; a local out-pointer.
    let good = ok("secmail_smime_cert_from_bytes", unsafe {
        secmail_smime_cert_from_bytes(p, n, &mut cert)
    });
    check_handle("secmail_smime_cert_from_bytes", good, cert);
    if !good {
        return;
    }
    let fpr = fingerprint(cert);
    let pem = pem_of_cert(cert);
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "certificate PEM: {pem}"
    );
    let mut again = junk();
    // SAFETY: the PEM is readable; a local out-pointer; both handles freed once.
    unsafe {
        let r = secmail_smime_cert_from_bytes(pem.as_ptr(), pem.len(), &mut again);
        assert!(
            ok("re-read", r),
            "the certificate's own PEM does not read back"
        );
        assert_eq!(
            fingerprint(again),
            fpr,
            "PEM round trip changed the certificate"
        );
        secmail_smime_cert_free(again);
        secmail_smime_cert_free(cert);
    }
}

fn key(body: &[u8]) {
    let (p, n) = arg(body);
    let mut key = junk();
    // SAFETY: `p, n` is `body`; a local out-pointer.
    let good = ok("secmail_smime_key_from_bytes", unsafe {
        secmail_smime_key_from_bytes(p, n, &mut key)
    });
    check_handle("secmail_smime_key_from_bytes", good, key);
    if !good {
        return;
    }
    let mut pem = junk();
    // SAFETY: a live key; local out-pointers; both handles freed once.
    unsafe {
        let r = secmail_smime_key_to_pem(key, &mut pem);
        let pem = take_string(
            "secmail_smime_key_to_pem",
            ok("secmail_smime_key_to_pem", r),
            pem,
        )
        .unwrap_or_default();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "key PEM");
        let mut again = junk();
        let r = secmail_smime_key_from_bytes(pem.as_ptr(), pem.len(), &mut again);
        assert!(
            ok("re-read", r),
            "the key's own PKCS#8 PEM does not read back"
        );
        let mut pem2 = junk();
        let r = secmail_smime_key_to_pem(again, &mut pem2);
        let pem2 = take_string(
            "secmail_smime_key_to_pem",
            ok("secmail_smime_key_to_pem", r),
            pem2,
        );
        assert_eq!(
            pem2.as_deref(),
            Some(pem.as_str()),
            "PKCS#8 round trip changed the key"
        );
        secmail_smime_key_free(again);
        secmail_smime_key_free(key);
    }
}

/// Reads what the writers made of `body` (a message from anyone): whatever they accept must
/// read back, with the protection they applied.
fn protect(f: &Fixture, body: &[u8]) {
    let (p, n) = arg(body);
    let me = [f.cert.cast_const()];
    let (cert, key) = (f.cert.cast_const(), f.key.cast_const());
    let mut made = Vec::new();
    // SAFETY (whole block): `p, n` is `body`; live handles; an array of one live certificate;
    // local out-pointers.
    unsafe {
        for flags in [0, SECMAIL_SMIME_OPAQUE] {
            let mut out = junk_buffer();
            let r =
                secmail_smime_sign_message(p, n, cert, key, std::ptr::null(), 0, flags, &mut out);
            let good = ok("secmail_smime_sign_message", r);
            made.push((
                take_buffer("secmail_smime_sign_message", good, out),
                SECMAIL_VERDICT_FULLY_SIGNED,
            ));
        }
        let mut out = junk_buffer();
        let r = secmail_smime_encrypt_message(p, n, me.as_ptr(), me.len(), &mut out);
        let good = ok("secmail_smime_encrypt_message", r);
        made.push((
            take_buffer("secmail_smime_encrypt_message", good, out),
            SECMAIL_VERDICT_FULLY_ENCRYPTED,
        ));
        let mut out = junk_buffer();
        let r =
            secmail_smime_sign_encrypt_message(p, n, cert, key, me.as_ptr(), me.len(), &mut out);
        let good = ok("secmail_smime_sign_encrypt_message", r);
        made.push((
            take_buffer("secmail_smime_sign_encrypt_message", good, out),
            SECMAIL_VERDICT_FULLY_SIGNED | SECMAIL_VERDICT_FULLY_ENCRYPTED,
        ));
    }
    // The writers wrap content that is itself S/MIME signed or encrypted (or says it is) as
    // they wrap anything, and the reader then opens those inner layers too, where a malformed
    // one fails the whole read, by design. Reading back is required of all other content,
    // including a multipart/signed of another protocol or of none (fuzz/known-crashes/
    // README.md: "S/MIME writers wrap what the reader refuses", fixed).
    if claims_protection(body) {
        return;
    }
    for (message, want) in made {
        if message.is_empty() {
            continue; // the writer refused the input
        }
        let (flags, parts) = read(f, &message, true, false).unwrap_or_else(|| {
            panic!("secmail_smime_read_message: cannot read what the writer made")
        });
        // A multipart with no leaf part (`Content-Type: multipart` alone, found by this
        // target) reads back with a good signature but a verdict of no parts, which claims
        // nothing: "fully" signed or encrypted is never said of zero parts.
        if parts > 0 {
            assert_eq!(
                flags & want,
                want,
                "read back without the protection applied"
            );
        } else {
            assert_eq!(flags & want, 0, "a verdict of no parts claims protection");
        }
    }
}

/// Whether any part of `body`, parsed as a message, is typed as S/MIME signed or encrypted
/// content (an S/MIME layer the reader opens). A `multipart/signed` of another protocol, or of
/// none, is content the reader must give back (fixed after this target found it).
fn claims_protection(body: &[u8]) -> bool {
    let Ok(msg) = secmail_core::mime::Message::parse(body.to_vec()) else {
        return false;
    };
    msg.parts().any(|p| {
        let ct = p.content_type();
        let t = ct.mime_type().to_ascii_lowercase();
        let protocol = ct.param("protocol").unwrap_or_default().to_ascii_lowercase();
        (t.starts_with("multipart/signed") && protocol.contains("pkcs7"))
            || t.contains("pkcs7-mime")
            || t.contains("pkcs7-signature")
    })
}

/// Reads a message; on success, the verdict's flags and its number of parts.
fn read(f: &Fixture, body: &[u8], decrypt: bool, strict: bool) -> Option<(u32, usize)> {
    let (p, n) = arg(body);
    let anchors = [f.ca.cast_const()];
    let (cert, key) = if decrypt {
        (f.cert.cast_const(), f.key.cast_const())
    } else {
        (std::ptr::null(), std::ptr::null())
    };
    let (mut out, mut verdict) = (junk_buffer(), junk());
    // SAFETY: `p, n` is `body`; live (or NULL) handles; one live anchor; local out-pointers.
    let r = unsafe {
        secmail_smime_read_message(
            p,
            n,
            cert,
            key,
            anchors.as_ptr(),
            anchors.len(),
            strict,
            &mut out,
            &mut verdict,
        )
    };
    let good = ok("secmail_smime_read_message", r);
    take_buffer("secmail_smime_read_message", good, out);
    let (flags, parts) = consume_verdict_parts("secmail_smime_read_message", good, verdict);
    if good && strict {
        assert!(
            flags & SECMAIL_VERDICT_SIGNED_BY_SENDER != 0,
            "strict read without a sender's signature"
        );
    }
    good.then_some((flags, parts))
}
