//! Checking a CMS SignedData (RFC 5652 §5.4, §5.6): the messageDigest attribute over the
//! content, the signature over the signed attributes, then the signer's certificate chain.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::OctetString;
use der::{Decode, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::time::Time;

use crate::error::{Error, Result, Usage, ValidationError};
use crate::validate::{self, Policy};
use crate::{crypto, oids};

/// The most signer infos looked at in one SignedData.
const MAX_SIGNERS: usize = 16;

/// What became of one signature.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerStatus {
    /// The signature is good and the certificate chain was validated to a trust anchor.
    Good,
    /// The signature is good, but no trust anchors were given: the certificate was not checked.
    NotValidated,
    /// The signature or the message digest does not match (content or signature altered).
    Bad(String),
    /// The signer's certificate is not in the message.
    CertificateMissing,
    /// The signature is good but the certificate chain was refused.
    Invalid(ValidationError),
    /// An algorithm or structure that is not supported.
    Unsupported(String),
}

/// One signer of a SignedData.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct SignerReport {
    /// The outcome.
    pub status: SignerStatus,
    /// The signer's certificate, when found in the message.
    pub certificate: Option<Certificate>,
    /// The validated chain (leaf first), when [`SignerStatus::Good`].
    pub chain: Vec<Certificate>,
    /// The signingTime the signer stated.
    pub signing_time: Option<SystemTime>,
}

/// A checked SignedData.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signed content (the encapsulated content, or the detached content given).
    pub content: Vec<u8>,
    /// Every signer, in order.
    pub signers: Vec<SignerReport>,
    /// The certificates the message carried.
    pub certificates: Vec<Certificate>,
}

impl Verified {
    /// The first signer whose signature is good, whose chain validated, and (when `from` is
    /// given) whose certificate is for `from`; otherwise the error that explains the first
    /// signer's failure.
    pub fn require_valid(&self, from: Option<&str>) -> Result<&SignerReport> {
        let mut first_err = None;
        for s in &self.signers {
            let err = match &s.status {
                SignerStatus::Good => match (from, &s.certificate) {
                    (Some(f), Some(c)) => match validate::check_end_entity(c, Usage::Sign, Some(f))
                    {
                        Ok(()) => return Ok(s),
                        Err(e) => Error::Validation(e),
                    },
                    _ => return Ok(s),
                },
                SignerStatus::NotValidated => {
                    Error::Misuse("no trust anchors were given to validate the signer".into())
                }
                SignerStatus::Bad(d) => Error::BadSignature(d.clone()),
                SignerStatus::CertificateMissing => Error::SignerCertificateMissing,
                SignerStatus::Invalid(v) => Error::Validation(v.clone()),
                SignerStatus::Unsupported(u) => Error::Unsupported(u.clone()),
            };
            first_err.get_or_insert(err);
        }
        Err(first_err.unwrap_or(Error::NotSigned))
    }
}

/// What a signature is checked against: the content, or its digest computed while it
/// streamed past.
#[derive(Clone, Copy)]
pub(crate) enum Content<'a> {
    Bytes(&'a [u8]),
    Digest(const_oid::ObjectIdentifier, &'a [u8]),
}

impl Content<'_> {
    fn digest(&self, oid: &const_oid::ObjectIdentifier) -> Option<Vec<u8>> {
        match self {
            Content::Bytes(b) => digest(oid, b),
            Content::Digest(o, d) => (o == oid).then(|| d.to_vec()),
        }
    }
}

/// Checks a detached SignedData against the `digest` (by `digest_oid`) of the content, which
/// the caller computed while streaming it. A signer with another digest algorithm, or without
/// signed attributes, is reported as unsupported.
pub(crate) fn verify_digest(
    der: &[u8],
    digest_oid: const_oid::ObjectIdentifier,
    digest: &[u8],
    anchors: &[Certificate],
    now: SystemTime,
) -> Result<Verified> {
    let (sd, raw) = parse_signed_data(der)?;
    if sd.encap_content_info.econtent.is_some() {
        return Err(Error::malformed(
            "detached signature",
            "the SignedData carries content of its own",
        ));
    }
    let (signers, certificates) =
        check_all(&sd, &raw, Content::Digest(digest_oid, digest), anchors, now)?;
    Ok(Verified {
        content: Vec::new(),
        signers,
        certificates,
    })
}

