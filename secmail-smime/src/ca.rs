//! An in-house certificate authority: a root, intermediates, and end-entity certificates for
//! an email address, with the extensions S/MIME clients check (RFC 8550 §4.4, RFC 5280):
//!
//! - CA: basicConstraints `cA=TRUE` (critical, with an optional pathLen), keyUsage
//!   `keyCertSign, cRLSign` (critical), subjectKeyIdentifier.
//! - End entity: basicConstraints `cA=FALSE`, keyUsage (critical) `digitalSignature,
//!   nonRepudiation` to sign and/or `keyEncipherment` to encrypt, extendedKeyUsage
//!   `emailProtection`, subjectAltName `rfc822Name`, subject and authority key identifiers.
//!
//! OpenSSL's `verify -purpose smimesign` and `-purpose smimeencrypt` accept what it issues.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::asn1::{BitString, GeneralizedTime, Ia5String, OctetString, UtcTime};
use der::flagset::FlagSet;
use der::{Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::certs::{PrivateKey, SignatureAlgorithm};
use crate::error::{Error, Result};
use crate::{crypto, oids};

/// What an end-entity certificate is for.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertUsage {
    /// Signing only (digitalSignature, nonRepudiation).
    Sign,
    /// Encryption only (keyEncipherment): needs an RSA key.
    Encrypt,
    /// Both (one RSA key for signing and encryption).
    #[default]
    Both,
}

/// The key type of a new certificate.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// RSA 2048 (signs and decrypts).
    #[default]
    Rsa2048,
    /// RSA 3072.
    Rsa3072,
    /// ECDSA P-256 (signs only).
    P256,
}

impl KeyKind {
    fn generate(self) -> Result<PrivateKey> {
        match self {
            KeyKind::Rsa2048 => PrivateKey::generate_rsa(2048),
            KeyKind::Rsa3072 => PrivateKey::generate_rsa(3072),
            KeyKind::P256 => PrivateKey::generate_p256(),
        }
    }
}

/// Options for a certificate issued by [`CertificateAuthority`].
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct IssueOptions {
    /// What the certificate is for.
    pub usage: CertUsage,
    /// The key type generated for it.
    pub key: KeyKind,
    /// Start of validity (default: five minutes ago, for clock skew).
    pub not_before: SystemTime,
    /// End of validity (default: a year from now).
    pub not_after: SystemTime,
}

impl Default for IssueOptions {
    fn default() -> Self {
        IssueOptions::days(365)
    }
}

impl IssueOptions {
    /// Valid from five minutes ago for `days` days, both uses, RSA 2048.
    pub fn days(days: u32) -> Self {
        let now = SystemTime::now();
        IssueOptions {
            usage: CertUsage::Both,
            key: KeyKind::Rsa2048,
            not_before: now - Duration::from_secs(300),
            not_after: now + Duration::from_secs(u64::from(days) * 86_400),
        }
    }

    /// Sets the usage.
    pub fn usage(mut self, usage: CertUsage) -> Self {
        self.usage = usage;
        self
    }

    /// Sets the key type.
    pub fn key(mut self, key: KeyKind) -> Self {
        self.key = key;
        self
    }

    /// Sets the validity period.
    pub fn validity(mut self, not_before: SystemTime, not_after: SystemTime) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }
}

/// A CA: its certificate and private key.
#[derive(Debug)]
pub struct CertificateAuthority {
    cert: Certificate,
    key: PrivateKey,
}

/// TBSCertificate as RFC 5280 §4.1 writes it (always v3, with extensions).
#[derive(Sequence)]
struct TbsOut {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial: SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

#[derive(Sequence)]
struct CertOut {
    tbs: TbsOut,
    alg: AlgorithmIdentifierOwned,
    sig: BitString,
}

pub(crate) fn time(t: SystemTime) -> Result<Time> {
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::Misuse("a validity time before 1970".into()))?;
    // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    if d.as_secs() < 2_524_608_000 {
        Ok(Time::UtcTime(
            UtcTime::from_unix_duration(Duration::from_secs(d.as_secs()))
                .map_err(|e| Error::Misuse(e.to_string()))?,
        ))
    } else {
        Ok(Time::GeneralTime(
            GeneralizedTime::from_unix_duration(Duration::from_secs(d.as_secs()))
                .map_err(|e| Error::Misuse(e.to_string()))?,
        ))
    }
}

fn ext<T: Encode>(
    oid: const_oid::ObjectIdentifier,
    critical: bool,
    value: &T,
) -> Result<Extension> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(|e| Error::Misuse(e.to_string()))?)
            .map_err(|e| Error::Misuse(e.to_string()))?,
    })
}

