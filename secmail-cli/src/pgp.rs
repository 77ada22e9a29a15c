//! `secmail pgp …`: OpenPGP keys, messages and PGP/MIME (secmail-pgp over sequoia-openpgp).
//!
//! Keys and certificates are files, armored or binary. Output goes through [`Output`]: a
//! failed command leaves no output file. Decryption releases plaintext only after the
//! integrity check (and, with `--signer`, only with a good signature from one of them), so
//! nothing reaches stdout either when it fails.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use clap::{Args, Subcommand, ValueEnum};
use secmail_core::Verdict;
use secmail_pgp::{
    Algorithm, Cert, DecryptOptions, Encoding, EncryptOptions, KeyGenOptions, KeyProfile, Password,
    SigningKey,
};

use crate::io::{Output, read_input};

/// The largest passphrase file read.
const MAX_PASSPHRASE_FILE: u64 = 64 * 1024;
/// The largest message the mail commands read (they hold it in memory).
const MAX_MAIL: u64 = 256 * 1024 * 1024;
/// The largest detached signature read.
const MAX_SIGNATURE: u64 = 1024 * 1024;

#[derive(Subcommand)]
pub enum Command {
    /// Generate a key (Curve25519 by default) with its revocation certificate.
    Keygen(KeygenArgs),
    /// Extract the public certificate from a key.
    Cert(CertArgs),
    /// Encrypt to certificates and/or a passphrase, optionally signed.
    Encrypt(EncryptArgs),
    /// Decrypt and verify a message.
    Decrypt(DecryptArgs),
    /// Sign data: an inline signed message, or a detached signature.
    Sign(SignArgs),
    /// Verify a signed message or a detached signature: exit 0 only for a good signature from
    /// one of the --signer certificates.
    Verify(VerifyArgs),
    /// Encrypt a whole message as PGP/MIME, with RFC 9788 header protection.
    EncryptMail(EncryptMailArgs),
    /// Sign a whole message as PGP/MIME (multipart/signed).
    SignMail(SignMailArgs),
    /// Decrypt a PGP/MIME (or inline PGP) message; the output is the decrypted message alone.
    DecryptMail(DecryptMailArgs),
    /// Verify a PGP/MIME multipart/signed (or inline signed) message.
    VerifyMail(VerifyMailArgs),
    #[command(flatten)]
    Autocrypt(crate::pgp_autocrypt::Command),
}

#[derive(Clone, Copy, ValueEnum)]
enum AlgoArg {
    Cv25519,
    Rsa3072,
    Rsa4096,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    Rfc4880,
    Rfc9580,
}

