//! SMTP submission against the real Postfix of `scripts/mailstack.sh` (see `common`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{stack, token, tricky_message};
use secmail_transport::proto::smtp::canonical_crlf;
use secmail_transport::{Envelope, Error, Security, SmtpClient, TlsConfig};

fn send_and_check(port_key: &str, security: Security, attachment: usize) {
    let s = stack();
    let (alice, pass) = s.alice();
    let (bob, _) = s.bob();
    let tok = token(port_key);
    let msg = tricky_message(&tok, &alice, &bob, attachment);
    let mut client = SmtpClient::connect(&s.endpoint(port_key, security), &s.options()).unwrap();
    assert!(client.extensions().pipelining, "Postfix offers PIPELINING");
    client.login(&alice, &pass).unwrap();
    let report = client
        .send_bytes(&Envelope::new(&alice, [&bob]), &msg)
        .unwrap();
    assert_eq!(report.accepted, vec![bob.clone()]);
    assert!(report.rejected.is_empty());
    assert_eq!(report.reply.code, 250);
    client.quit().unwrap();
    let stored = s.wait_in_bob_maildir(&tok);
    // Dovecot's Maildir stores LF line endings; the server side prepends trace headers.
    let expected: Vec<u8> = canonical_crlf(&msg)
        .into_iter()
        .filter(|&b| b != b'\r')
        .collect();
    assert!(
        stored.ends_with(&expected),
        "stored message differs from the sent one"
    );
}

#[test]
fn starttls_send_byte_exact() {
    send_and_check("MAILSTACK_SMTP_STARTTLS_PORT", Security::StartTls, 0);
}

#[test]
fn implicit_tls_send_byte_exact() {
    send_and_check("MAILSTACK_SMTPS_PORT", Security::Implicit, 0);
}

#[test]
fn ten_megabyte_attachment() {
    send_and_check("MAILSTACK_SMTPS_PORT", Security::Implicit, 10 * 1024 * 1024);
}

#[test]
fn per_recipient_results_and_many_messages_per_session() {
    let s = stack();
    let (alice, pass) = s.alice();
    let (bob, _) = s.bob();
    let mut client = SmtpClient::connect(
        &s.endpoint("MAILSTACK_SMTP_STARTTLS_PORT", Security::StartTls),
        &s.options(),
    )
    .unwrap();
    client.login(&alice, &pass).unwrap();
    let mut tokens = Vec::new();
    for i in 0..3 {
        let tok = token(&format!("multi{i}"));
        let msg = tricky_message(&tok, &alice, &bob, 0);
        let env = Envelope::new(&alice, [bob.as_str(), "nobody@example.test"]);
        let report = client.send_bytes(&env, &msg).unwrap();
        assert_eq!(report.accepted, vec![bob.clone()]);
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].0, "nobody@example.test");
        assert_eq!(report.rejected[0].1.code / 100, 5);
        tokens.push(tok);
    }
    // Every recipient rejected: nothing sent, a typed error, and the session still works.
    let err = client
        .send_bytes(
            &Envelope::new(&alice, ["nobody@example.test"]),
            b"Subject: x\r\n\r\nx\r\n",
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::AllRecipientsRejected(ref r) if r.len() == 1),
        "{err}"
    );
    let tok = token("after-reject");
    client
        .send_bytes(
            &Envelope::new(&alice, [&bob]),
            &tricky_message(&tok, &alice, &bob, 0),
        )
        .unwrap();
    tokens.push(tok);
    client.quit().unwrap();
    for tok in tokens {
        s.wait_in_bob_maildir(&tok);
    }
}

#[test]
fn auth_login_mechanism() {
    let s = stack();
    let (alice, pass) = s.alice();
    let mut client = SmtpClient::connect(
        &s.endpoint("MAILSTACK_SMTPS_PORT", Security::Implicit),
        &s.options(),
    )
    .unwrap();
    client.auth_login(&alice, &pass).unwrap();
    client.quit().unwrap();
}

