//! Blocking IMAP client (to come).
