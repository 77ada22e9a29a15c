//! The key schedule (docs/passphrase-format.md §4).
//!
//! ```text
//! PK          = Argon2id(passphrase, kdf_salt, m, t, p, 32 bytes)
//! header_key  = HKDF-SHA-256(salt = "", ikm = PK, info = "secmail-passphrase-v1 header")
//! header_tag  = HMAC-SHA-256(header_key, AH)
//! payload_key = HKDF-SHA-256(salt = payload_salt, ikm = PK,
//!                            info = "secmail-passphrase-v1 payload" || AH)
//! ```

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::Passphrase;
use super::format::{AUTH_LEN, Argon2Params, HEADER_TAG_LEN, SALT_LEN};
use crate::error::{Error, Result};

const HEADER_LABEL: &[u8] = b"secmail-passphrase-v1 header";
const PAYLOAD_LABEL: &[u8] = b"secmail-passphrase-v1 payload";

/// A 32-byte key, wiped when dropped.
pub(crate) type Key32 = Zeroizing<[u8; 32]>;

/// Fills `buf` from the operating system's random source.
pub(crate) fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Io(std::io::Error::other(e)))
}

/// The key that Argon2id derives from a passphrase and a salt (`PK` in the format).
///
/// Deriving it is the slow step; [`Encryptor::with_key`](super::Encryptor::with_key) seals
/// any number of containers under one derived key (each still gets its own payload key from
/// a fresh payload salt), and [`Decryptor::with_key`](super::Decryptor::with_key) opens the
/// containers made with it without running Argon2 again.
///
/// The key is wiped from memory when dropped and never shown by `Debug`.
pub struct PassphraseKey {
    key: Key32,
    params: Argon2Params,
    salt: [u8; SALT_LEN],
}

