//! SMTP cases no real server produces, against a scripted peer on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::peer::spawn;
use secmail_transport::{Envelope, Error, ProtocolError, Security, SmtpClient};

#[test]
fn bytes_injected_after_starttls_reply_are_discarded() {
    let peer = spawn(false, |c| {
        c.write(b"220 scripted ESMTP\r\n");
        assert!(c.read_line().starts_with("EHLO"));
        c.write(b"250-scripted\r\n250 STARTTLS\r\n");
        assert_eq!(c.read_line(), "STARTTLS");
        // A man in the middle appends a forged EHLO reply to the STARTTLS reply, in the same
        // segment, hoping the client reads it as the first reply over TLS.
        c.write(b"220 go ahead\r\n250-forged\r\n250 AUTH PLAIN\r\n");
        c.start_tls();
        assert!(c.read_line().starts_with("EHLO"), "EHLO re-issued over TLS");
        c.write(b"250-scripted\r\n250 AUTH LOGIN\r\n");
        assert_eq!(c.read_line(), "QUIT");
        c.write(b"221 bye\r\n");
    });
    let client = SmtpClient::connect(&peer.endpoint(Security::StartTls), &peer.options()).unwrap();
    assert_eq!(
        client.extensions().auth,
        vec!["LOGIN".to_string()],
        "the forged reply was used"
    );
    client.quit().unwrap();
    peer.join();
}

#[test]
fn starttls_refused_is_an_error() {
    let peer = spawn(false, |c| {
        c.write(b"220 scripted ESMTP\r\n");
        c.read_line();
        c.write(b"250-scripted\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n");
        assert_eq!(c.read_line(), "STARTTLS");
        c.write(b"454 4.7.0 TLS not available\r\n");
        // The client must hang up, not carry on in plaintext.
        assert_eq!(c.read_line(), "");
    });
    let err = SmtpClient::connect(&peer.endpoint(Security::StartTls), &peer.options()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TlsRefused {
                command: "STARTTLS",
                ..
            }
        ),
        "{err}"
    );
    peer.join();
}

#[test]
fn a_reply_line_that_never_ends() {
    let peer = spawn(true, |c| {
        let mut line = b"220 ".to_vec();
        line.resize(200 * 1024, b'a');
        c.write(&line);
    });
    let err = SmtpClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::LineTooLong { .. })),
        "{err}"
    );
    peer.join();
}

#[test]
fn endless_multiline_reply_is_bounded() {
    let peer = spawn(true, |c| {
        c.write(b"220 ok\r\n");
        c.read_line();
        for _ in 0..2000 {
            c.write(b"250-more\r\n");
        }
    });
    let opts = peer
        .options()
        .with_limits(secmail_transport::Limits::default().with_max_reply_lines(1000));
    let err = SmtpClient::connect(&peer.endpoint(Security::Implicit), &opts).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol(ProtocolError::ReplyTooLong { limit: 1000 })
        ),
        "{err}"
    );
    peer.join();
}

#[test]
fn connection_dropped_mid_reply() {
    let peer = spawn(true, |c| {
        c.write(b"220-scripted\r\n220-still going");
        // The script ends: the connection is dropped.
    });
    let err = SmtpClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed), "{err}");
    peer.join();
}

#[test]
fn silent_server_times_out() {
    let peer = spawn(true, |c| {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        c.write(b"");
    });
    let opts = peer
        .options()
        .with_io_timeout(std::time::Duration::from_millis(300));
    let err = SmtpClient::connect(&peer.endpoint(Security::Implicit), &opts).unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err}");
    peer.join();
}

#[test]
fn no_pipelining_exact_wire_bytes() {
    let peer = spawn(true, |c| {
        c.write(b"220 scripted\r\n");
        c.read_line();
        c.write(b"250-scripted\r\n250 AUTH PLAIN\r\n");
        // "\0alice\0secret" in base64.
        assert_eq!(c.read_line(), "AUTH PLAIN AGFsaWNlAHNlY3JldA==");
        c.write(b"235 ok\r\n");
        assert_eq!(c.read_line(), "MAIL FROM:<alice@x>");
        c.write(b"250 ok\r\n");
        assert_eq!(c.read_line(), "RCPT TO:<bad@x>");
        c.write(b"550 5.1.1 no such user\r\n");
        assert_eq!(c.read_line(), "RCPT TO:<bob@x>");
        c.write(b"250 ok\r\n");
        assert_eq!(c.read_line(), "DATA");
        c.write(b"354 go\r\n");
        let body = c.read_until_line(".");
        assert_eq!(body, b"..a\r\n..\r\nb\r\n\xff\r\n");
        c.write(b"250 queued as X\r\n");
        assert_eq!(c.read_line(), "QUIT");
        c.write(b"221 bye\r\n");
    });
    let mut client =
        SmtpClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    client.login("alice", &"secret".to_string().into()).unwrap();
    let report = client
        .send_bytes(
            &Envelope::new("alice@x", ["bad@x", "bob@x"]),
            b".a\n.\r\nb\r\xff",
        )
        .unwrap();
    assert_eq!(report.accepted, vec!["bob@x".to_string()]);
    assert_eq!(report.rejected[0].0, "bad@x");
    assert_eq!(report.reply.lines, vec!["queued as X".to_string()]);
    client.quit().unwrap();
    peer.join();
}

