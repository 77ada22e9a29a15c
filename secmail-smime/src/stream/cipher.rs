//! Streaming content encryption: AES-CBC with PKCS#7 padding (RFC 3565) and AES-GCM (RFC 5084)
//! through aws-lc-rs. aws-lc-rs has no streaming GCM, so GCM is built from its AES-CTR and the
//! RustCrypto GHASH (NIST SP 800-38D §7): `J0 = nonce || 0^31 || 1`, the keystream starts at
//! `inc32(J0)`, the tag is `GHASH_H(A, C) xor E_K(J0)`. aws-lc's CTR increments all 128 bits
//! and GCM only the low 32; they agree below 2^32 blocks, which is GCM's own limit (enforced).

use aws_lc_rs::cipher::{
    AES_128, AES_192, AES_256, Algorithm, DecryptionContext, EncryptionContext,
    StreamingDecryptingKey, StreamingEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// GCM's plaintext limit: 2^32 - 2 blocks (SP 800-38D §5.2.1.1).
const GCM_MAX: u64 = ((1u64 << 32) - 2) * 16;

fn alg(key_len: usize) -> Result<&'static Algorithm> {
    Ok(match key_len {
        16 => &AES_128,
        24 => &AES_192,
        32 => &AES_256,
        _ => return Err(Error::DecryptionFailed),
    })
}

fn ctr(key: &[u8], iv: [u8; 16]) -> Result<StreamingEncryptingKey> {
    let k = UnboundCipherKey::new(alg(key.len())?, key).map_err(|_| Error::DecryptionFailed)?;
    StreamingEncryptingKey::less_safe_ctr(k, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| Error::DecryptionFailed)
}

/// Runs `key` over `input` into `out` (cleared first; CTR output is as long as its input).
fn ctr_apply(key: &mut StreamingEncryptingKey, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    out.resize(input.len() + 16, 0);
    let n = key
        .update(input, out)
        .map_err(|_| Error::DecryptionFailed)?
        .written()
        .len();
    out.truncate(n);
    Ok(())
}

/// AES-GCM, one direction, streaming.
pub(crate) struct Gcm {
    ctr: StreamingEncryptingKey,
    ghash: GHash,
    partial: [u8; 16],
    partial_len: usize,
    aad_len: u64,
    ct_len: u64,
    ek_j0: [u8; 16],
}

impl Gcm {
    pub(crate) fn new(key: &[u8], nonce: &[u8; 12], aad: &[u8]) -> Result<Self> {
        let mut zero = Vec::new();
        ctr_apply(&mut ctr(key, [0; 16])?, &[0; 16], &mut zero)?;
        let h: [u8; 16] = zero
            .as_slice()
            .try_into()
            .map_err(|_| Error::DecryptionFailed)?;
        let mut j0 = [0u8; 16];
        j0[..12].copy_from_slice(nonce);
        j0[15] = 1;
        let mut c = ctr(key, j0)?;
        let mut ek = Vec::new();
        ctr_apply(&mut c, &[0; 16], &mut ek)?;
        let ek_j0: [u8; 16] = ek
            .as_slice()
            .try_into()
            .map_err(|_| Error::DecryptionFailed)?;
        let mut ghash = GHash::new(&h.into());
        ghash.update_padded(aad);
        Ok(Gcm {
            ctr: c,
            ghash,
            partial: [0; 16],
            partial_len: 0,
            aad_len: aad.len() as u64,
            ct_len: 0,
            ek_j0,
        })
    }

    fn absorb(&mut self, mut ct: &[u8]) -> Result<()> {
        self.ct_len += ct.len() as u64;
        if self.ct_len > GCM_MAX {
            return Err(Error::Misuse("content too long for AES-GCM".into()));
        }
        if self.partial_len > 0 {
            let take = (16 - self.partial_len).min(ct.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&ct[..take]);
            self.partial_len += take;
            ct = &ct[take..];
            if self.partial_len < 16 {
                return Ok(());
            }
            self.ghash.update_padded(&self.partial);
            self.partial_len = 0;
        }
        let full = ct.len() / 16 * 16;
        self.ghash.update_padded(&ct[..full]);
        let rest = &ct[full..];
        self.partial[..rest.len()].copy_from_slice(rest);
        self.partial_len = rest.len();
        Ok(())
    }

    /// Encrypts `pt` into `out` (replacing its contents).
    pub(crate) fn encrypt(&mut self, pt: &[u8], out: &mut Vec<u8>) -> Result<()> {
        ctr_apply(&mut self.ctr, pt, out)?;
        let ct = std::mem::take(out);
        let r = self.absorb(&ct);
        *out = ct;
        r
    }

    /// Decrypts `ct` into `out` (replacing its contents). The plaintext is not authenticated
    /// until [`Gcm::verify`] succeeds.
    pub(crate) fn decrypt(&mut self, ct: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.absorb(ct)?;
        ctr_apply(&mut self.ctr, ct, out)
    }

