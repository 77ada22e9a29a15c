//! Autocrypt Level 1 per-peer state (§2.3) and the encryption recommendation (§2.4).
//!
//! For every peer address the state holds `last_seen`, `autocrypt_timestamp`, `public_key`,
//! `prefer_encrypt`, `gossip_timestamp` and `gossip_key`, updated from received messages by
//! exactly the spec's rules:
//!
//! - the *effective date* of a message is its `Date`, or now when the `Date` is missing,
//!   unparseable or in the future;
//! - messages without exactly one `From` address, and `multipart/report` messages (bounces,
//!   delivery notifications: not written by the peer), are not processed;
//! - a message older than `autocrypt_timestamp` changes nothing;
//! - otherwise `last_seen` moves forward to the effective date, and, when the message carries
//!   a valid `Autocrypt:` header for its `From`, `autocrypt_timestamp`, `public_key` and
//!   `prefer_encrypt` are set from it;
//! - `Autocrypt-Gossip:` (read only from a decrypted message, only for an address in its `To`
//!   or `Cc`) sets `gossip_timestamp` and `gossip_key` unless the stored gossip is newer.
//!
//! A message without a header from an address that has no state yet creates none: state is
//! kept only for peers that have shown a key, so the store does not grow with every
//! correspondent.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secmail_core::mime::Message;

use sequoia_openpgp as openpgp;

use openpgp::Cert;
use openpgp::serialize::SerializeInto;
use openpgp::types::{HashAlgorithm, RevocationStatus};

use crate::autocrypt::{AutocryptHeader, PreferEncrypt, gossip_headers, norm, sender_header};
use crate::error::{Error, Result};
use crate::keys::read_cert;
use crate::policy::policy;

/// The most peers an [`AutocryptPeers`] holds (in memory or on disk).
pub const MAX_AUTOCRYPT_PEERS: usize = 100_000;
/// The largest key (binary certificate) kept as a peer's `public_key` or `gossip_key`.
/// Autocrypt keys are minimal certificates of a few hundred bytes (a few KiB for RSA-4096).
pub const MAX_AUTOCRYPT_KEY: usize = 64 * 1024;
/// The largest peer state file read back: two keys in base64 and a few short lines.
const MAX_PEER_FILE: u64 = (2 * MAX_AUTOCRYPT_KEY as u64 * 4).div_ceil(3) + 4096;
/// Longest address kept (RFC 5321 path limit).
const MAX_ADDR: usize = 254;
/// Autocrypt Level 1 §2.4.1: a key unseen for this long before `last_seen` is stale.
pub const AUTOCRYPT_STALE: Duration = Duration::from_secs(35 * 24 * 60 * 60);

const MAGIC: &str = "secmail-autocrypt-peer 1";

/// What Autocrypt recommends for encrypting to a peer (Level 1 §2.4). Ordered from the
/// weakest to the strongest, so that the recommendation for several recipients is the
/// minimum of theirs.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Recommendation {
    /// Do not offer encryption: no usable key.
    Disable,
    /// Encryption is possible but may not be readable (a gossiped key only, or the peer's
    /// Autocrypt key was last seen more than 35 days before its latest message).
    Discourage,
    /// Encryption is possible; off by default.
    Available,
    /// Encrypt by default.
    Encrypt,
}

impl std::fmt::Display for Recommendation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Recommendation::Disable => "disable",
            Recommendation::Discourage => "discourage",
            Recommendation::Available => "available",
            Recommendation::Encrypt => "encrypt",
        })
    }
}

/// The composing side's part of a recommendation (Level 1 §2.4.1, "Deciding to encrypt by
/// default").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compose {
    /// The sender's own `prefer-encrypt` setting.
    pub own_prefer_encrypt: PreferEncrypt,
    /// Whether the message is a reply to an encrypted message.
    pub reply_to_encrypted: bool,
}

