//! Mail transport (secmail-transport) over the C ABI: SMTP submission, IMAP and POP3 fetch,
//! and the cancellation handle.
//!
//! Every call here blocks on the network and is meant for a background thread. TLS is always
//! on (implicit or STARTTLS, never plaintext). A call can be cancelled from another thread
//! through a `secmail_cancel_t`; secmail-transport has no cancellation hook of its own, so
//! the token is checked at the points this layer controls (see `secmail_cancel_cancel`).

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secmail_transport::{
    Endpoint, Envelope, Error, ImapClient, Options, Pop3Client, Protocol, SecretString, Security,
    SendReport, SmtpClient, TlsConfig,
};
use serde_json::json;

use crate::args::{self, Out};
use crate::buffer::{secmail_buffer_t, string_out};
use crate::error::*;
use crate::stream::{secmail_input_t, secmail_output_t, with_output};

/// The one place where secmail-transport's errors become codes.
impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Connect { .. } => SECMAIL_ERR_TRANSPORT_CONNECT,
            Error::Io(_) => SECMAIL_ERR_TRANSPORT_IO,
            Error::Timeout => SECMAIL_ERR_TRANSPORT_TIMEOUT,
            Error::ConnectionClosed => SECMAIL_ERR_TRANSPORT_CLOSED,
            Error::Tls(_) => SECMAIL_ERR_TRANSPORT_TLS,
            Error::TlsNotOffered { .. } | Error::TlsRefused { .. } => {
                SECMAIL_ERR_TRANSPORT_TLS_UNAVAILABLE
            }
            Error::AuthFailed(_) => SECMAIL_ERR_TRANSPORT_AUTH_FAILED,
            Error::NoAuthMechanism(_) => SECMAIL_ERR_TRANSPORT_NO_AUTH_MECHANISM,
            Error::Rejected { .. } => SECMAIL_ERR_TRANSPORT_REJECTED,
            Error::AllRecipientsRejected(_) => SECMAIL_ERR_TRANSPORT_ALL_RECIPIENTS_REJECTED,
            Error::RequireTlsNotOffered => SECMAIL_ERR_TRANSPORT_REQUIRETLS_NOT_OFFERED,
            Error::MessageTooLarge { .. } => SECMAIL_ERR_TRANSPORT_MESSAGE_TOO_LARGE,
            Error::Protocol(_) => SECMAIL_ERR_TRANSPORT_PROTOCOL,
            Error::Config(_) => SECMAIL_ERR_TRANSPORT_CONFIG,
            Error::Misuse(_) => SECMAIL_ERR_MISUSE,
            _ => SECMAIL_ERR_TRANSPORT_OTHER,
        };
        FfiError::new(code, e.to_string())
    }
}

// ---------------------------------------------------------------------------------------
// Cancellation

/// A cancellation token for the blocking transport calls. Made by `secmail_cancel_new`,
/// set by `secmail_cancel_cancel` (from any thread), freed by `secmail_cancel_free`.
///
/// Thread-safe: one token may be given to calls on several threads and cancelled from yet
/// another. Free it only after every call that was given it has returned.
pub struct secmail_cancel_t {
    flag: AtomicBool,
}

/// The token of one call (absent when the caller passed NULL).
#[derive(Clone, Copy)]
struct Cancel<'a>(Option<&'a secmail_cancel_t>);

impl Cancel<'_> {
    /// # Safety
    /// `ptr` is NULL or a live token.
    unsafe fn from_ptr<'a>(ptr: *const secmail_cancel_t) -> Cancel<'a> {
        // SAFETY: NULL or a live token (the caller's promise); only read through atomics.
        Cancel(unsafe { ptr.as_ref() })
    }

    fn is_set(self) -> bool {
        self.0.is_some_and(|c| c.flag.load(Ordering::SeqCst))
    }

    fn check(self) -> FfiResult<()> {
        if self.is_set() {
            return Err(FfiError::new(
                SECMAIL_ERR_CANCELLED,
                "the operation was cancelled",
            ));
        }
        Ok(())
    }

    /// Runs one blocking operation: refused at once if the token is already set; a failure
    /// that happens after the token was set is reported as `SECMAIL_ERR_CANCELLED` (with the
    /// underlying failure in the message). A success is a success even if the token was set
    /// meanwhile: the work was done (a message that went out was sent).
    fn run<T>(self, op: impl FnOnce() -> FfiResult<T>) -> FfiResult<T> {
        self.check()?;
        match op() {
            Err(e) if e.code != SECMAIL_ERR_CANCELLED && self.is_set() => Err(FfiError::new(
                SECMAIL_ERR_CANCELLED,
                format!("the operation was cancelled ({})", e.message),
            )),
            r => r,
        }
    }
}

/// Makes a cancellation token (not set) into `*cancel`; free it with `secmail_cancel_free`.
///
/// # Safety
/// `cancel` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cancel_new(
    cancel: *mut *mut secmail_cancel_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(cancel, std::ptr::null_mut(), "cancel") }?;
        out.set(args::into_handle(secmail_cancel_t {
            flag: AtomicBool::new(false),
        }));
        Ok(())
    })
}

