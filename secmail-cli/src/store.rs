//! `secmail store`: the encrypted mailbox at rest (secmail_core::store).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use secmail_core::passphrase::{Argon2Params, Passphrase};
use secmail_core::store::{Descriptor, Flags, Opener, PassphraseSealer, Sealer, Store};
use secmail_pgp::{PgpOpener, PgpSealer};
use secmail_smime::{SmimeOpener, SmimeSealer};

use crate::io::Output;

/// Largest passphrase file read.
const MAX_PASSPHRASE_FILE: u64 = 64 * 1024;
/// Largest key or certificate file read.
const MAX_KEY_FILE: u64 = 1 << 20;

#[derive(Subcommand)]
pub enum Command {
    /// Make a new store owned by an OpenPGP certificate, an S/MIME certificate or a passphrase.
    Init(InitArgs),
    /// Seal one message (from --in or stdin) into the store; prints its id. Needs only the
    /// public half (the passphrase for a passphrase store).
    Add(AddArgs),
    /// List the messages (id, date, from, subject, size, flags). Owner only.
    List(ListArgs),
    /// Write one message, byte-exact. Owner only.
    Get(GetArgs),
    /// Set or clear flags on a message. Owner only.
    Flag(FlagArgs),
    /// Delete a message. Owner only.
    Delete(IdArgs),
    /// Open every message and check it against the index; exit 1 if anything is wrong.
    Verify(OwnerArgs),
    /// Make the index again from the messages. Owner only.
    Rebuild(OwnerArgs),
    /// Re-seal everything to a new owner key or passphrase (key rotation). Crash-safe; run it
    /// again with the same keys after an interruption.
    Reseal(ResealArgs),
}

#[derive(Args)]
pub struct InitArgs {
    /// The store directory (created; must be empty if it exists).
    dir: PathBuf,
    /// The owner's OpenPGP certificate.
    #[arg(long, value_name = "CERT", group = "owner")]
    pgp_cert: Option<PathBuf>,
    /// The owner's S/MIME (X.509, RSA) certificate, PEM or DER.
    #[arg(long, value_name = "CERT", group = "owner")]
    smime_cert: Option<PathBuf>,
    /// A file holding the store's passphrase.
    #[arg(long, value_name = "F", group = "owner")]
    passphrase_file: Option<PathBuf>,
    /// Argon2id costs for a passphrase store: recommended, interactive or minimum.
    #[arg(long, value_name = "PROFILE", default_value = "recommended")]
    kdf: String,
}

#[derive(Args)]
pub struct AddArgs {
    /// The store directory.
    dir: PathBuf,
    /// The message (default: stdin).
    #[arg(long = "in", value_name = "MSG")]
    input: Option<PathBuf>,
    /// The passphrase file (passphrase stores only).
    #[arg(long, value_name = "F")]
    passphrase_file: Option<PathBuf>,
}