/// The Autocrypt state kept for one peer address (Level 1 §2.3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeerState {
    /// The latest effective date of all processed messages from the peer.
    pub last_seen: Option<SystemTime>,
    /// The latest effective date of the processed messages that carried a valid header.
    pub autocrypt_timestamp: Option<SystemTime>,
    /// The key from the latest `Autocrypt:` header.
    pub public_key: Option<Cert>,
    /// The `prefer-encrypt` of the latest `Autocrypt:` header.
    pub prefer_encrypt: PreferEncrypt,
    /// The latest effective date of a message that gossiped a key for the peer.
    pub gossip_timestamp: Option<SystemTime>,
    /// The key from the latest `Autocrypt-Gossip:` header.
    pub gossip_key: Option<Cert>,
}

/// What processing a message did to the peer state.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerUpdate {
    /// The message is not processed: no single `From`, or a `multipart/report`.
    NotProcessed,
    /// The message is older than the peer's `autocrypt_timestamp`: nothing changed.
    Older,
    /// The message had no valid header: `last_seen` moved forward (for a known peer).
    Seen,
    /// The header's key and preference were taken.
    Updated,
}

/// Autocrypt peer states by normalised (lower-case) address, in memory or backed by a
/// directory (one file per peer, written atomically: temporary file, fsync, rename).
///
/// ```
/// use std::time::SystemTime;
/// use secmail_pgp::{
///     AutocryptPeers, Compose, KeyGenOptions, PreferEncrypt, Recommendation,
///     add_autocrypt_header, generate,
/// };
/// let alice = generate(&KeyGenOptions::new("Alice <alice@example.org>"))?.key;
/// let mail = b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n\r\nhi\r\n";
/// let mail = add_autocrypt_header(mail, &alice, PreferEncrypt::Mutual)?;
///
/// let mut peers = AutocryptPeers::new();
/// peers.process_message(&mail, SystemTime::now())?;
/// let me = Compose { own_prefer_encrypt: PreferEncrypt::Mutual, ..Compose::default() };
/// assert_eq!(
///     peers.recommend("Alice@example.org", SystemTime::now(), &me),
///     Recommendation::Encrypt
/// );
/// # Ok::<(), secmail_pgp::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct AutocryptPeers {
    peers: BTreeMap<String, PeerState>,
    dir: Option<PathBuf>,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `s` seconds after the Unix epoch, if the platform's time can hold it (a peer file or a
/// `Date` can name any u64: `UNIX_EPOCH + Duration` would panic on overflow; found by the
/// `pgp_autocrypt` fuzz target).
fn from_secs(s: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(s))
}

/// `t` truncated to whole seconds.
fn whole_secs(t: SystemTime) -> SystemTime {
    from_secs(secs(t)).unwrap_or(t)
}

/// Reads one peer file, checking its size, its format and that its name is its address's.
fn load(path: &Path) -> Result<(String, PeerState)> {
    if fs::metadata(path)?.len() > MAX_PEER_FILE {
        return Err(Error::PeerLimit {
            what: "state file size",
            limit: MAX_PEER_FILE,
        });
    }
    let text = fs::read_to_string(path)?;
    let (addr, state) = decode(&text).map_err(|why| {
        Error::malformed("Autocrypt peer state", format!("{}: {why}", path.display()))
    })?;
    if path.file_stem().and_then(|s| s.to_str()) != Some(file_stem(&addr)?.as_str()) {
        return Err(Error::malformed(
            "Autocrypt peer state",
            format!("{}: not the file of {addr}", path.display()),
        ));
    }
    Ok((addr, state))
}

/// The lock file of a state directory. Every update holds an exclusive lock on it (an
/// advisory `flock`-style lock, [`fs::File::lock`]) from re-reading the peer's file to
/// writing it back, so that two processes (or two handles) updating one directory never lose
/// an update: each applies the §2.3 rules to what the other wrote, not to what it loaded at
/// [`AutocryptPeers::open`].
const LOCK_FILE: &str = ".lock";