/// Sets the token: every call given it stops with `SECMAIL_ERR_CANCELLED`. May be called
/// from any thread, any number of times; a token stays set.
///
/// How quickly a running call notices: the token is checked before the call starts (nothing
/// is attempted, not even the TCP connection), between the protocol steps of one call (after
/// connecting and before logging in; before each message of `secmail_imap_fetch_each`;
/// between the two commands of `secmail_imap_delete` and of `secmail_pop3_list`), and
/// between the chunks of a streamed message
/// (`secmail_smtp_send_stream` reads its input in chunks of 64 KiB,
/// `secmail_pop3_retr_stream` writes each chunk it receives). A call blocked in a network
/// read or write cannot be woken: it notices when that read or write ends — when data
/// arrives, or at the latest when the read/write timeout of its server expires
/// (`secmail_server_set_timeouts`, 60 s by default) — and then returns
/// `SECMAIL_ERR_CANCELLED`. A call that completed before it noticed returns `SECMAIL_OK`
/// (the message was sent). After `SECMAIL_ERR_CANCELLED` the session may be in the middle
/// of a command: only quit or free it.
///
/// # Safety
/// `cancel` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cancel_cancel(
    cancel: *const secmail_cancel_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live token (the caller's promise).
        let c = unsafe { args::handle(cancel, "cancel") }?;
        c.flag.store(true, Ordering::SeqCst);
        Ok(())
    })
}

/// Whether the token was set, into `*cancelled` (false on failure).
///
/// # Safety
/// `cancel` is NULL or a live token; `cancelled` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cancel_is_cancelled(
    cancel: *const secmail_cancel_t,
    cancelled: *mut bool,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(cancelled, false, "cancelled") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let c = unsafe { args::handle(cancel, "cancel") }?;
        out.set(c.flag.load(Ordering::SeqCst));
        Ok(())
    })
}

/// Frees a token. NULL is allowed. No call that was given it may still be running.
///
/// # Safety
/// `cancel` is NULL or a token made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_cancel_free(cancel: *mut secmail_cancel_t) {
    // SAFETY: NULL or a live token, not used afterwards (the caller's promise).
    entry_void(|| unsafe { args::free_handle(cancel) });
}

/// A reader that stops when the token is set, and remembers whether its source failed.
struct CancelRead<'a, R> {
    inner: R,
    cancel: Cancel<'a>,
    source_failed: &'a Cell<Option<String>>,
}

impl<R: Read> Read for CancelRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_set() {
            return Err(io::Error::other("cancelled"));
        }
        self.inner.read(buf).inspect_err(|e| {
            self.source_failed.set(Some(e.to_string()));
        })
    }
}

/// A writer that stops when the token is set, and remembers whether its sink failed.
struct CancelWrite<'a, W> {
    inner: W,
    cancel: Cancel<'a>,
    sink_failed: &'a Cell<Option<String>>,
}

impl<W: Write> Write for CancelWrite<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.cancel.is_set() {
            return Err(io::Error::other("cancelled"));
        }
        self.inner.write(buf).inspect_err(|e| {
            self.sink_failed.set(Some(e.to_string()));
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A transport error, unless the caller's own stream failed (then `SECMAIL_ERR_IO`).
fn stream_error(e: Error, failed: &Cell<Option<String>>) -> FfiError {
    match failed.take() {
        Some(why) => FfiError::new(SECMAIL_ERR_IO, format!("I/O error: {why}")),
        None => FfiError::from(e),
    }
}

// ---------------------------------------------------------------------------------------
// Servers

/// `secmail_server_new` security: TLS from the first byte (ports 465, 993, 995).
pub const SECMAIL_SECURITY_IMPLICIT: u32 = 0;
/// `secmail_server_new` security: a plaintext greeting, then STARTTLS (SMTP, IMAP) or STLS
/// (POP3), which is required: a server that does not offer it is refused.
pub const SECMAIL_SECURITY_STARTTLS: u32 = 1;

/// Where and how to connect: host, port, TLS mode, trusted CAs, timeouts and the login.
/// Made by `secmail_server_new` or `secmail_server_from_url`, adjusted with the
/// `secmail_server_set_*` functions, freed with `secmail_server_free` (the password is
/// wiped). Changed by the setters (one thread at a time); once set up it may be given to
/// connects on several threads at once.
pub struct secmail_server_t {
    protocol: Option<Protocol>,
    endpoint: Endpoint,
    tls: Option<TlsConfig>,
    connect_timeout: Duration,
    io_timeout: Duration,
    login: Option<(String, SecretString)>,
}

impl secmail_server_t {
    fn new(protocol: Option<Protocol>, endpoint: Endpoint) -> secmail_server_t {
        secmail_server_t {
            protocol,
            endpoint,
            tls: None,
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(60),
            login: None,
        }
    }

    fn options(&self, want: Protocol) -> FfiResult<Options> {
        if let Some(p) = self.protocol
            && p != want
        {
            return Err(FfiError::invalid(format!(
                "the server was made from a {p:?} URL and cannot be used for {want:?}"
            )));
        }
        let tls = match &self.tls {
            Some(t) => t.clone(),
            None => TlsConfig::webpki_roots()?,
        };
        Ok(Options::new(tls)
            .with_connect_timeout(self.connect_timeout)
            .with_io_timeout(self.io_timeout))
    }
}

/// Describes a server by host (a name checked against its certificate, or an IP address),
/// `port` and `security` (`SECMAIL_SECURITY_IMPLICIT` or `SECMAIL_SECURITY_STARTTLS`). It
/// trusts the Mozilla root programme until `secmail_server_set_ca_file` says otherwise. The
/// handle goes to `*server`; free it with `secmail_server_free`.
///
/// # Safety
/// `host` is NULL or a NUL-terminated string; `server` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_server_new(
    host: *const c_char,
    port: u16,
    security: u32,
    server: *mut *mut secmail_server_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(server, std::ptr::null_mut(), "server") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let host = unsafe { args::str(host, "host") }?;
        if host.is_empty() {
            return Err(FfiError::invalid("host is empty"));
        }
        if port == 0 {
            return Err(FfiError::invalid("port 0"));
        }
        let security = match security {
            SECMAIL_SECURITY_IMPLICIT => Security::Implicit,
            SECMAIL_SECURITY_STARTTLS => Security::StartTls,
            other => return Err(FfiError::invalid(format!("unknown security {other}"))),
        };
        out.set(args::into_handle(secmail_server_t::new(
            None,
            Endpoint::new(host, port, security),
        )));
        Ok(())
    })
}