fn digest(oid: &const_oid::ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    Some(match *oid {
        o if o == oids::SHA256 => Sha256::digest(data).to_vec(),
        o if o == oids::SHA384 => Sha384::digest(data).to_vec(),
        o if o == oids::SHA512 => Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

fn find_cert<'a>(sid: &SignerIdentifier, certs: &'a [Certificate]) -> Option<&'a Certificate> {
    certs.iter().find(|c| match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            c.tbs_certificate().issuer() == &isn.issuer
                && c.tbs_certificate().serial_number() == &isn.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => matches!(
            c.tbs_certificate().get_extension::<SubjectKeyIdentifier>(),
            Ok(Some((_, k))) if k == *ski
        ),
    })
}

/// Parses a ContentInfo (BER or DER) holding a SignedData. Also returns, for each signer info
/// (by its signature value), its signedAttrs exactly as received, as the SET OF that the
/// signature covers (RFC 5652 §5.4): the decoded form is re-sorted by the `der` crate, and
/// re-encoding it would change the bytes of a sender that did not sort them.
pub(crate) fn parse_signed_data(ber: &[u8]) -> Result<(SignedData, RawAttrs)> {
    let der = crate::ber::normalize(ber)?;
    let ci = ContentInfo::from_der(&der).map_err(|e| Error::malformed("CMS ContentInfo", e))?;
    if ci.content_type != oids::ID_SIGNED_DATA {
        return Err(Error::Unsupported(format!(
            "expected a SignedData, found content type {}",
            ci.content_type
        )));
    }
    let sd = ci
        .content
        .decode_as::<SignedData>()
        .map_err(|e| Error::malformed("CMS SignedData", e))?;
    Ok((sd, raw_signed_attrs(&der).unwrap_or_default()))
}

/// Signature value → the signedAttrs as received, re-tagged as a SET OF.
pub(crate) type RawAttrs = Vec<(Vec<u8>, Vec<u8>)>;

/// One DER element: its tag, its whole encoding, its content.
type Tlv<'a> = (u8, &'a [u8], &'a [u8]);

