//! Reading PKCS#12 bundles (RFC 7292), what CAs hand out: a private key and its certificates
//! under a password.
//!
//! ```text
//! PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo, macData MacData OPTIONAL }
//! MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }
//! AuthenticatedSafe ::= SEQUENCE OF ContentInfo   -- data, or encryptedData under a password
//! SafeBag ::= SEQUENCE { bagId OID, bagValue [0] EXPLICIT ANY, bagAttributes SET OF … OPTIONAL }
//! CertBag ::= SEQUENCE { certId OID, certValue [0] EXPLICIT OCTET STRING }
//! ```
//!
//! Read: the integrity MAC (HMAC-SHA-1/256/384/512 with the RFC 7292 Appendix B key derivation)
//! is checked first, in constant time; PBES2 (PBKDF2 or scrypt, AES-CBC or 3DES; OpenSSL 3's
//! default) and the legacy PKCS#12 PBEs `pbeWithSHAAnd3-KeyTripleDES-CBC` and
//! `pbeWithSHAAnd40BitRC2-CBC` (`openssl pkcs12 -legacy`); unencrypted bags. Not read: bundles
//! with public-key integrity or privacy modes, RC4 and 128-bit RC2 PBEs, secret and CRL bags.

use aws_lc_rs::{digest, hmac};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, InnerIvInit, KeyIvInit};
use cms::content_info::ContentInfo;
use const_oid::ObjectIdentifier as Oid;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use subtle::ConstantTimeEq;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use zeroize::Zeroizing;

use crate::certs::PrivateKey;
use crate::error::{Error, Result};
use crate::oids;

const ID_ENCRYPTED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.6");
const KEY_BAG: Oid = Oid::new_unwrap("1.2.840.113549.1.12.10.1.1");
const SHROUDED_KEY_BAG: Oid = Oid::new_unwrap("1.2.840.113549.1.12.10.1.2");
const CERT_BAG: Oid = Oid::new_unwrap("1.2.840.113549.1.12.10.1.3");
const X509_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.22.1");
const PBE_SHA1_3DES: Oid = Oid::new_unwrap("1.2.840.113549.1.12.1.3");
const PBE_SHA1_RC2_40: Oid = Oid::new_unwrap("1.2.840.113549.1.12.1.6");
const PBES2: Oid = Oid::new_unwrap("1.2.840.113549.1.5.13");

/// The largest bundle read.
const MAX_BUNDLE: usize = 1024 * 1024;
/// The most bags looked at.
const MAX_BAGS: usize = 64;
/// The most iterations of the MAC or PBE key derivation accepted (OpenSSL writes 2048).
const MAX_ITERATIONS: u32 = 10_000_000;

#[derive(Sequence)]
struct Pfx {
    version: u8,
    auth_safe: ContentInfo,
    mac_data: Option<MacData>,
}

#[derive(Sequence)]
struct DigestInfo {
    alg: AlgorithmIdentifierOwned,
    digest: OctetString,
}

#[derive(Sequence)]
struct MacData {
    mac: DigestInfo,
    salt: OctetString,
    #[asn1(default = "one")]
    iterations: u32,
}

fn one() -> u32 {
    1
}

#[derive(Sequence)]
struct SafeBag {
    id: Oid,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    value: Any,
    // friendlyName and localKeyId: the key is matched to its certificate by public key.
    _attributes: Option<SetOfVec<Attribute>>,
}

#[derive(Sequence)]
struct CertBag {
    id: Oid,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    value: OctetString,
}

#[derive(Sequence)]
struct EncryptedContentInfo {
    content_type: Oid,
    alg: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    content: Option<OctetString>,
}

#[derive(Sequence)]
struct EncryptedData {
    version: u8,
    info: EncryptedContentInfo,
}

#[derive(Sequence)]
struct PbeParams {
    salt: OctetString,
    iterations: u32,
}

fn bad(detail: impl std::fmt::Display) -> Error {
    Error::malformed("PKCS#12 bundle", detail)
}

/// A private key and certificates read from a PKCS#12 bundle.
#[non_exhaustive]
#[derive(Debug)]
pub struct Pkcs12Bundle {
    /// The private key.
    pub key: PrivateKey,
    /// The certificate of the key (the first certificate whose public key matches it).
    pub certificate: Certificate,
    /// The other certificates in the bundle (intermediates, the root).
    pub chain: Vec<Certificate>,
}

