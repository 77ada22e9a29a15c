//! The encrypted mailbox at rest: every message sealed to its owner before it touches disk.
//!
//! A [`Store`] is a directory in the Maildir style. Each message is one sealed object in a
//! standard format the owner can open with ordinary tools (an OpenPGP message for gpg, an
//! S/MIME `application/pkcs7-mime` entity for OpenSSL, a passphrase container for secmail),
//! made by a [`Sealer`] that needs only the owner's public half; reading needs an [`Opener`]
//! with the owner's secret. Listing uses a sealed index, so it does not open every message.
//!
//! ```text
//! DIR/store.conf   plaintext descriptor: format version, scheme, the owner's public half
//! DIR/tmp/         objects being written (sealed from the first byte; never renamed if cut short)
//! DIR/new/ID       a sealed message not yet in the consolidated index
//! DIR/rec/ID       its sealed index record (id, date, from, subject, size), padded
//! DIR/cur/ID       a sealed message in the consolidated index
//! DIR/index        the sealed consolidated index (records and flags), padded
//! DIR/index.lock   an advisory lock, taken by the owner's compaction only (never by `add`)
//! ```
//!
//! **Adding** (any writer, no lock): seal the message into `tmp/`, `fsync`, seal its record
//! into `tmp/`, `fsync`, rename the message into `new/`, rename the record into `rec/`,
//! `fsync` both directories, and only then return the id. A crash at any instant leaves the
//! whole message or nothing visible (a rename is atomic); a message in `new/` without its
//! record (a crash between the two renames) is indexed from the message itself.
//!
//! **Owner operations** ([`Mailbox`]) take the lock, open the consolidated index plus the
//! pending records, write a new consolidated index (tmp + `fsync` + rename + `fsync`), then
//! move the pending messages into `cur/` and remove their records. A crash in between leaves
//! records for ids the index already has, which the next compaction removes.
//!
//! ```
//! use secmail_core::passphrase::{Argon2Params, Passphrase};
//! use secmail_core::store::{Flags, PassphraseSealer, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let pass = Passphrase::from("correct horse battery staple");
//! // The minimum Argon2 costs keep this example fast; use the recommended ones in real code.
//! let (sealer, descriptor) = PassphraseSealer::create(&pass, Argon2Params::minimum())?;
//! let store = Store::init(dir.path().join("mail"), &descriptor)?;
//!
//! let id = store.add(&sealer, &mut &b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"[..])?;
//!
//! let mailbox = store.owner(&sealer, &sealer)?;
//! let list = mailbox.list()?;
//! assert_eq!((list[0].id.as_str(), list[0].subject.as_str()), (id.as_str(), "hi"));
//! mailbox.flag(&id, Flags::SEEN, Flags::empty())?;
//! let mut out = Vec::new();
//! mailbox.get(&id, &mut out)?;
//! assert_eq!(out, b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n");
//!
//! // Another passphrase does not open the store.
//! let wrong = Passphrase::from("Tr0ub4dor&3");
//! assert!(PassphraseSealer::unlock(store.descriptor(), &wrong).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod index;
mod passphrase;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

pub use passphrase::PassphraseSealer;

/// Seals plaintext to the store's owner. Needs only the owner's public half (for the
/// passphrase scheme, the derived key).
pub trait Sealer: Send + Sync {
    /// The scheme this sealer writes (`"openpgp"`, `"smime"`, `"passphrase"`), as named in the
    /// store descriptor.
    fn scheme(&self) -> &str;
    /// Reads all of `plaintext` and writes one sealed object to `out`.
    fn seal(
        &self,
        plaintext: &mut dyn Read,
        out: &mut (dyn Write + Send + Sync),
    ) -> Result<(), StoreError>;
}

/// Opens what a [`Sealer`] of the same scheme sealed. Needs the owner's secret.
///
/// An implementation must write nothing to `out` unless the whole object authenticated
/// (decrypt into memory first, or use a primitive that releases only authenticated data), and
/// must refuse an object that was not encrypted at all.
pub trait Opener: Send + Sync {
    /// The scheme this opener reads.
    fn scheme(&self) -> &str;
    /// Whether this secret belongs to the owner named by the store descriptor's public half;
    /// [`StoreError::WrongKey`] if not.
    fn owns(&self, public: &[u8]) -> Result<(), StoreError>;
    /// Opens one sealed object, writing at most `max_plaintext` bytes to `out`, all of them
    /// only after the object authenticated. A key that is not a recipient of the object gives
    /// [`StoreError::WrongKey`]; anything else wrong with the object gives
    /// [`StoreError::Damaged`].
    fn open(
        &self,
        sealed: &mut (dyn Read + Send + Sync),
        out: &mut dyn Write,
        max_plaintext: u64,
    ) -> Result<(), StoreError>;
}

