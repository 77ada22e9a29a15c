//! Certificate-chain validation for S/MIME (RFC 5280 §6, RFC 8550 §4), to a configured set of
//! trust anchors, with intermediates from the message.
//!
//! Checked: every signature in the chain; each certificate's validity at every given time
//! (the signing time and now); basicConstraints `cA` and pathLenConstraint and keyUsage
//! `keyCertSign` on issuers; keyUsage and extendedKeyUsage `emailProtection` on the end
//! entity; its rfc822Name (or legacy emailAddress) against the sender; unknown critical
//! extensions. Revocation (CRL, OCSP) is not checked.

use std::time::{SystemTime, UNIX_EPOCH};

use der::Encode;
use x509_cert::Certificate;

use crate::certs::{self, basic_constraints, extended_key_usage, key_usage};
use crate::crypto;
use crate::error::{Usage, ValidationError};
use crate::oids;

/// The longest chain built (end entity included).
pub const MAX_CHAIN: usize = 8;

/// What to validate a certificate for.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    /// The use.
    pub usage: Usage,
    /// The sender's address, which must be one of the certificate's addresses.
    pub email: Option<&'a str>,
    /// The times at which every certificate of the chain must be valid.
    pub times: Vec<SystemTime>,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn name_of(c: &Certificate) -> String {
    certs::subject(c)
}

const KNOWN_EXTENSIONS: &[const_oid::ObjectIdentifier] = &[
    oids::EXT_SUBJECT_KEY_ID,
    oids::EXT_KEY_USAGE,
    oids::EXT_SUBJECT_ALT_NAME,
    oids::EXT_BASIC_CONSTRAINTS,
    oids::EXT_AUTHORITY_KEY_ID,
    oids::EXT_EXTENDED_KEY_USAGE,
    oids::EXT_CERTIFICATE_POLICIES,
    oids::EXT_ISSUER_ALT_NAME,
];

fn check_one(c: &Certificate, times: &[SystemTime]) -> Result<(), ValidationError> {
    let subject = name_of(c);
    let v = c.tbs_certificate().validity();
    let nb = v.not_before.to_unix_duration().as_secs();
    let na = v.not_after.to_unix_duration().as_secs();
    for &t in times {
        let at = secs(t);
        if at < nb {
            return Err(ValidationError::NotYetValid {
                subject,
                not_before: nb,
                at,
            });
        }
        if at > na {
            return Err(ValidationError::Expired {
                subject,
                not_after: na,
                at,
            });
        }
    }
    for e in c.tbs_certificate().extensions().into_iter().flatten() {
        if e.critical && !KNOWN_EXTENSIONS.contains(&e.extn_id) {
            return Err(ValidationError::UnknownCriticalExtension {
                subject,
                oid: e.extn_id.to_string(),
            });
        }
    }
    Ok(())
}

fn malformed(c: &Certificate, e: impl std::fmt::Display) -> ValidationError {
    ValidationError::Malformed {
        subject: name_of(c),
        detail: e.to_string(),
    }
}

/// Whether `issuer`'s key made the signature on `c`.
fn signed_by(c: &Certificate, issuer: &Certificate) -> Result<bool, ValidationError> {
    if c.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return Ok(false);
    }
    let tbs = c.tbs_certificate().to_der().map_err(|e| malformed(c, e))?;
    let sig = c
        .signature()
        .as_bytes()
        .ok_or_else(|| malformed(c, "signature has unused bits"))?;
    let spki = issuer.tbs_certificate().subject_public_key_info();
    match crypto::verify(spki, c.signature_algorithm(), None, &tbs, sig) {
        Ok(()) => Ok(true),
        Err(crypto::SigFail::Bad) => Ok(false),
        Err(crypto::SigFail::Unsupported(oid)) => Err(ValidationError::UnsupportedAlgorithm {
            subject: name_of(c),
            oid,
        }),
    }
}

