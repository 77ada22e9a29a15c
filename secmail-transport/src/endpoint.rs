//! Where to connect and how TLS starts there.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::tls::TlsConfig;

/// How the session gets its TLS. There is no plaintext variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Security {
    /// TLS from the first byte (RFC 8314: ports 465, 993, 995).
    Implicit,
    /// Plaintext greeting, then STARTTLS (SMTP, IMAP) or STLS (POP3), which is required: a
    /// server that does not offer it, or an upgrade that fails, ends the session.
    StartTls,
}

/// Which protocol a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// SMTP submission.
    Smtp,
    /// IMAP.
    Imap,
    /// POP3.
    Pop3,
}

/// A server: host name (checked against its certificate and sent as SNI), port and TLS mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// How TLS starts.
    pub security: Security,
}

impl Endpoint {
    /// An endpoint from its parts.
    pub fn new(host: impl Into<String>, port: u16, security: Security) -> Self {
        Endpoint {
            host: host.into(),
            port,
            security,
        }
    }

    /// Parses `smtps://host[:port]`, `smtp://…` (STARTTLS required), `imaps://`, `imap://`,
    /// `pop3s://`, `pop3://`. The default ports are those of RFC 8314 and RFC 6409
    /// (465, 587, 993, 143, 995, 110). IPv6 literals go in brackets. No path, user or query.
    pub fn parse_url(url: &str) -> Result<(Protocol, Endpoint)> {
        let bad = |why: &str| Error::Config(format!("bad server URL {url:?}: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let (protocol, security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "smtps" => (Protocol::Smtp, Security::Implicit, 465),
            "smtp" => (Protocol::Smtp, Security::StartTls, 587),
            "imaps" => (Protocol::Imap, Security::Implicit, 993),
            "imap" => (Protocol::Imap, Security::StartTls, 143),
            "pop3s" => (Protocol::Pop3, Security::Implicit, 995),
            "pop3" => (Protocol::Pop3, Security::StartTls, 110),
            _ => {
                return Err(bad(
                    "the scheme must be smtps, smtp, imaps, imap, pop3s or pop3",
                ));
            }
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
            return Err(bad("expected only host[:port]"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?),
            };
            (h, port)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
            None => default_port,
        };
        Ok((protocol, Endpoint::new(host, port, security)))
    }
}

/// Settings shared by every client: trust, timeouts, limits.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Which servers to trust.
    pub tls: TlsConfig,
    /// Time allowed for the TCP connection to be made.
    pub connect_timeout: Duration,
    /// Time allowed for each read and each write.
    pub io_timeout: Duration,
    /// Bounds on what the server may send.
    pub limits: Limits,
    /// The name this client gives in EHLO. Default `localhost`.
    pub client_name: String,
}

impl Options {
    /// Default timeouts (10 s connect, 60 s per read/write) and limits, trusting `tls`.
    pub fn new(tls: TlsConfig) -> Self {
        Options {
            tls,
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(60),
            limits: Limits::default(),
            client_name: "localhost".into(),
        }
    }
    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }
    /// Sets the read/write timeout.
    pub fn with_io_timeout(mut self, t: Duration) -> Self {
        self.io_timeout = t;
        self
    }
    /// Sets the limits.
    pub fn with_limits(mut self, l: Limits) -> Self {
        self.limits = l;
        self
    }
}
