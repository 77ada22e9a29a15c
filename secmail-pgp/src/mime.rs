//! PGP/MIME (RFC 3156) with RFC 9788 header protection, over core's MIME layer.
//!
//! Sending: [`sign_mail`] makes `multipart/signed; protocol="application/pgp-signature"` over
//! the canonical form of the message's body (core's [`canonicalize`]); [`encrypt_mail`] makes
//! `multipart/encrypted; protocol="application/pgp-encrypted"`, with a signer as a
//! `multipart/signed` inside the encryption (RFC 3156 §6.1). The message's header fields travel
//! inside the cryptographic payload (RFC 9788, `hp="cipher"`), and the outer `Subject` becomes
//! `[...]`.
//!
//! Receiving: [`decrypt_mail`] returns the decrypted message alone, never spliced into
//! unencrypted parts around it (EFAIL), with the real header fields restored when they were
//! protected. Inline PGP in a single text part is decrypted and verified too (it is never
//! produced). [`verify_mail`] checks `multipart/signed` over the first part's bytes exactly
//! as received, and inline (cleartext) signatures.

use secmail_core::mime::{
    EncryptedParts, HeaderConfidentiality, InlinePgp, Message, Part, Protection, SignatureKind,
    SignedParts, canonicalize, encrypted_pgp_mime, protect_headers, read_protected_headers,
    signed_multipart, to_crlf, wrap,
};
use secmail_core::{PartProtection, Scheme, Verdict};

use crate::decrypt::{DecryptOptions, decrypt, verify, verify_detached};
use crate::encrypt::{EncryptOptions, HASH, encrypt, sign_detached};
use crate::error::{Error, Result};
use crate::keys::{Encoding, SigningKey};
use crate::openpgp::Cert;

/// The `micalg` of the signatures this crate makes.
fn micalg() -> String {
    format!("pgp-{}", HASH.to_string().to_ascii_lowercase())
}

/// Signs a whole message (header fields and body) as PGP/MIME: the result is the message
/// with a `multipart/signed` body whose first part is the canonical original body, carrying
/// the message's header fields (RFC 9788 `hp="clear"`).
pub fn sign_mail(message: &[u8], signer: &SigningKey) -> Result<Vec<u8>> {
    let ph = protect_headers(message, false, HeaderConfidentiality::Baseline)?;
    let canon = canonicalize(&ph.payload)?;
    let sig = sign_detached(&canon, &[signer], Encoding::Armored)?;
    let body = signed_multipart(&canon, &sig, SignatureKind::OpenPgp, &micalg())?;
    Ok(wrap(&ph.outer, &body)?)
}

/// Encrypts a whole message as PGP/MIME to `recipients` (and to the signer, if any, so the
/// sent copy stays readable), signed inside the encryption when `signer` is given. The real
/// header fields travel inside (RFC 9788); outside, `Subject` reads `[...]`.
///
/// ```
/// use secmail_pgp::{DecryptOptions, KeyGenOptions, SigningKey, decrypt_mail, encrypt_mail, generate};
/// let alice = generate(&KeyGenOptions::new("Alice <alice@example.org>"))?.key;
/// let bob = generate(&KeyGenOptions::new("Bob <bob@example.net>"))?.key;
/// let msg = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: Merger\r\n\
/// Content-Type: text/plain\r\n\r\nhi Bob\r\n";
/// let sent = encrypt_mail(msg, &[&bob], Some(&SigningKey::new(&alice, &[])?))?;
/// assert!(String::from_utf8_lossy(&sent).contains("Subject: [...]"));
///
/// let (opened, verdict) = decrypt_mail(&sent, &DecryptOptions::new().key(bob).verify_with(alice))?;
/// let opened = secmail_core::mime::Message::parse(opened)?;
/// assert_eq!(opened.header("Subject"), Some("Merger"));
/// assert!(verdict.is_fully_encrypted() && verdict.is_fully_signed() && verdict.signed_by_sender());
/// # Ok::<(), secmail_pgp::Error>(())
/// ```
pub fn encrypt_mail(
    message: &[u8],
    recipients: &[&Cert],
    signer: Option<&SigningKey>,
) -> Result<Vec<u8>> {
    // Autocrypt-Gossip travels inside the encryption only (Autocrypt Level 1 §2.7).
    let (gossip, message) = split_gossip(message)?;
    let mut ph = protect_headers(&message, true, HeaderConfidentiality::Baseline)?;
    if !gossip.is_empty() {
        let mut p = gossip;
        p.extend_from_slice(&ph.payload);
        ph.payload = p;
    }
    let inner = match signer {
        Some(s) => {
            let canon = canonicalize(&ph.payload)?;
            let sig = sign_detached(&canon, &[s], Encoding::Armored)?;
            signed_multipart(&canon, &sig, SignatureKind::OpenPgp, &micalg())?
        }
        None => to_crlf(&ph.payload),
    };
    let mut opts = EncryptOptions::new().recipients(recipients.iter().copied());
    if let Some(s) = signer {
        // Encrypt to the sender too; the signature is already inside, as multipart/signed.
        opts = opts.recipient(s.cert());
    }
    let armored = encrypt(&inner, &opts)?;
    let body = encrypted_pgp_mime(&armored)?;
    Ok(wrap(&ph.outer, &body)?)
}