/// Describes a server by URL: `smtps://host[:port]`, `smtp://…` (STARTTLS required),
/// `imaps://`, `imap://`, `pop3s://`, `pop3://`; the default ports are 465, 587, 993, 143,
/// 995, 110; IPv6 literals go in brackets; no user, path or query. A server made from a URL
/// connects only with its own protocol (`SECMAIL_ERR_INVALID_ARGUMENT` otherwise).
/// `SECMAIL_ERR_TRANSPORT_CONFIG` for a URL that is not one of these.
///
/// # Safety
/// `url` is NULL or a NUL-terminated string; `server` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_server_from_url(
    url: *const c_char,
    server: *mut *mut secmail_server_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(server, std::ptr::null_mut(), "server") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let url = unsafe { args::str(url, "url") }?;
        let (protocol, endpoint) = Endpoint::parse_url(url)?;
        out.set(args::into_handle(secmail_server_t::new(
            Some(protocol),
            endpoint,
        )));
        Ok(())
    })
}

/// Trusts only the certificate authorities in the PEM file at `path` (a private CA) instead
/// of the Mozilla roots. The file is read now: `SECMAIL_ERR_TRANSPORT_CONFIG` when it cannot
/// be read or holds no usable certificate.
///
/// # Safety
/// `server` is NULL or a live server not used by another thread; `path` is NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_server_set_ca_file(
    server: *mut secmail_server_t,
    path: *const c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live server used by this thread only (the caller's promise).
        let server = unsafe { args::handle_mut(server, "server") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let path = unsafe { args::str(path, "path") }?;
        server.tls = Some(TlsConfig::with_ca_file(std::path::Path::new(path))?);
        Ok(())
    })
}

/// Trusts only the certificate authorities in `pem[0..len]` (PEM text), for apps that hold
/// their CA in memory. `SECMAIL_ERR_TRANSPORT_CONFIG` when it holds no usable certificate.
///
/// # Safety
/// `server` is NULL or a live server not used by another thread; `pem` is NULL or `len`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_server_set_ca_pem(
    server: *mut secmail_server_t,
    pem: *const u8,
    len: usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live server used by this thread only (the caller's promise).
        let server = unsafe { args::handle_mut(server, "server") }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let pem = unsafe { args::bytes(pem, len, "pem") }?;
        server.tls = Some(TlsConfig::with_ca_pem(pem)?);
        Ok(())
    })
}

/// Sets the time allowed to make the TCP connection and for each network read or write, in
/// milliseconds (defaults: 10 000 and 60 000). Neither may be 0. The read/write timeout also
/// bounds how long a cancelled call may stay blocked (see `secmail_cancel_cancel`).
///
/// # Safety
/// `server` is NULL or a live server not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_server_set_timeouts(
    server: *mut secmail_server_t,
    connect_timeout_ms: u32,
    io_timeout_ms: u32,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live server used by this thread only (the caller's promise).
        let server = unsafe { args::handle_mut(server, "server") }?;
        if connect_timeout_ms == 0 || io_timeout_ms == 0 {
            return Err(FfiError::invalid("a timeout of 0 ms"));
        }
        server.connect_timeout = Duration::from_millis(u64::from(connect_timeout_ms));
        server.io_timeout = Duration::from_millis(u64::from(io_timeout_ms));
        Ok(())
    })
}

/// Sets the login used right after connecting (AUTH PLAIN or LOGIN; IMAP AUTHENTICATE PLAIN
/// or LOGIN; POP3 AUTH PLAIN or USER/PASS), always over TLS. Without a login a session is
/// connected but not authenticated (a submission server will then refuse to send). The
/// password is kept in memory that is wiped when the server is freed.
///
/// # Safety
/// `server` is NULL or a live server not used by another thread; `user` and `password` are
/// NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_server_set_login(
    server: *mut secmail_server_t,
    user: *const c_char,
    password: *const c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live server used by this thread only (the caller's promise).
        let server = unsafe { args::handle_mut(server, "server") }?;
        // SAFETY: NULL or NUL-terminated strings (the caller's promise).
        let user = unsafe { args::str(user, "user") }?;
        // SAFETY: as above.
        let password = unsafe { args::str(password, "password") }?;
        server.login = Some((user.to_owned(), SecretString::from(password.to_owned())));
        Ok(())
    })
}

/// Frees a server (its password is wiped). NULL is allowed.
///
/// # Safety
/// `server` is NULL or a server made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_server_free(server: *mut secmail_server_t) {
    // SAFETY: NULL or a live server, not used afterwards (the caller's promise).
    entry_void(|| unsafe { args::free_handle(server) });
}

/// Connects (and logs in, if the server has a login), checking the token between the steps.
fn open<C>(
    server: &secmail_server_t,
    protocol: Protocol,
    cancel: Cancel<'_>,
    connect: impl FnOnce(&Endpoint, &Options) -> secmail_transport::Result<C>,
    login: impl FnOnce(&mut C, &str, &SecretString) -> secmail_transport::Result<()>,
) -> FfiResult<C> {
    let options = server.options(protocol)?;
    cancel.run(|| {
        let mut client = connect(&server.endpoint, &options)?;
        if let Some((user, password)) = &server.login {
            cancel.check()?;
            login(&mut client, user, password)?;
        }
        Ok(client)
    })
}

// ---------------------------------------------------------------------------------------
// SMTP

/// An SMTP submission session (TLS, logged in if the server had a login). Made by
/// `secmail_smtp_connect`; ended by `secmail_smtp_quit` (polite) or `secmail_smtp_free`.
/// Blocking: use from one thread at a time (it may move between threads).
pub struct secmail_smtp_t {
    client: SmtpClient,
}

