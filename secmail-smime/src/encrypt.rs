//! Making a CMS EnvelopedData (RFC 5652 §6, AES-CBC per RFC 3565) or AuthEnvelopedData
//! (RFC 5083, AES-GCM per RFC 5084) for RSA recipients (KeyTransRecipientInfo, PKCS#1 v1.5
//! or RSAES-OAEP per RFC 3560).
//!
//! ```text
//! AuthEnvelopedData ::= SEQUENCE {
//!   version CMSVersion,
//!   originatorInfo [0] IMPLICIT OriginatorInfo OPTIONAL,
//!   recipientInfos RecipientInfos,
//!   authEncryptedContentInfo EncryptedContentInfo,
//!   authAttrs [1] IMPLICIT AuthAttributes OPTIONAL,
//!   mac MessageAuthenticationCode,
//!   unauthAttrs [2] IMPLICIT UnauthAttributes OPTIONAL }
//!
//! GCMParameters ::= SEQUENCE {
//!   aes-nonce        OCTET STRING, -- recommended size is 12 octets
//!   aes-ICVlen       AES-GCM-ICVlen DEFAULT 12 }
//! ```

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aws_lc_rs::rsa::{OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use cms::authenveloped_data::AuthEnvelopedData;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
    RecipientInfos,
};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::certs::{KeyTransport, spki_der};
use crate::error::{Error, Result, Usage};
use crate::{crypto, oids};

/// The content-encryption algorithm.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentCipher {
    /// AES-256-GCM in an AuthEnvelopedData (S/MIME 4.0; authenticated: the default).
    #[default]
    Aes256Gcm,
    /// AES-256-CBC in an EnvelopedData (what every client reads; not authenticated: sign
    /// inside it).
    Aes256Cbc,
}

/// How to encrypt.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default)]
pub struct EncryptOptions {
    /// The content cipher.
    pub cipher: ContentCipher,
    /// The key transport for every recipient.
    pub key_transport: KeyTransport,
}

impl EncryptOptions {
    /// Sets the cipher.
    pub fn cipher(mut self, cipher: ContentCipher) -> Self {
        self.cipher = cipher;
        self
    }

    /// Sets the key transport.
    pub fn key_transport(mut self, kt: KeyTransport) -> Self {
        self.key_transport = kt;
        self
    }
}

/// RFC 5084 §3.2.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct GcmParameters {
    pub nonce: OctetString,
    #[asn1(default = "default_icv")]
    pub icv_len: u8,
}

fn default_icv() -> u8 {
    12
}

fn misuse(e: impl std::fmt::Display) -> Error {
    Error::Misuse(e.to_string())
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| Error::Random)?;
    Ok(b)
}

pub(crate) fn recipient_info(
    cert: &Certificate,
    cek: &[u8],
    kt: KeyTransport,
) -> Result<RecipientInfo> {
    if cert
        .tbs_certificate()
        .subject_public_key_info()
        .algorithm
        .oid
        != oids::RSA_ENCRYPTION
    {
        return Err(Error::Unsupported(format!(
            "recipient {:?} has a non-RSA key; only RSA key transport is supported",
            crate::certs::subject(cert)
        )));
    }
    crate::sign::check_usage(cert, Usage::Encrypt)?;
    let pk = PublicEncryptingKey::from_der(&spki_der(cert)?)
        .map_err(|e| Error::Unsupported(format!("recipient key: {e}")))?;
    let (enc, alg) = match kt {
        KeyTransport::RsaPkcs1v15 => {
            let k = Pkcs1PublicEncryptingKey::new(pk)
                .map_err(|_| Error::Unsupported("RSA key".into()))?;
            let mut out = vec![0u8; k.ciphertext_size()];
            let n = k.encrypt(cek, &mut out).map_err(|_| Error::Random)?.len();
            out.truncate(n);
            (out, crypto::alg_null(oids::RSA_ENCRYPTION))
        }
        KeyTransport::RsaOaep(h) => {
            let k = OaepPublicEncryptingKey::new(pk)
                .map_err(|_| Error::Unsupported("RSA key".into()))?;
            let mut out = vec![0u8; k.ciphertext_size()];
            let n = k
                .encrypt(h.algorithm(), cek, &mut out, None)
                .map_err(|_| Error::Random)?
                .len();
            out.truncate(n);
            (out, crypto::oaep_alg(h).map_err(misuse)?)
        }
    };
    let tbs = cert.tbs_certificate();
    Ok(RecipientInfo::Ktri(KeyTransRecipientInfo {
        version: CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        key_enc_alg: alg,
        enc_key: OctetString::new(enc).map_err(misuse)?,
    }))
}

