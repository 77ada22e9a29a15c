//! Decryption and verification, filling core's [`Verdict`].
//!
//! No unauthenticated plaintext: the decrypted data is spooled (in memory up to
//! [`DecryptOptions::spool_in_memory`], then in an unnamed temporary file) and copied to the
//! caller's writer only after the whole message was processed: the MDC (SEIPDv1) or every AEAD
//! chunk and the final tag (SEIPDv2) checked, the packet structure complete, every signature
//! evaluated. On any failure the spool is dropped and the writer has received nothing.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::UNIX_EPOCH;

use sequoia_openpgp as openpgp;

use openpgp::KeyHandle;
use openpgp::cert::prelude::*;
use openpgp::crypto::{Password, SessionKey};
use openpgp::packet::{PKESK, SKESK, Tag};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, DetachedVerifierBuilder, MessageLayer, MessageStructure,
    VerificationError, VerificationHelper, VerifierBuilder,
};
use openpgp::parse::{PacketParser, Parse};
use openpgp::policy::{HashAlgoSecurity, Policy};
use openpgp::types::AEADAlgorithm;
use openpgp::types::{RevocationStatus, SymmetricAlgorithm};
use secmail_core::{PartProtection, Scheme, SignatureStatus, SignerInfo, Verdict};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::keys::{emails, primary_userid, unlock};
use crate::policy::policy;

/// What sequoia itself buffers before releasing data to us (we spool after it anyway).
const SEQUOIA_BUFFER: usize = 1024 * 1024;

/// Keys, passphrases and certificates for decryption and verification.
#[derive(Debug, Clone)]
pub struct DecryptOptions {
    keys: Vec<Cert>,
    key_passphrases: Vec<Password>,
    passwords: Vec<Password>,
    verify_with: Vec<Cert>,
    from: Option<String>,
    pub(crate) required_signers: Vec<String>,
    max_plaintext: u64,
    spool_in_memory: usize,
}

impl Default for DecryptOptions {
    fn default() -> Self {
        DecryptOptions {
            keys: Vec::new(),
            key_passphrases: Vec::new(),
            passwords: Vec::new(),
            verify_with: Vec::new(),
            from: None,
            required_signers: Vec::new(),
            max_plaintext: 16 * 1024 * 1024 * 1024,
            spool_in_memory: 8 * 1024 * 1024,
        }
    }
}

impl DecryptOptions {
    /// No keys yet; plaintext up to 16 GiB; 8 MiB spooled in memory.
    pub fn new() -> Self {
        DecryptOptions::default()
    }

    /// A secret key that may decrypt (its certificate also counts for verification).
    pub fn key(mut self, key: Cert) -> Self {
        self.keys.push(key);
        self
    }

    /// A passphrase to try on protected secret keys.
    pub fn key_passphrase(mut self, p: Password) -> Self {
        self.key_passphrases.push(p);
        self
    }

    /// A password to try on password-encrypted (SKESK) messages.
    pub fn password(mut self, p: Password) -> Self {
        self.passwords.push(p);
        self
    }

    /// A certificate to check signatures with.
    pub fn verify_with(mut self, cert: Cert) -> Self {
        self.verify_with.push(cert);
        self
    }

    /// Certificates to check signatures with.
    pub fn verify_with_all(mut self, certs: impl IntoIterator<Item = Cert>) -> Self {
        self.verify_with.extend(certs);
        self
    }

    /// The address in the message's `From`, to compare with the signers'
    /// ([`SignerInfo::matches_from`]).
    pub fn from(mut self, from: Option<String>) -> Self {
        self.from = from;
        self
    }

    /// Requires a good signature by `cert` (or by another certificate required this way):
    /// without one, the call fails with [`Error::NoGoodSignature`] and releases nothing.
    /// The certificate is also used to check signatures.
    pub fn require_signer(mut self, cert: Cert) -> Self {
        self.required_signers.push(cert.fingerprint().to_hex());
        self.verify_with.push(cert);
        self
    }

    /// Whether `verdict` satisfies [`DecryptOptions::require_signer`] (always, when no signer
    /// is required).
    pub fn signers_satisfied(&self, verdict: &Verdict) -> bool {
        self.required_signers.is_empty()
            || verdict.signatures.iter().any(|s| {
                s.status.is_good()
                    && s.fingerprint
                        .as_ref()
                        .is_some_and(|f| self.required_signers.contains(f))
            })
    }

    /// The largest plaintext accepted (a bound against decompression bombs).
    pub fn max_plaintext(mut self, bytes: u64) -> Self {
        self.max_plaintext = bytes;
        self
    }

    /// The certificates signatures are checked with: those given to
    /// [`DecryptOptions::verify_with`] and the public halves of the keys.
    pub fn verification_certs(&self) -> Vec<Cert> {
        let mut certs = self.verify_with.clone();
        certs.extend(
            self.keys
                .iter()
                .map(|k| k.clone().strip_secret_key_material()),
        );
        certs
    }

    /// How much plaintext is held in memory before spooling to a temporary file.
    pub fn spool_in_memory(mut self, bytes: usize) -> Self {
        self.spool_in_memory = bytes;
        self
    }
}

#[derive(Default)]
struct State {
    saw_sed: bool,
    tried_decrypt: bool,
    session_key_found: bool,
    key_locked: Option<String>,
    encrypted: bool,
    decrypted_with: Option<String>,
    sigs: Vec<SignerInfo>,
}

