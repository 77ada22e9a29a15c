//! `secmail smime …`: S/MIME certificates (an in-house CA), signing, encryption, and reading
//! signed or encrypted messages back with a verdict.
//!
//! Output goes through [`Output`]: a failed command leaves no output file. With `--ca`, a
//! message must carry a signature that is good, chains to one of the given anchors with every
//! check (validity, usage, email protection) and is by a certificate for its `From` address,
//! or the command fails (exit 1) and writes nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use clap::{Args, Subcommand, ValueEnum};
use secmail_smime::{
    CertUsage, Certificate, CertificateAuthority, ContentCipher, EncryptOptions, PrivateKey,
    ReadOptions, Usage, allows, certificate_to_pem, encrypt_message, load_certificates,
    load_pkcs12, read_message, read_message_stream, sign_encrypt_message,
    sign_encrypt_message_stream, sign_message,
};

use crate::io::{Output, read_input};

/// The largest message read.
const MAX_MESSAGE: u64 = 256 * 1024 * 1024;
/// The largest certificate or key file read.
const MAX_PEM: u64 = 1024 * 1024;

#[derive(Subcommand)]
pub enum Command {
    /// An in-house certificate authority.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Sign a message (detached multipart/signed, or opaque with --opaque).
    SignMail(SignArgs),
    /// Encrypt a message to one or more certificates.
    EncryptMail(EncryptArgs),
    /// Sign a message, then encrypt it; the signer is a recipient too.
    SignEncryptMail(SignEncryptArgs),
    /// Decrypt a message (and verify the signature inside, strictly with --ca).
    DecryptMail(DecryptArgs),
    /// Verify a signed message against trust anchors; fails unless it verifies.
    VerifyMail(VerifyArgs),
}

#[derive(Subcommand)]
pub enum CaCommand {
    /// Create a self-signed root CA (RSA 2048).
    New(CaNewArgs),
    /// Issue an end-entity certificate for an email address.
    Issue(CaIssueArgs),
}

#[derive(Args)]
pub struct CaNewArgs {
    /// The CA's distinguished name (RFC 4514), e.g. "CN=Example Mail CA,O=Example".
    #[arg(long)]
    subject: String,
    /// Where to write the CA certificate (PEM).
    #[arg(long, value_name = "FILE")]
    out_cert: PathBuf,
    /// Where to write the CA private key (PKCS#8 PEM, unencrypted, mode 0600).
    #[arg(long, value_name = "FILE")]
    out_key: PathBuf,
    /// Validity in days.
    #[arg(long, default_value_t = 3650)]
    days: u32,
}

#[derive(Clone, Copy, ValueEnum)]
enum UsageArg {
    Sign,
    Encrypt,
    Both,
}

#[derive(Args)]
pub struct CaIssueArgs {
    /// The CA certificate (PEM or DER).
    #[arg(long, value_name = "FILE")]
    ca_cert: PathBuf,
    /// The CA private key.
    #[arg(long, value_name = "FILE")]
    ca_key: PathBuf,
    /// A file whose first line is the password of an encrypted PKCS#8 key.
    #[arg(long, value_name = "FILE")]
    key_password_file: Option<PathBuf>,
    /// The email address the certificate is for.
    #[arg(long)]
    email: String,
    /// What the certificate may be used for.
    #[arg(long, value_enum, default_value_t = UsageArg::Both)]
    usage: UsageArg,
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Where to write the certificate (PEM).
    #[arg(long, value_name = "FILE")]
    out_cert: PathBuf,
    /// Where to write the private key (PKCS#8 PEM, unencrypted, mode 0600).
    #[arg(long, value_name = "FILE")]
    out_key: PathBuf,
}

#[derive(Args)]
struct InOut {
    /// Input message (default: stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output message (default: stdout); written only if the command succeeds.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct SignArgs {
    /// The signer's certificate (PEM; intermediates may follow it in the same file).
    #[arg(long, value_name = "FILE", required_unless_present = "p12")]
    cert: Option<PathBuf>,
    /// The signer's private key (PKCS#8, PKCS#1 or SEC1; PEM or DER).
    #[arg(long, value_name = "FILE", required_unless_present = "p12")]
    key: Option<PathBuf>,
    /// A PKCS#12 bundle (.p12, .pfx) with the key and its certificates, instead of --cert
    /// and --key; its password comes from --key-password-file (empty without it).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cert", "key"])]
    p12: Option<PathBuf>,
    /// A file whose first line is the password of an encrypted PKCS#8 key or of --p12.
    #[arg(long, value_name = "FILE")]
    key_password_file: Option<PathBuf>,
    /// Opaque signature (application/pkcs7-mime) instead of multipart/signed.
    #[arg(long)]
    opaque: bool,
    #[command(flatten)]
    io: InOut,
}

