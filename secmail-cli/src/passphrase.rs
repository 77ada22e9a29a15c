//! `secmail passphrase encrypt|decrypt`: the passphrase container (docs/passphrase-format.md).
//!
//! Both stream: memory stays at a chunk or two whatever the input size. Output goes through
//! [`Output`], so a failed command leaves no output file (and never a partial one). On stdout
//! that is impossible: a failed decryption may already have written the chunks that
//! authenticated, and the exit status (1) is what tells the caller to discard them.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use secmail_core::passphrase::{
    Argon2Params, Cipher, Decryptor, EncryptOptions, Encryptor, Passphrase, from_io,
};

use crate::io::Output;

/// The largest passphrase file read (a passphrase, not a key file).
const MAX_PASSPHRASE_FILE: u64 = 64 * 1024;
/// Read size when copying: a few chunks at a time.
const COPY_BUF: usize = 256 * 1024;

#[derive(Subcommand)]
pub enum Command {
    /// Encrypt --in (or stdin) under a passphrase, to --out (or stdout).
    Encrypt(EncryptArgs),
    /// Decrypt a passphrase container, binary or armored (detected), from --in (or stdin).
    Decrypt(DecryptArgs),
}

#[derive(Args)]
pub struct EncryptArgs {
    /// File holding the passphrase; one trailing newline (LF or CR LF) is removed, nothing else.
    #[arg(long, value_name = "FILE")]
    passphrase_file: PathBuf,
    /// Write the ASCII-armored form, for pasting into an email body.
    #[arg(long)]
    armor: bool,
    /// The AEAD that seals the payload.
    #[arg(long, value_enum, default_value_t = CipherArg::Aes256Gcm)]
    cipher: CipherArg,
    /// Argon2id costs: recommended (64 MiB, t=3, p=4; RFC 9106) or interactive (19 MiB, t=2, p=1).
    #[arg(long, value_enum, default_value_t = KdfArg::Recommended)]
    kdf: KdfArg,
    /// Input file (default: stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output file (default: stdout); written only if the command succeeds.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct DecryptArgs {
    /// File holding the passphrase; one trailing newline (LF or CR LF) is removed, nothing else.
    #[arg(long, value_name = "FILE")]
    passphrase_file: PathBuf,
    /// Input file (default: stdin).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output file (default: stdout); written only if the whole container authenticated.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum CipherArg {
    #[value(name = "aes-256-gcm")]
    Aes256Gcm,
    #[value(name = "chacha20-poly1305")]
    ChaCha20Poly1305,
}

#[derive(Clone, Copy, ValueEnum)]
enum KdfArg {
    Recommended,
    Interactive,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Encrypt(a) => encrypt(a),
        Command::Decrypt(a) => decrypt(a),
    }
}

fn encrypt(a: EncryptArgs) -> Result<()> {
    let pass = read_passphrase(&a.passphrase_file)?;
    let mut input = open_input(a.input.as_deref())?;
    let options = EncryptOptions::new()
        .cipher(match a.cipher {
            CipherArg::Aes256Gcm => Cipher::Aes256Gcm,
            CipherArg::ChaCha20Poly1305 => Cipher::ChaCha20Poly1305,
        })
        .kdf(match a.kdf {
            KdfArg::Recommended => Argon2Params::recommended(),
            KdfArg::Interactive => Argon2Params::interactive(),
        })
        .armor(a.armor);
    let output = Output::open(a.output.as_deref())?;
    let mut enc = Encryptor::new(output, &pass, &options)?;
    copy(&mut input, &mut enc).context("cannot encrypt the input")?;
    enc.finish()?.commit()
}

fn decrypt(a: DecryptArgs) -> Result<()> {
    let pass = read_passphrase(&a.passphrase_file)?;
    let input = open_input(a.input.as_deref())?;
    let dec = Decryptor::new(input, &pass)?;
    drop(pass);
    let mut output = Output::open(a.output.as_deref())?;
    // On failure `output` is dropped uncommitted: its temporary file goes away.
    pipelined_copy(dec, &mut output).map_err(from_io)?;
    output.commit()
}

/// How many filled buffers may wait for the writer (memory: `PIPE_DEPTH + 2` buffers of
/// [`COPY_BUF`], about 1.5 MiB, whatever the input size).
const PIPE_DEPTH: usize = 4;