/// Encrypts `content` (a MIME entity) to `recipients` and returns a DER ContentInfo holding an
/// AuthEnvelopedData (GCM) or EnvelopedData (CBC).
///
/// Refuses a recipient certificate whose keyUsage does not allow encryption, or that is not
/// for email protection. Include the sender's own certificate to be able to read it later.
pub fn encrypt(
    content: &[u8],
    recipients: &[Certificate],
    opts: &EncryptOptions,
) -> Result<Vec<u8>> {
    if recipients.is_empty() {
        return Err(Error::Misuse("no recipients".into()));
    }
    let cek = Zeroizing::new(random::<32>()?);
    let mut infos = Vec::with_capacity(recipients.len());
    for r in recipients {
        infos.push(recipient_info(r, &cek[..], opts.key_transport)?);
    }
    let recip_infos = RecipientInfos(SetOfVec::from_iter(infos).map_err(misuse)?);
    let (content_type, body) = match opts.cipher {
        ContentCipher::Aes256Cbc => {
            let iv = random::<16>()?;
            let enc = cbc::Encryptor::<aes::Aes256>::new((&*cek).into(), (&iv).into())
                .encrypt_padded_vec::<Pkcs7>(content);
            let eci = EncryptedContentInfo {
                content_type: oids::ID_DATA,
                content_enc_alg: AlgorithmIdentifierOwned {
                    oid: oids::AES256_CBC,
                    parameters: Some(
                        Any::encode_from(&OctetString::new(iv.to_vec()).map_err(misuse)?)
                            .map_err(misuse)?,
                    ),
                },
                encrypted_content: Some(OctetString::new(enc).map_err(misuse)?),
            };
            let ed = EnvelopedData {
                version: CmsVersion::V0,
                originator_info: None,
                recip_infos,
                encrypted_content: eci,
                unprotected_attrs: None,
            };
            (
                oids::ID_ENVELOPED_DATA,
                Any::encode_from(&ed).map_err(misuse)?,
            )
        }
        ContentCipher::Aes256Gcm => {
            let nonce = random::<12>()?;
            let aead = Aes256Gcm::new_from_slice(&cek[..]).map_err(misuse)?;
            let mut buf = content.to_vec();
            let tag = aead
                .encrypt_inout_detached((&nonce).into(), &[], buf.as_mut_slice().into())
                .map_err(|_| Error::Misuse("content too long for AES-GCM".into()))?;
            let params = GcmParameters {
                nonce: OctetString::new(nonce.to_vec()).map_err(misuse)?,
                icv_len: 16,
            };
            let eci = EncryptedContentInfo {
                content_type: oids::ID_DATA,
                content_enc_alg: AlgorithmIdentifierOwned {
                    oid: oids::AES256_GCM,
                    parameters: Some(Any::encode_from(&params).map_err(misuse)?),
                },
                encrypted_content: Some(OctetString::new(buf).map_err(misuse)?),
            };
            let aed = AuthEnvelopedData {
                version: CmsVersion::V0,
                originator_info: None,
                recip_infos,
                auth_encrypted_content_info: eci,
                auth_attrs: None,
                mac: OctetString::new(tag.to_vec()).map_err(misuse)?,
                unauth_attrs: None,
            };
            (
                oids::ID_AUTH_ENVELOPED_DATA,
                Any::encode_from(&aed).map_err(misuse)?,
            )
        }
    };
    ContentInfo {
        content_type,
        content: body,
    }
    .to_der()
    .map_err(misuse)
}
