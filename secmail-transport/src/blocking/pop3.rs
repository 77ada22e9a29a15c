//! Blocking POP3 client.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::blocking::Conn;
use crate::endpoint::{Endpoint, Options, Security};
use crate::error::{Error, ProtocolError, Result};
use crate::proto::pop3::{Command, MultilineDecoder, Status, decode_lines, decode_status};

/// A POP3 session over TLS (implicit or STLS, never plaintext).
pub struct Pop3Client {
    conn: Conn,
    capabilities: Vec<String>,
}

impl std::fmt::Debug for Pop3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Client")
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl Pop3Client {
    /// Connects and reads the greeting; with [`Security::StartTls`], requires STLS in CAPA,
    /// upgrades, discards everything buffered before the handshake and asks CAPA again.
    pub fn connect(endpoint: &Endpoint, options: &Options) -> Result<Pop3Client> {
        let conn = Conn::connect(endpoint, options)?;
        let mut client = Pop3Client {
            conn,
            capabilities: Vec::new(),
        };
        let greeting = client.read_status()?;
        if !greeting.ok {
            return Err(Error::Rejected {
                command: "the connection",
                reply: greeting.to_string(),
            });
        }
        client.capa()?;
        if endpoint.security == Security::StartTls {
            if !client.has_capability("STLS") {
                return Err(Error::TlsNotOffered { command: "STLS" });
            }
            let status = client.command(&Command::Stls)?;
            if !status.ok {
                return Err(Error::TlsRefused {
                    command: "STLS",
                    reply: status.to_string(),
                });
            }
            client.capabilities.clear();
            client.conn.start_tls()?;
            client.capa()?;
        }
        Ok(client)
    }

    /// The CAPA lines (RFC 2449) the server announced over TLS, e.g. `SASL PLAIN`, `UIDL`.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// True if a CAPA line starts with this keyword.
    pub fn has_capability(&self, keyword: &str) -> bool {
        self.capabilities.iter().any(|c| {
            c.split_ascii_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
        })
    }

    fn capa(&mut self) -> Result<()> {
        let status = self.command(&Command::Capa)?;
        // A server without CAPA (RFC 1939 only) answers -ERR: no capabilities known.
        self.capabilities = if status.ok {
            self.read_lines()?
        } else {
            Vec::new()
        };
        Ok(())
    }

    fn read_status(&mut self) -> Result<Status> {
        let limits = self.conn.options().limits;
        self.conn.decode(|b| decode_status(b, &limits))
    }

    fn read_lines(&mut self) -> Result<Vec<String>> {
        let limits = self.conn.options().limits;
        self.conn.decode(|b| decode_lines(b, &limits))
    }

    fn command(&mut self, cmd: &Command<'_>) -> Result<Status> {
        let mut line = Zeroizing::new(Vec::new());
        cmd.encode(&mut line)?;
        self.conn.write_all(&line)?;
        self.conn.flush()?;
        self.read_status()
    }

    fn ok(&mut self, cmd: &Command<'_>) -> Result<Status> {
        let status = self.command(cmd)?;
        if status.ok {
            Ok(status)
        } else {
            Err(Error::Rejected {
                command: cmd.verb(),
                reply: status.to_string(),
            })
        }
    }

    /// Logs in: AUTH PLAIN when `SASL PLAIN` is announced, else USER/PASS. Only over TLS.
    pub fn login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        if !self.conn.is_tls() {
            return Err(Error::Misuse("credentials are only sent over TLS".into()));
        }
        let sasl_plain = self.capabilities.iter().any(|c| {
            let mut w = c.split_ascii_whitespace();
            w.next().is_some_and(|k| k.eq_ignore_ascii_case("SASL"))
                && w.any(|m| m.eq_ignore_ascii_case("PLAIN"))
        });
        let status = if sasl_plain {
            let mut raw = Zeroizing::new(Vec::new());
            raw.push(0);
            raw.extend_from_slice(user.as_bytes());
            raw.push(0);
            raw.extend_from_slice(password.expose_secret().as_bytes());
            let ir = Zeroizing::new(B64.encode(&*raw));
            self.command(&Command::Auth("PLAIN", Some(&ir)))?
        } else {
            let user_status = self.command(&Command::User(user))?;
            if !user_status.ok {
                return Err(Error::AuthFailed(user_status.to_string()));
            }
            self.command(&Command::Pass(password.expose_secret()))?
        };
        if !status.ok {
            return Err(Error::AuthFailed(status.to_string()));
        }
        // Capabilities may change after login (RFC 2449 6.0).
        self.capa()
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
        self.ok(&Command::List)?;
        self.read_lines()?
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
        self.ok(&Command::Uidl)?;
        self.read_lines()?
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
        self.ok(&Command::Retr(n))?;
        let mut dec = MultilineDecoder::new(self.conn.options().limits.max_message);
        let mut out = Vec::with_capacity(64 * 1024);
        let mut total = 0u64;
        loop {
            out.clear();
            let used = dec.decode(self.conn.buffered(), &mut out)?;
            self.conn.consume(used);
            sink.write_all(&out).map_err(Error::Io)?;
            total += out.len() as u64;
            if dec.is_done() {
                return Ok(total);
            }
            self.conn.read_more()?;
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
