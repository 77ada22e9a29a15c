//! `secmail demo`: the whole story of secmail on this machine, one stage per protection.
//!
//! It runs with no network and no configuration: loopback only, throw-away keys and files in
//! a temporary directory that is removed at the end. Every stage checks its own outcome and
//! the demo fails (exit 1) if one does not hold.

use anyhow::{Context, Result, bail, ensure};
use secmail_core::mime::{
    HeaderConfidentiality, Message, MessageBuilder, canonicalize, protect_headers,
    read_protected_headers,
};
use secmail_core::{Error, LimitKind};

use crate::mime::inspect_text;

fn stage(n: usize, title: &str) {
    println!();
    println!("== {n}. {title}");
}

fn step(text: &str) {
    println!("   - {text}");
}

fn indent(block: &str) {
    for line in block.lines() {
        println!("     | {line}");
    }
}

pub fn run() -> Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    println!("secmail demo: secure email in transit, in the message, and at rest");
    println!(
        "(scratch directory {}, removed at the end)",
        dir.path().display()
    );
    mime_stage(1, dir.path())?;
    for sub in ["pgp", "smime"] {
        std::fs::create_dir(dir.path().join(sub))?;
    }
    crate::pgp::demo_stage(2, &dir.path().join("pgp"))?;
    crate::smime::demo_stage(3, &dir.path().join("smime"))?;
    passphrase_stage(4)?;
    crate::transport::demo_stage(5, dir.path())?;
    crate::store::demo_stage(6, dir.path())?;
    println!();
    println!("demo finished: every stage checked its outcome");
    Ok(())
}

/// Stage: the MIME layer that every protection stands on.
fn mime_stage(n: usize, dir: &std::path::Path) -> Result<()> {
    stage(n, "MIME: the byte-exact layer every protection stands on");

    let forwarded = MessageBuilder::new()
        .from("carol@example.com")
        .to("alice@example.org")
        .subject("Figures for Q3")
        .text_body("Numbers attached.\n")
        .attachment("q3.csv", "text/csv", b"quarter,total\n3,1200\n".to_vec())
        .build()?;
    let message = MessageBuilder::new()
        .from("Alice <alice@example.org>")
        .to("Bob <bob@example.net>")
        .subject("Merger plans")
        .text_body("Bob,\nFrom now on we talk about it only by encrypted mail. \ncafé at noon?\n")
        .html_body("<p>Bob,</p><p>From now on we talk about it only by encrypted mail.</p>")
        .attachment(
            "report.bin",
            "application/octet-stream",
            vec![0, 159, 146, 150, 255],
        )
        .attachment("forwarded.eml", "message/rfc822", forwarded)
        .build()?;
    let path = dir.join("message.eml");
    std::fs::write(&path, &message)?;
    step(&format!(
        "built a message with mail-builder: text + HTML, a binary attachment and a forwarded \
         message ({} bytes, {})",
        message.len(),
        path.display()
    ));

    let msg = Message::parse(message.clone())?;
    step("parsed it back; every part keeps its exact bytes, its decoded content and its path:");
    indent(&inspect_text(&msg));
    let text = msg
        .parts()
        .find(|p| p.content_type().is("text", "plain"))
        .and_then(|p| p.body().text())
        .context("the text part is missing")?;
    ensure!(text.contains("café"), "the text part did not decode");
    let inner = msg
        .parts()
        .find(|p| p.content_type().is("text", "csv"))
        .context("the forwarded message's attachment is missing")?;
    step(&format!(
        "found the attachment inside the forwarded message at path {} ({:?})",
        inner.path(),
        String::from_utf8_lossy(inner.body().bytes()).trim_end()
    ));

    let canon = canonicalize(&message)?;
    let again = canonicalize(&canon)?;
    ensure!(canon == again, "canonicalisation is not idempotent");
    let reparsed = Message::parse(canon.clone())?;
    let re_encoded: Vec<String> = reparsed
        .parts()
        .filter(|p| p.children().is_empty())
        .map(|p| format!("{} {}", p.path(), p.transfer_encoding()))
        .collect();
    step(&format!(
        "canonicalised the message for signing (RFC 3156 / RFC 8551): CRLF, 7-bit, no trailing \
         whitespace, no 'From ' lines; {} -> {} bytes; leaf encodings now: {}",
        message.len(),
        canon.len(),
        re_encoded.join(", ")
    ));
    ensure!(
        canon.is_ascii() && !canon.windows(7).any(|w| w == b"\r\nFrom "),
        "canonical form is not transport-safe"
    );
    step("canonicalising the canonical form again changes nothing (idempotent)");

    let hp = protect_headers(&message, true, HeaderConfidentiality::Baseline)?;
    let outer_subject = hp
        .outer
        .iter()
        .find(|(k, _)| k == "Subject")
        .map(|(_, v)| v.clone());
    ensure!(
        outer_subject.as_deref() == Some("[...]"),
        "Subject not obscured"
    );
    let payload = Message::parse(hp.payload.clone())?;
    let read = read_protected_headers(payload.root(), None).context("no header protection")?;
    step(&format!(
        "header protection (RFC 9788): the outer Subject becomes {:?}; the real one travels \
         inside the payload to be encrypted, which covers {:?}",
        outer_subject.unwrap_or_default(),
        read.covered
    ));
    let hp_outer: Vec<&str> = payload
        .root()
        .headers()
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("HP-Outer"))
        .map(|h| h.value.as_str())
        .collect();
    step(&format!(
        "the payload records what was exposed: HP-Outer {hp_outer:?}"
    ));

    let mut bomb = Vec::new();
    for i in 0..20_000 {
        bomb.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .as_bytes(),
        );
    }
    match Message::parse(bomb) {
        Err(Error::LimitExceeded {
            kind: LimitKind::Depth,
            limit,
            ..
        }) => step(&format!(
            "a hostile message nested 20,000 multiparts deep is refused with a typed error \
             (depth limit {limit}), without recursion"
        )),
        other => bail!("the nesting bomb was not refused: {other:?}"),
    }
    Ok(())
}

