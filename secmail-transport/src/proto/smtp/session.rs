//! The SMTP submission session as a sans-I/O state machine: the order of the dialogue
//! (greeting, EHLO, STARTTLS, EHLO again, AUTH, MAIL/RCPT/DATA with or without PIPELINING,
//! RSET after a failed transaction, QUIT) without any socket.

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::{ExposeSecret, SecretString};
use zeroize::{Zeroize, Zeroizing};

use super::{Command, DataEncoder, Extensions, Reply, decode_reply};
use crate::endpoint::Security;
use crate::error::{Error, ProtocolError, Result};
use crate::limits::Limits;
use crate::proto::{Gate, InBuf};

/// Encoded DATA is handed to the driver in writes of about this size.
const BODY_WRITE: usize = 64 * 1024;

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
/// Each [`Reply`] carries the server's enhanced status code, if any
/// ([`Reply::enhanced_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// Recipients the server accepted.
    pub accepted: Vec<String>,
    /// Recipients the server rejected, with its reply. The message went to the others.
    pub rejected: Vec<(String, Reply)>,
    /// The final 250 reply after the message (often carries the queue id).
    pub reply: Reply,
}

/// What the driver must do next.
#[derive(Debug)]
#[non_exhaustive]
pub enum Action<'a> {
    /// Write these bytes to the connection. They count as written at the next call.
    Send(&'a [u8]),
    /// Read from the connection and [`Session::feed`] the bytes.
    NeedMore,
    /// Run the TLS handshake now, then call [`Session::tls_established`]. Nothing may be
    /// read from the plaintext connection any more.
    StartTls,
    /// Give the message: [`Session::push_body`] (any number of times), then
    /// [`Session::finish_body`]. Ask again after each push: bytes may be ready to write.
    NeedBody,
    /// The operation finished.
    Done(Outcome),
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The opening is done: greeting, EHLO, and with STARTTLS the upgrade and EHLO over TLS.
    Ready,
    /// AUTH succeeded (235).
    Authenticated,
    /// The message was accepted: the final 250 after DATA arrived.
    Sent(SendReport),
    /// The reply to NOOP or QUIT.
    Reply(Reply),
}

/// A reply the session waits for, in the order the commands were sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    StartTls,
    AuthPlain,
    AuthLoginUser,
    AuthLoginPass,
    AuthXoauth2,
    AuthFinal,
    AuthCancel,
    Rset,
    Mail,
    Rcpt(usize),
    Data,
    /// The reply to the end of the message.
    DataEnd,
    /// The reply to an empty message ended only to leave DATA (then the stashed error).
    DataEndDiscard,
    /// NOOP, QUIT: the reply is the outcome.
    Simple(&'static str),
}

#[derive(Debug)]
enum State {
    /// No operation running.
    Idle,
    /// Waiting for the replies in `expect`.
    Replies,
    /// Waiting for the driver's TLS handshake.
    Handshake,
    /// Waiting for the message bytes.
    Body,
    /// The operation ended; the outcome is handed out at the next call.
    Finished(Option<Outcome>),
    /// An error ended the session.
    Dead,
}

/// The transaction being sent.
#[derive(Debug, Default)]
struct Transaction {
    to: Vec<String>,
    pipelining: bool,
    rset: Option<Reply>,
    mail: Option<Reply>,
    accepted: Vec<String>,
    rejected: Vec<(String, Reply)>,
    mail_line: Vec<u8>,
    rcpt_lines: Vec<Vec<u8>>,
    encoder: DataEncoder,
    total: u64,
}

fn misuse(what: &str) -> Error {
    Error::Misuse(format!("SMTP session: {what}"))
}

