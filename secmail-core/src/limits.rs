//! Bounds on what the parser accepts.

use crate::error::{Error, LimitKind, Result};

/// Bounds applied to every message the MIME layer reads.
///
/// Each bound has a default that real mail stays well inside and that keeps a hostile message
/// from exhausting memory, the stack or time. Past a bound, parsing stops with
/// [`Error::LimitExceeded`] naming the bound.
///
/// ```
/// use secmail_core::Limits;
/// let limits = Limits::default().with_max_depth(16).with_max_message_size(1 << 20);
/// assert_eq!(limits.max_depth, 16);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest message accepted, in bytes (default 128 MiB: a 64 MiB attachment, base64-encoded,
    /// with room to spare).
    pub max_message_size: usize,
    /// Deepest nesting of multiparts and encapsulated messages (default 64; the root is depth 0).
    pub max_depth: usize,
    /// Most MIME parts in one message, counting every multipart and leaf (default 10,000).
    pub max_parts: usize,
    /// Longest physical header line, in bytes without its line ending (default 64 KiB;
    /// RFC 5322 allows 998, but real mailers write longer unfolded lines).
    pub max_header_line: usize,
    /// Most header fields in one part's header section (default 1,000).
    pub max_headers: usize,
    /// Most Argon2 memory, in KiB, that a passphrase container's header may ask for (default
    /// 262,144: 256 MiB, four times the recommended profile). Checked before Argon2 runs;
    /// never more than the format's bound of 1 GiB, whatever is set here.
    pub max_kdf_memory_kib: usize,
    /// Most Argon2 passes that a passphrase container's header may ask for (default 8; the
    /// format's bound is 16).
    pub max_kdf_passes: usize,
    /// Most Argon2 lanes that a passphrase container's header may ask for (default 16, the
    /// format's bound).
    pub max_kdf_lanes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 128 << 20,
            max_depth: 64,
            max_parts: 10_000,
            max_header_line: 64 << 10,
            max_headers: 1_000,
            max_kdf_memory_kib: 256 << 10,
            max_kdf_passes: 8,
            max_kdf_lanes: 16,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_message_size`].
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }
    /// Sets [`Limits::max_depth`].
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }
    /// Sets [`Limits::max_parts`].
    pub fn with_max_parts(mut self, parts: usize) -> Self {
        self.max_parts = parts;
        self
    }
    /// Sets [`Limits::max_header_line`].
    pub fn with_max_header_line(mut self, bytes: usize) -> Self {
        self.max_header_line = bytes;
        self
    }
    /// Sets [`Limits::max_headers`].
    pub fn with_max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }

    /// Sets [`Limits::max_kdf_memory_kib`].
    pub fn with_max_kdf_memory_kib(mut self, kib: usize) -> Self {
        self.max_kdf_memory_kib = kib;
        self
    }
    /// Sets [`Limits::max_kdf_passes`].
    pub fn with_max_kdf_passes(mut self, passes: usize) -> Self {
        self.max_kdf_passes = passes;
        self
    }
    /// Sets [`Limits::max_kdf_lanes`].
    pub fn with_max_kdf_lanes(mut self, lanes: usize) -> Self {
        self.max_kdf_lanes = lanes;
        self
    }

    pub(crate) fn check(&self, kind: LimitKind, actual: usize) -> Result<()> {
        let limit = match kind {
            LimitKind::MessageSize => self.max_message_size,
            LimitKind::Depth => self.max_depth,
            LimitKind::Parts => self.max_parts,
            LimitKind::HeaderLineLength => self.max_header_line,
            LimitKind::HeaderCount => self.max_headers,
            LimitKind::KdfMemory => self.max_kdf_memory_kib,
            LimitKind::KdfPasses => self.max_kdf_passes,
            LimitKind::KdfLanes => self.max_kdf_lanes,
        };
        if actual > limit {
            Err(Error::limit(kind, limit, actual))
        } else {
            Ok(())
        }
    }
}
