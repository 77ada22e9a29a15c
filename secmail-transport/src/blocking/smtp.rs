//! Blocking SMTP submission client.

use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::blocking::Conn;
use crate::endpoint::{Endpoint, Options, Security};
use crate::error::{Error, Result};
use crate::proto::smtp::{Command, DataEncoder, Extensions, Reply, decode_reply};

/// The envelope of one message: sender, recipients, and whether to demand REQUIRETLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path (`MAIL FROM`); empty for the null sender.
    pub from: String,
    /// The recipients (`RCPT TO`), at least one.
    pub to: Vec<String>,
    /// Send `REQUIRETLS` (RFC 8689) so that every later hop must use verified TLS; refuse to
    /// send if the server does not offer it.
    pub require_tls: bool,
}

impl Envelope {
    /// An envelope from a sender and recipients.
    pub fn new(from: impl Into<String>, to: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Envelope {
            from: from.into(),
            to: to.into_iter().map(Into::into).collect(),
            require_tls: false,
        }
    }
}

/// The outcome of one accepted message: the server's final reply and each recipient's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// Recipients the server accepted.
    pub accepted: Vec<String>,
    /// Recipients the server rejected, with its reply. The message went to the others.
    pub rejected: Vec<(String, Reply)>,
    /// The final 250 reply after the message (often carries the queue id).
    pub reply: Reply,
}

/// An SMTP submission session over TLS (implicit or STARTTLS, never plaintext).
pub struct SmtpClient {
    conn: Conn,
    ext: Extensions,
    in_transaction: bool,
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("extensions", &self.ext)
            .finish_non_exhaustive()
    }
}

impl SmtpClient {
    /// Connects, reads the greeting and says EHLO; with [`Security::StartTls`], requires and
    /// performs STARTTLS, discards everything received before the handshake and says EHLO
    /// again over TLS.
    pub fn connect(endpoint: &Endpoint, options: &Options) -> Result<SmtpClient> {
        let conn = Conn::connect(endpoint, options)?;
        let mut client = SmtpClient {
            conn,
            ext: Extensions::default(),
            in_transaction: false,
        };
        let greeting = client.read_reply()?;
        if greeting.code != 220 {
            return Err(Error::Rejected {
                command: "the connection",
                reply: greeting.summary(),
            });
        }
        client.ehlo()?;
        if endpoint.security == Security::StartTls {
            if !client.ext.starttls {
                return Err(Error::TlsNotOffered {
                    command: "STARTTLS",
                });
            }
            let reply = client.command(&Command::StartTls)?;
            if reply.code != 220 {
                return Err(Error::TlsRefused {
                    command: "STARTTLS",
                    reply: reply.summary(),
                });
            }
            // Forget everything learnt in plaintext, and every byte already buffered.
            client.ext = Extensions::default();
            client.conn.start_tls()?;
            client.ehlo()?;
        }
        Ok(client)
    }

    /// The extensions the server announced over TLS.
    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    fn ehlo(&mut self) -> Result<()> {
        let name = self.conn.options().client_name.clone();
        let reply = self.command(&Command::Ehlo(&name))?;
        if !reply.is_positive() {
            return Err(Error::Rejected {
                command: "EHLO",
                reply: reply.summary(),
            });
        }
        self.ext = Extensions::from_ehlo(&reply);
        Ok(())
    }

    fn read_reply(&mut self) -> Result<Reply> {
        let limits = self.conn.options().limits;
        self.conn.decode(|b| decode_reply(b, &limits))
    }

    fn send(&mut self, cmd: &Command<'_>) -> Result<()> {
        let mut line = Zeroizing::new(Vec::new());
        cmd.encode(&mut line)?;
        self.conn.write_all(&line)
    }

    /// Sends one command and reads its reply.
    fn command(&mut self, cmd: &Command<'_>) -> Result<Reply> {
        self.send(cmd)?;
        self.conn.flush()?;
        self.read_reply()
    }

    fn require_tls(&self) -> Result<()> {
        if self.conn.is_tls() {
            Ok(())
        } else {
            Err(Error::Misuse("credentials are only sent over TLS".into()))
        }
    }