/// Stage: passphrase encryption, for recipients and owners with no key pair.
fn passphrase_stage(n: usize) -> Result<()> {
    use secmail_core::passphrase::{
        Argon2Params, Cipher, EncryptOptions, Passphrase, decrypt, encrypt,
    };
    stage(
        n,
        "Passphrase: a streaming, authenticated container (Argon2id + STREAM)",
    );
    let message = b"Bob, the merger closes on Friday. Shred this.\n".repeat(3000);
    let pass = Passphrase::new(b"correct horse battery staple".to_vec());
    let options = EncryptOptions::new()
        .cipher(Cipher::Aes256Gcm)
        .kdf(Argon2Params::interactive())
        .armor(true);
    let sealed = encrypt(&message, &pass, &options)?;
    let first_line = sealed
        .split(|&b| b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .unwrap_or_default();
    step(&format!(
        "sealed {} bytes under a passphrase (Argon2id interactive profile, AES-256-GCM, 64 KiB \
         chunks), armored for an email body: {} bytes starting {first_line:?}",
        message.len(),
        sealed.len()
    ));
    let opened = decrypt(&sealed, &pass)?;
    ensure!(opened == message, "the container did not round-trip");
    step("opened it with the same passphrase: every byte back, every chunk authenticated");
    match decrypt(&sealed, &Passphrase::new(b"wrong horse".to_vec())) {
        Err(Error::WrongPassphrase) => {
            step("a wrong passphrase is told by the key commitment, before any chunk is read")
        }
        other => bail!(
            "a wrong passphrase was not refused: {:?}",
            other.map(|v| v.len())
        ),
    }
    let binary = encrypt(&message, &pass, &options.clone().armor(false))?;
    let mut cut = binary.clone();
    cut.truncate(binary.len() - 100);
    match decrypt(&cut, &pass) {
        Err(Error::DecryptionFailed) => step(
            "a container cut short is refused as a whole: no plaintext from a truncated stream",
        ),
        other => bail!(
            "a truncated container was not refused: {:?}",
            other.map(|v| v.len())
        ),
    }
    Ok(())
}