/// The owner's secret, in one of three forms.
#[derive(Args, Clone)]
pub struct KeyArgs {
    /// The owner's OpenPGP secret key.
    #[arg(long, value_name = "KEY")]
    pgp_key: Option<PathBuf>,
    /// The owner's S/MIME certificate (with --smime-key).
    #[arg(long, value_name = "CERT", requires = "smime_key")]
    smime_cert: Option<PathBuf>,
    /// The owner's S/MIME private key, PKCS#8 / PKCS#1 PEM or DER.
    #[arg(long, value_name = "KEY", requires = "smime_cert")]
    smime_key: Option<PathBuf>,
    /// The store's passphrase file.
    #[arg(long, value_name = "F")]
    passphrase_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct OwnerArgs {
    /// The store directory.
    dir: PathBuf,
    #[command(flatten)]
    key: KeyArgs,
}

#[derive(Args)]
pub struct ListArgs {
    /// The store directory.
    dir: PathBuf,
    #[command(flatten)]
    key: KeyArgs,
    /// One JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct GetArgs {
    /// The store directory.
    dir: PathBuf,
    /// The message id.
    id: String,
    #[command(flatten)]
    key: KeyArgs,
    /// Where to write it (default: stdout).
    #[arg(long, value_name = "F")]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct IdArgs {
    /// The store directory.
    dir: PathBuf,
    /// The message id.
    id: String,
    #[command(flatten)]
    key: KeyArgs,
}

#[derive(Args)]
pub struct FlagArgs {
    /// The store directory.
    dir: PathBuf,
    /// The message id.
    id: String,
    #[command(flatten)]
    key: KeyArgs,
    /// Flags to set, comma-separated: seen, answered, flagged, deleted, draft.
    #[arg(long, value_name = "FLAGS", default_value = "")]
    set: String,
    /// Flags to clear.
    #[arg(long, value_name = "FLAGS", default_value = "")]
    clear: String,
}

#[derive(Args)]
pub struct ResealArgs {
    /// The store directory.
    dir: PathBuf,
    #[command(flatten)]
    key: KeyArgs,
    /// The new owner's OpenPGP secret key.
    #[arg(long, value_name = "KEY", group = "new")]
    new_pgp_key: Option<PathBuf>,
    /// The new owner's S/MIME certificate (with --new-smime-key).
    #[arg(long, value_name = "CERT", group = "new", requires = "new_smime_key")]
    new_smime_cert: Option<PathBuf>,
    /// The new owner's S/MIME private key.
    #[arg(long, value_name = "KEY", requires = "new_smime_cert")]
    new_smime_key: Option<PathBuf>,
    /// The new passphrase file.
    #[arg(long, value_name = "F", group = "new")]
    new_passphrase_file: Option<PathBuf>,
    /// Argon2id costs for a new passphrase: recommended, interactive or minimum.
    #[arg(long, value_name = "PROFILE", default_value = "recommended")]
    kdf: String,
}

fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!("{} is larger than {limit} bytes", path.display());
    }
    Ok(bytes)
}

fn read_passphrase(path: &Path) -> Result<Passphrase> {
    let mut bytes = read_file(path, MAX_PASSPHRASE_FILE)?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    let pass = Passphrase::new(bytes);
    if pass.is_empty() {
        bail!("the passphrase file {} is empty", path.display());
    }
    Ok(pass)
}

fn kdf(profile: &str) -> Result<Argon2Params> {
    Ok(match profile {
        "recommended" => Argon2Params::recommended(),
        "interactive" => Argon2Params::interactive(),
        "minimum" => Argon2Params::minimum(),
        other => bail!("unknown KDF profile {other:?} (recommended, interactive, minimum)"),
    })
}

/// A sealer and an opener for one owner.
pub struct Keys {
    sealer: Box<dyn Sealer>,
    opener: Box<dyn Opener>,
}

/// The owner's keys from the command line, for the store's scheme.
fn owner_keys(store: &Store, k: &KeyArgs) -> Result<Keys> {
    let d = store.descriptor();
    let keys = if let Some(p) = &k.pgp_key {
        pgp_keys(p)?
    } else if let (Some(c), Some(key)) = (&k.smime_cert, &k.smime_key) {
        smime_keys(c, key)?
    } else if let Some(p) = &k.passphrase_file {
        let s = PassphraseSealer::unlock(d, &read_passphrase(p)?)?;
        let o = PassphraseSealer::unlock(d, &read_passphrase(p)?)?;
        Keys {
            sealer: Box::new(s),
            opener: Box::new(o),
        }
    } else {
        bail!(
            "give the owner's key: --pgp-key, --smime-cert with --smime-key, or --passphrase-file"
        )
    };
    Ok(keys)
}

fn pgp_keys(path: &Path) -> Result<Keys> {
    let key = secmail_pgp::read_cert(&read_file(path, MAX_KEY_FILE)?)
        .with_context(|| format!("cannot read the key {}", path.display()))?;
    if !key.is_tsk() {
        bail!("{} holds no secret key", path.display());
    }
    Ok(Keys {
        sealer: Box::new(PgpSealer::new(key.clone())?),
        opener: Box::new(PgpOpener::new(key)),
    })
}

