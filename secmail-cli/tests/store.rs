//! `secmail store` and the three sealers against the real peers: a stored OpenPGP object opened
//! by gpg, a stored S/MIME object opened by `openssl cms`/`openssl smime`; concurrent writer
//! processes; a writer killed with SIGKILL mid-add; wrong keys; reseal; no plaintext on disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod run;

use run::{fails, ok, secmail};

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use secmail_core::store::Store;
use secmail_pgp::{Encoding, KeyGenOptions, PgpOpener, PgpSealer, export_key, generate};

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: Quentin Sender{i} <quentin{i}@example.org>\r\nTo: owner@example.net\r\n\
         Subject: Merger plans {i}\r\nDate: Tue, 2 Jan 2024 10:00:00 +0100\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         XYLOPHONE-BODY-{i}\r\n--b\r\nContent-Type: application/octet-stream; \
         name=secret-plan-{i}.xlsx\r\nContent-Disposition: attachment; \
         filename=secret-plan-{i}.xlsx\r\n\r\nPK\x03\x04\r\n--b--\r\n"
    )
    .into_bytes()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `grep -r` for each needle over the store directory: nothing may be found.
fn no_plaintext(dir: &Path, needles: &[&str]) {
    for n in needles {
        let g = Command::new("grep")
            .args(["-r", "-a", "-l", "-F", n])
            .arg(dir)
            .output()
            .expect("grep is required");
        assert!(
            g.stdout.is_empty(),
            "{n:?} found in {}",
            String::from_utf8_lossy(&g.stdout)
        );
    }
}

fn pgp_owner(d: &Path, name: &str) {
    ok(&secmail(
        &[
            "pgp",
            "keygen",
            "--userid",
            &format!("{name} <{name}@example.net>"),
            "--out",
            &format!("{name}.key"),
        ],
        d,
    ));
    ok(&secmail(
        &[
            "pgp",
            "cert",
            "--in",
            &format!("{name}.key"),
            "--out",
            &format!("{name}.cert"),
        ],
        d,
    ));
}

