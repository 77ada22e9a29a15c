#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod limits;
pub mod mime;
mod verdict;

#[cfg(feature = "passphrase")]
pub mod passphrase;

#[cfg(feature = "store")]
pub mod store;

pub use error::{Error, LimitKind, Result};
pub use limits::Limits;
pub use verdict::{
    HeaderProtection, HeaderProtectionForm, PartProtection, Scheme, SignatureStatus, SignerInfo,
    Verdict,
};
