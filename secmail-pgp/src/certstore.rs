//! A certificate store: in memory, optionally backed by a directory; look-up by fingerprint,
//! key ID or email address; updates of a certificate merged into what is known.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::serialize::SerializeInto;
use openpgp::{Fingerprint, KeyHandle};

use crate::error::{Error, Result};
use crate::keys::{MAX_CERT_SIZE, emails, read_cert};
use crate::policy::encryption_keys;

/// The most certificates a directory-backed store loads.
pub const MAX_STORE_CERTS: usize = 100_000;

/// Certificates by fingerprint.
///
/// A directory-backed store ([`CertStore::open`]) keeps one binary file per certificate,
/// named by its fingerprint, and writes through on every [`CertStore::insert`]. Only public
/// certificates are stored: secret key material is stripped on the way in.
///
/// ```
/// use secmail_pgp::{CertStore, KeyGenOptions, generate};
/// let alice = generate(&KeyGenOptions::new("Alice <alice@example.org>"))?.key;
/// let mut store = CertStore::new();
/// store.insert(alice.clone())?;
/// assert_eq!(store.by_email("ALICE@example.org").len(), 1);
/// assert!(store.recipient("alice@example.org").is_ok());
/// # Ok::<(), secmail_pgp::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct CertStore {
    certs: BTreeMap<Fingerprint, Cert>,
    dir: Option<PathBuf>,
}

impl CertStore {
    /// An empty store in memory.
    pub fn new() -> Self {
        CertStore::default()
    }

    /// Opens (creating it if needed) a store in directory `dir`, loading every certificate in
    /// it. Files that are not certificates are refused with an error naming them.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir)?;
        let mut store = CertStore {
            certs: BTreeMap::new(),
            dir: None,
        };
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pgp") {
                continue;
            }
            if store.certs.len() >= MAX_STORE_CERTS {
                return Err(Error::Misuse(format!(
                    "{} holds more than {MAX_STORE_CERTS} certificates",
                    dir.display()
                )));
            }
            let meta = fs::metadata(&path)?;
            if meta.len() > MAX_CERT_SIZE as u64 {
                return Err(Error::malformed(
                    "certificate",
                    format!("{} is larger than {MAX_CERT_SIZE} bytes", path.display()),
                ));
            }
            let cert = read_cert(&fs::read(&path)?)?;
            store.insert(cert)?;
        }
        store.dir = Some(dir);
        Ok(store)
    }

    /// Adds a certificate, merging it with the copy already known (new User IDs, subkeys,
    /// and signatures such as revocations and extended expiry). Returns the merged
    /// certificate. Secret key material is not stored.
    pub fn insert(&mut self, cert: Cert) -> Result<&Cert> {
        let cert = cert.strip_secret_key_material();
        let fpr = cert.fingerprint();
        let merged = match self.certs.remove(&fpr) {
            Some(old) => old
                .merge_public(cert)
                .map_err(|e| Error::malformed_any("certificate update", e))?,
            None => cert,
        };
        if let Some(dir) = &self.dir {
            let bytes = merged
                .to_vec()
                .map_err(|e| Error::malformed_any("certificate", e))?;
            // Temporary file, fsync, rename, fsync of the directory: a crash leaves the old
            // or the new certificate, never a torn one.
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            tmp.write_all(&bytes)?;
            tmp.as_file().sync_all()?;
            tmp.persist(dir.join(format!("{}.pgp", fpr.to_hex())))
                .map_err(|e| Error::Io(e.error))?;
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(self.certs.entry(fpr).or_insert(merged))
    }

    /// The certificate with this fingerprint.
    pub fn get(&self, fpr: &Fingerprint) -> Option<&Cert> {
        self.certs.get(fpr)
    }

    /// The certificates with a primary key or subkey matching `handle` (fingerprint or key ID).
    pub fn by_handle(&self, handle: &KeyHandle) -> Vec<&Cert> {
        self.certs
            .values()
            .filter(|c| c.keys().any(|k| k.key().key_handle().aliases(handle)))
            .collect()
    }

    /// The certificates with a User ID for `email` valid under the standard policy
    /// (compared normalised: the domain and the local part without regard to case, as
    /// OpenPGP implementations do).
    pub fn by_email(&self, email: &str) -> Vec<&Cert> {
        let want = email
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_lowercase();
        self.certs
            .values()
            .filter(|c| emails(c).contains(&want))
            .collect()
    }

    /// The certificate to encrypt to for `email`: among those bound to the address, the one
    /// with a valid encryption-capable key (not expired, not revoked, not SHA-1-bound) whose
    /// newest such key is the most recent.
    pub fn recipient(&self, email: &str) -> Result<&Cert> {
        let mut best: Option<(&Cert, std::time::SystemTime)> = None;
        let mut last_err = None;
        for c in self.by_email(email) {
            match encryption_keys(c) {
                Ok(keys) => {
                    let t = keys
                        .iter()
                        .map(|k| k.key().creation_time())
                        .max()
                        .unwrap_or(std::time::UNIX_EPOCH);
                    if best.is_none_or(|(_, bt)| t > bt) {
                        best = Some((c, t));
                    }
                }
                Err(e) => last_err = Some(e),
            }
        }
        match (best, last_err) {
            (Some((c, _)), _) => Ok(c),
            (None, Some(e)) => Err(e),
            (None, None) => Err(Error::unusable(
                email,
                "no certificate for this address in the store",
            )),
        }
    }

    /// Every certificate, by fingerprint.
    pub fn iter(&self) -> impl Iterator<Item = &Cert> {
        self.certs.values()
    }

    /// How many certificates the store holds.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}
