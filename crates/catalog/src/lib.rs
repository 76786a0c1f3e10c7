//! A built-in catalog of AI models: for each provider and model, USD prices per million
//! input, output and cached-input tokens (and cache writes where the provider bills them),
//! the context window, the output limit and capabilities — each row with the page it was read
//! from and the date it was checked.
//!
//! The rows are data (`crates/catalog/data/<provider>.toml`) turned into Rust by
//! `cargo xtask codegen`, which also writes `docs/models.md`; a test fails when either is
//! stale. The router uses the catalog by default for cost and for its context-window
//! pre-check, after a configured price and the provider's own.
//!
//! # Why exact ids only
//!
//! A catalog that guesses (`gpt-4o-2099` "is probably" `gpt-4o`) turns an unknown model into
//! a wrong bill, which is worse than no bill: a wrong price looks right. So lookup is exact —
//! a model's id or one of the aliases its row declares — and an unknown model is `None`.
//! Callers decide what unknown means (the router bills 0 and warns once). Local providers
//! (Ollama, llama.cpp) are the exception that is not a guess: local inference costs nothing
//! whatever the model, so [`pricing`] and [`cost`] answer 0 for every model there.
//!
//! ```
//! use steadfast_errors::Provider;
//! use steadfast_providers_core::Usage;
//!
//! let usage = Usage { input_tokens: 10_000, output_tokens: 2_000, ..Usage::default() };
//! let m = steadfast_catalog::lookup(Provider::OpenAi, "gpt-4o-mini").unwrap();
//! assert!((m.cost(&usage).unwrap() - (10_000.0 * 0.15 + 2_000.0 * 0.60) / 1e6).abs() < 1e-12);
//! assert!(steadfast_catalog::models().iter().all(|m| !m.source.is_empty() && m.checked.len() == 10));
//! ```

mod generated;
mod lookup;
mod model;

pub use lookup::{
    Resolved, context_window, cost, lookup, lookup_id, models, pricing, provider, providers,
    resolve,
};
pub use model::{Model, ModelCapabilities, ProviderEntry, UnitPrice};

#[cfg(test)]
mod tests;
