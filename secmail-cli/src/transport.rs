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
    /// smtps://HOST:PORT (implicit TLS, port optional, default 465) or smtp://HOST:PORT (STARTTLS
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
    /// imaps://HOST:PORT (implicit TLS, port optional, default 993) or imap://HOST:PORT
    /// (STARTTLS required, default 143).
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "pop3",
        conflicts_with = "pop3"
    )]
    imap: Option<String>,
    /// pop3s://HOST:PORT (implicit TLS, port optional, default 995) or pop3://HOST:PORT
    /// (STLS required, default 110).
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
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "store",
        conflicts_with = "store"
    )]
    out_dir: Option<PathBuf>,
    /// Instead of `.eml` files: seal each message into this encrypted store (`secmail store
    /// init`) on arrival; nothing readable touches the disk. Needs only the store's public
    /// half (or its passphrase, with --store-passphrase-file).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// The passphrase file of a passphrase-sealed --store.
    #[arg(long, value_name = "F", requires = "store")]
    store_passphrase_file: Option<PathBuf>,
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

/// Where fetched messages go: `.eml` files, or sealed into an encrypted store.
enum Destination {
    Dir(PathBuf),
    Store(
        secmail_core::store::Store,
        Box<dyn secmail_core::store::Sealer>,
    ),
}

impl Destination {
    fn open(args: &FetchArgs) -> Result<Destination> {
        if let Some(dir) = &args.store {
            let store = secmail_core::store::Store::open(dir)
                .with_context(|| format!("cannot open the store {}", dir.display()))?;
            let sealer = crate::store::writer(&store, args.store_passphrase_file.as_deref())?;
            return Ok(Destination::Store(store, sealer));
        }
        let Some(dir) = &args.out_dir else {
            anyhow::bail!("give --out-dir or --store");
        };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Destination::Dir(dir.clone()))
    }

    /// Delivers one message; says where it went.
    fn deliver(&self, name: &str, bytes: &[u8]) -> Result<String> {
        match self {
            Destination::Dir(dir) => Ok(store(dir, name, bytes)?.display().to_string()),
            Destination::Store(s, sealer) => {
                let id = s.add(sealer.as_ref(), &mut &bytes[..])?;
                Ok(format!("sealed into {} as {id}", s.dir().display()))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Destination::Dir(d) => d.display().to_string(),
            Destination::Store(s, _) => format!("the sealed store {}", s.dir().display()),
        }
    }
}

/// `secmail fetch`.
pub fn fetch(args: FetchArgs) -> Result<()> {
    let password = read_password(&args.password_file)?;
    let opts = options(args.ca_file.as_deref())?;
    let dest = Destination::open(&args)?;
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
            let path = dest.deliver(&uid.to_string(), &m.body)?;
            println!("fetched UID {uid} ({} bytes) -> {path}", m.body.len());
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
            let bytes = match pop3.retr(n) {
                Ok(b) => b,
                // Removed by another client since UIDL: nothing to fetch.
                Err(e @ secmail_transport::Error::Rejected { .. }) => {
                    eprintln!("secmail: skipping {uid}: {e}");
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("cannot fetch {uid}")),
            };
            let path = dest.deliver(&uid, &bytes)?;
            println!("fetched {uid} ({} bytes) -> {path}", bytes.len());
            if args.delete {
                pop3.dele(n)?;
            }
            count += 1;
        }
        // Deletions take effect only with a successful QUIT.
        pop3.quit()?;
    }
    println!("{count} message(s) fetched into {}", dest.describe());
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The demo stage.
fn stage(n: usize, title: &str) {
    println!();
    println!("== {n}. {title}");
}
fn step(text: &str) {
    println!("   - {text}");
}
/// The settings of a running `scripts/mailstack.sh` stack, if there is one.
fn running_stack() -> Option<std::collections::HashMap<String, String>> {
    let dir =
        std::env::var("SECMAIL_MAILSTACK_DIR").unwrap_or_else(|_| "/tmp/secmail-mailstack".into());
    let script = Path::new("scripts/mailstack.sh");
    if script.exists() {
        let ok = std::process::Command::new(script)
            .args(["status", &dir])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            return None;
        }
    }
    let text = std::fs::read_to_string(Path::new(&dir).join("mailstack.env")).ok()?;
    let env: std::collections::HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // Without the script to ask, a port that answers is the sign of life.
    let port: u16 = env.get("MAILSTACK_SMTPS_PORT")?.parse().ok()?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(500)).ok()?;
    Some(env)
}

