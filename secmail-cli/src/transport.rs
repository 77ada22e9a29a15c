//! `secmail send` and `secmail fetch`: SMTP submission, IMAP and POP3 over TLS that fails
//! closed (secmail-transport).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use secmail_transport::{
    Endpoint, Envelope, ImapClient, Options, Pop3Client, Protocol, SecretString, SmtpClient,
    TlsConfig,
};
use zeroize::Zeroizing;

/// The largest message `send` reads (the transport's own default limit).
const MAX_MESSAGE: u64 = 64 * 1024 * 1024;

/// Arguments of `secmail send`.
#[derive(Args, Debug)]
pub struct SendArgs {
    /// smtps://HOST[:PORT] (implicit TLS, default port 465) or smtp://HOST[:PORT] (STARTTLS
    /// required, default port 587). There is no plaintext mode.
    #[arg(long, value_name = "URL")]
    smtp: String,
    /// The login name.
    #[arg(long, value_name = "U")]
    user: String,
    /// A file holding the password (its first line).
    #[arg(long, value_name = "F")]
    password_file: PathBuf,
    /// Trust only the CA certificates in this PEM file (default: the Mozilla roots).
    #[arg(long, value_name = "F")]
    ca_file: Option<PathBuf>,
    /// The envelope sender (default: the message's From address).
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
    /// An envelope recipient; repeat for several (default: the message's To and Cc).
    #[arg(long = "to", value_name = "ADDR")]
    to: Vec<String>,
    /// A message to send; repeat to send several over one session.
    #[arg(long = "in", value_name = "MSG", required = true)]
    inputs: Vec<PathBuf>,
}

/// Arguments of `secmail fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// imaps://HOST[:PORT] (implicit TLS, 993) or imap://HOST[:PORT] (STARTTLS required, 143).
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "pop3",
        conflicts_with = "pop3"
    )]
    imap: Option<String>,
    /// pop3s://HOST[:PORT] (implicit TLS, 995) or pop3://HOST[:PORT] (STLS required, 110).
    #[arg(long, value_name = "URL")]
    pop3: Option<String>,
    /// The login name.
    #[arg(long, value_name = "U")]
    user: String,
    /// A file holding the password (its first line).
    #[arg(long, value_name = "F")]
    password_file: PathBuf,
    /// Trust only the CA certificates in this PEM file (default: the Mozilla roots).
    #[arg(long, value_name = "F")]
    ca_file: Option<PathBuf>,
    /// The IMAP mailbox to fetch from (IMAP only).
    #[arg(long, value_name = "NAME", default_value = "INBOX")]
    mailbox: String,
    /// Where each message is written, byte-exact, as `<uid>.eml`.
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// Delete each message on the server once it is safely on disk.
    #[arg(long)]
    delete: bool,
}

fn read_password(path: &Path) -> Result<SecretString> {
    let raw = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?,
    );
    let first = raw.lines().next().unwrap_or("");
    ensure!(
        !first.is_empty(),
        "the password file {} is empty",
        path.display()
    );
    Ok(SecretString::from(first.to_string()))
}

fn options(ca_file: Option<&Path>) -> Result<Options> {
    let tls = match ca_file {
        Some(p) => TlsConfig::with_ca_file(p)?,
        None => TlsConfig::webpki_roots()?,
    };
    Ok(Options::new(tls))
}

fn endpoint(url: &str, want: Protocol) -> Result<Endpoint> {
    let (protocol, endpoint) = Endpoint::parse_url(url)?;
    ensure!(protocol == want, "{url} is not a {want:?} URL");
    Ok(endpoint)
}

/// The envelope of one message: the options, else its From, To and Cc.
fn envelope(args: &SendArgs, message: &[u8], path: &Path) -> Result<Envelope> {
    let parsed = mail_parser::MessageParser::default().parse_headers(message);
    let from = match (&args.from, &parsed) {
        (Some(f), _) => f.clone(),
        (None, Some(m)) => m
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_string)
            .with_context(|| format!("{}: no From address; give --from", path.display()))?,
        (None, None) => bail!("{}: cannot read the headers; give --from", path.display()),
    };
    let to: Vec<String> = if !args.to.is_empty() {
        args.to.clone()
    } else {
        let m = parsed
            .as_ref()
            .with_context(|| format!("{}: cannot read the headers; give --to", path.display()))?;
        if m.bcc().is_some() {
            bail!(
                "{}: the message has a Bcc header, which every recipient would see; remove it \
                 and name the recipients with --to",
                path.display()
            );
        }
        [m.to(), m.cc()]
            .into_iter()
            .flatten()
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address().map(str::to_string))
            .collect()
    };
    ensure!(
        !to.is_empty(),
        "{}: no recipient; give --to",
        path.display()
    );
    Ok(Envelope::new(from, to))
}

