#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
// The C names (`secmail_buffer_t`…) are the ABI; cbindgen copies them into the header.
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod args;
pub mod buffer;
pub mod core;
pub mod error;
pub mod pgp;
pub mod stream;
pub mod transport;
pub mod verdict;

pub use buffer::*;
pub use core::*;
pub use error::*;
pub use pgp::*;
pub use stream::*;
pub use transport::*;
pub use verdict::*;