fn key_id(spki_der: &[u8]) -> Result<OctetString> {
    let spki =
        SubjectPublicKeyInfoOwned::from_der(spki_der).map_err(|e| Error::Key(e.to_string()))?;
    // RFC 7093 §2 method 1: SHA-256 of the subjectPublicKey, truncated to 160 bits.
    let h = Sha256::digest(spki.subject_public_key.raw_bytes());
    OctetString::new(&h[..20]).map_err(|e| Error::Misuse(e.to_string()))
}

fn serial() -> Result<SerialNumber> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| Error::Random)?;
    b[0] &= 0x7f;
    b[0] |= 0x10; // positive, no leading zero byte
    SerialNumber::new(&b).map_err(|e| Error::Misuse(e.to_string()))
}

fn sig_alg(key: &PrivateKey) -> Result<(AlgorithmIdentifierOwned, SignatureAlgorithm)> {
    Ok(if key.is_rsa() {
        (
            crypto::alg_null(oids::SHA256_WITH_RSA),
            SignatureAlgorithm::RsaPkcs1Sha256,
        )
    } else {
        (
            crypto::digest_alg(oids::ECDSA_SHA256),
            SignatureAlgorithm::EcdsaP256Sha256,
        )
    })
}

struct Issue<'a> {
    issuer: Option<(&'a Certificate, &'a PrivateKey)>,
    subject: Name,
    subject_key: &'a PrivateKey,
    not_before: SystemTime,
    not_after: SystemTime,
    extensions: Vec<Extension>,
}