/// The elements of a DER constructed value's content.
fn children(content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < content.len() {
        let tag = *content.get(pos)?;
        if tag & 0x1f == 0x1f {
            return None;
        }
        let l0 = *content.get(pos + 1)?;
        let (len, hl) = if l0 < 0x80 {
            (usize::from(l0), 2)
        } else {
            let n = usize::from(l0 & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let mut l = 0usize;
            for i in 0..n {
                l = (l << 8) | usize::from(*content.get(pos + 2 + i)?);
            }
            (l, 2 + n)
        };
        let end = pos.checked_add(hl)?.checked_add(len)?;
        let whole = content.get(pos..end)?;
        out.push((tag, whole, whole.get(hl..)?));
        pos = end;
    }
    Some(out)
}

fn raw_signed_attrs(der: &[u8]) -> Option<RawAttrs> {
    let ci = children(der)?;
    let (_, _, ci) = ci.first().copied()?;
    let explicit = children(ci)?;
    let (_, _, sd) = explicit.get(1).copied()?;
    let sd = children(sd)?;
    let (_, _, sd) = sd.first().copied()?;
    let fields = children(sd)?;
    let (tag, _, infos) = fields.last().copied()?;
    if tag != 0x31 {
        return None;
    }
    let mut out = Vec::new();
    for (_, _, si) in children(infos)? {
        let f = children(si)?;
        let attrs = f.iter().find(|(t, _, _)| *t == 0xA0);
        let sig = f.iter().find(|(t, _, _)| *t == 0x04);
        if let (Some((_, whole, _)), Some((_, _, sig))) = (attrs, sig) {
            let mut set = whole.to_vec();
            set[0] = 0x31;
            out.push((sig.to_vec(), set));
        }
    }
    Some(out)
}

/// Checks a SignedData (DER ContentInfo). `detached` is the content for a detached signature
/// (the canonical first part of a `multipart/signed`); it must be `None` for an encapsulated
/// one. With `anchors` empty, signatures are checked but certificates are not
/// ([`SignerStatus::NotValidated`]).
pub fn verify(
    der: &[u8],
    detached: Option<&[u8]>,
    anchors: &[Certificate],
    now: SystemTime,
) -> Result<Verified> {
    let (sd, raw) = parse_signed_data(der)?;
    let content: Vec<u8> = match (&sd.encap_content_info.econtent, detached) {
        (Some(any), None) => any
            .decode_as::<OctetString>()
            .map_err(|e| Error::malformed("encapsulated content", e))?
            .into_bytes()
            .into_vec(),
        (None, Some(d)) => d.to_vec(),
        (Some(_), Some(_)) => {
            return Err(Error::Misuse(
                "the SignedData has content; do not pass detached content".into(),
            ));
        }
        (None, None) => {
            return Err(Error::Misuse(
                "a detached signature needs the signed content".into(),
            ));
        }
    };
    let (signers, certificates) = check_all(&sd, &raw, Content::Bytes(&content), anchors, now)?;
    Ok(Verified {
        content,
        signers,
        certificates,
    })
}

fn check_all(
    sd: &SignedData,
    raw: &RawAttrs,
    content: Content<'_>,
    anchors: &[Certificate],
    now: SystemTime,
) -> Result<(Vec<SignerReport>, Vec<Certificate>)> {
    let certificates: Vec<Certificate> = sd
        .certificates
        .iter()
        .flat_map(|s| s.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    if sd.signer_infos.0.is_empty() {
        return Err(Error::NotSigned);
    }
    let mut signers = Vec::new();
    for si in sd.signer_infos.0.iter().take(MAX_SIGNERS) {
        signers.push(check_signer(
            si,
            sd,
            raw,
            content,
            &certificates,
            anchors,
            now,
        ));
    }
    Ok((signers, certificates))
}

fn check_signer(
    si: &SignerInfo,
    sd: &SignedData,
    raw: &RawAttrs,
    content: Content<'_>,
    certs: &[Certificate],
    anchors: &[Certificate],
    now: SystemTime,
) -> SignerReport {
    let mut report = SignerReport {
        status: SignerStatus::CertificateMissing,
        certificate: None,
        chain: Vec::new(),
        signing_time: None,
    };
    let Some(cert) = find_cert(&si.sid, certs) else {
        return report;
    };
    report.certificate = Some(cert.clone());
    let Some(md) = content.digest(&si.digest_alg.oid) else {
        report.status =
            SignerStatus::Unsupported(format!("digest algorithm {}", si.digest_alg.oid));
        return report;
    };
    let signed: Vec<u8> = match &si.signed_attrs {
        Some(attrs) => {
            let mut ct_ok = false;
            let mut md_ok = false;
            for a in attrs.iter() {
                let [v] = a.values.as_slice() else {
                    report.status =
                        SignerStatus::Bad(format!("attribute {} must have one value", a.oid));
                    return report;
                };
                if a.oid == oids::ID_CONTENT_TYPE {
                    ct_ok = v.decode_as::<const_oid::ObjectIdentifier>().ok()
                        == Some(sd.encap_content_info.econtent_type);
                } else if a.oid == oids::ID_MESSAGE_DIGEST {
                    md_ok = v
                        .decode_as::<OctetString>()
                        .is_ok_and(|o| o.as_bytes() == md.as_slice());
                } else if a.oid == oids::ID_SIGNING_TIME {
                    report.signing_time = v
                        .decode_as::<Time>()
                        .ok()
                        .map(|t| UNIX_EPOCH + Duration::from_secs(t.to_unix_duration().as_secs()));
                }
            }
            if !ct_ok {
                report.status =
                    SignerStatus::Bad("the contentType attribute is missing or wrong".into());
                return report;
            }
            if !md_ok {
                report.status = SignerStatus::Bad(
                    "the messageDigest does not match the content (the content was altered)".into(),
                );
                return report;
            }
            // The bytes as received; a re-encoding only when they could not be found.
            let received = raw
                .iter()
                .find(|(sig, _)| sig.as_slice() == si.signature.as_bytes())
                .map(|(_, set)| set.clone());
            match received.map_or_else(|| attrs.to_der(), Ok) {
                Ok(d) => d,
                Err(e) => {
                    report.status = SignerStatus::Bad(format!("signed attributes: {e}"));
                    return report;
                }
            }
        }
        None => {
            if sd.encap_content_info.econtent_type != oids::ID_DATA {
                report.status = SignerStatus::Bad(
                    "signed attributes are required for this content type".into(),
                );
                return report;
            }
            match content {
                Content::Bytes(b) => b.to_vec(),
                Content::Digest(..) => {
                    report.status = SignerStatus::Unsupported(
                        "a signature without signed attributes, read as a stream".into(),
                    );
                    return report;
                }
            }
        }
    };
    let spki = cert.tbs_certificate().subject_public_key_info();
    match crypto::verify(
        spki,
        &si.signature_algorithm,
        Some(&si.digest_alg.oid),
        &signed,
        si.signature.as_bytes(),
    ) {
        Ok(()) => {}
        Err(crypto::SigFail::Bad) => {
            report.status = SignerStatus::Bad("the signature does not verify".into());
            return report;
        }
        Err(crypto::SigFail::Unsupported(a)) => {
            report.status = SignerStatus::Unsupported(format!("signature algorithm {a}"));
            return report;
        }
    }
    if anchors.is_empty() {
        report.status = SignerStatus::NotValidated;
        return report;
    }
    let mut times = vec![now];
    if let Some(t) = report.signing_time {
        times.insert(0, t);
    }
    let policy = Policy {
        usage: Usage::Sign,
        email: None,
        times,
    };
    match validate::validate(cert, certs, anchors, &policy) {
        Ok(chain) => {
            report.chain = chain;
            report.status = SignerStatus::Good;
        }
        Err(e) => report.status = SignerStatus::Invalid(e),
    }
    report
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{CertUsage, CertificateAuthority, SignOptions, sign};

    fn replace(hay: &mut [u8], from: &[u8], to: &[u8]) {
        assert_eq!(from.len(), to.len());
        let at = hay.windows(from.len()).position(|w| w == from).unwrap();
        hay[at..at + from.len()].copy_from_slice(to);
    }

    /// A sender whose signedAttrs are not in DER order still verifies: the signature is
    /// checked over the bytes received, not over the `der` crate's sorted re-encoding.
    #[test]
    fn unsorted_signed_attributes_verify_over_the_received_bytes() {
        let ca = CertificateAuthority::new_root("CN=Attr CA", 30).unwrap();
        let (cert, key) = ca.issue("a@example.org", CertUsage::Sign, 30).unwrap();
        let content = b"Content-Type: text/plain\r\n\r\nhi\r\n";
        let mut der = sign(content, &cert, &key, &SignOptions::default()).unwrap();
        let raw = raw_signed_attrs(&der).unwrap();
        let (old_sig, old_set) = raw[0].clone();
        let attrs = children(&old_set[..]).unwrap();
        let (_, _, inner) = attrs[0];
        let mut items: Vec<&[u8]> = children(inner).unwrap().iter().map(|c| c.1).collect();
        assert!(items.len() > 1);
        items.reverse();
        let mut new_set = old_set[..old_set.len() - inner.len()].to_vec();
        for i in &items {
            new_set.extend_from_slice(i);
        }
        let new_sig = key.sign(key.default_algorithm(), &new_set).unwrap();
        let mut old_tagged = old_set.clone();
        old_tagged[0] = 0xA0;
        let mut new_tagged = new_set.clone();
        new_tagged[0] = 0xA0;
        replace(&mut der, &old_tagged, &new_tagged);
        replace(&mut der, &old_sig, &new_sig);
        let v = verify(&der, None, &[], SystemTime::now()).unwrap();
        assert_eq!(v.signers[0].status, SignerStatus::NotValidated, "{v:?}");
        // And a signature over the sorted form no longer matches these bytes.
        replace(&mut der, &new_sig, &old_sig);
        let v = verify(&der, None, &[], SystemTime::now()).unwrap();
        assert!(matches!(v.signers[0].status, SignerStatus::Bad(_)));
    }
}