/// What can go wrong with a store.
///
/// Opening errors are coarse on purpose: [`StoreError::WrongKey`] (the key is not a recipient,
/// or the passphrase is wrong) and [`StoreError::Damaged`] (the object is not one this key
/// sealed, or it was altered or truncated), nothing finer.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the store directory failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The directory is not a store this version can use (no or a damaged `store.conf`, an
    /// unknown format version), or `init` found something already there.
    #[error("not a usable secmail store: {0}")]
    InvalidStore(String),
    /// The key or passphrase given is not the store owner's (or not a recipient of an object).
    #[error("the key or passphrase does not open this store")]
    WrongKey,
    /// The sealer or opener is for another scheme than the store's.
    #[error("the store is sealed with {store}, but the key given is for {given}")]
    SchemeMismatch {
        /// The store's scheme.
        store: String,
        /// The scheme of the key given.
        given: String,
    },
    /// A stored object did not open: altered, truncated, or not sealed by this store's owner.
    /// Nothing of it was released.
    #[error("stored object {0} is damaged or was not sealed to this store's owner")]
    Damaged(String),
    /// The consolidated index or a pending record could not be parsed after it opened; the
    /// index can be made again from the messages with [`Mailbox::rebuild`].
    #[error("the store index is damaged ({0}); rebuild it from the messages")]
    BadIndex(String),
    /// No message with this id.
    #[error("no message {0} in the store")]
    NotFound(String),
    /// An input went past a [`StoreLimits`] bound.
    #[error("{what} is over the limit of {limit}")]
    TooLarge {
        /// What went over.
        what: &'static str,
        /// The bound in force.
        limit: u64,
    },
    /// Sealing failed in the sealer's backend (a certificate without an encryption key, …).
    #[error("sealing failed: {0}")]
    Seal(String),
    /// The calling program used the API wrongly.
    #[error("API misuse: {0}")]
    Misuse(String),
}

/// Bounds on what a store reads.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLimits {
    /// Largest message added or opened, in bytes (default 64 MiB). Opening holds a message in
    /// memory (never in a temporary file), so this bounds memory too.
    pub max_message_size: u64,
    /// Largest consolidated index, in plaintext bytes (default 256 MiB).
    pub max_index_size: u64,
    /// Most messages in the index (default 1,000,000).
    pub max_messages: usize,
    /// Longest header section read to make a message's index record (default 256 KiB; a longer
    /// one is stored whole but indexed from its first 256 KiB).
    pub max_header_section: usize,
    /// Largest descriptor (`store.conf`), in bytes (default 1 MiB).
    pub max_descriptor_size: u64,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_message_size: 64 << 20,
            max_index_size: 256 << 20,
            max_messages: 1_000_000,
            max_header_section: 256 << 10,
            max_descriptor_size: 1 << 20,
        }
    }
}

impl StoreLimits {
    /// Sets [`StoreLimits::max_message_size`].
    pub fn with_max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }
    /// Sets [`StoreLimits::max_messages`].
    pub fn with_max_messages(mut self, n: usize) -> Self {
        self.max_messages = n;
        self
    }
}

/// Message flags, kept in the sealed index only (never in file names).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// Read.
    pub const SEEN: Flags = Flags(1);
    /// Replied to.
    pub const ANSWERED: Flags = Flags(2);
    /// Flagged for attention.
    pub const FLAGGED: Flags = Flags(4);
    /// Marked for deletion (the message stays until [`Mailbox::delete`]).
    pub const DELETED: Flags = Flags(8);
    /// A draft.
    pub const DRAFT: Flags = Flags(16);
    const ALL: u8 = 31;
    const NAMES: [(&'static str, Flags); 5] = [
        ("seen", Flags::SEEN),
        ("answered", Flags::ANSWERED),
        ("flagged", Flags::FLAGGED),
        ("deleted", Flags::DELETED),
        ("draft", Flags::DRAFT),
    ];

    /// No flags.
    pub const fn empty() -> Flags {
        Flags(0)
    }
    /// The bits.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// From bits; `None` for unknown bits.
    pub const fn from_bits(bits: u8) -> Option<Flags> {
        if bits & !Flags::ALL == 0 {
            Some(Flags(bits))
        } else {
            None
        }
    }
    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Both sets of flags.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    /// The flags of `self` not in `other`.
    pub const fn difference(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }
    /// A flag by name (`seen`, `answered`, `flagged`, `deleted`, `draft`).
    pub fn from_name(name: &str) -> Option<Flags> {
        Flags::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, f)| f)
    }
    /// The names of the flags set.
    pub fn names(self) -> Vec<&'static str> {
        Flags::NAMES
            .iter()
            .filter(|(_, f)| self.contains(*f))
            .map(|&(n, _)| n)
            .collect()
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({})", self.names().join(","))
    }
}

