//! Certificates and private keys: loading (PEM and DER, PKCS#8, PKCS#1 and SEC1) and what the
//! rest of the crate reads from a certificate (addresses, key usage, fingerprint).
//!
//! Private keys are held by aws-lc-rs, whose RSA and ECDSA private-key operations are
//! constant-time; the `rsa` crate (RUSTSEC-2023-0071, Marvin) is not used at all.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeyPair as RsaKeyPair, KeySize, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey,
    PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair as _};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::oids;

/// The largest certificate or key file read (1 MiB).
const MAX_FILE: usize = 1 << 20;

/// Loads one or more certificates: PEM (`-----BEGIN CERTIFICATE-----` blocks, a chain in
/// order) or DER (one certificate, or several concatenated).
pub fn load_certificates(data: &[u8]) -> Result<Vec<Certificate>> {
    if data.len() > MAX_FILE {
        return Err(Error::malformed("certificate file", "larger than 1 MiB"));
    }
    let trimmed = data.trim_ascii_start();
    let certs = if trimmed.starts_with(b"-----BEGIN") {
        Certificate::load_pem_chain(trimmed).map_err(|e| Error::malformed("PEM certificate", e))?
    } else {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let (cert, tail) = Certificate::from_der_partial(rest)
                .map_err(|e| Error::malformed("DER certificate", e))?;
            out.push(cert);
            rest = tail;
        }
        out
    };
    if certs.is_empty() {
        return Err(Error::malformed("certificate file", "no certificate found"));
    }
    Ok(certs)
}

/// Loads exactly one certificate (PEM or DER).
pub fn load_certificate(data: &[u8]) -> Result<Certificate> {
    let mut certs = load_certificates(data)?;
    if certs.len() != 1 {
        return Err(Error::Misuse(format!(
            "expected one certificate, found {}",
            certs.len()
        )));
    }
    certs
        .pop()
        .ok_or_else(|| Error::malformed("certificate file", "empty"))
}

/// A certificate as PEM.
pub fn certificate_to_pem(cert: &Certificate) -> Result<String> {
    let der = cert.to_der().map_err(|e| Error::Misuse(e.to_string()))?;
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der)
        .map_err(|e| Error::Misuse(e.to_string()))
}

/// The SHA-256 fingerprint of a certificate's DER encoding, upper-case hex.
pub fn fingerprint(cert: &Certificate) -> String {
    let der = cert.to_der().unwrap_or_default();
    hex_upper(&Sha256::digest(&der))
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The certificate's subject as a string (RFC 4514).
pub fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate().subject().to_string()
}

