//! Signature verification by algorithm identifier (certificates and CMS signer infos), and
//! the ASN.1 parameter structures of RSASSA-PSS and RSAES-OAEP (RFC 8017 Appendix A.2).

use aws_lc_rs::signature::{self as sig, RsaPssSaltLength, VerificationAlgorithm};
use const_oid::ObjectIdentifier as Oid;
use der::asn1::Null;
use der::{Any, Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::oids;

/// RFC 8017 A.2.3:
///
/// ```text
/// RSASSA-PSS-params ::= SEQUENCE {
///     hashAlgorithm      [0] HashAlgorithm      DEFAULT sha1,
///     maskGenAlgorithm   [1] MaskGenAlgorithm   DEFAULT mgf1SHA1,
///     saltLength         [2] INTEGER            DEFAULT 20,
///     trailerField       [3] TrailerField       DEFAULT trailerFieldBC }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub mgf: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    pub salt_len: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    pub trailer: Option<u32>,
}

/// RFC 8017 A.2.1:
///
/// ```text
/// RSAES-OAEP-params ::= SEQUENCE {
///     hashAlgorithm      [0] HashAlgorithm     DEFAULT sha1,
///     maskGenAlgorithm   [1] MaskGenAlgorithm  DEFAULT mgf1SHA1,
///     pSourceAlgorithm   [2] PSourceAlgorithm  DEFAULT pSpecifiedEmpty }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct OaepParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub mgf: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    pub p_source: Option<AlgorithmIdentifierOwned>,
}

/// A digest AlgorithmIdentifier with absent parameters (RFC 5754 §2).
pub(crate) fn digest_alg(oid: Oid) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

/// An AlgorithmIdentifier with NULL parameters (the RSA algorithms).
pub(crate) fn alg_null(oid: Oid) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: Some(Any::from(Null)),
    }
}

fn mgf1(hash: Oid) -> der::Result<AlgorithmIdentifierOwned> {
    Ok(AlgorithmIdentifierOwned {
        oid: oids::MGF1,
        parameters: Some(Any::encode_from(&digest_alg(hash))?),
    })
}

/// The RSASSA-PSS AlgorithmIdentifier this crate writes: SHA-256, MGF1-SHA-256, salt 32.
pub(crate) fn pss_sha256() -> der::Result<AlgorithmIdentifierOwned> {
    let params = PssParams {
        hash: Some(digest_alg(oids::SHA256)),
        mgf: Some(mgf1(oids::SHA256)?),
        salt_len: Some(32),
        trailer: None,
    };
    Ok(AlgorithmIdentifierOwned {
        oid: oids::RSASSA_PSS,
        parameters: Some(Any::encode_from(&params)?),
    })
}

/// The RSAES-OAEP AlgorithmIdentifier for `hash` (SHA-1 is written with the default, empty
/// parameters).
pub(crate) fn oaep_alg(hash: crate::OaepHash) -> der::Result<AlgorithmIdentifierOwned> {
    let oid = match hash {
        crate::OaepHash::Sha1 => {
            return Ok(AlgorithmIdentifierOwned {
                oid: oids::RSAES_OAEP,
                parameters: Some(Any::encode_from(&OaepParams {
                    hash: None,
                    mgf: None,
                    p_source: None,
                })?),
            });
        }
        crate::OaepHash::Sha256 => oids::SHA256,
        crate::OaepHash::Sha384 => oids::SHA384,
        crate::OaepHash::Sha512 => oids::SHA512,
    };
    let params = OaepParams {
        hash: Some(digest_alg(oid)),
        mgf: Some(mgf1(oid)?),
        p_source: None,
    };
    Ok(AlgorithmIdentifierOwned {
        oid: oids::RSAES_OAEP,
        parameters: Some(Any::encode_from(&params)?),
    })
}

/// Reads RSAES-OAEP parameters: the same hash for OAEP and MGF1, an empty label.
pub(crate) fn parse_oaep(alg: &AlgorithmIdentifierOwned) -> Option<crate::OaepHash> {
    let params: OaepParams = match &alg.parameters {
        None => OaepParams {
            hash: None,
            mgf: None,
            p_source: None,
        },
        Some(any) => OaepParams::from_der(&any.to_der().ok()?).ok()?,
    };
    if params.p_source.is_some() {
        return None;
    }
    let hash = params.hash.map_or(oids::SHA1, |h| h.oid);
    let mgf_hash = match params.mgf {
        None => oids::SHA1,
        Some(m) if m.oid == oids::MGF1 => {
            let inner: AlgorithmIdentifierOwned =
                AlgorithmIdentifierOwned::from_der(&m.parameters?.to_der().ok()?).ok()?;
            inner.oid
        }
        Some(_) => return None,
    };
    if hash != mgf_hash {
        return None;
    }
    Some(match hash {
        h if h == oids::SHA1 => crate::OaepHash::Sha1,
        h if h == oids::SHA256 => crate::OaepHash::Sha256,
        h if h == oids::SHA384 => crate::OaepHash::Sha384,
        h if h == oids::SHA512 => crate::OaepHash::Sha512,
        _ => return None,
    })
}