/// What became of one message: which recipients the server accepted, which it rejected (and
/// why), and its final reply. Made by `secmail_smtp_send`; freed with
/// `secmail_send_report_free`. Immutable: may be read from several threads.
pub struct secmail_send_report_t {
    report: SendReport,
}

/// `secmail_smtp_send` flag: demand REQUIRETLS (RFC 8689), so that every later hop must use
/// verified TLS; `SECMAIL_ERR_TRANSPORT_REQUIRETLS_NOT_OFFERED` (nothing sent) if the
/// server does not offer it.
pub const SECMAIL_SMTP_REQUIRETLS: u32 = 1;

/// Connects to an SMTP submission server (TLS as the server says; STARTTLS is required,
/// never skipped) and logs in if the server has a login. Blocking. The session goes to
/// `*smtp`.
///
/// Errors: `SECMAIL_ERR_TRANSPORT_CONNECT` (refused, unreachable, unknown host),
/// `_TIMEOUT`, `_TLS` (unknown CA, wrong name), `_TLS_UNAVAILABLE` (no STARTTLS),
/// `_AUTH_FAILED`, `SECMAIL_ERR_CANCELLED`; `SECMAIL_ERR_INVALID_ARGUMENT` for a server
/// made from a non-SMTP URL.
///
/// # Safety
/// `server` is NULL or a live server; `cancel` is NULL or a live token; `smtp` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smtp_connect(
    server: *const secmail_server_t,
    cancel: *const secmail_cancel_t,
    smtp: *mut *mut secmail_smtp_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(smtp, std::ptr::null_mut(), "smtp") }?;
        // SAFETY: NULL or a live server (the caller's promise).
        let server = unsafe { args::handle(server, "server") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let client = open(
            server,
            Protocol::Smtp,
            cancel,
            SmtpClient::connect,
            |c, u, p| c.login(u, p),
        )?;
        out.set(args::into_handle(secmail_smtp_t { client }));
        Ok(())
    })
}

/// # Safety
/// As `args::str` for `from`; `to` is NULL or `to_count` NUL-terminated strings.
unsafe fn envelope(
    from: *const c_char,
    to: *const *const c_char,
    to_count: usize,
    flags: u32,
) -> FfiResult<Envelope> {
    if flags & !SECMAIL_SMTP_REQUIRETLS != 0 {
        return Err(FfiError::invalid(format!(
            "unknown flags {:#x}",
            flags & !SECMAIL_SMTP_REQUIRETLS
        )));
    }
    // SAFETY: NULL or a NUL-terminated string (the caller's promise).
    let from = unsafe { args::str(from, "from") }?;
    // SAFETY: NULL or `to_count` pointers (the caller's promise).
    let ptrs = unsafe { args::slice(to, to_count, "to") }?;
    if ptrs.is_empty() {
        return Err(FfiError::new(
            SECMAIL_ERR_MISUSE,
            "a message needs at least one recipient",
        ));
    }
    let to = ptrs
        .iter()
        .enumerate()
        // SAFETY: each element is NULL or a NUL-terminated string (the caller's promise).
        .map(|(i, p)| unsafe { args::str(*p, &format!("to[{i}]")) }.map(str::to_owned))
        .collect::<FfiResult<Vec<_>>>()?;
    let mut env = Envelope::new(from, to);
    env.require_tls = flags & SECMAIL_SMTP_REQUIRETLS != 0;
    Ok(env)
}

/// Sends one message (`message[0..len]`, the complete RFC 5322 message) from `from` (the
/// envelope sender; "" for the null sender) to the `to_count` recipients in `to`. `flags`
/// is 0 or `SECMAIL_SMTP_REQUIRETLS`. Blocking; the token is checked before the message
/// starts.
///
/// On success the server took responsibility for the message for the accepted recipients;
/// `*report` (free with `secmail_send_report_free`) says which were accepted and which
/// rejected. If every recipient is rejected nothing is sent:
/// `SECMAIL_ERR_TRANSPORT_ALL_RECIPIENTS_REJECTED` (the last error message lists them).
/// Other errors: `SECMAIL_ERR_TRANSPORT_REJECTED`, `_MESSAGE_TOO_LARGE`, `_TIMEOUT`,
/// `_CLOSED`, `SECMAIL_ERR_MISUSE` (no recipient, a line break in an address),
/// `SECMAIL_ERR_CANCELLED`.
///
/// # Safety
/// `smtp` is NULL or a live session not used by another thread; `from` is NULL or a
/// NUL-terminated string; `to` is NULL or `to_count` NUL-terminated strings; `message` is
/// NULL or `len` readable bytes; `cancel` is NULL or a live token; `report` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smtp_send(
    smtp: *mut secmail_smtp_t,
    from: *const c_char,
    to: *const *const c_char,
    to_count: usize,
    message: *const u8,
    len: usize,
    flags: u32,
    cancel: *const secmail_cancel_t,
    report: *mut *mut secmail_send_report_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(report, std::ptr::null_mut(), "report") }?;
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let smtp = unsafe { args::handle_mut(smtp, "smtp") }?;
        // SAFETY: the caller's promises on `from` and `to`.
        let env = unsafe { envelope(from, to, to_count, flags) }?;
        // SAFETY: NULL or `len` readable bytes (the caller's promise).
        let message = unsafe { args::bytes(message, len, "message") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let sent = cancel.run(|| Ok(smtp.client.send_bytes(&env, message)?))?;
        out.set(args::into_handle(secmail_send_report_t { report: sent }));
        Ok(())
    })
}

