//! The store with the passphrase sealer: round trips, no plaintext on disk, concurrency,
//! crash leftovers, garbage, wrong keys, reseal.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use super::*;
use crate::passphrase::{Argon2Params, Passphrase};

fn sealer(pass: &str) -> (PassphraseSealer, Descriptor) {
    PassphraseSealer::create(&Passphrase::from(pass), Argon2Params::minimum()).unwrap()
}

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: Sender {i} <sender{i}@example.org>\r\nTo: owner@example.net\r\n\
         Subject: =?UTF-8?B?w6l0w6kgc2VjcmV0?= report {i}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         ZEBRA-BODY-{i} the launch code is 0000\r\n--b\r\nContent-Type: application/pdf; \
         name=plans-{i}.pdf\r\nContent-Disposition: attachment; filename=plans-{i}.pdf\r\n\r\n%PDF\r\n--b--\r\n"
    )
    .into_bytes()
}

/// Every file under `dir`, recursively, with its bytes.
fn all_files(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            let data = fs::read(&p).unwrap();
            out.push((p, data));
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn hundreds_of_messages_round_trip_and_nothing_readable_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (s, d) = sealer("pw");
    let store = Store::init(dir.path().join("m"), &d).unwrap();
    let mut ids = Vec::new();
    for i in 0..300 {
        ids.push(store.add(&s, &mut &message(i)[..]).unwrap());
        if i == 150 {
            // A list half way through consolidates; later adds stay pending.
            assert_eq!(store.owner(&s, &s).unwrap().list().unwrap().len(), 151);
        }
    }
    let mb = store.owner(&s, &s).unwrap();
    let list = mb.list().unwrap();
    assert_eq!(list.len(), 300);
    for (i, id) in ids.iter().enumerate() {
        let e = list.iter().find(|e| &e.id == id).unwrap();
        assert_eq!(e.subject, format!("été secret report {i}"));
        assert_eq!(e.from, format!("Sender {i} <sender{i}@example.org>"));
        assert_eq!(e.size, message(i).len() as u64);
        let mut out = Vec::new();
        mb.get(id, &mut out).unwrap();
        assert_eq!(out, message(i));
    }
    // Nothing in new/ or rec/ after a list; the index is one object.
    assert_eq!(store.ids("new").unwrap().len(), 0);
    assert_eq!(store.ids("rec").unwrap().len(), 0);
    assert_eq!(store.ids("cur").unwrap().len(), 300);

    let mut files = Vec::new();
    all_files(store.dir(), &mut files);
    for needle in [
        &b"secret report"[..],
        b"sender7@example.org",
        b"Sender 7",
        b"ZEBRA-BODY",
        b"plans-7.pdf",
        b"owner@example.net",
        b"launch code",
        "été".as_bytes(),
        b"w6l0w6kg",
    ] {
        for (p, data) in &files {
            assert!(
                !contains(data, needle),
                "{} holds {:?}",
                p.display(),
                needle
            );
        }
    }
    assert!(mb.verify().unwrap().is_clean());
}

#[test]
fn flags_and_delete_are_kept_in_the_sealed_index() {
    let dir = tempfile::tempdir().unwrap();
    let (s, d) = sealer("pw");
    let store = Store::init(dir.path().join("m"), &d).unwrap();
    let a = store.add(&s, &mut &message(1)[..]).unwrap();
    let b = store.add(&s, &mut &message(2)[..]).unwrap();
    let mb = store.owner(&s, &s).unwrap();
    assert_eq!(
        mb.flag(&a, Flags::SEEN.union(Flags::FLAGGED), Flags::empty())
            .unwrap(),
        Flags::SEEN.union(Flags::FLAGGED)
    );
    mb.flag(&a, Flags::empty(), Flags::FLAGGED).unwrap();
    mb.delete(&b).unwrap();
    let list = mb.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].flags, Flags::SEEN);
    assert!(matches!(
        mb.get(&b, &mut Vec::new()),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(mb.delete(&b), Err(StoreError::NotFound(_))));
    // Ids cannot walk out of the store.
    assert!(matches!(
        mb.get("../store.conf", &mut Vec::new()),
        Err(StoreError::NotFound(_))
    ));
    // A file name says nothing about flags.
    for sub in ["cur", "new"] {
        for id in store.ids(sub).unwrap() {
            assert!(valid_id(&id));
        }
    }
    assert!(mb.verify().unwrap().is_clean());
}

