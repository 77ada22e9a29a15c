//! Opening a CMS EnvelopedData (AES-CBC) or AuthEnvelopedData (AES-GCM) with an RSA key.
//!
//! No decryption oracle: a key-transport failure (wrong key, bad PKCS#1 or OAEP padding) is not
//! reported; a random content-encryption key is used instead (RFC 3218 §2.3.2), so that the
//! failure shows up only as the one [`Error::DecryptionFailed`] that a bad CBC padding or a
//! failed GCM tag also gives. GCM plaintext is released only after the tag checked out.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use cms::authenveloped_data::AuthEnvelopedData;
use cms::content_info::ContentInfo;
use cms::enveloped_data::{
    EncryptedContentInfo, EnvelopedData, RecipientIdentifier, RecipientInfo, RecipientInfos,
};
use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use zeroize::{Zeroize, Zeroizing};

use crate::certs::{KeyTransport, PrivateKey};
use crate::encrypt::{ContentCipher, GcmParameters};
use crate::error::{Error, Result};
use crate::{crypto, oids};

/// A decrypted message.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Decrypted {
    /// The content (a MIME entity for S/MIME).
    pub content: Vec<u8>,
    /// The cipher it was encrypted with (CBC or GCM; see [`Decrypted::key_bits`] for the AES
    /// key size: senders such as gpgsm use AES-128).
    pub cipher: ContentCipher,
    /// The AES key size in bits (128, 192 or 256).
    pub key_bits: u16,
    /// Whether the content was integrity-protected (AES-GCM); CBC content is not, and must be
    /// signed inside to be trusted.
    pub authenticated: bool,
}

pub(crate) fn is_me(rid: &RecipientIdentifier, cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    match rid {
        RecipientIdentifier::IssuerAndSerialNumber(isn) => {
            tbs.issuer() == &isn.issuer && tbs.serial_number() == &isn.serial_number
        }
        RecipientIdentifier::SubjectKeyIdentifier(ski) => matches!(
            tbs.get_extension::<SubjectKeyIdentifier>(),
            Ok(Some((_, k))) if k == *ski
        ),
    }
}

/// The content-encryption key for `cert`, or a random one when unwrapping fails.
pub(crate) fn unwrap_cek(
    infos: &RecipientInfos,
    cert: &Certificate,
    key: &PrivateKey,
    key_len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let ktri = infos
        .0
        .iter()
        .find_map(|ri| match ri {
            RecipientInfo::Ktri(k) if is_me(&k.rid, cert) => Some(k),
            _ => None,
        })
        .ok_or(Error::NotARecipient)?;
    let kt = match ktri.key_enc_alg.oid {
        o if o == oids::RSA_ENCRYPTION => KeyTransport::RsaPkcs1v15,
        o if o == oids::RSAES_OAEP => KeyTransport::RsaOaep(
            crypto::parse_oaep(&ktri.key_enc_alg)
                .ok_or_else(|| Error::Unsupported("RSAES-OAEP parameters".into()))?,
        ),
        o => return Err(Error::Unsupported(format!("key transport {o}"))),
    };
    let mut fallback = Zeroizing::new(vec![0u8; key_len]);
    getrandom::fill(&mut fallback).map_err(|_| Error::Random)?;
    Ok(match key.unwrap_key(&kt, ktri.enc_key.as_bytes()) {
        Ok(k) if k.len() == key_len => k,
        _ => fallback,
    })
}

fn cbc_decrypt(eci: &EncryptedContentInfo, cek: &[u8]) -> Result<Vec<u8>> {
    let iv = eci
        .content_enc_alg
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<OctetString>().ok())
        .ok_or_else(|| Error::malformed("AES-CBC parameters", "no IV"))?;
    let ct = eci
        .encrypted_content
        .as_ref()
        .ok_or_else(|| Error::Unsupported("detached encrypted content".into()))?;
    let iv: [u8; 16] = iv
        .as_bytes()
        .try_into()
        .map_err(|_| Error::malformed("AES-CBC parameters", "the IV is not 16 bytes"))?;
    let out = match cek.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(cek, &iv)
            .map_err(|_| Error::DecryptionFailed)?
            .decrypt_padded_vec::<Pkcs7>(ct.as_bytes()),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(cek, &iv)
            .map_err(|_| Error::DecryptionFailed)?
            .decrypt_padded_vec::<Pkcs7>(ct.as_bytes()),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(cek, &iv)
            .map_err(|_| Error::DecryptionFailed)?
            .decrypt_padded_vec::<Pkcs7>(ct.as_bytes()),
    };
    out.map_err(|_| Error::DecryptionFailed)
}

