//! Signatures over our canonical form verify in the real tools (OpenSSL, GnuPG), and theirs
//! verify over the bytes our parser reports.
//!
//! The tools must be installed (`scripts/test.sh` installs them); a test whose tool is missing
//! fails with a message saying so. Keys and certificates are made fresh in temporary
//! directories for each test and thrown away.

// Test helpers outside #[test] functions unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::split_by_boundary;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use secmail_core::mime::{
    Message, MessageBuilder, Protection, SignatureKind, SignedParts, canonicalize,
    signed_multipart, to_crlf, wrap,
};

// ---------------------------------------------------------------------------------------
// Running the tools

/// Panics (never skips) when `tool` cannot be run.
fn require(tool: &str) {
    let version_arg = if tool == "openssl" {
        "version"
    } else {
        "--version"
    };
    let ok = Command::new(tool)
        .arg(version_arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{tool}` is not installed or does not run; install gnupg/openssl: scripts/test.sh does"
    );
}

fn run<I, S>(program: &str, args: I, env: &[(&str, &Path)]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

#[track_caller]
fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[track_caller]
fn assert_fails(what: &str, out: &Output) {
    assert!(
        !out.status.success(),
        "{what} succeeded but must fail:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// A throw-away self-signed P-256 certificate and its key, in `dir`.
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = run(
        "openssl",
        [
            OsStr::new("req"),
            OsStr::new("-x509"),
            OsStr::new("-newkey"),
            OsStr::new("ec"),
            OsStr::new("-pkeyopt"),
            OsStr::new("ec_paramgen_curve:P-256"),
            OsStr::new("-nodes"),
            OsStr::new("-keyout"),
            key.as_os_str(),
            OsStr::new("-out"),
            cert.as_os_str(),
            OsStr::new("-days"),
            OsStr::new("2"),
            OsStr::new("-subj"),
            OsStr::new("/CN=secmail interop test/emailAddress=alice@example.org"),
        ],
        &[],
    );
    assert_ok("openssl req -x509", &out);
    (cert, key)
}

/// Flips one bit of the first occurrence of `marker` in `data`.
fn tamper(data: &[u8], marker: &[u8]) -> Vec<u8> {
    let at = data
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(marker)));
    let mut t = data.to_vec();
    t[at] ^= 0x01;
    t
}

/// A body entity with everything a transport likes to change: non-ASCII text, trailing
/// spaces, a `From ` line, a long line, and a binary attachment.
fn awkward_body() -> Vec<u8> {
    MessageBuilder::new()
        .text_body(format!(
            "Gr\u{fc}\u{df}e aus K\u{f6}ln \u{2014} caf\u{e9}\n\
             From the desk of Alice.\n\
             trailing spaces   \n\
             tab at the end\t\n\
             {}\n\
             -- \n\
             Alice\n",
            "long line ".repeat(120)
        ))
        .attachment(
            "data.bin",
            "application/octet-stream",
            (0..=255u8).cycle().take(1000).collect(),
        )
        .build_body()
        .unwrap()
}

fn message_headers() -> Vec<(String, String)> {
    vec![
        ("From".into(), "Alice <alice@example.org>".into()),
        ("To".into(), "Bob <bob@example.net>".into()),
        ("Subject".into(), "interop test".into()),
    ]
}

// ---------------------------------------------------------------------------------------
// An independent RFC 2046 splitter (by bytes, not through our parser).

/// The boundary parameter of the top-level Content-Type, found by bytes.
fn top_boundary(msg: &[u8]) -> String {
    let header_end = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| msg.windows(2).position(|w| w == b"\n\n"))
        .unwrap();
    let headers = String::from_utf8_lossy(&msg[..header_end]).replace("\r\n", "\n");
    let unfolded = headers.replace("\n ", " ").replace("\n\t", " ");
    let ct = unfolded
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-type:"))
        .unwrap();
    let at = ct.to_ascii_lowercase().find("boundary=").unwrap() + "boundary=".len();
    let rest = &ct[at..];
    if let Some(quoted) = rest.strip_prefix('"') {
        quoted[..quoted.find('"').unwrap()].to_owned()
    } else {
        rest.split([';', ' ']).next().unwrap().to_owned()
    }
}

// ---------------------------------------------------------------------------------------
// (a) S/MIME: ours → OpenSSL

#[test]
fn smime_our_canonical_form_verifies_in_openssl() {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key) = make_cert(d);

    let body = awkward_body();
    let canonical = canonicalize(&body).unwrap();
    let content = write(d, "content.bin", &canonical);
    let sig = d.join("sig.der");
    let out = run(
        "openssl",
        [
            OsStr::new("cms"),
            OsStr::new("-sign"),
            OsStr::new("-binary"),
            OsStr::new("-outform"),
            OsStr::new("DER"),
            OsStr::new("-md"),
            OsStr::new("sha256"),
            OsStr::new("-signer"),
            cert.as_os_str(),
            OsStr::new("-inkey"),
            key.as_os_str(),
            OsStr::new("-in"),
            content.as_os_str(),
            OsStr::new("-out"),
            sig.as_os_str(),
        ],
        &[],
    );
    assert_ok("openssl cms -sign", &out);
    let der = std::fs::read(&sig).unwrap();

    let entity = signed_multipart(&canonical, &der, SignatureKind::Smime, "sha-256").unwrap();
    let message = wrap(&message_headers(), &entity).unwrap();

    // Our parser reads back exactly what was signed, and the DER.
    let parsed = Message::parse(message.clone()).unwrap();
    assert_eq!(
        parsed.root().protection(),
        Some(&Protection::SmimeSigned {
            micalg: Some("sha-256".into())
        })
    );
    let sp = SignedParts::of(parsed.root()).unwrap();
    assert_eq!(sp.signed_bytes(), canonical);
    assert_eq!(sp.signature.body().bytes(), &der[..]);

    // OpenSSL parses the MIME itself and verifies.
    let verify = |name: &str, data: &[u8]| {
        let f = write(d, name, data);
        run(
            "openssl",
            [
                OsStr::new("smime"),
                OsStr::new("-verify"),
                OsStr::new("-noverify"),
                OsStr::new("-in"),
                f.as_os_str(),
                OsStr::new("-out"),
                d.join(format!("{name}.out")).as_os_str(),
            ],
            &[],
        )
    };
    assert_ok("openssl smime -verify", &verify("message.eml", &message));
    // What OpenSSL says was signed is the canonical entity.
    assert_eq!(
        std::fs::read(d.join("message.eml.out")).unwrap(),
        canonical,
        "openssl's view of the signed content"
    );
    // Stored with LF line endings (as an mbox on Unix would), it still verifies.
    let lf_message = String::from_utf8(message.clone())
        .unwrap()
        .replace("\r\n", "\n");
    assert_ok(
        "openssl smime -verify (LF)",
        &verify("message-lf.eml", lf_message.as_bytes()),
    );
    // One bit changed in the signed text: OpenSSL refuses it.
    let tampered = tamper(&message, b"Alice\r\n");
    assert_fails(
        "openssl smime -verify of a tampered message",
        &verify("tampered.eml", &tampered),
    );
}

// ---------------------------------------------------------------------------------------
// (b) S/MIME: OpenSSL → ours

/// Splits `signed_eml` with our parser and verifies the parts with `openssl cms -verify`.
/// Returns the bytes our parser says were signed.
fn verify_with_our_split(d: &Path, signed_eml: &[u8], extra: &[&OsStr]) -> Vec<u8> {
    let msg = Message::parse(signed_eml.to_vec()).unwrap();
    assert!(matches!(
        msg.root().protection(),
        Some(Protection::SmimeSigned { .. })
    ));
    let sp = SignedParts::of(msg.root()).unwrap();
    let signed = sp.signed_bytes();
    let content = write(d, "ours-content.bin", &signed);
    let sig = write(d, "ours-sig.der", sp.signature.body().bytes());
    let cms_verify = |content: &Path| {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("cms"),
            OsStr::new("-verify"),
            OsStr::new("-binary"),
            OsStr::new("-inform"),
            OsStr::new("DER"),
            OsStr::new("-in"),
            sig.as_os_str(),
            OsStr::new("-content"),
            content.as_os_str(),
            OsStr::new("-out"),
            OsStr::new("/dev/null"),
        ];
        args.extend_from_slice(extra);
        run("openssl", args, &[])
    };
    assert_ok("openssl cms -verify over our split", &cms_verify(&content));
    let bad = write(
        d,
        "ours-content-tampered.bin",
        &tamper(&signed, b"\r\n\r\n"),
    );
    assert_fails("openssl cms -verify of tampered content", &cms_verify(&bad));
    signed
}

fn openssl_smime_sign(d: &Path, input: &[u8], text_mode: bool) -> Vec<u8> {
    let (cert, key) = make_cert(d);
    let input_file = write(d, "input.txt", input);
    let out_file = d.join("signed.eml");
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("smime"),
        OsStr::new("-sign"),
        OsStr::new("-md"),
        OsStr::new("sha256"),
        OsStr::new("-signer"),
        cert.as_os_str(),
        OsStr::new("-inkey"),
        key.as_os_str(),
        OsStr::new("-in"),
        input_file.as_os_str(),
        OsStr::new("-out"),
        out_file.as_os_str(),
        OsStr::new("-from"),
        OsStr::new("alice@example.org"),
        OsStr::new("-subject"),
        OsStr::new("signed by openssl"),
    ];
    if text_mode {
        args.push(OsStr::new("-text"));
    }
    assert_ok("openssl smime -sign", &run("openssl", args, &[]));
    std::fs::read(out_file).unwrap()
}

const SIGNED_TEXT: &str =
    "Caf\u{e9} \u{2014} Gr\u{fc}\u{df}e\nFrom the signer.\ntrailing   \n\nlast line\n";

#[test]
fn smime_openssl_text_signature_verifies_over_our_split_lf_input() {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let eml = openssl_smime_sign(dir.path(), SIGNED_TEXT.as_bytes(), true);
    let signed = verify_with_our_split(dir.path(), &eml, &[OsStr::new("-noverify")]);
    let mut expected = b"Content-Type: text/plain\r\n\r\n".to_vec();
    expected.extend_from_slice(&to_crlf(SIGNED_TEXT.as_bytes()));
    assert_eq!(signed, expected);
    // The text reads back as written.
    let msg = Message::parse(eml).unwrap();
    assert_eq!(
        msg.part("1")
            .unwrap()
            .body()
            .text()
            .map(|t| t.replace("\r\n", "\n")),
        Some(SIGNED_TEXT.to_owned())
    );
    assert_eq!(msg.from_address().as_deref(), Some("alice@example.org"));
}

#[test]
fn smime_openssl_text_signature_verifies_over_our_split_crlf_input() {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let crlf = to_crlf(SIGNED_TEXT.as_bytes());
    let eml = openssl_smime_sign(dir.path(), &crlf, true);
    verify_with_our_split(dir.path(), &eml, &[OsStr::new("-noverify")]);
}

/// The whole message stored with LF line endings: our parser's `signed_bytes` puts the CRLF
/// back, and the signature still verifies.
#[test]
fn smime_openssl_signature_verifies_after_lf_storage() {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let eml = openssl_smime_sign(dir.path(), SIGNED_TEXT.as_bytes(), true);
    let lf = String::from_utf8(eml).unwrap().replace("\r\n", "\n");
    assert!(!lf.contains('\r'));
    verify_with_our_split(dir.path(), lf.as_bytes(), &[OsStr::new("-noverify")]);
}

/// A MIME entity (our own builder's, with LF line endings) signed by OpenSSL without `-text`:
/// OpenSSL canonicalises it to CRLF, and the signature verifies over our split.
#[test]
fn smime_openssl_signature_over_a_mime_entity() {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let body = MessageBuilder::new()
        .text_body("plain ASCII text\nsecond line\n")
        .attachment("x.bin", "application/octet-stream", vec![1, 2, 3, 0, 255])
        .build_body()
        .unwrap();
    let lf_body = String::from_utf8(body).unwrap().replace("\r\n", "\n");
    let eml = openssl_smime_sign(dir.path(), lf_body.as_bytes(), false);
    let signed = verify_with_our_split(dir.path(), &eml, &[OsStr::new("-noverify")]);
    assert_eq!(signed, to_crlf(lf_body.as_bytes()));
}

/// The checked-in fixture (testdata/mime/smime-signed-openssl.eml), verified over our split
/// with full chain validation against its own self-signed certificate.
#[test]
fn smime_checked_in_fixture_verifies_over_our_split() {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let mime_dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "testdata", "mime"]
        .iter()
        .collect();
    let eml = std::fs::read(mime_dir.join("smime-signed-openssl.eml")).unwrap();
    let ca = mime_dir.join("smime-signer.pem");
    verify_with_our_split(
        dir.path(),
        &eml,
        &[
            OsStr::new("-CAfile"),
            ca.as_os_str(),
            OsStr::new("-purpose"),
            OsStr::new("any"),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// (c) OpenPGP with GnuPG

/// A temporary GNUPGHOME with a throw-away Ed25519 signing key; the agent is stopped on drop.
struct GpgHome {
    dir: tempfile::TempDir,
}

impl GpgHome {
    fn new() -> Self {
        require("gpg");
        let dir = tempfile::tempdir().unwrap();
        let home = GpgHome { dir };
        let out = home.gpg([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Test <t@example.org>",
            "ed25519",
            "sign",
            "never",
        ]);
        assert_ok("gpg --quick-gen-key", &out);
        home
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn gpg<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run("gpg", args, &[("GNUPGHOME", self.dir.path())])
    }

    fn sign_detached(&self, content: &Path, sig: &Path) {
        let out = self.gpg([
            OsStr::new("--batch"),
            OsStr::new("--yes"),
            OsStr::new("--pinentry-mode"),
            OsStr::new("loopback"),
            OsStr::new("--passphrase"),
            OsStr::new(""),
            OsStr::new("--armor"),
            OsStr::new("--digest-algo"),
            OsStr::new("SHA256"),
            OsStr::new("--detach-sign"),
            OsStr::new("-o"),
            sig.as_os_str(),
            content.as_os_str(),
        ]);
        assert_ok("gpg --detach-sign", &out);
    }

    fn verify(&self, sig: &Path, content: &Path) -> Output {
        self.gpg([
            OsStr::new("--batch"),
            OsStr::new("--verify"),
            sig.as_os_str(),
            content.as_os_str(),
        ])
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        // Stop the agent this test started (it lives as long as its home otherwise).
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.dir.path())
            .output();
    }
}

#[test]
fn openpgp_signature_over_our_canonical_form_verifies_in_gpg() {
    let home = GpgHome::new();
    let work = tempfile::tempdir().unwrap();
    let d = work.path();

    let canonical = canonicalize(&awkward_body()).unwrap();
    let content = write(d, "content.bin", &canonical);
    let sig_path = d.join("sig.asc");
    home.sign_detached(&content, &sig_path);
    let sig = std::fs::read(&sig_path).unwrap();
    assert!(sig.starts_with(b"-----BEGIN PGP SIGNATURE-----"));
    assert_ok(
        "gpg --verify of the canonical bytes",
        &home.verify(&sig_path, &content),
    );

    // The hash gpg used, as micalg names it: SHA256 is OpenPGP hash algorithm 8.
    let packets = home.gpg([OsStr::new("--list-packets"), sig_path.as_os_str()]);
    assert_ok("gpg --list-packets", &packets);
    let listing = String::from_utf8_lossy(&packets.stdout);
    assert!(listing.contains("digest algo 8"), "{listing}");

    // gpg writes armor with LF line endings; as a MIME part it gets CRLF.
    let sig_crlf = to_crlf(&sig);
    let entity =
        signed_multipart(&canonical, &sig_crlf, SignatureKind::OpenPgp, "pgp-sha256").unwrap();
    let message = wrap(&message_headers(), &entity).unwrap();
    let message_path = write(d, "message.eml", &message);
    assert!(message_path.exists());

    // Through our parser.
    let parsed = Message::parse(message.clone()).unwrap();
    assert_eq!(
        parsed.root().protection(),
        Some(&Protection::PgpMimeSigned {
            micalg: Some("pgp-sha256".into())
        })
    );
    let sp = SignedParts::of(parsed.root()).unwrap();
    assert_eq!(sp.protocol, "application/pgp-signature");
    assert_eq!(sp.signature.protection(), Some(&Protection::PgpSignature));
    let ours = write(d, "ours.bin", &sp.signed_bytes());
    let ours_sig = write(d, "ours.asc", sp.signature.body().bytes());
    assert_ok(
        "gpg --verify over our parser's split",
        &home.verify(&ours_sig, &ours),
    );

    // Independently of our parser: split the message by bytes.
    let boundary = top_boundary(&message);
    let parts = split_by_boundary(&message, &boundary);
    assert_eq!(parts.len(), 2);
    let first = write(d, "first.bin", &message[parts[0].clone()]);
    let second = write(d, "second.asc", &message[parts[1].clone()]);
    // The second part is a MIME entity: its headers, a blank line, the armor.
    let second_bytes = std::fs::read(&second).unwrap();
    let armor_at = second_bytes.windows(5).position(|w| w == b"-----").unwrap();
    let armor = write(d, "armor.asc", &second_bytes[armor_at..]);
    assert_ok(
        "gpg --verify over an independent split",
        &home.verify(&armor, &first),
    );
    assert_eq!(std::fs::read(&first).unwrap(), sp.signed_bytes());

    // Stored with LF line endings: our signed_bytes restores CRLF, and it still verifies.
    let lf = String::from_utf8(message.clone())
        .unwrap()
        .replace("\r\n", "\n");
    let lf_parsed = Message::parse(lf.into_bytes()).unwrap();
    let lf_sp = SignedParts::of(lf_parsed.root()).unwrap();
    assert_eq!(lf_sp.signed_bytes(), canonical);

    // Tampered: one bit of the signed text changed.
    let tampered = tamper(&message, b"Alice\r\n");
    let t_parsed = Message::parse(tampered).unwrap();
    let t_sp = SignedParts::of(t_parsed.root()).unwrap();
    let t_content = write(d, "tampered.bin", &t_sp.signed_bytes());
    assert_fails(
        "gpg --verify of tampered content",
        &home.verify(&ours_sig, &t_content),
    );
    // A changed header in the signed part is caught too.
    let t2 = tamper(&message, b"Content-Transfer-Encoding: quoted-printable");
    let t2_parsed = Message::parse(t2).unwrap();
    let t2_content = write(
        d,
        "tampered2.bin",
        &SignedParts::of(t2_parsed.root()).unwrap().signed_bytes(),
    );
    assert_fails(
        "gpg --verify of a tampered header",
        &home.verify(&ours_sig, &t2_content),
    );
    // And the key made for this test is the one that signed.
    let listing = home.gpg(["--batch", "--list-keys", "t@example.org"]);
    assert_ok("gpg --list-keys", &listing);
    assert!(home.path().exists());
}
