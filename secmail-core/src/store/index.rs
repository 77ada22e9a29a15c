//! The plaintext encodings of index records and of the consolidated index (before sealing).
//!
//! ```text
//! record  = id:str16 added:u64 size:u64 flags:u8 date:str16 from:str16 subject:str16
//! str16   = len:u16 (big-endian) bytes (UTF-8, len <= MAX_FIELD)
//! index   = "SMIDX\x01" count:u32 record{count} zero*      -- zero padding to a 4 KiB bucket
//! pending = "SMREC\x01" record zero*                       -- zero padding to RECORD_BUCKET
//! ```
//!
//! Every integer is big-endian. Parsing is bounded by the input (each count is checked against
//! the bytes left before anything is allocated) and by [`StoreLimits::max_messages`]; it never
//! panics (the `store_index` fuzz target).

use std::collections::HashSet;

use super::{Entry, Flags, StoreError, StoreLimits, valid_id};

const INDEX_MAGIC: &[u8; 6] = b"SMIDX\x01";
const RECORD_MAGIC: &[u8; 6] = b"SMREC\x01";
/// The longest date, from or subject kept in the index, in bytes (longer values are cut at a
/// character boundary).
pub(crate) const MAX_FIELD: usize = 1024;
/// A pending record's plaintext is padded to a multiple of this, so that its sealed size does
/// not tell the subject's length.
pub(crate) const RECORD_BUCKET: usize = 4096;
/// The consolidated index is padded to a multiple of this.
const INDEX_BUCKET: usize = 4096;
/// The smallest encoded record: an id of 1 byte and three empty strings.
const MIN_RECORD: usize = 2 + 1 + 8 + 8 + 1 + 2 + 2 + 2;

/// Cuts `s` to at most [`MAX_FIELD`] bytes at a character boundary.
pub(crate) fn clip(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_owned();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let s = clip(s);
    // clip keeps it under u16::MAX.
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_record(out: &mut Vec<u8>, e: &Entry) {
    put_str(out, &e.id);
    out.extend_from_slice(&e.added.to_be_bytes());
    out.extend_from_slice(&e.size.to_be_bytes());
    out.push(e.flags.bits());
    put_str(out, &e.date);
    put_str(out, &e.from);
    put_str(out, &e.subject);
}

fn pad(out: &mut Vec<u8>, bucket: usize) {
    let want = out.len().div_ceil(bucket).max(1) * bucket;
    out.resize(want, 0);
}

/// Encodes a pending record (padded).
pub(crate) fn encode_record(e: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_BUCKET);
    out.extend_from_slice(RECORD_MAGIC);
    put_record(&mut out, e);
    pad(&mut out, RECORD_BUCKET);
    out
}

/// Encodes the consolidated index (padded).
pub(crate) fn encode_index(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 160 + 16);
    out.extend_from_slice(INDEX_MAGIC);
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for e in entries {
        put_record(&mut out, e);
    }
    pad(&mut out, INDEX_BUCKET);
    out
}

struct Cursor<'a> {
    rest: &'a [u8],
}

fn bad(what: &str) -> StoreError {
    StoreError::BadIndex(what.to_owned())
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if n > self.rest.len() {
            return Err(bad("cut short"));
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, StoreError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, StoreError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, StoreError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn str(&mut self) -> Result<String, StoreError> {
        let n = self.u16()? as usize;
        if n > MAX_FIELD {
            return Err(bad("a field is longer than allowed"));
        }
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| bad("a field is not UTF-8"))
    }
    fn record(&mut self) -> Result<Entry, StoreError> {
        let id = self.str()?;
        if !valid_id(&id) {
            return Err(bad("a record has an invalid id"));
        }
        let added = self.u64()?;
        let size = self.u64()?;
        let flags = Flags::from_bits(self.u8()?).ok_or_else(|| bad("unknown flag bits"))?;
        let date = self.str()?;
        let from = self.str()?;
        let subject = self.str()?;
        Ok(Entry {
            id,
            added,
            size,
            flags,
            date,
            from,
            subject,
        })
    }
    /// The rest must be padding.
    fn end(&self) -> Result<(), StoreError> {
        if self.rest.iter().all(|&b| b == 0) {
            Ok(())
        } else {
            Err(bad("bytes after the last record"))
        }
    }
}

/// Parses a pending record's plaintext.
pub(crate) fn parse_record(data: &[u8]) -> Result<Entry, StoreError> {
    let mut c = Cursor { rest: data };
    if c.take(RECORD_MAGIC.len())? != RECORD_MAGIC {
        return Err(bad("not an index record"));
    }
    let e = c.record()?;
    c.end()?;
    Ok(e)
}

/// Parses the consolidated index's plaintext.
pub(crate) fn parse_index(data: &[u8], limits: &StoreLimits) -> Result<Vec<Entry>, StoreError> {
    let mut c = Cursor { rest: data };
    if c.take(INDEX_MAGIC.len())? != INDEX_MAGIC {
        return Err(bad("not a secmail store index"));
    }
    let count = c.u32()? as usize;
    if count > limits.max_messages {
        return Err(StoreError::TooLarge {
            what: "number of messages in the index",
            limit: limits.max_messages as u64,
        });
    }
    if count > c.rest.len() / MIN_RECORD {
        return Err(bad("more records announced than the index holds"));
    }
    let mut entries = Vec::with_capacity(count);
    let mut seen = HashSet::with_capacity(count);
    for _ in 0..count {
        let e = c.record()?;
        if !seen.insert(e.id.clone()) {
            return Err(bad("an id appears twice"));
        }
        entries.push(e);
    }
    c.end()?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> Entry {
        Entry {
            id: format!("1700000000.000000001.P1.R{i:016x}"),
            added: 1_700_000_000 + i as u64,
            size: 1000 + i as u64,
            flags: Flags::SEEN,
            date: "Mon, 1 Jan 2024 00:00:00 +0000".into(),
            from: "Alice <alice@example.org>".into(),
            subject: "é".repeat(600),
        }
    }

    #[test]
    fn roundtrip_and_padding() {
        let es: Vec<Entry> = (0..50).map(entry).collect();
        let enc = encode_index(&es);
        assert_eq!(enc.len() % INDEX_BUCKET, 0);
        let back = parse_index(&enc, &StoreLimits::default()).unwrap();
        // The subject was cut at a character boundary.
        assert_eq!(back[0].subject.len(), MAX_FIELD);
        assert_eq!(back.len(), 50);
        assert_eq!(back[3].id, es[3].id);
        let r = encode_record(&es[1]);
        assert_eq!(r.len(), RECORD_BUCKET);
        assert_eq!(parse_record(&r).unwrap().size, es[1].size);
    }

    #[test]
    fn garbage_is_refused() {
        let es: Vec<Entry> = (0..3).map(entry).collect();
        let enc = encode_index(&es);
        for cut in 0..enc.len().min(700) {
            let _ = parse_index(&enc[..cut], &StoreLimits::default());
        }
        let mut huge = INDEX_MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_index(&huge, &StoreLimits::default()).is_err());
        let mut dup = encode_index(&[entry(1), entry(1)]);
        assert!(parse_index(&dup, &StoreLimits::default()).is_err());
        dup.push(1);
        assert!(parse_index(&dup, &StoreLimits::default()).is_err());
    }
}