/// One message as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The message id (also its file name).
    pub id: String,
    /// When it was added, in seconds since the Unix epoch.
    pub added: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its flags.
    pub flags: Flags,
    /// Its `Date` field (as written; empty if none).
    pub date: String,
    /// Its `From` field (empty if none).
    pub from: String,
    /// Its `Subject` field, RFC 2047 words decoded (empty if none).
    pub subject: String,
}

/// The plaintext descriptor of a store (`store.conf`): the format version, the scheme, and
/// the owner's public half (an OpenPGP certificate, an X.509 certificate in PEM, or a
/// passphrase container that checks the passphrase and carries the Argon2 salt and costs).
/// Never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// `"openpgp"`, `"smime"` or `"passphrase"`.
    pub scheme: String,
    /// The owner's public half, as the scheme's sealer reads it.
    pub public: Vec<u8>,
}

const DESCRIPTOR_MAGIC: &str = "secmail-store 1\n";

impl Descriptor {
    /// A descriptor for `scheme` with the owner's public half.
    pub fn new(scheme: impl Into<String>, public: impl Into<Vec<u8>>) -> Descriptor {
        Descriptor {
            scheme: scheme.into(),
            public: public.into(),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{DESCRIPTOR_MAGIC}scheme: {}\n\n", self.scheme).into_bytes();
        out.extend_from_slice(&self.public);
        out
    }

    fn parse(data: &[u8]) -> Result<Descriptor, StoreError> {
        let bad = |w: &str| StoreError::InvalidStore(format!("store.conf: {w}"));
        let rest = data
            .strip_prefix(DESCRIPTOR_MAGIC.as_bytes())
            .ok_or_else(|| bad("not a secmail store descriptor, or a newer format version"))?;
        let rest = rest
            .strip_prefix(b"scheme: ")
            .ok_or_else(|| bad("no scheme"))?;
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("cut short"))?;
        let scheme = std::str::from_utf8(&rest[..nl])
            .ok()
            .filter(|s| !s.is_empty() && s.len() < 32 && s.bytes().all(|b| b.is_ascii_lowercase()))
            .ok_or_else(|| bad("bad scheme name"))?;
        let public = rest[nl + 1..]
            .strip_prefix(b"\n")
            .ok_or_else(|| bad("no blank line before the public half"))?;
        Ok(Descriptor::new(scheme, public))
    }
}

/// Whether `id` is a well-formed message id: 1 to 64 of `[0-9A-Za-z.]`, not starting with a
/// dot. (So an id can never name a path outside the store.)
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
}

/// A new unique id: time, pid, a per-process counter and 64 random bits. Nothing derived from
/// the content.
fn new_id() -> Result<String, StoreError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(|e| StoreError::Io(io::Error::other(e)))?;
    Ok(format!(
        "{}.{:09}.P{}Q{}.R{:016x}",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        u64::from_be_bytes(r)
    ))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Makes the directory's entries (renames, new files) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn create_private(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

fn mkdir_private(path: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// A reader that counts and fails past `limit`.
struct Counted<'a> {
    inner: &'a mut dyn Read,
    count: u64,
    limit: u64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "message over the store's size limit",
            ));
        }
        Ok(n)
    }
}

