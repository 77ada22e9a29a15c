//! Autocrypt Level 1: header round trip, gossip inside encryption only, into the store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use secmail_core::mime::Message;
use secmail_pgp::*;

const MSG: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.net, carol@example.com\r\n\
Subject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n";

fn k(uid: &str, algo: Algorithm) -> Cert {
    generate(&KeyGenOptions {
        algorithm: algo,
        ..KeyGenOptions::new(uid)
    })
    .unwrap()
    .key
}

#[test]
fn header_round_trip_into_the_store() {
    let alice = k("Alice <alice@example.org>", Algorithm::Rsa4096);
    let m = add_autocrypt_header(MSG, &alice, PreferEncrypt::Mutual).unwrap();
    assert!(m.split(|&b| b == b'\n').all(|l| l.len() <= 80));
    let h = read_autocrypt(&m).unwrap().expect("the header is read");
    assert_eq!(h.addr, "alice@example.org");
    assert_eq!(h.prefer_encrypt, PreferEncrypt::Mutual);
    assert_eq!(h.cert.fingerprint(), alice.fingerprint());
    assert!(!h.cert.is_tsk());
    let mut store = CertStore::new();
    store.insert(h.cert).unwrap();
    assert!(store.recipient("alice@example.org").is_ok());
    // A header for another address than From is ignored.
    let mallory = k("Mallory <m@example.com>", Algorithm::Cv25519);
    let v = autocrypt_value(&mallory, "m@example.com", PreferEncrypt::NoPreference).unwrap();
    let mut forged = format!("Autocrypt: {v}\r\n").into_bytes();
    forged.extend_from_slice(MSG);
    assert!(read_autocrypt(&forged).unwrap().is_none());
    // Unknown critical attributes invalidate it; non-critical ones are ignored.
    assert!(parse_autocrypt(&format!("{v}; x=1")).is_err());
    assert!(parse_autocrypt(&format!("_x=1; {v}")).is_ok());
    assert!(parse_autocrypt("addr=m@example.com; keydata=AAAA").is_err());
}

#[test]
fn gossip_travels_inside_only() {
    let alice = k("Alice <alice@example.org>", Algorithm::Cv25519);
    let bob = k("Bob <bob@example.net>", Algorithm::Cv25519);
    let carol = k("Carol <carol@example.com>", Algorithm::Cv25519);
    let (pb, pc) = (public_cert(&bob), public_cert(&carol));
    let m = add_autocrypt_header(MSG, &alice, PreferEncrypt::Mutual).unwrap();
    let m = add_gossip_headers(&m, &[&pb, &pc]).unwrap();
    let s = SigningKey::new(&alice, &[]).unwrap();
    let sent = encrypt_mail(&m, &[&pb, &pc], Some(&s)).unwrap();
    let outer = Message::parse(sent.clone()).unwrap();
    assert!(
        outer.header("Autocrypt").is_some(),
        "Autocrypt stays outside"
    );
    assert!(!String::from_utf8_lossy(&sent).contains("Autocrypt-Gossip"));
    assert!(read_autocrypt(&sent).unwrap().is_some());
    let (opened, v) =
        decrypt_mail(&sent, &DecryptOptions::new().key(bob).verify_with(alice)).unwrap();
    assert!(v.signed_by_sender());
    let gossip = read_gossip(&opened).unwrap();
    let fprs: Vec<_> = gossip.iter().map(|g| g.cert.fingerprint()).collect();
    assert_eq!(fprs, vec![pb.fingerprint(), pc.fingerprint()]);
}
