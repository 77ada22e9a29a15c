//! Blocking SMTP submission client: a thin loop over the sans-I/O
//! [`Session`](crate::proto::smtp::Session), which decides the order of the dialogue.

use std::io::Read;

use secrecy::SecretString;

use crate::blocking::Conn;
use crate::endpoint::{Endpoint, Options};
use crate::error::{Error, Result};
use crate::proto::smtp::{Action, Extensions, Outcome, Session};

pub use crate::proto::smtp::{Envelope, SendReport};

/// Bytes read from the connection at a time.
const READ_CHUNK: usize = 64 * 1024;

/// An SMTP submission session over TLS (implicit or STARTTLS, never plaintext).
pub struct SmtpClient {
    conn: Conn,
    session: Session,
    /// Receive and message buffers, kept across messages.
    rbuf: Vec<u8>,
    body: Vec<u8>,
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("extensions", self.session.extensions())
            .finish_non_exhaustive()
    }
}

impl SmtpClient {
    /// Connects, reads the greeting and says EHLO; with [`Security::StartTls`], requires and
    /// performs STARTTLS, discards everything received before the handshake and says EHLO
    /// again over TLS.
    ///
    /// [`Security::StartTls`]: crate::Security::StartTls
    pub fn connect(endpoint: &Endpoint, options: &Options) -> Result<SmtpClient> {
        let conn = Conn::connect(endpoint, options)?;
        let session = Session::new(&options.client_name, endpoint.security, options.limits);
        let mut client = SmtpClient {
            conn,
            session,
            rbuf: vec![0; READ_CHUNK],
            body: Vec::new(),
        };
        client.drive()?;
        Ok(client)
    }

    /// The extensions the server announced over TLS.
    pub fn extensions(&self) -> &Extensions {
        self.session.extensions()
    }

    /// Runs the operation the session has started until it is done.
    fn drive(&mut self) -> Result<Outcome> {
        loop {
            match self.session.next_action()? {
                Action::Send(bytes) => {
                    self.conn.write_all(bytes)?;
                    self.conn.flush()?;
                }
                Action::NeedMore => {
                    let n = self.conn.read_into(&mut self.rbuf)?;
                    self.session.feed(&self.rbuf[..n])?;
                }
                Action::StartTls => {
                    self.conn.start_tls()?;
                    self.session.tls_established()?;
                }
                Action::Done(outcome) => return Ok(outcome),
                Action::NeedBody => {
                    return Err(Error::Misuse(
                        "the SMTP session asked for a message outside send".into(),
                    ));
                }
            }
        }
    }

    fn require_tls(&self) -> Result<()> {
        if self.conn.is_tls() && self.session.is_tls() {
            Ok(())
        } else {
            Err(Error::Misuse("credentials are only sent over TLS".into()))
        }
    }

    /// Authenticates with the best mechanism offered: PLAIN, else LOGIN.
    pub fn login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        self.require_tls()?;
        self.session.login(user, password)?;
        self.drive().map(drop)
    }

    /// AUTH PLAIN (RFC 4616) with an initial response.
    pub fn auth_plain(&mut self, user: &str, password: &SecretString) -> Result<()> {
        self.require_tls()?;
        self.session.auth_plain(user, password)?;
        self.drive().map(drop)
    }

    /// AUTH LOGIN (draft-murchison-sasl-login): user and password answer two 334 challenges.
    pub fn auth_login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        self.require_tls()?;
        self.session.auth_login(user, password)?;
        self.drive().map(drop)
    }

    /// AUTH XOAUTH2 with a bearer token supplied by the application (Google, Microsoft).
    pub fn auth_xoauth2(&mut self, user: &str, token: &SecretString) -> Result<()> {
        self.require_tls()?;
        self.session.auth_xoauth2(user, token)?;
        self.drive().map(drop)
    }

    /// Sends one message held in memory. See [`SmtpClient::send_from`].
    pub fn send_bytes(&mut self, envelope: &Envelope, message: &[u8]) -> Result<SendReport> {
        self.send_inner(envelope, message, Some(message.len() as u64))
    }

    /// Sends one message read from `message` (streamed: memory does not grow with it).
    /// Line endings become CRLF and leading dots are doubled on the way.
    ///
    /// Returns only after the server's final 250: then, and only then, the message counts as
    /// sent. Rejected recipients are reported in [`SendReport::rejected`] while the message
    /// goes to the others; if every recipient is rejected nothing is sent and the result is
    /// [`Error::AllRecipientsRejected`]. With PIPELINING offered, MAIL, RCPT and DATA go in
    /// one write.
    pub fn send_from(&mut self, envelope: &Envelope, message: impl Read) -> Result<SendReport> {
        self.send_inner(envelope, message, None)
    }

    fn send_inner(
        &mut self,
        envelope: &Envelope,
        mut message: impl Read,
        size: Option<u64>,
    ) -> Result<SendReport> {
        self.session.send(envelope, size)?;
        if self.body.is_empty() {
            self.body = vec![0; READ_CHUNK];
        }
        loop {
            match self.session.next_action()? {
                Action::Send(bytes) => {
                    self.conn.write_all(bytes)?;
                    self.conn.flush()?;
                }
                Action::NeedMore => {
                    let n = self.conn.read_into(&mut self.rbuf)?;
                    self.session.feed(&self.rbuf[..n])?;
                }
                Action::NeedBody => match message.read(&mut self.body) {
                    Ok(0) => self.session.finish_body()?,
                    Ok(n) => {
                        if let Err(e) = self.session.push_body(&self.body[..n]) {
                            // The server waits for the rest: hang up rather than end it.
                            self.conn.close();
                            return Err(e);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // The server is waiting for data we cannot give: drop the connection
                    // rather than end the message (which would send a truncated one).
                    Err(e) => {
                        self.session.abort_body();
                        self.conn.close();
                        return Err(Error::Io(e));
                    }
                },
                Action::Done(Outcome::Sent(report)) => return Ok(report),
                Action::StartTls | Action::Done(_) => {
                    return Err(Error::Misuse("unexpected SMTP session step in send".into()));
                }
            }
        }
    }

    /// Sends NOOP (keeps the session alive, checks it).
    pub fn noop(&mut self) -> Result<()> {
        self.session.noop()?;
        self.drive().map(drop)
    }

    /// Says QUIT and closes the connection.
    pub fn quit(mut self) -> Result<()> {
        let reply = self.session.quit().and_then(|_| self.drive());
        self.conn.close();
        match reply {
            Ok(_) | Err(Error::ConnectionClosed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
