//! A scripted peer on loopback: a tiny TLS-capable server thread that plays a fixed script,
//! for the cases no real server produces (bytes injected after the STARTTLS reply, a line
//! that never ends, a connection dropped mid-reply). Throw-away CA and certificate from rcgen.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use secmail_transport::{Endpoint, Options, Security, TlsConfig};

pub struct Peer {
    pub port: u16,
    pub ca_pem: String,
    handle: Option<JoinHandle<()>>,
}

impl Peer {
    pub fn endpoint(&self, security: Security) -> Endpoint {
        Endpoint::new("localhost", self.port, security)
    }
    pub fn options(&self) -> Options {
        Options::new(TlsConfig::with_ca_pem(self.ca_pem.as_bytes()).unwrap())
            .with_io_timeout(std::time::Duration::from_secs(5))
    }
    /// Waits for the script to end; a panic in the script fails the test.
    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            h.join().expect("the scripted peer panicked");
        }
    }
}

pub struct PeerConn {
    plain: Option<BufReader<TcpStream>>,
    tls: Option<BufReader<StreamOwned<ServerConnection, TcpStream>>>,
    config: Arc<ServerConfig>,
}

impl PeerConn {
    pub fn write(&mut self, bytes: &[u8]) {
        let _ = match (&mut self.tls, &mut self.plain) {
            (Some(t), _) => t
                .get_mut()
                .write_all(bytes)
                .and_then(|_| t.get_mut().flush()),
            (None, Some(p)) => p.get_mut().write_all(bytes),
            _ => unreachable!(),
        };
    }
    /// One line, CRLF stripped; empty at EOF.
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        let _ = match (&mut self.tls, &mut self.plain) {
            (Some(t), _) => t.read_line(&mut line),
            (None, Some(p)) => p.read_line(&mut line),
            _ => unreachable!(),
        };
        line.trim_end_matches(['\r', '\n']).to_string()
    }
    /// Reads exactly n bytes.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        match (&mut self.tls, &mut self.plain) {
            (Some(t), _) => t.read_exact(&mut buf).unwrap(),
            (None, Some(p)) => p.read_exact(&mut buf).unwrap(),
            _ => unreachable!(),
        }
        buf
    }
    /// Reads until a line equal to `end`, returning everything before it (lines with CRLF).
    pub fn read_until_line(&mut self, end: &str) -> Vec<u8> {
        let mut all = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = match (&mut self.tls, &mut self.plain) {
                (Some(t), _) => t.read_until(b'\n', &mut line).unwrap(),
                (None, Some(p)) => p.read_until(b'\n', &mut line).unwrap(),
                _ => unreachable!(),
            };
            if n == 0 || line.strip_suffix(b"\r\n") == Some(end.as_bytes()) {
                return all;
            }
            all.extend_from_slice(&line);
        }
    }
    /// Starts server-side TLS on the connection. Bytes the client sent before are lost.
    pub fn start_tls(&mut self) {
        let tcp = self.plain.take().expect("already TLS").into_inner();
        let mut s = StreamOwned::new(ServerConnection::new(self.config.clone()).unwrap(), tcp);
        while s.conn.is_handshaking() {
            if s.conn.complete_io(&mut s.sock).is_err() {
                break;
            }
        }
        self.tls = Some(BufReader::new(s));
    }
}

/// Starts a peer that accepts one connection and plays `script` on it.
pub fn spawn(implicit_tls: bool, script: impl FnOnce(&mut PeerConn) + Send + 'static) -> Peer {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut conn = PeerConn {
            plain: Some(BufReader::new(tcp)),
            tls: None,
            config,
        };
        if implicit_tls {
            conn.start_tls();
        }
        script(&mut conn);
    });
    Peer {
        port,
        ca_pem: ca.pem(),
        handle: Some(handle),
    }
}
