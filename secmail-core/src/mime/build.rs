//! Building messages.
