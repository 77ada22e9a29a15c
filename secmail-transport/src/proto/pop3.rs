//! POP3 (to come).