#[derive(Args)]
pub struct KeygenArgs {
    /// The User ID, e.g. "Alice <alice@example.org>".
    #[arg(long)]
    userid: String,
    /// The public-key algorithm.
    #[arg(long, value_enum, default_value_t = AlgoArg::Cv25519)]
    algo: AlgoArg,
    /// rfc4880: v4 keys that GnuPG 2.2 reads; rfc9580: v6 keys (SEIPDv2).
    #[arg(long, value_enum, default_value_t = ProfileArg::Rfc4880)]
    profile: ProfileArg,
    /// Protect the secret key with the passphrase in this file.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Where to write the key (armored; default stdout). The revocation certificate goes to
    /// FILE.rev.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct CertArgs {
    /// The key (default stdin).
    #[arg(long = "in", value_name = "KEY")]
    input: Option<PathBuf>,
    /// Output file (default stdout).
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct EncryptArgs {
    /// A recipient's certificate (repeatable).
    #[arg(long = "to", value_name = "CERT")]
    to: Vec<PathBuf>,
    /// Also encrypt to the passphrase in this file (readable with `gpg -d`).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Sign with this key (repeatable); the sender is also a recipient.
    #[arg(long = "sign-with", value_name = "KEY")]
    sign_with: Vec<PathBuf>,
    /// The passphrase of protected --sign-with keys.
    #[arg(long, value_name = "FILE")]
    key_passphrase_file: Option<PathBuf>,
    /// ASCII armor.
    #[arg(long)]
    armor: bool,
    /// Input file (default stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output file (default stdout).
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct DecryptArgs {
    /// A secret key to decrypt with (repeatable).
    #[arg(long = "key", value_name = "KEY")]
    key: Vec<PathBuf>,
    /// A passphrase: for password-encrypted messages and for protected keys.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Require a good signature from one of these certificates (repeatable).
    #[arg(long = "signer", value_name = "CERT")]
    signer: Vec<PathBuf>,
    /// Write the verdict as JSON to this file.
    #[arg(long, value_name = "FILE")]
    verdict: Option<PathBuf>,
    /// Input file (default stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output file (default stdout); written only if everything checked.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct SignArgs {
    /// The signing key.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The passphrase of a protected key.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Write a detached signature.
    #[arg(long)]
    detached: bool,
    /// ASCII armor.
    #[arg(long)]
    armor: bool,
    /// Input file (default stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output file (default stdout).
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// A certificate whose good signature is accepted (repeatable, at least one).
    #[arg(long = "signer", value_name = "CERT", required = true)]
    signer: Vec<PathBuf>,
    /// A detached signature over --in (otherwise --in is a signed message).
    #[arg(long, value_name = "FILE")]
    signature: Option<PathBuf>,
    /// Input file (default stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
}

#[derive(Args)]
pub struct EncryptMailArgs {
    /// A recipient's certificate (repeatable, at least one).
    #[arg(long = "to", value_name = "CERT", required = true)]
    to: Vec<PathBuf>,
    /// Sign with this key (inside the encryption); the sender is also a recipient.
    #[arg(long = "sign-with", value_name = "KEY")]
    sign_with: Option<PathBuf>,
    /// The passphrase of a protected --sign-with key.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// The message (default stdin).
    #[arg(long = "in", value_name = "MSG")]
    input: Option<PathBuf>,
    /// Output file (default stdout).
    #[arg(long = "out", value_name = "MSG")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct SignMailArgs {
    /// The signing key.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The passphrase of a protected key.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// The message (default stdin).
    #[arg(long = "in", value_name = "MSG")]
    input: Option<PathBuf>,
    /// Output file (default stdout).
    #[arg(long = "out", value_name = "MSG")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct DecryptMailArgs {
    /// A secret key to decrypt with (repeatable).
    #[arg(long = "key", value_name = "KEY")]
    key: Vec<PathBuf>,
    /// The passphrase of protected keys.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Require a good signature from one of these certificates (repeatable).
    #[arg(long = "signer", value_name = "CERT")]
    signer: Vec<PathBuf>,
    /// Write the verdict as JSON to this file.
    #[arg(long, value_name = "FILE")]
    verdict: Option<PathBuf>,
    /// The message (default stdin).
    #[arg(long = "in", value_name = "MSG")]
    input: Option<PathBuf>,
    /// Output file (default stdout); written only if everything checked.
    #[arg(long = "out", value_name = "MSG")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyMailArgs {
    /// A certificate whose good signature is accepted (repeatable, at least one).
    #[arg(long = "signer", value_name = "CERT", required = true)]
    signer: Vec<PathBuf>,
    /// Write the verdict as JSON to this file.
    #[arg(long, value_name = "FILE")]
    verdict: Option<PathBuf>,
    /// The message (default stdin).
    #[arg(long = "in", value_name = "MSG")]
    input: Option<PathBuf>,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Keygen(a) => keygen(a),
        Command::Cert(a) => cert(a),
        Command::Encrypt(a) => encrypt(a),
        Command::Decrypt(a) => decrypt(a),
        Command::Sign(a) => sign(a),
        Command::Verify(a) => verify(a),
        Command::EncryptMail(a) => encrypt_mail(a),
        Command::SignMail(a) => sign_mail(a),
        Command::DecryptMail(a) => decrypt_mail(a),
        Command::VerifyMail(a) => verify_mail(a),
        Command::Autocrypt(c) => crate::pgp_autocrypt::run(c),
    }
}

fn read_passphrase(path: &Path) -> Result<Password> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_PASSPHRASE_FILE + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
    ensure!(
        bytes.len() as u64 <= MAX_PASSPHRASE_FILE,
        "the passphrase file {} is larger than {MAX_PASSPHRASE_FILE} bytes",
        path.display()
    );
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    ensure!(
        !bytes.is_empty(),
        "the passphrase file {} holds an empty passphrase",
        path.display()
    );
    Ok(Password::from(bytes))
}

