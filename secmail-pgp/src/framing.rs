//! OpenPGP packet framing (RFC 9580 §4.2), read without sequoia's `PacketParser`: packet
//! headers (new and old format), and the body of a packet with partial body lengths taken
//! apart in place.
//!
//! ```text
//! new format:  CTB = 0b11tttttt, then a length:
//!              0..=191                one octet
//!              192..=223, o2          ((o1 - 192) << 8) + o2 + 192
//!              255, o2..o5            a four-octet big-endian length
//!              224..=254              a partial body length of 1 << (o1 & 0x1F), more follows
//! old format:  CTB = 0b10ttttll, ll = 0: one octet, 1: two, 2: four, 3: indeterminate (the
//!              body runs to the end of the input)
//! ```
//!
//! Nothing here allocates or panics on input: a header is complete, incomplete (read more) or
//! not a packet header at all; the body reader only moves bytes within the caller's buffer.

/// How a packet body's length is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLen {
    /// The whole body (or its last part) has this length.
    Definite(u32),
    /// A part of this length, followed by another length.
    Partial(u32),
    /// Old format, length type 3: the body runs to the end of the input.
    Indeterminate,
}

/// A parsed packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The packet tag.
    pub(crate) tag: u8,
    /// The (first) body length.
    pub(crate) len: BodyLen,
    /// The header's size in bytes (CTB and length).
    pub(crate) size: usize,
    /// New format (only new-format packets may have partial body lengths).
    pub(crate) new_format: bool,
}

/// Not an OpenPGP packet header (the CTB's high bit is clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotAPacket;