/// Copies `from` (a [`Decryptor`]) to `to`, opening chunks on a second thread while this one
/// writes the chunks before them: on two cores, decryption and the kernel's copy into the
/// page cache overlap instead of taking turns. What reaches `to` is exactly what the
/// decryptor released, in order: only chunks whose tags verified, as with [`copy`]. The first
/// error (reading, decrypting or writing) ends both sides and is returned.
fn pipelined_copy<R: Read + Send>(mut from: R, to: &mut dyn Write) -> io::Result<()> {
    // Full buffers go to the writer; empty ones come back to be filled again.
    let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(PIPE_DEPTH);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            loop {
                let mut buf = empty_rx.try_recv().unwrap_or_else(|_| vec![0u8; COPY_BUF]);
                let filled = fill(&mut from, &mut buf);
                let done = !matches!(filled, Ok(n) if n == buf.len());
                let msg = filled.map(|n| {
                    buf.truncate(n);
                    buf
                });
                // The writer hung up (its write failed): stop reading.
                if full_tx.send(msg).is_err() || done {
                    return;
                }
            }
        });
        // Returning early drops `full_rx`, which stops the reader at its next send.
        for msg in full_rx {
            let mut buf = msg?;
            if buf.is_empty() {
                break;
            }
            to.write_all(&buf)?;
            buf.resize(COPY_BUF, 0);
            // The reader may have finished already; then the buffer is simply dropped.
            let _ = empty_tx.send(buf);
        }
        Ok(())
    })
}

/// Reads from `from` until `buf` is full or the input ends; returns how much was read.
fn fill(from: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match from.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn copy(from: &mut dyn Read, to: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; COPY_BUF];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
    }
}

/// The input: `Send`, so that decryption can run on its own thread (standard input is read
/// through [`io::Stdin`], which locks per read; reads are a chunk or more at a time).
fn open_input(path: Option<&Path>) -> Result<Box<dyn Read + Send>> {
    Ok(match path {
        Some(p) => {
            Box::new(fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?)
        }
        None => Box::new(io::stdin()),
    })
}

/// Reads the passphrase file and removes one trailing line end: `printf 'pw\n' > f` and
/// `echo pw > f` give the passphrase `pw`; any other whitespace is part of the passphrase.
fn read_passphrase(path: &Path) -> Result<Passphrase> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_PASSPHRASE_FILE + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
    if bytes.len() as u64 > MAX_PASSPHRASE_FILE {
        anyhow::bail!(
            "the passphrase file {} is larger than {MAX_PASSPHRASE_FILE} bytes",
            path.display()
        );
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    let pass = Passphrase::new(bytes);
    if pass.is_empty() {
        anyhow::bail!(
            "the passphrase file {} holds an empty passphrase",
            path.display()
        );
    }
    Ok(pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `data` in odd-sized reads, then fails if `fail` (a chunk that did not verify).
    struct Source {
        data: Vec<u8>,
        pos: usize,
        fail: bool,
    }

    impl Read for Source {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() {
                return if self.fail {
                    Err(io::Error::other("chunk failed"))
                } else {
                    Ok(0)
                };
            }
            let n = out.len().min(70_001).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn source(len: usize, fail: bool) -> Source {
        let data = (0..len).map(|i| (i % 251) as u8).collect();
        Source { data, pos: 0, fail }
    }

    #[test]
    fn pipelined_copy_writes_everything_in_order() {
        for len in [
            0,
            1,
            COPY_BUF - 1,
            COPY_BUF,
            COPY_BUF + 1,
            10 * COPY_BUF + 7,
        ] {
            let src = source(len, false);
            let want = src.data.clone();
            let mut out = Vec::new();
            pipelined_copy(src, &mut out).unwrap();
            assert_eq!(out, want, "len {len}");
        }
    }

    #[test]
    fn pipelined_copy_returns_the_readers_error_after_what_came_before_it() {
        let src = source(3 * COPY_BUF + 5, true);
        let mut out = Vec::new();
        assert!(pipelined_copy(src, &mut out).is_err());
        // Only whole buffers that were read before the failure can have been written.
        assert!(out.len() <= 3 * COPY_BUF);
    }

    #[test]
    fn a_failed_write_stops_the_reader() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        // Far more than the channel holds: the reader would block on it forever if the
        // writer's failure did not hang up on it.
        let src = source(8 * (PIPE_DEPTH + 2) * COPY_BUF, false);
        assert!(pipelined_copy(src, &mut Full).is_err());
    }
}
