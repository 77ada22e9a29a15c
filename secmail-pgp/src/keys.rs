//! Keys and certificates: generation, import and export, passphrase-unlocked secret keys.

use std::time::Duration;

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::crypto::{KeyPair, Password};
use openpgp::packet::Signature;
use openpgp::parse::Parse;
use openpgp::serialize::{Serialize, SerializeInto};
use openpgp::types::Features;

use crate::error::{Error, Result};
use crate::policy::policy;

/// The largest certificate or key file read by the one-shot readers (a keyring of many
/// certificates is larger; read those with [`read_certs`] and your own bound).
pub const MAX_CERT_SIZE: usize = 16 * 1024 * 1024;

/// The public-key algorithms a new key can use.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// Ed25519 signing and certification, X25519 encryption (the default; read by GnuPG 2.2,
    /// Thunderbird, and every current implementation).
    #[default]
    Cv25519,
    /// RSA with 3072-bit moduli.
    Rsa3072,
    /// RSA with 4096-bit moduli.
    Rsa4096,
}

/// Which OpenPGP generation a new key belongs to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyProfile {
    /// v4 keys (RFC 4880), advertising SEIPDv1 only: what GnuPG 2.2 and most deployed
    /// software read. The default.
    #[default]
    Rfc4880,
    /// v6 keys (RFC 9580), advertising SEIPDv2 (AEAD). GnuPG 2.2 cannot read them.
    Rfc9580,
}

/// What [`generate`] makes.
#[derive(Debug, Clone, Default)]
pub struct KeyGenOptions {
    /// The User IDs, e.g. `Alice <alice@example.org>`. At least one.
    pub userids: Vec<String>,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The generation.
    pub profile: KeyProfile,
    /// Protect the secret key material with this passphrase.
    pub passphrase: Option<Password>,
    /// How long the key is valid from now; `None` for three years. Use
    /// [`Duration::ZERO`] for a key that never expires.
    pub validity: Option<Duration>,
}

impl KeyGenOptions {
    /// Options for a default key (Curve25519, v4, three years) for `userid`.
    pub fn new(userid: impl Into<String>) -> Self {
        KeyGenOptions {
            userids: vec![userid.into()],
            ..KeyGenOptions::default()
        }
    }
}

/// A freshly generated key and its revocation certificate.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The key: a certificate with secret key material (a TSK).
    pub key: Cert,
    /// A revocation signature for the key, to keep apart from it: import it (see
    /// [`apply_revocation`]) to revoke the key if it is lost or compromised.
    pub revocation: Signature,
}

/// Generates a key: a certification-only primary key, a signing subkey and an encryption
/// subkey, bound to `opts.userids`.
///
/// ```
/// use secmail_pgp::{generate, KeyGenOptions, Algorithm};
/// let k = generate(&KeyGenOptions::new("Alice <alice@example.org>"))?;
/// assert!(k.key.is_tsk());
/// assert_eq!(secmail_pgp::emails(&k.key), vec!["alice@example.org".to_string()]);
/// # Ok::<(), secmail_pgp::Error>(())
/// ```
pub fn generate(opts: &KeyGenOptions) -> Result<GeneratedKey> {
    if opts.userids.is_empty() {
        return Err(Error::Misuse("a key needs at least one User ID".into()));
    }
    let suite = match opts.algorithm {
        Algorithm::Cv25519 => CipherSuite::Cv25519,
        Algorithm::Rsa3072 => CipherSuite::RSA3k,
        Algorithm::Rsa4096 => CipherSuite::RSA4k,
    };
    let mut b = CertBuilder::general_purpose(opts.userids.iter().map(|u| u.as_str()))
        .set_cipher_suite(suite)
        .set_password(opts.passphrase.clone());
    b = match opts.profile {
        KeyProfile::Rfc4880 => b
            .set_profile(openpgp::Profile::RFC4880)
            .and_then(|b| b.set_features(Features::empty().set_seipdv1())),
        KeyProfile::Rfc9580 => b.set_profile(openpgp::Profile::RFC9580),
    }
    .map_err(|e| Error::Misuse(e.to_string()))?;
    match opts.validity {
        Some(d) if d.is_zero() => b = b.set_validity_period(None),
        Some(d) => b = b.set_validity_period(d),
        None => {}
    }
    let (key, revocation) = b
        .generate()
        .map_err(|e| Error::Misuse(format!("key generation failed: {e}")))?;
    Ok(GeneratedKey { key, revocation })
}

/// Reads one certificate or key, armored or binary. Refuses a keyring of several.
pub fn read_cert(bytes: &[u8]) -> Result<Cert> {
    if bytes.len() > MAX_CERT_SIZE {
        return Err(Error::malformed(
            "certificate",
            format!("larger than {MAX_CERT_SIZE} bytes"),
        ));
    }
    Cert::from_bytes(bytes).map_err(|e| Error::malformed_any("certificate", e))
}

/// Reads every certificate of a keyring, armored or binary.
pub fn read_certs(bytes: &[u8]) -> Result<Vec<Cert>> {
    CertParser::from_bytes(bytes)
        .map_err(|e| Error::malformed_any("keyring", e))?
        .map(|c| c.map_err(|e| Error::malformed_any("certificate", e)))
        .collect()
}