/// A new-format length at the start of `b`: the length and how many bytes it took, or `None`
/// if `b` is too short to hold it.
pub(crate) fn new_length(b: &[u8]) -> Option<(BodyLen, usize)> {
    let first = *b.first()?;
    match first {
        0..=191 => Some((BodyLen::Definite(u32::from(first)), 1)),
        192..=223 => {
            let second = *b.get(1)?;
            let v = ((u32::from(first) - 192) << 8) + u32::from(second) + 192;
            Some((BodyLen::Definite(v), 2))
        }
        255 => {
            let v = b.get(1..5)?;
            Some((
                BodyLen::Definite(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
                5,
            ))
        }
        224..=254 => Some((BodyLen::Partial(1u32 << (first & 0x1F)), 1)),
    }
}

/// The packet header at the start of `b`: `Ok(None)` if `b` ends inside it.
pub(crate) fn header(b: &[u8]) -> Result<Option<Header>, NotAPacket> {
    let Some(&ctb) = b.first() else {
        return Ok(None);
    };
    if ctb & 0x80 == 0 {
        return Err(NotAPacket);
    }
    if ctb & 0x40 != 0 {
        return Ok(new_length(&b[1..]).map(|(len, n)| Header {
            tag: ctb & 0x3F,
            len,
            size: 1 + n,
            new_format: true,
        }));
    }
    let tag = (ctb >> 2) & 0x0F;
    let (len, n) = match ctb & 0x03 {
        0 => match b.get(1) {
            Some(&v) => (BodyLen::Definite(u32::from(v)), 1),
            None => return Ok(None),
        },
        1 => match b.get(1..3) {
            Some(v) => (
                BodyLen::Definite(u32::from(u16::from_be_bytes([v[0], v[1]]))),
                2,
            ),
            None => return Ok(None),
        },
        2 => match b.get(1..5) {
            Some(v) => (
                BodyLen::Definite(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
                4,
            ),
            None => return Ok(None),
        },
        _ => (BodyLen::Indeterminate, 0),
    };
    Ok(Some(Header {
        tag,
        len,
        size: 1 + n,
        new_format: false,
    }))
}

/// Reads a packet body out of its framing, in place: the partial-length headers between its
/// parts are removed from the caller's buffer as raw input passes through.
#[derive(Debug, Clone)]
pub(crate) struct Deframer {
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    /// Inside a part: bytes left in it, and whether it is the last one.
    Part { left: u32, last: bool },
    /// Reading the next part's length (at most 5 bytes).
    Length { buf: [u8; 5], have: usize },
    /// Old format, indeterminate length: everything up to the end of the input.
    ToEnd,
    /// The body ended.
    Done,
}

impl State {
    fn of(len: BodyLen) -> State {
        match len {
            BodyLen::Definite(0) => State::Done,
            BodyLen::Definite(n) => State::Part {
                left: n,
                last: true,
            },
            BodyLen::Partial(n) => State::Part {
                left: n,
                last: false,
            },
            BodyLen::Indeterminate => State::ToEnd,
        }
    }
}

impl Deframer {
    /// A body whose first length is `len` (from its packet [`Header`]).
    pub(crate) fn new(len: BodyLen) -> Self {
        Deframer {
            state: State::of(len),
        }
    }

    /// Takes the framing out of `raw` (the next input bytes) in place: afterwards `raw[..data]`
    /// is body, and `raw[used..]` came after the end of the body (`used < raw.len()` only
    /// once [`Deframer::done`]).
    pub(crate) fn deframe(&mut self, raw: &mut [u8]) -> (usize, usize) {
        let mut r = 0;
        let mut w = 0;
        while r < raw.len() {
            match &mut self.state {
                State::Done => break,
                State::ToEnd => {
                    let n = raw.len() - r;
                    raw.copy_within(r.., w);
                    w += n;
                    r += n;
                }
                State::Part { left, last } => {
                    let n = (raw.len() - r).min(*left as usize);
                    if w != r {
                        raw.copy_within(r..r + n, w);
                    }
                    w += n;
                    r += n;
                    // n <= left, which is a u32.
                    *left -= n as u32;
                    if *left == 0 {
                        self.state = if *last {
                            State::Done
                        } else {
                            State::Length {
                                buf: [0; 5],
                                have: 0,
                            }
                        };
                    }
                }
                State::Length { buf, have } => {
                    buf[*have] = raw[r];
                    *have += 1;
                    r += 1;
                    if let Some((len, _)) = new_length(&buf[..*have]) {
                        self.state = State::of(len);
                    }
                }
            }
        }
        (w, r)
    }

    /// Whether the body ended (its last part was read).
    pub(crate) fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether the end of the input is a correct end of the body: after its last part, or
    /// for an indeterminate length.
    #[cfg(test)]
    pub(crate) fn complete_at_eof(&self) -> bool {
        matches!(self.state, State::Done | State::ToEnd)
    }

    /// Body bytes left in the current part, if inside one (a hint for read sizes).
    pub(crate) fn part_left(&self) -> Option<usize> {
        match self.state {
            State::Part { left, .. } => Some(left as usize),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A new-format length for `n` (definite).
    fn definite(n: usize) -> Vec<u8> {
        if n < 192 {
            vec![n as u8]
        } else if n < 8384 {
            let v = n - 192;
            vec![((v >> 8) as u8) + 192, v as u8]
        } else {
            let mut h = vec![0xFF];
            h.extend_from_slice(&(n as u32).to_be_bytes());
            h
        }
    }

    /// Frames `body` with partial parts of 2^log2 (the last one definite, possibly empty).
    fn partial(body: &[u8], log2: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut i = 0;
        loop {
            let l = log2[i % log2.len()];
            let n = 1usize << l;
            if rest.len() <= n {
                out.extend_from_slice(&definite(rest.len()));
                out.extend_from_slice(rest);
                return out;
            }
            out.push(0xE0 | l);
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            i += 1;
        }
    }

    /// Feeds `framed` (after the first length) in pieces split at `splits`; the body, whether
    /// it is complete and the bytes after it.
    fn run(first: BodyLen, framed: &[u8], splits: &[usize]) -> (Vec<u8>, bool, Vec<u8>) {
        let mut d = Deframer::new(first);
        let mut body = Vec::new();
        let mut after = Vec::new();
        let mut prev = 0;
        for &s in splits.iter().chain(std::iter::once(&framed.len())) {
            let mut raw = framed[prev..s].to_vec();
            prev = s;
            if d.done() {
                after.extend_from_slice(&raw);
                continue;
            }
            let (data, used) = d.deframe(&mut raw);
            assert!(data <= used && used <= raw.len());
            body.extend_from_slice(&raw[..data]);
            after.extend_from_slice(&raw[used..]);
            if used < raw.len() {
                assert!(d.done());
            }
        }
        (body, d.complete_at_eof(), after)
    }

    fn first_len(framed: &[u8]) -> (BodyLen, usize) {
        new_length(framed).unwrap()
    }

    #[test]
    fn partial_lengths_at_every_split() {
        let body: Vec<u8> = (0..1500u32).map(|i| (i * 13 + 7) as u8).collect();
        for log2 in [&[9u8][..], &[0, 1, 2], &[9, 3, 0, 10], &[10]] {
            for len in [0usize, 1, 191, 192, 511, 512, 513, 1024, 1500] {
                let framed = partial(&body[..len], log2);
                let (l, n) = first_len(&framed);
                let framed = &framed[n..];
                // One split anywhere, and two splits at every pair for short framings.
                for s in 0..=framed.len() {
                    let (b, ok, after) = run(l, framed, &[s]);
                    assert_eq!(b, &body[..len], "len {len}, {log2:?}, split {s}");
                    assert!(ok && after.is_empty());
                }
                if framed.len() < 80 {
                    for s in 0..=framed.len() {
                        for t in s..=framed.len() {
                            let (b, ok, _) = run(l, framed, &[s, t]);
                            assert_eq!(b, &body[..len]);
                            assert!(ok);
                        }
                    }
                }
                // Byte by byte.
                let splits: Vec<usize> = (1..framed.len()).collect();
                let (b, ok, _) = run(l, framed, &splits);
                assert_eq!(b, &body[..len]);
                assert!(ok);
            }
        }
    }

    #[test]
    fn truncation_anywhere_is_incomplete_and_trailing_bytes_are_returned() {
        let body: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let framed = partial(&body, &[9, 10, 0]);
        let (l, n) = first_len(&framed);
        let framed = &framed[n..];
        for cut in 0..framed.len() {
            let (b, ok, after) = run(l, &framed[..cut], &[cut / 2]);
            assert!(!ok, "cut at {cut}");
            assert!(after.is_empty());
            assert_eq!(b, &body[..b.len()]);
        }
        let mut more = framed.to_vec();
        more.extend_from_slice(b"trailing");
        for s in [0, 1, framed.len() - 1, framed.len(), framed.len() + 3] {
            let (b, ok, after) = run(l, &more, &[s]);
            assert_eq!(b, body);
            assert!(ok);
            assert_eq!(after, b"trailing", "split {s}");
        }
    }

    #[test]
    fn headers_new_and_old_format() {
        // New format: tag 18, every length form.
        assert_eq!(
            header(&[0xD2, 100]).unwrap().unwrap(),
            Header {
                tag: 18,
                len: BodyLen::Definite(100),
                size: 2,
                new_format: true
            }
        );
        let h = header(&[0xD2, 0xC5, 0x10]).unwrap().unwrap();
        assert_eq!((h.len, h.size), (BodyLen::Definite(0x510 + 192), 3));
        let h = header(&[0xD2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
            .unwrap()
            .unwrap();
        assert_eq!((h.len, h.size), (BodyLen::Definite(u32::MAX), 6));
        let h = header(&[0xD2, 0xEB]).unwrap().unwrap();
        assert_eq!((h.len, h.size), (BodyLen::Partial(1 << 11), 2));
        let h = header(&[0xD2, 0xFE]).unwrap().unwrap();
        assert_eq!(h.len, BodyLen::Partial(1 << 30));
        // Old format: tag 1 with one, two, four octets and indeterminate.
        let h = header(&[0x84, 0x5E]).unwrap().unwrap();
        assert_eq!((h.tag, h.len, h.size), (1, BodyLen::Definite(0x5E), 2));
        let h = header(&[0x85, 0x01, 0x0C]).unwrap().unwrap();
        assert_eq!((h.tag, h.len, h.size), (1, BodyLen::Definite(0x10C), 3));
        let h = header(&[0x86, 0, 0, 0x01, 0x0C]).unwrap().unwrap();
        assert_eq!((h.tag, h.len, h.size), (1, BodyLen::Definite(0x10C), 5));
        let h = header(&[0xA7]).unwrap().unwrap();
        assert_eq!((h.tag, h.len, h.size), (9, BodyLen::Indeterminate, 1));
        assert!(!h.new_format);
        // Incomplete headers at every length, and not a packet.
        for b in [
            &[][..],
            &[0xD2],
            &[0xD2, 0xC5],
            &[0xD2, 0xFF, 1, 2, 3],
            &[0x85, 1],
            &[0x86, 0, 0, 1],
            &[0x84],
        ] {
            assert_eq!(header(b), Ok(None), "{b:?}");
        }
        assert_eq!(header(b"-----BEGIN"), Err(NotAPacket));
        assert_eq!(header(&[0x00, 0x00]), Err(NotAPacket));
    }

    #[test]
    fn old_format_and_oversize_bodies() {
        // Indeterminate: everything to the end, complete at any end.
        let data: Vec<u8> = (0..700u32).map(|i| i as u8).collect();
        for s in [0, 1, 350, 700] {
            let (b, ok, after) = run(BodyLen::Indeterminate, &data, &[s]);
            assert_eq!(b, data);
            assert!(ok && after.is_empty());
        }
        // Definite lengths larger than what follows: incomplete, never a panic.
        let (b, ok, _) = run(BodyLen::Definite(u32::MAX), &data, &[3]);
        assert_eq!(b, data);
        assert!(!ok);
        let (b, ok, _) = run(BodyLen::Partial(1 << 30), &data, &[]);
        assert_eq!(b, data);
        assert!(!ok);
        // A five-octet length after a partial part, split inside it.
        let mut framed = vec![7u8; 512];
        framed.extend_from_slice(&[0xFF, 0, 0, 0, 3, 1, 2, 3]);
        for s in 512..=520 {
            let (b, ok, _) = run(BodyLen::Partial(512), &framed, &[s]);
            assert_eq!(b.len(), 515);
            assert_eq!(&b[512..], &[1, 2, 3]);
            assert!(ok);
        }
        // Empty definite body.
        let (b, ok, after) = run(BodyLen::Definite(0), b"x", &[]);
        assert!(b.is_empty() && ok);
        assert_eq!(after, b"x");
    }
}
