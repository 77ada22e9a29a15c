//! Autocrypt Level 1 peer state (§2.3) and recommendations (§2.4): every rule, table-driven,
//! over real headers made by `add_autocrypt_header` from our keys and from a gpg-made key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secmail_pgp::*;

const DAY: u64 = 24 * 60 * 60;

/// RFC 5322 date for a Unix time (UTC), by the mail-builder crate secmail-core uses.
fn rfc5322(secs: u64) -> String {
    mail_builder::headers::date::Date::from(secs).to_rfc822()
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn at(t0: u64, day: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t0 + day * DAY)
}

fn key(uid: &str) -> Cert {
    generate(&KeyGenOptions::new(uid)).unwrap().key
}

/// A message from `from` to bob dated `date` (None: no Date), with `extra` headers on top.
fn mail(from: &str, date: Option<u64>, ctype: &str) -> Vec<u8> {
    let mut m = format!("From: {from}\r\nTo: bob@example.net\r\n");
    if let Some(d) = date {
        m.push_str(&format!("Date: {}\r\n", rfc5322(d)));
    }
    m.push_str(&format!(
        "Subject: x\r\nContent-Type: {ctype}\r\n\r\nhi\r\n"
    ));
    m.into_bytes()
}

#[derive(Clone, Copy)]
enum Hdr {
    None,
    Nopref,
    Mutual,
}

struct Step {
    /// Day of the Date header after t0 (None: no Date header).
    day: Option<u64>,
    hdr: Hdr,
    /// Which key the header carries (0 or 1).
    key: usize,
    report: bool,
    expect: PeerUpdate,
}

const fn s(day: u64, hdr: Hdr, key: usize, expect: PeerUpdate) -> Step {
    Step {
        day: Some(day),
        hdr,
        key,
        report: false,
        expect,
    }
}

struct Case {
    name: &'static str,
    steps: Vec<Step>,
    /// Expected (last_seen day, autocrypt_timestamp day, key index, mutual) or None: no state.
    state: Option<(u64, u64, usize, bool)>,
    /// Recommendation for a mutual sender / a nopreference sender, at day 200.
    mutual: Recommendation,
    nopref: Recommendation,
}

