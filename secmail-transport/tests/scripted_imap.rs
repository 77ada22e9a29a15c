//! IMAP cases no real server produces, against a scripted peer on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::peer::spawn;
use secmail_transport::{Error, ImapClient, Limits, ProtocolError, Security};

#[test]
fn bytes_injected_after_starttls_reply_are_discarded() {
    let peer = spawn(false, |c| {
        c.write(b"* OK scripted\r\n");
        assert_eq!(c.read_line(), "S1 CAPABILITY");
        c.write(b"* CAPABILITY IMAP4rev1 STARTTLS\r\nS1 OK done\r\n");
        assert_eq!(c.read_line(), "S2 STARTTLS");
        c.write(
            b"S2 OK begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nS3 OK forged\r\n",
        );
        c.start_tls();
        assert_eq!(c.read_line(), "S3 CAPABILITY");
        c.write(b"* CAPABILITY IMAP4rev1 LITERAL+\r\nS3 OK done\r\n");
        assert_eq!(c.read_line(), "S4 LOGOUT");
        c.write(b"* BYE bye\r\nS4 OK done\r\n");
    });
    let client = ImapClient::connect(&peer.endpoint(Security::StartTls), &peer.options()).unwrap();
    assert_eq!(
        client.capabilities(),
        ["IMAP4REV1", "LITERAL+"],
        "the injected CAPABILITY was used"
    );
    client.logout().unwrap();
    peer.join();
}

#[test]
fn login_uses_synchronizing_literal_for_unquotable_password() {
    let peer = spawn(true, |c| {
        c.write(b"* OK scripted\r\n");
        c.read_line();
        c.write(b"* CAPABILITY IMAP4rev1\r\nS1 OK done\r\n");
        assert_eq!(c.read_line(), "S2 LOGIN \"bob\" {6}");
        c.write(b"+ go\r\n");
        assert_eq!(c.read_exact(6), "p\u{e4}ss!".as_bytes());
        assert_eq!(c.read_line(), "");
        c.write(b"S2 NO [AUTHENTICATIONFAILED] nope\r\n");
    });
    let mut client =
        ImapClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    let err = client
        .login("bob", &"p\u{e4}ss!".to_string().into())
        .unwrap_err();
    assert!(matches!(err, Error::AuthFailed(_)), "{err}");
    peer.join();
}

#[test]
fn literal_past_the_limit_is_refused_before_reading_it() {
    let peer = spawn(true, |c| {
        c.write(b"* OK scripted\r\n");
        c.read_line();
        c.write(b"* CAPABILITY IMAP4rev1\r\nS1 OK done\r\n");
        c.read_line();
        c.write(b"* 1 FETCH (UID 1 BODY[] {4000000000}\r\n");
    });
    let opts = peer
        .options()
        .with_limits(Limits::default().with_max_message(1 << 20));
    let mut client = ImapClient::connect(&peer.endpoint(Security::Implicit), &opts).unwrap();
    let err = client.uid_fetch(1).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::MessageTooLarge { .. })),
        "{err}"
    );
    peer.join();
}

#[test]
fn connection_dropped_mid_literal() {
    let peer = spawn(true, |c| {
        c.write(b"* OK scripted\r\n");
        c.read_line();
        c.write(b"* CAPABILITY IMAP4rev1\r\nS1 OK done\r\n");
        c.read_line();
        c.write(b"* 1 FETCH (UID 1 BODY[] {100}\r\nonly part of it");
    });
    let mut client =
        ImapClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    let err = client.uid_fetch(1).unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed), "{err}");
    peer.join();
}

#[test]
fn never_ending_line() {
    let peer = spawn(true, |c| {
        let mut l = b"* OK ".to_vec();
        l.resize(100_000, b'x');
        c.write(&l);
    });
    let err = ImapClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::LineTooLong { .. })),
        "{err}"
    );
    peer.join();
}

fn greet_with(c: &mut common::peer::PeerConn, caps: &str) {
    c.write(b"* OK scripted\r\n");
    assert_eq!(c.read_line(), "S1 CAPABILITY");
    c.write(format!("* CAPABILITY IMAP4rev1 {caps}\r\nS1 OK done\r\n").as_bytes());
}