fn ids_of(list_json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(list_json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn pgp_store_hundreds_of_messages_and_gpg_opens_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Library side: hundreds of messages, four writer threads.
    let key = generate(&KeyGenOptions::new("Owner <owner@example.net>"))
        .unwrap()
        .key;
    let sealer = PgpSealer::new(key.clone()).unwrap();
    let store = Store::init(d.join("box"), &sealer.descriptor().unwrap()).unwrap();
    let writer = PgpSealer::from_descriptor(store.descriptor()).unwrap();
    let ids: Vec<(usize, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let (store, writer) = (&store, &writer);
                s.spawn(move || {
                    (0..75)
                        .map(|i| {
                            let n = t * 75 + i;
                            (n, store.add(writer, &mut &message(n)[..]).unwrap())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let opener = PgpOpener::new(key.clone());
    let mb = store.owner(&sealer, &opener).unwrap();
    let list = mb.list().unwrap();
    assert_eq!(list.len(), 300);
    for (n, id) in &ids {
        let e = list.iter().find(|e| &e.id == id).unwrap();
        assert_eq!(e.subject, format!("Merger plans {n}"));
        let mut out = Vec::new();
        mb.get(id, &mut out).unwrap();
        assert_eq!(out, message(*n));
    }
    assert!(mb.verify().unwrap().is_clean());
    no_plaintext(
        &d.join("box"),
        &[
            "Merger plans",
            "quentin1@example.org",
            "Quentin",
            "XYLOPHONE-BODY",
            "secret-plan-",
        ],
    );

    // gpg opens a stored object directly with the owner's key: byte-exact.
    let home = tempfile::tempdir().unwrap();
    fs::write(
        d.join("owner.key"),
        export_key(&key, Encoding::Armored).unwrap(),
    )
    .unwrap();
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args([
                "--batch",
                "--quiet",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .current_dir(d)
            .output()
            .expect("gpg is required for these tests: apt-get install -y gnupg")
    };
    ok(&gpg(&["--import", "owner.key"]));
    let (n, id) = &ids[17];
    let path = d.join("box").join("cur").join(id);
    let g = gpg(&["--decrypt", path.to_str().unwrap()]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    assert_eq!(g.stdout, message(*n));
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "all"])
        .status();
}

#[test]
fn pgp_store_through_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pgp_owner(d, "owner");
    pgp_owner(d, "mallory");
    pgp_owner(d, "next");
    ok(&secmail(
        &["store", "init", "box", "--pgp-cert", "owner.cert"],
        d,
    ));
    fails(&secmail(
        &["store", "init", "box", "--pgp-cert", "owner.cert"],
        d,
    ));
    let mut ids = Vec::new();
    for i in 0..5 {
        fs::write(d.join("m.eml"), message(i)).unwrap();
        let id = ok(&secmail(&["store", "add", "box", "--in", "m.eml"], d));
        ids.push(id.trim().to_owned());
    }
    let list = ok(&secmail(
        &["store", "list", "box", "--pgp-key", "owner.key", "--json"],
        d,
    ));
    assert_eq!(ids_of(&list), ids);
    assert!(list.contains("Merger plans 3"));
    let out = ok(&secmail(
        &["store", "get", "box", &ids[2], "--pgp-key", "owner.key"],
        d,
    ));
    assert_eq!(out.as_bytes(), &message(2)[..]);
    ok(&secmail(
        &[
            "store",
            "get",
            "box",
            &ids[2],
            "--pgp-key",
            "owner.key",
            "--out",
            "got.eml",
        ],
        d,
    ));
    assert_eq!(fs::read(d.join("got.eml")).unwrap(), message(2));
    // The wrong key: exit 1, nothing on stdout, no output file.
    fails(&secmail(
        &["store", "list", "box", "--pgp-key", "mallory.key"],
        d,
    ));
    fails(&secmail(
        &[
            "store",
            "get",
            "box",
            &ids[2],
            "--pgp-key",
            "mallory.key",
            "--out",
            "x.eml",
        ],
        d,
    ));
    assert!(!d.join("x.eml").exists());
    // A public certificate is not a key.
    fails(&secmail(
        &["store", "list", "box", "--pgp-key", "owner.cert"],
        d,
    ));

    ok(&secmail(
        &[
            "store",
            "flag",
            "box",
            &ids[0],
            "--pgp-key",
            "owner.key",
            "--set",
            "seen,flagged",
        ],
        d,
    ));
    ok(&secmail(
        &["store", "delete", "box", &ids[1], "--pgp-key", "owner.key"],
        d,
    ));
    let list = ok(&secmail(
        &["store", "list", "box", "--pgp-key", "owner.key", "--json"],
        d,
    ));
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);
    assert_eq!(v[0]["flags"], serde_json::json!(["seen", "flagged"]));
    ok(&secmail(
        &["store", "verify", "box", "--pgp-key", "owner.key"],
        d,
    ));

    // Garbage dropped into the store: no panic, reported by verify (exit 1), list still works.
    fs::write(d.join("box/new/1.2.garbage"), b"\x99\x01\x02garbage").unwrap();
    fs::write(d.join("box/cur/not an id"), b"junk").unwrap();
    fs::write(d.join("box/rec/1.3"), [0xffu8; 3000]).unwrap();
    let list = ok(&secmail(
        &["store", "list", "box", "--pgp-key", "owner.key", "--json"],
        d,
    ));
    assert_eq!(ids_of(&list).len(), 4);
    let v = secmail(&["store", "verify", "box", "--pgp-key", "owner.key"], d);
    assert_eq!(v.status.code(), Some(1));
    fs::remove_file(d.join("box/new/1.2.garbage")).unwrap();
    fs::remove_file(d.join("box/cur/not an id")).unwrap();

    // Key rotation: afterwards the old key is refused and the new key reads everything.
    ok(&secmail(
        &[
            "store",
            "reseal",
            "box",
            "--pgp-key",
            "owner.key",
            "--new-pgp-key",
            "next.key",
        ],
        d,
    ));
    fails(&secmail(
        &["store", "list", "box", "--pgp-key", "owner.key"],
        d,
    ));
    let list = ok(&secmail(
        &["store", "list", "box", "--pgp-key", "next.key", "--json"],
        d,
    ));
    let now = ids_of(&list);
    assert_eq!(now.len(), 4);
    for (i, id) in ids.iter().enumerate() {
        if i == 1 {
            continue;
        }
        let out = ok(&secmail(
            &["store", "get", "box", id, "--pgp-key", "next.key"],
            d,
        ));
        assert_eq!(out.as_bytes(), &message(i)[..]);
    }
    ok(&secmail(
        &["store", "verify", "box", "--pgp-key", "next.key"],
        d,
    ));
    // New mail now goes to the new owner.
    fs::write(d.join("m.eml"), message(9)).unwrap();
    ok(&secmail(&["store", "add", "box", "--in", "m.eml"], d));
    let list = ok(&secmail(
        &["store", "list", "box", "--pgp-key", "next.key", "--json"],
        d,
    ));
    assert_eq!(ids_of(&list).len(), 5);
}

#[test]
fn passphrase_store_through_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("pw"), "a long store passphrase\n").unwrap();
    fs::write(d.join("bad"), "not the passphrase\n").unwrap();
    fs::write(d.join("pw2"), "the next passphrase\n").unwrap();
    ok(&secmail(
        &[
            "store",
            "init",
            "box",
            "--passphrase-file",
            "pw",
            "--kdf",
            "minimum",
        ],
        d,
    ));
    fs::write(d.join("m.eml"), message(1)).unwrap();
    fails(&secmail(&["store", "add", "box", "--in", "m.eml"], d));
    fails(&secmail(
        &[
            "store",
            "add",
            "box",
            "--in",
            "m.eml",
            "--passphrase-file",
            "bad",
        ],
        d,
    ));
    let id = ok(&secmail(
        &[
            "store",
            "add",
            "box",
            "--in",
            "m.eml",
            "--passphrase-file",
            "pw",
        ],
        d,
    ));
    let id = id.trim();
    fails(&secmail(
        &["store", "list", "box", "--passphrase-file", "bad"],
        d,
    ));
    let out = ok(&secmail(
        &["store", "get", "box", id, "--passphrase-file", "pw"],
        d,
    ));
    assert_eq!(out.as_bytes(), &message(1)[..]);
    ok(&secmail(
        &[
            "store",
            "reseal",
            "box",
            "--passphrase-file",
            "pw",
            "--new-passphrase-file",
            "pw2",
            "--kdf",
            "minimum",
        ],
        d,
    ));
    fails(&secmail(
        &["store", "get", "box", id, "--passphrase-file", "pw"],
        d,
    ));
    let out = ok(&secmail(
        &["store", "get", "box", id, "--passphrase-file", "pw2"],
        d,
    ));
    assert_eq!(out.as_bytes(), &message(1)[..]);
    // A stored object is a standard passphrase container: `secmail passphrase decrypt` opens it.
    ok(&secmail(
        &[
            "passphrase",
            "decrypt",
            "--passphrase-file",
            "pw2",
            "--in",
            &format!("box/new/{id}"),
            "--out",
            "direct.eml",
        ],
        d,
    ));
    assert_eq!(fs::read(d.join("direct.eml")).unwrap(), message(1));
    no_plaintext(
        &d.join("box"),
        &["Merger plans", "quentin1", "XYLOPHONE", "secret-plan"],
    );
}

#[test]
fn four_writer_processes_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pgp_owner(d, "owner");
    ok(&secmail(
        &["store", "init", "box", "--pgp-cert", "owner.cert"],
        d,
    ));
    for i in 0..200 {
        fs::write(d.join(format!("m{i}.eml")), message(i)).unwrap();
    }
    let acked: Vec<(usize, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || {
                    (0..50)
                        .map(|i| {
                            let n = t * 50 + i;
                            let id = ok(&secmail(
                                &["store", "add", "box", "--in", &format!("m{n}.eml")],
                                d,
                            ));
                            (n, id.trim().to_owned())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // The owner lists (and compacts) while they add.
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(300));
            ok(&secmail(
                &["store", "list", "box", "--pgp-key", "owner.key"],
                d,
            ));
        }
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let list = ok(&secmail(
        &["store", "list", "box", "--pgp-key", "owner.key", "--json"],
        d,
    ));
    let listed: HashSet<String> = ids_of(&list).into_iter().collect();
    assert_eq!(listed.len(), 200);
    for (n, id) in acked.iter().step_by(23) {
        assert!(listed.contains(id));
        let out = ok(&secmail(
            &["store", "get", "box", id, "--pgp-key", "owner.key"],
            d,
        ));
        assert_eq!(out.as_bytes(), &message(*n)[..]);
    }
    ok(&secmail(
        &["store", "verify", "box", "--pgp-key", "owner.key"],
        d,
    ));
}

#[test]
fn writer_killed_mid_add_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pgp_owner(d, "owner");
    ok(&secmail(
        &["store", "init", "box", "--pgp-cert", "owner.cert"],
        d,
    ));
    // A large message, so that a kill lands inside the write most of the time.
    let mut big = message(0);
    big.extend(std::iter::repeat_n(b"0123456789abcdef".as_slice(), 2 << 20).flatten());
    fs::write(d.join("big.eml"), &big).unwrap();
    let mut acked = Vec::new();
    let mut killed = 0;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    for _ in 0..8 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis((seed >> 33) % 1500);
        let mut child = Command::new(env!("CARGO_BIN_EXE_secmail"))
            .args(["store", "add", "box", "--in", "big.eml"])
            .current_dir(d)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            // SIGKILL: no chance to clean up.
            child.kill().unwrap();
            killed += 1;
        }
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            acked.push(String::from_utf8(out.stdout).unwrap().trim().to_owned());
        }
    }
    // And one that is surely acknowledged.
    let id = ok(&secmail(&["store", "add", "box", "--in", "big.eml"], d));
    acked.push(id.trim().to_owned());
    eprintln!(
        "{killed} of 8 writers killed mid-add; {} acknowledged",
        acked.len()
    );

    let list = ok(&secmail(
        &["store", "list", "box", "--pgp-key", "owner.key", "--json"],
        d,
    ));
    let listed: HashSet<String> = ids_of(&list).into_iter().collect();
    for id in &acked {
        assert!(listed.contains(id), "acknowledged {id} lost");
    }
    // Everything visible opens whole (a writer killed after its rename but before printing
    // the id leaves a whole message too); nothing partial is visible.
    for id in &listed {
        let out = ok(&secmail(
            &["store", "get", "box", id, "--pgp-key", "owner.key"],
            d,
        ));
        assert_eq!(out.len(), big.len());
    }
    ok(&secmail(
        &["store", "verify", "box", "--pgp-key", "owner.key"],
        d,
    ));
    // Whatever a killed writer left sits in tmp/ only.
    for f in files(&d.join("box")) {
        let rel = f.strip_prefix(d.join("box")).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        assert!(
            [
                "tmp",
                "cur",
                "new",
                "rec",
                "index",
                "index.lock",
                "store.conf"
            ]
            .contains(&top),
            "{}",
            rel.display()
        );
    }
}