struct Helper {
    keys: Vec<Cert>,
    key_passphrases: Vec<Password>,
    passwords: Vec<Password>,
    certs: Vec<Cert>,
    state: Arc<Mutex<State>>,
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Helper {
    fn new(opts: &DecryptOptions, state: Arc<Mutex<State>>) -> Self {
        let mut certs = opts.verify_with.clone();
        certs.extend(
            opts.keys
                .iter()
                .map(|k| k.clone().strip_secret_key_material()),
        );
        Helper {
            keys: opts.keys.clone(),
            key_passphrases: opts.key_passphrases.clone(),
            passwords: opts.passwords.clone(),
            certs,
            state,
        }
    }
}

fn secs(t: std::time::SystemTime) -> Option<i64> {
    t.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

fn signer_info(
    status: SignatureStatus,
    cert: Option<&Cert>,
    sig: Option<&openpgp::packet::Signature>,
) -> SignerInfo {
    let mut si = SignerInfo::new(Scheme::OpenPgp, status);
    if let Some(c) = cert {
        si.fingerprint = Some(c.fingerprint().to_hex());
        si.identity = primary_userid(c);
        si.addresses = emails(c);
    } else if let Some(sig) = sig {
        si.fingerprint = sig
            .issuer_fingerprints()
            .next()
            .map(|f| f.to_hex())
            .or_else(|| sig.issuers().next().map(|k| k.to_hex()));
    }
    if let Some(sig) = sig {
        si.signed_at = sig.signature_creation_time().and_then(secs);
    }
    si.covers.push(String::new());
    si
}

/// Classifies a key that sequoia found unusable for a signature.
fn key_status(cert: &Cert, key_revoked: bool, key_alive: bool) -> SignatureStatus {
    let cert_revoked = matches!(
        cert.revocation_status(policy(), None),
        RevocationStatus::Revoked(_)
    );
    if key_revoked || cert_revoked {
        SignatureStatus::Revoked
    } else if !key_alive {
        SignatureStatus::Expired
    } else {
        SignatureStatus::Error
    }
}

impl VerificationHelper for Helper {
    fn inspect(&mut self, pp: &PacketParser) -> openpgp::Result<()> {
        if pp.packet.tag() == Tag::SED {
            lock(&self.state).saw_sed = true;
            return Err(anyhow::anyhow!("SED packet refused"));
        }
        Ok(())
    }

    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.clone())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        let mut st = lock(&self.state);
        for layer in structure {
            match layer {
                MessageLayer::Encryption { .. } => st.encrypted = true,
                MessageLayer::Compression { .. } => {}
                MessageLayer::SignatureGroup { results } => {
                    for r in results {
                        let si = match r {
                            Ok(good) => signer_info(
                                SignatureStatus::Good,
                                Some(good.ka.cert()),
                                Some(good.sig),
                            ),
                            Err(VerificationError::MissingKey { sig }) => {
                                signer_info(SignatureStatus::UnknownKey, None, Some(sig))
                            }
                            Err(VerificationError::BadSignature { sig, ka, error }) => {
                                let mut si =
                                    signer_info(SignatureStatus::Bad, Some(ka.cert()), Some(sig));
                                si.detail = Some(error.to_string());
                                si
                            }
                            Err(VerificationError::BadKey { sig, ka, error }) => {
                                let revoked =
                                    matches!(ka.revocation_status(), RevocationStatus::Revoked(_));
                                let st = key_status(ka.cert(), revoked, ka.alive().is_ok());
                                let mut si = signer_info(st, Some(ka.cert()), Some(sig));
                                si.detail = Some(error.to_string());
                                si
                            }
                            Err(VerificationError::UnboundKey { sig, cert, error }) => {
                                let alive = cert
                                    .with_policy(policy(), None)
                                    .map(|vc| vc.alive().is_ok())
                                    .unwrap_or(true);
                                let st = key_status(cert, false, alive);
                                let mut si = signer_info(st, Some(cert), Some(sig));
                                si.detail = Some(error.to_string());
                                si
                            }
                            Err(VerificationError::MalformedSignature { sig, error }) => {
                                let mut si = signer_info(SignatureStatus::Error, None, Some(sig));
                                si.detail = Some(error.to_string());
                                si
                            }
                            Err(e) => {
                                let mut si = signer_info(SignatureStatus::Error, None, None);
                                si.detail = Some(e.to_string());
                                si
                            }
                        };
                        st.sigs.push(si);
                    }
                }
            }
        }
        Ok(())
    }
}

impl DecryptionHelper for Helper {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        let mut st = lock(&self.state);
        st.tried_decrypt = true;
        for pkesk in pkesks {
            let want = pkesk.recipient();
            for cert in &self.keys {
                // Any encryption-capable secret key bound by a valid signature: expiry and
                // revocation stop encryption *to* a key, not decryption of what was sent.
                let Ok(vc) = cert.with_policy(policy(), None) else {
                    continue;
                };
                for ka in vc
                    .keys()
                    .secret()
                    .for_transport_encryption()
                    .for_storage_encryption()
                {
                    if let Some(w) = &want
                        && !ka.key().key_handle().aliases(w)
                    {
                        continue;
                    }
                    let Some(mut kp) = unlock(ka.key().clone(), &self.key_passphrases) else {
                        st.key_locked = Some(cert.fingerprint().to_hex());
                        continue;
                    };
                    if let Some((algo, sk)) = pkesk.decrypt(&mut kp, sym_algo)
                        && decrypt(algo, &sk)
                    {
                        st.session_key_found = true;
                        st.decrypted_with = Some(cert.fingerprint().to_hex());
                        return Ok(Some(cert.clone()));
                    }
                }
            }
        }
        // Every password tried on a SKESK is one run of its S2K, whose cost the sender chose:
        // up to 65,011,712 bytes hashed (about 0.2 s here) or an Argon2 run within core's
        // limits, per 15-byte packet. A message may carry thousands of packets, so the runs
        // per message are budgeted; a message that needs more cannot be opened by password.
        let mut budget = MAX_S2K_RUNS;
        for skesk in skesks {
            if !self.passwords.is_empty() && !s2k_within_limits(skesk) {
                continue;
            }
            for pw in &self.passwords {
                if budget == 0 {
                    return Err(anyhow::anyhow!(
                        "the message asks for more than {MAX_S2K_RUNS} password derivations"
                    ));
                }
                budget -= 1;
                if let Ok((algo, sk)) = skesk.decrypt(pw)
                    && decrypt(algo, &sk)
                {
                    st.session_key_found = true;
                    st.decrypted_with = Some("password".into());
                    return Ok(None);
                }
            }
        }
        Err(anyhow::anyhow!("no key or password opens the message"))
    }
}

/// How many S2K runs (password × password packet) one message may cost. A sender encrypting
/// to several passwords writes one SKESK for each; eight covers any real message tried with a
/// few passwords, and bounds an attacker's packets to about eight maximal S2K runs.
pub const MAX_S2K_RUNS: usize = 8;

/// Whether a password packet's Argon2 parameters (chosen by the sender, who may be an
/// attacker) stay within core's [`Limits`](secmail_core::Limits) for passphrase
/// containers; sequoia itself accepts up to 2 TiB of memory and 255 passes.
fn s2k_within_limits(skesk: &SKESK) -> bool {
    let s2k = match skesk {
        SKESK::V4(s) => s.s2k(),
        SKESK::V6(s) => s.s2k(),
        _ => return true,
    };
    let lim = secmail_core::Limits::default();
    match s2k {
        openpgp::crypto::S2K::Argon2 { t, p, m, .. } => {
            let mem_kib = 1u64.checked_shl(u32::from(*m)).unwrap_or(u64::MAX);
            mem_kib <= lim.max_kdf_memory_kib as u64
                && usize::from(*t) <= lim.max_kdf_passes
                && usize::from(*p) <= lim.max_kdf_lanes
        }
        _ => true,
    }
}

fn classify(st: &State, what: &'static str, e: anyhow::Error) -> Error {
    if st.saw_sed {
        return Error::NoIntegrityProtection;
    }
    if let Some(io) = e.downcast_ref::<io::Error>()
        && io.kind() != io::ErrorKind::InvalidData
        && io.kind() != io::ErrorKind::UnexpectedEof
        && io.kind() != io::ErrorKind::Other
    {
        return Error::Io(io::Error::new(io.kind(), io.to_string()));
    }
    if st.session_key_found {
        Error::Integrity
    } else if let Some(fpr) = &st.key_locked {
        Error::KeyLocked {
            fingerprint: fpr.clone(),
        }
    } else if st.tried_decrypt {
        Error::CannotDecrypt
    } else {
        Error::malformed_any(what, e)
    }
}

