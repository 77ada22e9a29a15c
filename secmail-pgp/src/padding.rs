//! Padding of RFC 9580 (SEIPDv2) messages (RFC 9580 §5.14, §10.3).
//!
//! The length of an encrypted message tells an observer the length of its plaintext to the
//! byte. When a message is written as SEIPDv2 (every recipient is a v6 or SEIPDv2-capable
//! key), a Padding packet is added inside the encryption, after the signatures (so it is not
//! signed, as RFC 9580 §10.3 suggests), bringing the encrypted content up to the next Padmé
//! bucket (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication
//! with PURBs", PETS 2019): for `L` bytes, at most `L / 2^(⌊log2 L⌋ - ⌊log2 ⌊log2 L⌋⌋ - 1)`
//! extra bytes are added, i.e. under 12 %, and only `O(log log L)` bits of the length are left.
//!
//! SEIPDv1 messages (v4 recipients, gpg 2.2) are not padded: RFC 4880 has no padding packet,
//! and gpg 2.2 refuses unknown packets.

use sequoia_openpgp as openpgp;

use openpgp::serialize::stream::Message;
use openpgp::serialize::stream::padding::{Padder, padme};

/// Puts the padding layer right under the encryptor `m`. sequoia's `Padder` writes the
/// Padding packet only when that encryptor writes RFC 9580 (SEIPDv2); otherwise it passes
/// everything through unchanged.
pub(crate) fn pad(m: Message<'_>) -> openpgp::Result<Message<'_>> {
    Padder::new(m).with_policy(padme).build()
}
