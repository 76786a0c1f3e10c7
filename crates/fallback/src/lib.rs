//! Fallback chains for AI providers: providers tried in order, each behind its own retry
//! policy and circuit breaker, with health, an attempt log, a deadline, and streams that fail
//! over before their first token and resume after it.
//!
//! The key decision: **whether and where a call moves on is decided by the failure's
//! [`ErrorKind`](steadfast_errors::ErrorKind), never by status codes or by guesswork**. Each
//! kind carries a [`FallbackRule`](steadfast_errors::FallbackRule) (DESIGN.md §2), and the
//! chain applies it:
//!
//! | rule | kinds | what the chain does |
//! |---|---|---|
//! | `Never` | `invalid_request`, `cancelled` | stop at once ([`StopReason::NoFallback`]): it would fail everywhere, or the caller gave up |
//! | `Next` | `auth`, `rate_limited`, `overloaded`, `server`, `timeout`, … | the next eligible provider |
//! | `LargerContext` | `context_length` | only entries whose [`context_window`](EntryConfig::context_window) is known and larger than every window that proved too small; an entry without one is never a context fallback |
//! | `ContentPolicy` | `content_filter` | only entries marked [`content_policy_fallback`](EntryConfig::content_policy_fallback) |
//! | `ResumeOnNext` | `stream_interrupted` | the next provider (a stream resumes there, see [`FallbackStream`]) |
//! | `WithinBudget` | `budget_exceeded` | the next provider |
//!
//! The constraints of `LargerContext` and `ContentPolicy` stay for the rest of the call.
//! Providers that are disabled ([`FallbackChain::set_enabled`]) or whose breaker refuses are
//! skipped, and the skip is logged. [`CallOptions`] can put one provider first (`prefer`) or
//! forbid moving on (`fallback: false`: exactly one provider is called, with its retries).
//!
//! # Order
//!
//! **fallback → retry → breaker → timeout → provider.** For each provider the chain runs the
//! provider's [`RetryPolicy`](steadfast_retry::RetryPolicy) (one per entry, with its retry
//! budget, built once and shared by every call). Each attempt asks the provider's
//! [`CircuitBreaker`](steadfast_circuit::CircuitBreaker) for a permit — an open breaker
//! refuses the attempt, and the chain moves on at once — and runs under the time left before
//! the deadline. Every failure is reported to the breaker (its classifier decides whether it
//! counts) and to the provider's [`Health`]. When the provider's retries end with an error,
//! the error's rule decides what happens next. A Retry-After beyond the policy's
//! `max_retry_after`, a wait that would pass the deadline, or an empty retry budget all end
//! the provider's retries early and fall back now.
//!
//! The breaker is asked *before* each wait between attempts
//! ([`RetryPolicy::run_gated`](steadfast_retry::RetryPolicy::run_gated)), not after it:
//! when the failure just made has opened it (or a half-open probe failed), the chain falls
//! back at once instead of sleeping a backoff only to be refused.
//!
//! # A lone provider warming up
//!
//! When the provider whose turn it is is the only one the call may use (no other provider
//! of the plan is enabled and fits the constraints: a one-provider chain, `fallback: false`,
//! or a constraint that rules the rest out) and the call has a deadline, its open breaker is
//! waited for instead of ending the call: the chain
//! sleeps until the breaker admits its half-open probe, then tries again — at the start of
//! the provider's turn and between its attempts. The wait counts as a retry wait: the retry
//! policy's attempts, its `max_retry_after` and the deadline bound it. This is for a local
//! server that answers `503 Loading model` while it loads (llama.cpp's server): warm-up is
//! not an outage, and failing fast helps no one when there is nowhere else to go. With
//! another eligible provider — even one whose breaker is open too — or without a deadline,
//! an open breaker still means "move on now", so a total outage of several providers fails
//! fast. How often the lone provider is tried while it warms up is the breaker's
//! `open_duration` (30 s by default; a shorter one suits a local server).
//!
//! # Deadline
//!
//! [`ChainConfig::deadline`] (or [`CallOptions::deadline`]) bounds the whole call. No attempt
//! starts after it; each attempt is cut at it, and each request's
//! [`timeout`](steadfast_providers_core::ChatRequest::timeout) is capped at the time left;
//! each provider's retry policy is given the time left as its own deadline, so that it never
//! sleeps past it. A cut at the deadline is the caller's limit, not the provider's fault: it
//! counts against neither breaker nor health. The error is then
//! [`StopReason::DeadlineExceeded`]. A stream is bounded too: when the deadline passes
//! mid-answer it ends with a `timeout` error, never silently.
//!
//! # Streams
//!
//! [`FallbackChain::chat_stream`] returns once a provider's stream reached its first token.
//! Before it, a failure (refused request, in-band error, a stream that ends or times out
//! early) is an ordinary failed attempt, retried and fallen back from; after it, the
//! answer is resumed — same provider first, then the next — with every token delivered once
//! (DESIGN.md §5). The breaker permit of each part is held until the part ends, and the
//! breaker is told the time to first token, not the length of the answer.
//!
//! # Health and observability
//!
//! [`FallbackChain::status`] reports each provider's [`Health`] (healthy / degraded /
//! unhealthy, from seed 002's error score), breaker state and counters. Every attempt emits
//! one `tracing` event (target `steadfast_fallback`: `provider`, `model`, `duration_ms`,
//! `success`, `error_kind`, `category5`, `status`, `attempt`, `retry_count`, `fallback`;
//! a stream part's success is logged when the part ends, skips at `debug`),
//! and every call returns its attempt log ([`AttemptRecord`]) in [`Answered::attempts`] or
//! [`FallbackError::attempts`], whose `Display` lists every provider tried.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use steadfast_errors::ErrorKind;
//! use steadfast_fallback::{AttemptOutcome, ChainConfig, EntryConfig, FallbackChain};
//! use steadfast_providers_core::{ChatRequest, Message};
//! use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
//! use steadfast_retry::{Backoff, RetryConfig};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let mock = |id: &str, script: Vec<Outcome>| {
//!     let config = ScriptedConfig { id: id.into(), ..ScriptedConfig::default() };
//!     Arc::new(ScriptedProvider::new(config, script))
//! };
//! // The primary is overloaded (a 503 on every call); the fallback answers, then streams.
//! let primary = mock("openai", vec![Outcome::Error(ErrorKind::Overloaded)]);
//! let fallback = mock("anthropic", vec![
//!     Outcome::text("Hello from the fallback"),
//!     Outcome::cut(["One", " two"]),                 // a stream dropped after two words…
//!     Outcome::continue_from("One two three four"),  // …and its continuation
//! ]);
//!
//! let retry = RetryConfig {
//!     max_attempts: 2,
//!     backoff: Backoff::constant(Duration::from_secs(1)),
//!     ..RetryConfig::default()
//! };
//! let chain = FallbackChain::builder()
//!     .provider(primary, EntryConfig { model: Some("gpt-4o".into()), retry: retry.clone(), ..EntryConfig::default() })
//!     .provider(fallback, EntryConfig { model: Some("claude".into()), retry, ..EntryConfig::default() })
//!     .config(ChainConfig { deadline: Some(Duration::from_secs(30)), ..ChainConfig::default() })
//!     .build();
//!
//! let request = ChatRequest::new("gpt-4o", vec![Message::user("Hello")]);
//! let answer = chain.chat(&request).await.unwrap();
//! assert_eq!(answer.value.text, "Hello from the fallback");
//! assert_eq!((answer.provider.as_str(), answer.model.as_str()), ("anthropic", "claude"));
//! // The paused clock makes the log exact: two attempts with a 1 s wait between them.
//! assert_eq!(answer.attempts[0].to_string(), "openai/gpt-4o (overloaded 503, 2 attempts, 1.0s)");
//! assert_eq!(answer.attempts[1].outcome, AttemptOutcome::Succeeded);
//!
//! let mut stream = chain.chat_stream(&request).await.unwrap();
//! let mut text = String::new();
//! while let Some(event) = stream.next().await {
//!     if let steadfast_providers_core::StreamEvent::TextDelta { text: t } = event.unwrap() {
//!         text.push_str(&t);
//!     }
//! }
//! assert_eq!(text, "One two three four"); // every word once, across the cut
//! assert_eq!(stream.resumes(), 1);
//! # }
//! ```

mod attempt;
mod call;
mod chain;
mod config;
mod constraints;
mod entry;
mod error;
mod health;
mod options;
mod plan;
mod record;
mod stream;

pub use chain::{ChainBuilder, ChainStates, DuplicateProvider, FallbackChain};
pub use config::{ChainConfig, EntryConfig, ResumeSettings};
pub use error::{FallbackError, StopReason};
pub use health::{DEGRADED_AT, Health, MAX_ERROR_SCORE, ProviderStatus, UNHEALTHY_AT};
pub use options::{Answered, CallOptions};
pub use record::{AttemptOutcome, AttemptRecord};
pub use stream::FallbackStream;
