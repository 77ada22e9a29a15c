//! The policy every operation runs under, and policy-checked key selection.

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::packet::key::PublicParts;
use openpgp::policy::{Policy, StandardPolicy};

use crate::error::{Error, Result};

static POLICY: StandardPolicy<'static> = StandardPolicy::new();

/// sequoia's [`StandardPolicy`]: no SHA-1 binding signatures, no MD5, no keys too short, no
/// messages without integrity protection. Every operation of this crate runs under it.
pub fn policy() -> &'static dyn Policy {
    &POLICY
}

/// The encryption-capable (sub)keys of `cert` that may be encrypted to now: bound by a
/// signature the standard policy accepts, not expired, not revoked, of a supported algorithm,
/// in a certificate that is itself valid, not expired and not revoked.
pub fn encryption_keys(cert: &Cert) -> Result<Vec<ValidErasedKeyAmalgamation<'_, PublicParts>>> {
    let vc = cert
        .with_policy(policy(), None)
        .map_err(|e| Error::unusable(cert.fingerprint(), e.to_string()))?;
    check_alive(&vc)?;
    let keys: Vec<_> = vc
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .for_transport_encryption()
        .for_storage_encryption()
        .collect();
    if keys.is_empty() {
        return Err(Error::unusable(
            cert.fingerprint(),
            "no valid encryption-capable key (expired, revoked or policy-rejected)",
        ));
    }
    Ok(keys)
}

/// Whether a valid certificate is alive and not revoked.
pub(crate) fn check_alive(vc: &ValidCert<'_>) -> Result<()> {
    if let openpgp::types::RevocationStatus::Revoked(_) = vc.revocation_status() {
        return Err(Error::unusable(
            vc.fingerprint(),
            "the certificate is revoked",
        ));
    }
    vc.alive()
        .map_err(|e| Error::unusable(vc.fingerprint(), format!("not alive: {e}")))
}
