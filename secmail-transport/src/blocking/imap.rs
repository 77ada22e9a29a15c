//! Blocking IMAP client.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use imap_codec::imap_types::core::{IString, NString};
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::flag::FlagFetch;
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{Data, Response, Status, StatusKind};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::blocking::Conn;
use crate::endpoint::{Endpoint, Options, Security};
use crate::error::{Error, ProtocolError, Result};
use crate::proto::DecodeError;
use crate::proto::imap::{decode_response, frame, quoted};

/// One message fetched with `UID FETCH (UID FLAGS RFC822.SIZE BODY.PEEK[])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// The message's UID.
    pub uid: u32,
    /// Its flags, e.g. `\Seen`.
    pub flags: Vec<String>,
    /// RFC822.SIZE as the server reports it.
    pub size: u32,
    /// The message, byte-exact.
    pub body: Vec<u8>,
}

/// What the server reported during IDLE.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdleEvent {
    /// `* n EXISTS`: the mailbox now has n messages.
    Exists(u32),
    /// `* n EXPUNGE`: message n was removed.
    Expunge(u32),
    /// `* n FETCH (…)`: message n changed (flags).
    Fetch(u32),
}

fn idle_event(r: &Response<'_>) -> Option<IdleEvent> {
    match r {
        Response::Data(Data::Exists(n)) => Some(IdleEvent::Exists(*n)),
        Response::Data(Data::Expunge(n)) => Some(IdleEvent::Expunge(n.get())),
        Response::Data(Data::Fetch { seq, .. }) => Some(IdleEvent::Fetch(seq.get())),
        _ => None,
    }
}