#[test]
fn wrong_passphrase_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (s, d) = sealer("right");
    let store = Store::init(dir.path().join("m"), &d).unwrap();
    store.add(&s, &mut &message(1)[..]).unwrap();
    let err = PassphraseSealer::unlock(store.descriptor(), &Passphrase::from("wrong")).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey), "{err:?}");
    // A key made for another store does not open this one either.
    let (other, _) = sealer("right");
    assert!(matches!(
        store.owner(&other, &other),
        Err(StoreError::WrongKey)
    ));
    // Nor can it add (its objects would not open for the owner): it is refused at list time.
    let unlocked =
        PassphraseSealer::unlock(store.descriptor(), &Passphrase::from("right")).unwrap();
    assert_eq!(
        store
            .owner(&unlocked, &unlocked)
            .unwrap()
            .list()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (s, d) = sealer("pw");
    let store = Store::init(dir.path().join("m"), &d).unwrap();
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let store = &store;
                let s = &s;
                scope.spawn(move || {
                    (0..50)
                        .map(|i| {
                            if t == 0 && i % 10 == 0 {
                                // The owner compacts while the others add.
                                store.owner(s, s).unwrap().list().unwrap();
                            }
                            store.add(s, &mut &message(t * 1000 + i)[..]).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let list = store.owner(&s, &s).unwrap().list().unwrap();
    assert_eq!(list.len(), 200);
    let listed: HashSet<_> = list.iter().map(|e| e.id.clone()).collect();
    assert!(ids.iter().all(|id| listed.contains(id)));
}

#[test]
fn crash_leftovers_recover() {
    let dir = tempfile::tempdir().unwrap();
    let (s, d) = sealer("pw");
    let store = Store::init(dir.path().join("m"), &d).unwrap();
    let a = store.add(&s, &mut &message(1)[..]).unwrap();
    let b = store.add(&s, &mut &message(2)[..]).unwrap();
    // A crash between the message's rename and the record's: a message without a record.
    fs::remove_file(store.dir().join("rec").join(&b)).unwrap();
    // A crash inside a write: a half-written object in tmp/ (never visible).
    fs::write(store.dir().join("tmp").join("123.msg"), b"half").unwrap();
    let mb = store.owner(&s, &s).unwrap();
    let list = mb.list().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].subject, "été secret report 2");

    // A crash in a compaction after the index was written but before the move: a record and
    // a message in new/ for an id the index has.
    let c = store.add(&s, &mut &message(3)[..]).unwrap();
    let rec = fs::read(store.dir().join("rec").join(&c)).unwrap();
    mb.list().unwrap();
    fs::rename(
        store.dir().join("cur").join(&c),
        store.dir().join("new").join(&c),
    )
    .unwrap();
    fs::write(store.dir().join("rec").join(&c), rec).unwrap();
    assert_eq!(mb.list().unwrap().len(), 3);
    assert!(store.dir().join("cur").join(&c).exists());
    assert!(!store.dir().join("rec").join(&c).exists());

    // The index lost: made again from the messages (flags are gone with it).
    mb.flag(&a, Flags::SEEN, Flags::empty()).unwrap();
    fs::remove_file(store.dir().join("index")).unwrap();
    assert_eq!(mb.list().unwrap().len(), 3);
    // A damaged index: typed error, then rebuild.
    fs::write(store.dir().join("index"), b"garbage").unwrap();
    assert!(matches!(mb.list(), Err(StoreError::Damaged(_))));
    assert!(mb.rebuild().unwrap().is_empty());
    assert_eq!(mb.list().unwrap().len(), 3);
    let report = mb.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.leftovers, 1); // the tmp/ leftover
}

#[test]
fn garbage_in_the_store_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (s, d) = sealer("pw");
    let store = Store::init(dir.path().join("m"), &d).unwrap();
    let id = store.add(&s, &mut &message(1)[..]).unwrap();
    let mb = store.owner(&s, &s).unwrap();
    mb.list().unwrap();
    let junk: [&[u8]; 5] = [
        b"",
        b"\x00\x01garbage",
        b"-----BEGIN SECMAIL PASSPHRASE ENCRYPTED FILE-----\nxx\n",
        &[0xff; 5000],
        b"SMPE",
    ];
    for (i, j) in junk.iter().enumerate() {
        fs::write(store.dir().join("new").join(format!("1.{i}")), j).unwrap();
        fs::write(store.dir().join("rec").join(format!("1.{i}")), j).unwrap();
        fs::write(store.dir().join("cur").join(format!("..{i}")), j).unwrap();
        fs::write(store.dir().join("new").join(format!("bad name {i}")), j).unwrap();
    }
    fs::create_dir(store.dir().join("new").join("2.dir")).unwrap();
    // The real message still lists and reads; the junk is reported, not listed.
    let list = mb.list().unwrap();
    assert_eq!(list.len(), 1);
    let mut out = Vec::new();
    mb.get(&id, &mut out).unwrap();
    assert_eq!(out, message(1));
    assert!(matches!(
        mb.get("1.1", &mut Vec::new()),
        Err(StoreError::Damaged(_))
    ));
    let report = mb.verify().unwrap();
    assert_eq!(report.ok, 1);
    assert!(report.problems.len() >= 10, "{report:?}");
    // A truncated or altered message releases nothing.
    let path = store.dir().join("cur").join(&id);
    let sealed = fs::read(&path).unwrap();
    fs::write(&path, &sealed[..sealed.len() - 1]).unwrap();
    let mut out = Vec::new();
    assert!(matches!(mb.get(&id, &mut out), Err(StoreError::Damaged(_))));
    assert!(out.is_empty());
    // A damaged descriptor is a typed error.
    fs::write(store.dir().join("store.conf"), b"secmail-store 9\n").unwrap();
    assert!(matches!(
        Store::open(store.dir()),
        Err(StoreError::InvalidStore(_))
    ));
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::InvalidStore(_))
    ));
}

