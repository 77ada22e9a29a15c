//! The `secmail` command. See `secmail --help`.

mod demo;
mod io;
mod mime;
mod passphrase;
mod pgp;
mod pgp_autocrypt;
mod smime;
mod store;
mod transport;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Secure email from the shell: MIME, OpenPGP, S/MIME, passphrase encryption, TLS transport
/// and an encrypted mailbox.
#[derive(Parser)]
#[command(name = "secmail", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    group: Group,
}

#[derive(Subcommand)]
enum Group {
    /// Look inside messages.
    #[command(subcommand)]
    Mime(mime::MimeCommand),
    /// Encrypt and decrypt with a passphrase (Argon2id + AES-256-GCM / ChaCha20-Poly1305).
    #[command(subcommand)]
    Passphrase(passphrase::Command),
    /// OpenPGP: keys, encryption, signatures and PGP/MIME (interoperable with gpg, sq, rnp).
    #[command(subcommand)]
    Pgp(pgp::Command),
    /// S/MIME: an in-house CA, sign, encrypt, decrypt and verify messages.
    #[command(subcommand)]
    Smime(smime::Command),
    /// The encrypted mailbox at rest: every message sealed to its owner before it touches disk.
    #[command(subcommand)]
    Store(store::Command),
    /// Send messages over SMTP submission (TLS required: smtps:// or smtp:// with STARTTLS).
    Send(transport::SendArgs),
    /// Fetch messages over IMAP or POP3 (TLS required), each written byte-exact as `DIR/UID.eml`.
    Fetch(transport::FetchArgs),
    /// Run the whole story of secmail on this machine, step by step (loopback only,
    /// throw-away keys in a temporary directory).
    Demo,
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.group {
        Group::Mime(cmd) => mime::run(cmd),
        Group::Passphrase(cmd) => passphrase::run(cmd),
        Group::Pgp(cmd) => pgp::run(cmd),
        Group::Smime(cmd) => smime::run(cmd),
        Group::Store(cmd) => store::run(cmd),
        Group::Send(args) => transport::send(args),
        Group::Fetch(args) => transport::fetch(args),
        Group::Demo => demo::run(),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; everything else clap reports is a usage error.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("secmail: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
