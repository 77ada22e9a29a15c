//! Running the `secmail` binary in a test's directory, and the exit-status checks the
//! command tests share (the transport tests have their own helpers in `common/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `secmail ARGS` in `dir`, with no standard input.
pub fn secmail(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secmail"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run secmail")
}

/// Asserts success; the standard output as text.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `secmail ARGS` in `dir` and asserts success.
pub fn run_ok(args: &[&str], dir: &Path) -> Output {
    let o = secmail(args, dir);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Asserts the failure exit status (1) and that nothing went to standard output.
pub fn fails(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected failure: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty(), "output on failure");
}

/// An RFC 5322 date (UTC) `days` days and one hour before now, by the mail-builder crate
/// secmail-core uses: message dates that stay in the past and keep their distances whenever
/// the tests run.
pub fn date_days_ago(days: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    mail_builder::headers::date::Date::from(now - days * 86_400 - 3_600).to_rfc822()
}