fn verdict_of(st: &State, from: Option<String>) -> Verdict {
    let mut v = Verdict::new(from);
    let mut part = PartProtection::new("");
    part.encrypted = st.encrypted;
    if st.encrypted {
        part.scheme = Some(Scheme::OpenPgp);
        part.decrypted_with = st.decrypted_with.clone();
    }
    v.parts.push(part);
    for s in &st.sigs {
        v.add_signature(s.clone());
    }
    v
}

/// Decrypts (or, for a signed-only message, just reads) an OpenPGP message from `input` and
/// verifies its signatures, writing the plaintext to `output` only once everything checked.
///
/// The returned [`Verdict`] has one part (path `""`, the whole plaintext): whether it was
/// encrypted and with which key (or `"password"`), and every signature found. A message that
/// is not encrypted at all comes back with `encrypted == false`: callers that require
/// encryption check [`Verdict::is_fully_encrypted`].
pub fn decrypt_stream<R: Read + Send + Sync, W: Write>(
    input: R,
    output: W,
    opts: &DecryptOptions,
) -> Result<Verdict> {
    // sequoia-openpgp 2.4.2 panics on some crafted SEIPDv1 bodies (an `unwrap` in its packet
    // parser; inputs in fuzz/known-crashes). Hostile mail must not take down the caller's
    // thread, so the panic is contained here and reported as a failed integrity check. Nothing
    // reaches `output` before every check passed, so a contained panic releases nothing.
    // (A build with `panic = "abort"` cannot contain it; see docs/security.md.)
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decrypt_stream_unguarded(input, output, opts, false)
    }))
    .unwrap_or(Err(Error::Integrity))
}

/// Like [`decrypt_stream`], for a caller whose output is a file that nothing reads and that
/// is discarded unless this returns `Ok` (a temporary file renamed into place only on
/// success, as `secmail pgp decrypt --out` does). The literal data of an unsigned SEIPDv1
/// message is then written into `file` as it is decrypted instead of being spooled and
/// copied after the MDC check: one write and one read of the whole plaintext less (perf on
/// 64 MiB: about a fifth of the process). Every check is the same and made before `Ok`; on
/// any error `file` is emptied ([`Discard::discard`](crate::Discard): a
/// [`File`](std::fs::File) is truncated to nothing) before this returns, and the caller must
/// then discard it. Other messages take [`decrypt_stream`]'s path unchanged.
///
/// The bytes in `file` before the call returns are unauthenticated: never hand its path to
/// anything before `Ok`.
pub fn decrypt_to_file<R: Read + Send + Sync, F: crate::Discard + Send + ?Sized>(
    input: R,
    file: &mut F,
    opts: &DecryptOptions,
) -> Result<Verdict> {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decrypt_stream_unguarded(input, &mut *file, opts, true)
    }))
    .unwrap_or(Err(Error::Integrity));
    if r.is_err() {
        // Best effort: the caller discards the file anyway.
        let _ = file.discard();
    }
    r
}

/// `direct`: the literal data may go to `output` before the checks (see [`decrypt_to_file`]).
fn decrypt_stream_unguarded<R: Read + Send + Sync, W: Write>(
    input: R,
    output: W,
    opts: &DecryptOptions,
    #[cfg_attr(not(feature = "crypto-openssl"), allow(unused_variables))] direct: bool,
) -> Result<Verdict> {
    #[cfg(feature = "crypto-openssl")]
    {
        // SEIPDv1 through our own bulk path (see `seipdv1`); anything else is replayed to
        // sequoia's Decryptor below.
        let tap = Mutex::new(fast::Tap::new(input));
        let mut output = output;
        if let Some(v) = fast::decrypt(&tap, &mut output, opts, direct)? {
            return Ok(v);
        }
        let tap = tap.into_inner().map_err(|_| Error::Integrity)?;
        decrypt_with_sequoia(tap.replay()?, output, opts)
    }
    #[cfg(not(feature = "crypto-openssl"))]
    decrypt_with_sequoia(input, output, opts)
}

fn decrypt_with_sequoia<R: Read + Send + Sync, W: Write>(
    input: R,
    output: W,
    opts: &DecryptOptions,
) -> Result<Verdict> {
    let state = Arc::new(Mutex::new(State::default()));
    let pol = MessagePolicy::default();
    let helper = Helper::new(opts, state.clone());
    let fail = |e: anyhow::Error| {
        let mut st = lock(&state);
        st.saw_sed |= pol.saw_sed.load(Ordering::Relaxed);
        classify(&st, "message", e)
    };
    let builder = DecryptorBuilder::from_reader(input)
        .map_err(fail)?
        .buffer_size(SEQUOIA_BUFFER);
    let dec = builder.with_policy(&pol, None, helper).map_err(fail)?;
    finish(dec, |d| d.message_processed(), output, opts, &state, &pol)
}

/// Reads `dec` to the end into a spool, then releases the spool to `output` if the whole
/// message was processed.
fn finish<D: Read, W: Write>(
    mut dec: D,
    processed: impl Fn(&D) -> bool,
    mut output: W,
    opts: &DecryptOptions,
    state: &Mutex<State>,
    pol: &MessagePolicy,
) -> Result<Verdict> {
    let mut spool = tempfile::SpooledTempFile::new(opts.spool_in_memory);
    let copied = io::copy(
        &mut (&mut dec).take(opts.max_plaintext.saturating_add(1)),
        &mut spool,
    );
    let n = match copied {
        Ok(n) => n,
        Err(e) => {
            let mut st = lock(state);
            st.saw_sed |= pol.saw_sed.load(Ordering::Relaxed);
            return Err(classify(&st, "message", e.into()));
        }
    };
    if n > opts.max_plaintext {
        return Err(Error::TooLarge {
            limit: opts.max_plaintext,
        });
    }
    if !processed(&dec) {
        return Err(Error::Integrity);
    }
    drop(dec);
    let verdict = verdict_of(&lock(state), opts.from.clone());
    if !opts.signers_satisfied(&verdict) {
        return Err(Error::NoGoodSignature);
    }
    spool.seek(SeekFrom::Start(0))?;
    io::copy(&mut spool, &mut output)?;
    output.flush()?;
    Ok(verdict)
}

/// The standard policy, noting whether it was asked about a packet without integrity
/// protection (which it rejects), so that the error can say so.
#[derive(Debug, Default)]
struct MessagePolicy {
    saw_sed: AtomicBool,
}