fn smime_keys(cert: &Path, key: &Path) -> Result<Keys> {
    let cert = secmail_smime::load_certificate(&read_file(cert, MAX_KEY_FILE)?)
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?;
    let key = secmail_smime::PrivateKey::load(&read_file(key, MAX_KEY_FILE)?)
        .with_context(|| format!("cannot read the key {}", key.display()))?;
    Ok(Keys {
        sealer: Box::new(SmimeSealer::new(cert.clone())?),
        opener: Box::new(SmimeOpener::new(cert, key)?),
    })
}

/// The sealer for adding: the public half from the descriptor, or the passphrase.
pub fn writer(store: &Store, passphrase_file: Option<&Path>) -> Result<Box<dyn Sealer>> {
    let d = store.descriptor();
    Ok(match d.scheme.as_str() {
        "openpgp" => Box::new(PgpSealer::from_descriptor(d)?),
        "smime" => Box::new(SmimeSealer::from_descriptor(d)?),
        "passphrase" => {
            let Some(p) = passphrase_file else {
                bail!("this store is sealed with a passphrase: give --passphrase-file")
            };
            Box::new(PassphraseSealer::unlock(d, &read_passphrase(p)?)?)
        }
        other => bail!("unknown store scheme {other:?}"),
    })
}

fn open_store(dir: &Path) -> Result<Store> {
    Store::open(dir).with_context(|| format!("cannot open the store {}", dir.display()))
}

