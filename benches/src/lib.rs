//! Benchmarks of secmail live in `benches/`; this library only carries the root README's
//! examples as doctests, so that every example there compiles and runs.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct RootReadme;