fn build(issue: Issue<'_>) -> Result<Certificate> {
    let spki_der = issue.subject_key.public_key_der()?;
    let spki =
        SubjectPublicKeyInfoOwned::from_der(&spki_der).map_err(|e| Error::Key(e.to_string()))?;
    let (issuer_name, signer, issuer_spki) = match issue.issuer {
        Some((cert, key)) => (
            cert.tbs_certificate().subject().clone(),
            key,
            crate::certs::spki_der(cert)?,
        ),
        None => (issue.subject.clone(), issue.subject_key, spki_der.clone()),
    };
    let mut extensions = issue.extensions;
    extensions.push(ext(
        oids::EXT_SUBJECT_KEY_ID,
        false,
        &SubjectKeyIdentifier(key_id(&spki_der)?),
    )?);
    extensions.push(ext(
        oids::EXT_AUTHORITY_KEY_ID,
        false,
        &AuthorityKeyIdentifier {
            key_identifier: Some(key_id(&issuer_spki)?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        },
    )?);
    let (alg, sa) = sig_alg(signer)?;
    let tbs = TbsOut {
        version: 2,
        serial: serial()?,
        signature: alg.clone(),
        issuer: issuer_name,
        validity: Validity::new(time(issue.not_before)?, time(issue.not_after)?),
        subject: issue.subject,
        spki,
        extensions,
    };
    let tbs_der = tbs.to_der().map_err(|e| Error::Misuse(e.to_string()))?;
    let signature = signer.sign(sa, &tbs_der)?;
    let out = CertOut {
        tbs,
        alg,
        sig: BitString::from_bytes(&signature).map_err(|e| Error::Misuse(e.to_string()))?,
    };
    let der = out.to_der().map_err(|e| Error::Misuse(e.to_string()))?;
    Certificate::from_der(&der).map_err(|e| Error::Misuse(e.to_string()))
}

fn ca_extensions(path_len: Option<u8>) -> Result<Vec<Extension>> {
    Ok(vec![
        ext(
            oids::EXT_BASIC_CONSTRAINTS,
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
        )?,
        ext(
            oids::EXT_KEY_USAGE,
            true,
            &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        )?,
    ])
}

fn parse_name(dn: &str) -> Result<Name> {
    Name::from_str(dn).map_err(|e| Error::Misuse(format!("bad distinguished name {dn:?}: {e}")))
}

impl CertificateAuthority {
    /// A new self-signed root CA with an RSA-2048 key, valid for `days` days.
    ///
    /// `subject` is an RFC 4514 distinguished name such as `CN=Example Mail CA,O=Example`.
    pub fn new_root(subject: &str, days: u32) -> Result<Self> {
        let o = IssueOptions::days(days);
        Self::new_root_with(
            subject,
            o.not_before,
            o.not_after,
            PrivateKey::generate_rsa(2048)?,
        )
    }

    /// A new self-signed root with a given key and validity period.
    pub fn new_root_with(
        subject: &str,
        not_before: SystemTime,
        not_after: SystemTime,
        key: PrivateKey,
    ) -> Result<Self> {
        let cert = build(Issue {
            issuer: None,
            subject: parse_name(subject)?,
            subject_key: &key,
            not_before,
            not_after,
            extensions: ca_extensions(None)?,
        })?;
        Ok(CertificateAuthority { cert, key })
    }

    /// A CA from its certificate and key (e.g. loaded from files). Refuses a key that does not
    /// belong to the certificate, and a certificate that is not a CA.
    pub fn from_parts(cert: Certificate, key: PrivateKey) -> Result<Self> {
        if !key.matches(&cert) {
            return Err(Error::Misuse(
                "the CA key does not belong to the CA certificate".into(),
            ));
        }
        match crate::certs::basic_constraints(&cert)? {
            Some(bc) if bc.ca => {}
            _ => {
                return Err(Error::Misuse(
                    "the certificate is not a CA (basicConstraints)".into(),
                ));
            }
        }
        Ok(CertificateAuthority { cert, key })
    }

    /// The CA's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The CA's private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// An intermediate CA below this one, with an optional pathLenConstraint.
    pub fn issue_intermediate(
        &self,
        subject: &str,
        path_len: Option<u8>,
        days: u32,
    ) -> Result<Self> {
        let key = PrivateKey::generate_rsa(2048)?;
        let o = IssueOptions::days(days);
        let cert = build(Issue {
            issuer: Some((&self.cert, &self.key)),
            subject: parse_name(subject)?,
            subject_key: &key,
            not_before: o.not_before,
            not_after: o.not_after,
            extensions: ca_extensions(path_len)?,
        })?;
        Ok(CertificateAuthority { cert, key })
    }

    /// An end-entity certificate for `email`, valid for `days` days, for `usage`, with a fresh
    /// RSA-2048 key.
    pub fn issue(
        &self,
        email: &str,
        usage: CertUsage,
        days: u32,
    ) -> Result<(Certificate, PrivateKey)> {
        self.issue_with(email, &IssueOptions::days(days).usage(usage))
    }

    /// An end-entity certificate for `email` with explicit options.
    pub fn issue_with(
        &self,
        email: &str,
        opts: &IssueOptions,
    ) -> Result<(Certificate, PrivateKey)> {
        let key = opts.key.generate()?;
        let cert = self.issue_for_key(email, opts, &key)?;
        Ok((cert, key))
    }

    /// An end-entity certificate for `email` and an existing key.
    pub fn issue_for_key(
        &self,
        email: &str,
        opts: &IssueOptions,
        key: &PrivateKey,
    ) -> Result<Certificate> {
        let addr = Ia5String::new(email)
            .map_err(|_| Error::Misuse(format!("{email:?} is not an ASCII email address")))?;
        if !email.contains('@') || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::Misuse(format!("{email:?} is not an email address")));
        }
        if opts.usage != CertUsage::Sign && !key.is_rsa() {
            return Err(Error::Misuse(
                "encryption certificates need an RSA key".into(),
            ));
        }
        let mut ku: FlagSet<KeyUsages> = FlagSet::default();
        if matches!(opts.usage, CertUsage::Sign | CertUsage::Both) {
            ku |= KeyUsages::DigitalSignature | KeyUsages::NonRepudiation;
        }
        if matches!(opts.usage, CertUsage::Encrypt | CertUsage::Both) {
            ku |= KeyUsages::KeyEncipherment;
        }
        let subject = parse_name(&format!("CN={}", escape_dn(email)))?;
        let extensions = vec![
            ext(
                oids::EXT_BASIC_CONSTRAINTS,
                true,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
            )?,
            ext(oids::EXT_KEY_USAGE, true, &KeyUsage(ku))?,
            ext(
                oids::EXT_EXTENDED_KEY_USAGE,
                false,
                &ExtendedKeyUsage(vec![oids::EMAIL_PROTECTION]),
            )?,
            ext(
                oids::EXT_SUBJECT_ALT_NAME,
                false,
                &SubjectAltName(vec![GeneralName::Rfc822Name(addr)]),
            )?,
        ];
        build(Issue {
            issuer: Some((&self.cert, &self.key)),
            subject,
            subject_key: key,
            not_before: opts.not_before,
            not_after: opts.not_after,
            extensions,
        })
    }
}

/// Escapes an RFC 4514 attribute value.
fn escape_dn(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
