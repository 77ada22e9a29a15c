//! Bodies of the fuzz targets (`fuzz/fuzz_targets/smime_*.rs`): everything an attacker's bytes
//! reach, with a fixed public test identity (`fuzz-fixture/`). Not part of the stable API.

use std::sync::OnceLock;
use std::time::SystemTime;

use x509_cert::Certificate;

use crate::certs::{PrivateKey, load_certificate, load_certificates};

struct Fixture {
    ca: Certificate,
    cert: Certificate,
    key: PrivateKey,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        Some(Fixture {
            ca: load_certificate(include_bytes!("../fuzz-fixture/ca.pem")).ok()?,
            cert: load_certificate(include_bytes!("../fuzz-fixture/cert.pem")).ok()?,
            key: PrivateKey::load(include_bytes!("../fuzz-fixture/key.pem")).ok()?,
        })
    })
    .as_ref()
}

/// A CMS object (BER or DER): verified as opaque and as detached SignedData, decrypted as
/// EnvelopedData or AuthEnvelopedData with the fixture key.
#[doc(hidden)]
pub fn fuzz_cms(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let anchors = std::slice::from_ref(&f.ca);
    let now = SystemTime::now();
    let _ = crate::verify::verify(data, None, anchors, now);
    let _ = crate::verify::verify(data, Some(b"content"), anchors, now);
    let _ = crate::decrypt::decrypt(data, &f.cert, &f.key);
}

/// Certificate files (PEM or DER, chains) and everything read from a certificate.
#[doc(hidden)]
pub fn fuzz_certificate(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let _ = crate::pkcs12::load_pkcs12(data, "fuzz");
    let _ = PrivateKey::load_with_password(data, b"fuzz");
    let Ok(certs) = load_certificates(data) else {
        return;
    };
    for c in &certs {
        let _ = crate::certs::email_addresses(c);
        let _ = crate::certs::fingerprint(c);
        let _ = crate::certs::allows(c, crate::Usage::Encrypt);
        let policy = crate::validate::Policy {
            usage: crate::Usage::Sign,
            email: Some("fuzz@example.org"),
            times: vec![SystemTime::now()],
        };
        let _ = crate::validate::validate(c, &certs, std::slice::from_ref(&f.ca), &policy);
        let _ = crate::validate::validate(c, &certs, &certs, &policy);
    }
}

/// A whole message read with the fixture identity and anchor, strictly.
#[doc(hidden)]
pub fn fuzz_message(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let mut opts = crate::mime::ReadOptions::default();
    let anchors = std::slice::from_ref(&f.ca);
    opts.anchors = anchors;
    opts.decrypt_with = Some((&f.cert, &f.key));
    let _ = crate::mime::read_message(data, &opts);
    let mut out = Vec::new();
    if crate::stream::message::read_message_stream(data, &mut out, &opts).is_err() {
        assert!(
            out.is_empty(),
            "the streaming reader wrote output and then failed"
        );
    }
    opts.require_valid_signature = true;
    let _ = crate::mime::read_message(data, &opts);
    let mut out = Vec::new();
    if crate::stream::message::read_message_stream(data, &mut out, &opts).is_err() {
        assert!(
            out.is_empty(),
            "the streaming reader wrote output and then failed"
        );
    }
}

/// CMS EnvelopedData / AuthEnvelopedData (BER or DER) decrypted with the fixture key alone:
/// seeds encrypted to the fixture certificate get past the key transport, so the fuzzer works
/// on the content decryption (CBC padding, GCM tag, lengths). Never a panic.
#[doc(hidden)]
pub fn fuzz_decrypt(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let _ = crate::decrypt::decrypt(data, &f.cert, &f.key);
}

/// A certificate chain (PEM or DER; the first certificate is the leaf, the rest are offered as
/// intermediates) validated against the fixed fixture anchor, for signing and for
/// encryption. Never a panic.
#[doc(hidden)]
pub fn fuzz_chain(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let Ok(certs) = load_certificates(data) else {
        return;
    };
    let Some(leaf) = certs.first() else { return };
    let anchors = std::slice::from_ref(&f.ca);
    for usage in [crate::Usage::Sign, crate::Usage::Encrypt] {
        let policy = crate::validate::Policy {
            usage,
            email: Some("fuzz@example.org"),
            times: vec![SystemTime::now()],
        };
        let _ = crate::validate::validate(leaf, &certs[1..], anchors, &policy);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fixture_loads_and_targets_accept_garbage() {
        assert!(fixture().is_some());
        for data in [
            &b""[..],
            b"\x30\x80",
            b"-----BEGIN CERTIFICATE-----\n",
            b"From: a@b\r\n\r\nx",
        ] {
            fuzz_cms(data);
            fuzz_certificate(data);
            fuzz_message(data);
            fuzz_decrypt(data);
            fuzz_chain(data);
        }
    }
}
