//! The MDC's SHA-1 over the decrypted buffers themselves, shared with the output writer.
//!
//! SEIPDv1 decryption here is: read, AES-ECB + XOR (CFB decryption), write — and SHA-1 of
//! all of it, which at about 1 GB/s (OpenSSL, SHA-NI) is the slowest part and serial. Past the
//! first buffer, SHA-1 runs on a thread of its own: each decrypted buffer is frozen in an
//! [`Arc`] and handed by reference to both the hashing thread and the main thread, which
//! parses and writes it meanwhile (no copy into a hash batch). The thread hands each buffer
//! back when it is done with it; the main thread reuses it once it dropped its own reference.
//! At most [`POOL`] buffers exist: when the hashing thread lags, the main thread waits for
//! a buffer instead of allocating (memory stays flat whatever the message size).

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use crate::seipdv1::Mdc;

/// A decrypted buffer, shared between the main thread and the hashing thread.
pub(crate) type Shared = Arc<Vec<u8>>;

/// How many buffers may exist at once (in use by the main thread, queued, being hashed).
pub(crate) const POOL: usize = 8;

/// Hash `pre`, then `buf[range]`.
struct Job {
    pre: Vec<u8>,
    buf: Option<(Shared, Range<usize>)>,
}

enum State {
    Inline(Mdc),
    Thread {
        tx: SyncSender<Job>,
        back: Receiver<Shared>,
        handle: JoinHandle<io::Result<[u8; 20]>>,
    },
    Done,
}

/// SHA-1 over a sequence of shared buffers (see the module documentation).
pub(crate) struct SharedMdc {
    state: State,
    /// A buffer the main thread may reuse at once.
    spare: Option<Vec<u8>>,
    /// Buffers allocated so far (at most [`POOL`]).
    allocated: usize,
}

fn stopped() -> io::Error {
    io::Error::other("the MDC thread stopped")
}

fn hash(mdc: &mut Mdc, job: &Job) -> io::Result<()> {
    mdc.update(&job.pre)?;
    if let Some((buf, range)) = &job.buf {
        let data = buf
            .get(range.clone())
            .ok_or_else(|| io::Error::other("MDC range outside its buffer"))?;
        mdc.update(data)?;
    }
    Ok(())
}

impl SharedMdc {
    /// Hashes inline until [`SharedMdc::parallel`]; `allocated` buffers exist already.
    pub(crate) fn new(allocated: usize) -> io::Result<Self> {
        Ok(SharedMdc {
            state: State::Inline(Mdc::new()?),
            spare: None,
            allocated,
        })
    }

    /// Moves the hashing to its own thread (for messages of more than one buffer).
    pub(crate) fn parallel(&mut self) -> io::Result<()> {
        let State::Inline(mut mdc) = std::mem::replace(&mut self.state, State::Done) else {
            return Err(io::Error::other("MDC hasher in a bad state"));
        };
        let (tx, rx) = sync_channel::<Job>(POOL);
        let (give_back, back) = sync_channel::<Shared>(POOL);
        let handle = std::thread::Builder::new()
            .name("secmail-pgp-mdc".into())
            .spawn(move || {
                for job in rx {
                    hash(&mut mdc, &job)?;
                    if let Some((buf, _)) = job.buf {
                        // Never blocks: at most POOL buffers exist.
                        let _ = give_back.try_send(buf);
                    }
                }
                mdc.finish()
            })?;
        self.state = State::Thread { tx, back, handle };
        Ok(())
    }

    /// Hashes `pre` and then `buf[range]` (on the thread, if started: `buf` is shared, not
    /// copied; `pre` is a few bytes).
    pub(crate) fn hash(&mut self, pre: &[u8], buf: &Shared, range: Range<usize>) -> io::Result<()> {
        let job = Job {
            pre: pre.to_vec(),
            buf: (!range.is_empty()).then(|| (buf.clone(), range)),
        };
        match &mut self.state {
            State::Inline(mdc) => hash(mdc, &job),
            State::Thread { tx, .. } => tx.send(job).map_err(|_| stopped()),
            State::Done => Err(io::Error::other("MDC hasher in a bad state")),
        }
    }

    /// The main thread is done with `buf`.
    pub(crate) fn recycle(&mut self, buf: Shared) {
        if let Ok(v) = Arc::try_unwrap(buf) {
            self.spare = Some(v);
        }
        // Else the hashing thread holds it and hands it back when it is done.
    }

    /// A buffer of `len` bytes (contents unspecified): a recycled one, a new one while fewer
    /// than [`POOL`] exist, else the next one the hashing thread hands back.
    pub(crate) fn buffer(&mut self, len: usize) -> io::Result<Vec<u8>> {
        let sized = |mut v: Vec<u8>| {
            v.resize(len, 0);
            v
        };
        if let Some(v) = self.spare.take() {
            return Ok(sized(v));
        }
        if let State::Thread { back, .. } = &self.state {
            loop {
                match back.try_recv() {
                    Ok(b) => match Arc::try_unwrap(b) {
                        Ok(v) => return Ok(sized(v)),
                        // Still referenced elsewhere (not by design): let it go.
                        Err(_) => self.allocated = self.allocated.saturating_sub(1),
                    },
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Err(stopped()),
                }
            }
            if self.allocated >= POOL {
                let b = back.recv().map_err(|_| stopped())?;
                if let Ok(v) = Arc::try_unwrap(b) {
                    return Ok(sized(v));
                }
            }
        }
        self.allocated += 1;
        Ok(vec![0u8; len])
    }

    /// Hashes `tail` last and returns the digest (joining the thread).
    pub(crate) fn finish(self, tail: &[u8]) -> io::Result<[u8; 20]> {
        match self.state {
            State::Inline(mut mdc) => {
                mdc.update(tail)?;
                mdc.finish()
            }
            State::Thread { tx, back, handle } => {
                tx.send(Job {
                    pre: tail.to_vec(),
                    buf: None,
                })
                .map_err(|_| stopped())?;
                drop(tx);
                drop(back);
                handle
                    .join()
                    .map_err(|_| io::Error::other("the MDC thread panicked"))?
            }
            State::Done => Err(io::Error::other("MDC hasher in a bad state")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn threaded_and_inline_agree_and_buffers_are_bounded() {
        let data: Vec<u8> = (0..(3 << 20) + 123u32).map(|i| (i * 31) as u8).collect();
        let mut one = Mdc::new().unwrap();
        one.update(&data).unwrap();
        let want = one.finish().unwrap();
        for (piece, threaded) in [(1000usize, false), (1 << 20, true), (77_777, true)] {
            let mut h = SharedMdc::new(0).unwrap();
            if threaded {
                h.parallel().unwrap();
            }
            let chunks: Vec<&[u8]> = data.chunks(piece).collect();
            for (i, c) in chunks.iter().enumerate() {
                let mut b = h.buffer(c.len() + 16).unwrap();
                b[16..].copy_from_slice(c);
                let b = Arc::new(b);
                if i + 1 == chunks.len() {
                    // The last 5 bytes go through `finish`, 3 as a `pre`.
                    h.hash(&[], &b, 16..16 + c.len() - 5).unwrap();
                    h.recycle(b);
                    let tail = &c[c.len() - 5..];
                    let empty = Arc::new(Vec::new());
                    h.hash(&tail[..3], &empty, 0..0).unwrap();
                    assert_eq!(h.finish(&tail[3..]).unwrap(), want);
                    break;
                }
                h.hash(&[], &b, 16..16 + c.len()).unwrap();
                h.recycle(b);
                assert!(h.allocated <= POOL);
            }
        }
    }
}
