//! `secmail pgp autocrypt-read` and `secmail pgp autocrypt-recommend`: the Autocrypt Level 1
//! peer state kept in a directory (secmail-pgp's `AutocryptPeers`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, ensure};
use clap::{Args, Subcommand};
use secmail_pgp::{AutocryptPeers, Compose, PeerUpdate, PreferEncrypt, Recommendation};

use crate::io::read_input;

/// The largest message read (held in memory).
const MAX_MAIL: u64 = 256 * 1024 * 1024;

#[derive(Subcommand)]
pub enum Command {
    /// Update the Autocrypt peer state in --peers from a received message: its From, Date and
    /// Autocrypt header; with --decrypted, also the Autocrypt-Gossip headers inside it.
    AutocryptRead(ReadArgs),
    /// Print the Autocrypt recommendation (disable, discourage, available, encrypt) for each
    /// recipient and for the message to all of them (the last line).
    AutocryptRecommend(RecommendArgs),
}

#[derive(Args)]
pub struct ReadArgs {
    /// The peer state directory (created if needed).
    #[arg(long, value_name = "DIR")]
    peers: PathBuf,
    /// The message (stdin if absent).
    #[arg(long = "in", value_name = "MSG")]
    input: Option<PathBuf>,
    /// The message is the output of `secmail pgp decrypt-mail`: read its gossip too. Never
    /// give this for a message as received: gossip is trusted only from inside encryption.
    #[arg(long)]
    decrypted: bool,
}

#[derive(Args)]
pub struct RecommendArgs {
    /// The peer state directory.
    #[arg(long, value_name = "DIR")]
    peers: PathBuf,
    /// A recipient address (repeat for several).
    #[arg(long = "to", value_name = "ADDR", required = true)]
    to: Vec<String>,
    /// The sender's own setting is prefer-encrypt=mutual.
    #[arg(long)]
    mutual: bool,
    /// The message replies to an encrypted message.
    #[arg(long)]
    reply_to_encrypted: bool,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::AutocryptRead(a) => read(a),
        Command::AutocryptRecommend(a) => recommend(a),
    }
}

fn open(dir: &Path) -> Result<AutocryptPeers> {
    AutocryptPeers::open(dir)
        .with_context(|| format!("cannot open the peer state {}", dir.display()))
}

fn read(a: ReadArgs) -> Result<()> {
    let msg = read_input(a.input.as_deref(), MAX_MAIL)?;
    let mut peers = open(&a.peers)?;
    let now = SystemTime::now();
    let what = match peers.process_message(&msg, now)? {
        PeerUpdate::NotProcessed => "not processed (no single From, or a multipart/report)",
        PeerUpdate::Older => "older than the last Autocrypt header: no change",
        PeerUpdate::Seen => "no Autocrypt header: last seen updated for a known peer",
        PeerUpdate::Updated => "Autocrypt header taken",
        _ => "done",
    };
    println!("sender: {what}");
    if a.decrypted {
        let n = peers.process_gossip(&msg, now)?;
        println!("gossip: {n} key(s) taken");
    }
    Ok(())
}

fn recommend(a: RecommendArgs) -> Result<()> {
    ensure!(
        a.peers.is_dir(),
        "no peer state directory {}",
        a.peers.display()
    );
    let peers = open(&a.peers)?;
    let now = SystemTime::now();
    let compose = Compose {
        own_prefer_encrypt: if a.mutual {
            PreferEncrypt::Mutual
        } else {
            PreferEncrypt::NoPreference
        },
        reply_to_encrypted: a.reply_to_encrypted,
    };
    for addr in &a.to {
        let r = peers.recommend(addr, now, &compose);
        match (r, peers.target_key(addr)) {
            (Recommendation::Disable, _) | (_, None) => println!("{addr}: {r}"),
            (_, Some(k)) => println!("{addr}: {r} {}", k.fingerprint().to_hex()),
        }
    }
    println!("all: {}", peers.recommend_all(&a.to, now, &compose));
    Ok(())
}

/// The Autocrypt step of the OpenPGP demo: Alice's mail carries her key; Bob's peer state
/// takes it and recommends encrypting to her.
pub fn demo_steps(dir: &Path, alice: &secmail_pgp::Cert) -> Result<()> {
    let mail = secmail_core::mime::MessageBuilder::new()
        .from("Alice <alice@example.org>")
        .to("Bob <bob@example.net>")
        .subject("lunch?")
        .text_body("Noon?\n")
        .build()?;
    let mail = secmail_pgp::add_autocrypt_header(&mail, alice, PreferEncrypt::Mutual)?;
    let peers_dir = dir.join("bob-autocrypt-peers");
    let mut peers = AutocryptPeers::open(&peers_dir)?;
    let now = SystemTime::now();
    ensure!(
        peers.process_message(&mail, now)? == PeerUpdate::Updated,
        "Bob did not take Alice's Autocrypt header"
    );
    let me = Compose {
        own_prefer_encrypt: PreferEncrypt::Mutual,
        ..Compose::default()
    };
    let r = peers.recommend("alice@example.org", now, &me);
    ensure!(
        r == Recommendation::Encrypt,
        "the recommendation is {r}, not encrypt"
    );
    println!(
        "   - Autocrypt: Alice's plain mail carried her key (prefer-encrypt=mutual); Bob's peer \
         state ({}) recommends: {r}",
        peers_dir.display()
    );
    Ok(())
}