    /// Authenticates with the best mechanism offered: PLAIN, else LOGIN.
    pub fn login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        if self.ext.offers_auth("PLAIN") {
            self.auth_plain(user, password)
        } else if self.ext.offers_auth("LOGIN") {
            self.auth_login(user, password)
        } else {
            Err(Error::NoAuthMechanism(self.ext.auth.join(" ")))
        }
    }

    /// AUTH PLAIN (RFC 4616) with an initial response.
    pub fn auth_plain(&mut self, user: &str, password: &SecretString) -> Result<()> {
        self.require_tls()?;
        let mut raw = Zeroizing::new(Vec::new());
        raw.push(0);
        raw.extend_from_slice(user.as_bytes());
        raw.push(0);
        raw.extend_from_slice(password.expose_secret().as_bytes());
        let ir = Zeroizing::new(B64.encode(&*raw));
        let reply = self.command(&Command::Auth {
            mechanism: "PLAIN",
            initial: Some(&ir),
        })?;
        self.auth_result(reply)
    }

    /// AUTH LOGIN (draft-murchison-sasl-login): user and password answer two 334 challenges.
    pub fn auth_login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        self.require_tls()?;
        let reply = self.command(&Command::Auth {
            mechanism: "LOGIN",
            initial: None,
        })?;
        if reply.code != 334 {
            return self.auth_result(reply);
        }
        let reply = self.command(&Command::AuthResponse(&B64.encode(user)))?;
        if reply.code != 334 {
            return self.auth_result(reply);
        }
        let pass = Zeroizing::new(B64.encode(password.expose_secret()));
        let reply = self.command(&Command::AuthResponse(&pass))?;
        self.auth_result(reply)
    }

    /// AUTH XOAUTH2 with a bearer token supplied by the application (Google, Microsoft).
    pub fn auth_xoauth2(&mut self, user: &str, token: &SecretString) -> Result<()> {
        self.require_tls()?;
        let raw = Zeroizing::new(format!(
            "user={user}\x01auth=Bearer {}\x01\x01",
            token.expose_secret()
        ));
        let ir = Zeroizing::new(B64.encode(raw.as_bytes()));
        let mut reply = self.command(&Command::Auth {
            mechanism: "XOAUTH2",
            initial: Some(&ir),
        })?;
        if reply.code == 334 {
            // The error details come as a challenge; an empty response ends the exchange.
            reply = self.command(&Command::AuthResponse(""))?;
        }
        self.auth_result(reply)
    }

    fn auth_result(&mut self, reply: Reply) -> Result<()> {
        if reply.code == 235 {
            Ok(())
        } else if reply.code == 334 {
            // An unexpected challenge: cancel the exchange (RFC 4954 4: "*").
            let reply = self.command(&Command::AuthResponse("*"))?;
            Err(Error::AuthFailed(reply.summary()))
        } else {
            Err(Error::AuthFailed(reply.summary()))
        }
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
        if envelope.to.is_empty() {
            return Err(Error::Misuse(
                "a message needs at least one recipient".into(),
            ));
        }
        if envelope.require_tls && !self.ext.requiretls {
            return Err(Error::RequireTlsNotOffered);
        }
        let max = self.conn.options().limits.max_message;
        if let Some(size) = size {
            let server = self.ext.size.filter(|&s| s > 0).unwrap_or(u64::MAX);
            if size > max.min(server) {
                return Err(Error::MessageTooLarge {
                    size,
                    limit: max.min(server),
                });
            }
        }
        if self.in_transaction {
            // A previous transaction ended half-way: start clean.
            let reply = self.command(&Command::Rset)?;
            if !reply.is_positive() {
                return Err(Error::Rejected {
                    command: "RSET",
                    reply: reply.summary(),
                });
            }
            self.in_transaction = false;
        }
        let mut params = Vec::new();
        if self.ext.eight_bit_mime {
            params.push("BODY=8BITMIME".to_string());
        }
        if let (Some(size), Some(_)) = (size, self.ext.size) {
            params.push(format!("SIZE={size}"));
        }
        let non_ascii = !envelope.from.is_ascii() || envelope.to.iter().any(|t| !t.is_ascii());
        if non_ascii {
            if !self.ext.smtputf8 {
                return Err(Error::Rejected {
                    command: "MAIL FROM",
                    reply: "the server does not offer SMTPUTF8, needed for a non-ASCII address"
                        .into(),
                });
            }
            params.push("SMTPUTF8".to_string());
        }
        if envelope.require_tls {
            params.push("REQUIRETLS".to_string());
        }
        let mail = Command::MailFrom {
            from: &envelope.from,
            params: &params,
        };
        let pipelining = self.ext.pipelining;
        self.in_transaction = true;

        // MAIL FROM (with PIPELINING, RCPT TO and DATA too) in one write: commands split over
        // several TCP segments meet the server's Nagle and our delayed ACK (40 ms each).
        let mut batch = Vec::new();
        mail.encode(&mut batch)?;
        if pipelining {
            for to in &envelope.to {
                Command::RcptTo(to).encode(&mut batch)?;
            }
            Command::Data.encode(&mut batch)?;
        }
        self.conn.write_all(&batch)?;
        self.conn.flush()?;
        let mail_reply = self.read_reply()?;
        if !pipelining && !mail_reply.is_positive() {
            return Err(Error::Rejected {
                command: "MAIL FROM",
                reply: mail_reply.summary(),
            });
        }
        // RCPT TO
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for to in &envelope.to {
            let reply = if pipelining {
                self.read_reply()?
            } else {
                self.command(&Command::RcptTo(to))?
            };
            if reply.is_positive() {
                accepted.push(to.clone());
            } else {
                rejected.push((to.clone(), reply));
            }
        }
        // DATA
        let data_reply = if pipelining {
            self.read_reply()?
        } else if !accepted.is_empty() {
            self.command(&Command::Data)?
        } else {
            Reply {
                code: 554,
                lines: vec!["no valid recipients (not sent)".into()],
            }
        };
        if !mail_reply.is_positive() {
            if data_reply.code == 354 {
                self.finish_data_empty()?;
            }
            return Err(Error::Rejected {
                command: "MAIL FROM",
                reply: mail_reply.summary(),
            });
        }
        if accepted.is_empty() {
            if data_reply.code == 354 {
                // RFC 2920 3.1: the server took DATA although no recipient was accepted; end
                // it with an empty message, which it must reject.
                self.finish_data_empty()?;
            }
            return Err(Error::AllRecipientsRejected(
                rejected
                    .into_iter()
                    .map(|(r, reply)| (r, reply.summary()))
                    .collect(),
            ));
        }
        if data_reply.code != 354 {
            return Err(Error::Rejected {
                command: "DATA",
                reply: data_reply.summary(),
            });
        }
        // The message itself, in writes of about 64 KiB; the terminator goes with the last.
        let mut enc = DataEncoder::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut out = Vec::with_capacity(140 * 1024);
        let mut total: u64 = 0;
        loop {
            let n = match message.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // The server is waiting for data we cannot give: drop the connection rather
                // than end the message (which would send a truncated one).
                Err(e) => {
                    self.conn.close();
                    return Err(Error::Io(e));
                }
            };
            total += n as u64;
            if total > max {
                self.conn.close();
                return Err(Error::MessageTooLarge {
                    size: total,
                    limit: max,
                });
            }
            enc.push(&chunk[..n], &mut out);
            if out.len() >= 64 * 1024 {
                self.conn.write_all(&out)?;
                out.clear();
            }
        }
        enc.finish(&mut out);
        self.conn.write_all(&out)?;
        self.conn.flush()?;
        let reply = self.read_reply()?;
        self.in_transaction = false;
        if !reply.is_positive() {
            return Err(Error::Rejected {
                command: "the message",
                reply: reply.summary(),
            });
        }
        Ok(SendReport {
            accepted,
            rejected,
            reply,
        })
    }

    fn finish_data_empty(&mut self) -> Result<()> {
        self.conn.write_all(b".\r\n")?;
        self.conn.flush()?;
        let _ = self.read_reply()?;
        Ok(())
    }

    /// Sends NOOP (keeps the session alive, checks it).
    pub fn noop(&mut self) -> Result<()> {
        let reply = self.command(&Command::Noop)?;
        if reply.is_positive() {
            Ok(())
        } else {
            Err(Error::Rejected {
                command: "NOOP",
                reply: reply.summary(),
            })
        }
    }

    /// Says QUIT and closes the connection.
    pub fn quit(mut self) -> Result<()> {
        let reply = self.command(&Command::Quit);
        self.conn.close();
        match reply {
            Ok(_) | Err(Error::ConnectionClosed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
