//! The inputs in fuzz/known-crashes panic inside sequoia-openpgp 2.4.2's parser. Decryption
//! must contain that panic and fail cleanly, releasing nothing (the fuzz entry points assert
//! that no plaintext is written on failure).

use std::path::PathBuf;

#[test]
fn known_sequoia_panics_are_contained() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "fuzz", "known-crashes"]
        .iter()
        .collect();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/known-crashes exists") {
        let path = entry.expect("directory entry").path();
        if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("crash-"))
        {
            continue;
        }
        let data = std::fs::read(&path).expect("read a crash input");
        // Both entry points reach decrypt_stream; a panic escaping them fails this test.
        secmail_pgp::fuzz::fuzz_decrypt(&data);
        secmail_pgp::fuzz::fuzz_mime(&data);
        seen += 1;
    }
    assert!(
        seen >= 3,
        "expected the recorded crash inputs in {}",
        dir.display()
    );
}