/// An SMTP submission session as a sans-I/O state machine: the order of the dialogue
/// (greeting, EHLO, STARTTLS, EHLO again, AUTH, MAIL/RCPT/DATA with or without PIPELINING,
/// RSET after a failed transaction, QUIT) without any socket.
///
/// The driver starts an operation ([`Session::new`] starts the opening, then
/// [`Session::login`], [`Session::send`], [`Session::noop`], [`Session::quit`]) and loops on
/// [`Session::next_action`]:
///
/// - [`Action::Send`]: write these bytes to the connection (then ask again);
/// - [`Action::NeedMore`]: read from the connection and [`Session::feed`] what came;
/// - [`Action::StartTls`]: run the TLS handshake on the connection, then call
///   [`Session::tls_established`]. Every byte received before it was already thrown away
///   (the STARTTLS command-injection class, "NO STARTTLS", USENIX Security 2021), and bytes
///   fed before `tls_established` are refused;
/// - [`Action::NeedBody`]: give the message with [`Session::push_body`] and end it with
///   [`Session::finish_body`];
/// - [`Action::Done`]: the operation finished with this [`Outcome`].
///
/// An operation that fails returns `Err` from `next_action`. Failures the server decided
/// (a rejected recipient, a refused AUTH) leave the session usable for the next operation;
/// a protocol violation or an I/O-level misuse leaves it dead.
///
/// ```
/// use secmail_transport::proto::smtp::{Action, Envelope, Outcome, Session};
/// use secmail_transport::{Limits, Security};
///
/// let mut s = Session::new("client.example", Security::Implicit, Limits::default());
/// let mut wire = Vec::new();
/// let mut step = |s: &mut Session, server: &[u8]| -> Option<Outcome> {
///     s.feed(server).unwrap();
///     loop {
///         match s.next_action().unwrap() {
///             Action::Send(bytes) => wire.extend_from_slice(bytes),
///             Action::NeedMore => return None,
///             Action::NeedBody => {
///                 s.push_body(b"Subject: hi\r\n\r\nHello\r\n").unwrap();
///                 s.finish_body().unwrap();
///             }
///             Action::Done(outcome) => return Some(outcome),
///             other => panic!("{other:?}"),
///         }
///     }
/// };
/// assert!(step(&mut s, b"220 mx ESMTP\r\n").is_none()); // sends EHLO
/// assert!(matches!(step(&mut s, b"250-mx\r\n250 PIPELINING\r\n"), Some(Outcome::Ready)));
/// s.send(&Envelope::new("a@x", ["b@y"]), None).unwrap();
/// assert!(step(&mut s, b"").is_none()); // MAIL, RCPT and DATA in one write
/// assert!(step(&mut s, b"250 ok\r\n250 ok\r\n354 go\r\n").is_none()); // the message
/// let Some(Outcome::Sent(report)) = step(&mut s, b"250 2.0.0 queued\r\n") else { panic!() };
/// assert_eq!(report.accepted, ["b@y"]);
/// assert!(wire.ends_with(b"DATA\r\nSubject: hi\r\n\r\nHello\r\n.\r\n"));
/// ```
pub struct Session {
    state: State,
    expect: VecDeque<Expect>,
    input: InBuf,
    out: Vec<u8>,
    /// `out` was handed to the driver and counts as written at the next call.
    out_handed: bool,
    /// `out` holds a credential: wipe it once written.
    out_secret: bool,
    limits: Limits,
    client_name: String,
    security: Security,
    tls: bool,
    ext: Extensions,
    /// A transaction was started and not completed: RSET before the next one.
    in_transaction: bool,
    tx: Transaction,
    /// The AUTH LOGIN user name (base64), until its challenge comes.
    login_user: Option<String>,
    /// The AUTH LOGIN password (base64), until its challenge comes.
    login_pass: Option<Zeroizing<String>>,
    /// An error decided while replies were still due; returned once they are read.
    stashed: Option<Error>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("expect", &self.expect)
            .field("tls", &self.tls)
            .field("extensions", &self.ext)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session on a fresh connection; its first operation, the opening, is already
    /// started: it waits for the greeting, says EHLO, and with [`Security::StartTls`]
    /// requires STARTTLS, upgrades and says EHLO again. Ends with [`Outcome::Ready`].
    /// With [`Security::Implicit`] the connection is TLS from the start.
    pub fn new(client_name: &str, security: Security, limits: Limits) -> Session {
        let mut expect = VecDeque::new();
        expect.push_back(Expect::Greeting);
        Session {
            state: State::Replies,
            expect,
            input: InBuf::default(),
            out: Vec::new(),
            out_handed: false,
            out_secret: false,
            limits,
            client_name: client_name.to_string(),
            security,
            tls: security == Security::Implicit,
            ext: Extensions::default(),
            in_transaction: false,
            tx: Transaction::default(),
            login_user: None,
            login_pass: None,
            stashed: None,
        }
    }