#[test]
fn update_rules_and_recommendations_table() {
    use PeerUpdate::*;
    use Recommendation::*;
    let t0 = secs(SystemTime::now());
    let now = at(t0, 200);
    let keys = [
        key("Alice <alice@example.org>"),
        key("Alice <alice@example.org>"),
    ];
    let cases = vec![
        Case {
            name: "header with mutual",
            steps: vec![s(10, Hdr::Mutual, 0, Updated)],
            state: Some((10, 10, 0, true)),
            mutual: Encrypt,
            nopref: Available,
        },
        Case {
            name: "header without preference",
            steps: vec![s(10, Hdr::Nopref, 0, Updated)],
            state: Some((10, 10, 0, false)),
            mutual: Available,
            nopref: Available,
        },
        Case {
            name: "no header from an unknown peer keeps no state",
            steps: vec![s(10, Hdr::None, 0, Seen)],
            state: None,
            mutual: Disable,
            nopref: Disable,
        },
        Case {
            name: "a newer header replaces key and preference",
            steps: vec![
                s(10, Hdr::Mutual, 0, Updated),
                s(20, Hdr::Nopref, 1, Updated),
            ],
            state: Some((20, 20, 1, false)),
            mutual: Available,
            nopref: Available,
        },
        Case {
            name: "an older header changes nothing",
            steps: vec![s(20, Hdr::Mutual, 0, Updated), s(10, Hdr::Nopref, 1, Older)],
            state: Some((20, 20, 0, true)),
            mutual: Encrypt,
            nopref: Available,
        },
        Case {
            name: "an older message without header changes nothing",
            steps: vec![s(20, Hdr::Mutual, 0, Updated), s(10, Hdr::None, 0, Older)],
            state: Some((20, 20, 0, true)),
            mutual: Encrypt,
            nopref: Available,
        },
        Case {
            name: "a header of the same date is taken",
            steps: vec![
                s(20, Hdr::Mutual, 0, Updated),
                s(20, Hdr::Nopref, 1, Updated),
            ],
            state: Some((20, 20, 1, false)),
            mutual: Available,
            nopref: Available,
        },
        Case {
            name: "a message without header moves last_seen (35 days: not stale yet)",
            steps: vec![s(10, Hdr::Mutual, 0, Updated), s(45, Hdr::None, 0, Seen)],
            state: Some((45, 10, 0, true)),
            mutual: Encrypt,
            nopref: Available,
        },
        Case {
            name: "more than 35 days without header: discourage",
            steps: vec![s(10, Hdr::Mutual, 0, Updated), s(46, Hdr::None, 0, Seen)],
            state: Some((46, 10, 0, true)),
            mutual: Discourage,
            nopref: Discourage,
        },
        Case {
            name: "a header after the gap makes it fresh again",
            steps: vec![
                s(10, Hdr::Mutual, 0, Updated),
                s(60, Hdr::None, 0, Seen),
                s(70, Hdr::Mutual, 1, Updated),
            ],
            state: Some((70, 70, 1, true)),
            mutual: Encrypt,
            nopref: Available,
        },
        Case {
            name: "an old message without header after a newer one leaves last_seen",
            steps: vec![
                s(10, Hdr::Mutual, 0, Updated),
                s(60, Hdr::None, 0, Seen),
                s(30, Hdr::None, 0, Seen),
            ],
            state: Some((60, 10, 0, true)),
            mutual: Discourage,
            nopref: Discourage,
        },
        Case {
            name: "multipart/report is not processed",
            steps: vec![
                s(10, Hdr::Mutual, 0, Updated),
                Step {
                    day: Some(90),
                    hdr: Hdr::None,
                    key: 0,
                    report: true,
                    expect: NotProcessed,
                },
            ],
            state: Some((10, 10, 0, true)),
            mutual: Encrypt,
            nopref: Available,
        },
        Case {
            name: "a Date in the future is clamped to now",
            steps: vec![s(900, Hdr::Mutual, 0, Updated), s(150, Hdr::None, 0, Older)],
            state: Some((200, 200, 0, true)),
            mutual: Encrypt,
            nopref: Available,
        },
        Case {
            name: "no Date: the effective date is now",
            steps: vec![
                s(10, Hdr::Mutual, 0, Updated),
                Step {
                    day: None,
                    hdr: Hdr::None,
                    key: 0,
                    report: false,
                    expect: Seen,
                },
            ],
            state: Some((200, 10, 0, true)),
            mutual: Discourage,
            nopref: Discourage,
        },
    ];
    let headers: Vec<[Vec<u8>; 2]> = [PreferEncrypt::NoPreference, PreferEncrypt::Mutual]
        .iter()
        .map(|p| {
            let base = b"From: alice@example.org\r\n\r\n";
            [
                add_autocrypt_header(base, &keys[0], *p).unwrap(),
                add_autocrypt_header(base, &keys[1], *p).unwrap(),
            ]
        })
        .collect();
    let mutual = Compose {
        own_prefer_encrypt: PreferEncrypt::Mutual,
        ..Compose::default()
    };
    let nopref = Compose::default();
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut peers = AutocryptPeers::open(dir.path()).unwrap();
        for (i, step) in case.steps.iter().enumerate() {
            let ctype = if step.report {
                "multipart/report; report-type=delivery-status; boundary=b"
            } else {
                "text/plain"
            };
            let body = mail(
                "Alice <Alice@Example.org>",
                step.day.map(|d| t0 + d * DAY),
                ctype,
            );
            let m = match step.hdr {
                Hdr::None => body,
                Hdr::Nopref | Hdr::Mutual => {
                    let h = &headers[matches!(step.hdr, Hdr::Mutual) as usize][step.key];
                    // Only the Autocrypt field of the made-up message: everything before
                    // the From line.
                    let end = h.windows(5).position(|w| w == b"From:").unwrap();
                    [&h[..end], &body[..]].concat()
                }
            };
            let got = peers.process_message(&m, now).unwrap();
            assert_eq!(got, step.expect, "{}: step {i}", case.name);
        }
        let check = |peers: &AutocryptPeers, how: &str| {
            match (case.state, peers.get("alice@EXAMPLE.org")) {
                (None, None) => {}
                (Some((seen, ac, k, m)), Some(st)) => {
                    assert_eq!(st.last_seen, Some(at(t0, seen)), "{} {how}", case.name);
                    assert_eq!(
                        st.autocrypt_timestamp,
                        Some(at(t0, ac)),
                        "{} {how}",
                        case.name
                    );
                    assert_eq!(
                        st.public_key.as_ref().unwrap().fingerprint(),
                        keys[k].fingerprint(),
                        "{} {how}",
                        case.name
                    );
                    assert_eq!(
                        st.prefer_encrypt == PreferEncrypt::Mutual,
                        m,
                        "{} {how}",
                        case.name
                    );
                    assert!(!st.public_key.as_ref().unwrap().is_tsk());
                }
                (want, got) => panic!("{} {how}: state {want:?} vs {got:?}", case.name),
            }
            assert_eq!(
                peers.recommend("alice@example.org", now, &mutual),
                case.mutual,
                "{} {how}: mutual sender",
                case.name
            );
            assert_eq!(
                peers.recommend("alice@example.org", now, &nopref),
                case.nopref,
                "{} {how}: sender without preference",
                case.name
            );
        };
        check(&peers, "in memory");
        // The directory holds the same state.
        check(&AutocryptPeers::open(dir.path()).unwrap(), "reloaded");
    }
}