/// The password as RFC 7292 Appendix B.1 wants it for its key derivation: BMPString
/// (UTF-16BE) with a trailing zero code unit.
fn bmp_password(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(password.len() * 2 + 2));
    for u in password.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// RFC 7292 Appendix B.2: derives `n` bytes of purpose `id` (1 key, 2 IV, 3 MAC key).
fn kdf(
    alg: &'static digest::Algorithm,
    password: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u32,
    n: usize,
) -> Zeroizing<Vec<u8>> {
    let u = alg.output_len();
    let v = alg.block_len();
    let fill = |s: &[u8]| -> Vec<u8> {
        if s.is_empty() {
            return Vec::new();
        }
        let len = v * s.len().div_ceil(v);
        s.iter().copied().cycle().take(len).collect()
    };
    let mut i = Zeroizing::new(fill(salt));
    i.extend_from_slice(&fill(password));
    let d = vec![id; v];
    let mut out = Zeroizing::new(Vec::with_capacity(n + u));
    while out.len() < n {
        let mut ctx = digest::Context::new(alg);
        ctx.update(&d);
        ctx.update(&i);
        let mut a = ctx.finish().as_ref().to_vec();
        for _ in 1..iterations {
            a = digest::digest(alg, &a).as_ref().to_vec();
        }
        out.extend_from_slice(&a);
        if out.len() >= n {
            break;
        }
        let b: Vec<u8> = a.iter().copied().cycle().take(v).collect();
        for block in i.chunks_mut(v) {
            // block = (block + b + 1) mod 2^(8v)
            let mut carry = 1u16;
            for k in (0..v).rev() {
                let sum = u16::from(block[k]) + u16::from(b[k]) + carry;
                block[k] = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(n);
    out
}

fn check_iterations(n: u32) -> Result<()> {
    if n == 0 || n > MAX_ITERATIONS {
        return Err(bad(format!("{n} iterations")));
    }
    Ok(())
}

/// Decrypts `data` encrypted under `alg` (PBES2 or a legacy PKCS#12 PBE) with `password`.
fn pbe_decrypt(
    alg: &AlgorithmIdentifierOwned,
    password: &str,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let wrong = || Error::Key("cannot decrypt the PKCS#12 bundle: wrong password?".into());
    if alg.oid == PBES2 {
        let der = alg.to_der().map_err(bad)?;
        let scheme = pkcs8::pkcs5::EncryptionScheme::try_from(der.as_slice())
            .map_err(|e| Error::Unsupported(format!("PKCS#12 PBES2 parameters: {e}")))?;
        return scheme
            .decrypt(password.as_bytes(), data)
            .map(Zeroizing::new)
            .map_err(|_| wrong());
    }
    let params: PbeParams = alg
        .parameters
        .as_ref()
        .ok_or_else(|| bad("PBE without parameters"))?
        .decode_as()
        .map_err(bad)?;
    check_iterations(params.iterations)?;
    let pw = bmp_password(password);
    let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
    let salt = params.salt.as_bytes();
    let iv = kdf(sha1, &pw, salt, 2, params.iterations, 8);
    let out = if alg.oid == PBE_SHA1_3DES {
        let key = kdf(sha1, &pw, salt, 1, params.iterations, 24);
        cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(|_| wrong())?
            .decrypt_padded_vec::<Pkcs7>(data)
    } else if alg.oid == PBE_SHA1_RC2_40 {
        let key = kdf(sha1, &pw, salt, 1, params.iterations, 5);
        let cipher = rc2::Rc2::new_with_eff_key_len(&key, 40);
        cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(cipher, &iv)
            .map_err(|_| wrong())?
            .decrypt_padded_vec::<Pkcs7>(data)
    } else {
        return Err(Error::Unsupported(format!(
            "PKCS#12 encryption {} (PBES2 and the SHA-1 3DES and RC2-40 PBEs are read)",
            alg.oid
        )));
    };
    out.map(Zeroizing::new).map_err(|_| wrong())
}

fn check_mac(mac: &MacData, password: &str, content: &[u8]) -> Result<()> {
    check_iterations(mac.iterations)?;
    let (d, h) = match mac.mac.alg.oid {
        o if o == oids::SHA1 => (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        o if o == oids::SHA256 => (&digest::SHA256, hmac::HMAC_SHA256),
        o if o == oids::SHA384 => (&digest::SHA384, hmac::HMAC_SHA384),
        o if o == oids::SHA512 => (&digest::SHA512, hmac::HMAC_SHA512),
        o => return Err(Error::Unsupported(format!("PKCS#12 MAC digest {o}"))),
    };
    let key = kdf(
        d,
        &bmp_password(password),
        mac.salt.as_bytes(),
        3,
        mac.iterations,
        d.output_len(),
    );
    let tag = hmac::sign(&hmac::Key::new(h, &key), content);
    if bool::from(tag.as_ref().ct_eq(mac.mac.digest.as_bytes())) {
        Ok(())
    } else {
        Err(Error::Key(
            "the PKCS#12 bundle's integrity check failed: wrong password, or it was altered".into(),
        ))
    }
}

fn octets(any: &Any) -> Result<Vec<u8>> {
    Ok(any
        .decode_as::<OctetString>()
        .map_err(bad)?
        .into_bytes()
        .into_vec())
}

/// Loads a PKCS#12 bundle (`.p12`, `.pfx`, DER) with its password: checks the integrity MAC,
/// decrypts the bags and returns the private key with its certificate and the others.
pub fn load_pkcs12(data: &[u8], password: &str) -> Result<Pkcs12Bundle> {
    if data.len() > MAX_BUNDLE {
        return Err(bad("larger than 1 MiB"));
    }
    let der = crate::ber::normalize(data)?;
    let pfx = Pfx::from_der(&der).map_err(bad)?;
    if pfx.version != 3 {
        return Err(bad(format!("version {}", pfx.version)));
    }
    if pfx.auth_safe.content_type != oids::ID_DATA {
        return Err(Error::Unsupported(
            "a PKCS#12 bundle with public-key integrity".into(),
        ));
    }
    let safe = octets(&pfx.auth_safe.content)?;
    match &pfx.mac_data {
        Some(m) => check_mac(m, password, &safe)?,
        None => return Err(bad("no integrity MAC")),
    }
    let infos: Vec<ContentInfo> = Vec::from_der(&safe).map_err(bad)?;
    let mut keys = Vec::new();
    let mut certs = Vec::new();
    let mut seen = 0usize;
    for ci in infos.iter().take(MAX_BAGS) {
        let contents: Zeroizing<Vec<u8>> = if ci.content_type == oids::ID_DATA {
            Zeroizing::new(octets(&ci.content)?)
        } else if ci.content_type == ID_ENCRYPTED_DATA {
            let ed: EncryptedData = ci.content.decode_as().map_err(bad)?;
            let ct = ed
                .info
                .content
                .as_ref()
                .ok_or_else(|| bad("encrypted data without content"))?;
            pbe_decrypt(&ed.info.alg, password, ct.as_bytes())?
        } else {
            return Err(Error::Unsupported(format!(
                "PKCS#12 content type {}",
                ci.content_type
            )));
        };
        let bags: Vec<SafeBag> = Vec::from_der(&contents).map_err(bad)?;
        for bag in bags {
            seen += 1;
            if seen > MAX_BAGS {
                return Err(bad("too many bags"));
            }
            if bag.id == CERT_BAG {
                let cb: CertBag = bag.value.decode_as().map_err(bad)?;
                if cb.id == X509_CERTIFICATE {
                    certs.push(Certificate::from_der(cb.value.as_bytes()).map_err(bad)?);
                }
            } else if bag.id == SHROUDED_KEY_BAG {
                let epki: EncryptedPkcs8 = bag.value.decode_as().map_err(bad)?;
                let plain = pbe_decrypt(&epki.alg, password, epki.data.as_bytes())?;
                keys.push(PrivateKey::from_pkcs8(&plain)?);
            } else if bag.id == KEY_BAG {
                keys.push(PrivateKey::from_pkcs8(&bag.value.to_der().map_err(bad)?)?);
            }
        }
    }
    let key = match keys.len() {
        0 => return Err(Error::Key("the PKCS#12 bundle holds no private key".into())),
        1 => keys.remove(0),
        n => {
            return Err(Error::Key(format!(
                "the PKCS#12 bundle holds {n} private keys; one is read"
            )));
        }
    };
    let pos = certs
        .iter()
        .position(|c| key.matches(c))
        .ok_or_else(|| Error::Key("no certificate in the bundle matches its key".into()))?;
    let certificate = certs.remove(pos);
    Ok(Pkcs12Bundle {
        key,
        certificate,
        chain: certs,
    })
}

/// EncryptedPrivateKeyInfo with an owned algorithm (the legacy PBEs are not pkcs5's).
#[derive(Sequence)]
struct EncryptedPkcs8 {
    alg: AlgorithmIdentifierOwned,
    data: OctetString,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bmp_password_is_utf16be_with_terminator() {
        assert_eq!(&bmp_password("ab")[..], &[0, b'a', 0, b'b', 0, 0]);
        assert_eq!(&bmp_password("")[..], &[0, 0]);
    }
}
