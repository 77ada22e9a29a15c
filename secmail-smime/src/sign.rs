//! Making a CMS SignedData (RFC 5652 §5, RFC 8551 §2.5).
//!
//! ```text
//! SignedData ::= SEQUENCE {
//!   version CMSVersion,
//!   digestAlgorithms DigestAlgorithmIdentifiers,
//!   encapContentInfo EncapsulatedContentInfo,
//!   certificates [0] IMPLICIT CertificateSet OPTIONAL,
//!   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
//!   signerInfos SignerInfos }
//! ```
//!
//! One signer, SHA-256, signed attributes contentType, messageDigest, signingTime and
//! smimeCapabilities, the signer's certificate (and any chain given) included.

use std::time::SystemTime;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Encode};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use crate::certs::{PrivateKey, SignatureAlgorithm};
use crate::error::{Error, Result, Usage, ValidationError};
use crate::{crypto, oids};

/// How to sign.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// Leave the content out of the SignedData (for `multipart/signed`).
    pub detached: bool,
    /// The signature algorithm (default: RSA PKCS#1 v1.5 for RSA keys, ECDSA for P-256).
    pub algorithm: Option<SignatureAlgorithm>,
    /// Intermediate certificates to include, so that the recipient can build the chain.
    pub chain: Vec<Certificate>,
    /// The signing time to state (default: now).
    pub signing_time: Option<SystemTime>,
}

impl SignOptions {
    /// Detached (`true`) or encapsulated (`false`).
    pub fn detached(mut self, detached: bool) -> Self {
        self.detached = detached;
        self
    }

    /// Sets the algorithm.
    pub fn algorithm(mut self, alg: SignatureAlgorithm) -> Self {
        self.algorithm = Some(alg);
        self
    }

    /// Sets the intermediates to include.
    pub fn chain(mut self, chain: Vec<Certificate>) -> Self {
        self.chain = chain;
        self
    }
}

fn misuse(e: impl std::fmt::Display) -> Error {
    Error::Misuse(e.to_string())
}

fn attr(oid: const_oid::ObjectIdentifier, value: Any) -> Result<Attribute> {
    Ok(Attribute {
        oid,
        values: SetOfVec::from_iter([value]).map_err(misuse)?,
    })
}

/// Refuses a certificate whose keyUsage or extendedKeyUsage does not allow `usage`.
pub(crate) fn check_usage(cert: &Certificate, usage: Usage) -> Result<()> {
    match crate::validate::check_end_entity(cert, usage, None) {
        Ok(()) => Ok(()),
        Err(ValidationError::KeyUsage { subject, usage }) => {
            Err(Error::UsageNotAllowed { subject, usage })
        }
        Err(e) => Err(Error::Validation(e)),
    }
}

/// Signs `content` and returns a DER ContentInfo holding a SignedData.
///
/// Refuses a key that is not `cert`'s, and a certificate whose keyUsage does not allow signing.
pub fn sign(
    content: &[u8],
    cert: &Certificate,
    key: &PrivateKey,
    opts: &SignOptions,
) -> Result<Vec<u8>> {
    let digest = Sha256::digest(content);
    let econtent = if opts.detached { None } else { Some(content) };
    sign_digest(&digest, econtent, cert, key, opts)
}

/// Checks that `key` and `cert` may sign (before any output is written by a streaming signer).
pub(crate) fn check_signer(cert: &Certificate, key: &PrivateKey) -> Result<()> {
    if !key.matches(cert) {
        return Err(Error::Misuse(
            "the private key does not belong to the signing certificate".into(),
        ));
    }
    check_usage(cert, Usage::Sign)
}

/// [`sign`] over the SHA-256 `digest` of the content, computed by the caller (a streaming
/// signer hashes the content as it passes). `econtent` is the content to encapsulate, if any.
pub(crate) fn sign_digest(
    digest: &[u8],
    econtent: Option<&[u8]>,
    cert: &Certificate,
    key: &PrivateKey,
    opts: &SignOptions,
) -> Result<Vec<u8>> {
    if !key.matches(cert) {
        return Err(Error::Misuse(
            "the private key does not belong to the signing certificate".into(),
        ));
    }
    check_usage(cert, Usage::Sign)?;
    let alg = opts.algorithm.unwrap_or_else(|| key.default_algorithm());
    let sig_alg: AlgorithmIdentifierOwned = match alg {
        SignatureAlgorithm::RsaPkcs1Sha256 => crypto::alg_null(oids::RSA_ENCRYPTION),
        SignatureAlgorithm::RsaPssSha256 => crypto::pss_sha256().map_err(misuse)?,
        SignatureAlgorithm::EcdsaP256Sha256 => crypto::digest_alg(oids::ECDSA_SHA256),
    };
    let time = crate::ca::time(opts.signing_time.unwrap_or_else(SystemTime::now))?;
    let caps: Vec<AlgorithmIdentifierOwned> = vec![
        crypto::digest_alg(oids::AES256_GCM),
        crypto::digest_alg(oids::AES256_CBC),
        crypto::digest_alg(oids::AES128_CBC),
    ];
    let attrs = SetOfVec::from_iter([
        attr(
            oids::ID_CONTENT_TYPE,
            Any::encode_from(&oids::ID_DATA).map_err(misuse)?,
        )?,
        attr(
            oids::ID_SIGNING_TIME,
            Any::encode_from(&time).map_err(misuse)?,
        )?,
        attr(
            oids::ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.to_vec()).map_err(misuse)?)
                .map_err(misuse)?,
        )?,
        attr(
            oids::ID_SMIME_CAPABILITIES,
            Any::encode_from(&caps).map_err(misuse)?,
        )?,
    ])
    .map_err(misuse)?;
    let to_sign = attrs.to_der().map_err(misuse)?;
    let signature = key.sign(alg, &to_sign)?;
    let tbs = cert.tbs_certificate();
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: crypto::digest_alg(oids::SHA256),
        signed_attrs: Some(attrs),
        signature_algorithm: sig_alg,
        signature: OctetString::new(signature).map_err(misuse)?,
        unsigned_attrs: None,
    };
    let mut certs = vec![CertificateChoices::Certificate(cert.clone())];
    for c in &opts.chain {
        if c != cert {
            certs.push(CertificateChoices::Certificate(c.clone()));
        }
    }
    let econtent = match econtent {
        None => None,
        Some(content) => Some(
            Any::encode_from(&OctetString::new(content.to_vec()).map_err(misuse)?)
                .map_err(misuse)?,
        ),
    };
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::from_iter([crypto::digest_alg(oids::SHA256)])
            .map_err(misuse)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: oids::ID_DATA,
            econtent,
        },
        certificates: Some(CertificateSet(SetOfVec::from_iter(certs).map_err(misuse)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::from_iter([signer]).map_err(misuse)?),
    };
    let ci = ContentInfo {
        content_type: oids::ID_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(misuse)?,
    };
    ci.to_der().map_err(misuse)
}