/// The effective date of a message (Level 1 §2.3): its `Date`, clamped to `now`; `now` when
/// there is no parseable `Date`. Truncated to whole seconds.
pub fn effective_date(message: &Message, now: SystemTime) -> SystemTime {
    let now = whole_secs(now);
    let parsed = mail_parser::MessageParser::default()
        .parse_headers(message.root().raw_headers())
        .and_then(|m| m.date().filter(|d| d.is_valid()).map(|d| d.to_timestamp()));
    match parsed {
        // Past what the platform's time holds is past `now` too.
        Some(ts) => from_secs(u64::try_from(ts).unwrap_or(0)).map_or(now, |t| t.min(now)),
        None => now,
    }
}

fn is_report(msg: &Message) -> bool {
    msg.header("Content-Type").is_some_and(|ct| {
        ct.trim_start()
            .get(..16)
            .is_some_and(|t| t.eq_ignore_ascii_case("multipart/report"))
    })
}

/// Whether `cert` can be encrypted to at `now` under the standard policy: valid binding
/// signatures, alive, not revoked, with a live encryption-capable key.
pub(crate) fn usable_at(cert: &Cert, now: SystemTime) -> bool {
    let Ok(vc) = cert.with_policy(policy(), Some(now)) else {
        return false;
    };
    if let RevocationStatus::Revoked(_) = vc.revocation_status() {
        return false;
    }
    if vc.alive().is_err() {
        return false;
    }
    vc.keys()
        .supported()
        .alive()
        .revoked(false)
        .for_transport_encryption()
        .for_storage_encryption()
        .next()
        .is_some()
}

fn check_key(cert: &Cert) -> Result<Cert> {
    let cert = cert.clone().strip_secret_key_material();
    let len = cert
        .to_vec()
        .map_err(|e| Error::malformed_any("certificate", e))?
        .len();
    if len > MAX_AUTOCRYPT_KEY {
        return Err(Error::PeerLimit {
            what: "key size",
            limit: MAX_AUTOCRYPT_KEY as u64,
        });
    }
    Ok(cert)
}

impl AutocryptPeers {
    /// An empty state in memory.
    pub fn new() -> Self {
        AutocryptPeers::default()
    }

