//! The header of a passphrase container (docs/passphrase-format.md §3).
//!
//! ```text
//! offset size field
//!      0    8 magic         89 53 4D 50 43 0D 0A 1A
//!      8    1 version       0x01
//!      9    1 kdf_id        0x01 = Argon2id v0x13
//!     10    4 kdf_memory    u32be, KiB
//!     14    4 kdf_passes    u32be
//!     18    4 kdf_lanes     u32be
//!     22   16 kdf_salt
//!     38    1 aead_id       0x01 = AES-256-GCM, 0x02 = ChaCha20-Poly1305
//!     39    1 chunk_log2    10..=20
//!     40   16 payload_salt
//!     56   32 header_tag    HMAC-SHA-256(header_key, bytes 0..56)
//! ```

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, LimitKind, Result};
use crate::limits::Limits;

/// The first eight bytes of every binary container.
pub(crate) const MAGIC: [u8; 8] = *b"\x89SMPC\r\n\x1a";
/// The only version this code reads and writes.
pub(crate) const VERSION: u8 = 1;
/// The whole header.
pub(crate) const HEADER_LEN: usize = 88;
/// The part of the header that the header tag covers (and that the payload key binds).
pub(crate) const AUTH_LEN: usize = 56;
/// Both salts.
pub(crate) const SALT_LEN: usize = 16;
/// The header tag (HMAC-SHA-256).
pub(crate) const HEADER_TAG_LEN: usize = 32;

const KDF_ARGON2ID: u8 = 0x01;

/// Smallest chunk: 1 KiB.
pub(crate) const MIN_CHUNK_LOG2: u8 = 10;
/// Largest chunk: 1 MiB (bounds a reader's memory whatever the header says).
pub(crate) const MAX_CHUNK_LOG2: u8 = 20;
/// What writers use unless told otherwise: 64 KiB, as age does.
pub(crate) const DEFAULT_CHUNK_LOG2: u8 = 16;

/// The AEAD that seals the payload, named by `aead_id` in the header.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cipher {
    /// AES-256-GCM (id 1, the default): fastest where the CPU has AES and carry-less
    /// multiplication instructions.
    #[default]
    Aes256Gcm,
    /// ChaCha20-Poly1305 (id 2): constant-time in software, for CPUs without AES instructions.
    ChaCha20Poly1305,
}

impl Cipher {
    /// The `aead_id` byte.
    pub(crate) fn id(self) -> u8 {
        match self {
            Cipher::Aes256Gcm => 0x01,
            Cipher::ChaCha20Poly1305 => 0x02,
        }
    }