#[derive(Clone, Copy, ValueEnum)]
enum CipherArg {
    #[value(name = "aes-256-gcm")]
    Aes256Gcm,
    #[value(name = "aes-256-cbc")]
    Aes256Cbc,
}

impl CipherArg {
    fn options(self) -> EncryptOptions {
        EncryptOptions::default().cipher(match self {
            CipherArg::Aes256Gcm => ContentCipher::Aes256Gcm,
            CipherArg::Aes256Cbc => ContentCipher::Aes256Cbc,
        })
    }
}

#[derive(Args)]
pub struct EncryptArgs {
    /// A recipient's certificate (repeat for more recipients).
    #[arg(long = "to", value_name = "CERT", required = true)]
    to: Vec<PathBuf>,
    /// The content cipher: AES-256-GCM (authenticated, S/MIME 4.0) or AES-256-CBC (what
    /// older clients read).
    #[arg(long, value_enum, default_value_t = CipherArg::Aes256Gcm)]
    cipher: CipherArg,
    #[command(flatten)]
    io: InOut,
}

#[derive(Args)]
pub struct SignEncryptArgs {
    /// The signer's certificate (PEM; intermediates may follow it).
    #[arg(long, value_name = "FILE", required_unless_present = "p12")]
    cert: Option<PathBuf>,
    /// The signer's private key.
    #[arg(long, value_name = "FILE", required_unless_present = "p12")]
    key: Option<PathBuf>,
    /// A PKCS#12 bundle (.p12, .pfx) with the key and its certificates, instead of --cert
    /// and --key; its password comes from --key-password-file (empty without it).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cert", "key"])]
    p12: Option<PathBuf>,
    /// A file whose first line is the password of an encrypted PKCS#8 key or of --p12.
    #[arg(long, value_name = "FILE")]
    key_password_file: Option<PathBuf>,
    /// A recipient's certificate (repeat for more recipients).
    #[arg(long = "to", value_name = "CERT", required = true)]
    to: Vec<PathBuf>,
    /// The content cipher.
    #[arg(long, value_enum, default_value_t = CipherArg::Aes256Gcm)]
    cipher: CipherArg,
    #[command(flatten)]
    io: InOut,
}

#[derive(Args)]
pub struct DecryptArgs {
    /// The recipient's certificate.
    #[arg(long, value_name = "FILE", required_unless_present = "p12")]
    cert: Option<PathBuf>,
    /// The recipient's private key.
    #[arg(long, value_name = "FILE", required_unless_present = "p12")]
    key: Option<PathBuf>,
    /// A PKCS#12 bundle (.p12, .pfx) with the key and its certificates, instead of --cert
    /// and --key; its password comes from --key-password-file (empty without it).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cert", "key"])]
    p12: Option<PathBuf>,
    /// A file whose first line is the password of an encrypted PKCS#8 key or of --p12.
    #[arg(long, value_name = "FILE")]
    key_password_file: Option<PathBuf>,
    /// A trust anchor (repeatable). With it, the message must be validly signed by its sender.
    #[arg(long = "ca", value_name = "CA")]
    ca: Vec<PathBuf>,
    /// Write the verdict (what was encrypted and signed, by whom) as JSON.
    #[arg(long, value_name = "FILE")]
    verdict: Option<PathBuf>,
    #[command(flatten)]
    io: InOut,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// A trust anchor (repeatable, at least one).
    #[arg(long = "ca", value_name = "CA", required = true)]
    ca: Vec<PathBuf>,
    /// Write the verdict as JSON.
    #[arg(long, value_name = "FILE")]
    verdict: Option<PathBuf>,
    #[command(flatten)]
    io: InOut,
}

fn read_certs(path: &Path) -> Result<Vec<Certificate>> {
    let data = read_input(Some(path), MAX_PEM)?;
    load_certificates(&data)
        .with_context(|| format!("cannot read certificates from {}", path.display()))
}

fn read_cert(path: &Path) -> Result<Certificate> {
    read_certs(path)?
        .into_iter()
        .next()
        .with_context(|| format!("no certificate in {}", path.display()))
}

/// The certificates (leaf first) and key from --cert and --key, or from --p12.
fn identity(
    cert: Option<&Path>,
    key: Option<&Path>,
    p12: Option<&Path>,
    password_file: Option<&Path>,
) -> Result<(Vec<Certificate>, PrivateKey)> {
    if let Some(p) = p12 {
        let data = zeroize::Zeroizing::new(read_input(Some(p), MAX_PEM)?);
        let password = match password_file {
            Some(pf) => read_password(pf)?,
            None => zeroize::Zeroizing::new(String::new()),
        };
        let b = load_pkcs12(&data, &password)
            .with_context(|| format!("cannot read the PKCS#12 bundle {}", p.display()))?;
        let mut certs = vec![b.certificate];
        certs.extend(b.chain);
        return Ok((certs, b.key));
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        bail!("give --cert and --key, or --p12");
    };
    Ok((read_certs(cert)?, read_key(key, password_file)?))
}