/// Checks what an issuing certificate must allow, with `below` CAs between it and the leaf.
fn check_issuer(ca: &Certificate, below: usize) -> Result<(), ValidationError> {
    let subject = name_of(ca);
    let bc = basic_constraints(ca).map_err(|e| malformed(ca, e))?;
    match bc {
        Some(bc) if bc.ca => {
            if let Some(n) = bc.path_len_constraint
                && below > usize::from(n)
            {
                return Err(ValidationError::PathLenExceeded {
                    subject,
                    path_len: n,
                });
            }
        }
        _ => return Err(ValidationError::NotCa { subject }),
    }
    if let Some(ku) = key_usage(ca).map_err(|e| malformed(ca, e))?
        && !ku.key_cert_sign()
    {
        return Err(ValidationError::CaKeyUsage { subject });
    }
    Ok(())
}

/// Checks the end-entity certificate alone: usage, extended key usage, address. Used for the
/// sender's own certificates too (before signing or encrypting).
pub fn check_end_entity(
    leaf: &Certificate,
    usage: Usage,
    email: Option<&str>,
) -> Result<(), ValidationError> {
    let subject = name_of(leaf);
    if !certs::allows(leaf, usage).map_err(|e| malformed(leaf, e))? {
        return Err(ValidationError::KeyUsage { subject, usage });
    }
    if let Some(eku) = extended_key_usage(leaf).map_err(|e| malformed(leaf, e))?
        && !eku
            .0
            .iter()
            .any(|o| *o == oids::EMAIL_PROTECTION || *o == oids::ANY_EXTENDED_KEY_USAGE)
    {
        return Err(ValidationError::ExtendedKeyUsage { subject });
    }
    if let Some(email) = email {
        let found = certs::email_addresses(leaf);
        if !found.iter().any(|a| same_address(a, email)) {
            return Err(ValidationError::EmailMismatch {
                subject,
                expected: email.to_owned(),
                found,
            });
        }
    }
    Ok(())
}

/// Local part exactly, domain without regard to case (RFC 5321 §2.4), as secmail-core does.
pub(crate) fn same_address(a: &str, b: &str) -> bool {
    let split = |s: &str| {
        let s = s.trim().trim_start_matches('<').trim_end_matches('>');
        s.rsplit_once('@')
            .map(|(l, d)| (l.to_owned(), d.to_ascii_lowercase()))
    };
    matches!((split(a), split(b)), (Some(x), Some(y)) if x == y)
}

/// Validates `leaf` for `policy`: builds a chain through `intermediates` to one of `anchors`
/// and checks it. Returns the chain, leaf first, anchor last.
pub fn validate(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    policy: &Policy<'_>,
) -> Result<Vec<Certificate>, ValidationError> {
    check_one(leaf, &policy.times)?;
    check_end_entity(leaf, policy.usage, policy.email)?;
    let mut chain = vec![leaf.clone()];
    // The leaf itself may be an anchor (a self-signed certificate the user trusts).
    if anchors.iter().any(|a| a == leaf) {
        return Ok(chain);
    }
    loop {
        if chain.len() >= MAX_CHAIN {
            return Err(ValidationError::TooLong(MAX_CHAIN));
        }
        let cur = chain.last().ok_or(ValidationError::TooLong(0))?.clone();
        let below = chain.len() - 1; // CAs between the next issuer and the leaf
        // An anchor first.
        let mut bad_sig = false;
        for a in anchors {
            if cur.tbs_certificate().issuer() != a.tbs_certificate().subject() {
                continue;
            }
            if signed_by(&cur, a)? {
                check_one(a, &policy.times)?;
                check_issuer(a, below)?;
                chain.push(a.clone());
                return Ok(chain);
            }
            bad_sig = true;
        }
        let next = intermediates.iter().find(|i| {
            !chain.contains(i) && cur.tbs_certificate().issuer() == i.tbs_certificate().subject()
        });
        match next {
            Some(i) if signed_by(&cur, i)? => {
                check_one(i, &policy.times)?;
                check_issuer(i, below)?;
                chain.push(i.clone());
            }
            Some(_) => {
                return Err(ValidationError::BadSignature {
                    subject: name_of(&cur),
                });
            }
            None if bad_sig => {
                return Err(ValidationError::BadSignature {
                    subject: name_of(&cur),
                });
            }
            None => {
                return Err(ValidationError::Untrusted {
                    subject: name_of(&cur),
                    issuer: cur.tbs_certificate().issuer().to_string(),
                });
            }
        }
    }
}