/// Where the header section ends (after the blank line), if it does within `data`.
fn header_end(data: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\n' {
            match data.get(i + 1) {
                Some(b'\n') => return Some(i + 2),
                Some(b'\r') if data.get(i + 2) == Some(&b'\n') => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// The index fields of a message, from (the start of) its header section.
fn summarize(head: &[u8], id: String, added: u64, size: u64) -> Entry {
    let end = header_end(head).unwrap_or(head.len());
    let mut block = head[..end].to_vec();
    block.extend_from_slice(b"\r\n");
    let limits = crate::Limits::default().with_max_depth(0).with_max_parts(1);
    let (date, from, subject) = match crate::mime::Message::parse_with_limits(block, &limits) {
        Ok(m) => {
            let f = |n: &str| index::clip(m.header(n).unwrap_or(""));
            (f("Date"), f("From"), f("Subject"))
        }
        Err(_) => Default::default(),
    };
    Entry {
        id,
        added,
        size,
        flags: Flags::empty(),
        date,
        from,
        subject,
    }
}

/// A mailbox directory. Opening it reads only the plaintext descriptor; [`Store::add`]
/// needs a [`Sealer`], everything else the owner's [`Mailbox`].
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    descriptor: Descriptor,
    limits: StoreLimits,
}

impl Store {
    /// Makes a new store at `dir` (created if missing; it must be empty if it exists).
    pub fn init(dir: impl AsRef<Path>, descriptor: &Descriptor) -> Result<Store, StoreError> {
        let dir = dir.as_ref();
        match fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(StoreError::InvalidStore(format!(
                        "{} exists and is not empty",
                        dir.display()
                    )));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => mkdir_private(dir)?,
            Err(e) => return Err(e.into()),
        }
        for sub in ["tmp", "new", "cur", "rec"] {
            mkdir_private(&dir.join(sub))?;
        }
        write_atomically(dir, "store.conf", &descriptor.to_bytes())?;
        Store::open(dir)
    }

    /// Opens an existing store with the default [`StoreLimits`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with_limits(dir, StoreLimits::default())
    }

    /// Opens an existing store.
    pub fn open_with_limits(
        dir: impl AsRef<Path>,
        limits: StoreLimits,
    ) -> Result<Store, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let conf = dir.join("store.conf");
        let data = match read_bounded(&conf, limits.max_descriptor_size) {
            Ok(d) => d,
            Err(StoreError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::InvalidStore(format!(
                    "{} has no store.conf",
                    dir.display()
                )));
            }
            Err(e) => return Err(e),
        };
        let descriptor = Descriptor::parse(&data)?;
        for sub in ["tmp", "new", "cur", "rec"] {
            if !dir.join(sub).is_dir() {
                return Err(StoreError::InvalidStore(format!("no {sub}/ directory")));
            }
        }
        Ok(Store {
            dir,
            descriptor,
            limits,
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The scheme and the owner's public half.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The limits in force.
    pub fn limits(&self) -> &StoreLimits {
        &self.limits
    }

    fn check_scheme(&self, given: &str) -> Result<(), StoreError> {
        if given == self.descriptor.scheme {
            Ok(())
        } else {
            Err(StoreError::SchemeMismatch {
                store: self.descriptor.scheme.clone(),
                given: given.to_owned(),
            })
        }
    }

    /// Seals `message` into the store and returns its id once it is durable (it survives a
    /// crash or `kill -9` from then on). Takes no lock; any number of processes may add at
    /// once. Nothing of the plaintext touches the disk.
    pub fn add(&self, sealer: &dyn Sealer, message: &mut dyn Read) -> Result<String, StoreError> {
        self.check_scheme(sealer.scheme())?;
        let id = new_id()?;
        let tmp_msg = self.dir.join("tmp").join(format!("{id}.msg"));
        let tmp_rec = self.dir.join("tmp").join(format!("{id}.rec"));
        let result = self.add_inner(sealer, message, &id, &tmp_msg, &tmp_rec);
        if result.is_err() {
            let _ = fs::remove_file(&tmp_msg);
            let _ = fs::remove_file(&tmp_rec);
        }
        result.map(|()| id)
    }

    fn add_inner(
        &self,
        sealer: &dyn Sealer,
        message: &mut dyn Read,
        id: &str,
        tmp_msg: &Path,
        tmp_rec: &Path,
    ) -> Result<(), StoreError> {
        // The header section, for the index record: read into memory only.
        let mut head = Zeroizing::new(Vec::new());
        let cap = self.limits.max_header_section;
        let mut buf = Zeroizing::new([0u8; 8192]);
        while head.len() < cap && header_end(&head).is_none() {
            let want = (cap - head.len()).min(buf.len());
            let n = match message.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            head.extend_from_slice(&buf[..n]);
        }
        let mut chained = (&head[..]).chain(message);
        let mut counted = Counted {
            inner: &mut chained,
            count: 0,
            limit: self.limits.max_message_size,
        };
        let mut w = BufWriter::new(create_private(tmp_msg)?);
        match sealer.seal(&mut counted, &mut w) {
            Ok(()) => {}
            Err(_) if counted.count > counted.limit => {
                return Err(StoreError::TooLarge {
                    what: "message",
                    limit: counted.limit,
                });
            }
            Err(e) => return Err(e),
        }
        let size = counted.count;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;

        let entry = summarize(&head, id.to_owned(), now_secs(), size);
        let record = Zeroizing::new(index::encode_record(&entry));
        let mut w = BufWriter::new(create_private(tmp_rec)?);
        sealer.seal(&mut &record[..], &mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;

        fs::rename(tmp_msg, self.dir.join("new").join(id))?;
        fs::rename(tmp_rec, self.dir.join("rec").join(id))?;
        sync_dir(&self.dir.join("new"))?;
        sync_dir(&self.dir.join("rec"))?;
        Ok(())
    }

    /// The owner's handle: checks that `opener` holds the secret of the store's owner.
    /// `sealer` writes the index (the owner's own public half).
    pub fn owner<'a>(
        &'a self,
        sealer: &'a dyn Sealer,
        opener: &'a dyn Opener,
    ) -> Result<Mailbox<'a>, StoreError> {
        self.check_scheme(sealer.scheme())?;
        self.check_scheme(opener.scheme())?;
        opener.owns(&self.descriptor.public)?;
        Ok(Mailbox {
            store: self,
            sealer,
            opener,
        })
    }

    /// Re-seals every object to a new owner (key rotation), crash-safe: each object is
    /// replaced (rename over it) only once its re-sealed copy is durable, and the descriptor
    /// switches to the new owner last. After a crash, run it again with the same keys: objects
    /// already re-sealed are recognised (the new key opens them) and skipped.
    ///
    /// `old` must own the store, or, when a previous run got as far as switching the
    /// descriptor, `new` must. Writers that opened the store before the switch keep sealing
    /// to the old owner: stop them, or run `reseal` again once they are done. Returns the
    /// number of objects re-sealed. Reopen the store afterwards.
    pub fn reseal(
        &self,
        old: (&dyn Sealer, &dyn Opener),
        new_descriptor: &Descriptor,
        new: (&dyn Sealer, &dyn Opener),
    ) -> Result<usize, StoreError> {
        self.check_scheme(old.1.scheme())?;
        if new.0.scheme() != new_descriptor.scheme || new.1.scheme() != new_descriptor.scheme {
            return Err(StoreError::Misuse(
                "the new sealer and opener must be for the new descriptor's scheme".into(),
            ));
        }
        new.1.owns(&new_descriptor.public)?;
        let switched = *new_descriptor == self.descriptor;
        if !switched {
            old.1.owns(&self.descriptor.public)?;
        }
        let lock = self.lock()?;
        let mut done = 0;
        let mut files = Vec::new();
        for sub in ["cur", "new", "rec"] {
            for id in self.ids(sub)? {
                files.push(self.dir.join(sub).join(id));
            }
        }
        if self.dir.join("index").exists() {
            files.push(self.dir.join("index"));
        }
        for path in &files {
            let limit = self.limits.max_message_size.max(self.limits.max_index_size);
            let plain = match self.open_path(old.1, path, limit) {
                Ok(p) => p,
                Err(StoreError::WrongKey) | Err(StoreError::Damaged(_)) => {
                    // Already re-sealed by an earlier run (the new key opens it)?
                    match self.open_path(new.1, path, limit) {
                        Ok(_) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            };
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("object");
            let tmp = self.dir.join("tmp").join(format!("{name}.reseal"));
            let _ = fs::remove_file(&tmp);
            let mut w = BufWriter::new(create_private(&tmp)?);
            new.0.seal(&mut &plain[..], &mut w)?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            fs::rename(&tmp, path)?;
            if let Some(parent) = path.parent() {
                sync_dir(parent)?;
            }
            done += 1;
        }
        write_atomically(&self.dir, "store.conf", &new_descriptor.to_bytes())?;
        drop(lock);
        Ok(done)
    }

    /// Ids (file names that are well-formed ids) in a subdirectory.
    fn ids(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.dir.join(sub))? {
            let e = e?;
            if let Some(name) = e.file_name().to_str()
                && valid_id(name)
            {
                out.push(name.to_owned());
            }
        }
        Ok(out)
    }

    fn lock(&self) -> Result<File, StoreError> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("index.lock"))?;
        f.lock()?;
        Ok(f)
    }

    /// Opens the sealed object at `path` into memory (at most `limit` bytes).
    fn open_path(
        &self,
        opener: &dyn Opener,
        path: &Path,
        limit: u64,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        // The sealed form is larger than the plaintext; allow the schemes' overhead.
        if len > limit.saturating_mul(2).saturating_add(1 << 20) {
            return Err(StoreError::TooLarge {
                what: "stored object",
                limit,
            });
        }
        let mut out = Zeroizing::new(Vec::new());
        let mut r = io::BufReader::new(file);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match opener.open(&mut r, &mut *out, limit) {
            Ok(()) => Ok(out),
            Err(StoreError::Damaged(_)) => Err(StoreError::Damaged(name)),
            Err(e) => Err(e),
        }
    }

    fn message_path(&self, id: &str) -> Result<PathBuf, StoreError> {
        if !valid_id(id) {
            return Err(StoreError::NotFound(id.chars().take(80).collect()));
        }
        for sub in ["cur", "new"] {
            let p = self.dir.join(sub).join(id);
            if p.is_file() {
                return Ok(p);
            }
        }
        Err(StoreError::NotFound(id.to_owned()))
    }
}