fn passphrases(path: Option<&Path>) -> Result<Vec<Password>> {
    path.map(read_passphrase)
        .transpose()
        .map(|p| p.into_iter().collect())
}

fn read_cert(path: &Path) -> Result<Cert> {
    let bytes = read_input(Some(path), secmail_pgp::MAX_CERT_SIZE as u64)?;
    secmail_pgp::read_cert(&bytes).with_context(|| format!("cannot read {}", path.display()))
}

fn read_certs(paths: &[PathBuf]) -> Result<Vec<Cert>> {
    paths.iter().map(|p| read_cert(p)).collect()
}

fn open_input(path: Option<&Path>) -> Result<Box<dyn Read + Send + Sync>> {
    Ok(match path {
        Some(p) => {
            Box::new(fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?)
        }
        None => Box::new(io::stdin()),
    })
}

/// Runs `f` over a `Send + Sync` writer into `out` (what sequoia's writers need).
fn with_sink(
    out: &mut Output,
    f: impl FnOnce(&mut (dyn Write + Send + Sync)) -> Result<()>,
) -> Result<()> {
    match out {
        Output::Stdout(_) => f(&mut io::stdout()),
        Output::Special(file) => f(file),
        Output::File { tmp, .. } => f(tmp),
    }
}

fn encoding(armor: bool) -> Encoding {
    if armor {
        Encoding::Armored
    } else {
        Encoding::Binary
    }
}

fn write_verdict(path: Option<&Path>, v: &Verdict) -> Result<()> {
    if let Some(p) = path {
        let mut out = Output::open(Some(p))?;
        serde_json::to_writer_pretty(&mut out, v).context("cannot write the verdict")?;
        out.write_all(b"\n")?;
        out.commit()?;
    }
    Ok(())
}

/// One line per signature, for stderr.
pub fn describe(v: &Verdict) -> Vec<String> {
    let mut lines = Vec::new();
    for p in &v.parts {
        let path = if p.path.is_empty() {
            "(whole)"
        } else {
            &p.path
        };
        lines.push(format!(
            "part {path}: {}{}{}",
            if p.encrypted {
                "encrypted"
            } else {
                "not encrypted"
            },
            if p.signed { ", signed" } else { ", not signed" },
            p.decrypted_with
                .as_deref()
                .map(|k| format!(" (decrypted with {k})"))
                .unwrap_or_default()
        ));
    }
    for s in &v.signatures {
        lines.push(format!(
            "signature: {:?} by {} {}{}",
            s.status,
            s.fingerprint.as_deref().unwrap_or("unknown key"),
            s.identity.as_deref().unwrap_or(""),
            if s.matches_from {
                " (matches From)"
            } else {
                ""
            }
        ));
    }
    if let Some(hp) = &v.header_protection {
        lines.push(format!(
            "header protection: {:?} over {}",
            hp.form,
            hp.covered.join(", ")
        ));
    }
    lines
}

fn report(v: &Verdict) {
    for l in describe(v) {
        eprintln!("secmail: {l}");
    }
}

fn good_from(v: &Verdict, signers: &[Cert]) -> bool {
    v.signatures.iter().any(|s| {
        s.status.is_good()
            && s.fingerprint
                .as_ref()
                .is_some_and(|f| signers.iter().any(|c| c.fingerprint().to_hex() == *f))
    })
}

