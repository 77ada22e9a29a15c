//! `secmail passphrase` run as a program: round trips, and failures that leave no output file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod run;

use run::secmail;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("pw"), "correct horse battery staple\n").unwrap();
    fs::write(dir.path().join("pw-bare"), "correct horse battery staple").unwrap();
    fs::write(
        dir.path().join("pw-crlf"),
        "correct horse battery staple\r\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("pw-two-newlines"),
        "correct horse battery staple\n\n",
    )
    .unwrap();
    fs::write(dir.path().join("wrong"), "Tr0ub4dor&3\n").unwrap();
    dir
}

fn encrypt(dir: &Path, input: &str, out: &str, extra: &[&str]) {
    let mut args = vec![
        "passphrase",
        "encrypt",
        "--passphrase-file",
        "pw",
        "--kdf",
        "interactive",
        "--in",
        input,
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    let o = secmail(&args, dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn every_size_round_trips_through_files() {
    let dir = setup();
    let d = dir.path();
    for len in [0usize, 1, 65536, 65537, 300_000] {
        let pt: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        fs::write(d.join("plain"), &pt).unwrap();
        for extra in [
            &[][..],
            &["--armor"][..],
            &["--cipher", "chacha20-poly1305"][..],
            &["--armor", "--cipher", "aes-256-gcm"][..],
        ] {
            encrypt(d, "plain", "sealed", extra);
            let sealed = fs::read(d.join("sealed")).unwrap();
            assert_eq!(
                sealed.starts_with(b"-----BEGIN SECMAIL"),
                extra.contains(&"--armor"),
                "{extra:?}"
            );
            // The passphrase file's one trailing newline is stripped, LF or CR LF.
            for pw in ["pw", "pw-bare", "pw-crlf"] {
                let o = secmail(
                    &[
                        "passphrase",
                        "decrypt",
                        "--passphrase-file",
                        pw,
                        "--in",
                        "sealed",
                        "--out",
                        "back",
                    ],
                    d,
                );
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                assert_eq!(fs::read(d.join("back")).unwrap(), pt, "len {len} {extra:?}");
            }
        }
    }
}

#[test]
fn stdin_to_stdout() {
    let dir = setup();
    let d = dir.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_secmail"))
        .args([
            "passphrase",
            "encrypt",
            "--passphrase-file",
            "pw",
            "--kdf",
            "interactive",
            "--armor",
        ])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"via pipes").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_secmail"))
        .args(["passphrase", "decrypt", "--passphrase-file", "pw"])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, b"via pipes");
}

#[test]
fn a_failed_decrypt_exits_1_and_leaves_no_output_file() {
    let dir = setup();
    let d = dir.path();
    let pt = vec![7u8; 200_000];
    fs::write(d.join("plain"), &pt).unwrap();
    encrypt(d, "plain", "sealed", &[]);
    let sealed = fs::read(d.join("sealed")).unwrap();

    let mut tampered = sealed.clone();
    let at = sealed.len() - 5; // in the last chunk: the first chunks authenticate first
    tampered[at] ^= 1;
    fs::write(d.join("tampered"), &tampered).unwrap();
    fs::write(d.join("truncated"), &sealed[..sealed.len() - 1]).unwrap();
    fs::write(
        d.join("extended"),
        [sealed.clone(), sealed.clone()].concat(),
    )
    .unwrap();
    fs::write(d.join("not-a-container"), b"hello\n").unwrap();

    let cases = [
        ("wrong", "sealed", "wrong passphrase"),
        ("pw-two-newlines", "sealed", "wrong passphrase"),
        ("pw", "tampered", "decryption failed"),
        ("pw", "truncated", "decryption failed"),
        ("pw", "extended", "decryption failed"),
        (
            "pw",
            "not-a-container",
            "not a readable passphrase container",
        ),
    ];
    for (pw, input, message) in cases {
        let o = secmail(
            &[
                "passphrase",
                "decrypt",
                "--passphrase-file",
                pw,
                "--in",
                input,
                "--out",
                "out",
            ],
            d,
        );
        assert_eq!(o.status.code(), Some(1), "{input} with {pw}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(message), "{input}: {stderr}");
        assert!(!d.join("out").exists(), "{input}: an output file was left");
        // Nor any temporary file.
        let leftovers: Vec<_> = fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".secmail-"))
            .collect();
        assert!(leftovers.is_empty(), "{input}: temporary files left");
    }
}

#[test]
fn bad_passphrase_files_are_refused() {
    let dir = setup();
    let d = dir.path();
    fs::write(d.join("empty"), "\n").unwrap();
    fs::write(d.join("plain"), "x").unwrap();
    let o = secmail(
        &[
            "passphrase",
            "encrypt",
            "--passphrase-file",
            "empty",
            "--in",
            "plain",
            "--out",
            "s",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty passphrase"));
    assert!(!d.join("s").exists());
    let o = secmail(
        &[
            "passphrase",
            "encrypt",
            "--passphrase-file",
            "missing",
            "--in",
            "plain",
            "--out",
            "s",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!d.join("s").exists());
    // A usage error is exit 2.
    let o = secmail(&["passphrase", "encrypt", "--cipher", "rot13"], d);
    assert_eq!(o.status.code(), Some(2));
}