impl Policy for MessagePolicy {
    fn signature(
        &self,
        sig: &openpgp::packet::Signature,
        sec: HashAlgoSecurity,
    ) -> openpgp::Result<()> {
        policy().signature(sig, sec)
    }
    fn key(
        &self,
        ka: &ValidErasedKeyAmalgamation<openpgp::packet::key::PublicParts>,
    ) -> openpgp::Result<()> {
        policy().key(ka)
    }
    fn symmetric_algorithm(&self, algo: SymmetricAlgorithm) -> openpgp::Result<()> {
        policy().symmetric_algorithm(algo)
    }
    fn aead_algorithm(&self, algo: AEADAlgorithm) -> openpgp::Result<()> {
        policy().aead_algorithm(algo)
    }
    fn packet(&self, packet: &openpgp::Packet) -> openpgp::Result<()> {
        if packet.tag() == Tag::SED {
            self.saw_sed.store(true, Ordering::Relaxed);
        }
        policy().packet(packet)
    }
}

/// Decrypts and verifies a message in one call.
pub fn decrypt(message: &[u8], opts: &DecryptOptions) -> Result<(Vec<u8>, Verdict)> {
    let mut out = Vec::new();
    let v = decrypt_stream(message, &mut out, opts)?;
    Ok((out, v))
}

/// Verifies an inline-signed or cleartext-signed message from `input`, writing its content
/// to `output` once every signature was evaluated (the content is released whatever the
/// signatures' status: check the returned [`Verdict`]). An encrypted message is refused.
pub fn verify_stream<R: Read + Send + Sync, W: Write>(
    input: R,
    output: W,
    certs: &[Cert],
    from: Option<String>,
) -> Result<Verdict> {
    let state = Arc::new(Mutex::new(State::default()));
    let pol = MessagePolicy::default();
    let opts = DecryptOptions::new()
        .verify_with_all(certs.iter().cloned())
        .from(from);
    let helper = Helper::new(&opts, state.clone());
    let fail = |e: anyhow::Error| classify(&lock(&state), "signed message", e);
    let v = VerifierBuilder::from_reader(input)
        .map_err(fail)?
        .buffer_size(SEQUOIA_BUFFER)
        .with_policy(&pol, None, helper)
        .map_err(fail)?;
    finish(v, |v| v.message_processed(), output, &opts, &state, &pol)
}

/// Verifies an inline-signed or cleartext-signed message in one call, returning its content
/// and the verdict.
pub fn verify(message: &[u8], certs: &[Cert], from: Option<String>) -> Result<(Vec<u8>, Verdict)> {
    let mut out = Vec::new();
    let v = verify_stream(message, &mut out, certs, from)?;
    Ok((out, v))
}

/// Verifies a detached signature (armored or binary) over the data read from `data`.
pub fn verify_detached_stream<R: Read + Send + Sync>(
    data: R,
    signature: &[u8],
    certs: &[Cert],
    from: Option<String>,
) -> Result<Verdict> {
    let state = Arc::new(Mutex::new(State::default()));
    let opts = DecryptOptions::new().verify_with_all(certs.iter().cloned());
    let helper = Helper::new(&opts, state.clone());
    let mut v = DetachedVerifierBuilder::from_bytes(signature)
        .map_err(|e| Error::malformed_any("signature", e))?
        .with_policy(policy(), None, helper)
        .map_err(|e| Error::malformed_any("signature", e))?;
    v.verify_reader(data)
        .map_err(|e| classify(&lock(&state), "signature", e))?;
    drop(v);
    let st = lock(&state);
    let mut verdict = verdict_of(&st, from);
    verdict.parts[0].encrypted = false;
    Ok(verdict)
}

/// Verifies a detached signature over `data` in one call.
pub fn verify_detached(
    data: &[u8],
    signature: &[u8],
    certs: &[Cert],
    from: Option<String>,
) -> Result<Verdict> {
    verify_detached_stream(data, signature, certs, from)
}

/// The SEIPDv1 fast path: the message's packet framing is read here (`framing`), the ESK
/// packets are parsed by sequoia and the session key recovered as on sequoia's path;
/// `seipdv1` decrypts, the MDC is hashed over the same buffers on a second thread
/// (`mdc_shared`); sequoia's `Verifier` then reads the authenticated inner packets (signatures,
/// structure) unless they are one literal packet, and only then is the literal data released.
/// See `seipdv1` for the design, and docs/security.md ("Decryption without sequoia's packet
/// parser") for the reading of the framing.
#[cfg(feature = "crypto-openssl")]
mod fast {
    use std::ops::Range;

    use super::*;
    use crate::framing::{self, BodyLen, Deframer};
    use crate::mdc_shared::{Shared, SharedMdc};
    use crate::seipdv1::{
        BLOCK, CfbDecryptor, MDC_LEN, PREFIX, aes_size, mdc_matches, quick_check,
    };
    use openpgp::Packet;
    use openpgp::parse::{Dearmor, PacketParserBuilder, PacketParserResult};

    /// How much input is read at a time before the session key is known (it is recorded for
    /// a replay to sequoia).
    const PRE_READ: usize = 16 * 1024;
    /// The largest session-key (or marker) packet body read here; larger ones go to sequoia's
    /// path. (A PKESK v6 with the largest post-quantum algorithms is under 2 KiB.)
    const MAX_ESK: usize = 16 * 1024;
    /// The most session-key packets (and markers) one message may have.
    const MAX_ESK_PACKETS: usize = 1000;
    /// A body part at least this large is read in place up to its end (see the bulk loop).
    const BIG_PART: usize = 64 * 1024;
    /// How much input is kept for a replay to sequoia while the ESK packets are read.
    const MAX_REPLAY: usize = 4 * 1024 * 1024;
    /// Bulk buffer (a multiple of the AES block size).
    const BUF: usize = 256 * 1024;
    /// What the inner packet stream may add to the literal data (headers, signatures) before
    /// the plaintext bound applies to the spool itself.
    const INNER_SLACK: u64 = 1024 * 1024;

    /// The caller's input, recording what is read until the fast path commits, so that a
    /// message it does not handle can be replayed to sequoia.
    pub(super) struct Tap<R> {
        input: R,
        recording: bool,
        recorded: Vec<u8>,
        overflow: bool,
    }

    impl<R: Read> Tap<R> {
        pub(super) fn new(input: R) -> Self {
            Tap {
                input,
                recording: true,
                recorded: Vec::new(),
                overflow: false,
            }
        }

        /// What was read, followed by the rest of the input.
        pub(super) fn replay(self) -> Result<io::Chain<io::Cursor<Vec<u8>>, R>> {
            if self.overflow {
                return Err(Error::malformed(
                    "message",
                    "more than 4 MiB of session-key packets",
                ));
            }
            Ok(io::Cursor::new(self.recorded).chain(self.input))
        }
    }

