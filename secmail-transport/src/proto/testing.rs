//! Test harnesses shared by the three session state machines (compiled for tests only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::error::Result;

/// What one action of a session meant for the script driving it.
pub(crate) enum Flow<O> {
    /// Go on asking for actions.
    Continue,
    /// The session needs more bytes (or a TLS handshake): the step ends.
    Stop,
    /// The operation finished.
    Done(O),
}

/// A session the byte-script harness can drive.
pub(crate) trait Scripted: Sized {
    type Outcome;
    fn feed(&mut self, bytes: &[u8]) -> Result<()>;
    /// Asks the session for its next action and records it in the script.
    fn act(script: &mut Script<Self>) -> Result<Flow<Self::Outcome>>;
}

/// A session fed scripted server bytes, with everything it did recorded.
pub(crate) struct Script<S> {
    pub(crate) s: S,
    /// What it wrote to the server.
    pub(crate) wire: Vec<u8>,
    /// TLS handshakes it asked for.
    pub(crate) starttls: usize,
    /// Data handed out, rendered (IMAP responses).
    pub(crate) data: Vec<String>,
    /// Message bytes handed out (IMAP streamed literals, POP3 RETR bodies).
    pub(crate) received: Vec<u8>,
    /// The message body given when asked for (SMTP DATA).
    pub(crate) body: Vec<u8>,
}

impl<S: Scripted> Script<S> {
    pub(crate) fn with(s: S) -> Script<S> {
        Script {
            s,
            wire: Vec::new(),
            starttls: 0,
            data: Vec::new(),
            received: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Feeds `server`, then runs the session until it needs more or finishes.
    pub(crate) fn step(&mut self, server: &[u8]) -> Result<Option<S::Outcome>> {
        self.s.feed(server)?;
        loop {
            match S::act(self)? {
                Flow::Continue => {}
                Flow::Stop => return Ok(None),
                Flow::Done(o) => return Ok(Some(o)),
            }
        }
    }

    /// What it wrote since the last call, as text.
    pub(crate) fn wrote(&mut self) -> String {
        String::from_utf8(std::mem::take(&mut self.wire)).unwrap()
    }
}

/// Runs `f` on `script` and on `rounds` mutations of it (bytes flipped, cut, repeated,
/// removed; deterministic): for the "never panics, whatever the server says" tests.
pub(crate) fn mutations(script: &[u8], rounds: usize, mut f: impl FnMut(&[u8])) {
    let mut x: u32 = 0x9e37_79b9;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as usize
    };
    f(script);
    for _ in 0..rounds {
        let mut m = script.to_vec();
        for _ in 0..1 + rnd() % 4 {
            let i = rnd() % m.len();
            match rnd() % 4 {
                0 => m[i] = rnd() as u8,
                1 => m.truncate(i),
                2 => {
                    let tail = m[i..].to_vec();
                    m.extend_from_slice(&tail[..tail.len().min(40)]);
                }
                _ => {
                    m.remove(i);
                }
            }
            if m.is_empty() {
                break;
            }
        }
        f(&m);
    }
}
