//! One small operation per run, for instruction counts under callgrind (`benches/callgrind.sh`):
//! `icount CASE` prepares the case (keys, inputs), runs the operation once to warm lazily
//! initialised state, then runs it once more inside [`icount_measured`], the only function
//! callgrind collects (`--collect-atstart=no --toggle-collect=*icount_measured*`).
//! `icount --list` prints the case names. Keys are fixed test keys (`benches/fixtures/`); the
//! passphrase cases use a key derived beforehand, so Argon2 is not counted.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::SystemTime;

use secmail_core::mime::{Message, canonicalize};
use secmail_core::passphrase::{
    Argon2Params, Decryptor, EncryptOptions as PassOptions, Encryptor, Passphrase, PassphraseKey,
};
use secmail_pgp::{DecryptOptions, Encoding, EncryptOptions, SigningKey, decrypt_stream, encrypt};
use secmail_smime::{
    EncryptOptions as SmimeOptions, PrivateKey, ReadOptions, load_certificate, read_message,
    sign_encrypt_message,
};
use secmail_transport::Limits;
use secmail_transport::proto::{imap, pop3, smtp};

const PGP_KEY: &[u8] = include_bytes!("../../fixtures/pgp-cv25519-key.asc");
const SMIME_CA: &[u8] = include_bytes!("../../fixtures/smime-ca.pem");
const SMIME_CERT: &[u8] = include_bytes!("../../fixtures/smime-cert.pem");
const SMIME_KEY: &[u8] = include_bytes!("../../fixtures/smime-key.pem");
const NESTED: &[u8] = include_bytes!("../../../testdata/mime/nested.eml");

const CASES: &[&str] = &[
    "passphrase-seal-1k",
    "passphrase-open-1k",
    "pgp-sign-encrypt-1k",
    "pgp-decrypt-verify-1k",
    "smime-sign-encrypt-1k",
    "smime-decrypt-verify-1k",
    "mime-parse-nested",
    "mime-canonicalize-nested",
    "smtp-ehlo-reply",
    "smtp-data-encode-1k",
    "pop3-unstuff-1k",
    "imap-fetch-1k",
];

/// The only function callgrind counts: runs `op` once.
#[inline(never)]
fn icount_measured(op: &mut dyn FnMut() -> usize) -> usize {
    black_box(op())
}

fn data_1k() -> Vec<u8> {
    (0..1024u32).map(|i| (i * 131 % 251) as u8).collect()
}

/// A 1 KiB message from the fixtures' address, text lines as mail has them.
fn message_1k() -> Vec<u8> {
    let mut m = b"From: fuzz@example.org\r\nTo: fuzz@example.org\r\nSubject: bench\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        .to_vec();
    while m.len() < 1024 {
        m.extend_from_slice(b"The figures are attached; from now on, encrypted mail only.\r\n");
    }
    m
}