/// Demo stage: the connection to the provider is encrypted, and the client refuses anything
/// less. Against the real Postfix + Dovecot when `scripts/mailstack.sh` runs, else against a
/// scripted TLS peer on loopback.
pub fn demo_stage(n: usize, dir: &Path) -> Result<()> {
    demo_with(n, dir, running_stack())
}
fn demo_with(
    n: usize,
    dir: &Path,
    stack: Option<std::collections::HashMap<String, String>>,
) -> Result<()> {
    use secmail_transport::proto::smtp::canonical_crlf;
    use secmail_transport::{Error, Security};

    stage(
        n,
        "Transport: SMTP, IMAP and POP3 over TLS that fails closed",
    );
    let token = format!("demo-{}", std::process::id());
    let message = secmail_core::mime::MessageBuilder::new()
        .from("Alice <alice@example.test>")
        .to("Bob <bob@example.test>")
        .subject(format!("Lunch? ({token})"))
        .text_body(".dots at line starts survive\n.\ncaf\u{e9} at noon?\n")
        .build()?;
    std::fs::write(dir.join("transport.eml"), &message)?;

    match stack {
        Some(env) => {
            let get = |k: &str| env.get(k).cloned().unwrap_or_default();
            let port = |k: &str| get(k).parse::<u16>().unwrap_or(0);
            step(&format!(
                "against the REAL stack: Postfix and Dovecot from scripts/mailstack.sh ({})",
                get("MAILSTACK_DIR")
            ));
            let opts = Options::new(TlsConfig::with_ca_file(Path::new(&get(
                "MAILSTACK_CA_FILE",
            )))?);
            let alice = (
                get("MAILSTACK_ALICE_USER"),
                SecretString::from(get("MAILSTACK_ALICE_PASSWORD")),
            );
            let bob = (
                get("MAILSTACK_BOB_USER"),
                SecretString::from(get("MAILSTACK_BOB_PASSWORD")),
            );
            let smtp_ep = Endpoint::new(
                "localhost",
                port("MAILSTACK_SMTP_STARTTLS_PORT"),
                Security::StartTls,
            );
            let mut smtp = SmtpClient::connect(&smtp_ep, &opts)?;
            smtp.login(&alice.0, &alice.1)?;
            let report = smtp.send_bytes(&Envelope::new(&alice.0, [&bob.0]), &message)?;
            smtp.quit()?;
            step(&format!(
                "alice sent to bob over SMTP submission, STARTTLS on port {} (EHLO re-issued over \
                 TLS, AUTH only after it): {}",
                smtp_ep.port, report.reply
            ));
            let imap_ep = Endpoint::new(
                "localhost",
                port("MAILSTACK_IMAPS_PORT"),
                Security::Implicit,
            );
            let start = std::time::Instant::now();
            let fetched = loop {
                let mut imap = ImapClient::connect(&imap_ep, &opts)?;
                imap.login(&bob.0, &bob.1)?;
                imap.select("INBOX")?;
                let mut found = None;
                for uid in imap.uid_search_all()? {
                    if let Some(m) = imap.uid_fetch(uid)?
                        && m.body.windows(token.len()).any(|w| w == token.as_bytes())
                    {
                        imap.uid_add_flags(uid, &["\\Deleted"])?;
                        found = Some(m);
                    }
                }
                imap.expunge()?;
                imap.logout()?;
                if let Some(m) = found {
                    break m;
                }
                ensure!(
                    start.elapsed().as_secs() < 20,
                    "the message never reached bob's INBOX"
                );
                std::thread::sleep(std::time::Duration::from_millis(200));
            };
            ensure!(
                fetched.body.ends_with(&canonical_crlf(&message)),
                "the fetched message differs from the sent one"
            );
            step(&format!(
                "bob fetched it over IMAP, implicit TLS on port {}: UID {}, {} bytes, byte-exact \
                 after the server's trace headers",
                imap_ep.port,
                fetched.uid,
                fetched.body.len()
            ));
            let plain = Endpoint::new(
                "localhost",
                port("MAILSTACK_SMTP_PLAIN_PORT"),
                Security::StartTls,
            );
            match SmtpClient::connect(&plain, &opts) {
                Err(e @ Error::TlsNotOffered { .. }) => step(&format!(
                    "a server that does not offer STARTTLS (port {}) is refused before any \
                     credential leaves: {e}",
                    plain.port
                )),
                other => bail!("a server without STARTTLS was not refused: {other:?}"),
            }
            let untrusted = Options::new(TlsConfig::webpki_roots()?);
            match SmtpClient::connect(
                &Endpoint::new(
                    "localhost",
                    port("MAILSTACK_SMTPS_PORT"),
                    Security::Implicit,
                ),
                &untrusted,
            ) {
                Err(e @ Error::Tls(_)) => {
                    step(&format!("a certificate from an unknown CA is refused: {e}"))
                }
                other => bail!("an unknown CA was not refused: {other:?}"),
            }
        }
        None => {
            step(
                "the real stack is not running (start it with `scripts/mailstack.sh up \
                 /tmp/secmail-mailstack`): using a SCRIPTED TLS peer on loopback instead",
            );
            let peer = demo_peer::DemoPeer::start()?;
            let opts = Options::new(TlsConfig::with_ca_pem(peer.ca_pem.as_bytes())?);
            let pw = |p: &str| SecretString::from(p.to_string());
            let smtp_ep = Endpoint::new("localhost", peer.smtps_port, Security::Implicit);
            let mut smtp = SmtpClient::connect(&smtp_ep, &opts)?;
            smtp.login("alice@example.test", &pw(demo_peer::ALICE_PASS))?;
            let report = smtp.send_bytes(
                &Envelope::new("alice@example.test", ["bob@example.test"]),
                &message,
            )?;
            smtp.quit()?;
            step(&format!(
                "alice sent to bob over SMTP submission, implicit TLS on port {}: {}",
                smtp_ep.port, report.reply
            ));
            let pop_ep = Endpoint::new("localhost", peer.pop3s_port, Security::Implicit);
            let mut pop = Pop3Client::connect(&pop_ep, &opts)?;
            pop.login("bob@example.test", &pw(demo_peer::BOB_PASS))?;
            let list = pop.uidl()?;
            let (n, uid) = list.first().context("bob's mailbox is empty")?.clone();
            let fetched = pop.retr(n)?;
            pop.dele(n)?;
            pop.quit()?;
            ensure!(
                fetched == canonical_crlf(&message),
                "the fetched message differs from the sent one"
            );
            step(&format!(
                "bob fetched it over POP3, implicit TLS on port {}: {uid}, {} bytes, byte-exact \
                 (dots unstuffed)",
                pop_ep.port,
                fetched.len()
            ));
            let plain = Endpoint::new("localhost", peer.plain_port, Security::StartTls);
            match SmtpClient::connect(&plain, &opts) {
                Err(e @ Error::TlsNotOffered { .. }) => step(&format!(
                    "a server that does not offer STARTTLS is refused before any credential \
                     leaves: {e}"
                )),
                other => bail!("a server without STARTTLS was not refused: {other:?}"),
            }
            let untrusted = Options::new(TlsConfig::webpki_roots()?);
            match SmtpClient::connect(&smtp_ep, &untrusted) {
                Err(e @ Error::Tls(_)) => {
                    step(&format!("a certificate from an unknown CA is refused: {e}"))
                }
                other => bail!("an unknown CA was not refused: {other:?}"),
            }
        }
    }
    Ok(())
}