impl fmt::Debug for PassphraseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseKey")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PassphraseKey {
    /// Runs Argon2id over `passphrase` with `params` and a fresh random salt.
    ///
    /// Fails with [`Error::Misuse`] for an empty passphrase: nothing may be encrypted under it.
    pub fn derive(passphrase: &Passphrase, params: Argon2Params) -> Result<PassphraseKey> {
        if passphrase.expose().is_empty() {
            return Err(Error::Misuse(
                "the passphrase is empty; refusing to encrypt under it".into(),
            ));
        }
        let mut salt = [0u8; SALT_LEN];
        random(&mut salt)?;
        PassphraseKey::derive_with_salt(passphrase.expose(), params, salt)
    }

    /// Runs Argon2id with a given salt (for reading a header, and for test vectors).
    pub(crate) fn derive_with_salt(
        passphrase: &[u8],
        params: Argon2Params,
        salt: [u8; SALT_LEN],
    ) -> Result<PassphraseKey> {
        let argon_params = argon2::Params::new(
            params.memory_kib(),
            params.passes(),
            params.lanes(),
            Some(32),
        )
        .map_err(|e| Error::Misuse(format!("Argon2 parameters: {e}")))?;
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon_params,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase, &salt, key.as_mut_slice())
            .map_err(|e| Error::Misuse(format!("Argon2: {e}")))?;
        Ok(PassphraseKey { key, params, salt })
    }

    /// The Argon2id costs this key was derived with.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    pub(crate) fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    fn hkdf(&self, salt: &[u8], info: &[&[u8]]) -> Result<Key32> {
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA-256's limit of 255 * 32, so this does not fail; if it
        // ever did, no key of zeros must come out of it.
        Hkdf::<Sha256>::new(Some(salt), self.key.as_slice())
            .expand_multi_info(info, out.as_mut_slice())
            .map_err(|_| Error::Misuse("HKDF output length".into()))?;
        Ok(out)
    }

    /// `HMAC-SHA-256(header_key, AH)`.
    pub(crate) fn header_tag(&self, auth: &[u8; AUTH_LEN]) -> Result<[u8; HEADER_TAG_LEN]> {
        let header_key = self.hkdf(&[], &[HEADER_LABEL])?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(header_key.as_slice())
            .map_err(|_| Error::Misuse("HMAC key length".into()))?;
        mac.update(auth);
        let mut tag = [0u8; HEADER_TAG_LEN];
        tag.copy_from_slice(&mac.finalize().into_bytes());
        Ok(tag)
    }

    /// Checks a header's tag in constant time.
    pub(crate) fn verify_header(
        &self,
        auth: &[u8; AUTH_LEN],
        tag: &[u8; HEADER_TAG_LEN],
    ) -> Result<()> {
        if bool::from(self.header_tag(auth)?.ct_eq(tag)) {
            Ok(())
        } else {
            Err(Error::WrongPassphrase)
        }
    }

    /// The payload key of the container whose authenticated header is `auth`.
    pub(crate) fn payload_key(
        &self,
        payload_salt: &[u8; SALT_LEN],
        auth: &[u8; AUTH_LEN],
    ) -> Result<Key32> {
        self.hkdf(payload_salt, &[PAYLOAD_LABEL, auth])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_deterministic_and_keys_differ_by_passphrase_and_label() {
        let a = PassphraseKey::derive_with_salt(b"pw", Argon2Params::minimum(), [7; 16]).unwrap();
        let b = PassphraseKey::derive_with_salt(b"pw", Argon2Params::minimum(), [7; 16]).unwrap();
        let c = PassphraseKey::derive_with_salt(b"pW", Argon2Params::minimum(), [7; 16]).unwrap();
        assert_eq!(*a.key, *b.key);
        assert_ne!(*a.key, *c.key);
        let auth = [9u8; AUTH_LEN];
        let payload = a.payload_key(&[1; 16], &auth).unwrap();
        let header = a.hkdf(&[], &[HEADER_LABEL]).unwrap();
        assert_ne!(*payload, *header);
        assert!(
            a.verify_header(&auth, &a.header_tag(&auth).unwrap())
                .is_ok()
        );
        assert!(matches!(
            c.verify_header(&auth, &a.header_tag(&auth).unwrap()),
            Err(Error::WrongPassphrase)
        ));
    }

    /// RFC 9106 §5.3, the Argon2id test vector (m = 32 KiB, t = 3, p = 4, with a secret and
    /// associated data, which the container does not use): p = 4 lanes, so with the `parallel`
    /// feature this runs the threaded lane filling that every container's key comes from.
    #[test]
    fn the_argon2_build_passes_rfc_9106_argon2id_vector() {
        let mut b = argon2::ParamsBuilder::new();
        b.m_cost(32).t_cost(3).p_cost(4);
        b.data(argon2::AssociatedData::new(&[0x04; 12]).unwrap());
        let params = b.build().unwrap();
        let ctx = argon2::Argon2::new_with_secret(
            &[0x03; 8],
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        )
        .unwrap();
        let mut tag = [0u8; 32];
        ctx.hash_password_into(&[0x01; 32], &[0x02; 16], &mut tag)
            .unwrap();
        let want = "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659";
        let got: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, want);
    }

    /// The same key from the recommended profile (64 MiB, t = 3, p = 4) as before the lanes
    /// were computed in parallel: the value argon2 0.5.3 (single-threaded) gave.
    #[test]
    fn recommended_profile_key_is_unchanged() {
        let k =
            PassphraseKey::derive_with_salt(b"pw", Argon2Params::recommended(), [7; 16]).unwrap();
        let got: String = k.key.iter().map(|b| format!("{b:02x}")).collect();
        let want = "983a510090d5881a0a4e97667726948383998c342865df1f0ddfd261ce7ba822";
        assert_eq!(got, want);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let k = PassphraseKey::derive_with_salt(b"pw", Argon2Params::minimum(), [7; 16]).unwrap();
        let shown = format!("{k:?}");
        assert!(shown.contains("params"));
        let hex: String = k.key.iter().map(|b| format!("{b}")).collect();
        assert!(!shown.contains(&hex));
        assert!(!shown.contains("key:"));
    }

    #[test]
    fn empty_passphrase_is_refused_for_encryption() {
        assert!(matches!(
            PassphraseKey::derive(&Passphrase::from(""), Argon2Params::minimum()),
            Err(Error::Misuse(_))
        ));
    }
}