fn gossip_mail(date: u64, to: &str, gossip: &[&Cert]) -> Vec<u8> {
    let base = format!(
        "From: carol@example.com\r\nTo: {to}\r\nDate: {}\r\nContent-Type: text/plain\r\n\r\nhi\r\n",
        rfc5322(date)
    );
    add_gossip_headers(base.as_bytes(), gossip).unwrap()
}

#[test]
fn gossip_rules() {
    use Recommendation::*;
    let t0 = secs(SystemTime::now());
    let now = at(t0, 200);
    let (a0, a1) = (
        key("Alice <alice@example.org>"),
        key("Alice <alice@example.org>"),
    );
    let dave = key("Dave <dave@example.net>");
    let mutual = Compose {
        own_prefer_encrypt: PreferEncrypt::Mutual,
        ..Compose::default()
    };
    let mut peers = AutocryptPeers::new();
    // Gossip only for addresses in To/Cc: dave is not a recipient.
    let m = gossip_mail(
        t0 + 10 * DAY,
        "alice@example.org, bob@example.net",
        &[&a0, &dave],
    );
    assert_eq!(peers.process_gossip(&m, now).unwrap(), 1);
    assert!(peers.get("dave@example.net").is_none());
    let st = peers.get("alice@example.org").unwrap();
    assert_eq!(st.gossip_timestamp, Some(at(t0, 10)));
    assert_eq!(st.last_seen, None);
    assert!(st.public_key.is_none());
    // A gossiped key alone: discourage (even for mutual); a reply to encrypted: encrypt.
    assert_eq!(
        peers.recommend("alice@example.org", now, &mutual),
        Discourage
    );
    let reply = Compose {
        reply_to_encrypted: true,
        ..Compose::default()
    };
    assert_eq!(peers.recommend("alice@example.org", now, &reply), Encrypt);
    assert_eq!(
        peers.target_key("alice@example.org").unwrap().fingerprint(),
        a0.fingerprint()
    );
    // Older gossip is not taken; same-date and newer gossip is.
    let old = gossip_mail(t0 + 5 * DAY, "alice@example.org", &[&a1]);
    assert_eq!(peers.process_gossip(&old, now).unwrap(), 0);
    let newer = gossip_mail(t0 + 12 * DAY, "alice@example.org", &[&a1]);
    assert_eq!(peers.process_gossip(&newer, now).unwrap(), 1);
    let st = peers.get("alice@example.org").unwrap();
    assert_eq!(
        st.gossip_key.as_ref().unwrap().fingerprint(),
        a1.fingerprint()
    );
    // Gossip does not touch the Autocrypt fields, and a real header wins over gossip.
    let mut m = add_autocrypt_header(
        b"From: alice@example.org\r\n\r\n",
        &a0,
        PreferEncrypt::Mutual,
    )
    .unwrap();
    let end = m.windows(5).position(|w| w == b"From:").unwrap();
    m.truncate(end);
    m.extend_from_slice(&mail("alice@example.org", Some(t0 + 3 * DAY), "text/plain"));
    assert_eq!(peers.process_message(&m, now).unwrap(), PeerUpdate::Updated);
    assert_eq!(peers.recommend("alice@example.org", now, &mutual), Encrypt);
    assert_eq!(
        peers.target_key("alice@example.org").unwrap().fingerprint(),
        a0.fingerprint()
    );
    // Gossip is not read from a multipart/report.
    let rep = String::from_utf8(gossip_mail(t0 + 50 * DAY, "alice@example.org", &[&a0]))
        .unwrap()
        .replace("text/plain", "multipart/report; boundary=x");
    assert_eq!(peers.process_gossip(rep.as_bytes(), now).unwrap(), 0);
}