fn keygen(a: KeygenArgs) -> Result<()> {
    let opts = KeyGenOptions {
        userids: vec![a.userid],
        algorithm: match a.algo {
            AlgoArg::Cv25519 => Algorithm::Cv25519,
            AlgoArg::Rsa3072 => Algorithm::Rsa3072,
            AlgoArg::Rsa4096 => Algorithm::Rsa4096,
        },
        profile: match a.profile {
            ProfileArg::Rfc4880 => KeyProfile::Rfc4880,
            ProfileArg::Rfc9580 => KeyProfile::Rfc9580,
        },
        passphrase: a
            .passphrase_file
            .as_deref()
            .map(read_passphrase)
            .transpose()?,
        ..KeyGenOptions::default()
    };
    let g = secmail_pgp::generate(&opts)?;
    let key = secmail_pgp::export_key(&g.key, Encoding::Armored)?;
    let rev = secmail_pgp::export_revocation(&g.revocation)?;
    let mut out = Output::open(a.output.as_deref())?;
    out.write_all(&key)?;
    match &a.output {
        Some(p) => {
            let mut rp = p.clone().into_os_string();
            rp.push(".rev");
            let mut r = Output::open(Some(Path::new(&rp)))?;
            r.write_all(&rev)?;
            r.commit()?;
            eprintln!(
                "secmail: key {} written; revocation certificate in {} (keep it apart)",
                g.key.fingerprint(),
                Path::new(&rp).display()
            );
        }
        None => eprintln!(
            "secmail: key {} written; use --out FILE to also keep its revocation certificate",
            g.key.fingerprint()
        ),
    }
    out.commit()
}

fn cert(a: CertArgs) -> Result<()> {
    let bytes = read_input(a.input.as_deref(), secmail_pgp::MAX_CERT_SIZE as u64)?;
    let key = secmail_pgp::read_cert(&bytes)?;
    let mut out = Output::open(a.output.as_deref())?;
    out.write_all(&secmail_pgp::export_cert(&key, Encoding::Armored)?)?;
    out.commit()
}

fn signing_keys(paths: &[PathBuf], pass: &[Password]) -> Result<Vec<SigningKey>> {
    paths
        .iter()
        .map(|p| {
            let k = read_cert(p)?;
            SigningKey::new(&k, pass).with_context(|| format!("cannot sign with {}", p.display()))
        })
        .collect()
}

fn encrypt(a: EncryptArgs) -> Result<()> {
    let certs = read_certs(&a.to)?;
    let kp = passphrases(a.key_passphrase_file.as_deref())?;
    let signers = signing_keys(&a.sign_with, &kp)?;
    let mut opts = EncryptOptions::new()
        .recipients(certs.iter())
        .encoding(encoding(a.armor));
    for s in &signers {
        opts = opts.sign_with(s);
    }
    if let Some(p) = &a.passphrase_file {
        opts = opts.password(read_passphrase(p)?);
    }
    // A regular file's length: small messages skip the bulk path's set-up.
    if let Some(m) = a.input.as_deref().and_then(|p| fs::metadata(p).ok())
        && m.is_file()
    {
        opts = opts.expected_size(m.len());
    }
    let input = open_input(a.input.as_deref())?;
    let mut out = Output::open(a.output.as_deref())?;
    with_sink(&mut out, |w| {
        secmail_pgp::encrypt_stream(input, w, &opts)?;
        Ok(())
    })?;
    out.commit()
}

fn decrypt_options(
    keys: &[PathBuf],
    pass: Option<&Path>,
    signers: &[PathBuf],
) -> Result<DecryptOptions> {
    let mut opts = DecryptOptions::new();
    for k in keys {
        opts = opts.key(read_cert(k)?);
    }
    for p in passphrases(pass)? {
        opts = opts.password(p.clone()).key_passphrase(p);
    }
    for c in read_certs(signers)? {
        opts = opts.require_signer(c);
    }
    Ok(opts)
}

fn decrypt(a: DecryptArgs) -> Result<()> {
    ensure!(
        !a.key.is_empty() || a.passphrase_file.is_some(),
        "give --key or --passphrase-file"
    );
    let opts = decrypt_options(&a.key, a.passphrase_file.as_deref(), &a.signer)?;
    let input = open_input(a.input.as_deref())?;
    let mut out = Output::open(a.output.as_deref())?;
    // A named output is a temporary file renamed into place only on success (and removed on
    // failure): the library may write plaintext into it before its checks end.
    let v = match &mut out {
        Output::File { tmp, .. } => secmail_pgp::decrypt_to_file(input, tmp, &opts)?,
        Output::Stdout(_) => secmail_pgp::decrypt_stream(input, io::stdout(), &opts)?,
        // A device or FIFO cannot be emptied again: plaintext only after every check.
        Output::Special(file) => secmail_pgp::decrypt_stream(input, file, &opts)?,
    };
    report(&v);
    write_verdict(a.verdict.as_deref(), &v)?;
    out.commit()
}

