#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod autocrypt;
mod certstore;
mod decrypt;
mod encrypt;
mod error;
#[cfg(feature = "crypto-openssl")]
mod framing;
#[doc(hidden)]
pub mod fuzz;
mod keys;
#[cfg(feature = "crypto-openssl")]
mod mdc_shared;
mod mime;
mod output;
mod padding;
mod peers;
mod policy;
mod seal;
#[cfg(feature = "crypto-openssl")]
mod seipdv1;

pub use autocrypt::{
    AutocryptHeader, PreferEncrypt, add_autocrypt_header, add_gossip_headers, autocrypt_value,
    minimal_cert, parse_autocrypt, read_autocrypt, read_gossip,
};
pub use certstore::{CertStore, MAX_STORE_CERTS};
pub use decrypt::{
    DecryptOptions, MAX_S2K_RUNS, decrypt, decrypt_stream, decrypt_to_file, verify,
    verify_detached, verify_detached_stream, verify_stream,
};
pub use encrypt::{
    EncryptOptions, MessageWriter, encrypt, encrypt_stream, encrypt_writer, sign, sign_detached,
    sign_writer,
};
pub use error::{Error, Result};
pub use keys::{
    Algorithm, Encoding, GeneratedKey, KeyGenOptions, KeyProfile, MAX_CERT_SIZE, SigningKey,
    apply_revocation, emails, export_cert, export_key, export_revocation, fingerprint_hex,
    generate, primary_userid, public_cert, read_cert, read_certs,
};
pub use mime::{decrypt_mail, encrypt_mail, sign_mail, verify_mail};
pub use output::Discard;
pub use peers::{
    AUTOCRYPT_STALE, AutocryptPeers, Compose, MAX_AUTOCRYPT_KEY, MAX_AUTOCRYPT_PEERS, PeerState,
    PeerUpdate, Recommendation, effective_date,
};
pub use policy::{encryption_keys, policy};
pub use seal::{PgpOpener, PgpSealer};

/// sequoia-openpgp, re-exported for the types this API uses ([`Cert`], [`Password`]…) and for
/// what it does not wrap.
pub use sequoia_openpgp as openpgp;
pub use sequoia_openpgp::Cert;
pub use sequoia_openpgp::crypto::Password;