#[test]
fn unusable_keys_disable_and_several_recipients_combine() {
    use Recommendation::*;
    let t0 = secs(SystemTime::now());
    let now = at(t0, 200);
    let mutual = Compose {
        own_prefer_encrypt: PreferEncrypt::Mutual,
        ..Compose::default()
    };
    let mut peers = AutocryptPeers::new();
    let hdr = |addr: &str, cert: Cert, p| AutocryptHeader {
        addr: addr.into(),
        prefer_encrypt: p,
        cert,
    };
    // Expired by the time of composing: disable.
    let short = generate(&KeyGenOptions {
        validity: Some(Duration::from_secs(10 * DAY)),
        ..KeyGenOptions::new("Eve <eve@example.org>")
    })
    .unwrap()
    .key;
    let h = hdr("eve@example.org", short.clone(), PreferEncrypt::Mutual);
    peers
        .update("eve@example.org", Some(&h), at(t0, 1))
        .unwrap();
    assert_eq!(
        peers.recommend("eve@example.org", at(t0, 5), &mutual),
        Encrypt
    );
    assert_eq!(peers.recommend("eve@example.org", now, &mutual), Disable);
    // Revoked: disable, even as a reply to an encrypted message.
    let g = generate(&KeyGenOptions::new("Rob <rob@example.org>")).unwrap();
    let revoked = apply_revocation(&g.key, &g.revocation).unwrap();
    let h = hdr("rob@example.org", revoked, PreferEncrypt::Mutual);
    peers
        .update("rob@example.org", Some(&h), at(t0, 1))
        .unwrap();
    let reply = Compose {
        reply_to_encrypted: true,
        ..mutual
    };
    assert_eq!(peers.recommend("rob@example.org", now, &reply), Disable);
    // A header for another address than the one updated is a misuse.
    assert!(matches!(
        peers.update("x@example.org", Some(&h), at(t0, 1)),
        Err(Error::Misuse(_))
    ));
    // Several recipients.
    for (addr, p) in [
        ("m1@example.org", PreferEncrypt::Mutual),
        ("m2@example.org", PreferEncrypt::Mutual),
        ("n@example.org", PreferEncrypt::NoPreference),
    ] {
        let c = key(&format!("<{addr}>"));
        peers
            .update(addr, Some(&hdr(addr, c, p)), at(t0, 1))
            .unwrap();
    }
    // stale: a key last seen 40 days before the latest message.
    let c = key("<stale@example.org>");
    let h = hdr("stale@example.org", c, PreferEncrypt::Mutual);
    peers
        .update("stale@example.org", Some(&h), at(t0, 1))
        .unwrap();
    peers.update("stale@example.org", None, at(t0, 41)).unwrap();
    let table: &[(&[&str], Recommendation)] = &[
        (&["m1@example.org", "m2@example.org"], Encrypt),
        (&["m1@example.org", "n@example.org"], Available),
        (&["m1@example.org", "stale@example.org"], Discourage),
        (
            &["m1@example.org", "n@example.org", "stale@example.org"],
            Discourage,
        ),
        (&["m1@example.org", "rob@example.org"], Disable),
        (&["m1@example.org", "unknown@example.org"], Disable),
        (&[], Disable),
    ];
    for (addrs, want) in table {
        assert_eq!(peers.recommend_all(addrs, now, &mutual), *want, "{addrs:?}");
    }
    // Replying to an encrypted message turns discourage into encrypt, never disable.
    assert_eq!(
        peers.recommend_all(&["m1@example.org", "stale@example.org"], now, &reply),
        Encrypt
    );
}