/// Splits the top-level `Autocrypt-Gossip` fields (raw, CRLF-terminated) from the message.
fn split_gossip(message: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let msg = Message::parse(message.to_vec())?;
    let raw = msg.raw();
    let mut gossip = Vec::new();
    let mut rest = Vec::with_capacity(raw.len());
    let mut at = 0;
    for f in msg.root().headers() {
        if !f.name.eq_ignore_ascii_case("autocrypt-gossip") {
            continue;
        }
        let r = f.range.clone();
        if r.start < at || r.end > raw.len() {
            continue;
        }
        rest.extend_from_slice(&raw[at..r.start]);
        gossip.extend_from_slice(&raw[r.clone()]);
        gossip.extend_from_slice(b"\r\n");
        at = r.end;
        if raw[at..].starts_with(b"\r\n") {
            at += 2;
        } else if raw[at..].starts_with(b"\n") {
            at += 1;
        }
    }
    rest.extend_from_slice(&raw[at..]);
    Ok((gossip, rest))
}

/// The content leaves (non-multipart parts) of `part`, as unprotected [`PartProtection`]s.
fn leaves(part: &Part) -> Vec<PartProtection> {
    part.walk()
        .filter(|p| !p.content_type().is_multipart())
        .map(|p| PartProtection::new(p.path().to_string()))
        .collect()
}

/// Whether the header field belongs to the outer message only (structure and trace).
fn is_outer_only(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("content-") || n == "mime-version"
}