/// The first line of a password file, without its line break.
fn read_password(path: &Path) -> Result<zeroize::Zeroizing<String>> {
    let raw = zeroize::Zeroizing::new(read_input(Some(path), MAX_PEM)?);
    let line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(zeroize::Zeroizing::new(
        std::str::from_utf8(line)
            .context("the password file is not UTF-8")?
            .to_owned(),
    ))
}

/// Reads a private key; with `password_file`, an encrypted PKCS#8 key is decrypted with the
/// first line of that file (its line break not included).
fn read_key(path: &Path, password_file: Option<&Path>) -> Result<PrivateKey> {
    let data = zeroize::Zeroizing::new(read_input(Some(path), MAX_PEM)?);
    let key = match password_file {
        None => PrivateKey::load(&data),
        Some(pf) => PrivateKey::load_with_password(&data, read_password(pf)?.as_bytes()),
    };
    key.with_context(|| format!("cannot read the private key in {}", path.display()))
}

fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    // Output writes a fresh temporary file (mode 0600) and renames it into place.
    let mut out = Output::open(Some(path))?;
    out.write_all(data)?;
    out.commit()
}

fn write_output(path: Option<&Path>, data: &[u8]) -> Result<()> {
    let mut out = Output::open(path)?;
    out.write_all(data).context("cannot write the output")?;
    out.commit()
}

fn read_with(
    io: &InOut,
    args_ca: &[PathBuf],
    me: Option<(&Certificate, &PrivateKey)>,
    verdict: Option<&Path>,
) -> Result<()> {
    let mut anchors = Vec::new();
    for p in args_ca {
        anchors.extend(read_certs(p)?);
    }
    let mut opts = ReadOptions::default();
    opts.anchors = &anchors;
    opts.require_valid_signature = !anchors.is_empty();
    opts.decrypt_with = me;
    if me.is_none() {
        let msg = read_input(io.input.as_deref(), MAX_MESSAGE)?;
        let read = read_message(&msg, &opts)?;
        if let Some(v) = verdict {
            let json = serde_json::to_vec_pretty(&read.verdict)?;
            write_file(v, &json)?;
        }
        return write_output(io.output.as_deref(), &read.message);
    }
    // Decryption streams: the output (a temporary file until commit) is written only after
    // the content authenticated and, with --ca, the signature inside checked out.
    let mut out = Output::open(io.output.as_deref())?;
    let v = read_message_stream(open_input(io.input.as_deref())?, &mut out, &opts)?;
    if let Some(path) = verdict {
        let json = serde_json::to_vec_pretty(&v)?;
        write_file(path, &json)?;
    }
    out.commit()
}