/// The streaming form of `secmail_smtp_send`: the message is read from `input` in chunks of
/// 64 KiB while it is sent (memory does not grow with it; line endings become CRLF). The
/// token is also checked before each chunk: a cancelled or failed input ends the session
/// without ending the message, so no truncated message is ever delivered
/// (`SECMAIL_ERR_CANCELLED`, or `SECMAIL_ERR_IO` when the read callback failed).
///
/// # Safety
/// As `secmail_smtp_send`; `input` is NULL or a live input not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smtp_send_stream(
    smtp: *mut secmail_smtp_t,
    from: *const c_char,
    to: *const *const c_char,
    to_count: usize,
    input: *mut secmail_input_t,
    flags: u32,
    cancel: *const secmail_cancel_t,
    report: *mut *mut secmail_send_report_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(report, std::ptr::null_mut(), "report") }?;
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let smtp = unsafe { args::handle_mut(smtp, "smtp") }?;
        // SAFETY: the caller's promises on `from` and `to`.
        let env = unsafe { envelope(from, to, to_count, flags) }?;
        // SAFETY: NULL or a live input used by this thread only (the caller's promise).
        let input = unsafe { args::handle_mut(input, "input") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let failed = Cell::new(None);
        let reader = CancelRead {
            inner: input,
            cancel,
            source_failed: &failed,
        };
        let sent = cancel.run(|| {
            smtp.client
                .send_from(&env, reader)
                .map_err(|e| stream_error(e, &failed))
        })?;
        out.set(args::into_handle(secmail_send_report_t { report: sent }));
        Ok(())
    })
}

/// Says QUIT, closes the connection and frees the session, whatever the outcome: `smtp` is
/// invalid after this call (NULL is allowed and does nothing).
///
/// # Safety
/// `smtp` is NULL or a session made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smtp_quit(smtp: *mut secmail_smtp_t) -> secmail_result_t {
    entry(|| {
        if smtp.is_null() {
            return Ok(());
        }
        // SAFETY: a session made by `into_handle`, handed back once (the caller's promise).
        let session = unsafe { Box::from_raw(smtp) };
        session.client.quit()?;
        Ok(())
    })
}

/// Closes the connection without QUIT and frees the session. NULL is allowed.
///
/// # Safety
/// `smtp` is NULL or a session made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_smtp_free(smtp: *mut secmail_smtp_t) {
    // SAFETY: NULL or a live session, not used afterwards (the caller's promise).
    entry_void(|| unsafe { args::free_handle(smtp) });
}

/// The number of accepted recipients, into `*count`.
///
/// # Safety
/// `report` is NULL or a live report; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_send_report_accepted_count(
    report: *const secmail_send_report_t,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live report (the caller's promise).
        let r = unsafe { args::handle(report, "report") }?;
        out.set(r.report.accepted.len());
        Ok(())
    })
}

/// The accepted recipient at `index` (in the order given), into `*address` (free it with
/// `secmail_string_free`). `SECMAIL_ERR_INVALID_ARGUMENT` past the end.
///
/// # Safety
/// `report` is NULL or a live report; `address` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_send_report_accepted(
    report: *const secmail_send_report_t,
    index: usize,
    address: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(address, std::ptr::null_mut(), "address") }?;
        // SAFETY: NULL or a live report (the caller's promise).
        let r = unsafe { args::handle(report, "report") }?;
        let list = &r.report.accepted;
        let a = list.get(index).ok_or_else(|| {
            FfiError::invalid(format!("index {index} past {} recipients", list.len()))
        })?;
        out.set(string_out(a.clone())?);
        Ok(())
    })
}

/// The number of rejected recipients, into `*count`.
///
/// # Safety
/// `report` is NULL or a live report; `count` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_send_report_rejected_count(
    report: *const secmail_send_report_t,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live report (the caller's promise).
        let r = unsafe { args::handle(report, "report") }?;
        out.set(r.report.rejected.len());
        Ok(())
    })
}

/// The rejected recipient at `index`: its address into `*address`, the server's reply code
/// (e.g. 550) into `*code` and its text into `*reply` (free both strings with
/// `secmail_string_free`). `code` and `reply` may be NULL if not wanted.
///
/// # Safety
/// `report` is NULL or a live report; `address` is NULL or writable; `code` and `reply` are
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_send_report_rejected(
    report: *const secmail_send_report_t,
    index: usize,
    address: *mut *mut c_char,
    code: *mut u32,
    reply: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let address = unsafe { Out::new(address, std::ptr::null_mut(), "address") }?;
        let code = if code.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(code, 0, "code") }?)
        };
        let reply = if reply.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(reply, std::ptr::null_mut(), "reply") }?)
        };
        // SAFETY: NULL or a live report (the caller's promise).
        let r = unsafe { args::handle(report, "report") }?;
        let list = &r.report.rejected;
        let (a, why) = list.get(index).ok_or_else(|| {
            FfiError::invalid(format!("index {index} past {} recipients", list.len()))
        })?;
        let addr = string_out(a.clone())?;
        let text = match reply.as_ref().map(|_| string_out(why.lines.join("\n"))) {
            Some(Err(e)) => {
                // SAFETY: made by `string_out` just above and not handed out.
                unsafe { crate::buffer::secmail_string_free(addr) };
                return Err(e);
            }
            Some(Ok(t)) => Some(t),
            None => None,
        };
        address.set(addr);
        if let (Some(out), Some(t)) = (reply, text) {
            out.set(t);
        }
        if let Some(out) = code {
            out.set(u32::from(why.code));
        }
        Ok(())
    })
}

