//! The POP3 session as a sans-I/O state machine.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::{ExposeSecret, SecretString};
use zeroize::{Zeroize, Zeroizing};

use super::{Command, MultilineDecoder, Status, decode_lines, decode_status};
use crate::endpoint::Security;
use crate::error::{Error, ProtocolError, Result};
use crate::limits::Limits;
use crate::proto::{Gate, InBuf};

/// What the driver must do next.
#[derive(Debug)]
#[non_exhaustive]
pub enum Action<'a> {
    /// Write these bytes to the connection. They count as written at the next call.
    Send(&'a [u8]),
    /// Read from the connection and [`Session::feed`] the bytes.
    NeedMore,
    /// Run the TLS handshake now, then call [`Session::tls_established`].
    StartTls,
    /// Message bytes of a RETR, dot-unstuffed and byte-exact: write them to the sink. The
    /// message is complete only at [`Outcome::Retrieved`]; on an error before, discard them.
    Data(&'a [u8]),
    /// The operation finished.
    Done(Outcome),
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The opening is done (greeting, CAPA; with STLS the upgrade and CAPA over TLS).
    Ready,
    /// The login succeeded (and CAPA was asked again).
    Authenticated,
    /// The `+OK` of a single-line command.
    Status(Status),
    /// The `+OK` and the lines of a multi-line command (LIST, UIDL).
    Lines(Status, Vec<String>),
    /// RETR ended; this many message bytes were handed out as [`Action::Data`].
    Retrieved(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Capa,
    CapaLines,
    Stls,
    User,
    Pass,
    AuthPlain,
    /// A single-line command; the status is the outcome.
    Status(&'static str),
    /// A multi-line command: status, then lines.
    Lines(&'static str),
    LinesBody,
    Retr,
    RetrBody,
}

#[derive(Debug)]
enum State {
    Idle,
    Waiting(Expect),
    Handshake,
    Finished(Option<Outcome>),
    Dead,
}

fn misuse(what: &str) -> Error {
    Error::Misuse(format!("POP3 session: {what}"))
}

/// A POP3 session (RFC 1939, 2449, 2595, 5034) as a sans-I/O state machine: the order of
/// the dialogue (greeting, CAPA, STLS with every byte buffered before the handshake thrown
/// away, CAPA again over TLS, AUTH PLAIN or USER/PASS only over TLS, one command at a time,
/// RETR streamed and dot-unstuffed) without any socket. Driven like
/// [`smtp::Session`](crate::proto::smtp::Session): start an operation, then loop on
/// [`Session::next_action`].
pub struct Session {
    state: State,
    input: InBuf,
    out: Vec<u8>,
    out_handed: bool,
    out_secret: bool,
    data: Vec<u8>,
    data_handed: bool,
    limits: Limits,
    security: Security,
    tls: bool,
    capabilities: Vec<String>,
    /// The status of the multi-line command whose lines are being read.
    status: Option<Status>,
    pass: Option<Zeroizing<String>>,
    retr: Option<MultilineDecoder>,
    retr_total: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("tls", &self.tls)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session on a fresh connection; the opening is started (greeting, CAPA, and with
    /// [`Security::StartTls`] STLS, required, and CAPA again). Ends with [`Outcome::Ready`].
    pub fn new(security: Security, limits: Limits) -> Session {
        Session {
            state: State::Waiting(Expect::Greeting),
            input: InBuf::default(),
            out: Vec::new(),
            out_handed: false,
            out_secret: false,
            data: Vec::new(),
            data_handed: false,
            limits,
            security,
            tls: security == Security::Implicit,
            capabilities: Vec::new(),
            status: None,
            pass: None,
            retr: None,
            retr_total: 0,
        }
    }

    /// The CAPA lines (RFC 2449) the server announced last (over TLS once the opening is
    /// done), e.g. `SASL PLAIN`, `UIDL`.
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

    /// True once the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// True when no operation is running.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// Adds bytes received from the server; refused (and the session dies) while a TLS
    /// handshake is due.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        let gate = match self.state {
            State::Handshake => Gate::HandshakeDue("STLS"),
            State::Dead => Gate::Closed,
            _ => Gate::Open,
        };
        let fed = self.input.feed_gated(bytes, gate);
        if fed.is_err() {
            self.state = State::Dead;
        }
        fed
    }

    /// The driver finished the TLS handshake asked for by [`Action::StartTls`]; CAPA is
    /// asked again over TLS.
    pub fn tls_established(&mut self) -> Result<()> {
        if !matches!(self.state, State::Handshake) {
            return Err(misuse("tls_established without Action::StartTls"));
        }
        self.tls = true;
        self.command(&Command::Capa, Expect::Capa)
    }

    fn start(&mut self) -> Result<()> {
        match self.state {
            State::Idle if self.input.len() > 0 => {
                self.state = State::Dead;
                Err(ProtocolError::malformed(
                    "POP3 dialogue (unsolicited reply)",
                    self.input.data(),
                )
                .into())
            }
            State::Idle => Ok(()),
            State::Dead => Err(Error::ConnectionClosed),
            _ => Err(misuse("an operation is still running")),
        }
    }

    fn command(&mut self, cmd: &Command<'_>, expect: Expect) -> Result<()> {
        cmd.encode(&mut self.out)?;
        self.state = State::Waiting(expect);
        Ok(())
    }

    /// Logs in: AUTH PLAIN when `SASL PLAIN` is announced, else USER/PASS; then CAPA again
    /// (RFC 2449 6.0: capabilities may change). Only over TLS.
    pub fn login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        if !self.tls {
            return Err(misuse("credentials are only sent over TLS"));
        }
        if !crate::proto::is_safe_arg(user) || !crate::proto::is_safe_arg(password.expose_secret())
        {
            return Err(misuse("user name or password contains a line break or NUL"));
        }
        self.start()?;
        let sasl_plain = self.capabilities.iter().any(|c| {
            let mut w = c.split_ascii_whitespace();
            w.next().is_some_and(|k| k.eq_ignore_ascii_case("SASL"))
                && w.any(|m| m.eq_ignore_ascii_case("PLAIN"))
        });
        if sasl_plain {
            let mut raw = Zeroizing::new(Vec::new());
            raw.push(0);
            raw.extend_from_slice(user.as_bytes());
            raw.push(0);
            raw.extend_from_slice(password.expose_secret().as_bytes());
            let ir = Zeroizing::new(B64.encode(&*raw));
            self.out_secret = true;
            self.command(&Command::Auth("PLAIN", Some(&ir)), Expect::AuthPlain)
        } else {
            self.pass = Some(Zeroizing::new(password.expose_secret().to_string()));
            self.command(&Command::User(user), Expect::User)
        }
    }

    /// Sends a single-line command (STAT, DELE, RSET, NOOP, QUIT); ends with
    /// [`Outcome::Status`], or [`Error::Rejected`] on `-ERR`.
    pub fn simple(&mut self, cmd: &Command<'_>) -> Result<()> {
        if matches!(cmd, Command::User(_) | Command::Pass(_) | Command::Auth(..))
            || matches!(cmd, Command::Stls | Command::Capa | Command::Retr(_))
            || matches!(cmd, Command::List | Command::Uidl)
        {
            return Err(misuse("use login, lines or retr for this command"));
        }
        self.start()?;
        self.command(cmd, Expect::Status(cmd.verb()))
    }

    /// Sends LIST or UIDL; ends with [`Outcome::Lines`], bounded by
    /// [`Limits::max_reply_lines`].
    pub fn lines(&mut self, cmd: &Command<'_>) -> Result<()> {
        if !matches!(cmd, Command::List | Command::Uidl) {
            return Err(misuse("not a multi-line command"));
        }
        self.start()?;
        self.command(cmd, Expect::Lines(cmd.verb()))
    }

    /// Sends RETR; the message comes as [`Action::Data`] chunks, bounded by
    /// [`Limits::max_message`], and ends with [`Outcome::Retrieved`].
    pub fn retr(&mut self, n: u32) -> Result<()> {
        self.start()?;
        self.command(&Command::Retr(n), Expect::Retr)
    }

    /// What the driver must do next.
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
        if self.data_handed {
            self.data_handed = false;
            self.data.clear();
        }
        loop {
            let expect = match &mut self.state {
                State::Dead => return Err(Error::ConnectionClosed),
                State::Idle => return Err(misuse("next_action with no operation running")),
                State::Finished(outcome) => {
                    let outcome = outcome.take();
                    self.state = State::Idle;
                    return outcome
                        .map(Action::Done)
                        .ok_or_else(|| misuse("outcome already taken"));
                }
                State::Handshake => return Ok(Action::StartTls),
                State::Waiting(expect) => *expect,
            };
            if !self.out.is_empty() {
                self.out_handed = true;
                return Ok(Action::Send(&self.out));
            }
            match self.step(expect) {
                Ok(true) => {}
                Ok(false) if !self.data.is_empty() => {
                    self.data_handed = true;
                    return Ok(Action::Data(&self.data));
                }
                Ok(false) => return Ok(Action::NeedMore),
                Err(e) => {
                    let recoverable = matches!(e, Error::Rejected { .. } | Error::AuthFailed(_));
                    self.pass = None;
                    self.out.zeroize();
                    self.state = if recoverable {
                        State::Idle
                    } else {
                        State::Dead
                    };
                    return Err(e);
                }
            }
        }
    }

    /// Advances on buffered input; `Ok(false)` if more is needed.
    fn step(&mut self, expect: Expect) -> Result<bool> {
        let limits = self.limits;
        match expect {
            Expect::CapaLines | Expect::LinesBody => {
                let Some(lines) = self.input.decode(|b| decode_lines(b, &limits))? else {
                    return Ok(false);
                };
                if expect == Expect::CapaLines {
                    self.capabilities = lines;
                    self.after_capa()?;
                } else {
                    let status = self.status.take().unwrap_or(Status {
                        ok: true,
                        text: String::new(),
                    });
                    self.state = State::Finished(Some(Outcome::Lines(status, lines)));
                }
                return Ok(true);
            }
            Expect::RetrBody => {
                let dec = self
                    .retr
                    .get_or_insert_with(|| MultilineDecoder::new(limits.max_message));
                let before = self.data.len();
                let used = dec.decode(self.input.data(), &mut self.data)?;
                self.input.consume(used);
                self.retr_total += (self.data.len() - before) as u64;
                if dec.is_done() {
                    if self.data.is_empty() {
                        self.retr = None;
                        self.state = State::Finished(Some(Outcome::Retrieved(self.retr_total)));
                        return Ok(true);
                    }
                    // Hand the last bytes out first; the outcome comes at the next call.
                    return Ok(false);
                }
                return Ok(false);
            }
            _ => {}
        }
        let Some(status) = self.input.decode(|b| decode_status(b, &limits))? else {
            return Ok(false);
        };
        let rejected = |command: &'static str, status: &Status| Error::Rejected {
            command,
            reply: status.to_string(),
        };
        match expect {
            Expect::Greeting => {
                if !status.ok {
                    return Err(rejected("the connection", &status));
                }
                self.command(&Command::Capa, Expect::Capa)?;
            }
            Expect::Capa => {
                if status.ok {
                    self.state = State::Waiting(Expect::CapaLines);
                } else {
                    // A server without CAPA (RFC 1939 only): no capabilities known.
                    self.capabilities.clear();
                    self.after_capa()?;
                }
            }
            Expect::Stls => {
                if !status.ok {
                    return Err(Error::TlsRefused {
                        command: "STLS",
                        reply: status.to_string(),
                    });
                }
                // Forget the plaintext capabilities and every byte already received.
                self.capabilities.clear();
                self.input.discard();
                self.state = State::Handshake;
            }
            Expect::User => {
                if !status.ok {
                    return Err(Error::AuthFailed(status.to_string()));
                }
                let pass = self.pass.take().unwrap_or_default();
                self.out_secret = true;
                self.command(&Command::Pass(&pass), Expect::Pass)?;
            }
            Expect::Pass | Expect::AuthPlain => {
                if !status.ok {
                    return Err(Error::AuthFailed(status.to_string()));
                }
                self.status = Some(status);
                self.command(&Command::Capa, Expect::Capa)?;
            }
            Expect::Status(command) => {
                if !status.ok {
                    return Err(rejected(command, &status));
                }
                self.state = State::Finished(Some(Outcome::Status(status)));
            }
            Expect::Lines(command) => {
                if !status.ok {
                    return Err(rejected(command, &status));
                }
                self.status = Some(status);
                self.state = State::Waiting(Expect::LinesBody);
            }
            Expect::Retr => {
                if !status.ok {
                    return Err(rejected("RETR", &status));
                }
                self.retr = Some(MultilineDecoder::new(limits.max_message));
                self.retr_total = 0;
                self.state = State::Waiting(Expect::RetrBody);
            }
            Expect::CapaLines | Expect::LinesBody | Expect::RetrBody => {}
        }
        Ok(true)
    }

    /// After a CAPA: in the opening, go on to STLS or be ready; after a login, done.
    fn after_capa(&mut self) -> Result<()> {
        if self.status.take().is_some() {
            self.state = State::Finished(Some(Outcome::Authenticated));
        } else if self.security == Security::StartTls && !self.tls {
            if !self.has_capability("STLS") {
                return Err(Error::TlsNotOffered { command: "STLS" });
            }
            self.command(&Command::Stls, Expect::Stls)?;
        } else {
            self.state = State::Finished(Some(Outcome::Ready));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                Action::Data(d) => {
                    t.received.extend_from_slice(d);
                    Flow::Continue
                }
                Action::Done(o) => Flow::Done(o),
            })
        }
    }

    impl Script {
        fn new(security: Security) -> Script {
            Script::with(Session::new(security, Limits::default()))
        }
    }

    #[test]
    fn stls_discards_injected_bytes_and_asks_capa_again() {
        let mut t = Script::new(Security::StartTls);
        t.step(b"+OK ready\r\n").unwrap();
        assert_eq!(t.wrote(), "CAPA\r\n");
        t.step(b"+OK\r\nSTLS\r\nUSER\r\n.\r\n").unwrap();
        assert_eq!(t.wrote(), "STLS\r\n");
        assert!(
            t.s.login("u", &"p".to_string().into()).is_err(),
            "no login before TLS"
        );
        t.step(b"+OK begin\r\n+OK\r\nSASL PLAIN\r\n.\r\n").unwrap();
        assert_eq!((t.starttls, t.s.capabilities().len()), (1, 0));
        assert!(t.s.feed(b"+OK late\r\n").is_err());
        let mut t = Script::new(Security::StartTls);
        t.step(b"+OK ready\r\n+OK\r\nSTLS\r\n.\r\n").unwrap();
        t.step(b"+OK begin\r\n+OK\r\nSASL PLAIN\r\n.\r\n").unwrap();
        t.s.tls_established().unwrap();
        t.wrote();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "CAPA\r\n");
        assert_eq!(
            t.step(b"+OK\r\nUSER\r\n.\r\n").unwrap(),
            Some(Outcome::Ready)
        );
        assert_eq!(t.s.capabilities(), ["USER"]);
        // USER/PASS, then CAPA again.
        t.s.login("bob", &"pw".to_string().into()).unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "USER bob\r\n");
        t.step(b"+OK\r\n").unwrap();
        assert_eq!(t.wrote(), "PASS pw\r\n");
        assert!(t.s.out.is_empty());
        t.step(b"+OK logged in\r\n").unwrap();
        assert_eq!(t.wrote(), "CAPA\r\n");
        assert_eq!(
            t.step(b"+OK\r\nUIDL\r\n.\r\n").unwrap(),
            Some(Outcome::Authenticated)
        );
    }

    #[test]
    fn no_stls_or_refused_is_fatal() {
        let mut t = Script::new(Security::StartTls);
        assert!(matches!(
            t.step(b"+OK ready\r\n+OK\r\nUSER\r\n.\r\n"),
            Err(Error::TlsNotOffered { command: "STLS" })
        ));
        let mut t = Script::new(Security::StartTls);
        t.step(b"+OK ready\r\n-ERR no CAPA\r\n").unwrap_err();
        let mut t = Script::new(Security::StartTls);
        t.step(b"+OK ready\r\n+OK\r\nSTLS\r\n.\r\n").unwrap();
        assert!(matches!(
            t.step(b"-ERR not now\r\n"),
            Err(Error::TlsRefused { .. })
        ));
        assert_eq!(t.starttls, 0);
    }

    #[test]
    fn auth_plain_retr_and_commands() {
        let mut t = Script::new(Security::Implicit);
        t.step(b"+OK ready\r\n+OK\r\nSASL PLAIN LOGIN\r\n.\r\n")
            .unwrap();
        t.wrote();
        t.s.login("bob", &"pw".to_string().into()).unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "AUTH PLAIN AGJvYgBwdw==\r\n");
        assert!(matches!(
            t.step(b"-ERR [AUTH] bad\r\n"),
            Err(Error::AuthFailed(_))
        ));
        // RETR: streamed, dot-unstuffed, whatever the split.
        let wire: &[u8] = b"+OK 20 octets\r\n..a\r\n.\r\n";
        let body: &[u8] = b"..x\r\nb\r\n...\r\n";
        for cut in 0..body.len() {
            t.s.retr(1).unwrap();
            t.step(b"").unwrap();
            assert_eq!(t.wrote(), "RETR 1\r\n");
            t.received.clear();
            let mut all = wire[..15].to_vec();
            all.extend_from_slice(body);
            all.extend_from_slice(b".\r\n");
            assert_eq!(t.step(&all[..15 + cut]).unwrap(), None);
            assert_eq!(
                t.step(&all[15 + cut..]).unwrap(),
                Some(Outcome::Retrieved(11))
            );
            assert_eq!(t.received, b".x\r\nb\r\n..\r\n");
        }
        t.s.lines(&Command::Uidl).unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "UIDL\r\n");
        assert!(matches!(
            t.step(b"+OK\r\n1 abc\r\n.\r\n").unwrap(),
            Some(Outcome::Lines(_, l)) if l == ["1 abc"]
        ));
        t.s.simple(&Command::Dele(1)).unwrap();
        t.step(b"").unwrap();
        assert!(matches!(
            t.step(b"-ERR no such message\r\n"),
            Err(Error::Rejected {
                command: "DELE",
                ..
            })
        ));
        assert!(t.s.simple(&Command::Pass("x")).is_err());
        // A reply nobody asked for.
        t.s.feed(b"+OK surprise\r\n").unwrap();
        assert!(matches!(
            t.s.simple(&Command::Noop),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn bounded_lines_and_messages() {
        let mut t = Script::new(Security::Implicit);
        t.s.limits = Limits::default()
            .with_max_message(4)
            .with_max_reply_lines(2);
        t.step(b"+OK\r\n-ERR\r\n").unwrap();
        t.s.retr(1).unwrap();
        t.step(b"").unwrap();
        assert!(matches!(
            t.step(b"+OK\r\nabcdef\r\n.\r\n"),
            Err(Error::Protocol(ProtocolError::MessageTooLarge { limit: 4 }))
        ));
        let mut t = Script::new(Security::Implicit);
        t.s.limits = Limits::default().with_max_reply_lines(2);
        assert!(matches!(
            t.step(b"+OK\r\n+OK\r\na\r\nb\r\nc\r\n.\r\n"),
            Err(Error::Protocol(ProtocolError::ReplyTooLong { limit: 2 }))
        ));
        let mut t = Script::new(Security::Implicit);
        t.s.limits = Limits::default().with_max_line(8);
        assert!(matches!(
            t.step(b"+OK 0123456789"),
            Err(Error::Protocol(ProtocolError::LineTooLong { limit: 8 }))
        ));
    }
}