/// How to write keys, certificates and messages.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// ASCII armor (RFC 9580 §6).
    #[default]
    Armored,
    /// Binary packets.
    Binary,
}

/// Writes the public certificate of `cert` (any secret key material is left out).
pub fn export_cert(cert: &Cert, encoding: Encoding) -> Result<Vec<u8>> {
    let r = match encoding {
        Encoding::Armored => cert.armored().to_vec(),
        Encoding::Binary => cert.to_vec(),
    };
    r.map_err(|e| Error::Misuse(e.to_string()))
}

/// Writes a key with its secret key material (as protected as it is).
pub fn export_key(key: &Cert, encoding: Encoding) -> Result<Vec<u8>> {
    if !key.is_tsk() {
        return Err(Error::Misuse(
            "export_key needs a key with secret key material".into(),
        ));
    }
    let r = match encoding {
        Encoding::Armored => key.as_tsk().armored().to_vec(),
        Encoding::Binary => key.as_tsk().to_vec(),
    };
    r.map_err(|e| Error::Misuse(e.to_string()))
}

/// The public certificate of a key.
pub fn public_cert(key: &Cert) -> Cert {
    key.clone().strip_secret_key_material()
}

/// Writes a revocation certificate in the form GnuPG writes and imports: the revocation
/// signature alone, armored as a public key block.
pub fn export_revocation(revocation: &Signature) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = openpgp::armor::Writer::new(&mut out, openpgp::armor::Kind::PublicKey)?;
    openpgp::Packet::from(revocation.clone())
        .serialize(&mut w)
        .map_err(|e| Error::Misuse(e.to_string()))?;
    w.finalize()?;
    Ok(out)
}

/// Applies a revocation signature to a certificate (the revoked certificate is what to
/// publish).
pub fn apply_revocation(cert: &Cert, revocation: &Signature) -> Result<Cert> {
    let (cert, _) = cert
        .clone()
        .insert_packets(revocation.clone())
        .map_err(|e| Error::malformed_any("revocation", e))?;
    Ok(cert)
}

/// The email addresses of the certificate's User IDs that are valid under the standard policy
/// now, normalised (lower case), in order.
pub fn emails(cert: &Cert) -> Vec<String> {
    let Ok(vc) = cert.with_policy(policy(), None) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ua in vc.userids() {
        if let Ok(Some(e)) = ua.userid().email_normalized()
            && !out.contains(&e)
        {
            out.push(e);
        }
    }
    out
}

/// The primary User ID of the certificate (valid under the standard policy now), as text.
pub fn primary_userid(cert: &Cert) -> Option<String> {
    let vc = cert.with_policy(policy(), None).ok()?;
    let ua = vc.primary_userid().ok()?;
    Some(String::from_utf8_lossy(ua.userid().value()).into_owned())
}

/// The fingerprint of a certificate as upper-case hex, the form the [`Verdict`](secmail_core::Verdict) uses.
pub fn fingerprint_hex(cert: &Cert) -> String {
    cert.fingerprint().to_hex()
}

/// A secret key unlocked for signing: the keypair of a signing-capable subkey valid under the
/// standard policy now, and the certificate it belongs to.
pub struct SigningKey {
    pub(crate) cert: Cert,
    pub(crate) keypair: KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("cert", &self.cert.fingerprint().to_hex())
            .field("key", &self.keypair.public().fingerprint().to_hex())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Unlocks the signing key of `key`, trying each of `passphrases` if its secret key
    /// material is protected.
    pub fn new(key: &Cert, passphrases: &[Password]) -> Result<SigningKey> {
        let vc = key
            .with_policy(policy(), None)
            .map_err(|e| Error::unusable(key.fingerprint(), e.to_string()))?;
        let mut saw_secret = false;
        for ka in vc
            .keys()
            .supported()
            .alive()
            .revoked(false)
            .for_signing()
            .secret()
        {
            saw_secret = true;
            if let Some(kp) = unlock(ka.key().clone(), passphrases) {
                return Ok(SigningKey {
                    cert: key.clone(),
                    keypair: kp,
                });
            }
        }
        if saw_secret {
            Err(Error::KeyLocked {
                fingerprint: key.fingerprint().to_hex(),
            })
        } else {
            Err(Error::unusable(
                key.fingerprint(),
                "no valid signing-capable secret key (is this a public certificate?)",
            ))
        }
    }

    /// The certificate the signing key belongs to.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }
}

/// The keypair of a secret key, decrypting its secret with one of `passphrases` if needed.
///
/// `key` must keep the runtime role its amalgamation gave it (pass `ka.key().clone()`, never
/// `role_into_unspecified()`): RFC 9580 keys protected with AEAD (S2K usage 253, what sequoia
/// writes for v6 keys) authenticate the packet type, primary or subkey, and sequoia refuses to
/// decrypt a key whose role was erased.
pub(crate) fn unlock(
    key: openpgp::packet::Key<
        openpgp::packet::key::SecretParts,
        openpgp::packet::key::UnspecifiedRole,
    >,
    passphrases: &[Password],
) -> Option<KeyPair> {
    if key.has_unencrypted_secret() {
        return key.into_keypair().ok();
    }
    for pw in passphrases {
        if let Ok(k) = key.clone().decrypt_secret(pw) {
            return k.into_keypair().ok();
        }
    }
    None
}
