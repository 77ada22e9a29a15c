//! BER to DER for the CMS objects that streaming writers send (OpenSSL with `-stream`,
//! Outlook): indefinite lengths, and OCTET STRINGs cut into constructed segments (X.690 §8.1.3.6,
//! §8.7.3). The `cms` types decode DER only, so input passes through here first.
//!
//! Rules applied: every indefinite length becomes definite; a constructed OCTET STRING becomes
//! one primitive OCTET STRING; a constructed `[0]` that is the third element of a SEQUENCE
//! starting with an OID and an AlgorithmIdentifier (the `encryptedContent [0] IMPLICIT OCTET
//! STRING` of an EncryptedContentInfo, RFC 5652 §6.1) becomes one primitive `[0]`. Nothing else
//! is changed, so DER input comes out byte for byte the same, and the DER parts inside
//! (certificates, signed attributes) keep the bytes their signatures cover.

use crate::error::{Error, Result};

/// Nesting deeper than this is refused (CMS needs about 12).
const MAX_DEPTH: usize = 48;

fn err(detail: &str) -> Error {
    Error::malformed("BER encoding", detail)
}

fn byte(buf: &[u8], pos: &mut usize) -> Result<u8> {
    let b = *buf.get(*pos).ok_or_else(|| err("truncated"))?;
    *pos += 1;
    Ok(b)
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der(tag: &[u8], content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + tag.len() + 6);
    out.extend_from_slice(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// The content octets of a DER element (skips its tag and length).
fn der_content(d: &[u8]) -> Result<&[u8]> {
    let mut pos = 1;
    if d.first().is_some_and(|t| t & 0x1f == 0x1f) {
        while byte(d, &mut pos)? & 0x80 != 0 {}
    }
    let l0 = byte(d, &mut pos)?;
    if l0 >= 0x80 {
        pos += usize::from(l0 & 0x7f);
    }
    d.get(pos..).ok_or_else(|| err("truncated"))
}

fn element(buf: &[u8], pos: &mut usize, depth: usize, collapse: bool) -> Result<Vec<u8>> {
    if depth > MAX_DEPTH {
        return Err(err("nested too deep"));
    }
    let t0 = byte(buf, pos)?;
    let mut tag = vec![t0];
    if t0 & 0x1f == 0x1f {
        loop {
            let b = byte(buf, pos)?;
            tag.push(b);
            if b & 0x80 == 0 {
                break;
            }
            if tag.len() > 5 {
                return Err(err("tag number too large"));
            }
        }
    }
    let constructed = t0 & 0x20 != 0;
    let l0 = byte(buf, pos)?;
    let len = if l0 < 0x80 {
        Some(usize::from(l0))
    } else if l0 == 0x80 {
        None
    } else {
        let n = usize::from(l0 & 0x7f);
        if n > 4 {
            return Err(err("length too large"));
        }
        let mut l = 0usize;
        for _ in 0..n {
            l = (l << 8) | usize::from(byte(buf, pos)?);
        }
        Some(l)
    };
    let end = match len {
        Some(l) => {
            let e = pos.checked_add(l).ok_or_else(|| err("length overflow"))?;
            if e > buf.len() {
                return Err(err("truncated"));
            }
            Some(e)
        }
        None => None,
    };
    if !constructed {
        let e = end.ok_or_else(|| err("indefinite length on a primitive"))?;
        let content = buf.get(*pos..e).ok_or_else(|| err("truncated"))?;
        *pos = e;
        return Ok(der(&tag, content));
    }
    let mut children: Vec<(u8, Vec<u8>)> = Vec::new();
    loop {
        match end {
            Some(e) if *pos >= e => break,
            None if buf.get(*pos..*pos + 2) == Some(&[0, 0]) => {
                *pos += 2;
                break;
            }
            _ => {}
        }
        let first = *buf
            .get(*pos)
            .ok_or_else(|| err("missing end-of-contents"))?;
        let hint = t0 == 0x30
            && children.len() == 2
            && children[0].0 == 0x06
            && children[1].0 == 0x30
            && first == 0xA0;
        let d = element(buf, pos, depth + 1, hint)?;
        children.push((first, d));
    }
    if let Some(e) = end
        && *pos != e
    {
        return Err(err("element overruns its length"));
    }
    if t0 == 0x24 || collapse {
        let mut content = Vec::new();
        for (_, c) in &children {
            if c.first() != Some(&0x04) {
                return Err(err(
                    "a segment of a constructed OCTET STRING is not an OCTET STRING",
                ));
            }
            content.extend_from_slice(der_content(c)?);
        }
        let t = if t0 == 0x24 { 0x04 } else { t0 & !0x20 };
        return Ok(der(&[t], &content));
    }
    let total: usize = children.iter().map(|(_, c)| c.len()).sum();
    let mut content = Vec::with_capacity(total);
    for (_, c) in children {
        content.extend_from_slice(&c);
    }
    Ok(der(&tag, &content))
}

/// The DER form of a BER-encoded CMS object (the input itself when it is already DER).
pub(crate) fn normalize(input: &[u8]) -> Result<Vec<u8>> {
    let mut pos = 0;
    let out = element(input, &mut pos, 0, false)?;
    if input.get(pos..).unwrap_or_default().iter().any(|&b| b != 0) {
        return Err(err("trailing data after the CMS object"));
    }
    Ok(out)
}

/// The contentType of a ContentInfo (BER or DER), read from its first bytes without decoding
/// the rest.
pub(crate) fn content_type(input: &[u8]) -> Result<const_oid::ObjectIdentifier> {
    let mut pos = 0;
    if byte(input, &mut pos)? != 0x30 {
        return Err(err("a ContentInfo is a SEQUENCE"));
    }
    let l0 = byte(input, &mut pos)?;
    if l0 > 0x80 {
        pos += usize::from(l0 & 0x7f);
    }
    if byte(input, &mut pos)? != 0x06 {
        return Err(err("a ContentInfo starts with an OID"));
    }
    let len = usize::from(byte(input, &mut pos)?);
    let end = pos.checked_add(len).ok_or_else(|| err("truncated"))?;
    let oid = input.get(pos..end).ok_or_else(|| err("truncated"))?;
    const_oid::ObjectIdentifier::from_bytes(oid).map_err(|_| err("bad OID"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn der_is_unchanged_and_ber_is_folded() {
        let der_in = [0x30, 0x06, 0x06, 0x01, 0x2a, 0x04, 0x01, 0x41];
        assert_eq!(normalize(&der_in).unwrap(), der_in);
        let ber = [
            0x30, 0x80, 0x06, 0x01, 0x2a, 0x24, 0x80, 0x04, 0x01, 0x41, 0x04, 0x01, 0x42, 0, 0, 0,
            0,
        ];
        assert_eq!(
            normalize(&ber).unwrap(),
            [0x30, 0x07, 0x06, 0x01, 0x2a, 0x04, 0x02, 0x41, 0x42]
        );
        assert!(normalize(&[0x30, 0x80, 0x04, 0x01]).is_err());
        let mut deep = [0x30, 0x80].repeat(100);
        deep.extend([0, 0].repeat(100));
        assert!(normalize(&deep).is_err());
    }
}
