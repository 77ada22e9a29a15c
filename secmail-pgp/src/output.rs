//! What [`decrypt_to_file`](crate::decrypt_to_file) needs of its output.

use std::io::{self, Seek, SeekFrom, Write};

/// An output that can be emptied again: [`decrypt_to_file`](crate::decrypt_to_file) writes
/// literal data into it before the message is authenticated and calls
/// [`discard`](Discard::discard) when any check fails, so that nothing unauthenticated stays
/// in it. Implemented for [`std::fs::File`]; a wrapper around a file (one that counts bytes
/// or hints writeback, as the `secmail` command's output does) implements it by truncating
/// the file it wraps.
pub trait Discard: Write {
    /// Removes everything written so far (for a file: truncates it to nothing and rewinds).
    fn discard(&mut self) -> io::Result<()>;
}

impl Discard for std::fs::File {
    fn discard(&mut self) -> io::Result<()> {
        self.set_len(0)?;
        self.seek(SeekFrom::Start(0))?;
        Ok(())
    }
}

impl<T: Discard + ?Sized> Discard for &mut T {
    fn discard(&mut self) -> io::Result<()> {
        (**self).discard()
    }
}