    fn from_id(id: u8) -> Option<Cipher> {
        match id {
            0x01 => Some(Cipher::Aes256Gcm),
            0x02 => Some(Cipher::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// The name used on the command line and in messages: `aes-256-gcm`, `chacha20-poly1305`.
    pub fn name(self) -> &'static str {
        match self {
            Cipher::Aes256Gcm => "aes-256-gcm",
            Cipher::ChaCha20Poly1305 => "chacha20-poly1305",
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cipher {
    type Err = Error;
    /// Parses [`Cipher::name`].
    fn from_str(s: &str) -> Result<Cipher> {
        match s {
            "aes-256-gcm" => Ok(Cipher::Aes256Gcm),
            "chacha20-poly1305" => Ok(Cipher::ChaCha20Poly1305),
            other => Err(Error::Misuse(format!(
                "unknown cipher {other:?}; use aes-256-gcm or chacha20-poly1305"
            ))),
        }
    }
}

/// Argon2id costs: memory in KiB, passes (`t`) and lanes (`p`).
///
/// Every value lies inside the format's bounds ([`Argon2Params::MIN_MEMORY_KIB`] to
/// [`Argon2Params::MAX_MEMORY_KIB`], and so on), so a container made with it can be read.
///
/// ```
/// use secmail_core::passphrase::Argon2Params;
/// let p = Argon2Params::recommended();
/// assert_eq!((p.memory_kib(), p.passes(), p.lanes()), (64 * 1024, 3, 4));
/// assert!(Argon2Params::new(4 * 1024, 1, 1).is_err()); // 4 MiB is below the format's minimum
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Argon2Params {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params::recommended()
    }
}

impl Argon2Params {
    /// The format's least memory: 8 MiB.
    pub const MIN_MEMORY_KIB: u32 = 8 * 1024;
    /// The format's most memory: 1 GiB.
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    /// The format's most passes.
    pub const MAX_PASSES: u32 = 16;
    /// The format's most lanes.
    pub const MAX_LANES: u32 = 16;

    /// RFC 9106's second recommended option, exactly: 64 MiB, t = 3, p = 4. The default.
    pub const fn recommended() -> Argon2Params {
        Argon2Params {
            memory_kib: 64 * 1024,
            passes: 3,
            lanes: 4,
        }
    }

    /// A lighter profile for phones and frequent unlocks: 19 MiB, t = 2, p = 1 (OWASP's
    /// minimum for Argon2id).
    pub const fn interactive() -> Argon2Params {
        Argon2Params {
            memory_kib: 19 * 1024,
            passes: 2,
            lanes: 1,
        }
    }

    /// The format's minimum (8 MiB, t = 1, p = 1): only for tests and test vectors.
    pub const fn minimum() -> Argon2Params {
        Argon2Params {
            memory_kib: Self::MIN_MEMORY_KIB,
            passes: 1,
            lanes: 1,
        }
    }

    /// Custom costs. Fails with [`Error::Misuse`] outside the format's bounds.
    pub fn new(memory_kib: u32, passes: u32, lanes: u32) -> Result<Argon2Params> {
        let p = Argon2Params {
            memory_kib,
            passes,
            lanes,
        };
        p.check_format_bounds().map_err(Error::Misuse)?;
        Ok(p)
    }

    /// Memory, in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }
    /// Passes over the memory (`t`).
    pub fn passes(&self) -> u32 {
        self.passes
    }
    /// Lanes (`p`).
    pub fn lanes(&self) -> u32 {
        self.lanes
    }

    fn check_format_bounds(&self) -> std::result::Result<(), String> {
        if !(Self::MIN_MEMORY_KIB..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib) {
            return Err(format!(
                "Argon2 memory of {} KiB is outside the format's bounds ({} to {} KiB)",
                self.memory_kib,
                Self::MIN_MEMORY_KIB,
                Self::MAX_MEMORY_KIB
            ));
        }
        if !(1..=Self::MAX_PASSES).contains(&self.passes) {
            return Err(format!(
                "{} Argon2 passes is outside the format's bounds (1 to {})",
                self.passes,
                Self::MAX_PASSES
            ));
        }
        if !(1..=Self::MAX_LANES).contains(&self.lanes) {
            return Err(format!(
                "{} Argon2 lanes is outside the format's bounds (1 to {})",
                self.lanes,
                Self::MAX_LANES
            ));
        }
        Ok(())
    }

    /// The reader's limits, checked after the format's bounds.
    fn check_limits(&self, limits: &Limits) -> Result<()> {
        let as_usize = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
        limits.check(LimitKind::KdfMemory, as_usize(self.memory_kib))?;
        limits.check(LimitKind::KdfPasses, as_usize(self.passes))?;
        limits.check(LimitKind::KdfLanes, as_usize(self.lanes))?;
        Ok(())
    }
}

/// A parsed (not yet authenticated) header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kdf: Argon2Params,
    pub(crate) kdf_salt: [u8; SALT_LEN],
    pub(crate) cipher: Cipher,
    pub(crate) chunk_log2: u8,
    pub(crate) payload_salt: [u8; SALT_LEN],
    pub(crate) tag: [u8; HEADER_TAG_LEN],
}

fn invalid(what: impl Into<String>) -> Error {
    Error::InvalidContainer(what.into())
}

/// Checks whatever of the magic and the version `prefix` holds, so that a short or foreign
/// input is named for what it is before it is called truncated.
pub(crate) fn check_prefix(prefix: &[u8]) -> Result<()> {
    let n = prefix.len().min(MAGIC.len());
    if prefix[..n] != MAGIC[..n] {
        return Err(invalid(
            "it does not start with the secmail passphrase container magic",
        ));
    }
    if let Some(&v) = prefix.get(MAGIC.len())
        && v != VERSION
    {
        return Err(invalid(format!(
            "format version {v} is not supported (this secmail reads version {VERSION}); \
             a newer secmail may read it"
        )));
    }
    Ok(())
}

fn u32_at(b: &[u8; HEADER_LEN], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn array_at<const N: usize>(b: &[u8; HEADER_LEN], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

impl Header {
    pub(crate) fn chunk_size(&self) -> usize {
        1usize << self.chunk_log2
    }

    /// Parses and checks a header (steps 3 and 4 of §6): ids, chunk size, the format's bounds
    /// on the KDF costs and, when given, the reader's limits. Nothing secret is involved.
    pub(crate) fn parse(b: &[u8; HEADER_LEN], limits: Option<&Limits>) -> Result<Header> {
        check_prefix(b)?;
        if b[9] != KDF_ARGON2ID {
            return Err(invalid(format!("KDF id {} is not supported", b[9])));
        }
        let cipher = Cipher::from_id(b[38])
            .ok_or_else(|| invalid(format!("AEAD id {} is not supported", b[38])))?;
        let chunk_log2 = b[39];
        if !(MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&chunk_log2) {
            return Err(invalid(format!(
                "chunk size 2^{chunk_log2} is outside the format's bounds \
                 (2^{MIN_CHUNK_LOG2} to 2^{MAX_CHUNK_LOG2})"
            )));
        }
        let kdf = Argon2Params {
            memory_kib: u32_at(b, 10),
            passes: u32_at(b, 14),
            lanes: u32_at(b, 18),
        };
        kdf.check_format_bounds().map_err(invalid)?;
        if let Some(limits) = limits {
            kdf.check_limits(limits)?;
        }
        Ok(Header {
            kdf,
            kdf_salt: array_at(b, 22),
            cipher,
            chunk_log2,
            payload_salt: array_at(b, 40),
            tag: array_at(b, AUTH_LEN),
        })
    }

    /// The bytes the header tag covers.
    pub(crate) fn auth_bytes(&self) -> [u8; AUTH_LEN] {
        let mut b = [0u8; AUTH_LEN];
        b[..8].copy_from_slice(&MAGIC);
        b[8] = VERSION;
        b[9] = KDF_ARGON2ID;
        b[10..14].copy_from_slice(&self.kdf.memory_kib.to_be_bytes());
        b[14..18].copy_from_slice(&self.kdf.passes.to_be_bytes());
        b[18..22].copy_from_slice(&self.kdf.lanes.to_be_bytes());
        b[22..38].copy_from_slice(&self.kdf_salt);
        b[38] = self.cipher.id();
        b[39] = self.chunk_log2;
        b[40..56].copy_from_slice(&self.payload_salt);
        b
    }

    pub(crate) fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..AUTH_LEN].copy_from_slice(&self.auth_bytes());
        b[AUTH_LEN..].copy_from_slice(&self.tag);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            kdf: Argon2Params::minimum(),
            kdf_salt: [1; SALT_LEN],
            cipher: Cipher::ChaCha20Poly1305,
            chunk_log2: 12,
            payload_salt: [2; SALT_LEN],
            tag: [3; HEADER_TAG_LEN],
        }
    }

    #[test]
    fn header_round_trips_at_the_documented_offsets() {
        let h = sample();
        let b = h.to_bytes();
        assert_eq!(&b[..8], b"\x89SMPC\r\n\x1a");
        assert_eq!(b[8], 1);
        assert_eq!(b[9], 1);
        assert_eq!(&b[10..14], &[0, 0, 0x20, 0]);
        assert_eq!(&b[14..18], &[0, 0, 0, 1]);
        assert_eq!(&b[18..22], &[0, 0, 0, 1]);
        assert_eq!(b[38], 2);
        assert_eq!(b[39], 12);
        assert_eq!(&b[40..56], &[2; 16]);
        assert_eq!(&b[56..], &[3; 32]);
        assert_eq!(Header::parse(&b, Some(&Limits::default())).unwrap(), h);
    }

    #[test]
    fn every_bad_field_is_rejected_before_the_kdf() {
        let good = sample().to_bytes();
        let cases: &[(usize, u8)] = &[
            (0, 0x88),
            (8, 2),
            (9, 2),
            (38, 0),
            (38, 3),
            (39, 9),
            (39, 21),
        ];
        for &(at, v) in cases {
            let mut b = good;
            b[at] = v;
            assert!(
                matches!(Header::parse(&b, None), Err(Error::InvalidContainer(_))),
                "byte {at} = {v}"
            );
        }
        // Memory below and above the format's bounds.
        for m in [8191u32, 1024 * 1024 + 1, 0, u32::MAX] {
            let mut b = good;
            b[10..14].copy_from_slice(&m.to_be_bytes());
            assert!(matches!(
                Header::parse(&b, None),
                Err(Error::InvalidContainer(_))
            ));
        }
        for (at, v) in [(14, 0u32), (14, 17), (18, 0), (18, 17)] {
            let mut b = good;
            b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            assert!(matches!(
                Header::parse(&b, None),
                Err(Error::InvalidContainer(_))
            ));
        }
    }

    #[test]
    fn reader_limits_apply_inside_the_format_bounds() {
        let mut h = sample();
        h.kdf = Argon2Params::new(512 * 1024, 1, 1).unwrap();
        let b = h.to_bytes();
        assert!(Header::parse(&b, None).is_ok());
        match Header::parse(&b, Some(&Limits::default())) {
            Err(Error::LimitExceeded {
                kind: LimitKind::KdfMemory,
                limit,
                actual,
            }) => {
                assert_eq!(limit, 256 * 1024);
                assert_eq!(actual, 512 * 1024);
            }
            other => panic!("{other:?}"),
        }
        h.kdf = Argon2Params::new(8192, 9, 1).unwrap();
        assert!(matches!(
            Header::parse(&h.to_bytes(), Some(&Limits::default())),
            Err(Error::LimitExceeded {
                kind: LimitKind::KdfPasses,
                ..
            })
        ));
        let tight = Limits::default().with_max_kdf_lanes(1);
        h.kdf = Argon2Params::new(8192, 1, 2).unwrap();
        assert!(matches!(
            Header::parse(&h.to_bytes(), Some(&tight)),
            Err(Error::LimitExceeded {
                kind: LimitKind::KdfLanes,
                ..
            })
        ));
    }

    #[test]
    fn a_foreign_prefix_is_named_before_truncation() {
        assert!(check_prefix(b"\x89SM").is_ok());
        assert!(check_prefix(b"\x89SMPC\r\n\x1a\x01").is_ok());
        assert!(check_prefix(b"PK\x03\x04").is_err());
        assert!(check_prefix(b"\x89SMPC\r\n\x1a\x07").is_err());
    }

    #[test]
    fn cipher_names_parse() {
        for c in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
            assert_eq!(c.name().parse::<Cipher>().unwrap(), c);
        }
        assert!("aes".parse::<Cipher>().is_err());
    }
}