/// Why a signature did not verify.
#[derive(Debug)]
pub(crate) enum SigFail {
    /// The algorithm (or its parameters, or the key type) is not supported.
    Unsupported(String),
    /// The signature is wrong.
    Bad,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

fn hash_of(oid: &Oid) -> Option<Hash> {
    match *oid {
        o if o == oids::SHA256 => Some(Hash::Sha256),
        o if o == oids::SHA384 => Some(Hash::Sha384),
        o if o == oids::SHA512 => Some(Hash::Sha512),
        _ => None,
    }
}

/// Verifies `signature` over `msg` with `spki`. `sig_alg` is the signature algorithm; for the
/// CMS forms that name only the key type (rsaEncryption, id-ecPublicKey), `digest` is the
/// digest algorithm of the signer info.
pub(crate) fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &AlgorithmIdentifierOwned,
    digest: Option<&Oid>,
    msg: &[u8],
    signature: &[u8],
) -> Result<(), SigFail> {
    let unsupported = || SigFail::Unsupported(sig_alg.oid.to_string());
    let key = spki.subject_public_key.raw_bytes();
    let key_oid = spki.algorithm.oid;
    let o = sig_alg.oid;
    let res = if o == oids::SHA256_WITH_RSA
        || o == oids::SHA384_WITH_RSA
        || o == oids::SHA512_WITH_RSA
        || o == oids::RSA_ENCRYPTION
    {
        if key_oid != oids::RSA_ENCRYPTION {
            return Err(unsupported());
        }
        let h = if o == oids::SHA256_WITH_RSA {
            Hash::Sha256
        } else if o == oids::SHA384_WITH_RSA {
            Hash::Sha384
        } else if o == oids::SHA512_WITH_RSA {
            Hash::Sha512
        } else {
            digest.and_then(hash_of).ok_or_else(unsupported)?
        };
        let alg = match h {
            Hash::Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Hash::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        };
        alg.verify_sig(key, msg, signature)
    } else if o == oids::RSASSA_PSS {
        if key_oid != oids::RSA_ENCRYPTION && key_oid != oids::RSASSA_PSS {
            return Err(unsupported());
        }
        let params: PssParams = sig_alg
            .parameters
            .as_ref()
            .and_then(|p| p.to_der().ok())
            .and_then(|d| PssParams::from_der(&d).ok())
            .ok_or_else(unsupported)?;
        let hash_oid = params
            .hash
            .as_ref()
            .map(|h| h.oid)
            .ok_or_else(unsupported)?;
        let h = hash_of(&hash_oid).ok_or_else(unsupported)?;
        let mgf = params.mgf.as_ref().ok_or_else(unsupported)?;
        let mgf_hash = mgf
            .parameters
            .as_ref()
            .and_then(|p| p.to_der().ok())
            .and_then(|d| AlgorithmIdentifierOwned::from_der(&d).ok())
            .map(|a| a.oid);
        if mgf.oid != oids::MGF1 || mgf_hash != Some(hash_oid) || params.trailer.unwrap_or(1) != 1 {
            return Err(unsupported());
        }
        let salt = u16::try_from(params.salt_len.unwrap_or(20)).map_err(|_| unsupported())?;
        let base = match h {
            Hash::Sha256 => sig::RSA_PSS_2048_8192_SHA256,
            Hash::Sha384 => sig::RSA_PSS_2048_8192_SHA384,
            Hash::Sha512 => sig::RSA_PSS_2048_8192_SHA512,
        };
        base.with_pss_salt_length(RsaPssSaltLength::Custom(salt))
            .verify_sig(key, msg, signature)
    } else if o == oids::ECDSA_SHA256 || o == oids::ECDSA_SHA384 || o == oids::EC_PUBLIC_KEY {
        if key_oid != oids::EC_PUBLIC_KEY {
            return Err(unsupported());
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<Oid>().ok())
            .ok_or_else(unsupported)?;
        let h = if o == oids::ECDSA_SHA256 {
            Hash::Sha256
        } else if o == oids::ECDSA_SHA384 {
            Hash::Sha384
        } else {
            digest.and_then(hash_of).ok_or_else(unsupported)?
        };
        let alg = match (curve, h) {
            (c, Hash::Sha256) if c == oids::SECP256R1 => &sig::ECDSA_P256_SHA256_ASN1,
            (c, Hash::Sha384) if c == oids::SECP256R1 => &sig::ECDSA_P256_SHA384_ASN1,
            (c, Hash::Sha256) if c == oids::SECP384R1 => &sig::ECDSA_P384_SHA256_ASN1,
            (c, Hash::Sha384) if c == oids::SECP384R1 => &sig::ECDSA_P384_SHA384_ASN1,
            _ => return Err(unsupported()),
        };
        alg.verify_sig(key, msg, signature)
    } else {
        return Err(unsupported());
    };
    res.map_err(|_| SigFail::Bad)
}