    /// The extensions the server announced in its last EHLO reply (over TLS once the
    /// opening is done; nothing learnt in plaintext is kept).
    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    /// True once the connection is TLS (implicit, or after [`Session::tls_established`]).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// True when no operation is running and a new one may start.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// Adds bytes received from the server. Refused (and the session dies) while a TLS
    /// handshake is due: those bytes came in plaintext after the STARTTLS reply.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        let gate = match self.state {
            State::Handshake => Gate::HandshakeDue("STARTTLS"),
            State::Dead => Gate::Closed,
            _ => Gate::Open,
        };
        let fed = self.input.feed_gated(bytes, gate);
        if fed.is_err() {
            self.state = State::Dead;
        }
        fed
    }

    /// The driver finished the TLS handshake asked for by [`Action::StartTls`]. EHLO is
    /// said again over TLS.
    pub fn tls_established(&mut self) -> Result<()> {
        if !matches!(self.state, State::Handshake) {
            return Err(misuse("tls_established without Action::StartTls"));
        }
        self.tls = true;
        self.state = State::Replies;
        let name = self.client_name.clone();
        self.command(&Command::Ehlo(&name), Expect::Ehlo)
    }

    fn start(&mut self) -> Result<()> {
        match self.state {
            State::Idle if self.input.len() > 0 => {
                // The server spoke out of turn: its bytes would be taken for the replies to
                // the next commands.
                self.state = State::Dead;
                Err(ProtocolError::malformed(
                    "SMTP dialogue (unsolicited reply)",
                    self.input.data(),
                )
                .into())
            }
            State::Idle => {
                self.state = State::Replies;
                Ok(())
            }
            State::Dead => Err(Error::ConnectionClosed),
            _ => Err(misuse("an operation is still running")),
        }
    }

    fn command(&mut self, cmd: &Command<'_>, expect: Expect) -> Result<()> {
        cmd.encode(&mut self.out)?;
        self.expect.push_back(expect);
        Ok(())
    }

    fn secret_command(&mut self, cmd: &Command<'_>, expect: Expect) -> Result<()> {
        self.out_secret = true;
        self.command(cmd, expect)
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

    fn require_tls(&mut self) -> Result<()> {
        if self.tls {
            Ok(())
        } else {
            Err(misuse("credentials are only sent over TLS"))
        }
    }

    /// AUTH PLAIN (RFC 4616) with an initial response. Only over TLS.
    pub fn auth_plain(&mut self, user: &str, password: &SecretString) -> Result<()> {
        self.require_tls()?;
        self.start()?;
        let mut raw = Zeroizing::new(Vec::new());
        raw.push(0);
        raw.extend_from_slice(user.as_bytes());
        raw.push(0);
        raw.extend_from_slice(password.expose_secret().as_bytes());
        let ir = Zeroizing::new(B64.encode(&*raw));
        self.secret_command(
            &Command::Auth {
                mechanism: "PLAIN",
                initial: Some(&ir),
            },
            Expect::AuthPlain,
        )
    }

    /// AUTH LOGIN (draft-murchison-sasl-login): user and password answer two 334
    /// challenges. Only over TLS.
    pub fn auth_login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        self.require_tls()?;
        if !crate::proto::is_safe_arg(user) {
            return Err(misuse("user name contains a line break or NUL"));
        }
        self.start()?;
        self.login_pass = Some(Zeroizing::new(B64.encode(password.expose_secret())));
        self.login_user = Some(B64.encode(user));
        self.command(
            &Command::Auth {
                mechanism: "LOGIN",
                initial: None,
            },
            Expect::AuthLoginUser,
        )
    }

    /// AUTH XOAUTH2 with a bearer token supplied by the application (Google, Microsoft).
    /// Only over TLS.
    pub fn auth_xoauth2(&mut self, user: &str, token: &SecretString) -> Result<()> {
        self.require_tls()?;
        if user.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(misuse("user name contains a control character"));
        }
        self.start()?;
        let raw = Zeroizing::new(format!(
            "user={user}\x01auth=Bearer {}\x01\x01",
            token.expose_secret()
        ));
        let ir = Zeroizing::new(B64.encode(raw.as_bytes()));
        self.secret_command(
            &Command::Auth {
                mechanism: "XOAUTH2",
                initial: Some(&ir),
            },
            Expect::AuthXoauth2,
        )
    }

    /// Starts sending one message. `size`, when known, is checked against
    /// [`Limits::max_message`] and the server's SIZE and announced with `SIZE=`.
    ///
    /// With PIPELINING offered, (RSET,) MAIL, every RCPT and DATA go in one write; without
    /// it, one command per reply. Rejected recipients are reported in
    /// [`SendReport::rejected`] while the message goes to the others; if every recipient is
    /// rejected nothing is sent and the result is [`Error::AllRecipientsRejected`]. The
    /// message counts as sent only when [`Outcome::Sent`] comes, after the final 250.
    /// After a transaction that did not complete, the next one starts with RSET.
    pub fn send(&mut self, envelope: &Envelope, size: Option<u64>) -> Result<()> {
        if envelope.to.is_empty() {
            return Err(misuse("a message needs at least one recipient"));
        }
        if envelope.require_tls && !self.ext.requiretls {
            return Err(Error::RequireTlsNotOffered);
        }
        let max = self.limits.max_message;
        if let Some(size) = size {
            let server = self.ext.size.filter(|&s| s > 0).unwrap_or(u64::MAX);
            if size > max.min(server) {
                return Err(Error::MessageTooLarge {
                    size,
                    limit: max.min(server),
                });
            }
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
        // Encode everything first: a bad address fails before anything is queued.
        let mut mail_line = Vec::new();
        Command::MailFrom {
            from: &envelope.from,
            params: &params,
        }
        .encode(&mut mail_line)?;
        let mut rcpt_lines = Vec::with_capacity(envelope.to.len());
        for to in &envelope.to {
            let mut line = Vec::new();
            Command::RcptTo(to).encode(&mut line)?;
            rcpt_lines.push(line);
        }
        self.start()?;
        let pipelining = self.ext.pipelining;
        self.tx = Transaction {
            to: envelope.to.clone(),
            pipelining,
            mail_line,
            rcpt_lines,
            ..Transaction::default()
        };
        if self.in_transaction {
            // A previous transaction ended half-way: start clean. With PIPELINING, RSET
            // leads the same write (RFC 2920 3.1); without, MAIL waits for its reply.
            self.command(&Command::Rset, Expect::Rset)?;
            if !pipelining {
                return Ok(());
            }
        }
        self.queue_mail();
        Ok(())
    }

    fn queue_mail(&mut self) {
        self.in_transaction = true;
        self.out.extend_from_slice(&self.tx.mail_line);
        self.expect.push_back(Expect::Mail);
        if self.tx.pipelining {
            for (i, line) in self.tx.rcpt_lines.iter().enumerate() {
                self.out.extend_from_slice(line);
                self.expect.push_back(Expect::Rcpt(i));
            }
            self.out.extend_from_slice(b"DATA\r\n");
            self.expect.push_back(Expect::Data);
        }
    }

    /// Adds message bytes (after [`Action::NeedBody`]): line endings become CRLF and leading
    /// dots are doubled. Past [`Limits::max_message`] the session dies: the server waits for
    /// the rest of a message that must not be ended (a truncated message would be sent), so
    /// the driver must close the connection.
    pub fn push_body(&mut self, bytes: &[u8]) -> Result<()> {
        if !matches!(self.state, State::Body) {
            return Err(misuse("push_body without Action::NeedBody"));
        }
        self.tx.total = self.tx.total.saturating_add(bytes.len() as u64);
        if self.tx.total > self.limits.max_message {
            self.state = State::Dead;
            return Err(Error::MessageTooLarge {
                size: self.tx.total,
                limit: self.limits.max_message,
            });
        }
        self.tx.encoder.push(bytes, &mut self.out);
        Ok(())
    }

    /// Ends the message (after the last [`Session::push_body`]): the terminating `.` goes
    /// out, and the final reply decides.
    pub fn finish_body(&mut self) -> Result<()> {
        if !matches!(self.state, State::Body) {
            return Err(misuse("finish_body without Action::NeedBody"));
        }
        self.tx.encoder.finish(&mut self.out);
        self.state = State::Replies;
        self.expect.push_back(Expect::DataEnd);
        Ok(())
    }

    /// The driver cannot give the rest of the message (its source failed): the session dies,
    /// since ending DATA would send a truncated message. Close the connection.
    pub fn abort_body(&mut self) {
        self.state = State::Dead;
    }

    /// Sends NOOP; ends with [`Outcome::Reply`] (an error if it is not 2xx).
    pub fn noop(&mut self) -> Result<()> {
        self.start()?;
        self.command(&Command::Noop, Expect::Simple("NOOP"))
    }

    /// Sends QUIT; ends with [`Outcome::Reply`]. The driver closes the connection after.
    pub fn quit(&mut self) -> Result<()> {
        self.start()?;
        self.command(&Command::Quit, Expect::Simple("QUIT"))
    }

    /// What the driver must do next. See [`Session`].
    pub fn next_action(&mut self) -> Result<Action<'_>> {
        if self.out_handed {
            self.out_handed = false;
            if self.out_secret {
                self.out.zeroize();
                self.out_secret = false;
            } else {
                self.out.clear();
            }
        }
        loop {
            match &mut self.state {
                State::Dead => return Err(Error::ConnectionClosed),
                State::Idle => return Err(misuse("next_action with no operation running")),
                State::Finished(outcome) => {
                    let outcome = outcome.take();
                    self.state = State::Idle;
                    match outcome {
                        Some(o) => return Ok(Action::Done(o)),
                        None => return Err(misuse("outcome already taken")),
                    }
                }
                State::Body if self.out.len() < BODY_WRITE => return Ok(Action::NeedBody),
                State::Handshake if self.out.is_empty() => return Ok(Action::StartTls),
                _ => {}
            }
            // Everything queued goes out before any reply is waited for.
            if !self.out.is_empty() {
                self.out_handed = true;
                return Ok(Action::Send(&self.out));
            }
            let limits = self.limits;
            let reply = match self.input.decode(|b| decode_reply(b, &limits)) {
                Ok(Some(reply)) => reply,
                Ok(None) => return Ok(Action::NeedMore),
                Err(e) => {
                    self.state = State::Dead;
                    return Err(e.into());
                }
            };
            let Some(expect) = self.expect.pop_front() else {
                self.state = State::Dead;
                return Err(ProtocolError::malformed(
                    "SMTP dialogue (a reply nobody asked for)",
                    reply.summary().as_bytes(),
                )
                .into());
            };
            if let Err(e) = self.on_reply(expect, reply) {
                return Err(self.fail(e));
            }
            if self.expect.is_empty()
                && matches!(self.state, State::Replies)
                && let Some(e) = self.stashed.take()
            {
                self.state = State::Idle;
                return Err(e);
            }
        }
    }

    /// Ends the operation with `e`. Errors the server decided leave the session usable;
    /// the others kill it.
    fn fail(&mut self, e: Error) -> Error {
        let recoverable = matches!(
            e,
            Error::Rejected { .. } | Error::AllRecipientsRejected(_) | Error::AuthFailed(_)
        );
        self.expect.clear();
        self.out.zeroize();
        self.out_secret = false;
        self.login_pass = None;
        self.state = if recoverable {
            State::Idle
        } else {
            State::Dead
        };
        e
    }

    fn finish(&mut self, outcome: Outcome) {
        self.state = State::Finished(Some(outcome));
    }

    fn on_reply(&mut self, expect: Expect, reply: Reply) -> Result<()> {
        let rejected = |command: &'static str, reply: &Reply| Error::Rejected {
            command,
            reply: reply.summary(),
        };
        match expect {
            Expect::Greeting => {
                if reply.code != 220 {
                    return Err(rejected("the connection", &reply));
                }
                let name = self.client_name.clone();
                self.command(&Command::Ehlo(&name), Expect::Ehlo)?;
            }
            Expect::Ehlo => {
                if !reply.is_positive() {
                    return Err(rejected("EHLO", &reply));
                }
                self.ext = Extensions::from_ehlo(&reply);
                if self.security == Security::StartTls && !self.tls {
                    if !self.ext.starttls {
                        return Err(Error::TlsNotOffered {
                            command: "STARTTLS",
                        });
                    }
                    self.command(&Command::StartTls, Expect::StartTls)?;
                } else {
                    self.finish(Outcome::Ready);
                }
            }
            Expect::StartTls => {
                if reply.code != 220 {
                    return Err(Error::TlsRefused {
                        command: "STARTTLS",
                        reply: reply.summary(),
                    });
                }
                // Forget everything learnt in plaintext, and every byte already received:
                // whatever follows the 220 in plaintext was not sent by the server over TLS.
                self.ext = Extensions::default();
                self.input.discard();
                self.state = State::Handshake;
            }
            Expect::AuthPlain | Expect::AuthFinal => self.auth_result(&reply)?,
            Expect::AuthXoauth2 => {
                if reply.code == 334 {
                    // The error details come as a challenge; an empty response ends it.
                    self.command(&Command::AuthResponse(""), Expect::AuthFinal)?;
                } else {
                    self.auth_result(&reply)?;
                }
            }
            Expect::AuthLoginUser => {
                let user = self.login_user.take().unwrap_or_default();
                if reply.code != 334 {
                    return self.auth_result(&reply);
                }
                self.command(&Command::AuthResponse(&user), Expect::AuthLoginPass)?;
            }
            Expect::AuthLoginPass => {
                if reply.code != 334 {
                    return self.auth_result(&reply);
                }
                let pass = self.login_pass.take().unwrap_or_default();
                self.secret_command(&Command::AuthResponse(&pass), Expect::AuthFinal)?;
            }
            Expect::AuthCancel => return Err(Error::AuthFailed(reply.summary())),
            Expect::Simple(command) => {
                if !reply.is_positive() && command != "QUIT" {
                    return Err(rejected(command, &reply));
                }
                self.finish(Outcome::Reply(reply));
            }
            Expect::Rset => {
                if reply.is_positive() {
                    self.in_transaction = false;
                    if !self.tx.pipelining {
                        self.queue_mail();
                    }
                } else {
                    self.stash(rejected("RSET", &reply));
                }
                self.tx.rset = Some(reply);
            }
            Expect::Mail => {
                if !reply.is_positive() {
                    self.stash(rejected("MAIL FROM", &reply));
                } else if !self.tx.pipelining {
                    self.queue_rcpt(0);
                }
                self.tx.mail = Some(reply);
            }
            Expect::Rcpt(i) => {
                let to = self.tx.to.get(i).cloned().unwrap_or_default();
                if reply.is_positive() {
                    self.tx.accepted.push(to);
                } else {
                    self.tx.rejected.push((to, reply));
                }
                if i + 1 == self.tx.to.len() && self.tx.accepted.is_empty() {
                    let all = self
                        .tx
                        .rejected
                        .iter()
                        .map(|(r, reply)| (r.clone(), reply.summary()))
                        .collect();
                    self.stash(Error::AllRecipientsRejected(all));
                }
                if !self.tx.pipelining && self.stashed.is_none() {
                    if i + 1 < self.tx.to.len() {
                        self.queue_rcpt(i + 1);
                    } else {
                        self.command(&Command::Data, Expect::Data)?;
                    }
                }
            }
            Expect::Data => {
                if reply.code == 354 {
                    if self.stashed.is_some() {
                        // RFC 2920 3.1: the server took DATA although the transaction had
                        // failed; end it with an empty message, which it must reject.
                        self.out.extend_from_slice(b".\r\n");
                        self.expect.push_back(Expect::DataEndDiscard);
                    } else {
                        self.tx.encoder = DataEncoder::new();
                        self.state = State::Body;
                    }
                } else {
                    self.stash(rejected("DATA", &reply));
                }
            }
            Expect::DataEndDiscard => {}
            Expect::DataEnd => {
                self.in_transaction = false;
                if !reply.is_positive() {
                    return Err(rejected("the message", &reply));
                }
                let tx = std::mem::take(&mut self.tx);
                self.finish(Outcome::Sent(SendReport {
                    accepted: tx.accepted,
                    rejected: tx.rejected,
                    reply,
                }));
            }
        }
        Ok(())
    }

    fn queue_rcpt(&mut self, i: usize) {
        if let Some(line) = self.tx.rcpt_lines.get(i) {
            self.out.extend_from_slice(line);
            self.expect.push_back(Expect::Rcpt(i));
        }
    }

    /// Keeps the first error of a transaction until its outstanding replies are read.
    fn stash(&mut self, e: Error) {
        if self.stashed.is_none() {
            self.stashed = Some(e);
        }
    }

    fn auth_result(&mut self, reply: &Reply) -> Result<()> {
        self.login_pass = None;
        match reply.code {
            235 => {
                self.finish(Outcome::Authenticated);
                Ok(())
            }
            334 => {
                // An unexpected challenge: cancel the exchange (RFC 4954 4: "*"), then fail.
                self.command(&Command::AuthResponse("*"), Expect::AuthCancel)
            }
            _ => Err(Error::AuthFailed(reply.summary())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver over byte scripts: what the client wrote, and the outcome if one came.
    use crate::proto::testing::{Flow, Scripted};
    type Script = crate::proto::testing::Script<Session>;

    impl Scripted for Session {
        type Outcome = Outcome;
        fn feed(&mut self, bytes: &[u8]) -> Result<()> {
            Session::feed(self, bytes)
        }
        fn act(t: &mut Script) -> Result<Flow<Outcome>> {
            Ok(match t.s.next_action()? {
                Action::Send(b) => {
                    t.wire.extend_from_slice(b);
                    Flow::Continue
                }
                Action::NeedMore => Flow::Stop,
                Action::StartTls => {
                    t.starttls += 1;
                    Flow::Stop
                }
                Action::NeedBody => {
                    let body = std::mem::take(&mut t.body);
                    t.s.push_body(&body)?;
                    t.s.finish_body()?;
                    Flow::Continue
                }
                Action::Done(o) => Flow::Done(o),
            })
        }
    }

    impl Script {
        fn new(security: Security) -> Script {
            Script::with(Session::new("me", security, Limits::default()))
        }
        fn ready(security: Security, ehlo: &[u8]) -> Script {
            let mut t = Script::new(security);
            assert_eq!(t.step(b"220 mx ESMTP\r\n").unwrap(), None);
            assert_eq!(t.wrote(), "EHLO me\r\n");
            assert_eq!(t.step(ehlo).unwrap(), Some(Outcome::Ready));
            t
        }
    }

    const EHLO_PIPE: &[u8] =
        b"250-mx\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN\r\n";

    #[test]
    fn starttls_discards_injected_bytes_and_says_ehlo_again() {
        let mut t = Script::new(Security::StartTls);
        t.step(b"220 mx ESMTP\r\n").unwrap();
        assert_eq!(t.wrote(), "EHLO me\r\n");
        t.step(b"250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n")
            .unwrap();
        assert_eq!(t.wrote(), "STARTTLS\r\n");
        assert!(!t.s.is_tls());
        // The 220 and a forged EHLO reply in one read: the forgery is thrown away.
        assert_eq!(
            t.step(b"220 go\r\n250-forged\r\n250 AUTH XOAUTH2\r\n")
                .unwrap(),
            None
        );
        assert_eq!((t.starttls, t.wrote().as_str()), (1, ""));
        assert_eq!(
            t.s.extensions(),
            &Extensions::default(),
            "plaintext EHLO forgotten"
        );
        // Credentials are refused before the handshake.
        assert!(matches!(
            t.s.login("u", &"p".to_string().into()),
            Err(Error::Misuse(_)) | Err(Error::NoAuthMechanism(_))
        ));
        t.s.tls_established().unwrap();
        assert_eq!(t.step(b"").unwrap(), None);
        assert_eq!(t.wrote(), "EHLO me\r\n");
        assert_eq!(
            t.step(b"250-mx\r\n250 AUTH LOGIN\r\n").unwrap(),
            Some(Outcome::Ready)
        );
        assert_eq!(t.s.extensions().auth, ["LOGIN"]);
        assert!(t.s.is_tls() && t.s.is_idle());
    }

    #[test]
    fn bytes_fed_before_the_handshake_are_refused() {
        let mut t = Script::new(Security::StartTls);
        t.step(b"220 mx\r\n").unwrap();
        t.step(b"250-mx\r\n250 STARTTLS\r\n").unwrap();
        t.step(b"220 go\r\n").unwrap();
        assert_eq!(t.starttls, 1);
        // A driver that reads the plaintext socket again gets the bytes refused.
        assert!(matches!(
            t.s.feed(b"250 AUTH PLAIN\r\n"),
            Err(Error::Protocol(_))
        ));
        assert!(t.s.tls_established().is_err());
        assert!(matches!(t.s.next_action(), Err(Error::ConnectionClosed)));
    }

    #[test]
    fn no_starttls_offered_or_refused_is_fatal() {
        let mut t = Script::new(Security::StartTls);
        t.step(b"220 mx\r\n").unwrap();
        assert!(matches!(
            t.step(b"250-mx\r\n250 AUTH PLAIN\r\n"),
            Err(Error::TlsNotOffered {
                command: "STARTTLS"
            })
        ));
        assert!(t.s.login("u", &"p".to_string().into()).is_err());
        let mut t = Script::new(Security::StartTls);
        t.step(b"220 mx\r\n").unwrap();
        t.step(b"250-mx\r\n250 STARTTLS\r\n").unwrap();
        t.wrote();
        assert!(matches!(
            t.step(b"454 4.7.0 TLS not available\r\n"),
            Err(Error::TlsRefused { .. })
        ));
        assert_eq!(t.starttls, 0);
        assert!(matches!(t.s.next_action(), Err(Error::ConnectionClosed)));
    }

    #[test]
    fn auth_only_over_tls_and_secrets_wiped() {
        // A StartTls session before its upgrade never sends credentials.
        let mut t = Script::new(Security::StartTls);
        for f in [
            Session::auth_plain,
            Session::auth_login,
            Session::auth_xoauth2,
        ] {
            assert!(matches!(
                f(&mut t.s, "u", &"p".to_string().into()),
                Err(Error::Misuse(_))
            ));
        }
        let mut t = Script::ready(Security::Implicit, EHLO_PIPE);
        t.s.login("alice", &"secret".to_string().into()).unwrap();
        assert_eq!(t.step(b"").unwrap(), None);
        assert_eq!(t.wrote(), "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
        assert!(t.s.out.is_empty());
        assert!(matches!(
            t.step(b"535 5.7.8 bad credentials\r\n"),
            Err(Error::AuthFailed(ref r)) if r.contains("5.7.8")
        ));
        // The session goes on after a refused AUTH.
        t.s.auth_login("alice", &"secret".to_string().into())
            .unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "AUTH LOGIN\r\n");
        t.step(b"334 VXNlcm5hbWU6\r\n").unwrap();
        assert_eq!(t.wrote(), "YWxpY2U=\r\n");
        t.step(b"334 UGFzc3dvcmQ6\r\n").unwrap();
        assert_eq!(t.wrote(), "c2VjcmV0\r\n");
        assert_eq!(
            t.step(b"235 2.7.0 ok\r\n").unwrap(),
            Some(Outcome::Authenticated)
        );
    }

    #[test]
    fn xoauth2_error_challenge_and_unexpected_challenge_cancelled() {
        let mut t = Script::ready(Security::Implicit, b"250-mx\r\n250 AUTH XOAUTH2 PLAIN\r\n");
        t.s.auth_xoauth2("bob@x", &"tok".to_string().into())
            .unwrap();
        t.step(b"").unwrap();
        assert_eq!(
            t.wrote(),
            "AUTH XOAUTH2 dXNlcj1ib2JAeAFhdXRoPUJlYXJlciB0b2sBAQ==\r\n"
        );
        t.step(b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n").unwrap();
        assert_eq!(t.wrote(), "\r\n");
        assert!(matches!(
            t.step(b"535 5.7.8 invalid token\r\n"),
            Err(Error::AuthFailed(ref r)) if r.contains("invalid token")
        ));
        assert!(
            t.s.auth_xoauth2("bob\x01@x", &"t".to_string().into())
                .is_err()
        );
        // PLAIN answered with a challenge: cancelled with "*", then a failure.
        t.s.auth_plain("a", &"b".to_string().into()).unwrap();
        t.step(b"").unwrap();
        t.wrote();
        t.step(b"334 \r\n").unwrap();
        assert_eq!(t.wrote(), "*\r\n");
        assert!(matches!(
            t.step(b"501 5.7.0 cancelled\r\n"),
            Err(Error::AuthFailed(_))
        ));
    }

    #[test]
    fn pipelined_send_with_a_rejected_recipient() {
        let mut t = Script::ready(Security::Implicit, EHLO_PIPE);
        t.s.send(&Envelope::new("a@x", ["bad@y", "b@y"]), None)
            .unwrap();
        t.body = b".dot\nline".to_vec();
        assert_eq!(t.step(b"").unwrap(), None);
        assert_eq!(
            t.wrote(),
            "MAIL FROM:<a@x>\r\nRCPT TO:<bad@y>\r\nRCPT TO:<b@y>\r\nDATA\r\n"
        );
        // The replies split anywhere.
        assert_eq!(
            t.step(b"250 2.1.0 Ok\r\n550 5.1.1 <bad@y>: Recipient addr")
                .unwrap(),
            None
        );
        assert_eq!(t.wrote(), "");
        assert_eq!(t.step(b"ess rejected\r\n250 2.1.5 Ok\r\n35").unwrap(), None);
        assert_eq!(t.step(b"4 End data\r\n").unwrap(), None);
        assert_eq!(t.wrote(), "..dot\r\nline\r\n.\r\n");
        // Not sent until the final 250.
        assert!(!t.s.is_idle());
        let Some(Outcome::Sent(report)) = t.step(b"250 2.0.0 Ok: queued as ABC\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(report.accepted, ["b@y"]);
        let (who, why) = &report.rejected[0];
        assert_eq!(who, "bad@y");
        assert_eq!(
            why.enhanced_code().map(|c| c.to_string()).as_deref(),
            Some("5.1.1")
        );
        assert_eq!(why.text(), "<bad@y>: Recipient address rejected");
        assert_eq!(report.reply.enhanced_code().unwrap().to_string(), "2.0.0");
        assert!(t.s.is_idle());
    }

    #[test]
    fn final_reply_decides_and_failed_transaction_is_reset() {
        let mut t = Script::ready(Security::Implicit, EHLO_PIPE);
        t.s.send(&Envelope::new("a@x", ["b@y"]), None).unwrap();
        t.body = b"x".to_vec();
        t.step(b"").unwrap();
        t.step(b"250 ok\r\n250 ok\r\n354 go\r\n").unwrap();
        t.wrote();
        assert!(matches!(
            t.step(b"554 5.7.1 spam\r\n"),
            Err(Error::Rejected {
                command: "the message",
                ..
            })
        ));
        // A completed (if rejected) transaction needs no RSET.
        t.s.send(&Envelope::new("a@x", ["b@y", "c@y"]), None)
            .unwrap();
        t.step(b"").unwrap();
        t.wrote();
        // Every recipient rejected: DATA was taken anyway, so an empty message ends it.
        assert_eq!(
            t.step(b"250 ok\r\n550 5.1.1 no\r\n450 4.2.0 later\r\n354 go\r\n")
                .unwrap(),
            None
        );
        assert_eq!(t.wrote(), ".\r\n");
        match t.step(b"554 5.5.1 no valid recipients\r\n") {
            Err(Error::AllRecipientsRejected(r)) => {
                assert_eq!(r.len(), 2);
                assert!(r[1].1.starts_with("450 4.2.0"));
            }
            other => panic!("{other:?}"),
        }
        // The next transaction starts with RSET, in the same write.
        t.s.send(&Envelope::new("a@x", ["b@y"]), None).unwrap();
        t.body = b"y".to_vec();
        t.step(b"").unwrap();
        assert_eq!(
            t.wrote(),
            "RSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"
        );
        t.step(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n").unwrap();
        assert!(matches!(
            t.step(b"250 ok\r\n").unwrap(),
            Some(Outcome::Sent(_))
        ));
    }

    #[test]
    fn without_pipelining_one_command_per_reply() {
        let mut t = Script::ready(Security::Implicit, b"250-mx\r\n250 8BITMIME\r\n");
        t.s.send(&Envelope::new("a@x", ["b@y", "c@y"]), Some(1))
            .unwrap();
        t.body = b"z".to_vec();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "MAIL FROM:<a@x> BODY=8BITMIME\r\n");
        t.step(b"250 ok\r\n").unwrap();
        assert_eq!(t.wrote(), "RCPT TO:<b@y>\r\n");
        t.step(b"550 no\r\n").unwrap();
        assert_eq!(t.wrote(), "RCPT TO:<c@y>\r\n");
        t.step(b"250 ok\r\n").unwrap();
        assert_eq!(t.wrote(), "DATA\r\n");
        t.step(b"354 go\r\n").unwrap();
        assert_eq!(t.wrote(), "z\r\n.\r\n");
        assert!(matches!(
            t.step(b"250 ok\r\n").unwrap(),
            Some(Outcome::Sent(_))
        ));
        // MAIL refused: nothing more is sent; RSET opens the next transaction.
        t.s.send(&Envelope::new("a@x", ["b@y"]), None).unwrap();
        t.step(b"").unwrap();
        t.wrote();
        assert!(matches!(
            t.step(b"451 4.3.0 try later\r\n"),
            Err(Error::Rejected {
                command: "MAIL FROM",
                ..
            })
        ));
        assert_eq!(t.wrote(), "");
        t.s.send(&Envelope::new("a@x", ["b@y"]), None).unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "RSET\r\n");
        t.step(b"250 ok\r\n").unwrap();
        assert_eq!(t.wrote(), "MAIL FROM:<a@x> BODY=8BITMIME\r\n");
    }

    #[test]
    fn envelope_checks_before_anything_is_sent() {
        let mut t = Script::ready(Security::Implicit, b"250-mx\r\n250 SIZE 100\r\n");
        let env = Envelope::new("a@x", ["b@y"]);
        let mut req = env.clone();
        req.require_tls = true;
        assert!(matches!(
            t.s.send(&req, None),
            Err(Error::RequireTlsNotOffered)
        ));
        assert!(matches!(
            t.s.send(&env, Some(101)),
            Err(Error::MessageTooLarge {
                size: 101,
                limit: 100
            })
        ));
        assert!(matches!(
            t.s.send(&Envelope::new("a@x", ["b@y>\r\nRCPT TO:<c@z"]), None),
            Err(Error::Misuse(_))
        ));
        assert!(
            t.s.send(&Envelope::new("a@x", Vec::<String>::new()), None)
                .is_err()
        );
        assert!(matches!(
            t.s.send(&Envelope::new("a@x", ["b\u{e9}@y"]), None),
            Err(Error::Rejected {
                command: "MAIL FROM",
                ..
            })
        ));
        assert!(t.s.is_idle() && t.wrote().is_empty());
        // SIZE announced, REQUIRETLS and SMTPUTF8 where offered.
        let mut t = Script::ready(
            Security::Implicit,
            b"250-mx\r\n250-SIZE 100\r\n250-REQUIRETLS\r\n250 SMTPUTF8\r\n",
        );
        t.s.send(
            &Envelope {
                require_tls: true,
                ..Envelope::new("a@x", ["b\u{e9}@y"])
            },
            Some(5),
        )
        .unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "MAIL FROM:<a@x> SIZE=5 SMTPUTF8 REQUIRETLS\r\n");
    }

    #[test]
    fn body_past_the_limit_kills_the_session() {
        let mut t = Script::new(Security::Implicit);
        t.s.limits = Limits::default().with_max_message(4);
        t.step(b"220 mx\r\n").unwrap();
        t.step(EHLO_PIPE).unwrap();
        t.s.send(&Envelope::new("a@x", ["b@y"]), None).unwrap();
        t.body = b"12345".to_vec();
        assert!(matches!(
            t.step(b"250 ok\r\n250 ok\r\n354 go\r\n"),
            Err(Error::MessageTooLarge { size: 5, limit: 4 })
        ));
        assert!(matches!(t.s.next_action(), Err(Error::ConnectionClosed)));
    }

    #[test]
    fn oversized_and_unsolicited_replies() {
        let mut t = Script::new(Security::Implicit);
        t.s.limits = Limits::default().with_max_line(16);
        assert!(matches!(
            t.step(&[b'2'; 40]),
            Err(Error::Protocol(ProtocolError::LineTooLong { limit: 16 }))
        ));
        // A reply nobody asked for is not taken for the next command's.
        let mut t = Script::ready(Security::Implicit, EHLO_PIPE);
        t.s.feed(b"250 surprise\r\n").unwrap();
        assert!(matches!(t.s.noop(), Err(Error::Protocol(_))));
        // A message split over many pushes comes out in writes of about 64 KiB.
        let mut t = Script::ready(Security::Implicit, EHLO_PIPE);
        t.s.send(&Envelope::new("a@x", ["b@y"]), None).unwrap();
        t.step(b"").unwrap();
        t.wrote();
        t.s.feed(b"250 ok\r\n250 ok\r\n354 go\r\n").unwrap();
        let mut writes = Vec::new();
        let mut pushed = 0;
        loop {
            match t.s.next_action().unwrap() {
                Action::Send(b) => writes.push(b.len()),
                Action::NeedBody if pushed < 100 => {
                    t.s.push_body(&[b'x'; 4000]).unwrap();
                    pushed += 1;
                }
                Action::NeedBody => t.s.finish_body().unwrap(),
                Action::NeedMore => break,
                other => panic!("{other:?}"),
            }
        }
        assert!(
            writes.len() >= 6 && writes.iter().all(|&n| n < 72 * 1024),
            "{writes:?}"
        );
        assert_eq!(writes.iter().sum::<usize>(), 400_000 + 5);
    }

    #[test]
    fn noop_quit_and_misuse() {
        let mut t = Script::ready(Security::Implicit, EHLO_PIPE);
        assert!(matches!(t.s.next_action(), Err(Error::Misuse(_))));
        t.s.noop().unwrap();
        assert!(t.s.noop().is_err(), "one operation at a time");
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "NOOP\r\n");
        assert!(matches!(
            t.step(b"250 ok\r\n").unwrap(),
            Some(Outcome::Reply(_))
        ));
        t.s.quit().unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "QUIT\r\n");
        assert!(
            matches!(t.step(b"221 bye\r\n").unwrap(), Some(Outcome::Reply(r)) if r.code == 221)
        );
        let mut t = Script::new(Security::Implicit);
        assert!(matches!(
            t.step(b"554 go away\r\n"),
            Err(Error::Rejected {
                command: "the connection",
                ..
            })
        ));
    }
}