fn parse_flags(list: &str) -> Result<Flags> {
    let mut f = Flags::empty();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        f = f.union(Flags::from_name(name).with_context(|| {
            format!("unknown flag {name:?} (seen, answered, flagged, deleted, draft)")
        })?);
    }
    Ok(f)
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Init(a) => {
            let desc = if let Some(c) = &a.pgp_cert {
                let cert = secmail_pgp::read_cert(&read_file(c, MAX_KEY_FILE)?)
                    .with_context(|| format!("cannot read {}", c.display()))?;
                PgpSealer::new(cert)?.descriptor()?
            } else if let Some(c) = &a.smime_cert {
                let cert = secmail_smime::load_certificate(&read_file(c, MAX_KEY_FILE)?)
                    .with_context(|| format!("cannot read {}", c.display()))?;
                SmimeSealer::new(cert)?.descriptor()?
            } else if let Some(p) = &a.passphrase_file {
                PassphraseSealer::create(&read_passphrase(p)?, kdf(&a.kdf)?)?.1
            } else {
                bail!("give the owner: --pgp-cert, --smime-cert or --passphrase-file")
            };
            let store = Store::init(&a.dir, &desc)
                .with_context(|| format!("cannot make a store at {}", a.dir.display()))?;
            eprintln!(
                "made a {} store at {}",
                store.descriptor().scheme,
                a.dir.display()
            );
            Ok(())
        }
        Command::Add(a) => {
            let store = open_store(&a.dir)?;
            let sealer = writer(&store, a.passphrase_file.as_deref())?;
            let id = match &a.input {
                Some(p) => {
                    let mut f = fs::File::open(p)
                        .with_context(|| format!("cannot open {}", p.display()))?;
                    store.add(sealer.as_ref(), &mut f)?
                }
                None => store.add(sealer.as_ref(), &mut std::io::stdin().lock())?,
            };
            println!("{id}");
            Ok(())
        }
        Command::List(a) => {
            let store = open_store(&a.dir)?;
            let keys = owner_keys(&store, &a.key)?;
            let list = store
                .owner(keys.sealer.as_ref(), keys.opener.as_ref())?
                .list()?;
            if a.json {
                let v: Vec<serde_json::Value> = list
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "id": e.id, "added": e.added, "date": e.date, "from": e.from,
                            "subject": e.subject, "size": e.size, "flags": e.flags.names(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for e in &list {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        e.id,
                        e.date,
                        e.from,
                        e.subject,
                        e.size,
                        e.flags.names().join(",")
                    );
                }
            }
            Ok(())
        }
        Command::Get(a) => {
            let store = open_store(&a.dir)?;
            let keys = owner_keys(&store, &a.key)?;
            let mb = store.owner(keys.sealer.as_ref(), keys.opener.as_ref())?;
            let mut out = Output::open(a.out.as_deref())?;
            mb.get(&a.id, &mut out)?;
            out.commit()
        }
        Command::Flag(a) => {
            let store = open_store(&a.dir)?;
            let keys = owner_keys(&store, &a.key)?;
            let mb = store.owner(keys.sealer.as_ref(), keys.opener.as_ref())?;
            let f = mb.flag(&a.id, parse_flags(&a.set)?, parse_flags(&a.clear)?)?;
            println!("{}\t{}", a.id, f.names().join(","));
            Ok(())
        }
        Command::Delete(a) => {
            let store = open_store(&a.dir)?;
            let keys = owner_keys(&store, &a.key)?;
            store
                .owner(keys.sealer.as_ref(), keys.opener.as_ref())?
                .delete(&a.id)?;
            eprintln!("deleted {}", a.id);
            Ok(())
        }
        Command::Verify(a) => {
            let store = open_store(&a.dir)?;
            let keys = owner_keys(&store, &a.key)?;
            let report = store
                .owner(keys.sealer.as_ref(), keys.opener.as_ref())?
                .verify()?;
            for p in &report.problems {
                println!("problem: {p}");
            }
            println!("{} messages open and match the index", report.ok);
            if !report.is_clean() {
                bail!("{} problems found", report.problems.len());
            }
            Ok(())
        }
        Command::Rebuild(a) => {
            let store = open_store(&a.dir)?;
            let keys = owner_keys(&store, &a.key)?;
            let failed = store
                .owner(keys.sealer.as_ref(), keys.opener.as_ref())?
                .rebuild()?;
            for f in &failed {
                println!("does not open, left out: {f}");
            }
            Ok(())
        }
        Command::Reseal(a) => {
            let store = open_store(&a.dir)?;
            let old = owner_keys(&store, &a.key)?;
            let (new, desc): (Keys, Descriptor) = if let Some(p) = &a.new_pgp_key {
                let k = pgp_keys(p)?;
                let key = secmail_pgp::read_cert(&read_file(p, MAX_KEY_FILE)?)?;
                (k, PgpSealer::new(key)?.descriptor()?)
            } else if let (Some(c), Some(key)) = (&a.new_smime_cert, &a.new_smime_key) {
                let cert = secmail_smime::load_certificate(&read_file(c, MAX_KEY_FILE)?)?;
                (smime_keys(c, key)?, SmimeSealer::new(cert)?.descriptor()?)
            } else if let Some(p) = &a.new_passphrase_file {
                let pass = read_passphrase(p)?;
                // Reuse the new passphrase's salt if an interrupted run already switched the
                // descriptor to it; otherwise make a new one.
                match PassphraseSealer::unlock(store.descriptor(), &pass) {
                    Ok(s) if old.opener.owns(&store.descriptor().public).is_err() => {
                        let o = PassphraseSealer::unlock(store.descriptor(), &pass)?;
                        (
                            Keys {
                                sealer: Box::new(s),
                                opener: Box::new(o),
                            },
                            store.descriptor().clone(),
                        )
                    }
                    _ => {
                        let (s, d) = PassphraseSealer::create(&pass, kdf(&a.kdf)?)?;
                        let o = PassphraseSealer::unlock(&d, &pass)?;
                        (
                            Keys {
                                sealer: Box::new(s),
                                opener: Box::new(o),
                            },
                            d,
                        )
                    }
                }
            } else {
                bail!(
                    "give the new owner: --new-pgp-key, --new-smime-cert with --new-smime-key, or --new-passphrase-file"
                )
            };
            let n = store.reseal(
                (old.sealer.as_ref(), old.opener.as_ref()),
                &desc,
                (new.sealer.as_ref(), new.opener.as_ref()),
            )?;
            eprintln!("re-sealed {n} objects to the new {} owner", desc.scheme);
            Ok(())
        }
    }
}

