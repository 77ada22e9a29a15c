//! Blocking IMAP client.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use imap_codec::imap_types::core::{IString, NString};
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::flag::FlagFetch;
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{Data, Response};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::blocking::Conn;
use crate::endpoint::{Endpoint, Options};
use crate::error::{Error, Result};
use crate::proto::imap::{Action, Outcome, Part, Session};

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

/// An IMAP session over TLS (implicit or STARTTLS, never plaintext): a thin loop over the
/// sans-I/O [`Session`](crate::proto::imap::Session).
pub struct ImapClient {
    conn: Conn,
    session: Session,
    rbuf: Vec<u8>,
}

impl std::fmt::Debug for ImapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapClient")
            .field("capabilities", &self.session.capabilities())
            .finish_non_exhaustive()
    }
}

impl ImapClient {
    /// Connects and reads the greeting; with [`Security::StartTls`], requires STARTTLS in the
    /// capabilities, upgrades, discards everything buffered before the handshake and asks
    /// CAPABILITY again over TLS.
    ///
    /// [`Security::StartTls`]: crate::Security::StartTls
    pub fn connect(endpoint: &Endpoint, options: &Options) -> Result<ImapClient> {
        let conn = Conn::connect(endpoint, options)?;
        let mut client = ImapClient {
            conn,
            session: Session::new(endpoint.security, options.limits),
            rbuf: vec![0; 64 * 1024],
        };
        client.drive(|_| Ok(()))?;
        Ok(client)
    }

    /// The capabilities the server announced over TLS, upper case.
    pub fn capabilities(&self) -> &[String] {
        self.session.capabilities()
    }

    /// True if the server announced this capability (case-insensitive).
    pub fn has_capability(&self, name: &str) -> bool {
        self.session.has_capability(name)
    }