#[test]
fn a_gpg_made_key_in_a_header() {
    common::need("gpg");
    let g = common::Gpg::new();
    let fpr = g.gen_key("Gina <gina@example.org>", "future-default");
    let cert = read_cert(&g.export(&fpr)).unwrap();
    let t0 = secs(SystemTime::now());
    let now = at(t0, 3);
    let m = add_autocrypt_header(
        &mail("Gina <gina@example.org>", Some(t0 + DAY), "text/plain"),
        &cert,
        PreferEncrypt::Mutual,
    )
    .unwrap();
    let mut peers = AutocryptPeers::new();
    assert_eq!(peers.process_message(&m, now).unwrap(), PeerUpdate::Updated);
    let me = Compose {
        own_prefer_encrypt: PreferEncrypt::Mutual,
        ..Compose::default()
    };
    assert_eq!(
        peers.recommend("gina@example.org", now, &me),
        Recommendation::Encrypt
    );
    // The stored key encrypts to gpg, which decrypts it.
    let target = peers.target_key("gina@example.org").unwrap().clone();
    let ct = encrypt(
        b"autocrypt to gpg",
        &EncryptOptions::new().recipient(&target),
    )
    .unwrap();
    let o = g.gpg(&["--decrypt"], &ct);
    common::ok(&o, "gpg --decrypt");
    assert_eq!(o.stdout, b"autocrypt to gpg");
}

#[test]
fn bounds_and_damaged_files() {
    let t0 = secs(SystemTime::now());
    let dir = tempfile::tempdir().unwrap();
    let mut peers = AutocryptPeers::open(dir.path()).unwrap();
    let c = key("Alice <alice@example.org>");
    let h = AutocryptHeader {
        addr: "alice@example.org".into(),
        prefer_encrypt: PreferEncrypt::Mutual,
        cert: c,
    };
    peers
        .update("alice@example.org", Some(&h), at(t0, 1))
        .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // The directory's lock file, and one peer file: no temporary left.
    files.retain(|p| p.file_name().unwrap() != ".lock");
    assert!(dir.path().join(".lock").is_file());
    assert_eq!(files.len(), 1, "one file, no temporary left: {files:?}");
    let file = &files[0];
    // A damaged file is a typed error naming it.
    let good = std::fs::read(file).unwrap();
    std::fs::write(file, b"garbage\n").unwrap();
    assert!(matches!(
        AutocryptPeers::open(dir.path()),
        Err(Error::Malformed { .. })
    ));
    // A file too large is refused before it is read.
    std::fs::write(file, vec![b'x'; 200 * 1024]).unwrap();
    assert!(matches!(
        AutocryptPeers::open(dir.path()),
        Err(Error::PeerLimit { .. })
    ));
    // A time past what the platform's time holds is a typed error, not a panic (found by the
    // pgp_autocrypt fuzz target).
    let text = String::from_utf8(good.clone()).unwrap();
    let line = text.lines().find(|l| l.starts_with("last-seen ")).unwrap();
    std::fs::write(file, text.replace(line, "last-seen 17645832001764583200")).unwrap();
    assert!(matches!(
        AutocryptPeers::open(dir.path()),
        Err(Error::Malformed { .. })
    ));
    // A file renamed to another peer's name is refused.
    std::fs::remove_file(file).unwrap();
    std::fs::write(dir.path().join(format!("{}.peer", "0".repeat(64))), &good).unwrap();
    assert!(AutocryptPeers::open(dir.path()).is_err());
    // An oversized key is a typed error and changes nothing.
    let big = generate(&KeyGenOptions {
        userids: (0..200)
            .map(|i| format!("Big {i} {} <big@example.org>", "x".repeat(300)))
            .collect(),
        ..KeyGenOptions::new("")
    })
    .unwrap()
    .key;
    let h = AutocryptHeader {
        addr: "big@example.org".into(),
        prefer_encrypt: PreferEncrypt::Mutual,
        cert: big,
    };
    let mut mem = AutocryptPeers::new();
    assert!(matches!(
        mem.update("big@example.org", Some(&h), at(t0, 1)),
        Err(Error::PeerLimit {
            what: "key size",
            ..
        })
    ));
    assert!(mem.is_empty());
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever is in a peer file, opening the directory is an error or a state, never
        /// a panic.
        #[test]
        fn any_state_file(lines in proptest::collection::vec(
            prop_oneof![
                Just("secmail-autocrypt-peer 1".to_string()),
                Just("addr a@b.c".to_string()),
                "(last-seen|autocrypt-timestamp|gossip-timestamp) [0-9]{0,25}",
                "prefer-encrypt [a-z]{0,12}",
                "(public-key|gossip-key) [A-Za-z0-9+/=]{0,64}",
                ".{0,40}",
            ],
            0..8,
        )) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("x.peer"), lines.join("\n")).unwrap();
            let _ = AutocryptPeers::open(dir.path());
        }

        /// Any Autocrypt/Gossip value and Date in a received message: no panic, and a state
        /// only ever for the From address.
        #[test]
        fn any_header(value in ".{0,200}", date in ".{0,40}") {
            let m = format!(
                "Autocrypt: {value}\r\nAutocrypt-Gossip: {value}\r\nFrom: a@b.c\r\n\
                 To: d@e.f\r\nDate: {date}\r\n\r\nx\r\n"
            );
            let mut peers = AutocryptPeers::new();
            let now = SystemTime::now();
            let _ = peers.process_message(m.as_bytes(), now);
            let _ = peers.process_gossip(m.as_bytes(), now);
            prop_assert!(peers.iter().all(|(a, _)| a == "a@b.c" || a == "d@e.f"));
        }
    }
}