fn sign(a: SignArgs) -> Result<()> {
    let pass = passphrases(a.passphrase_file.as_deref())?;
    let key = signing_keys(std::slice::from_ref(&a.key), &pass)?;
    let refs: Vec<&SigningKey> = key.iter().collect();
    let mut input = open_input(a.input.as_deref())?;
    let mut out = Output::open(a.output.as_deref())?;
    with_sink(&mut out, |w| {
        let mut s = secmail_pgp::sign_writer(w, &refs, a.detached, encoding(a.armor))?;
        io::copy(&mut input, &mut s)?;
        s.finish()?;
        Ok(())
    })?;
    out.commit()
}

fn verify(a: VerifyArgs) -> Result<()> {
    let certs = read_certs(&a.signer)?;
    let input = open_input(a.input.as_deref())?;
    let v = match &a.signature {
        Some(sig) => {
            let sig = read_input(Some(sig), MAX_SIGNATURE)?;
            secmail_pgp::verify_detached_stream(input, &sig, &certs, None)?
        }
        None => secmail_pgp::verify_stream(input, io::sink(), &certs, None)?,
    };
    report(&v);
    if !good_from(&v, &certs) {
        bail!("no good signature from the --signer certificates");
    }
    Ok(())
}

fn encrypt_mail(a: EncryptMailArgs) -> Result<()> {
    let certs = read_certs(&a.to)?;
    let pass = passphrases(a.passphrase_file.as_deref())?;
    let signer = signing_keys(a.sign_with.as_slice(), &pass)?;
    let msg = read_input(a.input.as_deref(), MAX_MAIL)?;
    let refs: Vec<&Cert> = certs.iter().collect();
    let sent = secmail_pgp::encrypt_mail(&msg, &refs, signer.first())?;
    let mut out = Output::open(a.output.as_deref())?;
    out.write_all(&sent)?;
    out.commit()
}

fn sign_mail(a: SignMailArgs) -> Result<()> {
    let pass = passphrases(a.passphrase_file.as_deref())?;
    let key = signing_keys(std::slice::from_ref(&a.key), &pass)?;
    let msg = read_input(a.input.as_deref(), MAX_MAIL)?;
    let signer = key.first().context("no signing key")?;
    let sent = secmail_pgp::sign_mail(&msg, signer)?;
    let mut out = Output::open(a.output.as_deref())?;
    out.write_all(&sent)?;
    out.commit()
}

fn decrypt_mail(a: DecryptMailArgs) -> Result<()> {
    let opts = decrypt_options(&a.key, a.passphrase_file.as_deref(), &a.signer)?;
    let msg = read_input(a.input.as_deref(), MAX_MAIL)?;
    let (opened, v) = secmail_pgp::decrypt_mail(&msg, &opts)?;
    report(&v);
    write_verdict(a.verdict.as_deref(), &v)?;
    let mut out = Output::open(a.output.as_deref())?;
    out.write_all(&opened)?;
    out.commit()
}

fn verify_mail(a: VerifyMailArgs) -> Result<()> {
    let certs = read_certs(&a.signer)?;
    let msg = read_input(a.input.as_deref(), MAX_MAIL)?;
    let v = secmail_pgp::verify_mail(&msg, &certs)?;
    report(&v);
    write_verdict(a.verdict.as_deref(), &v)?;
    if !good_from(&v, &certs) {
        bail!("no good signature from the --signer certificates");
    }
    Ok(())
}

fn stage(n: usize, title: &str) {
    println!();
    println!("== {n}. {title}");
}

fn step(text: &str) {
    println!("   - {text}");
}