#[test]
fn wrong_password_refused() {
    let s = stack();
    let (alice, _) = s.alice();
    for (port, sec) in [
        ("MAILSTACK_SMTPS_PORT", Security::Implicit),
        ("MAILSTACK_SMTP_STARTTLS_PORT", Security::StartTls),
    ] {
        let mut client = SmtpClient::connect(&s.endpoint(port, sec), &s.options()).unwrap();
        let err = client
            .login(&alice, &"not-the-password".to_string().into())
            .unwrap_err();
        assert!(matches!(err, Error::AuthFailed(_)), "{err}");
        assert!(!format!("{err:?}").contains("not-the-password"));
    }
}

#[test]
fn unknown_ca_refused() {
    let s = stack();
    // The Mozilla roots do not include the stack's throw-away CA.
    let opts = secmail_transport::Options::new(TlsConfig::webpki_roots().unwrap());
    for (port, sec) in [
        ("MAILSTACK_SMTPS_PORT", Security::Implicit),
        ("MAILSTACK_SMTP_STARTTLS_PORT", Security::StartTls),
    ] {
        let err = SmtpClient::connect(&s.endpoint(port, sec), &opts).unwrap_err();
        assert!(
            matches!(err, Error::Tls(rustls::Error::InvalidCertificate(_))),
            "{err}"
        );
    }
}

#[test]
fn wrong_name_refused() {
    let s = stack();
    // The certificate is for localhost, 127.0.0.1 and ::1; ask for another name on the same
    // address by connecting through an Endpoint whose host resolves to loopback.
    let mut ep = s.endpoint("MAILSTACK_SMTPS_PORT", Security::Implicit);
    ep.host = "localhost.".into();
    match SmtpClient::connect(&ep, &s.options()) {
        // Either the name does not resolve or the certificate does not match it.
        Err(Error::Tls(_)) | Err(Error::Connect { .. }) => {}
        Ok(_) => panic!("connected under a name the certificate does not carry"),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn server_without_starttls_refused() {
    let s = stack();
    let err = SmtpClient::connect(
        &s.endpoint("MAILSTACK_SMTP_PLAIN_PORT", Security::StartTls),
        &s.options(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TlsNotOffered {
                command: "STARTTLS"
            }
        ),
        "{err}"
    );
    // And implicit TLS to a plaintext port fails in the handshake, never in plaintext.
    let err = SmtpClient::connect(
        &s.endpoint("MAILSTACK_SMTP_PLAIN_PORT", Security::Implicit),
        &s.options(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Tls(_) | Error::ConnectionClosed | Error::Timeout
        ),
        "{err}"
    );
}

#[test]
fn ipv4_literal_endpoint() {
    let s = stack();
    let mut ep = s.endpoint("MAILSTACK_SMTPS_PORT", Security::Implicit);
    ep.host = "127.0.0.1".into();
    let client = SmtpClient::connect(&ep, &s.options()).unwrap();
    client.quit().unwrap();
}

#[test]
fn requiretls_refused_where_not_offered_and_smtputf8_used_where_needed() {
    let s = stack();
    let (alice, pass) = s.alice();
    let (bob, _) = s.bob();
    let mut client = SmtpClient::connect(
        &s.endpoint("MAILSTACK_SMTPS_PORT", Security::Implicit),
        &s.options(),
    )
    .unwrap();
    client.login(&alice, &pass).unwrap();
    // Postfix 3.7 does not offer REQUIRETLS: the message must not go.
    assert!(!client.extensions().requiretls);
    let mut env = Envelope::new(&alice, [&bob]);
    env.require_tls = true;
    let err = client
        .send_bytes(&env, b"Subject: x\r\n\r\nx\r\n")
        .unwrap_err();
    assert!(matches!(err, Error::RequireTlsNotOffered), "{err}");
    // A non-ASCII recipient needs SMTPUTF8, which Postfix offers: the transaction is accepted
    // (that unknown mailbox itself is rejected, bob still gets the message).
    assert!(client.extensions().smtputf8);
    let tok = token("utf8");
    let env = Envelope::new(&alice, [bob.as_str(), "j\u{f6}rg@example.test"]);
    let report = client
        .send_bytes(&env, &tricky_message(&tok, &alice, &bob, 0))
        .unwrap();
    assert_eq!(report.accepted, vec![bob.clone()]);
    assert_eq!(report.rejected[0].0, "j\u{f6}rg@example.test");
    client.quit().unwrap();
    s.wait_in_bob_maildir(&tok);
}