/// Two handles on one directory (as two processes would have): each update re-reads the
/// peer's file under the directory lock, so a handle that loaded the directory earlier
/// neither overwrites the other's newer key nor loses its own update.
#[test]
fn two_handles_on_one_directory_lose_no_update() {
    let t0 = secs(SystemTime::now()) - 10 * DAY;
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (key("A <alice@example.org>"), key("A <alice@example.org>"));
    let hdr = |cert: &Cert| AutocryptHeader {
        addr: "alice@example.org".into(),
        prefer_encrypt: PreferEncrypt::Mutual,
        cert: cert.clone(),
    };
    let mut a = AutocryptPeers::open(dir.path()).unwrap();
    let mut b = AutocryptPeers::open(dir.path()).unwrap();
    a.update("alice@example.org", Some(&hdr(&k1)), at(t0, 1))
        .unwrap();
    // b loaded nothing; a newer header through b must build on a's state (last_seen moves on).
    assert_eq!(
        b.update("alice@example.org", Some(&hdr(&k2)), at(t0, 3))
            .unwrap(),
        PeerUpdate::Updated
    );
    // a still holds its own, older state in memory; an older message through a must be
    // judged against b's newer header on disk, not overwrite it.
    assert_eq!(
        a.update("alice@example.org", Some(&hdr(&k1)), at(t0, 2))
            .unwrap(),
        PeerUpdate::Older
    );
    // A message without a header, newer than both, through a: last_seen moves, key stays k2.
    assert_eq!(
        a.update("alice@example.org", None, at(t0, 4)).unwrap(),
        PeerUpdate::Seen
    );
    let fresh = AutocryptPeers::open(dir.path()).unwrap();
    let st = fresh.get("alice@example.org").unwrap();
    assert_eq!(
        st.public_key.as_ref().unwrap().fingerprint(),
        k2.fingerprint()
    );
    assert_eq!(st.autocrypt_timestamp, Some(at(t0, 3)));
    assert_eq!(st.last_seen, Some(at(t0, 4)));
    // Gossip goes through the same lock and re-read.
    assert!(b.update_gossip(&hdr(&k1), at(t0, 5)).unwrap());
    assert!(!a.update_gossip(&hdr(&k2), at(t0, 4)).unwrap());
}

/// An update waits while another holder has the directory's lock.
#[test]
fn an_update_waits_for_the_directory_lock() {
    let t0 = secs(SystemTime::now()) - DAY;
    let dir = tempfile::tempdir().unwrap();
    let mut peers = AutocryptPeers::open(dir.path()).unwrap();
    let holder = std::fs::File::create(dir.path().join(".lock")).unwrap();
    holder.lock().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let c = key("A <alice@example.org>");
    let t = std::thread::spawn(move || {
        let h = AutocryptHeader {
            addr: "alice@example.org".into(),
            prefer_encrypt: PreferEncrypt::Mutual,
            cert: c,
        };
        let r = peers.update("alice@example.org", Some(&h), at(t0, 0));
        tx.send(()).unwrap();
        r.map(|u| (u, peers))
    });
    // While the lock is held, the update does not finish.
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(300))
            .is_err(),
        "the update went on while another holder had the lock"
    );
    holder.unlock().unwrap();
    rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    let (u, peers) = t.join().unwrap().unwrap();
    assert_eq!(u, PeerUpdate::Updated);
    assert!(peers.get("alice@example.org").is_some());
}
