//! Streaming EnvelopedData (AES-CBC) and AuthEnvelopedData (AES-GCM): a writer that emits
//! BER with indefinite lengths and the content in OCTET STRING segments (what `openssl cms
//! -stream` writes, X.690 §8.7.3), and a reader that walks BER or DER framing incrementally and
//! hands the encrypted content over segment by segment. Everything but the encrypted content
//! (version, recipient infos, algorithm, tag) is small and is decoded with the `cms` types.

use std::io::{self, BufRead, Read, Write};

use cms::enveloped_data::RecipientInfos;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::cipher::{CbcEncrypt, Gcm};
use crate::encrypt::{ContentCipher, EncryptOptions, GcmParameters};
use crate::error::{Error, Result};
use crate::oids;

/// The plaintext cut into segments of this size.
const SEGMENT: usize = 64 * 1024;
/// The largest single element read into memory (recipient infos, algorithm parameters).
const MAX_ELEMENT: u64 = 1024 * 1024;
/// Nesting of constructed OCTET STRING segments.
const MAX_SEGMENT_DEPTH: usize = 4;

fn misuse(e: impl std::fmt::Display) -> Error {
    Error::Misuse(e.to_string())
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

enum Enc {
    Cbc(CbcEncrypt),
    Gcm(Box<Gcm>),
}

/// Encrypts what is written to it into a BER ContentInfo (AuthEnvelopedData for GCM,
/// EnvelopedData for CBC) written to the inner writer. Call [`EnvelopeWriter::finish`]: the
/// object is incomplete (and undecryptable) without it.
pub struct EnvelopeWriter<W: Write> {
    out: W,
    enc: Option<Enc>,
    pending: Vec<u8>,
    ct: Vec<u8>,
    frame: Vec<u8>,
}

impl<W: Write> EnvelopeWriter<W> {
    /// Starts an encrypted object to `recipients`, written to `out`. Refuses recipients whose
    /// certificates do not allow encryption, as [`crate::encrypt`] does.
    pub fn new(mut out: W, recipients: &[Certificate], opts: &EncryptOptions) -> Result<Self> {
        if recipients.is_empty() {
            return Err(Error::Misuse("no recipients".into()));
        }
        let cek = Zeroizing::new(crate::encrypt::random::<32>()?);
        let mut infos = Vec::with_capacity(recipients.len());
        for r in recipients {
            infos.push(crate::encrypt::recipient_info(
                r,
                &cek[..],
                opts.key_transport,
            )?);
        }
        let recip = RecipientInfos(SetOfVec::from_iter(infos).map_err(misuse)?)
            .to_der()
            .map_err(misuse)?;
        let (ct_oid, alg, enc) = match opts.cipher {
            ContentCipher::Aes256Cbc => {
                let iv = crate::encrypt::random::<16>()?;
                let alg = AlgorithmIdentifierOwned {
                    oid: oids::AES256_CBC,
                    parameters: Some(
                        Any::encode_from(&OctetString::new(iv.to_vec()).map_err(misuse)?)
                            .map_err(misuse)?,
                    ),
                };
                (
                    oids::ID_ENVELOPED_DATA,
                    alg,
                    Enc::Cbc(CbcEncrypt::new(&cek[..], iv)?),
                )
            }
            ContentCipher::Aes256Gcm => {
                let nonce = crate::encrypt::random::<12>()?;
                let params = GcmParameters {
                    nonce: OctetString::new(nonce.to_vec()).map_err(misuse)?,
                    icv_len: 16,
                };
                let alg = AlgorithmIdentifierOwned {
                    oid: oids::AES256_GCM,
                    parameters: Some(Any::encode_from(&params).map_err(misuse)?),
                };
                (
                    oids::ID_AUTH_ENVELOPED_DATA,
                    alg,
                    Enc::Gcm(Box::new(Gcm::new(&cek[..], &nonce, &[])?)),
                )
            }
        };
        let mut head = vec![0x30, 0x80];
        head.extend_from_slice(&ct_oid.to_der().map_err(misuse)?);
        // [0] EXPLICIT, the (Auth)EnvelopedData SEQUENCE, version 0.
        head.extend_from_slice(&[0xA0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00]);
        head.extend_from_slice(&recip);
        // EncryptedContentInfo: id-data, the algorithm, [0] IMPLICIT OCTET STRING in segments.
        head.extend_from_slice(&[0x30, 0x80]);
        head.extend_from_slice(&oids::ID_DATA.to_der().map_err(misuse)?);
        head.extend_from_slice(&alg.to_der().map_err(misuse)?);
        head.extend_from_slice(&[0xA0, 0x80]);
        out.write_all(&head)?;
        Ok(EnvelopeWriter {
            out,
            enc: Some(enc),
            pending: Vec::with_capacity(SEGMENT),
            ct: Vec::with_capacity(SEGMENT + 16),
            frame: Vec::with_capacity(8),
        })
    }

    fn segment(&mut self, data: &[u8]) -> Result<()> {
        match self.enc.as_mut() {
            Some(Enc::Cbc(c)) => c.update(data, &mut self.ct)?,
            Some(Enc::Gcm(g)) => g.encrypt(data, &mut self.ct)?,
            None => return Err(Error::Misuse("the envelope is finished".into())),
        }
        self.emit()
    }

    fn emit(&mut self) -> Result<()> {
        if self.ct.is_empty() {
            return Ok(());
        }
        self.frame.clear();
        self.frame.push(0x04);
        push_len(&mut self.frame, self.ct.len());
        self.out.write_all(&self.frame)?;
        self.out.write_all(&self.ct)?;
        Ok(())
    }

    /// Encrypts what is left, writes the closing framing (and the GCM tag) and returns the
    /// inner writer.
    pub fn finish(mut self) -> Result<W> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.segment(&rest)?;
        }
        let mut tail = Vec::with_capacity(32);
        match self.enc.take() {
            Some(Enc::Cbc(c)) => {
                c.finish(&mut self.ct)?;
                self.emit()?;
                // end of [0], of EncryptedContentInfo, of EnvelopedData, of [0], of ContentInfo
                tail.extend_from_slice(&[0; 10]);
            }
            Some(Enc::Gcm(g)) => {
                let tag = g.tag();
                tail.extend_from_slice(&[0; 4]);
                tail.extend_from_slice(&[0x04, 0x10]);
                tail.extend_from_slice(&tag);
                tail.extend_from_slice(&[0; 6]);
            }
            None => return Err(Error::Misuse("the envelope is finished".into())),
        }
        self.out.write_all(&tail)?;
        Ok(self.out)
    }
}

