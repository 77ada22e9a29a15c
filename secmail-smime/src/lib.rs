#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ber;
mod ca;
mod certs;
mod crypto;
mod decrypt;
mod encrypt;
mod error;
mod fuzz;
mod mime;
mod oids;
mod pkcs12;
mod seal;
mod sign;
mod stream;
mod validate;
mod verify;

pub use ca::{CertUsage, CertificateAuthority, IssueOptions, KeyKind};
pub use certs::{
    KeyTransport, OaepHash, PrivateKey, SignatureAlgorithm, allows, certificate_to_pem,
    email_addresses, fingerprint, load_certificate, load_certificates, subject,
};
pub use decrypt::{Decrypted, decrypt};
pub use encrypt::{ContentCipher, EncryptOptions, encrypt};
pub use error::{Error, Result, Usage, ValidationError};
pub use mime::{
    ReadMessage, ReadOptions, encrypt_message, read_message, sign_encrypt_message, sign_message,
};
pub use pkcs12::{Pkcs12Bundle, load_pkcs12};
pub use seal::{SmimeOpener, SmimeSealer};
pub use sign::{SignOptions, sign};
pub use stream::envelope::EnvelopeWriter;
pub use stream::message::{read_message_stream, sign_encrypt_message_stream};
pub use validate::{MAX_CHAIN, Policy, check_end_entity, validate};
pub use verify::{SignerReport, SignerStatus, Verified, verify};
pub use x509_cert::Certificate;

#[doc(hidden)]
pub use fuzz::{fuzz_certificate, fuzz_chain, fuzz_cms, fuzz_decrypt, fuzz_message};