    /// Opens (creating it if needed) a state directory, loading every peer file (`*.peer`)
    /// in it. A malformed file is an error naming it.
    ///
    /// Several processes (or handles) may share a directory: each update locks the directory
    /// (its `.lock` file), re-reads that peer's file and applies the rules to it, so no update
    /// is lost. Look-ups and recommendations read what this handle loaded or wrote itself;
    /// open the directory again to see other processes' updates of other peers.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir)?;
        let mut peers = BTreeMap::new();
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("peer") {
                continue;
            }
            if peers.len() >= MAX_AUTOCRYPT_PEERS {
                return Err(Error::PeerLimit {
                    what: "peers",
                    limit: MAX_AUTOCRYPT_PEERS as u64,
                });
            }
            let (addr, state) = load(&path)?;
            peers.insert(addr, state);
        }
        Ok(AutocryptPeers {
            peers,
            dir: Some(dir),
        })
    }

    /// The state of `addr` (compared case-insensitively).
    pub fn get(&self, addr: &str) -> Option<&PeerState> {
        self.peers.get(&norm(addr))
    }

    /// Every peer, by normalised address.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PeerState)> {
        self.peers.iter().map(|(a, s)| (a.as_str(), s))
    }

    /// How many peers are known.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer is known.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Updates the state from a received message (as delivered, not decrypted): its `From`,
    /// effective date and `Autocrypt:` header (Level 1 §2.3). `now` is the time of receipt.
    pub fn process_message(&mut self, message: &[u8], now: SystemTime) -> Result<PeerUpdate> {
        let msg = Message::parse(message.to_vec())?;
        let Some(from) = msg.from_address() else {
            return Ok(PeerUpdate::NotProcessed);
        };
        if is_report(&msg) {
            return Ok(PeerUpdate::NotProcessed);
        }
        let header = sender_header(&msg);
        self.update(&from, header.as_ref(), effective_date(&msg, now))
    }

    /// Updates the state of `from` for a message with effective date `effective` and the
    /// given valid `Autocrypt:` header (`None`: the message had none). The rules of Level 1
    /// §2.3 "Updating Autocrypt Peer State"; [`AutocryptPeers::process_message`] calls it.
    pub fn update(
        &mut self,
        from: &str,
        header: Option<&AutocryptHeader>,
        effective: SystemTime,
    ) -> Result<PeerUpdate> {
        let addr = norm(from);
        let effective = whole_secs(effective);
        if let Some(h) = header
            && h.addr != addr
        {
            return Err(Error::Misuse(format!(
                "the Autocrypt header is for {}, not {addr}",
                h.addr
            )));
        }
        let key = header.map(|h| check_key(&h.cert)).transpose()?;
        let _lock = self.lock_and_reload(&addr)?;
        let mut state = match self.peers.get(&addr) {
            Some(s) => s.clone(),
            None if header.is_none() => return Ok(PeerUpdate::Seen),
            None => self.new_peer(&addr)?,
        };
        if state.autocrypt_timestamp.is_some_and(|t| effective < t) {
            return Ok(PeerUpdate::Older);
        }
        if state.last_seen.is_none_or(|t| effective > t) {
            state.last_seen = Some(effective);
        }
        let outcome = match (header, key) {
            (Some(h), Some(key)) => {
                state.autocrypt_timestamp = Some(effective);
                state.public_key = Some(key);
                state.prefer_encrypt = h.prefer_encrypt;
                PeerUpdate::Updated
            }
            _ => PeerUpdate::Seen,
        };
        self.store(addr, state)?;
        Ok(outcome)
    }

    /// Updates the state from the `Autocrypt-Gossip:` headers of a *decrypted* message (the
    /// output of [`decrypt_mail`](crate::decrypt_mail); never from a message as received).
    /// Only gossip for an address in the message's `To` or `Cc` is taken (Level 1 §2.3.3).
    /// Returns how many peers' gossip was updated.
    pub fn process_gossip(&mut self, decrypted: &[u8], now: SystemTime) -> Result<usize> {
        let msg = Message::parse(decrypted.to_vec())?;
        if is_report(&msg) {
            return Ok(0);
        }
        let effective = effective_date(&msg, now);
        let recipients: Vec<String> = mail_parser::MessageParser::default()
            .parse_headers(msg.root().raw_headers())
            .map(|m| {
                m.to()
                    .into_iter()
                    .chain(m.cc())
                    .flat_map(|a| a.iter())
                    .filter_map(|a| a.address.as_deref().map(norm))
                    .collect()
            })
            .unwrap_or_default();
        let mut n = 0;
        for h in gossip_headers(&msg) {
            if recipients.contains(&h.addr) && self.update_gossip(&h, effective)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Takes one gossiped key with effective date `effective`, unless the stored gossip is
    /// newer (Level 1 §2.3.3). Returns whether it was taken.
    pub fn update_gossip(
        &mut self,
        header: &AutocryptHeader,
        effective: SystemTime,
    ) -> Result<bool> {
        let addr = norm(&header.addr);
        let effective = whole_secs(effective);
        let key = check_key(&header.cert)?;
        let _lock = self.lock_and_reload(&addr)?;
        let mut state = match self.peers.get(&addr) {
            Some(s) => s.clone(),
            None => self.new_peer(&addr)?,
        };
        if state.gossip_timestamp.is_some_and(|t| t > effective) {
            return Ok(false);
        }
        state.gossip_timestamp = Some(effective);
        state.gossip_key = Some(key);
        self.store(addr, state)?;
        Ok(true)
    }

    /// For a directory: takes the directory's lock and re-reads `addr`'s file, so that the
    /// update that follows starts from what is on disk now. The lock is held until the
    /// returned file is dropped.
    fn lock_and_reload(&mut self, addr: &str) -> Result<Option<fs::File>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        lock.lock()?;
        let path = dir.join(format!("{}.peer", file_stem(addr)?));
        match load(&path) {
            Ok((a, state)) => {
                self.peers.insert(a, state);
            }
            // No file: nobody stored this peer (what is in memory, if anything, is ours).
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Some(lock))
    }

    fn new_peer(&self, addr: &str) -> Result<PeerState> {
        if addr.is_empty() || addr.len() > MAX_ADDR || addr.contains(['\r', '\n']) {
            return Err(Error::malformed(
                "Autocrypt address",
                format!("not a usable address ({} bytes)", addr.len()),
            ));
        }
        if self.peers.len() >= MAX_AUTOCRYPT_PEERS {
            return Err(Error::PeerLimit {
                what: "peers",
                limit: MAX_AUTOCRYPT_PEERS as u64,
            });
        }
        Ok(PeerState::default())
    }

    fn store(&mut self, addr: String, state: PeerState) -> Result<()> {
        if let Some(dir) = &self.dir {
            let text = encode(&addr, &state)?;
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            tmp.write_all(text.as_bytes())?;
            tmp.as_file().sync_all()?;
            tmp.persist(dir.join(format!("{}.peer", file_stem(&addr)?)))
                .map_err(|e| Error::Io(e.error))?;
            // The rename itself is durable once the directory is synced.
            fs::File::open(dir)?.sync_all()?;
        }
        self.peers.insert(addr, state);
        Ok(())
    }

    /// The key encryption to `addr` would use: the `public_key`, else the `gossip_key`
    /// (Level 1 §2.4.1 "target key").
    pub fn target_key(&self, addr: &str) -> Option<&Cert> {
        let s = self.get(addr)?;
        s.public_key.as_ref().or(s.gossip_key.as_ref())
    }

    /// The preliminary recommendation for `addr` at `now` (Level 1 §2.4.1): `Disable`
    /// without a target key or when it cannot be encrypted to now under the standard policy
    /// (expired, revoked, SHA-1-bound, no encryption subkey); `Discourage` for a gossiped key
    /// only, or when `autocrypt_timestamp` is more than 35 days older than `last_seen`;
    /// `Available` otherwise.
    pub fn preliminary(&self, addr: &str, now: SystemTime) -> Recommendation {
        let Some(s) = self.get(addr) else {
            return Recommendation::Disable;
        };
        let Some(target) = s.public_key.as_ref().or(s.gossip_key.as_ref()) else {
            return Recommendation::Disable;
        };
        if !usable_at(target, now) {
            return Recommendation::Disable;
        }
        if s.public_key.is_none() {
            return Recommendation::Discourage;
        }
        if let (Some(ac), Some(seen)) = (s.autocrypt_timestamp, s.last_seen)
            && ac + AUTOCRYPT_STALE < seen
        {
            return Recommendation::Discourage;
        }
        Recommendation::Available
    }

    /// The final recommendation for one recipient (Level 1 §2.4.1): `Encrypt` when the
    /// preliminary one is `Available` or `Discourage` and the message replies to an encrypted
    /// one, or when it is `Available` and both the peer and the sender prefer `mutual`.
    pub fn recommend(&self, addr: &str, now: SystemTime, compose: &Compose) -> Recommendation {
        let pre = self.preliminary(addr, now);
        let mutual = compose.own_prefer_encrypt == PreferEncrypt::Mutual
            && self
                .get(addr)
                .is_some_and(|s| s.prefer_encrypt == PreferEncrypt::Mutual);
        match pre {
            Recommendation::Available | Recommendation::Discourage
                if compose.reply_to_encrypted =>
            {
                Recommendation::Encrypt
            }
            Recommendation::Available if mutual => Recommendation::Encrypt,
            other => other,
        }
    }

    /// The recommendation for a message to several recipients (Level 1 §2.4.2): `Disable` if
    /// any recipient's is; `Encrypt` only if every recipient's is; otherwise `Discourage` if
    /// any is, else `Available`. No recipients: `Disable`.
    pub fn recommend_all<S: AsRef<str>>(
        &self,
        addrs: &[S],
        now: SystemTime,
        compose: &Compose,
    ) -> Recommendation {
        addrs
            .iter()
            .map(|a| self.recommend(a.as_ref(), now, compose))
            .min()
            .unwrap_or(Recommendation::Disable)
    }
}