/// A scripted SMTP + POP3 peer on loopback for the demo when no real server runs: a
/// throw-away CA (rcgen), one mailbox in memory. It speaks just enough of each protocol for
/// the demo's client; it is not a mail server.
mod demo_peer {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    use anyhow::{Context, Result};
    use base64::Engine as _;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::{ServerConfig, ServerConnection, StreamOwned};

    pub const ALICE_PASS: &str = "alice-demo-pass";
    pub const BOB_PASS: &str = "bob-demo-pass";

    type Mailbox = Arc<Mutex<Vec<Vec<u8>>>>;

    pub struct DemoPeer {
        pub ca_pem: String,
        pub smtps_port: u16,
        pub pop3s_port: u16,
        pub plain_port: u16,
    }

    impl DemoPeer {
        pub fn start() -> Result<DemoPeer> {
            use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
            let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
            let leaf_key = KeyPair::generate()?;
            let leaf =
                CertificateParams::new(vec!["localhost".to_string()])?.signed_by(&leaf_key, &ca)?;
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = Arc::new(
                ServerConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()?
                    .with_no_client_auth()
                    .with_single_cert(
                        vec![leaf.der().clone()],
                        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
                    )?,
            );
            let mailbox: Mailbox = Arc::default();
            let smtps = TcpListener::bind("127.0.0.1:0")?;
            let pop3s = TcpListener::bind("127.0.0.1:0")?;
            let plain = TcpListener::bind("127.0.0.1:0")?;
            let peer = DemoPeer {
                ca_pem: ca.pem(),
                smtps_port: smtps.local_addr()?.port(),
                pop3s_port: pop3s.local_addr()?.port(),
                plain_port: plain.local_addr()?.port(),
            };
            let (c1, c2, m1, m2) = (config.clone(), config, mailbox.clone(), mailbox);
            std::thread::spawn(move || {
                serve(smtps, move |s| tls(s, &c1).and_then(|s| smtp(s, &m1, true)))
            });
            std::thread::spawn(move || {
                serve(pop3s, move |s| tls(s, &c2).and_then(|s| pop3(s, &m2)))
            });
            std::thread::spawn(move || serve(plain, |s| smtp(s, &Mailbox::default(), false)));
            Ok(peer)
        }
    }