impl<W: Write> Write for EnvelopeWriter<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        let map = |e: Error| match e {
            Error::Io(e) => e,
            e => io::Error::other(e),
        };
        if !self.pending.is_empty() {
            let take = (SEGMENT - self.pending.len()).min(buf.len());
            self.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.pending.len() < SEGMENT {
                return Ok(n);
            }
            let p = std::mem::take(&mut self.pending);
            self.segment(&p).map_err(map)?;
            self.pending = p;
            self.pending.clear();
        }
        while buf.len() >= SEGMENT {
            self.segment(&buf[..SEGMENT]).map_err(map)?;
            buf = &buf[SEGMENT..];
        }
        self.pending.extend_from_slice(buf);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A BER pull parser over a buffered reader.
pub(crate) struct BerReader<R: BufRead> {
    r: R,
    pos: u64,
}

/// A tag and length.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub tag: u8,
    pub len: Option<u64>,
    /// The header's own bytes.
    pub raw: Vec<u8>,
}

fn err(detail: &str) -> Error {
    Error::malformed("BER encoding", detail)
}

/// Maps a read error: bad base64 underneath is malformed input, not an I/O failure.
pub(crate) fn io_err(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::InvalidData {
        Error::malformed("base64 body", e)
    } else if e.kind() == io::ErrorKind::UnexpectedEof {
        err("truncated")
    } else {
        Error::Io(e)
    }
}

impl<R: BufRead> BerReader<R> {
    pub(crate) fn new(r: R) -> Self {
        BerReader { r, pos: 0 }
    }

    fn byte(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.r.read_exact(&mut b).map_err(io_err)?;
        self.pos += 1;
        Ok(b[0])
    }

    pub(crate) fn header(&mut self) -> Result<Header> {
        let tag = self.byte()?;
        let mut raw = vec![tag];
        if tag & 0x1f == 0x1f {
            loop {
                let b = self.byte()?;
                raw.push(b);
                if b & 0x80 == 0 {
                    break;
                }
                if raw.len() > 5 {
                    return Err(err("tag number too large"));
                }
            }
        }
        let l0 = self.byte()?;
        raw.push(l0);
        let len = if l0 < 0x80 {
            Some(u64::from(l0))
        } else if l0 == 0x80 {
            if tag & 0x20 == 0 {
                return Err(err("indefinite length on a primitive"));
            }
            None
        } else {
            let n = usize::from(l0 & 0x7f);
            if n > 8 {
                return Err(err("length too large"));
            }
            let mut l = 0u64;
            for _ in 0..n {
                let b = self.byte()?;
                raw.push(b);
                l = (l << 8) | u64::from(b);
            }
            Some(l)
        };
        Ok(Header { tag, len, raw })
    }