/// The email addresses a certificate is for: the rfc822Name entries of its subjectAltName,
/// and, when it has none, the legacy emailAddress attribute of its subject.
pub fn email_addresses(cert: &Certificate) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(Some((_, san))) = cert.tbs_certificate().get_extension::<SubjectAltName>() {
        for name in san.0 {
            if let GeneralName::Rfc822Name(s) = name {
                out.push(s.to_string());
            }
        }
    }
    if out.is_empty() {
        for atv in cert.tbs_certificate().subject().iter() {
            if atv.oid == oids::EMAIL_ADDRESS
                && let Ok(s) = atv.value.decode_as::<der::asn1::Ia5String>()
            {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// The certificate's keyUsage, `None` when it has none (every use allowed).
pub(crate) fn key_usage(cert: &Certificate) -> Result<Option<KeyUsage>> {
    cert.tbs_certificate()
        .get_extension::<KeyUsage>()
        .map(|o| o.map(|(_, ku)| ku))
        .map_err(|e| Error::malformed("keyUsage extension", e))
}

pub(crate) fn extended_key_usage(cert: &Certificate) -> Result<Option<ExtendedKeyUsage>> {
    cert.tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
        .map(|o| o.map(|(_, e)| e))
        .map_err(|e| Error::malformed("extendedKeyUsage extension", e))
}

pub(crate) fn basic_constraints(cert: &Certificate) -> Result<Option<BasicConstraints>> {
    cert.tbs_certificate()
        .get_extension::<BasicConstraints>()
        .map(|o| o.map(|(_, e)| e))
        .map_err(|e| Error::malformed("basicConstraints extension", e))
}

/// Whether the certificate's keyUsage allows `usage` (a certificate without keyUsage allows
/// everything, RFC 5280 §4.2.1.3).
pub fn allows(cert: &Certificate, usage: crate::Usage) -> Result<bool> {
    Ok(match key_usage(cert)? {
        None => true,
        Some(ku) => match usage {
            crate::Usage::Sign => ku.digital_signature() || ku.non_repudiation(),
            crate::Usage::Encrypt => ku.key_encipherment(),
        },
    })
}

/// The DER SubjectPublicKeyInfo of a certificate.
pub(crate) fn spki_der(cert: &Certificate) -> Result<Vec<u8>> {
    cert.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| Error::malformed("certificate public key", e))
}

/// The signature algorithms this crate makes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256 (what every client reads; the default for RSA keys).
    #[default]
    RsaPkcs1Sha256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    RsaPssSha256,
    /// ECDSA on P-256 with SHA-256 (the only choice for a P-256 key).
    EcdsaP256Sha256,
}

enum KeyInner {
    Rsa {
        sign: RsaKeyPair,
        decrypt: PrivateDecryptingKey,
    },
    EcP256(EcdsaKeyPair),
}

/// A private key: RSA (2048 to 8192 bits) or ECDSA P-256. Its `Debug` output shows only the
/// key type. The key material lives inside aws-lc, which wipes it on drop.
pub struct PrivateKey {
    inner: KeyInner,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            KeyInner::Rsa { sign, .. } => {
                write!(f, "PrivateKey(RSA-{})", sign.public_modulus_len() * 8)
            }
            KeyInner::EcP256(_) => f.write_str("PrivateKey(ECDSA P-256)"),
        }
    }
}

impl PrivateKey {
    /// Loads a private key: PEM (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`) or DER
    /// (PKCS#8, PKCS#1 or SEC1). Encrypted keys are refused (decrypt them first).
    pub fn load(data: &[u8]) -> Result<Self> {
        if data.len() > MAX_FILE {
            return Err(Error::Key("key file larger than 1 MiB".into()));
        }
        let trimmed = data.trim_ascii_start();
        if trimmed.starts_with(b"-----BEGIN") {
            let (label, der) =
                der::pem::decode_vec(trimmed).map_err(|e| Error::Key(format!("bad PEM: {e}")))?;
            let der = Zeroizing::new(der);
            match label {
                "PRIVATE KEY" => Self::from_pkcs8(&der),
                "RSA PRIVATE KEY" => Self::from_pkcs1(&der),
                "EC PRIVATE KEY" => Self::from_sec1(&der),
                "ENCRYPTED PRIVATE KEY" => Err(Error::Key(
                    "the key is encrypted; give its password (PrivateKey::load_with_password)"
                        .into(),
                )),
                other => Err(Error::Key(format!(
                    "a PEM {other:?} block is not a private key"
                ))),
            }
        } else {
            Self::from_pkcs8(data)
                .or_else(|_| Self::from_pkcs1(data))
                .or_else(|_| Self::from_sec1(data))
                .map_err(|_| {
                    Error::Key("not a PKCS#8, PKCS#1 or SEC1 private key (RSA or P-256)".into())
                })
        }
    }