#[test]
fn requiretls_not_offered_refuses_to_send() {
    let peer = spawn(true, |c| {
        c.write(b"220 scripted\r\n");
        c.read_line();
        c.write(b"250-scripted\r\n250 PIPELINING\r\n");
        assert_eq!(c.read_line(), "QUIT");
        c.write(b"221 bye\r\n");
    });
    let mut client =
        SmtpClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    let mut env = Envelope::new("a@x", ["b@x"]);
    env.require_tls = true;
    assert!(matches!(
        client.send_bytes(&env, b"x"),
        Err(Error::RequireTlsNotOffered)
    ));
    client.quit().unwrap();
    peer.join();
}

#[test]
fn xoauth2_error_challenge_is_answered_and_reported() {
    let peer = spawn(true, |c| {
        c.write(b"220 scripted\r\n");
        c.read_line();
        c.write(b"250-scripted\r\n250 AUTH XOAUTH2\r\n");
        assert_eq!(
            c.read_line(),
            "AUTH XOAUTH2 dXNlcj1ib2JAeAFhdXRoPUJlYXJlciB0b2sBAQ=="
        );
        c.write(b"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n");
        assert_eq!(c.read_line(), "");
        c.write(b"535 5.7.8 invalid token\r\n");
    });
    let mut client =
        SmtpClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
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
fn requiretls_offered_is_sent_and_enhanced_codes_reported_per_recipient() {
    let peer = spawn(true, |c| {
        c.write(b"220 scripted\r\n");
        c.read_line();
        c.write(b"250-scripted\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-REQUIRETLS\r\n250 8BITMIME\r\n");
        assert_eq!(c.read_line(), "MAIL FROM:<a@x> BODY=8BITMIME REQUIRETLS");
        assert_eq!(c.read_line(), "RCPT TO:<b@x>");
        assert_eq!(c.read_line(), "RCPT TO:<gone@x>");
        assert_eq!(c.read_line(), "DATA");
        c.write(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <gone@x>: mailbox unavailable\r\n354 go\r\n");
        assert_eq!(c.read_until_line("."), b"hi\r\n");
        c.write(b"250 2.0.0 Ok: queued as Q1\r\n");
        assert_eq!(c.read_line(), "QUIT");
        c.write(b"221 2.0.0 bye\r\n");
    });
    let mut client =
        SmtpClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    assert!(client.extensions().requiretls && client.extensions().enhanced_status_codes);
    let mut env = Envelope::new("a@x", ["b@x", "gone@x"]);
    env.require_tls = true;
    let report = client.send_bytes(&env, b"hi\n").unwrap();
    assert_eq!(report.accepted, ["b@x"]);
    let (who, reply) = &report.rejected[0];
    assert_eq!(who, "gone@x");
    let code = reply.enhanced_code().unwrap();
    assert_eq!((code.class, code.subject, code.detail), (5, 1, 1));
    assert_eq!(reply.text(), "<gone@x>: mailbox unavailable");
    assert_eq!(report.reply.enhanced_code().unwrap().to_string(), "2.0.0");
    client.quit().unwrap();
    peer.join();
}

#[test]
fn xoauth2_accepted() {
    let peer = spawn(true, |c| {
        c.write(b"220 scripted\r\n");
        c.read_line();
        c.write(b"250-scripted\r\n250 AUTH XOAUTH2\r\n");
        assert_eq!(
            c.read_line(),
            "AUTH XOAUTH2 dXNlcj1ib2JAeAFhdXRoPUJlYXJlciB0b2sBAQ=="
        );
        c.write(b"235 2.7.0 Accepted\r\n");
        assert_eq!(c.read_line(), "NOOP");
        c.write(b"250 2.0.0 Ok\r\n");
    });
    let mut client =
        SmtpClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    client
        .auth_xoauth2("bob@x", &"tok".to_string().into())
        .unwrap();
    client.noop().unwrap();
    peer.join();
}

#[test]
fn message_counts_as_sent_only_after_the_final_reply() {
    // The connection drops after the message went out but before the final 250: an error,
    // not a report.
    let peer = spawn(true, |c| {
        c.write(b"220 scripted\r\n");
        c.read_line();
        c.write(b"250-scripted\r\n250 PIPELINING\r\n");
        for _ in 0..3 {
            c.read_line();
        }
        c.write(b"250 ok\r\n250 ok\r\n354 go\r\n");
        c.read_until_line(".");
    });
    let mut client =
        SmtpClient::connect(&peer.endpoint(Security::Implicit), &peer.options()).unwrap();
    let err = client
        .send_bytes(&Envelope::new("a@x", ["b@x"]), b"x")
        .unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed), "{err}");
    peer.join();
}