    /// Reads `n` bytes into `out` (appending).
    fn take(&mut self, n: u64, out: &mut Vec<u8>) -> Result<()> {
        let got = (&mut self.r).take(n).read_to_end(out).map_err(io_err)?;
        if got as u64 != n {
            return Err(err("truncated"));
        }
        self.pos += n;
        Ok(())
    }

    /// Reads the rest of the element `h` into memory (at most `MAX_ELEMENT` bytes) and
    /// returns its whole BER encoding.
    pub(crate) fn rest(&mut self, h: &Header) -> Result<Vec<u8>> {
        let mut out = h.raw.clone();
        self.rest_into(h, &mut out, 0)?;
        Ok(out)
    }

    fn rest_into(&mut self, h: &Header, out: &mut Vec<u8>, depth: usize) -> Result<()> {
        if depth > 32 {
            return Err(err("nested too deep"));
        }
        match h.len {
            Some(l) => {
                if out.len() as u64 + l > MAX_ELEMENT {
                    return Err(err("element too large"));
                }
                self.take(l, out)
            }
            None => loop {
                let c = self.header()?;
                out.extend_from_slice(&c.raw);
                if c.tag == 0 && c.len == Some(0) {
                    return Ok(());
                }
                self.rest_into(&c, out, depth + 1)?;
            },
        }
    }

    /// Whether the container that ends at `end` (definite) or with end-of-contents
    /// (indefinite, `end` is `None`) is at its end; consumes the end-of-contents.
    pub(crate) fn at_end(&mut self, end: Option<u64>) -> Result<bool> {
        match end {
            Some(e) => Ok(self.pos >= e),
            None => {
                let buf = self.r.fill_buf().map_err(io_err)?;
                if buf.len() >= 2 && buf[0] == 0 && buf[1] == 0 {
                    self.r.consume(2);
                    self.pos += 2;
                    Ok(true)
                } else if buf.len() == 1 && buf[0] == 0 {
                    // The two bytes straddle a buffer edge.
                    let h = self.header()?;
                    if h.tag == 0 && h.len == Some(0) {
                        Ok(true)
                    } else {
                        Err(err("stray end-of-contents"))
                    }
                } else {
                    Ok(false)
                }
            }
        }
    }

    /// Closes a container: its end must be here.
    pub(crate) fn close(&mut self, end: Option<u64>) -> Result<()> {
        if self.at_end(end)? && end.is_none_or(|e| self.pos == e) {
            Ok(())
        } else {
            Err(err(
                "an element overruns its container or has extra content",
            ))
        }
    }

    /// The end position of a definite-length element whose header was just read.
    pub(crate) fn end_of(&self, h: &Header) -> Option<u64> {
        h.len.map(|l| self.pos + l)
    }

    /// Streams the content of an OCTET STRING (primitive or constructed, tag given by `h`)
    /// to `f`, in pieces.
    pub(crate) fn octets(
        &mut self,
        h: &Header,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_SEGMENT_DEPTH {
            return Err(err("OCTET STRING segments nested too deep"));
        }
        if h.tag & 0x20 == 0 {
            let mut left = h.len.ok_or_else(|| err("indefinite primitive"))?;
            while left > 0 {
                let buf = self.r.fill_buf().map_err(io_err)?;
                if buf.is_empty() {
                    return Err(err("truncated"));
                }
                let n = (buf.len() as u64).min(left) as usize;
                f(&buf[..n])?;
                self.r.consume(n);
                self.pos += n as u64;
                left -= n as u64;
            }
            return Ok(());
        }
        let end = self.end_of(h);
        while !self.at_end(end)? {
            let c = self.header()?;
            if c.tag & !0x20 != 0x04 {
                return Err(err(
                    "a segment of a constructed OCTET STRING is not an OCTET STRING",
                ));
            }
            self.octets(&c, f, depth + 1)?;
        }
        if let Some(e) = end
            && self.pos != e
        {
            return Err(err("segments overrun the OCTET STRING"));
        }
        Ok(())
    }
}

/// The parts of an (Auth)EnvelopedData read before its encrypted content.
pub(crate) struct EnvelopeHead {
    pub auth: bool,
    pub recipients: RecipientInfos,
    pub alg: AlgorithmIdentifierOwned,
    /// Where each open container ends (ContentInfo, [0], the envelope, EncryptedContentInfo).
    pub ends: [Option<u64>; 4],
    /// The header of the encrypted content ([0] IMPLICIT OCTET STRING).
    pub content: Header,
}

fn decode_ber<T: for<'a> Decode<'a>>(ber: &[u8], what: &'static str) -> Result<T> {
    let der = crate::ber::normalize(ber)?;
    T::from_der(&der).map_err(|e| Error::malformed(what, e))
}