/// Writes `name` in `dir` atomically: a sealed-or-public file through `tmp/`, `fsync`,
/// rename, `fsync` of the directory.
fn write_atomically(dir: &Path, name: &str, data: &[u8]) -> Result<(), StoreError> {
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(|e| StoreError::Io(io::Error::other(e)))?;
    let tmp = dir
        .join("tmp")
        .join(format!("{name}.{:016x}", u64::from_be_bytes(r)));
    let result = (|| -> Result<(), StoreError> {
        let mut f = create_private(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        sync_dir(dir)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, StoreError> {
    let f = File::open(path)?;
    let mut data = Vec::new();
    f.take(limit + 1).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(StoreError::TooLarge {
            what: "file",
            limit,
        });
    }
    Ok(data)
}

/// What [`Mailbox::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Messages that opened and match their index entry.
    pub ok: usize,
    /// Everything else, one line each (which file or id, and what is wrong).
    pub problems: Vec<String>,
    /// Files in `tmp/`: writes in progress, or left by a crash (never visible as messages;
    /// compaction removes those older than 36 hours, as Maildir does).
    pub leftovers: usize,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The owner's view of a store: list, read, flag, delete, verify, rebuild.
pub struct Mailbox<'a> {
    store: &'a Store,
    sealer: &'a dyn Sealer,
    opener: &'a dyn Opener,
}

impl fmt::Debug for Mailbox<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("dir", &self.store.dir)
            .finish_non_exhaustive()
    }
}

