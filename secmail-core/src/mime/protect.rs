//! Protection structures.
