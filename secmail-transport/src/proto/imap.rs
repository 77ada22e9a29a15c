//! IMAP (to come).