/// The outer header fields of `msg` without the MIME structure fields, raw.
fn outer_fields(msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    for f in msg.root().headers() {
        if is_outer_only(&f.name) {
            continue;
        }
        if let Some(b) = msg.raw().get(f.range.clone()) {
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn certs_of(opts: &DecryptOptions) -> Vec<Cert> {
    opts.verification_certs()
}

/// Decrypts a PGP/MIME (or inline PGP) message and verifies the signatures inside.
///
/// Returns the decrypted message alone, and its [`Verdict`], whose part paths refer to the
/// returned message. When the header fields were protected (RFC 9788 or the older
/// `protected-headers="v1"`), the returned message carries the protected ones; otherwise the
/// outer fields are put above the decrypted body. A message that is only signed is verified
/// and returned as it is. Plaintext comes back only when the encryption's integrity check
/// passed.
pub fn decrypt_mail(message: &[u8], opts: &DecryptOptions) -> Result<(Vec<u8>, Verdict)> {
    let msg = Message::parse(message.to_vec())?;
    let root = msg.root();
    match root.protection() {
        Some(Protection::PgpMimeEncrypted) => {}
        Some(Protection::PgpMimeSigned { .. }) => {
            let v = verify_mail(message, &certs_of(opts))?;
            if !opts.signers_satisfied(&v) {
                return Err(Error::NoGoodSignature);
            }
            return Ok((message.to_vec(), v));
        }
        Some(Protection::InlinePgp(InlinePgp::Message))
        | Some(Protection::InlinePgp(InlinePgp::SignedMessage)) => {
            return inline(&msg, opts);
        }
        _ => {
            return Err(Error::malformed(
                "PGP/MIME message",
                "not multipart/encrypted with protocol application/pgp-encrypted, \
                 nor inline PGP in a single text part",
            ));
        }
    }
    let ep = EncryptedParts::of(root)?;
    // The signature may be a multipart/signed inside: required signers are checked below,
    // over everything found.
    let mut outer_opts = opts.clone();
    outer_opts.required_signers.clear();
    let (inner_bytes, dv) = decrypt(ep.payload.body().bytes(), &outer_opts)?;
    if !dv.is_fully_encrypted() {
        return Err(Error::malformed(
            "PGP/MIME message",
            "the multipart/encrypted payload is not encrypted",
        ));
    }
    let decrypted_with = dv.parts.first().and_then(|p| p.decrypted_with.clone());
    let inner = Message::parse(inner_bytes)?;
    let mut sigs = dv.signatures;
    // A signed part inside the encryption (RFC 3156 §6.1): its first part is the payload.
    let payload = match inner.root().protection() {
        Some(Protection::PgpMimeSigned { .. }) => {
            let sp = SignedParts::of(inner.root())?;
            let v = verify_detached(
                &sp.signed_bytes(),
                sp.signature.body().bytes(),
                &certs_of(opts),
                None,
            )?;
            sigs.extend(v.signatures);
            sp.content
        }
        _ => inner.root(),
    };
    let hp = read_protected_headers(payload, Some(root));
    let out = if hp.is_some() {
        payload.raw().to_vec()
    } else {
        let mut o = outer_fields(&msg);
        o.extend_from_slice(payload.raw());
        o
    };
    let outm = Message::parse(out.clone())?;
    let from = if hp.is_some() {
        outm.from_address()
    } else {
        msg.from_address()
    };
    let mut verdict = Verdict::new(from);
    for mut p in leaves(outm.root()) {
        p.encrypted = true;
        p.scheme = Some(Scheme::OpenPgp);
        p.decrypted_with = decrypted_with.clone();
        verdict.parts.push(p);
    }
    for mut s in sigs {
        s.covers = vec![String::new()];
        verdict.add_signature(s);
    }
    verdict.header_protection = hp;
    if !opts.signers_satisfied(&verdict) {
        return Err(Error::NoGoodSignature);
    }
    Ok((out, verdict))
}

/// Inline PGP in a single text part: decrypt (or verify) it and return it alone as a
/// text/plain message under the outer header fields.
fn inline(msg: &Message, opts: &DecryptOptions) -> Result<(Vec<u8>, Verdict)> {
    let root = msg.root();
    let body = root.body().bytes();
    let (pt, dv) = match root.protection() {
        Some(Protection::InlinePgp(InlinePgp::SignedMessage)) => {
            verify(body, &certs_of(opts), None)?
        }
        _ => {
            let mut o = opts.clone();
            o.required_signers.clear();
            decrypt(body, &o)?
        }
    };
    let mut out = outer_fields(msg);
    out.extend_from_slice(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
    );
    out.extend_from_slice(&to_crlf(&pt));
    let mut verdict = Verdict::new(msg.from_address());
    let mut p = PartProtection::new("");
    if let Some(d) = dv.parts.first() {
        p.encrypted = d.encrypted;
        p.decrypted_with = d.decrypted_with.clone();
        if d.encrypted {
            p.scheme = Some(Scheme::OpenPgp);
        }
    }
    verdict.parts.push(p);
    for mut s in dv.signatures {
        s.covers = vec![String::new()];
        verdict.add_signature(s);
    }
    if !opts.signers_satisfied(&verdict) {
        return Err(Error::NoGoodSignature);
    }
    Ok((out, verdict))
}

/// Verifies a PGP/MIME `multipart/signed` message (over the first part's bytes exactly as
/// received, line endings made CRLF) or an inline cleartext signature in a single text part.
///
/// The verdict's paths refer to the message as given; with RFC 9788 `hp="clear"`, its
/// `from` is the protected `From`.
pub fn verify_mail(message: &[u8], certs: &[Cert]) -> Result<Verdict> {
    let msg = Message::parse(message.to_vec())?;
    let root = msg.root();
    match root.protection() {
        Some(Protection::PgpMimeSigned { .. }) => {
            let sp = SignedParts::of(root)?;
            let hp = read_protected_headers(sp.content, Some(root));
            let from = match &hp {
                Some(_) => {
                    let inner = Message::parse(sp.content.raw().to_vec())?;
                    inner.from_address().or_else(|| msg.from_address())
                }
                None => msg.from_address(),
            };
            let v = verify_detached(&sp.signed_bytes(), sp.signature.body().bytes(), certs, None)?;
            let mut verdict = Verdict::new(from);
            verdict.parts = leaves(sp.content);
            let cover = sp.content.path().to_string();
            for mut s in v.signatures {
                s.covers = vec![cover.clone()];
                verdict.add_signature(s);
            }
            verdict.header_protection = hp;
            Ok(verdict)
        }
        Some(Protection::InlinePgp(InlinePgp::SignedMessage))
        | Some(Protection::InlinePgp(InlinePgp::Message)) => {
            let (_, v) = verify(root.body().bytes(), certs, None)?;
            let mut verdict = Verdict::new(msg.from_address());
            verdict.parts.push(PartProtection::new(""));
            for mut s in v.signatures {
                s.covers = vec![String::new()];
                verdict.add_signature(s);
            }
            Ok(verdict)
        }
        _ => Err(Error::malformed(
            "PGP/MIME message",
            "not multipart/signed with protocol application/pgp-signature, \
             nor an inline signed text part",
        )),
    }
}