/// Parses a ContentInfo, BER or DER.
pub(crate) fn parse_ci(ber: &[u8]) -> Result<ContentInfo> {
    let der = crate::ber::normalize(ber)?;
    ContentInfo::from_der(&der).map_err(|e| Error::malformed("CMS ContentInfo", e))
}

/// Decrypts a DER ContentInfo holding an EnvelopedData (AES-256-CBC) or AuthEnvelopedData
/// (AES-256-GCM) addressed to `cert`, with its private `key`.
pub fn decrypt(der: &[u8], cert: &Certificate, key: &PrivateKey) -> Result<Decrypted> {
    if !key.matches(cert) {
        return Err(Error::Misuse(
            "the private key does not belong to the certificate".into(),
        ));
    }
    let ci = parse_ci(der)?;
    if ci.content_type == oids::ID_ENVELOPED_DATA {
        let ed: EnvelopedData = ci
            .content
            .decode_as()
            .map_err(|e| Error::malformed("CMS EnvelopedData", e))?;
        let key_len = match ed.encrypted_content.content_enc_alg.oid {
            o if o == oids::AES256_CBC => 32,
            o if o == oids::AES192_CBC => 24,
            o if o == oids::AES128_CBC => 16,
            o => {
                return Err(Error::Unsupported(format!(
                    "content encryption {o} (AES-CBC and AES-GCM are read)"
                )));
            }
        };
        let cek = unwrap_cek(&ed.recip_infos, cert, key, key_len)?;
        let content = cbc_decrypt(&ed.encrypted_content, &cek)?;
        Ok(Decrypted {
            content,
            cipher: ContentCipher::Aes256Cbc,
            key_bits: key_len as u16 * 8,
            authenticated: false,
        })
    } else if ci.content_type == oids::ID_AUTH_ENVELOPED_DATA {
        let aed: AuthEnvelopedData = ci
            .content
            .decode_as()
            .map_err(|e| Error::malformed("CMS AuthEnvelopedData", e))?;
        let eci = &aed.auth_encrypted_content_info;
        let key_len = match eci.content_enc_alg.oid {
            o if o == oids::AES256_GCM => 32,
            o if o == oids::AES128_GCM => 16,
            o => {
                return Err(Error::Unsupported(format!(
                    "content encryption {o} (AES-GCM and AES-CBC are read)"
                )));
            }
        };
        let params: GcmParameters = eci
            .content_enc_alg
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as().ok())
            .ok_or_else(|| Error::malformed("AES-GCM parameters", "missing or malformed"))?;
        let nonce: [u8; 12] = params
            .nonce
            .as_bytes()
            .try_into()
            .map_err(|_| Error::Unsupported("an AES-GCM nonce that is not 12 bytes".into()))?;
        if params.icv_len != 16 || aed.mac.as_bytes().len() != 16 {
            return Err(Error::Unsupported(
                "an AES-GCM tag that is not 16 bytes".into(),
            ));
        }
        let aad = match &aed.auth_attrs {
            Some(a) => a.to_der().map_err(|e| Error::malformed("authAttrs", e))?,
            None => Vec::new(),
        };
        let cek = unwrap_cek(&aed.recip_infos, cert, key, key_len)?;
        let mut buf = eci
            .encrypted_content
            .as_ref()
            .ok_or_else(|| Error::Unsupported("detached encrypted content".into()))?
            .as_bytes()
            .to_vec();
        let tag: [u8; 16] = aed
            .mac
            .as_bytes()
            .try_into()
            .map_err(|_| Error::DecryptionFailed)?;
        let (nonce, tag) = ((&nonce).into(), (&tag).into());
        let opened = if key_len == 16 {
            Aes128Gcm::new_from_slice(&cek)
                .map_err(|_| Error::DecryptionFailed)?
                .decrypt_inout_detached(nonce, &aad, buf.as_mut_slice().into(), tag)
        } else {
            Aes256Gcm::new_from_slice(&cek)
                .map_err(|_| Error::DecryptionFailed)?
                .decrypt_inout_detached(nonce, &aad, buf.as_mut_slice().into(), tag)
        };
        if opened.is_err() {
            buf.zeroize();
            return Err(Error::DecryptionFailed);
        }
        Ok(Decrypted {
            content: buf,
            cipher: ContentCipher::Aes256Gcm,
            key_bits: key_len as u16 * 8,
            authenticated: true,
        })
    } else {
        Err(Error::Unsupported(format!(
            "expected an EnvelopedData or AuthEnvelopedData, found content type {}",
            ci.content_type
        )))
    }
}
