//! The one error type of this crate.

use std::io;

/// Everything that can go wrong in a mail session.
///
/// Errors caused by the peer or the network ([`Error::Protocol`], [`Error::Rejected`], …) are
/// kept apart from errors in how the API was called ([`Error::Misuse`]). No variant ever carries
/// a password or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No TCP connection could be made to any address of the host.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// `host:port` as given.
        target: String,
        /// The error of the last address tried.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the connection failed.
    #[error("connection error: {0}")]
    Io(#[source] io::Error),
    /// The server did not answer (or accept data) within the configured timeout.
    #[error("the server did not answer within the timeout")]
    Timeout,
    /// The server closed the connection, possibly in the middle of a reply.
    #[error("the server closed the connection unexpectedly")]
    ConnectionClosed,
    /// The TLS handshake or the TLS layer failed (unknown CA, wrong name, bad record, …).
    #[error("TLS error: {0}")]
    Tls(#[from] rustls::Error),
    /// STARTTLS/STLS was required but the server does not offer it. Nothing was sent in
    /// plaintext beyond the greeting and the capability request.
    #[error("the server does not offer {command}: refusing to continue without TLS")]
    TlsNotOffered {
        /// `STARTTLS` or `STLS`.
        command: &'static str,
    },
    /// The server answered STARTTLS/STLS with a refusal.
    #[error("the server refused {command}: {reply}")]
    TlsRefused {
        /// `STARTTLS` or `STLS`.
        command: &'static str,
        /// The server's reply text.
        reply: String,
    },
    /// The server rejected the credentials.
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// The server offers none of the authentication mechanisms this client can use.
    #[error("the server offers no usable authentication mechanism (offered: {0})")]
    NoAuthMechanism(String),
    /// The server rejected a command.
    #[error("the server rejected {command}: {reply}")]
    Rejected {
        /// The command, without arguments.
        command: &'static str,
        /// The server's reply, code and text.
        reply: String,
    },
    /// Every recipient of a message was rejected; nothing was sent.
    #[error("every recipient was rejected: {}", .0.iter().map(|(r, why)| format!("{r} ({why})")).collect::<Vec<_>>().join(", "))]
    AllRecipientsRejected(Vec<(String, String)>),
    /// REQUIRETLS (RFC 8689) was requested but the server does not offer it; nothing was sent.
    #[error("REQUIRETLS was requested but the server does not offer it: message not sent")]
    RequireTlsNotOffered,
    /// The message is larger than the server accepts (its SIZE) or than our own limit.
    #[error("the message is too large ({size} bytes, limit {limit})")]
    MessageTooLarge {
        /// Size of the message.
        size: u64,
        /// The limit it exceeds.
        limit: u64,
    },
    /// The server answered a UID FETCH for this UID — so the message exists — but sent no
    /// message bytes for it (`BODY[] NIL`, or no `BODY[]` at all) and did not say the
    /// message was expunged. Dovecot answers so for a message whose file is gone from the
    /// Maildir without an expunge having been issued; it reports `OK [EXPUNGEISSUED]` only
    /// when it has noticed. Never reported as "no such message".
    #[error("the server listed message UID {uid} but returned no message bytes for it")]
    BodyMissing {
        /// The UID asked for.
        uid: u32,
    },
    /// The server sent something this client does not accept.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The configuration is unusable (a CA file that cannot be read, an invalid host name, …).
    #[error("configuration error: {0}")]
    Config(String),
    /// The API was called wrongly (an address with a line break, a command in the wrong
    /// state). Not caused by the peer.
    #[error("API misuse: {0}")]
    Misuse(String),
}

/// What was wrong in the bytes the server sent. Every limit has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A protocol line is longer than [`Limits::max_line`](crate::Limits::max_line).
    #[error("a line from the server is longer than {limit} bytes")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A multi-line reply has more lines than [`Limits::max_reply_lines`](crate::Limits::max_reply_lines).
    #[error("a reply from the server has more than {limit} lines")]
    ReplyTooLong {
        /// The limit.
        limit: usize,
    },
    /// A message or literal is larger than [`Limits::max_message`](crate::Limits::max_message).
    #[error("a message or literal from the server is larger than {limit} bytes")]
    MessageTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The bytes do not follow the protocol's grammar.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// What was wrong, with a bounded excerpt of the bytes.
        detail: String,
    },
}

impl ProtocolError {
    pub(crate) fn malformed(what: &'static str, bytes: &[u8]) -> Self {
        let excerpt = &bytes[..bytes.len().min(80)];
        ProtocolError::Malformed {
            what,
            detail: format!("{:?}", String::from_utf8_lossy(excerpt)),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout,
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Error::ConnectionClosed,
            _ => match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(tls) => Error::Tls(tls.clone()),
                None => Error::Io(e),
            },
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