/// `secmail send`.
pub fn send(args: SendArgs) -> Result<()> {
    let endpoint = endpoint(&args.smtp, Protocol::Smtp)?;
    let password = read_password(&args.password_file)?;
    // Read every message first: a bad file stops us before anything is sent.
    let mut messages = Vec::new();
    for path in &args.inputs {
        let bytes = crate::io::read_input(Some(path), MAX_MESSAGE)?;
        let env = envelope(&args, &bytes, path)?;
        messages.push((path, env, bytes));
    }
    let mut smtp = SmtpClient::connect(&endpoint, &options(args.ca_file.as_deref())?)
        .with_context(|| format!("cannot open an SMTP session with {}", args.smtp))?;
    smtp.login(&args.user, &password)
        .context("SMTP login failed")?;
    let mut failures = 0;
    for (path, env, bytes) in &messages {
        match smtp.send_bytes(env, bytes) {
            Ok(report) => {
                println!(
                    "sent {}: accepted by the server for {} ({})",
                    path.display(),
                    report.accepted.join(", "),
                    report.reply
                );
                for (rcpt, reply) in &report.rejected {
                    failures += 1;
                    eprintln!(
                        "secmail: {}: recipient {rcpt} rejected: {reply}",
                        path.display()
                    );
                }
            }
            Err(
                e @ (secmail_transport::Error::AllRecipientsRejected(_)
                | secmail_transport::Error::Rejected { .. }
                | secmail_transport::Error::MessageTooLarge { .. }
                | secmail_transport::Error::RequireTlsNotOffered),
            ) => {
                failures += 1;
                eprintln!("secmail: {}: not sent: {e}", path.display());
            }
            Err(e) => {
                return Err(e).with_context(|| format!("{}: not sent", path.display()));
            }
        }
    }
    smtp.quit().context("SMTP QUIT failed")?;
    ensure!(
        failures == 0,
        "{failures} message(s) or recipient(s) were not accepted"
    );
    Ok(())
}

/// Writes one message as `DIR/<name>.eml`, through a temporary file renamed into place.
fn store(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    use std::io::Write as _;
    let path = dir.join(format!("{name}.eml"));
    let mut out = crate::io::Output::open(Some(&path))?;
    out.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out.commit()?;
    Ok(path)
}

/// `secmail fetch`.
pub fn fetch(args: FetchArgs) -> Result<()> {
    let password = read_password(&args.password_file)?;
    let opts = options(args.ca_file.as_deref())?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let mut count = 0;
    if let Some(url) = &args.imap {
        let endpoint = endpoint(url, Protocol::Imap)?;
        let mut imap = ImapClient::connect(&endpoint, &opts)
            .with_context(|| format!("cannot open an IMAP session with {url}"))?;
        imap.login(&args.user, &password)
            .context("IMAP login failed")?;
        imap.select(&args.mailbox)
            .with_context(|| format!("cannot select {}", args.mailbox))?;
        for uid in imap.uid_search_all()? {
            let Some(m) = imap.uid_fetch(uid)? else {
                continue;
            };
            let path = store(&args.out_dir, &uid.to_string(), &m.body)?;
            println!(
                "fetched UID {uid} ({} bytes) -> {}",
                m.body.len(),
                path.display()
            );
            if args.delete {
                imap.uid_add_flags(uid, &["\\Deleted"])?;
            }
            count += 1;
        }
        if args.delete {
            imap.expunge()?;
        }
        imap.logout()?;
    } else if let Some(url) = &args.pop3 {
        let endpoint = endpoint(url, Protocol::Pop3)?;
        let mut pop3 = Pop3Client::connect(&endpoint, &opts)
            .with_context(|| format!("cannot open a POP3 session with {url}"))?;
        pop3.login(&args.user, &password)
            .context("POP3 login failed")?;
        for (n, uid) in pop3.uidl()? {
            let bytes = pop3.retr(n)?;
            let path = store(&args.out_dir, &uid, &bytes)?;
            println!(
                "fetched {uid} ({} bytes) -> {}",
                bytes.len(),
                path.display()
            );
            if args.delete {
                pop3.dele(n)?;
            }
            count += 1;
        }
        // Deletions take effect only with a successful QUIT.
        pop3.quit()?;
    }
    println!("{count} message(s) fetched into {}", args.out_dir.display());
    Ok(())
}