// ------------------------------------------------------------------------------------------
// The demo stage.

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            all_files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Demo stage: the mail fetched in the transport stage lands sealed in an encrypted store.
pub fn demo_stage(n: usize, dir: &Path) -> Result<()> {
    use secmail_core::store::StoreError;
    println!();
    println!("== {n}. At rest: the mailbox, every message sealed to its owner");
    let step = |t: &str| println!("   - {t}");

    let key = secmail_pgp::generate(&secmail_pgp::KeyGenOptions::new("Bob <bob@example.net>"))?.key;
    let owner = PgpSealer::new(key.clone())?;
    let store = Store::init(dir.join("bob-mailbox"), &owner.descriptor()?)?;
    step("bob's mailbox holds only his OpenPGP certificate (store.conf); no secret key");

    let fetched = fs::read(dir.join("transport.eml")).unwrap_or_else(|_| {
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: Lunch?\r\n\r\nNoon.\r\n"
            .to_vec()
    });
    // The mail server (or `secmail fetch --store`) seals with the public half only.
    let server = PgpSealer::from_descriptor(store.descriptor())?;
    let id = store.add(&server, &mut &fetched[..])?;
    let subject = secmail_core::mime::Message::parse(fetched.clone())
        .ok()
        .and_then(|m| m.header("Subject").map(str::to_owned))
        .unwrap_or_default();
    for i in 0..3 {
        let m = format!(
            "From: carol@example.com\r\nSubject: Board minutes {i}\r\n\r\nConfidential {i}.\r\n"
        );
        store.add(&server, &mut m.as_bytes())?;
    }
    step(&format!(
        "stage 5's message and 3 more were sealed on arrival, as `secmail fetch --store` does (tmp/, fsync, rename): {id}"
    ));

    let mut files = Vec::new();
    all_files(store.dir(), &mut files)?;
    for f in &files {
        let data = fs::read(f)?;
        for needle in [subject.as_bytes(), b"Board minutes", b"Confidential"] {
            anyhow::ensure!(
                needle.is_empty() || !data.windows(needle.len()).any(|w| w == needle),
                "plaintext found on disk in {}",
                f.display()
            );
        }
    }
    step(&format!(
        "{} files on disk, and not one holds a subject, a sender or a body",
        files.len()
    ));

    let opener = PgpOpener::new(key);
    let mailbox = store.owner(&owner, &opener)?;
    let list = mailbox.list()?;
    anyhow::ensure!(
        list.len() == 4,
        "the owner lists {} messages, not 4",
        list.len()
    );
    for e in &list {
        step(&format!(
            "bob lists (from the sealed index): {:?} from {:?}, {} bytes",
            e.subject, e.from, e.size
        ));
    }
    let mut back = Vec::new();
    mailbox.get(&id, &mut back)?;
    anyhow::ensure!(back == fetched, "the stored message is not byte-exact");
    mailbox.flag(&id, Flags::SEEN, Flags::empty())?;
    anyhow::ensure!(mailbox.verify()?.is_clean(), "verify found problems");
    step(
        "bob reads it back byte-exact, marks it seen; verify: every message opens, the index matches",
    );

    let mallory =
        secmail_pgp::generate(&secmail_pgp::KeyGenOptions::new("Mallory <m@example.com>"))?.key;
    let mopener = PgpOpener::new(mallory.clone());
    let msealer = PgpSealer::new(mallory)?;
    match store.owner(&msealer, &mopener) {
        Err(StoreError::WrongKey) => step("another key is refused: the store does not open"),
        other => anyhow::bail!("another key was not refused: {other:?}"),
    }
    Ok(())
}