fn openssl(args: &[&str], dir: &Path) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is required for these tests (apt-get install openssl); it was not found")
}

#[test]
fn smime_store_and_openssl_opens_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&secmail(
        &[
            "smime",
            "ca",
            "new",
            "--subject",
            "CN=Store Test CA",
            "--out-cert",
            "ca.pem",
            "--out-key",
            "ca.key",
            "--days",
            "10",
        ],
        d,
    ));
    for who in ["owner", "mallory", "next"] {
        ok(&secmail(
            &[
                "smime",
                "ca",
                "issue",
                "--ca-cert",
                "ca.pem",
                "--ca-key",
                "ca.key",
                "--email",
                &format!("{who}@example.net"),
                "--usage",
                "both",
                "--out-cert",
                &format!("{who}.pem"),
                "--out-key",
                &format!("{who}.key"),
            ],
            d,
        ));
    }
    ok(&secmail(
        &["store", "init", "box", "--smime-cert", "owner.pem"],
        d,
    ));
    // Hundreds, through the library (the writer holds only the certificate).
    let store = Store::open(d.join("box")).unwrap();
    let writer = secmail_smime::SmimeSealer::from_descriptor(store.descriptor()).unwrap();
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(store.add(&writer, &mut &message(i)[..]).unwrap());
    }
    let key = ["--smime-cert", "owner.pem", "--smime-key", "owner.key"];
    let list = ok(&secmail(
        &[&["store", "list", "box", "--json"][..], &key[..]].concat(),
        d,
    ));
    assert_eq!(ids_of(&list), ids);
    for (i, id) in ids.iter().enumerate().step_by(7) {
        let out = ok(&secmail(
            &[&["store", "get", "box", id][..], &key[..]].concat(),
            d,
        ));
        assert_eq!(out.as_bytes(), &message(i)[..]);
    }
    no_plaintext(
        &d.join("box"),
        &[
            "Merger plans",
            "quentin1",
            "XYLOPHONE",
            "secret-plan",
            "owner@example.net",
        ],
    );
    // OpenSSL opens a stored object directly: byte-exact.
    let obj = format!("box/cur/{}", ids[5]);
    // (`openssl smime` is the PKCS#7 API, which has no AuthEnvelopedData; `openssl cms` reads it.)
    let o = openssl(
        &[
            "cms",
            "-decrypt",
            "-in",
            &obj,
            "-recip",
            "owner.pem",
            "-inkey",
            "owner.key",
            "-binary",
        ],
        d,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, message(5), "openssl cms -decrypt");
    // The wrong key is refused; reseal to a new certificate.
    fails(&secmail(
        &[
            "store",
            "list",
            "box",
            "--smime-cert",
            "mallory.pem",
            "--smime-key",
            "mallory.key",
        ],
        d,
    ));
    ok(&secmail(
        &[
            &["store", "reseal", "box"][..],
            &key[..],
            &[
                "--new-smime-cert",
                "next.pem",
                "--new-smime-key",
                "next.key",
            ][..],
        ]
        .concat(),
        d,
    ));
    fails(&secmail(
        &[&["store", "list", "box"][..], &key[..]].concat(),
        d,
    ));
    let next = ["--smime-cert", "next.pem", "--smime-key", "next.key"];
    ok(&secmail(
        &[&["store", "verify", "box"][..], &next[..]].concat(),
        d,
    ));
    let out = ok(&secmail(
        &[&["store", "get", "box", &ids[9]][..], &next[..]].concat(),
        d,
    ));
    assert_eq!(out.as_bytes(), &message(9)[..]);
}

