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

/// What `uid_fetch(7)` should give for one server answer.
#[derive(Debug, PartialEq)]
enum Want {
    Body(&'static [u8]),
    None,
    BodyMissing,
    Malformed,
}

/// Every FETCH response shape Dovecot (and RFC 9051) can produce around the one message
/// asked for, each answered as several TCP writes so literals and lines split across reads.
/// The Dovecot shape that was silently `Ok(None)`: the message's file gone from the Maildir
/// behind Dovecot's back, `BODY[] NIL` and `RFC822.SIZE 0`, with or without
/// `OK [EXPUNGEISSUED]` and EXPUNGEs.
#[test]
fn uid_fetch_takes_every_response_shape_apart() {
    let cases: Vec<(Vec<&'static [u8]>, Want)> = vec![
        // The usual shape, the literal split across writes.
        (
            vec![
                b"* 3 FETCH (UID 7 FLAGS (\\Recent) RFC822.SIZE 5 BODY[] {5}\r\nab",
                b"c\r\n",
                b")\r\nS OK done\r\n",
            ],
            Want::Body(b"abc\r\n"),
        ),
        // BODY[] before UID; unsolicited FLAGS updates (no UID, another message) around it;
        // EXISTS and an EXPUNGE of an earlier message (renumbering it) in between.
        (
            vec![
                b"* 1 FETCH (FLAGS (\\Seen))\r\n* 9 EXISTS\r\n",
                b"* 3 FETCH (BODY[] {3}\r\nxyz UID 7 FLAGS ())\r\n* 1 EXPUNGE\r\n",
                b"* 2 FETCH (FLAGS (\\Deleted))\r\n* 4 FETCH (UID 8 FLAGS ())\r\nS OK done\r\n",
            ],
            Want::Body(b"xyz"),
        ),
        // Split into two FETCH responses, the body in the second (both with the UID).
        (
            vec![
                b"* 3 FETCH (UID 7 FLAGS ())\r\n",
                b"* 3 FETCH (UID 7 RFC822.SIZE 2 BODY[] {2}\r\nhi)\r\nS OK done\r\n",
            ],
            Want::Body(b"hi"),
        ),
        // A quoted body.
        (
            vec![b"* 3 FETCH (UID 7 BODY[] \"hi\")\r\nS OK done\r\n"],
            Want::Body(b"hi"),
        ),
        // RFC 9051 6.4.9: no such UID, OK without data (an unrelated update may come).
        (
            vec![b"* 2 FETCH (FLAGS (\\Seen))\r\nS OK done\r\n"],
            Want::None,
        ),
        // Dovecot, file gone and noticed: BODY[] NIL, EXPUNGEs, OK [EXPUNGEISSUED].
        (
            vec![
                b"* 1 FETCH (UID 7 FLAGS (\\Recent) RFC822.SIZE 0 BODY[] NIL)\r\n",
                b"* 2 EXPUNGE\r\n* 1 EXPUNGE\r\n* 0 RECENT\r\n",
                b"S OK [EXPUNGEISSUED] Some messages were already expunged\r\n",
            ],
            Want::None,
        ),
        // The code alone, or the EXPUNGE alone (after another one renumbered it), suffices.
        (
            vec![b"* 1 FETCH (UID 7 BODY[] NIL)\r\nS OK [EXPUNGEISSUED] gone\r\n"],
            Want::None,
        ),
        (
            vec![b"* 2 FETCH (UID 7 BODY[] NIL)\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\nS OK done\r\n"],
            Want::None,
        ),
        // Listed, no bytes, no sign that it is gone: an error, never "no such message".
        (
            vec![b"* 1 FETCH (UID 7 FLAGS (\\Recent) RFC822.SIZE 0 BODY[] NIL)\r\nS OK done\r\n"],
            Want::BodyMissing,
        ),
        (
            vec![b"* 1 FETCH (UID 7 FLAGS ())\r\nS OK done\r\n"],
            Want::BodyMissing,
        ),
        // An EXPUNGE of another message does not make ours gone.
        (
            vec![b"* 2 FETCH (UID 7 BODY[] NIL)\r\n* 3 EXPUNGE\r\nS OK done\r\n"],
            Want::BodyMissing,
        ),
        // A body for another UID, or without UID, or twice: refused.
        (
            vec![b"* 4 FETCH (UID 8 BODY[] {2}\r\nhi)\r\nS OK done\r\n"],
            Want::Malformed,
        ),
        (
            vec![b"* 3 FETCH (BODY[] {2}\r\nhi)\r\nS OK done\r\n"],
            Want::Malformed,
        ),
        (
            vec![b"* 3 FETCH (UID 7 BODY[] {2}\r\nhi)\r\n* 3 FETCH (UID 7 BODY[] {2}\r\nhi)\r\nS OK done\r\n"],
            Want::Malformed,
        ),
    ];
    for (i, (writes, want)) in cases.iter().enumerate() {
        assert_eq!(&fetch_7_against(writes), want, "case {i}");
    }
}

/// `uid_fetch(7)` against a peer that answers with these writes.
fn fetch_7_against(writes: &[&'static [u8]]) -> Want {
    let writes: Vec<Vec<u8>> = writes.iter().map(|w| w.to_vec()).collect();
    let peer = spawn(true, move |c| {
        c.write(b"* OK scripted\r\n");
        c.read_line();
        c.write(b"* CAPABILITY IMAP4rev1\r\nS1 OK done\r\n");
        assert_eq!(
            c.read_line(),
            "S2 UID FETCH 7 (UID FLAGS RFC822.SIZE BODY.PEEK[])"
        );
        for w in writes {
            let w = String::from_utf8(w).unwrap().replace("S OK", "S2 OK");
            c.write(w.as_bytes());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    });
    let mut client =
        ImapClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    let got = match client.uid_fetch(7) {
        Ok(Some(m)) => {
            assert_eq!(m.uid, 7);
            Want::Body(Box::leak(m.body.into_boxed_slice()))
        }
        Ok(None) => Want::None,
        Err(Error::BodyMissing { uid: 7 }) => Want::BodyMissing,
        Err(Error::Protocol(ProtocolError::Malformed { .. })) => Want::Malformed,
        Err(e) => panic!("{e}"),
    };
    drop(client);
    peer.join();
    got
}
