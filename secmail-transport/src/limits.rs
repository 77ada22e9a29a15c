//! Bounds on what a server may make this client hold in memory.

/// Limits on what the server sends. Past each, the session fails with a typed
/// [`ProtocolError`](crate::ProtocolError).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest protocol line (a reply line, a response line without its literals), in bytes
    /// without the CRLF. Default 64 KiB (RFC 5321 asks only 512 of SMTP replies).
    pub max_line: usize,
    /// Most lines in one multi-line reply (SMTP EHLO, POP3 CAPA/LIST/UIDL, IMAP untagged
    /// responses before the tagged one). Default 100 000 (a mailbox listing of that many
    /// messages).
    pub max_reply_lines: usize,
    /// Largest message (POP3 RETR, IMAP literal) accepted from the server, and largest
    /// message this client will submit. Default 64 MiB.
    pub max_message: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_reply_lines: 100_000,
            max_message: 64 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_line`].
    pub fn with_max_line(mut self, n: usize) -> Self {
        self.max_line = n;
        self
    }
    /// Sets [`Limits::max_reply_lines`].
    pub fn with_max_reply_lines(mut self, n: usize) -> Self {
        self.max_reply_lines = n;
        self
    }
    /// Sets [`Limits::max_message`].
    pub fn with_max_message(mut self, n: u64) -> Self {
        self.max_message = n;
        self
    }
}
