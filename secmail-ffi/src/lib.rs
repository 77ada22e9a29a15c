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
pub mod smime;
pub mod store;
pub mod stream;
pub mod transport;
pub mod verdict;

pub use buffer::*;
pub use core::*;
pub use error::*;
pub use pgp::*;
pub use smime::*;
pub use store::*;
pub use stream::*;
pub use transport::*;
pub use verdict::*;

#[cfg(test)]
mod tests {
    fn shareable<T: Send + Sync>() {}
    fn movable<T: Send>() {}

    /// What the header promises about threads, checked by the compiler: the immutable
    /// handles may be read from several threads at once, every handle may be moved.
    #[test]
    fn handles_are_as_thread_safe_as_the_header_says() {
        shareable::<crate::secmail_cert_t>();
        shareable::<crate::secmail_pgp_signer_t>();
        shareable::<crate::secmail_verdict_t>();
        shareable::<crate::secmail_smime_cert_t>();
        shareable::<crate::secmail_smime_key_t>();
        shareable::<crate::secmail_smime_ca_t>();
        shareable::<crate::secmail_server_t>();
        shareable::<crate::secmail_send_report_t>();
        shareable::<crate::secmail_cancel_t>();
        movable::<crate::secmail_smtp_t>();
        movable::<crate::secmail_imap_t>();
        movable::<crate::secmail_pop3_t>();
        movable::<crate::secmail_certstore_t>();
        movable::<crate::secmail_pgp_decrypt_options_t>();
        movable::<crate::secmail_input_t>();
        movable::<crate::secmail_output_t>();
        shareable::<crate::secmail_store_t>();
        shareable::<crate::secmail_store_list_t>();
    }
}