/// Reads a ContentInfo up to the encrypted content of its (Auth)EnvelopedData.
pub(crate) fn read_head<R: BufRead>(r: &mut BerReader<R>) -> Result<EnvelopeHead> {
    let ci = r.header()?;
    if ci.tag != 0x30 {
        return Err(err("a ContentInfo is a SEQUENCE"));
    }
    let ci_end = r.end_of(&ci);
    let oid_h = r.header()?;
    if oid_h.tag != 0x06 {
        return Err(err("a ContentInfo starts with an OID"));
    }
    let oid: const_oid::ObjectIdentifier = decode_ber(&r.rest(&oid_h)?, "content type")?;
    let auth = if oid == oids::ID_AUTH_ENVELOPED_DATA {
        true
    } else if oid == oids::ID_ENVELOPED_DATA {
        false
    } else {
        return Err(Error::Unsupported(format!(
            "expected an EnvelopedData or AuthEnvelopedData, found content type {oid}"
        )));
    };
    let explicit = r.header()?;
    if explicit.tag != 0xA0 {
        return Err(err("ContentInfo content is [0]"));
    }
    let ex_end = r.end_of(&explicit);
    let env = r.header()?;
    if env.tag != 0x30 {
        return Err(err("an EnvelopedData is a SEQUENCE"));
    }
    let env_end = r.end_of(&env);
    let v = r.header()?;
    if v.tag != 0x02 {
        return Err(err("an EnvelopedData starts with its version"));
    }
    r.rest(&v)?;
    let mut next = r.header()?;
    if next.tag == 0xA0 {
        // originatorInfo: certificates for key agreement, not used for key transport.
        r.rest(&next)?;
        next = r.header()?;
    }
    if next.tag != 0x31 {
        return Err(err("recipientInfos is a SET"));
    }
    let recipients: RecipientInfos = decode_ber(&r.rest(&next)?, "CMS RecipientInfos")?;
    let eci = r.header()?;
    if eci.tag != 0x30 {
        return Err(err("EncryptedContentInfo is a SEQUENCE"));
    }
    let eci_end = r.end_of(&eci);
    let ct = r.header()?;
    if ct.tag != 0x06 {
        return Err(err("EncryptedContentInfo starts with an OID"));
    }
    r.rest(&ct)?;
    let alg_h = r.header()?;
    if alg_h.tag != 0x30 {
        return Err(err("the content-encryption algorithm is a SEQUENCE"));
    }
    let alg: AlgorithmIdentifierOwned =
        decode_ber(&r.rest(&alg_h)?, "content-encryption algorithm")?;
    if r.at_end(eci_end)? {
        return Err(Error::Unsupported("detached encrypted content".into()));
    }
    let content = r.header()?;
    if content.tag & !0x20 != 0x80 {
        return Err(err("encryptedContent is [0] IMPLICIT OCTET STRING"));
    }
    Ok(EnvelopeHead {
        auth,
        recipients,
        alg,
        ends: [ci_end, ex_end, env_end, eci_end],
        content,
    })
}

/// Reads what follows the encrypted content: the end of the EncryptedContentInfo, then for
/// AuthEnvelopedData the authAttrs (DER, the AAD, which is needed before decryption: so they
/// are refused here, as no S/MIME sender writes them) and the MAC, then the closing framing.
pub(crate) fn read_tail<R: BufRead>(
    r: &mut BerReader<R>,
    head: &EnvelopeHead,
) -> Result<Option<Vec<u8>>> {
    r.close(head.ends[3])?;
    let mut mac = None;
    if head.auth {
        let mut h = r.header()?;
        if h.tag == 0xA1 {
            return Err(Error::Unsupported(
                "authenticated attributes in an AuthEnvelopedData".into(),
            ));
        }
        if h.tag != 0x04 {
            return Err(err("the MAC is an OCTET STRING"));
        }
        let m = r.rest(&h)?;
        let m: OctetString = decode_ber(&m, "AuthEnvelopedData MAC")?;
        mac = Some(m.as_bytes().to_vec());
        if !r.at_end(head.ends[2])? {
            h = r.header()?;
            if h.tag != 0xA2 {
                return Err(err("unexpected element after the MAC"));
            }
            r.rest(&h)?;
            r.close(head.ends[2])?;
        }
    } else {
        while !r.at_end(head.ends[2])? {
            // unprotectedAttrs [1]: not used by S/MIME; skipped.
            let h = r.header()?;
            if h.tag != 0xA1 {
                return Err(err("unexpected element after the encrypted content"));
            }
            r.rest(&h)?;
        }
    }
    r.close(head.ends[1])?;
    r.close(head.ends[0])?;
    Ok(mac)
}