/// A part of a command: text, a string that must go as a literal, or a SASL response sent
/// after the server's continuation request.
enum Part<'a> {
    Text(&'a [u8]),
    Literal(&'a [u8]),
    AfterContinuation(&'a [u8]),
}

/// An IMAP session over TLS (implicit or STARTTLS, never plaintext).
pub struct ImapClient {
    conn: Conn,
    next_tag: u32,
    capabilities: Vec<String>,
}

impl std::fmt::Debug for ImapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapClient")
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

/// Reads one response frame and hands it, decoded, to `f`.
fn next_response<T>(conn: &mut Conn, f: impl FnOnce(Response<'_>) -> Result<T>) -> Result<T> {
    let limits = conn.options().limits;
    loop {
        match frame(conn.buffered(), &limits) {
            Ok((len, _)) => {
                let result = f(decode_response(&conn.buffered()[..len])?);
                conn.consume(len);
                return result;
            }
            Err(DecodeError::Incomplete) => conn.read_more()?,
            Err(DecodeError::Failed(e)) => return Err(e.into()),
        }
    }
}

impl ImapClient {
    /// Connects and reads the greeting; with [`Security::StartTls`], requires STARTTLS in the
    /// capabilities, upgrades, discards everything buffered before the handshake and asks
    /// CAPABILITY again over TLS.
    pub fn connect(endpoint: &Endpoint, options: &Options) -> Result<ImapClient> {
        let conn = Conn::connect(endpoint, options)?;
        let mut client = ImapClient {
            conn,
            next_tag: 1,
            capabilities: Vec::new(),
        };
        next_response(&mut client.conn, |r| match r {
            Response::Status(Status::Untagged(b)) if b.kind == StatusKind::Ok => Ok(()),
            other => Err(Error::Rejected {
                command: "the connection",
                reply: format!("{other:?}").chars().take(300).collect(),
            }),
        })?;
        client.capability()?;
        if endpoint.security == Security::StartTls {
            if !client.has_capability("STARTTLS") {
                return Err(Error::TlsNotOffered {
                    command: "STARTTLS",
                });
            }
            if let Err(e) = client.run(&[Part::Text(b"STARTTLS")], |_| Ok(())) {
                return Err(match e {
                    Error::Rejected { reply, .. } => Error::TlsRefused {
                        command: "STARTTLS",
                        reply,
                    },
                    e => e,
                });
            }
            client.capabilities.clear();
            client.conn.start_tls()?;
            client.capability()?;
        }
        Ok(client)
    }

    /// The capabilities the server announced over TLS, upper case.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// True if the server announced this capability (case-insensitive).
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    }

    fn capability(&mut self) -> Result<()> {
        let mut caps = Vec::new();
        self.run(&[Part::Text(b"CAPABILITY")], |r| {
            if let Response::Data(Data::Capability(list)) = r {
                caps = list
                    .as_ref()
                    .iter()
                    .map(|c| c.to_string().to_ascii_uppercase())
                    .collect();
            }
            Ok(())
        })?;
        self.capabilities = caps;
        Ok(())
    }

    /// Runs one command: sends it (literals as LITERAL+ when offered, else synchronizing),
    /// passes every untagged response to `on_data`, and returns when its tagged response
    /// arrives: `Ok` for OK, [`Error::Rejected`] for NO/BAD.
    fn run(
        &mut self,
        parts: &[Part<'_>],
        mut on_data: impl FnMut(Response<'_>) -> Result<()>,
    ) -> Result<()> {
        let tag = format!("S{}", self.next_tag);
        self.next_tag += 1;
        let literal_plus = self.has_capability("LITERAL+");
        let mut line = Zeroizing::new(Vec::new());
        line.extend_from_slice(tag.as_bytes());
        line.push(b' ');
        let verb: &'static str = match parts.first() {
            Some(Part::Text(t)) if t.starts_with(b"UID FETCH") => "UID FETCH",
            Some(Part::Text(t)) if t.starts_with(b"UID") => "UID command",
            Some(Part::Text(t)) if t.starts_with(b"LOGIN") => "LOGIN",
            Some(Part::Text(t)) if t.starts_with(b"AUTHENTICATE") => "AUTHENTICATE",
            Some(Part::Text(t)) if t.starts_with(b"SELECT") => "SELECT",
            Some(Part::Text(t)) if t.starts_with(b"EXAMINE") => "EXAMINE",
            Some(Part::Text(t)) if t.starts_with(b"APPEND") => "APPEND",
            Some(Part::Text(t)) if t.starts_with(b"STARTTLS") => "STARTTLS",
            _ => "the command",
        };
        for part in parts {
            match part {
                Part::Text(t) => line.extend_from_slice(t),
                Part::AfterContinuation(bytes) => {
                    line.extend_from_slice(b"\r\n");
                    self.conn.write_all(&line)?;
                    self.conn.flush()?;
                    line.clear();
                    self.wait_continuation(verb)?;
                    line.extend_from_slice(bytes);
                }
                Part::Literal(bytes) => {
                    line.extend_from_slice(format!("{{{}", bytes.len()).as_bytes());
                    if literal_plus {
                        line.extend_from_slice(b"+}\r\n");
                    } else {
                        line.extend_from_slice(b"}\r\n");
                        self.conn.write_all(&line)?;
                        self.conn.flush()?;
                        line.clear();
                        // Wait for the server's go-ahead (RFC 3501 7.5).
                        self.wait_continuation(verb)?;
                    }
                    self.conn.write_all(&line)?;
                    line.clear();
                    self.conn.write_all(bytes)?;
                }
            }
        }
        line.extend_from_slice(b"\r\n");
        self.conn.write_all(&line)?;
        self.conn.flush()?;
        let mut count = 0usize;
        let max = self.conn.options().limits.max_reply_lines;
        let is_sasl = verb == "AUTHENTICATE";
        loop {
            let mut continuation = false;
            let done = next_response(&mut self.conn, |r| match r {
                // A SASL challenge we have no answer to (XOAUTH2 sends its error this way):
                // an empty response, after which the server fails the command.
                Response::CommandContinuationRequest(_) if is_sasl => {
                    continuation = true;
                    Ok(None)
                }
                Response::Status(Status::Tagged(t)) if t.tag.as_ref() == tag => {
                    if t.body.kind == StatusKind::Ok {
                        Ok(Some(Ok(())))
                    } else {
                        Ok(Some(Err(t.body.text.to_string())))
                    }
                }
                Response::Status(Status::Tagged(_)) => {
                    Err(ProtocolError::malformed("IMAP tagged response (unknown tag)", b"").into())
                }
                Response::Status(Status::Bye(_)) => Err(Error::ConnectionClosed),
                other => on_data(other).map(|_| None),
            })?;
            if continuation {
                self.conn.write_all(b"\r\n")?;
                self.conn.flush()?;
            }
            match done {
                Some(Ok(())) => return Ok(()),
                Some(Err(text)) => {
                    return Err(Error::Rejected {
                        command: verb,
                        reply: text.chars().take(300).collect(),
                    });
                }
                None => {
                    count += 1;
                    if count > max {
                        return Err(ProtocolError::ReplyTooLong { limit: max }.into());
                    }
                }
            }
        }
    }

    fn wait_continuation(&mut self, verb: &'static str) -> Result<()> {
        let mut refused = None;
        next_response(&mut self.conn, |r| {
            if !matches!(r, Response::CommandContinuationRequest(_)) {
                refused = Some(format!("{r:?}").chars().take(300).collect::<String>());
            }
            Ok(())
        })?;
        match refused {
            Some(reply) => Err(Error::Rejected {
                command: verb,
                reply,
            }),
            None => Ok(()),
        }
    }

    fn string_part<'a>(s: &'a [u8], buf: &'a mut Vec<u8>) -> Part<'a> {
        if quoted(s, buf) {
            Part::Text(buf.as_slice())
        } else {
            Part::Literal(s)
        }
    }

    /// Logs in: AUTHENTICATE PLAIN when offered (with SASL-IR when offered), else LOGIN.
    /// Only over TLS.
    pub fn login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        if !self.conn.is_tls() {
            return Err(Error::Misuse("credentials are only sent over TLS".into()));
        }
        let result = if self.has_capability("AUTH=PLAIN") {
            let mut raw = Zeroizing::new(Vec::new());
            raw.push(0);
            raw.extend_from_slice(user.as_bytes());
            raw.push(0);
            raw.extend_from_slice(password.expose_secret().as_bytes());
            let response = Zeroizing::new(B64.encode(&*raw).into_bytes());
            self.authenticate("PLAIN", &response)
        } else {
            let (mut u, mut p) = (Vec::new(), Zeroizing::new(Vec::new()));
            let user_part = Self::string_part(user.as_bytes(), &mut u);
            let pass_part = Self::string_part(password.expose_secret().as_bytes(), &mut p);
            self.run(
                &[
                    Part::Text(b"LOGIN "),
                    user_part,
                    Part::Text(b" "),
                    pass_part,
                ],
                |_| Ok(()),
            )
        };
        match result {
            Ok(()) => self.capability(),
            Err(Error::Rejected { reply, .. }) => Err(Error::AuthFailed(reply)),
            Err(e) => Err(e),
        }
    }

    /// AUTHENTICATE XOAUTH2 with a bearer token supplied by the application (Gmail, Outlook).
    /// Only over TLS.
    pub fn auth_xoauth2(&mut self, user: &str, token: &SecretString) -> Result<()> {
        if !self.conn.is_tls() {
            return Err(Error::Misuse("credentials are only sent over TLS".into()));
        }
        if !is_safe_arg_bytes(user.as_bytes()) {
            return Err(Error::Misuse(
                "user name contains a control character".into(),
            ));
        }
        let raw = Zeroizing::new(format!(
            "user={user}\x01auth=Bearer {}\x01\x01",
            token.expose_secret()
        ));
        let response = Zeroizing::new(B64.encode(raw.as_bytes()).into_bytes());
        match self.authenticate("XOAUTH2", &response) {
            Ok(()) => self.capability(),
            Err(Error::Rejected { reply, .. }) => Err(Error::AuthFailed(reply)),
            Err(e) => Err(e),
        }
    }

    /// AUTHENTICATE with one base64 response: as an initial response with SASL-IR (RFC 4959),
    /// else after the server's empty challenge.
    fn authenticate(&mut self, mechanism: &str, response: &[u8]) -> Result<()> {
        let mut cmd = Zeroizing::new(format!("AUTHENTICATE {mechanism}").into_bytes());
        if self.has_capability("SASL-IR") {
            cmd.push(b' ');
            cmd.extend_from_slice(if response.is_empty() { b"=" } else { response });
            self.run(&[Part::Text(&cmd)], |_| Ok(()))
        } else {
            self.run(
                &[Part::Text(&cmd), Part::AfterContinuation(response)],
                |_| Ok(()),
            )
        }
    }

    /// LIST "" "*": every mailbox name.
    pub fn list(&mut self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        self.run(&[Part::Text(b"LIST \"\" \"*\"")], |r| {
            if let Response::Data(Data::List { mailbox, .. }) = r {
                names.push(mailbox_name(&mailbox));
            }
            Ok(())
        })?;
        Ok(names)
    }

    /// SELECT a mailbox (read-write); returns its EXISTS count.
    pub fn select(&mut self, mailbox: &str) -> Result<u32> {
        self.open(b"SELECT ", mailbox)
    }

    /// EXAMINE a mailbox (read-only); returns its EXISTS count.
    pub fn examine(&mut self, mailbox: &str) -> Result<u32> {
        self.open(b"EXAMINE ", mailbox)
    }

    fn open(&mut self, verb: &[u8], mailbox: &str) -> Result<u32> {
        let mut exists = 0;
        let mut q = Vec::new();
        let name = Self::string_part(mailbox.as_bytes(), &mut q);
        self.run(&[Part::Text(verb), name], |r| {
            if let Response::Data(Data::Exists(n)) = r {
                exists = n;
            }
            Ok(())
        })?;
        Ok(exists)
    }

    /// UID SEARCH ALL: every UID in the selected mailbox.
    pub fn uid_search_all(&mut self) -> Result<Vec<u32>> {
        let mut uids = Vec::new();
        self.run(&[Part::Text(b"UID SEARCH ALL")], |r| {
            if let Response::Data(Data::Search(list, ..)) = r {
                uids.extend(list.iter().map(|n| n.get()));
            }
            Ok(())
        })?;
        Ok(uids)
    }

    /// UID FETCH of one message: its bytes (BODY.PEEK[], so \Seen is not set), flags and
    /// RFC822.SIZE. `Ok(None)` if no message has this UID.
    pub fn uid_fetch(&mut self, uid: u32) -> Result<Option<FetchedMessage>> {
        let cmd = format!("UID FETCH {uid} (UID FLAGS RFC822.SIZE BODY.PEEK[])");
        let mut found = None;
        self.run(&[Part::Text(cmd.as_bytes())], |r| {
            if let Response::Data(Data::Fetch { items, .. }) = r {
                let mut m = FetchedMessage {
                    uid: 0,
                    flags: Vec::new(),
                    size: 0,
                    body: Vec::new(),
                };
                let mut has_body = false;
                for item in items.as_ref() {
                    match item {
                        MessageDataItem::Uid(u) => m.uid = u.get(),
                        MessageDataItem::Flags(f) => {
                            m.flags = f
                                .iter()
                                .map(|f| match f {
                                    FlagFetch::Flag(f) => f.to_string(),
                                    FlagFetch::Recent => "\\Recent".to_string(),
                                })
                                .collect()
                        }
                        MessageDataItem::Rfc822Size(s) => m.size = *s,
                        MessageDataItem::BodyExt {
                            section: None,
                            data: NString(Some(s)),
                            ..
                        } => {
                            has_body = true;
                            m.body = match s {
                                IString::Literal(l) => l.as_ref().to_vec(),
                                IString::Quoted(q) => q.inner().as_bytes().to_vec(),
                                #[allow(unreachable_patterns)]
                                other => other.as_ref().to_vec(),
                            };
                        }
                        _ => {}
                    }
                }
                if m.uid == uid && has_body {
                    found = Some(m);
                }
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// UID STORE +FLAGS.SILENT: adds flags (e.g. `\Deleted`, `\Seen`) to a message.
    pub fn uid_add_flags(&mut self, uid: u32, flags: &[&str]) -> Result<()> {
        self.uid_store(uid, "+FLAGS.SILENT", flags)
    }

    /// UID STORE -FLAGS.SILENT: removes flags from a message.
    pub fn uid_remove_flags(&mut self, uid: u32, flags: &[&str]) -> Result<()> {
        self.uid_store(uid, "-FLAGS.SILENT", flags)
    }

    fn uid_store(&mut self, uid: u32, op: &str, flags: &[&str]) -> Result<()> {
        if !flags.iter().all(|f| is_flag(f)) {
            return Err(Error::Misuse("not an IMAP flag".into()));
        }
        let cmd = format!("UID STORE {uid} {op} ({})", flags.join(" "));
        self.run(&[Part::Text(cmd.as_bytes())], |_| Ok(()))
    }

    /// EXPUNGE: removes every message flagged `\Deleted`.
    pub fn expunge(&mut self) -> Result<()> {
        self.run(&[Part::Text(b"EXPUNGE")], |_| Ok(()))
    }

    /// UID EXPUNGE (RFC 4315 UIDPLUS): removes only this message, if flagged `\Deleted`.
    pub fn uid_expunge(&mut self, uid: u32) -> Result<()> {
        if !self.has_capability("UIDPLUS") {
            return Err(Error::Misuse("the server does not offer UIDPLUS".into()));
        }
        let cmd = format!("UID EXPUNGE {uid}");
        self.run(&[Part::Text(cmd.as_bytes())], |_| Ok(()))
    }

    /// APPEND a message to a mailbox with flags, as a literal (LITERAL+ when offered).
    pub fn append(&mut self, mailbox: &str, flags: &[&str], message: &[u8]) -> Result<()> {
        if !flags.iter().all(|f| is_flag(f)) {
            return Err(Error::Misuse("not an IMAP flag".into()));
        }
        let mut q = Vec::new();
        let name = Self::string_part(mailbox.as_bytes(), &mut q);
        let flags = format!(" ({}) ", flags.join(" "));
        self.run(
            &[
                Part::Text(b"APPEND "),
                name,
                Part::Text(flags.as_bytes()),
                Part::Literal(message),
            ],
            |_| Ok(()),
        )
    }

    /// IDLE (RFC 2177): waits up to `wait` for the selected mailbox to change and returns
    /// what changed (empty if nothing did before the timeout), then ends IDLE with DONE.
    /// Returns at the first change; call again to keep waiting. Servers drop an IDLE after
    /// 30 minutes (RFC 2177), so keep `wait` below that.
    pub fn idle(&mut self, wait: std::time::Duration) -> Result<Vec<IdleEvent>> {
        if !self.has_capability("IDLE") {
            return Err(Error::Misuse("the server does not offer IDLE".into()));
        }
        let tag = format!("S{}", self.next_tag);
        self.next_tag += 1;
        self.conn.write_all(format!("{tag} IDLE\r\n").as_bytes())?;
        self.conn.flush()?;
        self.wait_continuation("IDLE")?;
        let mut events = Vec::new();
        self.conn.set_read_timeout(wait)?;
        let waited = next_response(&mut self.conn, |r| Ok(idle_event(&r)));
        let io_timeout = self.conn.options().io_timeout;
        self.conn.set_read_timeout(io_timeout)?;
        match waited {
            Ok(Some(e)) => events.push(e),
            Ok(None) | Err(Error::Timeout) => {}
            Err(e) => return Err(e),
        }
        self.conn.write_all(b"DONE\r\n")?;
        self.conn.flush()?;
        let max = self.conn.options().limits.max_reply_lines;
        let mut count = 0usize;
        loop {
            count += 1;
            if count > max {
                return Err(ProtocolError::ReplyTooLong { limit: max }.into());
            }
            let done = next_response(&mut self.conn, |r| match r {
                Response::Status(Status::Tagged(t)) if t.tag.as_ref() == tag => {
                    Ok(Some(t.body.kind == StatusKind::Ok))
                }
                Response::Status(Status::Bye(_)) => Err(Error::ConnectionClosed),
                other => {
                    if let Some(e) = idle_event(&other) {
                        events.push(e);
                    }
                    Ok(None)
                }
            })?;
            match done {
                Some(true) => return Ok(events),
                Some(false) => {
                    return Err(Error::Rejected {
                        command: "IDLE",
                        reply: "the server ended IDLE with NO/BAD".into(),
                    });
                }
                None => {}
            }
        }
    }

    /// NOOP.
    pub fn noop(&mut self) -> Result<()> {
        self.run(&[Part::Text(b"NOOP")], |_| Ok(()))
    }

    /// LOGOUT and close.
    pub fn logout(mut self) -> Result<()> {
        let r = self.run(&[Part::Text(b"LOGOUT")], |_| Ok(()));
        self.conn.close();
        match r {
            Ok(()) | Err(Error::ConnectionClosed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn is_flag(f: &str) -> bool {
    let body = f.strip_prefix('\\').unwrap_or(f);
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
}

fn mailbox_name(m: &Mailbox<'_>) -> String {
    match m {
        Mailbox::Inbox => "INBOX".to_string(),
        Mailbox::Other(o) => String::from_utf8_lossy(o.inner().as_ref()).into_owned(),
    }
}

fn is_safe_arg_bytes(s: &[u8]) -> bool {
    !s.iter().any(|&b| b < 0x20 || b == 0x7f)
}
