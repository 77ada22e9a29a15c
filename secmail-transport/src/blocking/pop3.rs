//! Blocking POP3 client (to come).