    fn serve(listener: TcpListener, handle: impl Fn(TcpStream) -> Result<()>) {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let _ = handle(stream);
        }
    }

    fn tls(
        tcp: TcpStream,
        config: &Arc<ServerConfig>,
    ) -> Result<StreamOwned<ServerConnection, TcpStream>> {
        let mut s = StreamOwned::new(ServerConnection::new(config.clone())?, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(s)
    }

    fn read_line(r: &mut impl BufRead) -> Result<String> {
        let mut line = String::new();
        let n = r.take(4096).read_line(&mut line)?;
        anyhow::ensure!(n > 0, "client went away");
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    fn plain_ok(arg: &str, user: &str, pass: &str) -> bool {
        let want = format!("\0{user}\0{pass}");
        base64::engine::general_purpose::STANDARD
            .decode(arg)
            .is_ok_and(|d| d == want.as_bytes())
    }

    fn smtp(s: impl Read + Write, mailbox: &Mailbox, tls: bool) -> Result<()> {
        let mut r = BufReader::new(s);
        r.get_mut().write_all(b"220 demo-peer ESMTP\r\n")?;
        loop {
            let line = read_line(&mut r)?;
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                if tls {
                    b"250-demo-peer\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n"
                } else {
                    b"250-demo-peer (no STARTTLS here)\r\n250 AUTH PLAIN LOGIN\r\n"
                }
            } else if let Some(arg) = line.strip_prefix("AUTH PLAIN ") {
                if tls && plain_ok(arg, "alice@example.test", super::demo_peer::ALICE_PASS) {
                    b"235 2.7.0 ok\r\n"
                } else {
                    b"535 5.7.8 no\r\n"
                }
            } else if upper.starts_with("MAIL FROM:") || upper.starts_with("RCPT TO:") {
                b"250 2.1.0 ok\r\n"
            } else if upper == "DATA" {
                r.get_mut().write_all(b"354 go ahead\r\n")?;
                let mut msg = Vec::new();
                loop {
                    let mut l = Vec::new();
                    anyhow::ensure!(r.read_until(b'\n', &mut l)? > 0, "client went away");
                    if l == b".\r\n" {
                        break;
                    }
                    let l = l.strip_prefix(b".").unwrap_or(&l);
                    msg.extend_from_slice(l);
                }
                mailbox
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .push(msg);
                b"250 2.0.0 queued in the demo peer's memory\r\n"
            } else if upper == "QUIT" {
                r.get_mut().write_all(b"221 bye\r\n")?;
                return Ok(());
            } else {
                b"502 5.5.2 not in this script\r\n"
            };
            r.get_mut().write_all(reply)?;
        }
    }

    fn pop3(s: impl Read + Write, mailbox: &Mailbox) -> Result<()> {
        let mut r = BufReader::new(s);
        r.get_mut().write_all(b"+OK demo-peer POP3\r\n")?;
        let mut authed = false;
        loop {
            let line = read_line(&mut r)?;
            let mut words = line.split(' ');
            let verb = words.next().unwrap_or("").to_ascii_uppercase();
            let arg = words.next().unwrap_or("");
            let boxed = mailbox
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .clone();
            let reply: Vec<u8> = match verb.as_str() {
                "CAPA" => b"+OK\r\nSASL PLAIN\r\nUIDL\r\n.\r\n".to_vec(),
                "AUTH" if plain_ok(words.next().unwrap_or(""), "bob@example.test", BOB_PASS) => {
                    authed = true;
                    b"+OK logged in\r\n".to_vec()
                }
                "AUTH" => b"-ERR [AUTH] no\r\n".to_vec(),
                "UIDL" if authed => {
                    let mut out = b"+OK\r\n".to_vec();
                    for i in 0..boxed.len() {
                        out.extend_from_slice(format!("{} demo-{}\r\n", i + 1, i + 1).as_bytes());
                    }
                    out.extend_from_slice(b".\r\n");
                    out
                }
                "RETR" if authed => match arg
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| boxed.get(n.wrapping_sub(1)))
                {
                    Some(m) => {
                        let mut out = b"+OK\r\n".to_vec();
                        for l in m.split_inclusive(|&b| b == b'\n') {
                            if l.starts_with(b".") {
                                out.push(b'.');
                            }
                            out.extend_from_slice(l);
                        }
                        out.extend_from_slice(b".\r\n");
                        out
                    }
                    None => b"-ERR no such message\r\n".to_vec(),
                },
                "DELE" if authed => b"+OK\r\n".to_vec(),
                "QUIT" => {
                    r.get_mut().write_all(b"+OK bye\r\n")?;
                    return Ok(());
                }
                _ => b"-ERR not in this script\r\n".to_vec(),
            };
            r.get_mut().write_all(&reply).context("write")?;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_stage_against_the_scripted_peer() {
        let dir = tempfile::tempdir().unwrap();
        super::demo_with(9, dir.path(), None).unwrap();
    }

    #[test]
    fn demo_stage_against_whatever_runs() {
        // The real stack when scripts/mailstack.sh runs (as in scripts/test.sh), else the peer.
        let dir = tempfile::tempdir().unwrap();
        super::demo_stage(9, dir.path()).unwrap();
    }
}
