//! The error vocabulary of steadfast: why a call to an AI provider failed, and what to do next.
//!
//! Everything else in steadfast — retry, circuit breaking, fallback, routing — speaks this
//! vocabulary, so the one decision that matters is made here, once: **a failure is
//! classified by its reason ([`ErrorKind`]), and each reason has fixed semantics** (retry the
//! same provider or not, fall back or not, count against health or not, whose fault). Status
//! codes are an input, not the vocabulary: OpenAI's 429 `insufficient_quota` is billing and
//! must not be retried, xAI reports a bad key as a 400, llama.cpp's 503 "Loading model" will
//! pass. The per-provider mapping tables are data (`tables/*.toml`, rendered to
//! `docs/error-mapping.md` by `cargo xtask codegen`) so they can be reviewed and extended
//! without reading code.
//!
//! # Parts
//!
//! - [`ErrorKind`] — the reasons, with [`Category5`] / [`Category7`] coarse views.
//! - [`ProviderError`] — one classified failure: kind, provider, model, status, provider
//!   code/type, redacted message, retry hint, whether the first byte had arrived, source.
//! - [`classify`] — from status + headers + body bytes, from an in-band error object, or from
//!   a transport failure (feature `reqwest` classifies `reqwest::Error`).
//! - [`hint`] — `retry-after`, `retry-after-ms`, `x-should-retry`, body hints, reset headers.
//! - [`Failure`] — the small trait `steadfast-retry` and `steadfast-circuit` ask; implement
//!   it for your own errors to use those crates outside AI providers.
//! - [`observe`] — the [`Observer`](observe::Observer) trait and the events retry, the
//!   circuit breaker, the fallback chain and the router report through it.
//! - [`redact`] — keeps API keys out of messages, Display and Debug.
//! - [`serde_duration`] — durations in config files as milliseconds or `"1.5s"` strings.
//!
//! # Example
//!
//! ```
//! use http::HeaderMap;
//! use steadfast_errors::{classify, ErrorKind, Failure, Provider};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("retry-after", "3".parse().unwrap());
//! let body = br#"{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
//!
//! let err = classify::response(Provider::OpenAi, 429, &headers, body);
//! assert_eq!(err.kind(), ErrorKind::RateLimited);
//! assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(3)));
//! assert!(err.is_retryable() && err.counts_against_health());
//! assert!(err.to_string().starts_with("openai: rate_limited (429 rate_limit_exceeded) retry after 3s: Rate limit reached"));
//! ```

pub mod classify;
pub mod hint;
pub mod observe;
pub mod redact;
pub mod serde_duration;

mod body;
mod error;
mod failure;
mod generated;
mod kind;
mod provider;
#[cfg(feature = "reqwest")]
mod reqwest_support;
mod table;

pub use error::{MAX_MESSAGE_LEN, ProviderError, Transport};
pub use failure::Failure;
pub use kind::{Category5, Category7, ErrorKind, FallbackRule, Owner, ParseKindError, RetryRule};
pub use provider::{ParseProviderError, Provider};