/// The server's final reply to the message (the queue id is often in its text): the code
/// (250) into `*code` and the text into `*text` (free it with `secmail_string_free`);
/// `text` may be NULL if not wanted.
///
/// # Safety
/// `report` is NULL or a live report; `code` is NULL or writable; `text` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_send_report_reply(
    report: *const secmail_send_report_t,
    code: *mut u32,
    text: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let code = unsafe { Out::new(code, 0, "code") }?;
        let text = if text.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(text, std::ptr::null_mut(), "text") }?)
        };
        // SAFETY: NULL or a live report (the caller's promise).
        let r = unsafe { args::handle(report, "report") }?;
        if let Some(out) = text {
            out.set(string_out(r.report.reply.lines.join("\n"))?);
        }
        code.set(u32::from(r.report.reply.code));
        Ok(())
    })
}

/// Frees a send report. NULL is allowed.
///
/// # Safety
/// `report` is NULL or a report made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_send_report_free(report: *mut secmail_send_report_t) {
    // SAFETY: NULL or a live report, not used afterwards (the caller's promise).
    entry_void(|| unsafe { args::free_handle(report) });
}

// ---------------------------------------------------------------------------------------
// IMAP

/// An IMAP session (TLS, logged in if the server had a login). Made by
/// `secmail_imap_connect`; ended by `secmail_imap_logout` or `secmail_imap_free`. Blocking:
/// use from one thread at a time (it may move between threads).
pub struct secmail_imap_t {
    client: ImapClient,
}

/// A message callback for `secmail_imap_fetch_each`: receives one whole message
/// (`data[0..len]`, byte-exact, valid only during the call) with its UID, and returns 0 to go
/// on or any other value to stop (the call then fails with `SECMAIL_ERR_IO`). Called on the
/// thread of the fetch, only during it.
pub type secmail_message_cb =
    Option<unsafe extern "C" fn(user: *mut c_void, uid: u32, data: *const u8, len: usize) -> i32>;

/// Connects to an IMAP server (TLS as the server says; STARTTLS is required) and logs in if
/// the server has a login. Blocking. The session goes to `*imap`. Errors as
/// `secmail_smtp_connect`.
///
/// # Safety
/// `server` is NULL or a live server; `cancel` is NULL or a live token; `imap` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_imap_connect(
    server: *const secmail_server_t,
    cancel: *const secmail_cancel_t,
    imap: *mut *mut secmail_imap_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(imap, std::ptr::null_mut(), "imap") }?;
        // SAFETY: NULL or a live server (the caller's promise).
        let server = unsafe { args::handle(server, "server") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let client = open(
            server,
            Protocol::Imap,
            cancel,
            ImapClient::connect,
            |c, u, p| c.login(u, p),
        )?;
        out.set(args::into_handle(secmail_imap_t { client }));
        Ok(())
    })
}

/// The names of every mailbox (LIST "" "*"), as a JSON array of strings into `*json` (free
/// it with `secmail_string_free`). Blocking.
///
/// # Safety
/// `imap` is NULL or a live session not used by another thread; `cancel` is NULL or a live
/// token; `json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_imap_list(
    imap: *mut secmail_imap_t,
    cancel: *const secmail_cancel_t,
    json: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(json, std::ptr::null_mut(), "json") }?;
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let imap = unsafe { args::handle_mut(imap, "imap") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let names = cancel.run(|| Ok(imap.client.list()?))?;
        out.set(string_out(json!(names).to_string())?);
        Ok(())
    })
}

/// Selects `mailbox` (e.g. `"INBOX"`) read-write; the number of messages in it goes to
/// `*exists` unless `exists` is NULL. Fetch and delete work on the selected mailbox.
///
/// # Safety
/// `imap` is NULL or a live session not used by another thread; `mailbox` is NULL or a
/// NUL-terminated string; `cancel` is NULL or a live token; `exists` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_imap_select(
    imap: *mut secmail_imap_t,
    mailbox: *const c_char,
    cancel: *const secmail_cancel_t,
    exists: *mut u32,
) -> secmail_result_t {
    entry(|| {
        let exists = if exists.is_null() {
            None
        } else {
            // SAFETY: non-NULL and writable (the caller's promise).
            Some(unsafe { Out::new(exists, 0, "exists") }?)
        };
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let imap = unsafe { args::handle_mut(imap, "imap") }?;
        // SAFETY: NULL or a NUL-terminated string (the caller's promise).
        let mailbox = unsafe { args::str(mailbox, "mailbox") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let n = cancel.run(|| Ok(imap.client.select(mailbox)?))?;
        if let Some(out) = exists {
            out.set(n);
        }
        Ok(())
    })
}

/// The UIDs of every message in the selected mailbox (UID SEARCH ALL): `*count` of them in
/// the array `*uids`, which the library owns: free it with `secmail_uids_free(uids, count)`.
/// An empty mailbox gives `{NULL, 0}`.
///
/// # Safety
/// `imap` is NULL or a live session not used by another thread; `cancel` is NULL or a live
/// token; `uids` and `count` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_imap_uids(
    imap: *mut secmail_imap_t,
    cancel: *const secmail_cancel_t,
    uids: *mut *mut u32,
    count: *mut usize,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let uids = unsafe { Out::new(uids, std::ptr::null_mut(), "uids") }?;
        // SAFETY: as above.
        let count = unsafe { Out::new(count, 0, "count") }?;
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let imap = unsafe { args::handle_mut(imap, "imap") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let found = cancel.run(|| Ok(imap.client.uid_search_all()?))?;
        let n = found.len();
        if n > 0 {
            let boxed: Box<[u32]> = found.into_boxed_slice();
            uids.set(Box::into_raw(boxed).cast::<u32>());
            count.set(n);
        }
        Ok(())
    })
}

/// Frees an array of UIDs from `secmail_imap_uids` (`count` is the count it gave). NULL is
/// allowed.
///
/// # Safety
/// `uids` is NULL or an array from `secmail_imap_uids` with exactly `count` elements, not
/// freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_uids_free(uids: *mut u32, count: usize) {
    entry_void(|| {
        if uids.is_null() || count == 0 {
            return;
        }
        let raw = std::ptr::slice_from_raw_parts_mut(uids, count);
        // SAFETY: made by Box::into_raw of a Box<[u32]> of `count` elements in
        // `secmail_imap_uids`, handed back once (the caller's promise).
        drop(unsafe { Box::from_raw(raw) });
    });
}

