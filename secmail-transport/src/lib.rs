#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod blocking;
mod endpoint;
mod error;
mod limits;
pub mod proto;
mod tls;

pub use blocking::imap::{FetchedMessage, IdleEvent, ImapClient};
pub use blocking::pop3::Pop3Client;
pub use blocking::smtp::{Envelope, SendReport, SmtpClient};
pub use endpoint::{Endpoint, Options, Protocol, Security};
pub use error::{Error, ProtocolError, Result};
pub use limits::Limits;
pub use secrecy::SecretString;
pub use tls::TlsConfig;
