//! The OpenPGP sealer of the mailbox store (`secmail_core::store`).
//!
//! Each stored object is a plain binary OpenPGP message (PKESK + SEIPD + literal data, no
//! signature, no compression) encrypted to the owner's certificate: `gpg --decrypt` with the
//! owner's key gives the byte-exact original, so the mail stays readable if secmail
//! disappears. The store descriptor holds the owner's armored public certificate.
//!
//! ```
//! use secmail_core::store::Store;
//! use secmail_pgp::{KeyGenOptions, PgpOpener, PgpSealer, generate};
//!
//! let key = generate(&KeyGenOptions::new("Owner <owner@example.org>"))?.key;
//! let sealer = PgpSealer::new(secmail_pgp::public_cert(&key))?;
//! let dir = tempfile::tempdir()?;
//! let store = Store::init(dir.path().join("mail"), &sealer.descriptor()?)?;
//!
//! // A server adds mail with the public half only.
//! let writer = PgpSealer::from_descriptor(store.descriptor())?;
//! let id = store.add(&writer, &mut &b"Subject: hi\r\n\r\nbody\r\n"[..])?;
//!
//! // The owner reads it with the secret key.
//! let opener = PgpOpener::new(key);
//! let mailbox = store.owner(&sealer, &opener)?;
//! assert_eq!(mailbox.list()?[0].subject, "hi");
//! let mut out = Vec::new();
//! mailbox.get(&id, &mut out)?;
//! assert_eq!(out, b"Subject: hi\r\n\r\nbody\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{Read, Write};

use secmail_core::store::{Descriptor, Opener, Sealer, StoreError};
use sequoia_openpgp::Cert;
use sequoia_openpgp::crypto::Password;

use crate::decrypt::{DecryptOptions, decrypt_stream};
use crate::encrypt::{EncryptOptions, encrypt_stream};
use crate::error::{Error, Result};
use crate::keys::{Encoding, export_cert, public_cert, read_cert};
use crate::policy::encryption_keys;

/// The scheme name in the store descriptor.
const SCHEME: &str = "openpgp";

fn store_error(e: Error) -> StoreError {
    match e {
        Error::CannotDecrypt | Error::KeyLocked { .. } => StoreError::WrongKey,
        Error::TooLarge { limit } => StoreError::TooLarge {
            what: "stored message",
            limit,
        },
        Error::Io(e) => StoreError::Io(e),
        Error::Misuse(m) => StoreError::Misuse(m),
        Error::UnusableCert { .. } => StoreError::Seal(e.to_string()),
        _ => StoreError::Damaged(String::new()),
    }
}

/// Seals store objects to the owner's OpenPGP certificate (public half only).
#[derive(Debug, Clone)]
pub struct PgpSealer {
    cert: Cert,
}

impl PgpSealer {
    /// A sealer for `cert`, which must have a valid encryption-capable key. Secret key
    /// material, if any, is stripped (it is never needed to seal nor written anywhere).
    pub fn new(cert: Cert) -> Result<PgpSealer> {
        let cert = public_cert(&cert);
        encryption_keys(&cert)?;
        Ok(PgpSealer { cert })
    }

    /// The sealer for the owner named by a store's descriptor.
    pub fn from_descriptor(descriptor: &Descriptor) -> std::result::Result<PgpSealer, StoreError> {
        if descriptor.scheme != SCHEME {
            return Err(StoreError::SchemeMismatch {
                store: descriptor.scheme.clone(),
                given: SCHEME.into(),
            });
        }
        let cert = read_cert(&descriptor.public)
            .map_err(|e| StoreError::InvalidStore(format!("the owner's certificate: {e}")))?;
        PgpSealer::new(cert).map_err(|e| StoreError::InvalidStore(e.to_string()))
    }

    /// The descriptor for a new store owned by this certificate (its armored public half).
    pub fn descriptor(&self) -> Result<Descriptor> {
        Ok(Descriptor::new(
            SCHEME,
            export_cert(&self.cert, Encoding::Armored)?,
        ))
    }

    /// The owner's certificate.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }
}

impl Sealer for PgpSealer {
    fn scheme(&self) -> &str {
        SCHEME
    }

    fn seal(
        &self,
        plaintext: &mut dyn Read,
        out: &mut (dyn Write + Send + Sync),
    ) -> std::result::Result<(), StoreError> {
        let opts = EncryptOptions::new()
            .recipient(&self.cert)
            .encoding(Encoding::Binary);
        encrypt_stream(plaintext, out, &opts).map_err(store_error)
    }
}

/// Opens store objects with the owner's secret key.
///
/// Decryption holds the whole plaintext in memory until the message's integrity check passed
/// (never in a temporary file: the store promises no plaintext on disk), so opening is bounded
/// by the store's `max_message_size`.
pub struct PgpOpener {
    key: Cert,
    passwords: Vec<Password>,
}

impl std::fmt::Debug for PgpOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgpOpener")
            .field("fingerprint", &self.key.fingerprint().to_hex())
            .finish_non_exhaustive()
    }
}

impl PgpOpener {
    /// An opener with the owner's secret key (a `Cert` with secret key material).
    pub fn new(key: Cert) -> PgpOpener {
        PgpOpener {
            key,
            passwords: Vec::new(),
        }
    }

    /// Adds the passphrase that unlocks a protected secret key.
    pub fn key_passphrase(mut self, p: Password) -> PgpOpener {
        self.passwords.push(p);
        self
    }
}

impl Opener for PgpOpener {
    fn scheme(&self) -> &str {
        SCHEME
    }

    fn owns(&self, public: &[u8]) -> std::result::Result<(), StoreError> {
        let owner = read_cert(public)
            .map_err(|e| StoreError::InvalidStore(format!("the owner's certificate: {e}")))?;
        if owner.fingerprint() == self.key.fingerprint() && self.key.is_tsk() {
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
        let mut opts = DecryptOptions::new()
            .key(self.key.clone())
            .max_plaintext(max_plaintext)
            // Spool in memory up to the bound: a decrypted message never reaches a temp file.
            .spool_in_memory(usize::try_from(max_plaintext).unwrap_or(usize::MAX));
        for p in &self.passwords {
            opts = opts.key_passphrase(p.clone());
        }
        // decrypt_stream releases nothing before the whole message checked; hold the output
        // here anyway so that a plaintext (unencrypted) object can be refused before anything
        // reaches `out`.
        let mut plain = zeroize::Zeroizing::new(Vec::new());
        let verdict = decrypt_stream(sealed, &mut *plain, &opts).map_err(store_error)?;
        if !verdict.is_fully_encrypted() {
            return Err(StoreError::Damaged(String::new()));
        }
        out.write_all(&plain)?;
        Ok(())
    }
}
