//! The passphrase sealer: each object is a passphrase container
//! (docs/passphrase-format.md), all under one Argon2id-derived key.
//!
//! The container format lets one derived key seal any number of containers (each still gets
//! its own payload key from a fresh payload salt), so Argon2 runs once per store handle, not
//! once per object: listing 10,000 messages costs one Argon2 run. The descriptor's public half
//! is a container of a fixed check string under that key: its header carries the Argon2 salt
//! and costs, and its key-committing tag tells a wrong passphrase apart before anything else
//! is read. (A passphrase has no public half: whoever adds mail needs the passphrase too.)

use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use super::{Descriptor, Opener, Sealer, StoreError};
use crate::Error;
use crate::Limits;
use crate::passphrase::{
    self, Argon2Params, Decryptor, EncryptOptions, Encryptor, Passphrase, PassphraseKey,
};

/// The scheme name in the descriptor.
const SCHEME: &str = "passphrase";
/// The plaintext of the descriptor's check container.
const CHECK: &[u8] = b"secmail-store passphrase check v1";

/// Seals and opens store objects under a passphrase; holds the derived key (wiped on drop).
#[derive(Debug)]
pub struct PassphraseSealer {
    key: PassphraseKey,
}

fn map_err(e: Error) -> StoreError {
    match e {
        Error::WrongPassphrase => StoreError::WrongKey,
        Error::Io(e) => StoreError::Io(e),
        Error::LimitExceeded { limit, .. } => StoreError::TooLarge {
            what: "Argon2 cost asked for by the store",
            limit: limit as u64,
        },
        Error::Misuse(m) => StoreError::Misuse(m),
        _ => StoreError::Damaged(String::new()),
    }
}

impl PassphraseSealer {
    /// A new store key from `passphrase` (Argon2id with `params` and a fresh salt), and the
    /// descriptor for [`Store::init`](super::Store::init).
    pub fn create(
        passphrase: &Passphrase,
        params: Argon2Params,
    ) -> Result<(PassphraseSealer, Descriptor), StoreError> {
        let key = PassphraseKey::derive(passphrase, params).map_err(map_err)?;
        let mut enc = Encryptor::with_key(Vec::new(), &key, &EncryptOptions::new().armor(true))
            .map_err(map_err)?;
        enc.write_all(CHECK)?;
        let check = enc.finish().map_err(map_err)?;
        Ok((PassphraseSealer { key }, Descriptor::new(SCHEME, check)))
    }

    /// Derives the store key from `passphrase` with the salt and costs in the store's
    /// descriptor (refusing costs past the default [`Limits`]), and checks it:
    /// [`StoreError::WrongKey`] for another passphrase.
    pub fn unlock(
        descriptor: &Descriptor,
        passphrase: &Passphrase,
    ) -> Result<PassphraseSealer, StoreError> {
        if descriptor.scheme != SCHEME {
            return Err(StoreError::SchemeMismatch {
                store: descriptor.scheme.clone(),
                given: SCHEME.into(),
            });
        }
        let key = passphrase::key_for(&descriptor.public, passphrase, &Limits::default()).map_err(
            |e| match e {
                Error::InvalidContainer(m) => {
                    StoreError::InvalidStore(format!("the passphrase check is unreadable: {m}"))
                }
                e => map_err(e),
            },
        )?;
        let sealer = PassphraseSealer { key };
        sealer.owns(&descriptor.public)?;
        Ok(sealer)
    }
}

impl Sealer for PassphraseSealer {
    fn scheme(&self) -> &str {
        SCHEME
    }

    fn seal(
        &self,
        plaintext: &mut dyn Read,
        out: &mut (dyn Write + Send + Sync),
    ) -> Result<(), StoreError> {
        let mut enc =
            Encryptor::with_key(out, &self.key, &EncryptOptions::new()).map_err(map_err)?;
        io::copy(plaintext, &mut enc)?;
        enc.finish().map_err(map_err)?;
        Ok(())
    }
}

impl Opener for PassphraseSealer {
    fn scheme(&self) -> &str {
        SCHEME
    }

    fn owns(&self, public: &[u8]) -> Result<(), StoreError> {
        match passphrase::decrypt_with_key(public, &self.key) {
            Ok(p) if p == CHECK => Ok(()),
            _ => Err(StoreError::WrongKey),
        }
    }

    fn open(
        &self,
        sealed: &mut (dyn Read + Send + Sync),
        out: &mut dyn Write,
        max_plaintext: u64,
    ) -> Result<(), StoreError> {
        let dec = Decryptor::with_key(sealed, &self.key).map_err(map_err)?;
        // The container authenticates chunk by chunk; hold everything until the last chunk
        // verified, so that a truncated object releases nothing.
        let mut plain = Zeroizing::new(Vec::new());
        dec.take(max_plaintext.saturating_add(1))
            .read_to_end(&mut plain)
            .map_err(|e| map_err(passphrase::from_io(e)))?;
        if plain.len() as u64 > max_plaintext {
            return Err(StoreError::TooLarge {
                what: "stored message",
                limit: max_plaintext,
            });
        }
        out.write_all(&plain)?;
        Ok(())
    }
}