    /// Runs the started operation to its end, passing untagged data to `on_data`.
    fn drive(&mut self, mut on_data: impl FnMut(Response<'_>) -> Result<()>) -> Result<Outcome> {
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
                Action::Data(r) => on_data(r)?,
                Action::Literal(_) => {
                    return Err(Error::Misuse("a streamed literal outside FETCH".into()));
                }
                Action::Done(outcome) => return Ok(outcome),
            }
        }
    }

    /// Runs one command; untagged responses go to `on_data`.
    fn run(
        &mut self,
        parts: &[Part<'_>],
        verb: &'static str,
        on_data: impl FnMut(Response<'_>) -> Result<()>,
    ) -> Result<()> {
        self.session.command(parts, verb)?;
        self.drive(on_data).map(drop)
    }

    /// Logs in: AUTHENTICATE PLAIN when offered (with SASL-IR when offered), else LOGIN.
    /// Only over TLS.
    pub fn login(&mut self, user: &str, password: &SecretString) -> Result<()> {
        if !self.conn.is_tls() {
            return Err(Error::Misuse("credentials are only sent over TLS".into()));
        }
        if self.has_capability("AUTH=PLAIN") {
            let mut raw = Zeroizing::new(Vec::new());
            raw.push(0);
            raw.extend_from_slice(user.as_bytes());
            raw.push(0);
            raw.extend_from_slice(password.expose_secret().as_bytes());
            let response = Zeroizing::new(B64.encode(&*raw).into_bytes());
            self.session.authenticate("PLAIN", &response)?;
        } else {
            self.session
                .login(user.as_bytes(), password.expose_secret().as_bytes())?;
        }
        self.drive(|_| Ok(())).map(drop)
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
        self.session.authenticate("XOAUTH2", &response)?;
        self.drive(|_| Ok(())).map(drop)
    }

    /// LIST "" "*": every mailbox name.
    pub fn list(&mut self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        self.run(&[Part::Text(b"LIST \"\" \"*\"")], "LIST", |r| {
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
        let name = Part::String(mailbox.as_bytes());
        let command = if verb.starts_with(b"SELECT") {
            "SELECT"
        } else {
            "EXAMINE"
        };
        self.run(&[Part::Text(verb), name], command, |r| {
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
        self.run(&[Part::Text(b"UID SEARCH ALL")], "UID SEARCH", |r| {
            if let Response::Data(Data::Search(list, ..)) = r {
                uids.extend(list.iter().map(|n| n.get()));
            }
            Ok(())
        })?;
        Ok(uids)
    }

    /// UID SEARCH HEADER: the UIDs of the messages whose header field `field` contains
    /// `value` (a substring, case-insensitive, RFC 9051 6.4.4), e.g. a Message-ID.
    pub fn uid_search_header(&mut self, field: &str, value: &str) -> Result<Vec<u32>> {
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(Error::Misuse("not a header field name".into()));
        }
        let mut uids = Vec::new();
        self.run(
            &[
                Part::Text(b"UID SEARCH HEADER "),
                Part::String(field.as_bytes()),
                Part::Text(b" "),
                Part::String(value.as_bytes()),
            ],
            "UID SEARCH",
            |r| {
                if let Response::Data(Data::Search(list, ..)) = r {
                    uids.extend(list.iter().map(|n| n.get()));
                }
                Ok(())
            },
        )?;
        Ok(uids)
    }

    /// CREATE a mailbox.
    pub fn create(&mut self, mailbox: &str) -> Result<()> {
        let name = Part::String(mailbox.as_bytes());
        self.run(&[Part::Text(b"CREATE "), name], "CREATE", |_| Ok(()))
    }

    /// DELETE a mailbox (not INBOX) with the messages in it.
    pub fn delete_mailbox(&mut self, mailbox: &str) -> Result<()> {
        let name = Part::String(mailbox.as_bytes());
        self.run(&[Part::Text(b"DELETE "), name], "DELETE", |_| Ok(()))
    }

    /// UID FETCH of one message: its bytes (BODY.PEEK[], so \Seen is not set), flags and
    /// RFC822.SIZE.
    ///
    /// `Ok(None)` means exactly that the server says no message has this UID (any more): it
    /// answered OK without a FETCH response for it (RFC 9051 6.4.9: a UID FETCH for a UID
    /// that does not exist returns OK and no data), or it sent one without the body together
    /// with `* n EXPUNGE` for that message or a tagged `OK [EXPUNGEISSUED]` (RFC 5530). A
    /// FETCH response for the UID without message bytes and without such a sign is
    /// [`Error::BodyMissing`], never `None`.
    pub fn uid_fetch(&mut self, uid: u32) -> Result<Option<FetchedMessage>> {
        let mut body = Vec::new();
        let found = self.uid_fetch_to(uid, &mut body)?;
        Ok(found.map(|m| FetchedMessage { body, ..m }))
    }

    /// UID FETCH of one message streamed into `sink`: the message bytes go to the sink as
    /// they arrive (memory does not grow with the message; still bounded by
    /// `Limits::max_message`). Returns the UID, flags and RFC822.SIZE, with `body` empty;
    /// `Ok(None)` and [`Error::BodyMissing`] as for [`ImapClient::uid_fetch`]. On error the
    /// sink holds a partial message; the caller must discard it.
    ///
    /// Every FETCH response shape a server may send in between is taken apart by its
    /// sequence number and UID: unsolicited FLAGS updates (without UID, or for other
    /// messages) are ignored, a message body for any other UID is an error, `* n EXPUNGE`
    /// renumbers the message asked for (and, for it, means it is gone).
    pub fn uid_fetch_to(
        &mut self,
        uid: u32,
        sink: &mut impl std::io::Write,
    ) -> Result<Option<FetchedMessage>> {
        let cmd = format!("UID FETCH {uid} (UID FLAGS RFC822.SIZE BODY.PEEK[])");
        self.session
            .fetch_streaming(&[Part::Text(cmd.as_bytes())], "UID FETCH")?;
        let mut track = FetchTrack::new(uid);
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
                Action::Literal(bytes) => {
                    track.on_literal(bytes.len())?;
                    sink.write_all(bytes).map_err(Error::Io)?;
                }
                Action::Data(r) => {
                    if let Some(inline) = track.on_data(&r)? {
                        // A body sent quoted (small) rather than as a literal.
                        sink.write_all(inline).map_err(Error::Io)?;
                    }
                }
                Action::Done(_) => {
                    let expunge_issued = self
                        .session
                        .last_code()
                        .is_some_and(|c| c == "EXPUNGEISSUED");
                    return track.finish(expunge_issued);
                }
                Action::StartTls => {
                    return Err(Error::Misuse("unexpected STARTTLS step in FETCH".into()));
                }
            }
        }
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
        self.run(&[Part::Text(cmd.as_bytes())], "UID STORE", |_| Ok(()))
    }

    /// EXPUNGE: removes every message flagged `\Deleted`.
    pub fn expunge(&mut self) -> Result<()> {
        self.run(&[Part::Text(b"EXPUNGE")], "EXPUNGE", |_| Ok(()))
    }

    /// UID EXPUNGE (RFC 4315 UIDPLUS): removes only this message, if flagged `\Deleted`.
    pub fn uid_expunge(&mut self, uid: u32) -> Result<()> {
        if !self.has_capability("UIDPLUS") {
            return Err(Error::Misuse("the server does not offer UIDPLUS".into()));
        }
        let cmd = format!("UID EXPUNGE {uid}");
        self.run(&[Part::Text(cmd.as_bytes())], "UID EXPUNGE", |_| Ok(()))
    }

    /// APPEND a message to a mailbox with flags, as a literal (LITERAL+ when offered).
    pub fn append(&mut self, mailbox: &str, flags: &[&str], message: &[u8]) -> Result<()> {
        if !flags.iter().all(|f| is_flag(f)) {
            return Err(Error::Misuse("not an IMAP flag".into()));
        }
        let flags = format!(" ({}) ", flags.join(" "));
        self.run(
            &[
                Part::Text(b"APPEND "),
                Part::String(mailbox.as_bytes()),
                Part::Text(flags.as_bytes()),
                Part::Literal(message),
            ],
            "APPEND",
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
        self.session.idle()?;
        let mut events = Vec::new();
        let deadline = std::time::Instant::now() + wait;
        let io_timeout = self.conn.options().io_timeout;
        loop {
            let mut need_more = false;
            match self.session.next_action()? {
                Action::Send(bytes) => {
                    self.conn.write_all(bytes)?;
                    self.conn.flush()?;
                }
                Action::NeedMore => need_more = true,
                Action::Data(r) => {
                    if let Some(e) = idle_event(&r) {
                        events.push(e);
                    }
                }
                Action::Done(_) => return Ok(events),
                Action::StartTls | Action::Literal(_) => {
                    return Err(Error::Misuse("unexpected session step in IDLE".into()));
                }
            }
            if !need_more {
                continue;
            }
            if !self.session.is_idling() {
                let n = self.conn.read_into(&mut self.rbuf)?;
                self.session.feed(&self.rbuf[..n])?;
                continue;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if !events.is_empty() || left.is_zero() {
                self.session.idle_done()?;
                continue;
            }
            self.conn.set_read_timeout(left)?;
            let read = self.conn.read_into(&mut self.rbuf);
            self.conn.set_read_timeout(io_timeout)?;
            match read {
                Ok(n) => self.session.feed(&self.rbuf[..n])?,
                Err(Error::Timeout) => self.session.idle_done()?,
                Err(e) => return Err(e),
            }
        }
    }

    /// NOOP.
    pub fn noop(&mut self) -> Result<()> {
        self.run(&[Part::Text(b"NOOP")], "NOOP", |_| Ok(()))
    }

    /// LOGOUT and close.
    pub fn logout(mut self) -> Result<()> {
        let r = self.run(&[Part::Text(b"LOGOUT")], "LOGOUT", |_| Ok(()));
        self.conn.close();
        match r {
            Ok(()) | Err(Error::ConnectionClosed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// What the responses to one `UID FETCH uid (UID FLAGS RFC822.SIZE BODY.PEEK[])` said so far.
#[derive(Debug)]
struct FetchTrack {
    uid: u32,
    /// The message's sequence number, from the FETCH response that carried its UID, kept
    /// current across `* n EXPUNGE`.
    seq: Option<u32>,
    /// UID, flags and size once the body came.
    found: Option<FetchedMessage>,
    /// A FETCH response named the UID (the server knows the message).
    listed: bool,
    /// `* n EXPUNGE` for its sequence number came.
    expunged: bool,
    /// Body bytes streamed since the last FETCH response.
    streamed: u64,
}

impl FetchTrack {
    fn new(uid: u32) -> FetchTrack {
        FetchTrack {
            uid,
            seq: None,
            found: None,
            listed: false,
            expunged: false,
            streamed: 0,
        }
    }

    fn mismatch(why: &str) -> Error {
        Error::Protocol(crate::ProtocolError::Malformed {
            what: "IMAP FETCH response",
            detail: why.to_string(),
        })
    }

    fn on_literal(&mut self, len: usize) -> Result<()> {
        if self.found.is_some() {
            return Err(Self::mismatch("a second message body for one UID"));
        }
        self.streamed += len as u64;
        Ok(())
    }

    /// One untagged response; returns a body held inline, for the sink.
    fn on_data<'a>(&mut self, r: &'a Response<'_>) -> Result<Option<&'a [u8]>> {
        match r {
            Response::Data(Data::Fetch { seq, items }) => {
                let (m, body) = fetched(items.as_ref());
                // A FETCH response to UID FETCH carries the UID (RFC 3501 6.4.8); one without
                // it is an unsolicited update (flags), never the message asked for.
                let ours = m.uid == self.uid;
                let streamed = std::mem::take(&mut self.streamed) > 0;
                if !ours {
                    if streamed {
                        return Err(Self::mismatch("a message body for another UID"));
                    }
                    return Ok(None);
                }
                self.listed = true;
                self.seq = Some(seq.get());
                match body {
                    Some(inline) => {
                        if self.found.is_some() {
                            return Err(Self::mismatch("a second message body for one UID"));
                        }
                        self.found = Some(m);
                        // Empty when the literal was streamed.
                        Ok(Some(inline))
                    }
                    // FLAGS alone, or BODY[] NIL: the body is missing unless it came already.
                    None => Ok(None),
                }
            }
            Response::Data(Data::Expunge(n)) => {
                if let Some(seq) = self.seq {
                    match n.get().cmp(&seq) {
                        std::cmp::Ordering::Equal => {
                            self.expunged = true;
                            self.seq = None;
                        }
                        std::cmp::Ordering::Less => self.seq = Some(seq - 1),
                        std::cmp::Ordering::Greater => {}
                    }
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// The command ended OK: the message, `None` if the server says there is no such UID
    /// (any more), else [`Error::BodyMissing`].
    fn finish(self, expunge_issued: bool) -> Result<Option<FetchedMessage>> {
        if self.streamed > 0 {
            return Err(Self::mismatch("a message body outside a FETCH response"));
        }
        match self.found {
            // Even if expunged later in the same command: the bytes came complete.
            Some(m) => Ok(Some(m)),
            None if !self.listed || self.expunged || expunge_issued => Ok(None),
            None => Err(Error::BodyMissing { uid: self.uid }),
        }
    }
}

/// The UID, flags and size of a FETCH response, and its `BODY[]` bytes held inline (empty
/// when they were streamed), `None` when it has no `BODY[]`.
fn fetched<'a>(items: &'a [MessageDataItem<'_>]) -> (FetchedMessage, Option<&'a [u8]>) {
    let mut m = FetchedMessage {
        uid: 0,
        flags: Vec::new(),
        size: 0,
        body: Vec::new(),
    };
    let mut body = None;
    for item in items {
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
                body = Some(match s {
                    IString::Literal(l) => l.as_ref(),
                    IString::Quoted(q) => q.inner().as_bytes(),
                    #[allow(unreachable_patterns)]
                    other => other.as_ref(),
                });
            }
            _ => {}
        }
    }
    (m, body)
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