    /// Loads a private key that may be encrypted with `password`: an encrypted PKCS#8 key
    /// (RFC 5958 EncryptedPrivateKeyInfo, PEM `ENCRYPTED PRIVATE KEY` or DER) with PBES2
    /// (PBKDF2-HMAC-SHA1/SHA-2 or scrypt; AES-128/192/256-CBC or 3DES-CBC), as `openssl pkcs8
    /// -topk8 -v2 aes-256-cbc` writes it; any key [`PrivateKey::load`] reads otherwise (the
    /// password is then unused). PKCS#5 v1.5 / PKCS#12 PBEs (`-v1`) are not read. A wrong
    /// password is [`Error::Key`].
    pub fn load_with_password(data: &[u8], password: &[u8]) -> Result<Self> {
        if data.len() > MAX_FILE {
            return Err(Error::Key("key file larger than 1 MiB".into()));
        }
        let trimmed = data.trim_ascii_start();
        let der = if trimmed.starts_with(b"-----BEGIN") {
            let (label, der) =
                der::pem::decode_vec(trimmed).map_err(|e| Error::Key(format!("bad PEM: {e}")))?;
            if label != "ENCRYPTED PRIVATE KEY" {
                return Self::load(data);
            }
            der
        } else {
            data.to_vec()
        };
        let Ok(info) = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice()) else {
            return Self::load(data);
        };
        let plain = info.decrypt(password).map_err(|e| {
            Error::Key(format!(
                "cannot decrypt the key (wrong password, or an unsupported scheme): {e}"
            ))
        })?;
        Self::from_pkcs8(plain.as_bytes())
    }

    /// A PKCS#8 (RFC 5208) private key, RSA or P-256.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        if let Ok(sign) = RsaKeyPair::from_pkcs8(der) {
            let decrypt = PrivateDecryptingKey::from_pkcs8(der)
                .map_err(|e| Error::Key(format!("RSA key rejected: {e}")))?;
            return Ok(PrivateKey {
                inner: KeyInner::Rsa { sign, decrypt },
                pkcs8: Zeroizing::new(der.to_vec()),
            });
        }
        let ec = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map_err(|e| Error::Key(format!("neither an RSA nor a P-256 key: {e}")))?;
        Ok(PrivateKey {
            inner: KeyInner::EcP256(ec),
            pkcs8: Zeroizing::new(der.to_vec()),
        })
    }

    /// A PKCS#1 (RFC 8017) RSAPrivateKey.
    pub fn from_pkcs1(der: &[u8]) -> Result<Self> {
        let kp =
            RsaKeyPair::from_der(der).map_err(|e| Error::Key(format!("RSA key rejected: {e}")))?;
        let pkcs8 = kp
            .as_der()
            .map_err(|_| Error::Key("RSA key could not be re-encoded".into()))?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// A SEC1 (RFC 5915) ECPrivateKey on P-256.
    pub fn from_sec1(der: &[u8]) -> Result<Self> {
        let kp = EcdsaKeyPair::from_private_key_der(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map_err(|e| Error::Key(format!("P-256 key rejected: {e}")))?;
        let pkcs8 = kp
            .to_pkcs8v1()
            .map_err(|_| Error::Key("P-256 key could not be re-encoded".into()))?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// A fresh RSA key of `bits` (2048, 3072 or 4096).
    pub fn generate_rsa(bits: usize) -> Result<Self> {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            _ => return Err(Error::Misuse(format!("unsupported RSA key size {bits}"))),
        };
        let kp = RsaKeyPair::generate(size).map_err(|_| Error::Random)?;
        let pkcs8 = kp.as_der().map_err(|_| Error::Random)?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// A fresh ECDSA P-256 key (signing only: S/MIME encryption here is RSA key transport).
    pub fn generate_p256() -> Result<Self> {
        let doc = EcdsaKeyPair::generate_pkcs8(
            &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
            &SystemRandom::new(),
        )
        .map_err(|_| Error::Random)?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// The key as PKCS#8 PEM (unencrypted: store it with care).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, &self.pkcs8)
            .map(Zeroizing::new)
            .map_err(|e| Error::Key(e.to_string()))
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        match &self.inner {
            KeyInner::Rsa { decrypt, .. } => decrypt
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| Error::Key("public key export failed".into())),
            KeyInner::EcP256(kp) => kp
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| Error::Key("public key export failed".into())),
        }
    }

    /// Whether this key is the private half of `cert`'s public key.
    pub fn matches(&self, cert: &Certificate) -> bool {
        match (self.public_key_der(), spki_der(cert)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    pub(crate) fn is_rsa(&self) -> bool {
        matches!(self.inner, KeyInner::Rsa { .. })
    }

    /// The algorithm used when the caller asks for the default.
    pub(crate) fn default_algorithm(&self) -> SignatureAlgorithm {
        match self.inner {
            KeyInner::Rsa { .. } => SignatureAlgorithm::RsaPkcs1Sha256,
            KeyInner::EcP256(_) => SignatureAlgorithm::EcdsaP256Sha256,
        }
    }

    /// Signs `msg` (constant-time, aws-lc).
    pub(crate) fn sign(&self, alg: SignatureAlgorithm, msg: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match (&self.inner, alg) {
            (
                KeyInner::Rsa { sign, .. },
                SignatureAlgorithm::RsaPkcs1Sha256 | SignatureAlgorithm::RsaPssSha256,
            ) => {
                let enc: &'static dyn sig::RsaEncoding = if alg == SignatureAlgorithm::RsaPssSha256
                {
                    &sig::RSA_PSS_SHA256
                } else {
                    &sig::RSA_PKCS1_SHA256
                };
                let mut out = vec![0u8; sign.public_modulus_len()];
                sign.sign(enc, &rng, msg, &mut out)
                    .map_err(|_| Error::Key("RSA signing failed".into()))?;
                Ok(out)
            }
            (KeyInner::EcP256(kp), SignatureAlgorithm::EcdsaP256Sha256) => kp
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Key("ECDSA signing failed".into())),
            _ => Err(Error::Misuse(format!("{alg:?} does not fit a {self:?}"))),
        }
    }

    /// Unwraps a content-encryption key (RSA key transport), constant-time in aws-lc. Every
    /// failure is [`Error::DecryptionFailed`].
    pub(crate) fn unwrap_key(
        &self,
        transport: &KeyTransport,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let KeyInner::Rsa { decrypt, .. } = &self.inner else {
            return Err(Error::DecryptionFailed);
        };
        let mut out = Zeroizing::new(vec![0u8; decrypt.key_size_bytes()]);
        let n = match transport {
            KeyTransport::RsaPkcs1v15 => {
                let k = Pkcs1PrivateDecryptingKey::new(decrypt.clone())
                    .map_err(|_| Error::DecryptionFailed)?;
                k.decrypt(wrapped, &mut out)
                    .map_err(|_| Error::DecryptionFailed)?
                    .len()
            }
            KeyTransport::RsaOaep(hash) => {
                let k = OaepPrivateDecryptingKey::new(decrypt.clone())
                    .map_err(|_| Error::DecryptionFailed)?;
                k.decrypt(hash.oaep(), wrapped, &mut out, None)
                    .map_err(|_| Error::DecryptionFailed)?
                    .len()
            }
        };
        out.truncate(n);
        Ok(out)
    }
}

/// A hash for RSAES-OAEP (used for the label hash and MGF1 alike).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    /// SHA-1: the RFC 8017 default, what `openssl cms -keyopt rsa_padding_mode:oaep` writes.
    Sha1,
    /// SHA-256 (what this crate writes).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl OaepHash {
    fn oaep(self) -> &'static aws_lc_rs::rsa::OaepAlgorithm {
        use aws_lc_rs::rsa as r;
        match self {
            OaepHash::Sha1 => &r::OAEP_SHA1_MGF1SHA1,
            OaepHash::Sha256 => &r::OAEP_SHA256_MGF1SHA256,
            OaepHash::Sha384 => &r::OAEP_SHA384_MGF1SHA384,
            OaepHash::Sha512 => &r::OAEP_SHA512_MGF1SHA512,
        }
    }
    pub(crate) fn algorithm(self) -> &'static aws_lc_rs::rsa::OaepAlgorithm {
        self.oaep()
    }
}

/// How the content-encryption key is wrapped for an RSA recipient.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyTransport {
    /// RSAES-OAEP (RFC 8017, RFC 3560) with the given hash for both OAEP and MGF1.
    RsaOaep(OaepHash),
    /// RSA PKCS#1 v1.5 (what every client reads; the default).
    #[default]
    RsaPkcs1v15,
}
