//! IMAP against the real Dovecot of `scripts/mailstack.sh` (see `common`).
//!
//! The fetch tests share bob's INBOX, so they run in one test function, in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{contains, message_id, send_to_bob, stack, token, tricky_message};
use secmail_transport::proto::smtp::canonical_crlf;
use secmail_transport::{Error, FetchedMessage, ImapClient, Security, TlsConfig};

/// Polls bob's INBOX until the message of `tok` is there (found by its Message-ID); fetches
/// it whole and streamed, then deletes it (UID STORE \Deleted + UID EXPUNGE) and nothing
/// else: other tests and other engineers share the mailbox.
fn fetch_from_bob(port_key: &str, security: Security, tok: &str) -> FetchedMessage {
    let s = stack();
    let (bob, pass) = s.bob();
    let start = Instant::now();
    loop {
        let mut c = ImapClient::connect(&s.endpoint(port_key, security), &s.options()).unwrap();
        c.login(&bob, &pass).unwrap();
        assert!(c.list().unwrap().contains(&"INBOX".to_string()));
        let exists = c.select("INBOX").unwrap();
        assert!(c.uid_search_all().unwrap().len() as u32 >= exists.min(1));
        let mut found = None;
        for uid in c.uid_search_header("Message-ID", &message_id(tok)).unwrap() {
            // Listed just now and ours alone: it must come, never `None`.
            let m = c.uid_fetch(uid).unwrap().expect("a listed message of ours");
            assert_eq!(
                m.size as usize,
                m.body.len(),
                "RFC822.SIZE and the bytes agree"
            );
            // The same message streamed into a sink.
            let mut streamed = Vec::new();
            let meta = c.uid_fetch_to(uid, &mut streamed).unwrap().unwrap();
            assert_eq!((meta.uid, meta.size, meta.body.len()), (uid, m.size, 0));
            assert!(streamed == m.body, "uid_fetch_to wrote other bytes");
            assert!(
                !m.flags.iter().any(|f| f == "\\Seen"),
                "BODY.PEEK does not set \\Seen"
            );
            assert!(contains(&m.body, tok.as_bytes()));
            c.uid_add_flags(uid, &["\\Deleted"]).unwrap();
            c.uid_expunge(uid).unwrap();
            // Gone: a UID FETCH for it now returns OK and no data.
            assert_eq!(c.uid_fetch(uid).unwrap(), None);
            found = Some(m);
        }
        c.logout().unwrap();
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
fn fetch_byte_exact_over_starttls_and_implicit_tls() {
    let s = stack();
    let (alice, _) = s.alice();
    let (bob, _) = s.bob();
    for (port, sec, attachment) in [
        ("MAILSTACK_IMAP_PORT", Security::StartTls, 0),
        ("MAILSTACK_IMAPS_PORT", Security::Implicit, 10 * 1024 * 1024),
    ] {
        let tok = token(port);
        let msg = tricky_message(&tok, &alice, &bob, attachment);
        send_to_bob(&msg);
        let got = fetch_from_bob(port, sec, &tok);
        assert!(
            got.body.ends_with(&canonical_crlf(&msg)),
            "IMAP bytes differ from the sent message"
        );
    }
}

#[test]
fn append_fetch_flag_and_expunge_in_own_mailbox() {
    // alice's mailbox, so as not to race the fetch test on bob's.
    let s = stack();
    let (alice, pass) = s.alice();
    let mut c = ImapClient::connect(
        &s.endpoint("MAILSTACK_IMAPS_PORT", Security::Implicit),
        &s.options(),
    )
    .unwrap();
    c.login(&alice, &pass).unwrap();
    let tok = token("append");
    let msg = canonical_crlf(&tricky_message(&tok, &alice, &alice, 0));
    c.append("INBOX", &["\\Flagged"], &msg).unwrap();
    c.examine("INBOX").unwrap();
    c.select("INBOX").unwrap();
    let mut seen = false;
    // Only ours: the mailbox is shared, other messages may come and go meanwhile.
    for uid in c
        .uid_search_header("Message-ID", &message_id(&tok))
        .unwrap()
    {
        let m = c.uid_fetch(uid).unwrap().unwrap();
        assert!(m.body == msg, "APPEND and FETCH bytes differ");
        assert!(m.flags.iter().any(|f| f == "\\Flagged"), "{:?}", m.flags);
        c.uid_add_flags(uid, &["\\Seen", "\\Deleted"]).unwrap();
        c.uid_remove_flags(uid, &["\\Flagged"]).unwrap();
        let m = c.uid_fetch(uid).unwrap().unwrap();
        assert!(m.flags.iter().any(|f| f == "\\Seen") && !m.flags.iter().any(|f| f == "\\Flagged"));
        c.uid_expunge(uid).unwrap();
        assert!(c.uid_fetch(uid).unwrap().is_none());
        seen = true;
    }
    assert!(seen, "the appended message is not in INBOX");
    c.noop().unwrap();
    c.logout().unwrap();
}

#[test]
fn wrong_password_refused() {
    let s = stack();
    let (bob, _) = s.bob();
    for (port, sec) in [
        ("MAILSTACK_IMAPS_PORT", Security::Implicit),
        ("MAILSTACK_IMAP_PORT", Security::StartTls),
    ] {
        let mut c = ImapClient::connect(&s.endpoint(port, sec), &s.options()).unwrap();
        let err = c.login(&bob, &"wrong".to_string().into()).unwrap_err();
        assert!(matches!(err, Error::AuthFailed(_)), "{err}");
    }
}

#[test]
fn unknown_ca_refused() {
    let s = stack();
    let opts = secmail_transport::Options::new(TlsConfig::webpki_roots().unwrap());
    for (port, sec) in [
        ("MAILSTACK_IMAPS_PORT", Security::Implicit),
        ("MAILSTACK_IMAP_PORT", Security::StartTls),
    ] {
        let err = ImapClient::connect(&s.endpoint(port, sec), &opts).unwrap_err();
        assert!(
            matches!(err, Error::Tls(rustls::Error::InvalidCertificate(_))),
            "{err}"
        );
    }
}

#[test]
fn server_without_starttls_refused() {
    // This Dovecot offers no STARTTLS and accepts LOGIN in clear: the client must hang up.
    let s = stack();
    let err = ImapClient::connect(
        &s.endpoint("MAILSTACK_IMAP_PLAIN_PORT", Security::StartTls),
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
}

#[test]
fn idle_wakes_up_on_delivery() {
    // alice's INBOX: bob's belongs to the fetch test running beside this one.
    let s = stack();
    let (alice, pass) = s.alice();
    let mut c = ImapClient::connect(
        &s.endpoint("MAILSTACK_IMAPS_PORT", Security::Implicit),
        &s.options(),
    )
    .unwrap();
    assert!(c.has_capability("IDLE"));
    c.login(&alice, &pass).unwrap();
    c.select("INBOX").unwrap();
    let tok = token("idle");
    let msg = tricky_message(&tok, &alice, &alice, 0);
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let s = stack();
        let (alice, pass) = s.alice();
        let mut smtp = secmail_transport::SmtpClient::connect(
            &s.endpoint("MAILSTACK_SMTPS_PORT", Security::Implicit),
            &s.options(),
        )
        .unwrap();
        smtp.login(&alice, &pass).unwrap();
        smtp.send_bytes(&secmail_transport::Envelope::new(&alice, [&alice]), &msg)
            .unwrap();
        smtp.quit().unwrap();
    });
    let start = Instant::now();
    let mut woke = false;
    while start.elapsed() < Duration::from_secs(30) && !woke {
        woke = !c.idle(Duration::from_secs(10)).unwrap().is_empty();
    }
    sender.join().unwrap();
    assert!(woke, "IDLE never reported the delivery");
    c.logout().unwrap();
    // Clean up: remove exactly that message again.
    assert_eq!(s.delete_delivered(&alice, &pass, &tok), 1);
}

/// The cause of the FFI's "UID listed, no body" observation, on the real Dovecot: a message
/// file removed from the Maildir behind Dovecot's back (as the SMTP tests once did to keep
/// bob's mailbox small) stays in the index of a session that listed it; its UID FETCH then
/// gets `* n FETCH (UID u FLAGS (\Recent) RFC822.SIZE 0 BODY[] NIL)`, EXPUNGEs and
/// `OK [EXPUNGEISSUED]`. That is "gone" (`None`), not an empty message and not an error.
#[test]
fn message_file_removed_behind_dovecots_back_is_gone() {
    let s = stack();
    let (alice, _) = s.alice();
    let (bob, pass) = s.bob();
    let tok = token("behind-dovecot");
    send_to_bob(&tricky_message(&tok, &alice, &bob, 0));
    let mut c = ImapClient::connect(
        &s.endpoint("MAILSTACK_IMAPS_PORT", Security::Implicit),
        &s.options(),
    )
    .unwrap();
    c.login(&bob, &pass).unwrap();
    let start = Instant::now();
    let uid = loop {
        c.select("INBOX").unwrap();
        if let Some(&uid) = c
            .uid_search_header("Message-ID", &message_id(&tok))
            .unwrap()
            .first()
        {
            break uid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{tok} never arrived"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let root = std::path::PathBuf::from(s.get("MAILSTACK_BOB_MAILDIR"));
    let mut removed = 0;
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(root.join(sub)).unwrap().flatten() {
            if std::fs::read(entry.path()).is_ok_and(|b| contains(&b, tok.as_bytes())) {
                std::fs::remove_file(entry.path()).unwrap();
                removed += 1;
            }
        }
    }
    assert_eq!(removed, 1, "the delivered file");
    assert_eq!(c.uid_fetch(uid).unwrap(), None, "listed, file gone: gone");
    assert_eq!(c.uid_fetch(uid).unwrap(), None, "and gone it stays");
    c.select("INBOX").unwrap();
    assert!(
        c.uid_search_header("Message-ID", &message_id(&tok))
            .unwrap()
            .is_empty()
    );
    c.logout().unwrap();
}