fn run(case: &str) -> usize {
    let mut op: Box<dyn FnMut() -> usize> = match case {
        "passphrase-seal-1k" | "passphrase-open-1k" => {
            let key =
                PassphraseKey::derive(&Passphrase::from("bench"), Argon2Params::minimum()).unwrap();
            let pt = data_1k();
            let seal = move |key: &PassphraseKey| {
                let mut e = Encryptor::with_key(Vec::new(), key, &PassOptions::new()).unwrap();
                e.write_all(&pt).unwrap();
                e.finish().unwrap()
            };
            if case == "passphrase-seal-1k" {
                Box::new(move || seal(&key).len())
            } else {
                let sealed = seal(&key);
                Box::new(move || {
                    let mut out = Vec::new();
                    Decryptor::with_key(&sealed[..], &key)
                        .unwrap()
                        .read_to_end(&mut out)
                        .unwrap()
                })
            }
        }
        "pgp-sign-encrypt-1k" | "pgp-decrypt-verify-1k" => {
            // Leaked: the options borrow them for the life of the (one-shot) process.
            let key: &'static _ = Box::leak(Box::new(secmail_pgp::read_cert(PGP_KEY).unwrap()));
            let signer: &'static _ = Box::leak(Box::new(SigningKey::new(key, &[]).unwrap()));
            let pt = data_1k();
            let opts = EncryptOptions::new()
                .recipient(key)
                .sign_with(signer)
                .encoding(Encoding::Binary);
            if case == "pgp-sign-encrypt-1k" {
                Box::new(move || encrypt(&pt, &opts).unwrap().len())
            } else {
                let ct = encrypt(&pt, &opts).unwrap();
                let dopts = DecryptOptions::new()
                    .key(key.clone())
                    .require_signer(key.clone());
                Box::new(move || {
                    let mut out = Vec::new();
                    decrypt_stream(&ct[..], &mut out, &dopts).unwrap();
                    out.len()
                })
            }
        }
        "smime-sign-encrypt-1k" | "smime-decrypt-verify-1k" => {
            let ca = load_certificate(SMIME_CA).unwrap();
            let cert = load_certificate(SMIME_CERT).unwrap();
            let key = PrivateKey::load(SMIME_KEY).unwrap();
            let msg = message_1k();
            let recipients = [cert.clone()];
            let opts = SmimeOptions::default();
            if case == "smime-sign-encrypt-1k" {
                Box::new(move || {
                    sign_encrypt_message(&msg, &cert, &key, &[], &recipients, &opts)
                        .unwrap()
                        .len()
                })
            } else {
                let sealed =
                    sign_encrypt_message(&msg, &cert, &key, &[], &recipients, &opts).unwrap();
                Box::new(move || {
                    let anchors = std::slice::from_ref(&ca);
                    let mut ro = ReadOptions::default();
                    ro.anchors = anchors;
                    ro.require_valid_signature = true;
                    ro.now = Some(SystemTime::now());
                    ro.decrypt_with = Some((&cert, &key));
                    read_message(&sealed, &ro).map(|_| 1).unwrap()
                })
            }
        }
        "mime-parse-nested" => {
            Box::new(|| Message::parse(NESTED.to_vec()).unwrap().parts().count())
        }
        "mime-canonicalize-nested" => Box::new(|| canonicalize(NESTED).unwrap().len()),
        "smtp-ehlo-reply" => {
            let limits = Limits::default();
            Box::new(move || {
                let ehlo = b"250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n\
250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8\r\n";
                let (r, _) = smtp::decode_reply(ehlo, &limits).unwrap();
                usize::from(smtp::Extensions::from_ehlo(&r).pipelining)
            })
        }
        "smtp-data-encode-1k" => {
            let msg = message_1k();
            Box::new(move || {
                let mut enc = smtp::DataEncoder::new();
                let mut out = Vec::with_capacity(2048);
                enc.push(&msg, &mut out);
                enc.finish(&mut out);
                out.len()
            })
        }
        "pop3-unstuff-1k" => {
            let mut stuffed = Vec::new();
            let mut enc = smtp::DataEncoder::new();
            enc.push(&message_1k(), &mut stuffed);
            enc.finish(&mut stuffed);
            Box::new(move || {
                let mut dec = pop3::MultilineDecoder::new(1 << 20);
                let mut out = Vec::with_capacity(2048);
                dec.decode(&stuffed, &mut out).unwrap();
                out.len()
            })
        }
        "imap-fetch-1k" => {
            let msg = message_1k();
            let mut fetch = format!(
                "* 1 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE {0} BODY[] {{{0}}}\r\n",
                msg.len()
            )
            .into_bytes();
            fetch.extend_from_slice(&msg);
            fetch.extend_from_slice(b")\r\n");
            let limits = Limits::default();
            Box::new(move || {
                let (len, _) = imap::frame(&fetch, &limits).unwrap();
                usize::from(imap::decode_response(&fetch[..len]).is_ok())
            })
        }
        other => panic!("unknown case {other:?}; `icount --list` names them"),
    };
    black_box(op());
    icount_measured(&mut *op)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--list") | None => {
            for c in CASES {
                println!("{c}");
            }
        }
        Some("--all") => {
            for c in CASES {
                println!("{c} {}", run(c));
            }
        }
        Some(case) => println!("{case} {}", run(case)),
    }
}
