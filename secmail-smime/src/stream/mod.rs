//! Streaming S/MIME: messages of any size in bounded memory (see the crate documentation,
//! "Streaming").

pub(crate) mod b64;
pub(crate) mod cipher;
pub(crate) mod envelope;
pub(crate) mod message;