    /// Only authenticates `ct` (no plaintext).
    #[cfg(test)]
    pub(crate) fn authenticate(&mut self, ct: &[u8]) -> Result<()> {
        self.absorb(ct)
    }

    /// The tag.
    pub(crate) fn tag(mut self) -> [u8; 16] {
        let partial = self.partial;
        self.ghash.update_padded(&partial[..self.partial_len]);
        let mut lens = [0u8; 16];
        lens[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(self.ct_len * 8).to_be_bytes());
        self.ghash.update_padded(&lens);
        let s = self.ghash.finalize();
        let mut tag = [0u8; 16];
        for (i, t) in tag.iter_mut().enumerate() {
            *t = s[i] ^ self.ek_j0[i];
        }
        tag
    }

    /// Checks the tag in constant time.
    pub(crate) fn verify(self, tag: &[u8]) -> Result<()> {
        if bool::from(self.tag().ct_eq(tag)) {
            Ok(())
        } else {
            Err(Error::DecryptionFailed)
        }
    }
}

/// AES-CBC encryption with PKCS#7 padding, streaming.
pub(crate) struct CbcEncrypt(StreamingEncryptingKey);

impl CbcEncrypt {
    pub(crate) fn new(key: &[u8], iv: [u8; 16]) -> Result<Self> {
        let k = UnboundCipherKey::new(alg(key.len())?, key)
            .map_err(|_| Error::Misuse("AES key".into()))?;
        StreamingEncryptingKey::less_safe_cbc_pkcs7(k, EncryptionContext::Iv128(iv.into()))
            .map(CbcEncrypt)
            .map_err(|_| Error::Misuse("AES-CBC".into()))
    }

    pub(crate) fn update(&mut self, pt: &[u8], out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        out.resize(pt.len() + 16, 0);
        let n = self
            .0
            .update(pt, out)
            .map_err(|_| Error::Misuse("AES-CBC".into()))?
            .written()
            .len();
        out.truncate(n);
        Ok(())
    }

    pub(crate) fn finish(self, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        out.resize(16, 0);
        let n = self
            .0
            .finish(out)
            .map_err(|_| Error::Misuse("AES-CBC".into()))?
            .1
            .written()
            .len();
        out.truncate(n);
        Ok(())
    }
}

/// AES-CBC decryption with PKCS#7 padding, streaming. A bad padding fails only at
/// [`CbcDecrypt::finish`], as [`Error::DecryptionFailed`].
pub(crate) struct CbcDecrypt(StreamingDecryptingKey);

impl CbcDecrypt {
    pub(crate) fn new(key: &[u8], iv: [u8; 16]) -> Result<Self> {
        let k = UnboundCipherKey::new(alg(key.len())?, key).map_err(|_| Error::DecryptionFailed)?;
        StreamingDecryptingKey::cbc_pkcs7(k, DecryptionContext::Iv128(iv.into()))
            .map(CbcDecrypt)
            .map_err(|_| Error::DecryptionFailed)
    }

    pub(crate) fn update(&mut self, ct: &[u8], out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        out.resize(ct.len() + 16, 0);
        let n = self
            .0
            .update(ct, out)
            .map_err(|_| Error::DecryptionFailed)?
            .written()
            .len();
        out.truncate(n);
        Ok(())
    }

    pub(crate) fn finish(self, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        out.resize(16, 0);
        let n = self
            .0
            .finish(out)
            .map_err(|_| Error::DecryptionFailed)?
            .written()
            .len();
        out.truncate(n);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aes_gcm::aead::{AeadInOut, KeyInit as _};

    #[test]
    fn streaming_gcm_matches_aes_gcm_for_every_split() {
        let key = [7u8; 32];
        let nonce = [9u8; 12];
        for len in [0usize, 1, 15, 16, 17, 31, 33, 100, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let aead = aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap();
            let mut want = pt.clone();
            let want_tag = aead
                .encrypt_inout_detached((&nonce).into(), b"aad", want.as_mut_slice().into())
                .unwrap();
            for split in [1usize, 5, 16, 64] {
                let mut g = Gcm::new(&key, &nonce, b"aad").unwrap();
                let mut ct = Vec::new();
                let mut out = Vec::new();
                for c in pt.chunks(split) {
                    g.encrypt(c, &mut out).unwrap();
                    ct.extend_from_slice(&out);
                }
                assert_eq!(ct, want);
                assert_eq!(g.tag(), want_tag.as_slice());
                let mut d = Gcm::new(&key, &nonce, b"aad").unwrap();
                let mut back = Vec::new();
                for c in ct.chunks(split) {
                    d.decrypt(c, &mut out).unwrap();
                    back.extend_from_slice(&out);
                }
                assert_eq!(back, pt);
                d.verify(&want_tag).unwrap();
            }
            let mut bad = Gcm::new(&key, &nonce, b"aad").unwrap();
            bad.authenticate(&want).unwrap();
            let mut t = want_tag.to_vec();
            t[0] ^= 1;
            assert!(bad.verify(&t).is_err());
        }
    }
}