/// Fetches the message with `uid` from the selected mailbox (BODY.PEEK[]: the `\Seen` flag
/// is not set), byte-exact, into `*message` (free it with `secmail_buffer_free`).
/// `SECMAIL_ERR_NOT_FOUND` if no message has this UID; `SECMAIL_ERR_TRANSPORT_PROTOCOL` for
/// a message larger than 64 MiB.
///
/// # Safety
/// `imap` is NULL or a live session not used by another thread; `cancel` is NULL or a live
/// token; `message` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_imap_fetch(
    imap: *mut secmail_imap_t,
    uid: u32,
    cancel: *const secmail_cancel_t,
    message: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(message, secmail_buffer_t::EMPTY, "message") }?;
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let imap = unsafe { args::handle_mut(imap, "imap") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let m = cancel
            .run(|| Ok(imap.client.uid_fetch(uid)?))?
            .ok_or_else(|| {
                FfiError::new(SECMAIL_ERR_NOT_FOUND, format!("no message has UID {uid}"))
            })?;
        out.set(secmail_buffer_t::from_vec(m.body));
        Ok(())
    })
}

/// Fetches several messages of the selected mailbox one after the other and hands each to
/// `callback` with `user`: the `count` UIDs in `uids`, or every message (UID SEARCH ALL) when
/// `uids` is NULL and `count` is 0. A UID with no message is skipped. The token is checked
/// before each message, so a cancelled call stops after the message being fetched; the
/// messages handed over before remain the caller's.
///
/// # Safety
/// `imap` is NULL or a live session not used by another thread; `uids` is NULL or `count`
/// readable UIDs; `callback` and `user` are usable on this thread during the call; `cancel`
/// is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_imap_fetch_each(
    imap: *mut secmail_imap_t,
    uids: *const u32,
    count: usize,
    cancel: *const secmail_cancel_t,
    callback: secmail_message_cb,
    user: *mut c_void,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let imap = unsafe { args::handle_mut(imap, "imap") }?;
        // SAFETY: NULL or `count` readable UIDs (the caller's promise).
        let given = unsafe { args::slice(uids, count, "uids") }?;
        let Some(cb) = callback else {
            return Err(FfiError::null("callback"));
        };
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        cancel.run(|| {
            let all;
            let list: &[u32] = if uids.is_null() {
                all = imap.client.uid_search_all()?;
                &all
            } else {
                given
            };
            for &uid in list {
                cancel.check()?;
                let Some(m) = imap.client.uid_fetch(uid)? else {
                    continue;
                };
                // SAFETY: the callback contract (header): it reads `len` bytes at `data`,
                // valid during the call; `user` is the caller's own pointer.
                let rc = unsafe { cb(user, m.uid, m.body.as_ptr(), m.body.len()) };
                let mut body = m.body;
                zeroize::Zeroize::zeroize(&mut body);
                if rc != 0 {
                    return Err(FfiError::new(
                        SECMAIL_ERR_IO,
                        format!("the message callback returned {rc}"),
                    ));
                }
            }
            Ok(())
        })
    })
}

/// Deletes the message with `uid` from the selected mailbox: flags it `\Deleted`, then
/// UID EXPUNGE (RFC 4315; `SECMAIL_ERR_MISUSE` if the server lacks UIDPLUS), so no other
/// message flagged `\Deleted` is removed.
///
/// # Safety
/// `imap` is NULL or a live session not used by another thread; `cancel` is NULL or a live
/// token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_imap_delete(
    imap: *mut secmail_imap_t,
    uid: u32,
    cancel: *const secmail_cancel_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let imap = unsafe { args::handle_mut(imap, "imap") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        cancel.run(|| {
            if !imap.client.has_capability("UIDPLUS") {
                return Err(FfiError::new(
                    SECMAIL_ERR_MISUSE,
                    "the server does not offer UIDPLUS: cannot delete one message alone",
                ));
            }
            imap.client.uid_add_flags(uid, &["\\Deleted"])?;
            cancel.check()?;
            imap.client.uid_expunge(uid)?;
            Ok(())
        })
    })
}

/// Says LOGOUT, closes the connection and frees the session whatever the outcome: `imap`
/// is invalid after this call (NULL is allowed and does nothing).
///
/// # Safety
/// `imap` is NULL or a session made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_imap_logout(imap: *mut secmail_imap_t) -> secmail_result_t {
    entry(|| {
        if imap.is_null() {
            return Ok(());
        }
        // SAFETY: a session made by `into_handle`, handed back once (the caller's promise).
        let session = unsafe { Box::from_raw(imap) };
        session.client.logout()?;
        Ok(())
    })
}

/// Closes the connection without LOGOUT and frees the session. NULL is allowed.
///
/// # Safety
/// `imap` is NULL or a session made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_imap_free(imap: *mut secmail_imap_t) {
    // SAFETY: NULL or a live session, not used afterwards (the caller's promise).
    entry_void(|| unsafe { args::free_handle(imap) });
}

// ---------------------------------------------------------------------------------------
// POP3

/// A POP3 session (TLS, logged in if the server had a login). Made by
/// `secmail_pop3_connect`; ended by `secmail_pop3_quit` (which commits deletions) or
/// `secmail_pop3_free` (which does not). Blocking: use from one thread at a time.
pub struct secmail_pop3_t {
    client: Pop3Client,
}

