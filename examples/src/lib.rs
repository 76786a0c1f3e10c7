//! Runnable examples for steadfast, one per seed system: the code is in `examples/`, each
//! run by `tests/examples.rs`; `README.md` lists them and the command to run each.
//!
//! This library is empty on purpose: a package needs one target besides its examples.
