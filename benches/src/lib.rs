//! Benchmarks of secmail live in `benches/`; this library is empty.
