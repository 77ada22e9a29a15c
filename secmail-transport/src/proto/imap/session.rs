//! The IMAP session as a sans-I/O state machine.

use std::collections::VecDeque;

use imap_codec::imap_types::response::{Data, Response, Status, StatusKind};
use zeroize::{Zeroize, Zeroizing};

use super::{decode_response, frame, quoted};
use crate::endpoint::Security;
use crate::error::{Error, ProtocolError, Result};
use crate::limits::Limits;
use crate::proto::{DecodeError, Gate, InBuf};

/// A piece of a command: text as it is, a string that must go as a literal (LITERAL+ when
/// the server offers it, else a synchronizing literal that waits for the server's `+`), or a
/// SASL response sent on a line of its own after the server's `+`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Part<'a> {
    /// Bytes that go on the command line as they are.
    Text(&'a [u8]),
    /// A string sent as a literal, `{n}` CRLF then the bytes.
    Literal(&'a [u8]),
    /// A line sent after the server's continuation request (a SASL response).
    AfterContinuation(&'a [u8]),
    /// A string argument: quoted when it can be, else a literal.
    String(&'a [u8]),
}

/// What the driver must do next.
#[derive(Debug)]
#[non_exhaustive]
pub enum Action<'a> {
    /// Write these bytes to the connection. They count as written at the next call.
    Send(&'a [u8]),
    /// Read from the connection and [`Session::feed`] the bytes. During IDLE
    /// ([`Session::is_idling`]) this read may wait as long as the caller wants to idle.
    NeedMore,
    /// Run the TLS handshake now, then call [`Session::tls_established`].
    StartTls,
    /// An untagged response for the running command (decoded by imap-codec, borrowing the
    /// session's buffer until the next call).
    Data(Response<'a>),
    /// Bytes of a message body streamed by [`Session::fetch_streaming`] (the literal of a
    /// `BODY[]` in a FETCH response), byte-exact, in order. The FETCH response itself follows
    /// as [`Action::Data`] with that literal empty. Complete only when the command ends OK.
    Literal(&'a [u8]),
    /// The operation finished.
    Done(Outcome),
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The opening is done (greeting, CAPABILITY; with STARTTLS the upgrade and
    /// CAPABILITY over TLS).
    Ready,
    /// The login succeeded (and CAPABILITY was asked again).
    Authenticated,
    /// The command ended with a tagged OK; its text.
    Ok(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// The caller's command: data goes out, OK ends it.
    User,
    /// CAPABILITY in the opening or after a login.
    Capability,
    StartTls,
    Login,
    Idle,
}

#[derive(Debug)]
struct Running {
    tag: String,
    verb: &'static str,
    purpose: Purpose,
    /// What is left to send after each continuation request.
    segments: VecDeque<Zeroizing<Vec<u8>>>,
    /// Untagged responses so far (bounded).
    count: usize,
    /// A SASL exchange: a continuation request is answered with an empty line.
    sasl: bool,
    /// Stream the `BODY[]` literals of FETCH responses as [`Action::Literal`].
    stream: bool,
    /// IDLE: the `+` came, DONE not yet sent.
    idling: bool,
}

#[derive(Debug)]
enum State {
    Idle,
    Greeting,
    Running(Running),
    Handshake,
    Finished(Option<Outcome>),
    Dead,
}

/// Where the literal of a FETCH response line starts, if the line is `* n FETCH (… BODY[]
/// {size}`: the one literal [`Session::fetch_streaming`] streams.
fn body_literal(line: &[u8]) -> Option<usize> {
    if !line.starts_with(b"* ") || !line.ends_with(b"}") {
        return None;
    }
    let open = memchr::memrchr(b'{', line)?;
    let before = &line[..open];
    let is_fetch = memchr::memmem::find(line, b" FETCH (").is_some();
    (is_fetch && before.ends_with(b"BODY[] ")).then_some(open)
}

/// The response code of a status line, `TAG OK [CODE args] text`: the bracketed text, upper
/// case, at most 200 bytes. By hand rather than from imap-codec's `Code`, which has no
/// variant for RFC 5530's codes (they decode as an opaque "other" code).
fn response_code(line: &[u8]) -> Option<String> {
    let mut words = line.splitn(3, |&b| b == b' ');
    let (_tag, _status, rest) = (words.next()?, words.next()?, words.next()?);
    let inner = rest.strip_prefix(b"[")?;
    let end = memchr::memchr(b']', inner)?;
    let code = &inner[..end.min(200)];
    Some(String::from_utf8_lossy(code).to_ascii_uppercase())
}

fn misuse(what: &str) -> Error {
    Error::Misuse(format!("IMAP session: {what}"))
}

/// What one complete response frame means for the running command.
enum Step {
    /// Handled inside; go on.
    Continue,
    /// Hand this frame (of this length) to the driver as [`Action::Data`].
    HandOut(usize),
}

/// An IMAP session (RFC 3501 / 9051) as a sans-I/O state machine: the greeting, CAPABILITY,
/// STARTTLS (every byte buffered at its tagged OK thrown away, bytes fed before the
/// handshake refused, CAPABILITY again over TLS), login only over TLS, and the tagged command
/// flow (literals as LITERAL+ or synchronizing, SASL continuations, untagged data handed out,
/// the tagged status deciding, IDLE and DONE), without any socket. Framing and limits are
/// [`frame`]'s, the grammar imap-codec's. Driven like
/// [`smtp::Session`](crate::proto::smtp::Session).
pub struct Session {
    state: State,
    input: InBuf,
    out: Vec<u8>,
    out_handed: bool,
    out_secret: bool,
    /// The length of the frame handed out as Data, consumed at the next call.
    handed_frame: usize,
    /// A `BODY[]` literal being streamed: bytes still to come, and its response line with
    /// the literal made empty (`{0}`), put back in front of the input once it is done.
    streaming: Option<(u64, Vec<u8>)>,
    limits: Limits,
    security: Security,
    tls: bool,
    capabilities: Vec<String>,
    next_tag: u32,
    /// The response code of the last tagged OK (`EXPUNGEISSUED`, `READ-WRITE`, …), upper
    /// case, bounded.
    last_code: Option<String>,
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
    /// A session on a fresh connection; the opening is started. Ends with
    /// [`Outcome::Ready`].
    pub fn new(security: Security, limits: Limits) -> Session {
        Session {
            state: State::Greeting,
            input: InBuf::default(),
            out: Vec::new(),
            out_handed: false,
            out_secret: false,
            handed_frame: 0,
            streaming: None,
            limits,
            security,
            tls: security == Security::Implicit,
            capabilities: Vec::new(),
            next_tag: 1,
            last_code: None,
        }
    }

    /// The capabilities announced last (over TLS once the opening is done), upper case.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// True if the server announced this capability (case-insensitive).
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    }

    /// The response code of the tagged OK that ended the last command, upper case, e.g.
    /// `EXPUNGEISSUED` (RFC 5530) or `APPENDUID 38505 3955`; `None` if it had none.
    pub fn last_code(&self) -> Option<&str> {
        self.last_code.as_deref()
    }

    /// True once the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// True when no operation is running.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// True while IDLE waits for changes: call [`Session::idle_done`] to end it.
    pub fn is_idling(&self) -> bool {
        matches!(&self.state, State::Running(r) if r.idling)
    }

    /// Adds bytes received from the server; refused (and the session dies) while a TLS
    /// handshake is due.
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

    /// The driver finished the TLS handshake asked for by [`Action::StartTls`]; CAPABILITY
    /// is asked again over TLS.
    pub fn tls_established(&mut self) -> Result<()> {
        if !matches!(self.state, State::Handshake) {
            return Err(misuse("tls_established without Action::StartTls"));
        }
        self.tls = true;
        self.begin(
            &[Part::Text(b"CAPABILITY")],
            "CAPABILITY",
            Purpose::Capability,
        )
    }

    fn start(&mut self) -> Result<()> {
        match self.state {
            State::Idle if self.input.len() > 0 => {
                // Untagged data between commands (e.g. EXISTS) is allowed in IMAP, but none
                // may arrive before the opening ends; later it is handed out with the next
                // command's data.
                Ok(())
            }
            State::Idle => Ok(()),
            State::Dead => Err(Error::ConnectionClosed),
            _ => Err(misuse("an operation is still running")),
        }
    }

    /// Starts a command (the tag is added). Untagged responses come as [`Action::Data`];
    /// a tagged OK ends it with [`Outcome::Ok`], NO or BAD with [`Error::Rejected`].
    pub fn command(&mut self, parts: &[Part<'_>], verb: &'static str) -> Result<()> {
        if verb == "LOGIN" || verb == "AUTHENTICATE" || verb == "STARTTLS" || verb == "IDLE" {
            return Err(misuse("use login, authenticate or idle for this command"));
        }
        self.start()?;
        self.begin(parts, verb, Purpose::User)
    }

    /// Like [`Session::command`], but the `BODY[]` literal of each FETCH response is not
    /// held in memory: it comes as [`Action::Literal`] chunks as it arrives (bounded by
    /// [`Limits::max_message`], checked from its announcement), and the FETCH response then
    /// comes as [`Action::Data`] with that literal empty.
    pub fn fetch_streaming(&mut self, parts: &[Part<'_>], verb: &'static str) -> Result<()> {
        self.command(parts, verb)?;
        if let State::Running(r) = &mut self.state {
            r.stream = true;
        }
        Ok(())
    }

    /// LOGIN with the user name and password as IMAP strings (quoted, else literals). Only
    /// over TLS. Ends with [`Outcome::Authenticated`] after CAPABILITY is asked again.
    pub fn login(&mut self, user: &[u8], password: &[u8]) -> Result<()> {
        self.require_tls()?;
        self.start()?;
        self.out_secret = true;
        self.begin(
            &[
                Part::Text(b"LOGIN "),
                Part::String(user),
                Part::Text(b" "),
                Part::String(password),
            ],
            "LOGIN",
            Purpose::Login,
        )
    }

    /// AUTHENTICATE with one base64 response: an initial response with SASL-IR (RFC 4959),
    /// else after the server's `+`. A further challenge (XOAUTH2's error) is answered with an
    /// empty line. Only over TLS. Ends like [`Session::login`].
    pub fn authenticate(&mut self, mechanism: &str, response: &[u8]) -> Result<()> {
        self.require_tls()?;
        if !mechanism
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(misuse("bad SASL mechanism name"));
        }
        if response.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(misuse("a SASL response is base64, on one line"));
        }
        self.start()?;
        self.out_secret = true;
        let mut cmd = Zeroizing::new(format!("AUTHENTICATE {mechanism}").into_bytes());
        if self.has_capability("SASL-IR") {
            cmd.push(b' ');
            cmd.extend_from_slice(if response.is_empty() { b"=" } else { response });
            self.begin(&[Part::Text(&cmd)], "AUTHENTICATE", Purpose::Login)?;
        } else {
            self.begin(
                &[Part::Text(&cmd), Part::AfterContinuation(response)],
                "AUTHENTICATE",
                Purpose::Login,
            )?;
        }
        if let State::Running(r) = &mut self.state {
            r.sasl = true;
        }
        Ok(())
    }

    /// IDLE (RFC 2177): once the server's `+` came, [`Session::is_idling`] is true and
    /// changes come as [`Action::Data`]; [`Session::idle_done`] sends DONE, and the tagged OK
    /// ends it with [`Outcome::Ok`].
    pub fn idle(&mut self) -> Result<()> {
        if !self.has_capability("IDLE") {
            return Err(misuse("the server does not offer IDLE"));
        }
        self.start()?;
        // The `+` is awaited as for a synchronizing literal; nothing follows it until DONE.
        self.begin(
            &[Part::Text(b"IDLE"), Part::AfterContinuation(b"")],
            "IDLE",
            Purpose::Idle,
        )?;
        if let State::Running(r) = &mut self.state {
            r.segments.clear();
            r.segments.push_back(Zeroizing::new(Vec::new()));
        }
        Ok(())
    }

    /// Ends IDLE: sends DONE.
    pub fn idle_done(&mut self) -> Result<()> {
        match &mut self.state {
            State::Running(r) if r.idling => {
                r.idling = false;
                self.out.extend_from_slice(b"DONE\r\n");
                Ok(())
            }
            _ => Err(misuse("idle_done while not idling")),
        }
    }

    fn require_tls(&self) -> Result<()> {
        if self.tls {
            Ok(())
        } else {
            Err(misuse("credentials are only sent over TLS"))
        }
    }

    /// Encodes the command into segments (split at every wait for a continuation request)
    /// and queues the first.
    fn begin(&mut self, parts: &[Part<'_>], verb: &'static str, purpose: Purpose) -> Result<()> {
        let tag = format!("S{}", self.next_tag);
        self.next_tag += 1;
        self.last_code = None;
        let literal_plus = self.has_capability("LITERAL+");
        let mut segments = VecDeque::new();
        let mut line = Zeroizing::new(Vec::new());
        line.extend_from_slice(tag.as_bytes());
        line.push(b' ');
        let literal = |line: &mut Zeroizing<Vec<u8>>,
                       segments: &mut VecDeque<Zeroizing<Vec<u8>>>,
                       bytes: &[u8]| {
            line.extend_from_slice(format!("{{{}", bytes.len()).as_bytes());
            if literal_plus {
                line.extend_from_slice(b"+}\r\n");
            } else {
                line.extend_from_slice(b"}\r\n");
                // Wait for the server's go-ahead (RFC 3501 7.5).
                segments.push_back(std::mem::take(line));
            }
            line.extend_from_slice(bytes);
        };
        for part in parts {
            match part {
                Part::Text(t) => {
                    if t.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
                        return Err(misuse("command text contains a line break or NUL"));
                    }
                    line.extend_from_slice(t);
                }
                Part::String(s) => {
                    let mut q = Zeroizing::new(Vec::new());
                    if quoted(s, &mut q) {
                        line.extend_from_slice(&q);
                    } else {
                        literal(&mut line, &mut segments, s);
                    }
                }
                Part::Literal(bytes) => literal(&mut line, &mut segments, bytes),
                Part::AfterContinuation(bytes) => {
                    line.extend_from_slice(b"\r\n");
                    segments.push_back(std::mem::take(&mut line));
                    line.extend_from_slice(bytes);
                }
            }
        }
        line.extend_from_slice(b"\r\n");
        segments.push_back(line);
        let first = segments.pop_front().unwrap_or_default();
        self.out.extend_from_slice(&first);
        self.state = State::Running(Running {
            tag,
            verb,
            purpose,
            segments,
            count: 0,
            sasl: false,
            stream: false,
            idling: false,
        });
        Ok(())
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
        if self.handed_frame > 0 {
            self.input.consume(self.handed_frame);
            self.handed_frame = 0;
        }
        let mut literal = false;
        loop {
            match &mut self.state {
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
                State::Greeting | State::Running(_) => {}
            }
            if !self.out.is_empty() {
                self.out_handed = true;
                return Ok(Action::Send(&self.out));
            }
            match self.stream_step() {
                Ok(Some(0)) => return Ok(Action::NeedMore),
                Ok(Some(n)) => {
                    self.handed_frame = n;
                    literal = true;
                    break;
                }
                Ok(None) => {}
                Err(e) => return Err(self.die(e)),
            }
            let len = match frame(self.input.data(), &self.limits) {
                Ok((len, _)) => len,
                Err(DecodeError::Incomplete) => return Ok(Action::NeedMore),
                Err(DecodeError::Failed(e)) => return Err(self.die(e.into())),
            };
            match self.on_frame(len) {
                Ok(Step::Continue) => {}
                Ok(Step::HandOut(len)) => {
                    self.handed_frame = len;
                    break;
                }
                Err(e) => {
                    let recoverable = matches!(e, Error::Rejected { .. } | Error::AuthFailed(_));
                    if recoverable {
                        self.out.zeroize();
                        self.state = State::Idle;
                        return Err(e);
                    }
                    return Err(self.die(e));
                }
            }
        }
        if literal {
            return Ok(Action::Literal(&self.input.data()[..self.handed_frame]));
        }
        let response = decode_response(&self.input.data()[..self.handed_frame])?;
        Ok(Action::Data(response))
    }

    /// Streams a `BODY[]` literal: `Some(n)` hands out the first n input bytes (0: read
    /// more), `None` goes on with framing.
    fn stream_step(&mut self) -> Result<Option<usize>> {
        if let Some((remaining, prefix)) = &mut self.streaming {
            if *remaining > 0 {
                let n = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.input.len());
                *remaining -= n as u64;
                return Ok(Some(n));
            }
            // The literal is done: its line, with the literal empty, goes back in front of
            // what follows it, so the response frames and decodes as usual.
            let prefix = std::mem::take(prefix);
            self.streaming = None;
            self.input.prepend(&prefix);
            return Ok(None);
        }
        if !matches!(&self.state, State::Running(r) if r.stream) {
            return Ok(None);
        }
        let (line, used) = match crate::proto::split_line(self.input.data(), self.limits.max_line) {
            Ok(found) => found,
            // Incomplete or too long: framing says which.
            Err(_) => return Ok(None),
        };
        let Some(open) = body_literal(line) else {
            return Ok(None);
        };
        let n = super::literal_length(line)?.unwrap_or(0);
        if n > self.limits.max_message {
            return Err(ProtocolError::MessageTooLarge {
                limit: self.limits.max_message,
            }
            .into());
        }
        let mut prefix = line[..open].to_vec();
        prefix.extend_from_slice(b"{0}\r\n");
        self.input.consume(used);
        self.streaming = Some((n, prefix));
        self.stream_step()
    }

    fn die(&mut self, e: Error) -> Error {
        self.out.zeroize();
        self.state = State::Dead;
        e
    }

    /// Acts on one complete frame at the front of the input.
    fn on_frame(&mut self, len: usize) -> Result<Step> {
        let response = decode_response(&self.input.data()[..len])?;
        if let State::Greeting = self.state {
            let ok = matches!(&response, Response::Status(Status::Untagged(b)) if b.kind == StatusKind::Ok);
            if !ok {
                return Err(Error::Rejected {
                    command: "the connection",
                    reply: format!("{response:?}").chars().take(300).collect(),
                });
            }
            self.input.consume(len);
            return self
                .begin(
                    &[Part::Text(b"CAPABILITY")],
                    "CAPABILITY",
                    Purpose::Capability,
                )
                .map(|_| Step::Continue);
        }
        let State::Running(run) = &mut self.state else {
            return Err(misuse("no command running"));
        };
        match response {
            Response::CommandContinuationRequest(_) => {
                if let Some(next) = run.segments.pop_front() {
                    self.out.extend_from_slice(&next);
                    if run.purpose == Purpose::Login {
                        self.out_secret = true;
                    }
                    if run.purpose == Purpose::Idle {
                        run.idling = true;
                    }
                } else if run.sasl {
                    // A SASL challenge we have no answer to (XOAUTH2 sends its error this
                    // way): an empty response, after which the server fails the command.
                    self.out.extend_from_slice(b"\r\n");
                } else {
                    return Err(ProtocolError::malformed(
                        "IMAP continuation request (none expected)",
                        &self.input.data()[..len],
                    )
                    .into());
                }
                self.input.consume(len);
                Ok(Step::Continue)
            }
            Response::Status(Status::Tagged(t)) => {
                if t.tag.as_ref() != run.tag {
                    return Err(ProtocolError::malformed(
                        "IMAP tagged response (unknown tag)",
                        &self.input.data()[..len],
                    )
                    .into());
                }
                let ok = t.body.kind == StatusKind::Ok;
                self.last_code = response_code(&self.input.data()[..len]);
                let text: String = t.body.text.to_string().chars().take(300).collect();
                let verb = run.verb;
                let purpose = run.purpose;
                let unsent = !run.segments.is_empty();
                self.input.consume(len);
                if !ok {
                    return Err(match purpose {
                        Purpose::StartTls => Error::TlsRefused {
                            command: "STARTTLS",
                            reply: text,
                        },
                        Purpose::Login => Error::AuthFailed(text),
                        _ => Error::Rejected {
                            command: verb,
                            reply: text,
                        },
                    });
                }
                if unsent && purpose != Purpose::Idle {
                    // OK before the literal it asked for: not a dialogue this client had.
                    return Err(ProtocolError::Malformed {
                        what: "IMAP tagged response",
                        detail: "OK before the rest of the command was sent".into(),
                    }
                    .into());
                }
                self.after_ok(purpose, text)?;
                Ok(Step::Continue)
            }
            Response::Status(Status::Bye(_)) if run.verb != "LOGOUT" => {
                Err(Error::ConnectionClosed)
            }
            other => {
                run.count += 1;
                if run.count > self.limits.max_reply_lines {
                    return Err(ProtocolError::ReplyTooLong {
                        limit: self.limits.max_reply_lines,
                    }
                    .into());
                }
                if run.purpose == Purpose::Capability {
                    if let Response::Data(Data::Capability(list)) = &other {
                        self.capabilities = list
                            .as_ref()
                            .iter()
                            .map(|c| c.to_string().to_ascii_uppercase())
                            .collect();
                    }
                    self.input.consume(len);
                    return Ok(Step::Continue);
                }
                Ok(Step::HandOut(len))
            }
        }
    }

    fn after_ok(&mut self, purpose: Purpose, text: String) -> Result<()> {
        match purpose {
            Purpose::User | Purpose::Idle => {
                self.state = State::Finished(Some(Outcome::Ok(text)));
            }
            Purpose::StartTls => {
                // Forget the plaintext capabilities and every byte already received.
                self.capabilities.clear();
                self.input.discard();
                self.state = State::Handshake;
            }
            Purpose::Login => {
                self.begin(
                    &[Part::Text(b"CAPABILITY")],
                    "CAPABILITY",
                    Purpose::Capability,
                )?;
                if let State::Running(r) = &mut self.state {
                    r.purpose = Purpose::Capability;
                    r.verb = "CAPABILITY after login";
                }
            }
            Purpose::Capability => {
                let after_login =
                    matches!(&self.state, State::Running(r) if r.verb == "CAPABILITY after login");
                if after_login {
                    self.state = State::Finished(Some(Outcome::Authenticated));
                } else if self.security == Security::StartTls && !self.tls {
                    if !self.has_capability("STARTTLS") {
                        return Err(Error::TlsNotOffered {
                            command: "STARTTLS",
                        });
                    }
                    self.begin(&[Part::Text(b"STARTTLS")], "STARTTLS", Purpose::StartTls)?;
                } else {
                    self.state = State::Finished(Some(Outcome::Ready));
                }
            }
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
                Action::Data(r) => {
                    t.data.push(format!("{r:?}"));
                    Flow::Continue
                }
                Action::Literal(b) => {
                    t.received.extend_from_slice(b);
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
        fn ready(caps: &str) -> Script {
            let mut t = Script::new(Security::Implicit);
            t.step(b"* OK ready\r\n").unwrap();
            assert_eq!(t.wrote(), "S1 CAPABILITY\r\n");
            let caps = format!("* CAPABILITY IMAP4rev1 {caps}\r\nS1 OK done\r\n");
            assert_eq!(t.step(caps.as_bytes()).unwrap(), Some(Outcome::Ready));
            t
        }
    }

    #[test]
    fn starttls_discards_injected_bytes_and_asks_capability_again() {
        let mut t = Script::new(Security::StartTls);
        t.step(b"* OK ready\r\n").unwrap();
        t.step(b"* CAPABILITY IMAP4rev1 STARTTLS\r\nS1 OK done\r\n")
            .unwrap();
        assert_eq!(t.wrote(), "S1 CAPABILITY\r\nS2 STARTTLS\r\n");
        assert!(t.s.login(b"u", b"p").is_err(), "no login before TLS");
        t.step(b"S2 OK begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nS3 OK forged\r\n")
            .unwrap();
        assert_eq!((t.starttls, t.s.capabilities().len()), (1, 0));
        t.s.tls_established().unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "S3 CAPABILITY\r\n");
        assert_eq!(
            t.step(b"* CAPABILITY IMAP4rev1 LITERAL+\r\nS3 OK done\r\n")
                .unwrap(),
            Some(Outcome::Ready)
        );
        assert_eq!(t.s.capabilities(), ["IMAP4REV1", "LITERAL+"]);
        // Bytes fed between the STARTTLS OK and the handshake are refused.
        let mut t = Script::new(Security::StartTls);
        t.step(b"* OK ready\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\nS1 OK done\r\n")
            .unwrap();
        t.step(b"S2 OK begin TLS\r\n").unwrap();
        assert!(t.s.feed(b"* OK late\r\n").is_err());
        // No STARTTLS offered, or refused: fatal.
        let mut t = Script::new(Security::StartTls);
        assert!(matches!(
            t.step(b"* OK ready\r\n* CAPABILITY IMAP4rev1\r\nS1 OK done\r\n"),
            Err(Error::TlsNotOffered { .. })
        ));
        let mut t = Script::new(Security::StartTls);
        t.step(b"* OK ready\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\nS1 OK done\r\n")
            .unwrap();
        assert!(matches!(
            t.step(b"S2 BAD no\r\n"),
            Err(Error::TlsRefused { .. })
        ));
        assert_eq!(t.starttls, 0);
    }

    #[test]
    fn login_with_synchronizing_literal_then_capability() {
        let mut t = Script::ready("");
        t.s.login(b"bob", "p\u{e4}ss".as_bytes()).unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "S2 LOGIN \"bob\" {5}\r\n");
        t.step(b"+ go\r\n").unwrap();
        assert_eq!(t.wrote().as_bytes(), "p\u{e4}ss\r\n".as_bytes());
        assert!(t.s.out.is_empty());
        t.step(b"S2 OK logged in\r\n").unwrap();
        assert_eq!(t.wrote(), "S3 CAPABILITY\r\n");
        assert_eq!(
            t.step(b"* CAPABILITY IMAP4rev1 IDLE\r\nS3 OK done\r\n")
                .unwrap(),
            Some(Outcome::Authenticated)
        );
        assert!(t.s.has_capability("idle"));
        // A refused literal: the tagged NO comes instead of "+".
        let mut t = Script::ready("");
        t.s.login(b"bob", b"a\nb").unwrap();
        t.step(b"").unwrap();
        assert!(matches!(
            t.step(b"S2 NO [AUTHENTICATIONFAILED] nope\r\n"),
            Err(Error::AuthFailed(_))
        ));
        assert!(t.s.is_idle());
    }

    #[test]
    fn sasl_continuations_and_literal_plus() {
        let mut t = Script::ready("AUTH=XOAUTH2 SASL-IR LITERAL+");
        t.s.authenticate("XOAUTH2", b"dG9r").unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "S2 AUTHENTICATE XOAUTH2 dG9r\r\n");
        t.step(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n").unwrap();
        assert_eq!(t.wrote(), "\r\n");
        assert!(matches!(
            t.step(b"S2 NO invalid token\r\n"),
            Err(Error::AuthFailed(r)) if r.contains("invalid token")
        ));
        // APPEND with LITERAL+: one write, no wait.
        t.s.command(
            &[
                Part::Text(b"APPEND "),
                Part::String(b"INBOX"),
                Part::Text(b" () "),
                Part::Literal(b"hi\r\n"),
            ],
            "APPEND",
        )
        .unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "S3 APPEND \"INBOX\" () {4+}\r\nhi\r\n\r\n");
        assert!(matches!(
            t.step(b"S3 OK [APPENDUID 1 2] done\r\n").unwrap(),
            Some(Outcome::Ok(_))
        ));
        // A continuation nobody asked for is a protocol error.
        t.s.command(&[Part::Text(b"NOOP")], "NOOP").unwrap();
        t.step(b"").unwrap();
        assert!(matches!(t.step(b"+ huh\r\n"), Err(Error::Protocol(_))));
        assert!(
            t.s.command(&[Part::Text(b"NOOP\r\nS9 LOGOUT")], "NOOP")
                .is_err()
        );
    }

    #[test]
    fn tagged_flow_data_and_limits() {
        let mut t = Script::ready("");
        t.s.command(&[Part::Text(b"UID FETCH 7 (UID BODY.PEEK[])")], "UID FETCH")
            .unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "S2 UID FETCH 7 (UID BODY.PEEK[])\r\n");
        assert_eq!(t.step(b"* 1 FETCH (UID 7 BODY[] {3}\r\nab").unwrap(), None);
        assert_eq!(
            t.step(b"c)\r\nS2 OK done\r\n").unwrap(),
            Some(Outcome::Ok("done".into()))
        );
        assert_eq!(t.data.len(), 1);
        assert!(t.data[0].contains("Fetch"));
        // NO is a rejection; the session goes on. A wrong tag or BYE ends it.
        t.s.command(&[Part::Text(b"SELECT \"x\"")], "SELECT")
            .unwrap();
        t.step(b"").unwrap();
        assert!(matches!(
            t.step(b"S3 NO no such mailbox\r\n"),
            Err(Error::Rejected {
                command: "SELECT",
                ..
            })
        ));
        t.s.command(&[Part::Text(b"NOOP")], "NOOP").unwrap();
        t.step(b"").unwrap();
        assert!(matches!(t.step(b"S9 OK\r\n"), Err(Error::Protocol(_))));
        let mut t = Script::ready("");
        t.s.command(&[Part::Text(b"NOOP")], "NOOP").unwrap();
        assert!(matches!(
            t.step(b"* BYE shutting down\r\n"),
            Err(Error::ConnectionClosed)
        ));
        // A literal past max_message is refused from its header.
        let mut t = Script::ready("");
        t.s.limits = Limits::default()
            .with_max_message(10)
            .with_max_reply_lines(2);
        t.s.command(&[Part::Text(b"UID FETCH 1 BODY.PEEK[]")], "UID FETCH")
            .unwrap();
        t.step(b"").unwrap();
        assert!(matches!(
            t.step(b"* 1 FETCH (BODY[] {11}\r\n"),
            Err(Error::Protocol(ProtocolError::MessageTooLarge {
                limit: 10
            }))
        ));
        let mut t = Script::ready("");
        t.s.limits = Limits::default().with_max_reply_lines(2);
        t.s.command(&[Part::Text(b"NOOP")], "NOOP").unwrap();
        t.step(b"").unwrap();
        assert!(matches!(
            t.step(b"* 1 EXISTS\r\n* 2 EXISTS\r\n* 3 EXISTS\r\n"),
            Err(Error::Protocol(ProtocolError::ReplyTooLong { limit: 2 }))
        ));
        let mut t = Script::new(Security::Implicit);
        t.s.limits = Limits::default().with_max_line(8);
        assert!(matches!(
            t.step(b"* OK 0123456789"),
            Err(Error::Protocol(ProtocolError::LineTooLong { limit: 8 }))
        ));
    }

    #[test]
    fn idle_and_done() {
        let mut t = Script::ready("IDLE");
        t.s.idle().unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "S2 IDLE\r\n");
        assert!(!t.s.is_idling());
        t.step(b"+ idling\r\n").unwrap();
        assert!(t.s.is_idling() && t.wrote().is_empty());
        t.step(b"* 4 EXISTS\r\n").unwrap();
        assert_eq!(t.data.len(), 1);
        t.s.idle_done().unwrap();
        t.step(b"").unwrap();
        assert_eq!(t.wrote(), "DONE\r\n");
        assert!(matches!(
            t.step(b"S2 OK idle done\r\n").unwrap(),
            Some(Outcome::Ok(_))
        ));
        assert!(t.s.idle_done().is_err());
    }

    #[test]
    fn fetch_streams_the_body_literal_whatever_the_split() {
        let wire: &[u8] = b"* 3 FETCH (UID 7 FLAGS (\\Seen) BODY[] {13}\r\n)\r\nab\r\n.\r\nxyz FLAGS ())\r\n* 4 FETCH (FLAGS ())\r\nS2 OK done\r\n";
        let (head, rest) = wire.split_at(44);
        assert!(head.ends_with(b"{13}\r\n"));
        for cut in 0..rest.len() {
            let mut t = Script::ready("");
            t.s.fetch_streaming(&[Part::Text(b"UID FETCH 7 BODY.PEEK[]")], "UID FETCH")
                .unwrap();
            t.step(b"").unwrap();
            t.wrote();
            let mut first = head.to_vec();
            first.extend_from_slice(&rest[..cut]);
            assert_eq!(t.step(&first).unwrap(), None, "{cut}");
            assert_eq!(
                t.step(&rest[cut..]).unwrap(),
                Some(Outcome::Ok("done".into())),
                "{cut}"
            );
            assert_eq!(t.received, b")\r\nab\r\n.\r\nxyz", "{cut}");
            assert_eq!(t.data.len(), 2);
            assert!(t.data[0].contains("Fetch"));
        }
        // Past max_message: refused from the announcement.
        let mut t = Script::ready("");
        t.s.limits = Limits::default().with_max_message(5);
        t.s.fetch_streaming(&[Part::Text(b"UID FETCH 7 BODY.PEEK[]")], "UID FETCH")
            .unwrap();
        t.step(b"").unwrap();
        assert!(matches!(
            t.step(b"* 3 FETCH (BODY[] {6}\r\n"),
            Err(Error::Protocol(ProtocolError::MessageTooLarge { limit: 5 }))
        ));
        // Other literals are framed (and bounded) as usual, not streamed.
        let mut t = Script::ready("");
        t.s.fetch_streaming(&[Part::Text(b"UID FETCH 7 BODY.PEEK[HEADER]")], "UID FETCH")
            .unwrap();
        t.step(b"").unwrap();
        t.step(b"* 3 FETCH (BODY[HEADER] {2}\r\nab)\r\nS2 OK done\r\n")
            .unwrap();
        assert!(t.received.is_empty() && t.data.len() == 1);
    }
}
