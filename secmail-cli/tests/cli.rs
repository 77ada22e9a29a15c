//! The `secmail` command as a user runs it: exit codes, output files, JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn secmail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secmail"))
        .args(args)
        .output()
        .expect("run secmail")
}

/// A real multipart message made by another library: Python's `email` package.
fn python_message(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("python.eml");
    let script = r#"
import sys
from email.message import EmailMessage
from email import policy
inner = EmailMessage()
inner["From"] = "carol@example.com"
inner["Subject"] = "inner"
inner.set_content("inner text\n")
inner.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="t.csv")
m = EmailMessage()
m["From"] = "Alice <alice@example.org>"
m["To"] = "bob@example.net"
m["Subject"] = "Grüße"
m.set_content("Hallo Bob, grüße!\n")
m.add_alternative("<p>Hallo Bob</p>", subtype="html")
m.add_attachment(bytes(range(256)), maintype="application", subtype="octet-stream", filename="b.bin")
m.add_attachment(inner)
open(sys.argv[1], "wb").write(m.as_bytes(policy=policy.SMTP))
"#;
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .status()
        .expect("python3 is needed for this test: scripts/test.sh installs it");
    assert!(status.success(), "python3 could not build the message");
    path
}

#[test]
fn inspect_json_shows_the_nested_tree_of_a_python_message() {
    let dir = tempfile::tempdir().unwrap();
    let msg = python_message(dir.path());
    let out = secmail(&["mime", "inspect", "--json", "--in", msg.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["from"], "alice@example.org");
    let parts = v["parts"].as_array().unwrap();
    let shape: Vec<(String, String)> = parts
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap().to_owned(),
                p["content_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        ("", "multipart/mixed"),
        ("1", "multipart/alternative"),
        ("1.1", "text/plain"),
        ("1.2", "text/html"),
        ("2", "application/octet-stream"),
        ("3", "message/rfc822"),
        ("3.1", "multipart/mixed"),
        ("3.1.1", "text/plain"),
        ("3.1.2", "text/csv"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(shape, expect);
    assert_eq!(parts[4]["transfer_encoding"], "base64");
    assert!(parts[0]["params"]["boundary"].as_str().is_some());

    let text = secmail(&["mime", "inspect", "--in", msg.to_str().unwrap()]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert_eq!(text.lines().count(), 9);
    assert!(
        text.lines()
            .nth(8)
            .unwrap()
            .trim_start()
            .starts_with("3.1.2")
    );
}

#[test]
fn a_failed_command_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.eml");
    let nested: String = (0..1000)
        .map(|i| format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"))
        .collect();
    std::fs::write(&bomb, nested).unwrap();
    let out_file = dir.path().join("out.json");
    let out = secmail(&[
        "mime",
        "inspect",
        "--json",
        "--in",
        bomb.to_str().unwrap(),
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("secmail: error: "), "{err}");
    assert!(err.contains("nesting depth"), "{err}");
    assert!(!out_file.exists());
    // No temporary file is left behind either.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn a_successful_command_writes_its_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let msg = python_message(dir.path());
    let out_file = dir.path().join("tree.json");
    let out = secmail(&[
        "mime",
        "inspect",
        "--json",
        "--in",
        msg.to_str().unwrap(),
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(v["parts"].as_array().unwrap().len(), 9);
}

#[test]
fn usage_errors_exit_2_and_missing_input_exits_1() {
    assert_eq!(
        secmail(&["mime", "inspect", "--bogus"]).status.code(),
        Some(2)
    );
    assert_eq!(secmail(&[]).status.code(), Some(2));
    assert_eq!(secmail(&["--help"]).status.code(), Some(0));
    let out = secmail(&["mime", "inspect", "--in", "/nonexistent/file.eml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("secmail: error: cannot open"));
}

#[test]
fn the_demo_runs_to_the_end() {
    let out = secmail(&["demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("== 1. MIME"));
    assert!(stdout.contains("== 2. OpenPGP"));
    assert!(stdout.contains("== 3. S/MIME"));
    assert!(stdout.contains("== 4. Passphrase"));
    assert!(stdout.contains("== 5. "));
    assert!(stdout.contains("demo finished"));
}
