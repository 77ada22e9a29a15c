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

/// An RFC 5322 date (UTC, no weekday) `days` days and one hour before now: message dates
/// that stay in the past and keep their distances whenever the tests run.
pub fn date_days_ago(days: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    let t = now - days * 86_400 - 3_600;
    let (day, rem) = ((t / 86_400) as i64, t % 86_400);
    // Civil date from days since 1970-01-01 (the proleptic Gregorian calendar in 400-year
    // eras of 146 097 days, each starting on 1 March so that the leap day ends a year).
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{d:02} {} {y} {:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}