/// The file name (without extension) of `addr`'s state: SHA-256 of the address in hex, so
/// that any address maps to a short, safe name.
fn file_stem(addr: &str) -> Result<String> {
    let mut ctx = HashAlgorithm::SHA256
        .context()
        .map_err(|e| Error::Misuse(e.to_string()))?
        .for_digest();
    ctx.update(addr.as_bytes());
    let digest = ctx
        .into_digest()
        .map_err(|e| Error::Misuse(e.to_string()))?;
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn encode(addr: &str, s: &PeerState) -> Result<String> {
    let mut out = format!("{MAGIC}\naddr {addr}\n");
    let mut time = |name: &str, t: Option<SystemTime>| {
        if let Some(t) = t {
            out.push_str(&format!("{name} {}\n", secs(t)));
        }
    };
    time("last-seen", s.last_seen);
    time("autocrypt-timestamp", s.autocrypt_timestamp);
    time("gossip-timestamp", s.gossip_timestamp);
    out.push_str(match s.prefer_encrypt {
        PreferEncrypt::Mutual => "prefer-encrypt mutual\n",
        _ => "prefer-encrypt nopreference\n",
    });
    for (name, key) in [("public-key", &s.public_key), ("gossip-key", &s.gossip_key)] {
        if let Some(k) = key {
            let bytes = k
                .to_vec()
                .map_err(|e| Error::malformed_any("certificate", e))?;
            out.push_str(&format!("{name} {}\n", STANDARD.encode(bytes)));
        }
    }
    Ok(out)
}

pub(crate) fn decode(text: &str) -> std::result::Result<(String, PeerState), String> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err("not a peer state file".into());
    }
    let mut addr = None;
    let mut s = PeerState::default();
    let key = |v: &str| -> std::result::Result<Cert, String> {
        let bytes = STANDARD.decode(v).map_err(|e| e.to_string())?;
        if bytes.len() > MAX_AUTOCRYPT_KEY {
            return Err("key too large".into());
        }
        let c = read_cert(&bytes).map_err(|e| e.to_string())?;
        if c.is_tsk() {
            return Err("secret key material".into());
        }
        Ok(c)
    };
    let time = |v: &str| -> std::result::Result<SystemTime, String> {
        let secs = v.parse::<u64>().map_err(|e| e.to_string())?;
        from_secs(secs).ok_or_else(|| format!("time {secs} out of range"))
    };
    for line in lines {
        let (k, v) = line.split_once(' ').ok_or("a line without a value")?;
        match k {
            "addr" if v == norm(v) && !v.is_empty() && v.len() <= MAX_ADDR => {
                addr = Some(v.to_owned())
            }
            "last-seen" => s.last_seen = Some(time(v)?),
            "autocrypt-timestamp" => s.autocrypt_timestamp = Some(time(v)?),
            "gossip-timestamp" => s.gossip_timestamp = Some(time(v)?),
            "prefer-encrypt" => {
                s.prefer_encrypt = match v {
                    "mutual" => PreferEncrypt::Mutual,
                    "nopreference" => PreferEncrypt::NoPreference,
                    _ => return Err("bad prefer-encrypt".into()),
                }
            }
            "public-key" => s.public_key = Some(key(v)?),
            "gossip-key" => s.gossip_key = Some(key(v)?),
            _ => return Err(format!("unexpected line {k:?}")),
        }
    }
    Ok((addr.ok_or("no addr")?, s))
}
