//! The S/MIME sealer of the mailbox store (`secmail_core::store`).
//!
//! Each stored object is an `application/pkcs7-mime; smime-type=authEnveloped-data` MIME
//! entity: a CMS AuthEnvelopedData (RFC 5083, AES-256-GCM) whose content is the original
//! message, byte for byte, encrypted to the owner's certificate. `openssl cms -decrypt` (or
//! `openssl smime -decrypt`) with the owner's key gives the original bytes back, so the mail
//! stays readable if secmail disappears. GCM, not CBC: the opener must release nothing that
//! did not authenticate, and a CBC EnvelopedData is not authenticated, so it is refused.
//!
//! Sealing and opening hold one message in memory (the CMS layer is not streaming); the
//! store's `max_message_size` bounds it.

use std::io::{Read, Write};

use secmail_core::mime::Message;
use secmail_core::store::{Descriptor, Opener, Sealer, StoreError};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::certs::{PrivateKey, allows, certificate_to_pem, fingerprint, load_certificate};
use crate::decrypt::decrypt;
use crate::encrypt::{ContentCipher, EncryptOptions, encrypt};
use crate::error::{Error, Result, Usage};

/// The scheme name in the store descriptor.
const SCHEME: &str = "smime";

fn store_error(e: Error) -> StoreError {
    match e {
        Error::NotARecipient => StoreError::WrongKey,
        Error::Misuse(m) => StoreError::Misuse(m),
        _ => StoreError::Damaged(String::new()),
    }
}

/// Seals store objects to the owner's S/MIME certificate (public half only).
#[derive(Debug, Clone)]
pub struct SmimeSealer {
    cert: Certificate,
}

impl SmimeSealer {
    /// A sealer for `cert`, which must allow key encipherment (keyUsage) and email protection.
    pub fn new(cert: Certificate) -> Result<SmimeSealer> {
        if !allows(&cert, Usage::Encrypt)? {
            return Err(Error::UsageNotAllowed {
                subject: crate::certs::subject(&cert),
                usage: Usage::Encrypt,
            });
        }
        Ok(SmimeSealer { cert })
    }

    /// The sealer for the owner named by a store's descriptor.
    pub fn from_descriptor(descriptor: &Descriptor) -> std::result::Result<Self, StoreError> {
        if descriptor.scheme != SCHEME {
            return Err(StoreError::SchemeMismatch {
                store: descriptor.scheme.clone(),
                given: SCHEME.into(),
            });
        }
        let cert = load_certificate(&descriptor.public)
            .map_err(|e| StoreError::InvalidStore(format!("the owner's certificate: {e}")))?;
        SmimeSealer::new(cert).map_err(|e| StoreError::InvalidStore(e.to_string()))
    }

    /// The descriptor for a new store owned by this certificate (PEM).
    pub fn descriptor(&self) -> Result<Descriptor> {
        Ok(Descriptor::new(SCHEME, certificate_to_pem(&self.cert)?))
    }
}

impl Sealer for SmimeSealer {
    fn scheme(&self) -> &str {
        SCHEME
    }

    fn seal(
        &self,
        plaintext: &mut dyn Read,
        out: &mut (dyn Write + Send + Sync),
    ) -> std::result::Result<(), StoreError> {
        let mut plain = Zeroizing::new(Vec::new());
        plaintext.read_to_end(&mut plain)?;
        let opts = EncryptOptions::default().cipher(ContentCipher::Aes256Gcm);
        let der = encrypt(&plain, std::slice::from_ref(&self.cert), &opts)
            .map_err(|e| StoreError::Seal(e.to_string()))?;
        let entity =
            secmail_core::mime::pkcs7_mime(&der, secmail_core::mime::SmimeType::AuthEnvelopedData)
                .map_err(|e| StoreError::Seal(e.to_string()))?;
        out.write_all(&entity)?;
        Ok(())
    }
}

/// Opens store objects with the owner's certificate and private key.
pub struct SmimeOpener {
    cert: Certificate,
    key: PrivateKey,
}

impl std::fmt::Debug for SmimeOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmimeOpener")
            .field("cert", &fingerprint(&self.cert))
            .finish_non_exhaustive()
    }
}

impl SmimeOpener {
    /// An opener for the owner's certificate and its private key (which must match).
    pub fn new(cert: Certificate, key: PrivateKey) -> Result<SmimeOpener> {
        if !key.matches(&cert) {
            return Err(Error::Misuse(
                "the private key does not belong to the certificate".into(),
            ));
        }
        Ok(SmimeOpener { cert, key })
    }
}

impl Opener for SmimeOpener {
    fn scheme(&self) -> &str {
        SCHEME
    }

    fn owns(&self, public: &[u8]) -> std::result::Result<(), StoreError> {
        let owner = load_certificate(public)
            .map_err(|e| StoreError::InvalidStore(format!("the owner's certificate: {e}")))?;
        if fingerprint(&owner) == fingerprint(&self.cert) {
            Ok(())
        } else {
            Err(StoreError::WrongKey)
        }
    }

    fn open(
        &self,
        sealed: &mut (dyn Read + Send + Sync),
        out: &mut dyn Write,
        max_plaintext: u64,
    ) -> std::result::Result<(), StoreError> {
        // base64 of the ciphertext, plus the entity's headers.
        let cap = max_plaintext.saturating_mul(4) / 3 + (1 << 16);
        let mut entity = Vec::new();
        sealed
            .take(cap.saturating_add(1))
            .read_to_end(&mut entity)?;
        if entity.len() as u64 > cap {
            return Err(StoreError::TooLarge {
                what: "stored object",
                limit: cap,
            });
        }
        let limits = secmail_core::Limits::default()
            .with_max_depth(0)
            .with_max_parts(1);
        let msg = Message::parse_with_limits(entity, &limits)
            .map_err(|_| StoreError::Damaged(String::new()))?;
        let root = msg.root();
        if !root.content_type().is("application", "pkcs7-mime") {
            return Err(StoreError::Damaged(String::new()));
        }
        let d = decrypt(root.body().bytes(), &self.cert, &self.key).map_err(store_error)?;
        let content = Zeroizing::new(d.content);
        if !d.authenticated {
            // A CBC EnvelopedData: not sealed by this store, and not authenticated.
            return Err(StoreError::Damaged(String::new()));
        }
        if content.len() as u64 > max_plaintext {
            return Err(StoreError::TooLarge {
                what: "stored message",
                limit: max_plaintext,
            });
        }
        out.write_all(&content)?;
        Ok(())
    }
}
