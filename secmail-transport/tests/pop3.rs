//! POP3 against the real Dovecot of `scripts/mailstack.sh` (see `common`).
//!
//! The fetch tests share bob's mailbox, so they run in one test function, in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{contains, send_to_bob, stack, token, tricky_message};
use secmail_transport::proto::smtp::canonical_crlf;
use secmail_transport::{Error, Pop3Client, Security, TlsConfig};

/// Polls bob's mailbox over POP3 until a message with `tok` is there; returns it and deletes
/// it, and nothing else: other tests and other engineers share the mailbox.
fn fetch_from_bob(port_key: &str, security: Security, tok: &str) -> Vec<u8> {
    let s = stack();
    let (bob, pass) = s.bob();
    let start = Instant::now();
    loop {
        let mut c = Pop3Client::connect(&s.endpoint(port_key, security), &s.options()).unwrap();
        assert!(c.has_capability("UIDL"));
        c.login(&bob, &pass).unwrap();
        let (count, size) = c.stat().unwrap();
        let list = c.list().unwrap();
        assert_eq!(list.len() as u32, count);
        assert_eq!(list.iter().map(|l| l.1).sum::<u64>(), size);
        let uidl = c.uidl().unwrap();
        assert_eq!(uidl.len(), list.len());
        let mut found = None;
        for (n, len) in list {
            let m = match c.retr(n) {
                Ok(m) => m,
                // Another session may have expunged it since STAT.
                Err(Error::Rejected { .. }) => continue,
                Err(e) => panic!("RETR {n}: {e}"),
            };
            assert_eq!(m.len() as u64, len, "LIST size and RETR bytes agree");
            if contains(&m, tok.as_bytes()) {
                found = Some(m);
                c.dele(n).unwrap();
            }
        }
        c.quit().unwrap();
        if let Some(m) = found {
            return m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{tok} never arrived"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn fetch_byte_exact_over_stls_and_implicit_tls() {
    let s = stack();
    let (alice, _) = s.alice();
    let (bob, _) = s.bob();
    for (port, sec, attachment) in [
        ("MAILSTACK_POP3_PORT", Security::StartTls, 0),
        ("MAILSTACK_POP3S_PORT", Security::Implicit, 10 * 1024 * 1024),
    ] {
        let tok = token(port);
        let msg = tricky_message(&tok, &alice, &bob, attachment);
        send_to_bob(&msg);
        let got = fetch_from_bob(port, sec, &tok);
        assert!(
            got.ends_with(&canonical_crlf(&msg)),
            "POP3 bytes differ from the sent message"
        );
    }
}

#[test]
fn rset_undoes_dele() {
    let s = stack();
    let (bob, pass) = s.bob();
    let mut c = Pop3Client::connect(
        &s.endpoint("MAILSTACK_POP3S_PORT", Security::Implicit),
        &s.options(),
    )
    .unwrap();
    c.login(&bob, &pass).unwrap();
    c.rset().unwrap();
    c.noop().unwrap();
    c.quit().unwrap();
}

#[test]
fn wrong_password_refused() {
    let s = stack();
    let (bob, _) = s.bob();
    for (port, sec) in [
        ("MAILSTACK_POP3S_PORT", Security::Implicit),
        ("MAILSTACK_POP3_PORT", Security::StartTls),
    ] {
        let mut c = Pop3Client::connect(&s.endpoint(port, sec), &s.options()).unwrap();
        let err = c.login(&bob, &"wrong".to_string().into()).unwrap_err();
        assert!(matches!(err, Error::AuthFailed(_)), "{err}");
    }
}

#[test]
fn unknown_ca_refused() {
    let s = stack();
    let opts = secmail_transport::Options::new(TlsConfig::webpki_roots().unwrap());
    for (port, sec) in [
        ("MAILSTACK_POP3S_PORT", Security::Implicit),
        ("MAILSTACK_POP3_PORT", Security::StartTls),
    ] {
        let err = Pop3Client::connect(&s.endpoint(port, sec), &opts).unwrap_err();
        assert!(
            matches!(err, Error::Tls(rustls::Error::InvalidCertificate(_))),
            "{err}"
        );
    }
}

#[test]
fn server_without_stls_refused() {
    // Dovecot on this port offers no STLS and would accept USER/PASS in clear: the client
    // must hang up before sending any credential.
    let s = stack();
    let err = Pop3Client::connect(
        &s.endpoint("MAILSTACK_POP3_PLAIN_PORT", Security::StartTls),
        &s.options(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::TlsNotOffered { command: "STLS" }),
        "{err}"
    );
}
