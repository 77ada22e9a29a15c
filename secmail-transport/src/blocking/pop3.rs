//! Blocking POP3 client.

use std::io::Write;

use secrecy::SecretString;

use crate::blocking::Conn;
use crate::endpoint::{Endpoint, Options};
use crate::error::{Error, ProtocolError, Result};
use crate::proto::pop3::{Action, Command, Outcome, Session, Status};

/// A POP3 session over TLS (implicit or STLS, never plaintext): a thin loop over the
/// sans-I/O [`Session`](crate::proto::pop3::Session).
pub struct Pop3Client {
    conn: Conn,
    session: Session,
    rbuf: Vec<u8>,
}

impl std::fmt::Debug for Pop3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Client")
            .field("capabilities", &self.session.capabilities())
            .finish_non_exhaustive()
    }
}

impl Pop3Client {
    /// Connects and reads the greeting; with [`Security::StartTls`], requires STLS in CAPA,
    /// upgrades, discards everything buffered before the handshake and asks CAPA again.
    ///
    /// [`Security::StartTls`]: crate::Security::StartTls
    pub fn connect(endpoint: &Endpoint, options: &Options) -> Result<Pop3Client> {
        let conn = Conn::connect(endpoint, options)?;
        let mut client = Pop3Client {
            conn,
            session: Session::new(endpoint.security, options.limits),
            rbuf: vec![0; 64 * 1024],
        };
        client.drive(&mut std::io::sink())?;
        Ok(client)
    }

    /// The CAPA lines (RFC 2449) the server announced over TLS, e.g. `SASL PLAIN`, `UIDL`.
    pub fn capabilities(&self) -> &[String] {
        self.session.capabilities()
    }

    /// True if a CAPA line starts with this keyword.
    pub fn has_capability(&self, keyword: &str) -> bool {
        self.session.has_capability(keyword)
    }

    /// Runs the started operation to its end; RETR data goes to `sink`.
    fn drive(&mut self, sink: &mut dyn Write) -> Result<Outcome> {
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
                Action::Data(bytes) => sink.write_all(bytes).map_err(Error::Io)?,
                Action::Done(outcome) => return Ok(outcome),
            }
        }
    }

    fn ok(&mut self, cmd: &Command<'_>) -> Result<Status> {
        self.session.simple(cmd)?;
        match self.drive(&mut std::io::sink())? {
            Outcome::Status(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    fn lines(&mut self, cmd: &Command<'_>) -> Result<Vec<String>> {
        self.session.lines(cmd)?;
        match self.drive(&mut std::io::sink())? {
            Outcome::Lines(_, lines) => Ok(lines),
            other => Err(unexpected(other)),
        }
    }

    /// Logs in: AUTH PLAIN when `SASL PLAIN` is announced, else USER/PASS. Only over TLS.
    pub fn login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        if !self.conn.is_tls() {
            return Err(Error::Misuse("credentials are only sent over TLS".into()));
        }
        self.session.login(user, password)?;
        self.drive(&mut std::io::sink()).map(drop)
    }

    /// STAT: (message count, total size in octets).
    pub fn stat(&mut self) -> Result<(u32, u64)> {
        let status = self.ok(&Command::Stat)?;
        let mut w = status.text.split_ascii_whitespace();
        match (
            w.next().and_then(|n| n.parse().ok()),
            w.next().and_then(|n| n.parse().ok()),
        ) {
            (Some(n), Some(size)) => Ok((n, size)),
            _ => Err(ProtocolError::malformed("STAT reply", status.text.as_bytes()).into()),
        }
    }

    /// LIST: (message number, size) of every message.
    pub fn list(&mut self) -> Result<Vec<(u32, u64)>> {
        self.lines(&Command::List)?
            .iter()
            .map(|l| {
                let mut w = l.split_ascii_whitespace();
                match (
                    w.next().and_then(|n| n.parse().ok()),
                    w.next().and_then(|n| n.parse().ok()),
                ) {
                    (Some(n), Some(s)) => Ok((n, s)),
                    _ => Err(ProtocolError::malformed("LIST line", l.as_bytes()).into()),
                }
            })
            .collect()
    }

    /// UIDL: (message number, unique id) of every message. The ids are checked to be what
    /// RFC 1939 allows (1 to 70 characters in 0x21..=0x7E), so they are safe as file names
    /// once `/` is not among them — which is also checked.
    pub fn uidl(&mut self) -> Result<Vec<(u32, String)>> {
        self.lines(&Command::Uidl)?
            .iter()
            .map(|l| {
                let mut w = l.split_ascii_whitespace();
                match (w.next().and_then(|n| n.parse().ok()), w.next()) {
                    (Some(n), Some(uid))
                        if (1..=70).contains(&uid.len())
                            && uid.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'/') =>
                    {
                        Ok((n, uid.to_string()))
                    }
                    _ => Err(ProtocolError::malformed("UIDL line", l.as_bytes()).into()),
                }
            })
            .collect()
    }

    /// RETR: the message, byte-exact (dot-unstuffed), bounded by `Limits::max_message`.
    pub fn retr(&mut self, n: u32) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.retr_to(n, &mut out)?;
        Ok(out)
    }

    /// RETR, streamed into `sink`: memory does not grow with the message. On error the sink
    /// holds a partial message; the caller must discard it.
    pub fn retr_to(&mut self, n: u32, sink: &mut impl Write) -> Result<u64> {
        self.session.retr(n)?;
        match self.drive(sink)? {
            Outcome::Retrieved(total) => Ok(total),
            other => Err(unexpected(other)),
        }
    }

    /// DELE: marks a message for deletion at QUIT.
    pub fn dele(&mut self, n: u32) -> Result<()> {
        self.ok(&Command::Dele(n)).map(drop)
    }

    /// RSET: unmarks every message marked for deletion.
    pub fn rset(&mut self) -> Result<()> {
        self.ok(&Command::Rset).map(drop)
    }

    /// NOOP.
    pub fn noop(&mut self) -> Result<()> {
        self.ok(&Command::Noop).map(drop)
    }

    /// QUIT: commits deletions and closes the connection. Deletions only happen if this
    /// returns `Ok`.
    pub fn quit(mut self) -> Result<()> {
        let status = self.ok(&Command::Quit);
        self.conn.close();
        status.map(drop)
    }
}

fn unexpected(outcome: Outcome) -> Error {
    Error::Misuse(format!("unexpected POP3 session outcome {outcome:?}"))
}