impl Mailbox<'_> {
    /// Every message: the consolidated index plus what was added since, which this call
    /// folds into a new consolidated index (so the next list opens one object). Sorted by
    /// time added, then id. Objects in `new/` that do not open (garbage dropped into the
    /// store, or sealed to another key) are left alone and not listed; [`Mailbox::verify`]
    /// reports them.
    pub fn list(&self) -> Result<Vec<Entry>, StoreError> {
        let _lock = self.store.lock()?;
        self.compact()
    }

    /// Writes message `id`, byte-exact as added, to `out` (nothing unless it authenticated).
    pub fn get(&self, id: &str, out: &mut dyn Write) -> Result<u64, StoreError> {
        let path = self.store.message_path(id)?;
        let plain = self
            .store
            .open_path(self.opener, &path, self.store.limits.max_message_size)?;
        out.write_all(&plain)?;
        out.flush()?;
        Ok(plain.len() as u64)
    }

    /// Sets the flags in `set` and clears those in `clear` on message `id`; returns its new
    /// flags.
    pub fn flag(&self, id: &str, set: Flags, clear: Flags) -> Result<Flags, StoreError> {
        let _lock = self.store.lock()?;
        let mut entries = self.compact()?;
        let e = entries
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| StoreError::NotFound(id.chars().take(80).collect()))?;
        e.flags = e.flags.union(set).difference(clear);
        let flags = e.flags;
        self.write_index(&entries)?;
        Ok(flags)
    }

    /// Deletes message `id`: first from the index (durably), then its file. A crash between
    /// the two leaves a file that no index lists, which [`Mailbox::verify`] reports and
    /// [`Mailbox::rebuild`] would bring back.
    pub fn delete(&self, id: &str) -> Result<(), StoreError> {
        let _lock = self.store.lock()?;
        let mut entries = self.compact()?;
        let before = entries.len();
        entries.retain(|e| e.id != id);
        if entries.len() == before {
            return Err(StoreError::NotFound(id.chars().take(80).collect()));
        }
        self.write_index(&entries)?;
        let path = self.store.message_path(id)?;
        fs::remove_file(&path)?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// Opens every message and checks it against the index: every message opens with the
    /// owner's key, every index entry has its message with the same size, date, from and
    /// subject, and every message is in the index. Files that are not message ids are
    /// reported too.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let _lock = self.store.lock()?;
        let entries = self.compact()?;
        let mut report = VerifyReport::default();
        let mut indexed = HashSet::new();
        for e in &entries {
            indexed.insert(e.id.clone());
            let path = match self.store.message_path(&e.id) {
                Ok(p) => p,
                Err(_) => {
                    report
                        .problems
                        .push(format!("{}: in the index, but its file is missing", e.id));
                    continue;
                }
            };
            match self.derive(&path, &e.id) {
                Ok(d) => {
                    if d.size != e.size
                        || d.date != e.date
                        || d.from != e.from
                        || d.subject != e.subject
                    {
                        report
                            .problems
                            .push(format!("{}: does not match its index entry", e.id));
                    } else {
                        report.ok += 1;
                    }
                }
                Err(err) => report.problems.push(format!("{}: {err}", e.id)),
            }
        }
        for sub in ["cur", "new", "rec", "tmp"] {
            for f in fs::read_dir(self.store.dir.join(sub))? {
                let name = f?.file_name().to_string_lossy().into_owned();
                if sub == "tmp" {
                    // Being written now, or left by a crash: never visible, removed by
                    // compaction once old.
                    report.leftovers += 1;
                } else if !valid_id(&name) {
                    report
                        .problems
                        .push(format!("{sub}/{name}: not a message id (stray file)"));
                } else if sub != "rec" && !indexed.contains(&name) {
                    report.problems.push(format!(
                        "{sub}/{name}: not in the index (does not open with this key, or deleted \
                         before a crash)"
                    ));
                }
            }
        }
        Ok(report)
    }

    /// Makes the index again from the messages themselves (after the index was lost or
    /// damaged). Flags are kept where the old index still opens; otherwise they are lost.
    /// Messages that do not open are left where they are and returned by name.
    pub fn rebuild(&self) -> Result<Vec<String>, StoreError> {
        let _lock = self.store.lock()?;
        let old: HashMap<String, Flags> = self
            .load_index()
            .map(|es| es.into_iter().map(|e| (e.id, e.flags)).collect())
            .unwrap_or_default();
        let mut entries = Vec::new();
        let mut failed = Vec::new();
        let mut pending = Vec::new();
        for sub in ["cur", "new"] {
            for id in self.store.ids(sub)? {
                let path = self.store.dir.join(sub).join(&id);
                match self.derive(&path, &id) {
                    Ok(mut e) => {
                        e.added = added_of(&id);
                        e.flags = old.get(&id).copied().unwrap_or_default();
                        if sub == "new" {
                            pending.push(id);
                        }
                        entries.push(e);
                    }
                    Err(_) => failed.push(format!("{sub}/{id}")),
                }
            }
        }
        sort(&mut entries);
        self.write_index(&entries)?;
        self.settle(&pending)?;
        for id in self.store.ids("rec")? {
            let _ = fs::remove_file(self.store.dir.join("rec").join(id));
        }
        Ok(failed)
    }

    /// The index entry made from the message itself.
    fn derive(&self, path: &Path, id: &str) -> Result<Entry, StoreError> {
        let plain = self
            .store
            .open_path(self.opener, path, self.store.limits.max_message_size)?;
        let head = &plain[..plain.len().min(self.store.limits.max_header_section)];
        Ok(summarize(
            head,
            id.to_owned(),
            added_of(id),
            plain.len() as u64,
        ))
    }

    fn load_index(&self) -> Result<Vec<Entry>, StoreError> {
        let path = self.store.dir.join("index");
        if !path.exists() {
            return Ok(Vec::new());
        }
        let plain = self
            .store
            .open_path(self.opener, &path, self.store.limits.max_index_size)?;
        index::parse_index(&plain, &self.store.limits)
    }

    fn write_index(&self, entries: &[Entry]) -> Result<(), StoreError> {
        let plain = Zeroizing::new(index::encode_index(entries));
        let mut sealed = Vec::with_capacity(plain.len() + 4096);
        self.sealer.seal(&mut &plain[..], &mut sealed)?;
        write_atomically(&self.store.dir, "index", &sealed)
    }

    /// Moves consolidated messages from `new/` to `cur/` and drops their records.
    fn settle(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let moved = parallel(ids, |id| {
            let from = self.store.dir.join("new").join(id);
            match fs::rename(&from, self.store.dir.join("cur").join(id)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        });
        moved.into_iter().collect::<io::Result<Vec<()>>>()?;
        sync_dir(&self.store.dir.join("cur"))?;
        sync_dir(&self.store.dir.join("new"))?;
        parallel(ids, |id| {
            let _ = fs::remove_file(self.store.dir.join("rec").join(id));
        });
        sync_dir(&self.store.dir.join("rec"))?;
        Ok(())
    }

    fn clean_tmp(&self) {
        let Ok(dir) = fs::read_dir(self.store.dir.join("tmp")) else {
            return;
        };
        let cutoff = std::time::Duration::from_secs(36 * 3600);
        for e in dir.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > cutoff);
            if old {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Folds pending messages into the consolidated index (the lock is held by the caller).
    fn compact(&self) -> Result<Vec<Entry>, StoreError> {
        let lost_index =
            !self.store.dir.join("index").exists() && !self.store.ids("cur")?.is_empty();
        if lost_index {
            // The index is gone but messages are indexed: make it again from them.
            let mut entries = Vec::new();
            for id in self.store.ids("cur")? {
                if let Ok(mut e) = self.derive(&self.store.dir.join("cur").join(&id), &id) {
                    e.added = added_of(&id);
                    entries.push(e);
                }
            }
            sort(&mut entries);
            self.write_index(&entries)?;
        }
        let mut entries = self.load_index()?;
        let known: HashSet<String> = entries.iter().map(|e| e.id.clone()).collect();
        let mut pending = Vec::new();
        let mut new_ids = self.store.ids("new")?;
        new_ids.sort();
        let mut fresh = Vec::new();
        for id in new_ids {
            if known.contains(&id) {
                // Indexed by a compaction that crashed before moving it.
                pending.push(id);
            } else {
                fresh.push(id);
            }
        }
        if entries.len().saturating_add(fresh.len()) > self.store.limits.max_messages {
            return Err(StoreError::TooLarge {
                what: "number of messages",
                limit: self.store.limits.max_messages as u64,
            });
        }
        // Opening a record is mostly waiting for the disk: overlap the waits.
        let found = parallel(&fresh, |id| {
            let rec = self.store.dir.join("rec").join(id);
            let from_record = self
                .store
                .open_path(self.opener, &rec, 64 * 1024)
                .ok()
                .and_then(|p| index::parse_record(&p).ok())
                .filter(|e| &e.id == id);
            match from_record {
                Some(e) => Some(e),
                None => self.derive(&self.store.dir.join("new").join(id), id).ok(),
            }
        });
        for (id, e) in fresh.into_iter().zip(found) {
            if let Some(e) = e {
                entries.push(e);
                pending.push(id);
            }
        }
        if !pending.is_empty() {
            sort(&mut entries);
            self.write_index(&entries)?;
            self.settle(&pending)?;
        }
        // Objects a crashed writer left in tmp/ (never visible); old enough that no writer
        // can still be at work on them.
        self.clean_tmp();
        // Records whose message is indexed already (a crash after the move) or gone.
        for id in self.store.ids("rec")? {
            if !self.store.dir.join("new").join(&id).exists() {
                let _ = fs::remove_file(self.store.dir.join("rec").join(id));
            }
        }
        Ok(entries)
    }
}

/// `f` over `items` on a few threads (the work is mostly waiting for the file system), results
/// in order.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const THREADS: usize = 8;
    if items.len() < 64 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(THREADS);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panic in `f` is a bug; carry it to the caller as it would without threads.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// The time an id was made (its first component), or 0.
fn added_of(id: &str) -> u64 {
    id.split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| a.added.cmp(&b.added).then_with(|| a.id.cmp(&b.id)));
}

/// The body of the `store_index` fuzz target: parsing an opened index never panics, and what
/// parses encodes back to something that parses to the same entries. Not part of the stable
/// API.
#[doc(hidden)]
pub fn fuzz_index(data: &[u8]) {
    let limits = StoreLimits::default().with_max_messages(10_000);
    if let Ok(entries) = index::parse_index(data, &limits) {
        let again = index::parse_index(&index::encode_index(&entries), &limits);
        assert_eq!(
            again.ok().as_ref(),
            Some(&entries),
            "re-encoding changed the index"
        );
    }
    let _ = index::parse_record(data);
}
