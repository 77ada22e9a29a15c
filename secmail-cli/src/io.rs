//! Input and output for commands: `--in FILE` (default stdin), `--out FILE` (default stdout).
//!
//! An output file is written to a temporary file in the same directory and renamed over the
//! target only when the command succeeded, so a failed command leaves no output file behind
//! (and never a partial one).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Reads all of `--in` (or stdin), refusing more than `limit` bytes.
// Unused until the MIME commands land; without the allow, clippy -D warnings fails.
pub fn read_input(path: Option<&Path>, limit: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let read = match path {
        Some(p) => fs::File::open(p)
            .with_context(|| format!("cannot open {}", p.display()))?
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf),
        None => io::stdin()
            .lock()
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf),
    };
    read.context("cannot read the input")?;
    if buf.len() as u64 > limit {
        anyhow::bail!("the input is larger than {limit} bytes");
    }
    Ok(buf)
}

/// Where a command's output goes. Nothing reaches a named file until [`Output::commit`].
pub enum Output {
    /// Standard output.
    Stdout(io::StdoutLock<'static>),
    /// A temporary file beside `target`, renamed onto it by [`Output::commit`].
    File {
        tmp: tempfile::NamedTempFile,
        target: PathBuf,
    },
}

impl Output {
    /// Opens `--out` (or stdout).
    pub fn open(path: Option<&Path>) -> Result<Output> {
        match path {
            None => Ok(Output::Stdout(io::stdout().lock())),
            Some(target) => {
                let dir = match target.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let tmp = tempfile::Builder::new()
                    .prefix(".secmail-")
                    .suffix(".tmp")
                    .tempfile_in(dir)
                    .with_context(|| format!("cannot create a file in {}", dir.display()))?;
                Ok(Output::File {
                    tmp,
                    target: target.to_owned(),
                })
            }
        }
    }

    /// Flushes and, for a file, syncs it and renames it into place.
    pub fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut s) => s.flush().context("cannot write to stdout"),
            Output::File { mut tmp, target } => {
                tmp.flush().context("cannot write the output")?;
                tmp.as_file().sync_all().context("cannot sync the output")?;
                tmp.persist(&target)
                    .with_context(|| format!("cannot create {}", target.display()))?;
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(s) => s.write(buf),
            Output::File { tmp, .. } => tmp.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::File { tmp, .. } => tmp.flush(),
        }
    }
}
