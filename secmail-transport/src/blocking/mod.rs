//! Blocking drivers: a `std::net::TcpStream`, rustls on it, timeouts on every read and write,
//! and the sans-I/O sessions of [`crate::proto`] fed from it. The sessions decide the order
//! of each dialogue and keep the receive buffer; a driver only moves bytes and runs the TLS
//! handshake when told.

pub mod imap;
pub mod pop3;
pub mod smtp;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use rustls::{ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;

use crate::endpoint::{Endpoint, Options, Security};
use crate::error::{Error, Result};

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// After a failed upgrade: nothing may be read or written any more.
    Dead,
}

/// A connection. It keeps no receive buffer: what it reads goes straight to a session.
pub(crate) struct Conn {
    stream: Stream,
    host: String,
    options: Options,
}

impl Conn {
    /// Connects to the endpoint; with [`Security::Implicit`], completes the TLS handshake
    /// before returning.
    pub(crate) fn connect(endpoint: &Endpoint, options: &Options) -> Result<Conn> {
        let target = format!("{}:{}", endpoint.host, endpoint.port);
        let addrs = (endpoint.host.as_str(), endpoint.port)
            .to_socket_addrs()
            .map_err(|source| Error::Connect {
                target: target.clone(),
                source,
            })?;
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address for host");
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, options.connect_timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let tcp = tcp.ok_or(Error::Connect {
            target,
            source: last,
        })?;
        tcp.set_read_timeout(Some(options.io_timeout))?;
        tcp.set_write_timeout(Some(options.io_timeout))?;
        tcp.set_nodelay(true)?;
        let mut conn = Conn {
            stream: Stream::Plain(tcp),
            host: endpoint.host.clone(),
            options: options.clone(),
        };
        if endpoint.security == Security::Implicit {
            conn.start_tls()?;
        }
        Ok(conn)
    }

    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Upgrades the connection to TLS. The session that asked for it has already thrown
    /// away every byte received before (the STARTTLS command-injection class, "NO
    /// STARTTLS", USENIX Security 2021); this connection holds none.
    pub(crate) fn start_tls(&mut self) -> Result<()> {
        let tcp = match std::mem::replace(&mut self.stream, Stream::Dead) {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(_) | Stream::Dead => {
                return Err(Error::Misuse(
                    "the connection is already TLS or dead".into(),
                ));
            }
        };
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| Error::Config(format!("invalid server name {:?}: {e}", self.host)))?;
        let tls = ClientConnection::new(self.options.tls.rustls(), name)?;
        let mut stream = StreamOwned::new(tls, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        self.stream = Stream::Tls(Box::new(stream));
        Ok(())
    }

    /// Reads what the connection has (at least one byte) into `buf`.
    pub(crate) fn read_into(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            let n = match &mut self.stream {
                Stream::Plain(s) => s.read(buf),
                Stream::Tls(s) => s.read(buf),
                Stream::Dead => Ok(0),
            };
            return match n {
                Ok(0) => Err(Error::ConnectionClosed),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e.into()),
            };
        }
    }

    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.stream {
            Stream::Plain(s) => s.write_all(bytes)?,
            Stream::Tls(s) => s.write_all(bytes)?,
            Stream::Dead => return Err(Error::ConnectionClosed),
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<()> {
        match &mut self.stream {
            Stream::Plain(s) => s.flush()?,
            Stream::Tls(s) => s.flush()?,
            Stream::Dead => return Err(Error::ConnectionClosed),
        }
        Ok(())
    }

    /// Changes the read timeout (IDLE waits longer than a reply may take).
    pub(crate) fn set_read_timeout(&mut self, t: std::time::Duration) -> Result<()> {
        match &self.stream {
            Stream::Plain(s) => s.set_read_timeout(Some(t))?,
            Stream::Tls(s) => s.sock.set_read_timeout(Some(t))?,
            Stream::Dead => return Err(Error::ConnectionClosed),
        }
        Ok(())
    }

    /// Sends TLS close_notify, best effort.
    pub(crate) fn close(&mut self) {
        if let Stream::Tls(s) = &mut self.stream {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        self.stream = Stream::Dead;
    }
}