/// `--in` (or stdin) for a streaming command: no size limit, as memory stays bounded.
fn open_input(path: Option<&Path>) -> Result<Box<dyn std::io::Read>> {
    Ok(match path {
        Some(p) => Box::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        ),
        None => Box::new(std::io::stdin().lock()),
    })
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Ca(CaCommand::New(a)) => {
            let ca = CertificateAuthority::new_root(&a.subject, a.days)?;
            write_file(&a.out_key, ca.key().to_pkcs8_pem()?.as_bytes())?;
            write_file(
                &a.out_cert,
                certificate_to_pem(ca.certificate())?.as_bytes(),
            )
        }
        Command::Ca(CaCommand::Issue(a)) => {
            let ca = CertificateAuthority::from_parts(
                read_cert(&a.ca_cert)?,
                read_key(&a.ca_key, a.key_password_file.as_deref())?,
            )?;
            let usage = match a.usage {
                UsageArg::Sign => CertUsage::Sign,
                UsageArg::Encrypt => CertUsage::Encrypt,
                UsageArg::Both => CertUsage::Both,
            };
            let (cert, key) = ca.issue(&a.email, usage, a.days)?;
            write_file(&a.out_key, key.to_pkcs8_pem()?.as_bytes())?;
            write_file(&a.out_cert, certificate_to_pem(&cert)?.as_bytes())
        }
        Command::SignMail(a) => {
            let (certs, key) = identity(
                a.cert.as_deref(),
                a.key.as_deref(),
                a.p12.as_deref(),
                a.key_password_file.as_deref(),
            )?;
            let (leaf, chain) = certs.split_first().context("no certificate")?;
            let msg = read_input(a.io.input.as_deref(), MAX_MESSAGE)?;
            let out = sign_message(&msg, leaf, &key, chain, a.opaque)?;
            write_output(a.io.output.as_deref(), &out)
        }
        Command::EncryptMail(a) => {
            let mut to = Vec::new();
            for p in &a.to {
                to.push(read_cert(p)?);
            }
            let msg = read_input(a.io.input.as_deref(), MAX_MESSAGE)?;
            let out = encrypt_message(&msg, &to, &a.cipher.options())?;
            write_output(a.io.output.as_deref(), &out)
        }
        Command::SignEncryptMail(a) => {
            let (certs, key) = identity(
                a.cert.as_deref(),
                a.key.as_deref(),
                a.p12.as_deref(),
                a.key_password_file.as_deref(),
            )?;
            let (leaf, chain) = certs.split_first().context("no certificate")?;
            let mut to = Vec::new();
            for p in &a.to {
                to.push(read_cert(p)?);
            }
            // The sender is a recipient too (a readable copy in Sent), when its certificate
            // allows encryption; a signing-only certificate is left out.
            if allows(leaf, Usage::Encrypt)? && !to.contains(leaf) {
                to.push(leaf.clone());
            }
            let out = Output::open(a.io.output.as_deref())?;
            let out = sign_encrypt_message_stream(
                open_input(a.io.input.as_deref())?,
                out,
                leaf,
                &key,
                chain,
                &to,
                &a.cipher.options(),
            )?;
            out.commit()
        }
        Command::DecryptMail(a) => {
            let (certs, key) = identity(
                a.cert.as_deref(),
                a.key.as_deref(),
                a.p12.as_deref(),
                a.key_password_file.as_deref(),
            )?;
            let cert = certs.into_iter().next().context("no certificate")?;
            read_with(&a.io, &a.ca, Some((&cert, &key)), a.verdict.as_deref())
        }
        Command::VerifyMail(a) => {
            ensure!(!a.ca.is_empty(), "verify-mail needs at least one --ca");
            read_with(&a.io, &a.ca, None, a.verdict.as_deref())
        }
    }
}

fn step(text: &str) {
    println!("   - {text}");
}

/// The S/MIME stage of `secmail demo`.
pub fn demo_stage(n: usize, dir: &Path) -> Result<()> {
    println!();
    println!("== {n}. S/MIME: an in-house CA, sign-then-encrypt, decrypt-then-verify");
    let ca = CertificateAuthority::new_root("CN=Demo Mail CA,O=secmail demo", 30)?;
    let ca_path = dir.join("smime-ca.pem");
    std::fs::write(&ca_path, certificate_to_pem(ca.certificate())?)?;
    step(&format!(
        "created a root CA (RSA 2048): {}",
        ca_path.display()
    ));
    let (alice, alice_key) = ca.issue("alice@example.org", CertUsage::Both, 30)?;
    let (bob, bob_key) = ca.issue("bob@example.net", CertUsage::Both, 30)?;
    step(
        "issued certificates for alice@example.org and bob@example.net (sign + encrypt, emailProtection)",
    );
    let msg = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: Merger plans\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nBob, the numbers are final. Alice\r\n";
    let sealed = sign_encrypt_message(
        msg,
        &alice,
        &alice_key,
        &[],
        &[bob.clone(), alice.clone()],
        &EncryptOptions::default(),
    )?;
    let path = dir.join("smime-sealed.eml");
    std::fs::write(&path, &sealed)?;
    step(&format!(
        "alice signed (SHA-256, RSA) then encrypted (AES-256-GCM) to bob and herself: {} bytes, {}",
        sealed.len(),
        path.display()
    ));
    let anchors = [ca.certificate().clone()];
    let mut opts = ReadOptions::default();
    opts.anchors = &anchors;
    opts.require_valid_signature = true;
    opts.decrypt_with = Some((&bob, &bob_key));
    let read = read_message(&sealed, &opts)?;
    ensure!(
        read.verdict.signed_by_sender(),
        "the signature was not by the sender"
    );
    ensure!(
        read.verdict.is_fully_encrypted(),
        "the message was not fully encrypted"
    );
    step("bob decrypted it and verified alice's signature and chain to the CA; the verdict:");
    for line in serde_json::to_string_pretty(&read.verdict)?.lines() {
        println!("     | {line}");
    }
    // Tamper with one base64 character of the encrypted body.
    let mut tampered = sealed.clone();
    let body_at = tampered
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no body")?
        + 100;
    let b = tampered.get_mut(body_at).context("message too short")?;
    *b = if *b == b'A' { b'B' } else { b'A' };
    match read_message(&tampered, &opts) {
        Ok(_) => bail!("a tampered message was accepted"),
        Err(e) => step(&format!("a copy with one byte changed is refused: {e}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn demo_stage_checks_its_story() {
        let dir = tempfile::tempdir().unwrap();
        super::demo_stage(1, dir.path()).unwrap();
    }
}
