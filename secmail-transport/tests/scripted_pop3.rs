//! POP3 cases no real server produces, against a scripted peer on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::peer::spawn;
use secmail_transport::{Error, Limits, Pop3Client, ProtocolError, Security};

#[test]
fn bytes_injected_after_stls_reply_are_discarded() {
    let peer = spawn(false, |c| {
        c.write(b"+OK scripted\r\n");
        assert_eq!(c.read_line(), "CAPA");
        c.write(b"+OK\r\nSTLS\r\nUSER\r\n.\r\n");
        assert_eq!(c.read_line(), "STLS");
        c.write(b"+OK begin TLS\r\n+OK\r\nSASL PLAIN\r\n.\r\n");
        c.start_tls();
        assert_eq!(c.read_line(), "CAPA");
        c.write(b"+OK\r\nUSER\r\n.\r\n");
        assert_eq!(c.read_line(), "QUIT");
        c.write(b"+OK bye\r\n");
    });
    let client = Pop3Client::connect(&peer.endpoint(Security::StartTls), &peer.options()).unwrap();
    assert_eq!(
        client.capabilities(),
        ["USER".to_string()],
        "the injected CAPA was used"
    );
    client.quit().unwrap();
    peer.join();
}

#[test]
fn retr_dropped_mid_message() {
    let peer = spawn(true, |c| {
        c.write(b"+OK scripted\r\n");
        c.read_line();
        c.write(b"+OK\r\nUSER\r\n.\r\n");
        assert!(c.read_line().starts_with("USER"));
        c.write(b"+OK\r\n");
        c.read_line();
        c.write(b"+OK\r\n");
        c.read_line();
        c.write(b"+OK\r\nUSER\r\n.\r\n");
        assert_eq!(c.read_line(), "RETR 1");
        c.write(b"+OK 100 octets\r\nSubject: x\r\n\r\nhalf a mess");
    });
    let mut client =
        Pop3Client::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    client.login("bob", &"pw".to_string().into()).unwrap();
    let err = client.retr(1).unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed), "{err}");
    peer.join();
}

#[test]
fn oversized_message_refused() {
    let peer = spawn(true, |c| {
        c.write(b"+OK scripted\r\n");
        c.read_line();
        c.write(b"-ERR no CAPA\r\n");
        assert_eq!(c.read_line(), "RETR 1");
        c.write(b"+OK\r\n");
        for _ in 0..100 {
            c.write(&[b'a'; 1000]);
            c.write(b"\r\n");
        }
        c.write(b".\r\n");
    });
    let opts = peer
        .options()
        .with_limits(Limits::default().with_max_message(10_000));
    let mut client = Pop3Client::connect(&peer.endpoint(Security::Implicit), &opts).unwrap();
    assert!(client.capabilities().is_empty());
    let err = client.retr(1).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol(ProtocolError::MessageTooLarge { limit: 10_000 })
        ),
        "{err}"
    );
    peer.join();
}

#[test]
fn never_ending_status_line() {
    let peer = spawn(true, |c| {
        let mut l = b"+OK ".to_vec();
        l.resize(100_000, b'x');
        c.write(&l);
    });
    let err = Pop3Client::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::LineTooLong { .. })),
        "{err}"
    );
    peer.join();
}
