//! Cross-crate scenario tests for steadfast live in `tests/tests/`; fixtures in `tests/conformance/`.
//!
//! This library is empty on purpose: the package exists so that scenario tests can depend
//! on several workspace crates at once, with the features a real user would enable.

/// The README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