/// The settings of the real Postfix + Dovecot stack (`scripts/mailstack.sh`), started if needed.
fn mailstack() -> std::collections::HashMap<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mailstack.sh");
    let dir =
        std::env::var("SECMAIL_MAILSTACK_DIR").unwrap_or_else(|_| "/tmp/secmail-mailstack".into());
    let running = Command::new(&script)
        .args(["status", &dir])
        .output()
        .map(|o| o.status.success());
    if running.ok() != Some(true) {
        let out = Command::new(&script)
            .args(["up", &dir])
            .output()
            .expect("run mailstack.sh");
        assert!(
            out.status.success(),
            "the mail stack could not be started (`scripts/mailstack.sh up {dir}`, needs root):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new(&script)
        .args(["env", &dir])
        .output()
        .expect("mailstack env");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn fetch_seals_each_message_into_the_store_on_arrival() {
    let env = mailstack();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pgp_owner(d, "owner");
    ok(&secmail(
        &["store", "init", "box", "--pgp-cert", "owner.cert"],
        d,
    ));
    for who in ["ALICE", "BOB"] {
        fs::write(
            d.join(format!("{who}.pass")),
            format!("{}\n", env[&format!("MAILSTACK_{who}_PASSWORD")]),
        )
        .unwrap();
    }
    let tok = format!(
        "store-fetch-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let body = format!(
        "From: Alice <{}>\r\nTo: Bob <{}>\r\nSubject: {tok}\r\nMessage-ID: <{tok}@example.test>\r\n\
         Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\nZEPPELIN body {tok}\r\n",
        env["MAILSTACK_ALICE_USER"], env["MAILSTACK_BOB_USER"]
    );
    fs::write(d.join("m.eml"), &body).unwrap();
    let url = |k: &str, scheme: &str| format!("{scheme}://localhost:{}", env[k]);
    let ca = env["MAILSTACK_CA_FILE"].clone();
    ok(&secmail(
        &[
            "send",
            "--smtp",
            &url("MAILSTACK_SMTP_STARTTLS_PORT", "smtp"),
            "--user",
            &env["MAILSTACK_ALICE_USER"],
            "--password-file",
            "ALICE.pass",
            "--ca-file",
            &ca,
            "--in",
            "m.eml",
        ],
        d,
    ));
    // No --delete: the stack is shared with the transport tests, whose mail must stay.
    let start = std::time::Instant::now();
    let entry = loop {
        ok(&secmail(
            &[
                "fetch",
                "--imap",
                &url("MAILSTACK_IMAPS_PORT", "imaps"),
                "--user",
                &env["MAILSTACK_BOB_USER"],
                "--password-file",
                "BOB.pass",
                "--ca-file",
                &ca,
                "--store",
                "box",
            ],
            d,
        ));
        let list = ok(&secmail(
            &["store", "list", "box", "--pgp-key", "owner.key", "--json"],
            d,
        ));
        let v: serde_json::Value = serde_json::from_str(&list).unwrap();
        if let Some(e) = v
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["subject"] == serde_json::json!(tok))
        {
            break e.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the message never arrived"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let got = ok(&secmail(
        &[
            "store",
            "get",
            "box",
            entry["id"].as_str().unwrap(),
            "--pgp-key",
            "owner.key",
        ],
        d,
    ));
    assert!(got.ends_with(&body), "fetched bytes differ");
    // Nothing readable on disk, and no .eml written anywhere.
    no_plaintext(&d.join("box"), &[&tok, "ZEPPELIN"]);
    assert!(
        files(d)
            .iter()
            .all(|f| f.extension().is_none_or(|e| e != "eml")
                || f.file_name().is_some_and(|n| n == "m.eml"))
    );
}
