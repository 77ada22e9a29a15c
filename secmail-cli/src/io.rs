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
    /// An existing `--out` that is not a regular file (a device such as `/dev/null`, a FIFO,
    /// a terminal), written to directly like stdout: renaming a file onto it would replace
    /// the device node itself.
    Special(fs::File),
    /// A temporary file beside `target`, renamed onto it by [`Output::commit`].
    File {
        /// The temporary file.
        tmp: TempOutput,
        /// Where it goes on success.
        target: PathBuf,
    },
}

impl Output {
    /// Opens `--out` (or stdout).
    pub fn open(path: Option<&Path>) -> Result<Output> {
        match path {
            None => Ok(Output::Stdout(io::stdout().lock())),
            Some(target) => {
                // Through a symbolic link to what it names, so that the link stays a link.
                let target = match fs::symlink_metadata(target) {
                    Ok(m) if m.file_type().is_symlink() => {
                        fs::canonicalize(target).unwrap_or_else(|_| target.to_owned())
                    }
                    _ => target.to_owned(),
                };
                match fs::metadata(&target) {
                    Ok(m) if m.is_dir() => anyhow::bail!("{} is a directory", target.display()),
                    Ok(m) if !m.is_file() => {
                        let f = fs::OpenOptions::new()
                            .write(true)
                            .open(&target)
                            .with_context(|| format!("cannot open {}", target.display()))?;
                        return Ok(Output::Special(f));
                    }
                    _ => {}
                }
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
                    tmp: TempOutput {
                        tmp,
                        written: 0,
                        hinted: 0,
                    },
                    target,
                })
            }
        }
    }

    /// Flushes and, for a (regular) file, syncs it, renames it into place and syncs the directory, so
    /// that after `Ok` the output survives a crash whole (or, before the rename reached the
    /// disk, the target keeps what it had: never a part of the new output).
    pub fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut s) => s.flush().context("cannot write to stdout"),
            Output::Special(mut f) => f.flush().context("cannot write the output"),
            Output::File { tmp, target } => {
                let TempOutput { mut tmp, .. } = tmp;
                tmp.flush().context("cannot write the output")?;
                tmp.as_file().sync_all().context("cannot sync the output")?;
                tmp.persist(&target)
                    .with_context(|| format!("cannot create {}", target.display()))?;
                sync_dir(&target);
                Ok(())
            }
        }
    }
}

/// Makes a rename in `target`'s directory durable (best effort: on an error the output is
/// complete and in place, only not yet known to be on disk; some file systems refuse fsync on
/// a directory).
fn sync_dir(target: &Path) {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// How much output is written between two writeback hints.
const WRITEBACK_STEP: u64 = 8 << 20;

/// The temporary output file. Every [`WRITEBACK_STEP`] bytes it asks the kernel to start
/// writing the finished range to disk without waiting (Linux `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`), so that the `fsync` in [`Output::commit`] waits for the last few
/// MiB instead of the whole file: 40-57 ms for 64 MiB on this project's test machine before,
/// 4-7 ms with the hints (benches/notes-pgp-speed.md). The hints change nothing about what is
/// durable when: `commit` still syncs everything.
pub struct TempOutput {
    tmp: tempfile::NamedTempFile,
    written: u64,
    hinted: u64,
}

impl secmail_pgp::Discard for TempOutput {
    fn discard(&mut self) -> io::Result<()> {
        self.tmp.as_file_mut().discard()?;
        self.written = 0;
        self.hinted = 0;
        Ok(())
    }
}

impl Write for TempOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.written += n as u64;
        if self.written - self.hinted >= WRITEBACK_STEP {
            start_writeback(self.tmp.as_file(), self.hinted, self.written - self.hinted);
            self.hinted = self.written;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// Asks the kernel to start writing `len` bytes at `offset` of `file` to disk, without
/// waiting. A hint: errors are ignored (the `fsync` at commit reports any real one).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn start_writeback(file: &fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // Written by hand over libc because neither std nor rustix wraps sync_file_range.
    // SAFETY: the descriptor is open for the whole call (borrowed from `file`); the call takes
    // integers only and touches no memory of ours.
    let _ = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &fs::File, _offset: u64, _len: u64) {}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(s) => s.write(buf),
            Output::Special(f) => f.write(buf),
            Output::File { tmp, .. } => tmp.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::Special(f) => f.flush(),
            Output::File { tmp, .. } => tmp.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use secmail_pgp::Discard;

    #[test]
    fn output_file_appears_whole_on_commit_only() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        fs::write(&target, b"old").unwrap();
        let data: Vec<u8> = (0..(WRITEBACK_STEP as usize * 2 + 12_345))
            .map(|i| (i % 253) as u8)
            .collect();
        let mut out = Output::open(Some(&target)).unwrap();
        for piece in data.chunks(1 << 20) {
            out.write_all(piece).unwrap();
        }
        // Past two writeback hints, the target is still the old file.
        assert_eq!(fs::read(&target).unwrap(), b"old");
        out.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), data);
        // Only the target is left in the directory.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn devices_fifos_and_links_are_written_through_not_replaced() {
        use std::os::unix::fs::{FileTypeExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        // A FIFO (like /dev/null, which a rename used to replace by a regular file: as root
        // that destroyed the machine's /dev/null): written through, still a FIFO afterwards.
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo failed");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        let mut out = Output::open(Some(&fifo)).unwrap();
        assert!(matches!(out, Output::Special(_)));
        out.write_all(b"through the pipe").unwrap();
        out.commit().unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        // A link to a regular file: the file gets the output, the link stays a link.
        let real = dir.path().join("real.txt");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.txt");
        symlink(&real, &link).unwrap();
        let mut out = Output::open(Some(&link)).unwrap();
        out.write_all(b"new").unwrap();
        out.commit().unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        // A directory is refused.
        assert!(Output::open(Some(dir.path())).is_err());
    }

    #[test]
    fn discarded_output_is_empty_and_dropped_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let mut out = Output::open(Some(&target)).unwrap();
        let Output::File { tmp, .. } = &mut out else {
            panic!("a named output is a file");
        };
        tmp.write_all(&vec![7u8; WRITEBACK_STEP as usize + 1])
            .unwrap();
        tmp.discard().unwrap();
        assert_eq!(tmp.tmp.as_file().metadata().unwrap().len(), 0);
        tmp.write_all(b"after").unwrap();
        drop(out);
        assert!(!target.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