#[test]
fn too_large_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (s, d) = sealer("pw");
    Store::init(dir.path().join("m"), &d).unwrap();
    let store = Store::open_with_limits(
        dir.path().join("m"),
        StoreLimits::default().with_max_message_size(1000),
    )
    .unwrap();
    let big = vec![b'a'; 5000];
    assert!(matches!(
        store.add(&s, &mut &big[..]),
        Err(StoreError::TooLarge { .. })
    ));
    for sub in ["tmp", "new", "rec"] {
        assert_eq!(fs::read_dir(store.dir().join(sub)).unwrap().count(), 0);
    }
    assert!(matches!(
        Store::init(dir.path().join("m"), &d),
        Err(StoreError::InvalidStore(_))
    ));
}

#[test]
fn reseal_to_a_new_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let (old, d) = sealer("old");
    let store = Store::init(dir.path().join("m"), &d).unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(store.add(&old, &mut &message(i)[..]).unwrap());
        if i == 9 {
            store
                .owner(&old, &old)
                .unwrap()
                .flag(&ids[0], Flags::SEEN, Flags::empty())
                .unwrap();
        }
    }
    let (new, nd) = sealer("new");
    // 10 in cur/, 10 in new/ with 10 records, and the index.
    assert_eq!(store.reseal((&old, &old), &nd, (&new, &new)).unwrap(), 31);
    let store = Store::open(store.dir()).unwrap();
    assert!(matches!(
        PassphraseSealer::unlock(store.descriptor(), &Passphrase::from("old")),
        Err(StoreError::WrongKey)
    ));
    assert!(matches!(store.owner(&old, &old), Err(StoreError::WrongKey)));
    let mb = store.owner(&new, &new).unwrap();
    let list = mb.list().unwrap();
    assert_eq!(list.len(), 20);
    assert_eq!(
        list.iter().find(|e| e.id == ids[0]).unwrap().flags,
        Flags::SEEN
    );
    for (i, id) in ids.iter().enumerate() {
        let mut out = Vec::new();
        mb.get(id, &mut out).unwrap();
        assert_eq!(out, message(i));
    }
    assert!(mb.verify().unwrap().is_clean());
    // Running it again (as after a crash) finds nothing left to do.
    assert_eq!(store.reseal((&old, &old), &nd, (&new, &new)).unwrap(), 0);
}

#[test]
fn reseal_interrupted_half_way_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (old, d) = sealer("old");
    let store = Store::init(dir.path().join("m"), &d).unwrap();
    for i in 0..6 {
        store.add(&old, &mut &message(i)[..]).unwrap();
    }
    store.owner(&old, &old).unwrap().list().unwrap();
    let (new, nd) = sealer("new");
    // Simulate a crash after three objects were re-sealed: re-seal them by hand.
    for id in store.ids("cur").unwrap().into_iter().take(3) {
        let p = store.dir().join("cur").join(&id);
        let plain = store.open_path(&old, &p, 1 << 20).unwrap();
        let mut sealed = Vec::new();
        new.seal(&mut &plain[..], &mut sealed).unwrap();
        fs::write(&p, sealed).unwrap();
    }
    assert_eq!(store.reseal((&old, &old), &nd, (&new, &new)).unwrap(), 4);
    let store = Store::open(store.dir()).unwrap();
    let mb = store.owner(&new, &new).unwrap();
    assert_eq!(mb.list().unwrap().len(), 6);
    assert!(mb.verify().unwrap().is_clean());
}

#[test]
fn fuzz_index_smoke() {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let seeds = SEEDS.get_or_init(|| {
        let e = summarize(&message(1), "1.2.P3Q4.R5".into(), 7, 9);
        vec![
            index::encode_index(std::slice::from_ref(&e)),
            index::encode_record(&e),
        ]
    });
    for s in seeds {
        fuzz_index(s);
        for cut in 0..s.len().min(300) {
            fuzz_index(&s[..cut]);
        }
    }
}