#[test]
fn authenticate_plain_without_sasl_ir_waits_for_the_challenge() {
    let peer = spawn(true, |c| {
        greet_with(c, "AUTH=PLAIN");
        assert_eq!(c.read_line(), "S2 AUTHENTICATE PLAIN");
        c.write(b"+ \r\n");
        assert_eq!(c.read_line(), "AGJvYgBwdw==");
        c.write(b"S2 OK logged in\r\n");
        assert_eq!(c.read_line(), "S3 CAPABILITY");
        c.write(b"* CAPABILITY IMAP4rev1\r\nS3 OK done\r\n");
    });
    let mut client =
        ImapClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    client.login("bob", &"pw".to_string().into()).unwrap();
    peer.join();
}

#[test]
fn xoauth2_error_challenge_is_answered_and_reported() {
    let peer = spawn(true, |c| {
        greet_with(c, "AUTH=XOAUTH2 SASL-IR");
        let line = c.read_line();
        // base64("user=bob@x\x01auth=Bearer tok\x01\x01")
        assert_eq!(
            line,
            "S2 AUTHENTICATE XOAUTH2 dXNlcj1ib2JAeAFhdXRoPUJlYXJlciB0b2sBAQ=="
        );
        // The error comes as a challenge; the client answers with an empty line.
        c.write(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");
        assert_eq!(c.read_line(), "");
        c.write(b"S2 NO [AUTHENTICATIONFAILED] invalid token\r\n");
    });
    let mut client =
        ImapClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    let err = client
        .auth_xoauth2("bob@x", &"tok".to_string().into())
        .unwrap_err();
    assert!(
        matches!(err, Error::AuthFailed(ref r) if r.contains("invalid token")),
        "{err}"
    );
    peer.join();
}

#[test]
fn idle_times_out_quietly_then_reports_a_change() {
    let peer = spawn(true, |c| {
        greet_with(c, "IDLE");
        assert_eq!(c.read_line(), "S2 IDLE");
        c.write(b"+ idling\r\n");
        // Nothing happens: the client's wait ends and it says DONE.
        assert_eq!(c.read_line(), "DONE");
        c.write(b"S2 OK idle done\r\n");
        assert_eq!(c.read_line(), "S3 IDLE");
        c.write(b"+ idling\r\n* 4 EXISTS\r\n");
        assert_eq!(c.read_line(), "DONE");
        c.write(b"* 2 EXPUNGE\r\nS3 OK idle done\r\n");
    });
    let mut client =
        ImapClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    let t = std::time::Instant::now();
    assert!(
        client
            .idle(std::time::Duration::from_millis(300))
            .unwrap()
            .is_empty()
    );
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    let events = client.idle(std::time::Duration::from_secs(5)).unwrap();
    use secmail_transport::IdleEvent;
    assert_eq!(events, vec![IdleEvent::Exists(4), IdleEvent::Expunge(2)]);
    peer.join();
}

#[test]
fn fetch_streams_to_a_sink_and_refuses_another_uids_body() {
    let peer = spawn(true, |c| {
        greet_with(c, "");
        assert_eq!(
            c.read_line(),
            "S2 UID FETCH 5 (UID FLAGS RFC822.SIZE BODY.PEEK[])"
        );
        c.write(b"* 1 FETCH (UID 5 RFC822.SIZE 9 FLAGS (\\Seen) BODY[] {9}\r\n");
        c.write(b"a)\r\n");
        c.write(b"* 2 b");
        c.write(b")\r\n* 2 FETCH (FLAGS (\\Deleted))\r\nS2 OK done\r\n");
        assert_eq!(
            c.read_line(),
            "S3 UID FETCH 6 (UID FLAGS RFC822.SIZE BODY.PEEK[])"
        );
        c.write(b"* 1 FETCH (UID 9 BODY[] {2}\r\nxy)\r\nS3 OK done\r\n");
    });
    let mut client =
        ImapClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    let mut sink = Vec::new();
    let m = client.uid_fetch_to(5, &mut sink).unwrap().unwrap();
    assert_eq!(sink, b"a)\r\n* 2 b");
    assert_eq!(
        (m.uid, m.size, m.flags.clone()),
        (5, 9, vec!["\\Seen".to_string()])
    );
    let err = client.uid_fetch_to(6, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    peer.join();
}