/// The OpenPGP stage of `secmail demo`: keys for Alice and Bob, a PGP/MIME message from
/// Alice to Bob encrypted and signed with its headers protected, opened and verified, and a
/// flipped byte refused.
pub fn demo_stage(n: usize, dir: &Path) -> Result<()> {
    stage(
        n,
        "OpenPGP: keys, PGP/MIME encryption and signatures (RFC 3156, RFC 9788)",
    );
    let alice = secmail_pgp::generate(&KeyGenOptions::new("Alice <alice@example.org>"))?;
    let bob = secmail_pgp::generate(&KeyGenOptions::new("Bob <bob@example.net>"))?;
    for (name, k) in [("alice", &alice), ("bob", &bob)] {
        let key = dir.join(format!("{name}.key.asc"));
        let cert = dir.join(format!("{name}.cert.asc"));
        fs::write(&key, secmail_pgp::export_key(&k.key, Encoding::Armored)?)?;
        fs::write(&cert, secmail_pgp::export_cert(&k.key, Encoding::Armored)?)?;
        fs::write(
            dir.join(format!("{name}.rev.asc")),
            secmail_pgp::export_revocation(&k.revocation)?,
        )?;
        step(&format!(
            "generated {} (Ed25519 + X25519, v4): {}, certificate {}",
            secmail_pgp::primary_userid(&k.key).unwrap_or_default(),
            k.key.fingerprint(),
            cert.display()
        ));
    }
    let message = secmail_core::mime::MessageBuilder::new()
        .from("Alice <alice@example.org>")
        .to("Bob <bob@example.net>")
        .subject("Merger plans")
        .text_body("Bob,\nthe numbers are attached. Noon?\n")
        .attachment("numbers.csv", "text/csv", b"q,total\n3,1200\n".to_vec())
        .build()?;
    let signer = SigningKey::new(&alice.key, &[])?;
    let bob_cert = secmail_pgp::public_cert(&bob.key);
    let sent = secmail_pgp::encrypt_mail(&message, &[&bob_cert], Some(&signer))?;
    let sent_path = dir.join("pgp-sent.eml");
    fs::write(&sent_path, &sent)?;
    let outer = secmail_core::mime::Message::parse(sent.clone())?;
    ensure!(
        outer.header("Subject") == Some("[...]"),
        "the outer Subject is not obscured"
    );
    step(&format!(
        "Alice -> Bob: signed (multipart/signed inside), encrypted (multipart/encrypted) to Bob \
         and to herself, a fresh session key; outer Subject {:?} ({} bytes, {})",
        outer.header("Subject").unwrap_or_default(),
        sent.len(),
        sent_path.display()
    ));
    let opts = DecryptOptions::new()
        .key(bob.key.clone())
        .require_signer(secmail_pgp::public_cert(&alice.key));
    let (opened, verdict) = secmail_pgp::decrypt_mail(&sent, &opts)?;
    let inner = secmail_core::mime::Message::parse(opened)?;
    ensure!(
        inner.header("Subject") == Some("Merger plans"),
        "the protected Subject was not restored"
    );
    ensure!(
        verdict.is_fully_encrypted() && verdict.is_fully_signed() && verdict.signed_by_sender(),
        "the verdict does not say encrypted and signed by the sender"
    );
    step(&format!(
        "Bob decrypted and verified it; the real Subject {:?} is back. The verdict:",
        inner.header("Subject").unwrap_or_default()
    ));
    for l in describe(&verdict) {
        println!("     | {l}");
    }
    let json = serde_json::to_string(&verdict)?;
    step(&format!("as JSON (--verdict): {} bytes", json.len()));

    let mut bad = sent.clone();
    let payload_at = sent.len().saturating_sub(300);
    bad[payload_at] = if bad[payload_at] == b'A' { b'B' } else { b'A' };
    match secmail_pgp::decrypt_mail(&bad, &DecryptOptions::new().key(bob.key.clone())) {
        Ok(_) => bail!("a flipped byte in the ciphertext was accepted"),
        Err(e) => step(&format!(
            "one byte flipped in the ciphertext: refused, no plaintext released ({e})"
        )),
    }
    crate::pgp_autocrypt::demo_steps(dir, &alice.key)?;
    Ok(())
}