    struct TapReader<'t, R>(&'t Mutex<Tap<R>>);

    impl<R: Read> Read for TapReader<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut t = self
                .0
                .lock()
                .map_err(|_| io::Error::other("input lock poisoned"))?;
            let n = t.input.read(buf)?;
            if t.recording {
                if t.recorded.len() + n > MAX_REPLAY {
                    t.overflow = true;
                    t.recording = false;
                    t.recorded = Vec::new();
                } else {
                    t.recorded.extend_from_slice(&buf[..n]);
                }
            }
            Ok(n)
        }
    }

    fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Copies `r` to `w` through a large buffer, failing past `limit` bytes.
    fn drain(r: &mut impl Read, w: &mut impl Write, limit: u64) -> Result<u64> {
        let mut buf = vec![0u8; 256 * 1024];
        let mut total: u64 = 0;
        loop {
            let n = read_full(r, &mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
            if total > limit {
                return Err(Error::TooLarge { limit });
            }
            w.write_all(&buf[..n])?;
        }
    }

    /// The Literal Data packet of an unsigned message (what gpg, sq and we write without
    /// signing), taken apart while it is decrypted: only its data goes to the spool, so that
    /// once the MDC checked the spool is released as it is, instead of sequoia parsing the
    /// whole spool twice (perf on 64 MiB: two more reads of the spool and xxh3 body hashing,
    /// a third of the process). It accepts what the former check accepted: exactly one
    /// literal packet, complete, nothing after it (new-format lengths, partial or not, and
    /// old-format lengths, indeterminate included).
    ///
    /// No oracle: this runs *before* the MDC is checked, so a malformed structure is never an
    /// early error (that would be a format oracle on the plaintext): it is noted, the rest is
    /// spooled like data, and it fails as [`Error::Integrity`] after the MDC check, exactly
    /// like a wrong MDC.
    #[derive(Default)]
    struct Literal {
        /// The structure was not one complete literal packet (reported after the MDC check).
        bad: bool,
        /// The packet's CTB, once seen.
        ctb: Option<u8>,
        /// The length header being read: its bytes so far and how many it has.
        len_buf: [u8; 5],
        len_have: usize,
        /// Reading a length header (else inside a body segment).
        in_len: bool,
        /// Bytes left in the current body segment, and whether it is the last one.
        seg_left: u64,
        seg_last: bool,
        /// An old-format packet of indeterminate length: the body runs to the end.
        indeterminate: bool,
        /// The packet ended (its last segment was read).
        done: bool,
        /// The literal header (format, file name length, file name, date) read so far, and
        /// whether it is complete.
        head: Vec<u8>,
        head_done: bool,
        /// Literal data bytes spooled.
        data: u64,
    }

    impl Literal {
        /// Feeds decrypted inner-stream bytes; literal data goes to `spool`.
        fn feed(&mut self, mut p: &[u8], spool: &mut dyn Write) -> Result<()> {
            while !p.is_empty() {
                if self.done {
                    // Something after the literal packet.
                    self.bad = true;
                }
                if self.bad {
                    spool.write_all(p)?;
                    return Ok(());
                }
                let Some(ctb) = self.ctb else {
                    let ctb = p[0];
                    p = &p[1..];
                    if ctb & 0x80 == 0 || !literal_only(ctb) {
                        self.bad = true;
                        continue;
                    }
                    self.ctb = Some(ctb);
                    if ctb & 0x40 == 0 && ctb & 0x03 == 3 {
                        self.indeterminate = true;
                    } else {
                        self.in_len = true;
                    }
                    continue;
                };
                if self.in_len {
                    self.len_buf[self.len_have] = p[0];
                    self.len_have += 1;
                    p = &p[1..];
                    let first = self.len_buf[0];
                    let new = ctb & 0x40 != 0;
                    let need = if new {
                        match first {
                            0..=191 | 224..=254 => 1,
                            192..=223 => 2,
                            255 => 5,
                        }
                    } else {
                        [1, 2, 4][usize::from(ctb & 0x03).min(2)]
                    };
                    if self.len_have < need {
                        continue;
                    }
                    let b = &self.len_buf;
                    let (len, last) = if !new {
                        let mut v = 0u64;
                        for x in &b[..need] {
                            v = (v << 8) | u64::from(*x);
                        }
                        (v, true)
                    } else {
                        match first {
                            0..=191 => (u64::from(first), true),
                            192..=223 => (
                                ((u64::from(first) - 192) << 8) + u64::from(b[1]) + 192,
                                true,
                            ),
                            255 => (
                                u64::from(u32::from_be_bytes([b[1], b[2], b[3], b[4]])),
                                true,
                            ),
                            _ => (1u64 << (first & 0x1F), false),
                        }
                    };
                    self.in_len = false;
                    self.len_have = 0;
                    self.seg_left = len;
                    self.seg_last = last;
                    if len == 0 && last {
                        self.done = true;
                    }
                    continue;
                }
                let take = if self.indeterminate {
                    p.len()
                } else {
                    p.len()
                        .min(usize::try_from(self.seg_left).unwrap_or(usize::MAX))
                };
                self.body(&p[..take], spool)?;
                p = &p[take..];
                if !self.indeterminate {
                    self.seg_left -= take as u64;
                    if self.seg_left == 0 {
                        if self.seg_last {
                            self.done = true;
                        } else {
                            self.in_len = true;
                        }
                    }
                }
            }
            Ok(())
        }

        /// Body bytes: the literal header first, then the data.
        fn body(&mut self, mut p: &[u8], spool: &mut dyn Write) -> Result<()> {
            if !self.head_done {
                // format (1), file name length (1), file name, date (4)
                let need = match self.head.get(1) {
                    Some(&n) => 2 + usize::from(n) + 4,
                    None => 2,
                };
                let k = (need - self.head.len()).min(p.len());
                self.head.extend_from_slice(&p[..k]);
                p = &p[k..];
                if self.head.len() < need {
                    return Ok(());
                }
                if need == 2 {
                    // The file name length just arrived: read the rest of the header.
                    return self.body(p, spool);
                }
                self.head_done = true;
            }
            if p.is_empty() {
                return Ok(());
            }
            self.data += p.len() as u64;
            spool.write_all(p)?;
            Ok(())
        }

        /// Whether exactly one complete literal packet was read.
        fn complete(&self) -> bool {
            !self.bad && self.head_done && (self.done || self.indeterminate)
        }
    }

    /// What the inner packet stream is: decided by its first byte.
    enum Inner {
        Unknown,
        /// A literal packet, taken apart on the fly ([`Literal`]).
        Literal(Literal),
        /// Anything else (signed, compressed): spooled whole for sequoia's `Verifier`.
        Packets,
    }

    /// The plaintext after the prefix goes to the spool (or, for literal data, to the direct
    /// output); hashing is the caller's ([`SharedMdc`], over the same buffers).
    struct Sink<'s> {
        inner: Inner,
        spool: &'s mut tempfile::SpooledTempFile,
        /// Where literal data goes instead of the spool (see [`decrypt_to_file`]).
        direct: Option<&'s mut dyn Write>,
        skip: usize,
        spooled: u64,
        limit: u64,
    }

    impl Sink<'_> {
        fn release(&mut self, data: &[u8]) -> Result<()> {
            let k = self.skip.min(data.len());
            self.skip -= k;
            let data = &data[k..];
            if data.is_empty() {
                return Ok(());
            }
            if let Inner::Unknown = self.inner {
                self.inner = if data[0] & 0x80 != 0 && literal_only(data[0]) {
                    Inner::Literal(Literal::default())
                } else {
                    Inner::Packets
                };
            }
            // The bound counts every inner byte whatever the structure (no oracle: the
            // structure is judged only after the MDC).
            self.spooled += data.len() as u64;
            if self.spooled > self.limit {
                return Err(Error::TooLarge {
                    limit: self.limit - INNER_SLACK,
                });
            }
            if let Inner::Literal(lit) = &mut self.inner {
                return match self.direct.as_deref_mut() {
                    Some(out) => lit.feed(data, out),
                    None => lit.feed(data, &mut *self.spool),
                };
            }
            self.spool.write_all(data)?;
            Ok(())
        }
    }

    /// Hands the decrypted `buf[range]` to the hasher and then to `sink`, holding the last
    /// [`MDC_LEN`] bytes of the plaintext back in `held` (the MDC packet, once the body ends):
    /// everything before them is hashed and released in order.
    fn consume(
        sink: &mut Sink<'_>,
        mdc: &mut SharedMdc,
        held: &mut Vec<u8>,
        buf: &Shared,
        range: Range<usize>,
    ) -> Result<()> {
        let p = buf.get(range.clone()).ok_or(Error::Integrity)?;
        if p.len() >= MDC_LEN {
            let cut = range.end - MDC_LEN;
            // Hashing first: the thread works while the main thread writes.
            mdc.hash(held, buf, range.start..cut)?;
            sink.release(held)?;
            sink.release(&buf[range.start..cut])?;
            held.clear();
            held.extend_from_slice(&buf[cut..range.end]);
        } else {
            held.extend_from_slice(p);
            let extra = held.len().saturating_sub(MDC_LEN);
            let head: Vec<u8> = held.drain(..extra).collect();
            mdc.hash(&head, buf, 0..0)?;
            sink.release(&head)?;
        }
        Ok(())
    }

    /// Whether a packet starting with `ctb` is a Literal Data packet (tag 11).
    fn literal_only(ctb: u8) -> bool {
        let tag = if ctb & 0x40 != 0 {
            ctb & 0x3F
        } else {
            (ctb >> 2) & 0x0F
        };
        tag == 11
    }

    /// One `read` call, retried on `Interrupted`.
    fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match r.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    /// Appends up to [`PRE_READ`] bytes of `src` to `pre`; how many (0 at the end).
    fn read_more(src: &mut dyn Read, pre: &mut Vec<u8>) -> io::Result<usize> {
        if pre.len() >= MAX_REPLAY {
            return Err(io::Error::other("more than 4 MiB of session-key packets"));
        }
        let old = pre.len();
        pre.resize(old + PRE_READ, 0);
        let r = read_some(src, &mut pre[old..]);
        pre.truncate(old + *r.as_ref().unwrap_or(&0));
        r
    }

    /// `Ok(None)`: not a message for this path (nothing was released; replay it to sequoia).
    pub(super) fn decrypt<R: Read + Send + Sync, W: Write>(
        tap: &Mutex<Tap<R>>,
        output: &mut W,
        opts: &DecryptOptions,
        direct: bool,
    ) -> Result<Option<Verdict>> {
        // Binary or ASCII armor, decided as sequoia's parser decides: a packet header (CTB
        // high bit set) is binary, anything else is tried as armor.
        let mut lead = [0u8; 1];
        match read_full(&mut TapReader(tap), &mut lead) {
            Ok(1) => {}
            _ => return Ok(None),
        }
        let mut pre: Vec<u8> = Vec::with_capacity(PRE_READ);
        let mut binary;
        let mut armored;
        let src: &mut dyn Read = if lead[0] & 0x80 != 0 {
            pre.push(lead[0]);
            binary = TapReader(tap);
            &mut binary
        } else {
            armored = openpgp::armor::Reader::from_reader(
                io::Cursor::new(lead).chain(TapReader(tap)),
                openpgp::armor::ReaderMode::default(),
            );
            &mut armored
        };

        // The session-key packets (and markers), each read whole (bounded) and parsed by
        // sequoia, up to the SEIP packet's header. Anything else: not for this path.
        let mut pkesks = Vec::new();
        let mut skesks = Vec::new();
        let mut packets = 0;
        let mut pos = 0;
        let seip = loop {
            let h = match framing::header(&pre[pos..]) {
                Ok(Some(h)) => h,
                Ok(None) => match read_more(src, &mut pre) {
                    Ok(0) | Err(_) => return Ok(None),
                    Ok(_) => continue,
                },
                Err(_) => return Ok(None),
            };
            match h.tag {
                1 | 3 | 10 => {
                    let BodyLen::Definite(len) = h.len else {
                        return Ok(None);
                    };
                    if len as usize > MAX_ESK {
                        return Ok(None);
                    }
                    packets += 1;
                    if packets > MAX_ESK_PACKETS {
                        return Err(Error::malformed(
                            "message",
                            "more than 1000 session-key packets",
                        ));
                    }
                    let end = pos + h.size + len as usize;
                    while pre.len() < end {
                        match read_more(src, &mut pre) {
                            Ok(0) | Err(_) => return Ok(None),
                            Ok(_) => {}
                        }
                    }
                    let body = &pre[pos + h.size..end];
                    match h.tag {
                        1 => match PKESK::from_bytes(body) {
                            Ok(p) => pkesks.push(p),
                            Err(_) => return Ok(None),
                        },
                        3 => match SKESK::from_bytes(body) {
                            Ok(s) => skesks.push(s),
                            Err(_) => return Ok(None),
                        },
                        _ if body == b"PGP" => {}
                        _ => return Ok(None),
                    }
                    pos = end;
                }
                18 => break h,
                // SED (refused by sequoia's path), AEAD, compressed or literal data, and
                // anything unknown.
                _ => return Ok(None),
            }
        };
        if pkesks.is_empty() && skesks.is_empty() {
            return Ok(None);
        }

        // The SEIP body, out of its framing: buf[BLOCK - 1] is the version byte, the
        // ciphertext follows from buf[BLOCK] (buf[..BLOCK] is the CFB IV, zeros).
        let mut deframer = Deframer::new(seip.len);
        let mut trailing = false;
        let mut buf = vec![0u8; BLOCK + BUF];
        let base = BLOCK - 1;
        let rest = pre.get(pos + seip.size..).unwrap_or_default();
        let Some(dst) = buf.get_mut(base..base + rest.len()) else {
            return Ok(None);
        };
        dst.copy_from_slice(rest);
        let (mut filled, used) = deframer.deframe(dst);
        trailing |= used < rest.len();
        let need = 1 + PREFIX + MDC_LEN;
        while filled < need && !deframer.done() {
            let end = (base + filled + PRE_READ).min(buf.len());
            let n = match read_some(src, &mut buf[base + filled..end]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (d, used) = deframer.deframe(&mut buf[base + filled..base + filled + n]);
            filled += d;
            trailing |= used < n;
        }
        match buf[base..base + filled].first() {
            Some(1) => {}
            _ => return Ok(None),
        }
        // No SEIPDv1 body is shorter than its prefix and MDC. Refusing that here also keeps
        // such packets away from sequoia's parser, which panics on them (fuzz/known-crashes)
        // when they are replayed (non-AES ciphers).
        if filled < need {
            return Err(Error::malformed(
                "message",
                "encrypted packet shorter than its prefix and MDC",
            ));
        }
        let mut first = [0u8; PREFIX];
        first.copy_from_slice(&buf[BLOCK..BLOCK + PREFIX]);

        // The session key, chosen exactly as on sequoia's path (the quick-check bytes pick
        // among candidates; they are never an error of their own).
        let state = Arc::new(Mutex::new(State::default()));
        let mut helper = Helper::new(opts, state.clone());
        let mut found = None;
        let mut unsupported = false;
        let r = helper.decrypt(&pkesks, &skesks, None, &mut |algo, sk| {
            let Some(algo) = algo else {
                return false;
            };
            let size = match (policy().symmetric_algorithm(algo), aes_size(algo)) {
                (Ok(()), Some(size)) => size,
                _ => {
                    unsupported = true;
                    return false;
                }
            };
            if algo.key_size().ok() != Some(sk.len()) || !quick_check(size, sk, &first) {
                return false;
            }
            found = Some((size, sk.clone()));
            true
        });
        let Some((size, sk)) = found else {
            if unsupported {
                return Ok(None);
            }
            let e = r.err().unwrap_or_else(|| anyhow::anyhow!("no session key"));
            return Err(classify(&lock(&state), "message", e));
        };
        drop(helper);
        {
            let mut t = tap.lock().map_err(|_| Error::Integrity)?;
            t.recording = false;
            t.recorded = Vec::new();
        }
        drop(pre);
        buf[base] = 0;
        let mut len = filled - 1;

        let fail = |e: io::Error| classify(&lock(&state), "message", e.into());
        let mut spool = tempfile::SpooledTempFile::new(opts.spool_in_memory);
        let mut sink = Sink {
            inner: Inner::Unknown,
            spool: &mut spool,
            direct: if direct {
                Some(&mut *output as &mut dyn Write)
            } else {
                None
            },
            skip: PREFIX,
            spooled: 0,
            limit: opts.max_plaintext.saturating_add(INNER_SLACK),
        };
        let mut mdc = SharedMdc::new(1)?;
        let mut held = Vec::with_capacity(2 * MDC_LEN);
        let mut dec = CfbDecryptor::new(size, &sk)?;
        let mut first_buffer = true;
        loop {
            // Fill the buffer (BUF bytes of ciphertext, a multiple of the block size) or
            // reach the end of the body.
            while len < BUF && !deframer.done() {
                let space = BUF.saturating_sub(len);
                // Within a large part, read to its end and the next length header only: the
                // body then lands in place (no compaction); small parts are compacted.
                let want = match deframer.part_left() {
                    Some(left) if left >= BIG_PART => space.min(left + 5),
                    _ => space,
                };
                let at = BLOCK + len;
                let n = read_some(src, &mut buf[at..at + want]).map_err(fail)?;
                if n == 0 {
                    // Truncated.
                    return Err(Error::Integrity);
                }
                let (d, used) = deframer.deframe(&mut buf[at..at + n]);
                len += d;
                trailing |= used < n;
            }
            if trailing {
                // Nothing may follow the encrypted packet: the message was ESK packets (and
                // markers) and this one SEIP packet, which is the grammar of an encrypted
                // message.
                return Err(Error::Integrity);
            }
            let last = deframer.done();
            dec.decrypt(&mut buf[..BLOCK + len])?;
            let mut iv = [0u8; BLOCK];
            iv.copy_from_slice(&buf[..BLOCK]);
            if first_buffer && !last {
                mdc.parallel()?;
            }
            first_buffer = false;
            let shared = Arc::new(buf);
            consume(&mut sink, &mut mdc, &mut held, &shared, BLOCK..BLOCK + len)?;
            mdc.recycle(shared);
            if last {
                break;
            }
            buf = mdc.buffer(BLOCK + BUF)?;
            buf[..BLOCK].copy_from_slice(&iv);
            len = 0;
        }
        // The end of the input must follow.
        let mut probe = [0u8; 1];
        if read_some(src, &mut probe).map_err(fail)? != 0 {
            return Err(Error::Integrity);
        }
        let Ok(tail) = <[u8; MDC_LEN]>::try_from(held.as_slice()) else {
            return Err(Error::Integrity);
        };
        if sink.skip > 0 {
            return Err(Error::Integrity);
        }
        let digest = mdc.finish(&tail[..2])?;
        if !mdc_matches(&tail, &digest) {
            return Err(Error::Integrity);
        }
        let inner = sink.inner;
        lock(&state).encrypted = true;

        if let Inner::Literal(lit) = inner {
            // Authenticated, and exactly one complete literal packet: the spool is its data.
            if !lit.complete() {
                return Err(Error::Integrity);
            }
            if lit.data > opts.max_plaintext {
                return Err(Error::TooLarge {
                    limit: opts.max_plaintext,
                });
            }
            let verdict = verdict_of(&lock(&state), opts.from.clone());
            if !opts.signers_satisfied(&verdict) {
                return Err(Error::NoGoodSignature);
            }
            if !direct {
                spool.seek(SeekFrom::Start(0))?;
                crate::encrypt::copy_large(&mut spool, output)?;
            }
            output.flush()?;
            return Ok(Some(verdict));
        }

        // Pass 1: the authenticated inner packets through sequoia's Verifier (structure,
        // signatures, decompression bounded), releasing nothing.
        spool.seek(SeekFrom::Start(0))?;
        let mut lead = [0u8; 1];
        if spool.read(&mut lead)? != 1 || lead[0] & 0x80 == 0 {
            // Not a packet (the Verifier would try to dearmor it; sequoia's Decryptor never
            // does inside an encrypted packet).
            return Err(Error::Integrity);
        }
        spool.seek(SeekFrom::Start(0))?;
        let pol = MessagePolicy::default();
        // (A bare literal packet took the path above; this is signed or compressed data.)
        {
            let helper = Helper::new(opts, state.clone());
            let fail = |e: anyhow::Error| classify(&lock(&state), "message", e);
            let mut v = VerifierBuilder::from_reader(&mut spool)
                .map_err(fail)?
                .buffer_size(SEQUOIA_BUFFER)
                .with_policy(&pol, None, helper)
                .map_err(fail)?;
            drain(&mut v, &mut io::sink(), opts.max_plaintext).map_err(|e| match e {
                Error::Io(e) => fail(e.into()),
                e => e,
            })?;
            if !v.message_processed() {
                return Err(Error::Integrity);
            }
        }
        let verdict = verdict_of(&lock(&state), opts.from.clone());
        if !opts.signers_satisfied(&verdict) {
            return Err(Error::NoGoodSignature);
        }

        // Pass 2: release the literal data of what pass 1 accepted.
        spool.seek(SeekFrom::Start(0))?;
        let integrity = |_| Error::Integrity;
        let mut ppr = PacketParserBuilder::from_reader(&mut spool)
            .and_then(|b| {
                b.dearmor(Dearmor::Disabled)
                    .automatic_hashing(false)
                    .build()
            })
            .map_err(integrity)?;
        let mut literals = 0;
        while let PacketParserResult::Some(mut pp) = ppr {
            if let Packet::Literal(_) = pp.packet {
                literals += 1;
                if literals > 1 {
                    return Err(Error::Integrity);
                }
                drain(&mut pp, output, opts.max_plaintext)?;
            }
            ppr = pp.recurse().map_err(integrity)?.1;
        }
        output.flush()?;
        Ok(Some(verdict))
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used)]
        use super::*;

        /// Feeds `packet` in pieces of `piece` bytes; the spooled data and the verdict.
        fn run(packet: &[u8], piece: usize) -> (Vec<u8>, bool) {
            let mut spool = tempfile::SpooledTempFile::new(1 << 20);
            let mut lit = Literal::default();
            for c in packet.chunks(piece) {
                lit.feed(c, &mut spool).unwrap();
            }
            let ok = lit.complete();
            spool.seek(SeekFrom::Start(0)).unwrap();
            let mut out = Vec::new();
            spool.read_to_end(&mut out).unwrap();
            if ok {
                assert_eq!(lit.data, out.len() as u64);
            }
            (out, ok)
        }

        fn body(name: &[u8], data: &[u8]) -> Vec<u8> {
            let mut b = vec![b'b', name.len() as u8];
            b.extend_from_slice(name);
            b.extend_from_slice(&[1, 2, 3, 4]);
            b.extend_from_slice(data);
            b
        }

        #[test]
        fn literal_framings_at_every_split() {
            let data: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
            let b = body(b"name.txt", &data);
            let mut packets = Vec::new();
            // New format, partial chunks of 512 and 1024, then a two-octet definite length.
            let mut p = vec![0xCB, 0xE0 | 9];
            p.extend_from_slice(&b[..512]);
            p.push(0xE0 | 10);
            p.extend_from_slice(&b[512..1536]);
            let rest = b.len() - 1536;
            let v = rest - 192;
            p.extend_from_slice(&[((v >> 8) as u8) + 192, v as u8]);
            p.extend_from_slice(&b[1536..]);
            packets.push(p);
            // New format, five-octet length.
            let mut p = vec![0xCB, 0xFF];
            p.extend_from_slice(&(b.len() as u32).to_be_bytes());
            p.extend_from_slice(&b);
            packets.push(p);
            // New format, partial chunks ending with a zero-length part.
            let mut b2 = body(b"", &data[..1018]);
            assert_eq!(b2.len(), 1024);
            let mut p = vec![0xCB, 0xE0 | 10];
            p.append(&mut b2);
            p.push(0);
            packets.push(p);
            // Old format, two-octet length; old format, indeterminate length.
            let mut p = vec![0x80 | (11 << 2) | 1];
            p.extend_from_slice(&(b.len() as u16).to_be_bytes());
            p.extend_from_slice(&b);
            packets.push(p);
            let mut p = vec![0x80 | (11 << 2) | 3];
            p.extend_from_slice(&b);
            packets.push(p);
            for (i, p) in packets.iter().enumerate() {
                let want: &[u8] = if i == 2 { &data[..1018] } else { &data };
                for piece in [1, 2, 5, 511, 512, 513, 4096] {
                    let (out, ok) = run(p, piece);
                    assert!(ok, "packet {i}, pieces of {piece}");
                    assert_eq!(out, want, "packet {i}, pieces of {piece}");
                }
            }
        }

        #[test]
        fn decrypt_to_file_checks_everything_and_truncates_on_failure() {
            use crate::{Encoding, EncryptOptions, KeyGenOptions, encrypt, generate};
            let key = generate(&KeyGenOptions::new("T <t@example.org>"))
                .unwrap()
                .key;
            let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
            let ct = encrypt(
                &data,
                &EncryptOptions::new()
                    .recipient(&key)
                    .encoding(Encoding::Binary),
            )
            .unwrap();
            let opts = DecryptOptions::new().key(key.clone());
            let mut f = tempfile::tempfile().unwrap();
            let v = super::super::decrypt_to_file(&ct[..], &mut f, &opts).unwrap();
            assert!(v.is_fully_encrypted());
            f.seek(SeekFrom::Start(0)).unwrap();
            let mut back = Vec::new();
            f.read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
            // A flipped byte late in the data: plaintext was written before the MDC failed,
            // and the file is emptied.
            let mut bad = ct.clone();
            let i = bad.len() - 1000;
            bad[i] ^= 1;
            let mut f = tempfile::tempfile().unwrap();
            assert!(matches!(
                super::super::decrypt_to_file(&bad[..], &mut f, &opts),
                Err(Error::Integrity)
            ));
            assert_eq!(f.metadata().unwrap().len(), 0);
            // A required signer missing: nothing either.
            let other = generate(&KeyGenOptions::new("O <o@example.org>"))
                .unwrap()
                .key;
            let mut f = tempfile::tempfile().unwrap();
            assert!(matches!(
                super::super::decrypt_to_file(&ct[..], &mut f, &opts.clone().require_signer(other)),
                Err(Error::NoGoodSignature)
            ));
            assert_eq!(f.metadata().unwrap().len(), 0);
        }

        #[test]
        fn literal_structure_errors_are_noted_not_raised() {
            let b = body(b"", b"hello");
            let mut good = vec![0xCB, b.len() as u8];
            good.extend_from_slice(&b);
            assert!(run(&good, 3).1);
            // Trailing bytes after the packet.
            let mut t = good.clone();
            t.push(0xCB);
            assert!(!run(&t, 3).1);
            // Truncated in the data, in the header, in a length.
            assert!(!run(&good[..good.len() - 1], 3).1);
            assert!(!run(&good[..4], 3).1);
            assert!(!run(&[0xCB, 0xFF, 0, 0], 1).1);
            // A partial chunk with nothing after it.
            let mut p = vec![0xCB, 0xE0 | 9];
            p.extend_from_slice(&body(b"", &[0u8; 506]));
            assert!(!run(&p, 7).1);
            // Not a literal packet at all (a marker packet), and not a packet.
            assert!(!run(&[0xCA, 3, b'P', b'G', b'P'], 2).1);
            assert!(!run(b"plain text", 4).1);
        }
    }
}