/// Connects to a POP3 server (TLS as the server says; STLS is required) and logs in if the
/// server has a login. Blocking. The session goes to `*pop3`. Errors as
/// `secmail_smtp_connect`.
///
/// # Safety
/// `server` is NULL or a live server; `cancel` is NULL or a live token; `pop3` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pop3_connect(
    server: *const secmail_server_t,
    cancel: *const secmail_cancel_t,
    pop3: *mut *mut secmail_pop3_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(pop3, std::ptr::null_mut(), "pop3") }?;
        // SAFETY: NULL or a live server (the caller's promise).
        let server = unsafe { args::handle(server, "server") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let client = open(
            server,
            Protocol::Pop3,
            cancel,
            Pop3Client::connect,
            |c, u, p| c.login(u, p),
        )?;
        out.set(args::into_handle(secmail_pop3_t { client }));
        Ok(())
    })
}

/// The maildrop as a JSON array, one object per message: `{"n": 1, "uid": "…", "size":
/// 1234}` (`n` is the message number for retr and dele in this session, `uid` its UIDL id,
/// stable across sessions). Into `*json`; free it with `secmail_string_free`.
///
/// # Safety
/// `pop3` is NULL or a live session not used by another thread; `cancel` is NULL or a live
/// token; `json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pop3_list(
    pop3: *mut secmail_pop3_t,
    cancel: *const secmail_cancel_t,
    json: *mut *mut c_char,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(json, std::ptr::null_mut(), "json") }?;
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let pop3 = unsafe { args::handle_mut(pop3, "pop3") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let (sizes, uids) = cancel.run(|| {
            let sizes = pop3.client.list()?;
            cancel.check()?;
            Ok((sizes, pop3.client.uidl()?))
        })?;
        let list: Vec<_> = sizes
            .iter()
            .map(|&(n, size)| {
                let uid = uids.iter().find(|(m, _)| *m == n).map(|(_, u)| u.as_str());
                json!({"n": n, "uid": uid, "size": size})
            })
            .collect();
        out.set(string_out(json!(list).to_string())?);
        Ok(())
    })
}

/// Retrieves message number `n` (RETR), byte-exact, into `*message` (free it with
/// `secmail_buffer_free`). Bounded by 64 MiB (`SECMAIL_ERR_TRANSPORT_PROTOCOL` past it).
///
/// # Safety
/// `pop3` is NULL or a live session not used by another thread; `cancel` is NULL or a live
/// token; `message` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pop3_retr(
    pop3: *mut secmail_pop3_t,
    n: u32,
    cancel: *const secmail_cancel_t,
    message: *mut secmail_buffer_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or writable (the caller's promise).
        let out = unsafe { Out::new(message, secmail_buffer_t::EMPTY, "message") }?;
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let pop3 = unsafe { args::handle_mut(pop3, "pop3") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        let body = cancel.run(|| Ok(pop3.client.retr(n)?))?;
        out.set(secmail_buffer_t::from_vec(body));
        Ok(())
    })
}

/// The streaming form of `secmail_pop3_retr`: the message is written to `output` as it
/// arrives, and the token is checked before each chunk. On failure a memory output is wiped;
/// a callback output has received part of the message, which the caller must discard.
///
/// # Safety
/// `pop3` is NULL or a live session not used by another thread; `cancel` is NULL or a live
/// token; `output` is NULL or a live output not used by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pop3_retr_stream(
    pop3: *mut secmail_pop3_t,
    n: u32,
    cancel: *const secmail_cancel_t,
    output: *mut secmail_output_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let pop3 = unsafe { args::handle_mut(pop3, "pop3") }?;
        // SAFETY: NULL or a live output used by this thread only (the caller's promise).
        let output = unsafe { args::handle_mut(output, "output") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        with_output(output, |output| {
            let failed = Cell::new(None);
            let mut sink = CancelWrite {
                inner: output,
                cancel,
                sink_failed: &failed,
            };
            cancel.run(|| {
                pop3.client
                    .retr_to(n, &mut sink)
                    .map_err(|e| stream_error(e, &failed))
            })?;
            Ok(())
        })
    })
}

/// Marks message number `n` for deletion (DELE). The deletion happens only when
/// `secmail_pop3_quit` succeeds.
///
/// # Safety
/// `pop3` is NULL or a live session not used by another thread; `cancel` is NULL or a live
/// token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pop3_dele(
    pop3: *mut secmail_pop3_t,
    n: u32,
    cancel: *const secmail_cancel_t,
) -> secmail_result_t {
    entry(|| {
        // SAFETY: NULL or a live session used by this thread only (the caller's promise).
        let pop3 = unsafe { args::handle_mut(pop3, "pop3") }?;
        // SAFETY: NULL or a live token (the caller's promise).
        let cancel = unsafe { Cancel::from_ptr(cancel) };
        cancel.run(|| Ok(pop3.client.dele(n)?))
    })
}

/// Says QUIT (which commits the deletions: they happen only if this returns `SECMAIL_OK`),
/// closes the connection and frees the session whatever the outcome: `pop3` is invalid after
/// this call (NULL is allowed and does nothing).
///
/// # Safety
/// `pop3` is NULL or a session made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pop3_quit(pop3: *mut secmail_pop3_t) -> secmail_result_t {
    entry(|| {
        if pop3.is_null() {
            return Ok(());
        }
        // SAFETY: a session made by `into_handle`, handed back once (the caller's promise).
        let session = unsafe { Box::from_raw(pop3) };
        session.client.quit()?;
        Ok(())
    })
}

/// Closes the connection without QUIT (deletions are not committed) and frees the session.
/// NULL is allowed.
///
/// # Safety
/// `pop3` is NULL or a session made by this library, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn secmail_pop3_free(pop3: *mut secmail_pop3_t) {
    // SAFETY: NULL or a live session, not used afterwards (the caller's promise).
    entry_void(|| unsafe { args::free_handle(pop3) });
}
