//! A router for AI providers: strategies choose the order, a fallback chain runs it, and the
//! router adds rate limits, concurrency caps, budgets, conditional routing, affinity, cost
//! tracking, statistics and a health monitor.
//!
//! The key decision: **the router chooses, the chain executes.** The router never retries,
//! trips breakers or resumes streams itself; for each call it works out which providers may
//! take the request (the *candidates*), asks its [`Strategy`] for their order, and hands that
//! order to a [`steadfast_fallback::FallbackChain`] through
//! [`CallOptions::order`](steadfast_fallback::CallOptions::order). Everything the chain
//! promises — retry per provider, breakers, the fallback rules of each error kind,
//! deadlines, streams resumed with every token once — holds unchanged. Each provider sits in
//! the chain inside a thin wrapper that sees every attempt, so attempts are counted, timed
//! and billed where they happen, retries and fallbacks included.
//!
//! # Candidates
//!
//! A provider is a candidate for a request unless:
//!
//! - it is disabled ([`Router::set_enabled`], [`EntryConfig::enabled`], or the health
//!   monitor);
//! - it has [tags](ProviderConfig::tags) and the request carries none of them (a provider
//!   without tags takes every request);
//! - its context window ([`EntryConfig::context_window`], else the provider's
//!   [`ModelInfo`](steadfast_providers_core::ModelInfo), else the built-in model catalog,
//!   [`steadfast_catalog`]) is known and smaller than the
//!   request's estimated tokens — the prompt's characters / 4 plus `max_tokens`
//!   ([`estimate_tokens`]);
//! - it is at its [`max_concurrency`](ProviderConfig::max_concurrency), has started
//!   [`rpm`](ProviderConfig::rpm) attempts in the last 60 s, or its tokens in the last 60 s
//!   (billed, and reserved by its attempts in flight)
//!   plus the estimate would pass [`tpm`](ProviderConfig::tpm);
//! - its own [budget](ProviderConfig::budget) is spent.
//!
//! The limits are enforced where each attempt starts, atomically: the attempt takes a
//! concurrency slot (held until the answer returns, or for a stream until it ends or is
//! dropped), one `rpm` slot, and reserves its estimated tokens against `tpm` until its real
//! usage is billed — so callers planned at the same moment can never together pass a limit.
//! An attempt a limit refuses at that point (another caller took the last slot since the
//! plan) fails with a local `budget_exceeded` error: the chain falls back to the next
//! provider, and the refused provider's health and breaker are left alone.
//!
//! With no candidate left the call is refused
//! before any provider is called: with a `budget_exceeded` or `rate_limited`
//! [`ProviderError`](steadfast_errors::ProviderError) owned by
//! [`Owner::Local`](steadfast_errors::Owner::Local) ([`RouterError::Refused`]) when a budget
//! or a limit kept providers out, otherwise with [`RouterError::NoProvider`]. A spent
//! router-wide budget ([`RouterConfig::budget`]) refuses every call.
//!
//! # Order
//!
//! The strategy orders the candidates; then the provider that last answered the request's
//! [affinity key](RouteOptions::affinity_key) goes first, and [`RouteOptions::prefer`]
//! before it. Built-in strategies ([`StrategyKind`]): priority, round robin, weighted round
//! robin, random among healthy, least busy, lowest latency, best performance, cheapest and
//! power of two choices. Under the priority strategy a provider that failed is left out
//! only while it is ineligible, so calls return to the primary as soon as its breaker lets a
//! probe through again.
//!
//! # Hedging
//!
//! With [`RouterConfig::hedge_after`] (or [`RouteOptions::hedge_after`]) set, a call whose
//! first provider has not answered within the delay — for a stream, not reached its first
//! token — starts the rest of its order as a backup; the first answer wins and the other
//! leg is cancelled. A first provider that fails before the delay in a way that may fall
//! back hands over at once; a request that would fail everywhere (`invalid_request`) is not
//! sent to the backup. Both legs are billed when both were.
//!
//! # Health monitor
//!
//! [`Router::spawn_health_monitor`] probes every provider's `health_check` at an interval:
//! a provider that fails is disabled until a later probe passes. A provider disabled by
//! hand ([`Router::set_enabled`]) is left alone. [`Router::probe_health`] runs one round
//! on demand.
//!
//! # Cost
//!
//! Every attempt that returns usage is billed: a whole answer when it returns, each stream
//! part when it ends (with the last usage it reported, so a part cut off and resumed
//! elsewhere is billed too). The price is [`ProviderConfig::pricing`] when set, else
//! [`ChatProvider::cost`](steadfast_providers_core::ChatProvider::cost), else the built-in
//! model catalog ([`steadfast_catalog`]), looked up by the provider's
//! [`kind`](steadfast_providers_core::ChatProvider::kind) and the model id exactly (every
//! model of a local provider, Ollama or llama.cpp, costs 0). A model none of these prices is
//! billed 0 and logged once per provider and model with a `tracing` warning (target
//! `steadfast_router::pricing`), never billed at a guessed price. The cost lands in
//! the provider's stats, the budgets, and the call's [`Routed::cost_usd`] (for streams,
//! [`RouterStream::cost_usd`]).
//!
//! # Shared state
//!
//! With [`RouterBuilder::shared_state`], several router instances (replicas of one service)
//! share their rate windows, budgets and breaker trips through a [`SharedState`] (on Redis:
//! `steadfast-shared-redis`). Admission stays local and fails open; the [`shared`] module
//! states the staleness and overshoot bounds.
//!
//! # Observability
//!
//! [`Router::stats`] returns a serializable [`StatsSnapshot`]; [`Router::reset_stats`]
//! clears it. Observers ([`RouterBuilder::observer`], the trait
//! [`steadfast_errors::observe::Observer`]) are told of every call's start and end, each
//! attempt, retry, breaker transition, fallback, resume and local refusal; with the
//! `metrics` feature (on by default) a [`MetricsObserver`] turns them into metrics through
//! the `metrics` facade, labelled with the router's [name](RouterBuilder::name) (its model
//! group). Each routed call is a `tracing` span (target `steadfast_router`) named per the
//! OpenTelemetry GenAI conventions, `chat {gen_ai.request.model}`, with
//! `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`,
//! `gen_ai.response.model`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens` and
//! `error.type`; each attempt is a child span (target `steadfast_fallback`), resumes of a
//! stream included, since a [`RouterStream`] keeps its call's span open until it ends. Each
//! call also emits one `tracing` event with `provider`, `duration_ms`, `success`,
//! `error_kind`, `fallback` and `cost_usd`. The router's own overhead (call time minus
//! time inside provider attempts) is in [`StatsSnapshot::overhead`]. See
//! `docs/observability.md` for every metric and attribute.
//!
//! # tower
//!
//! With the `tower` feature, [`Router`] is a `tower::Service<ChatRequest>` (response
//! [`Routed<ChatResponse>`](Routed), error [`RouterError`], always ready, default
//! [`RouteOptions`]); clones share everything. How to stack it, or steadfast's retry and
//! breaker layers, with tower's timeout, concurrency and rate limits is the `# Order`
//! section of `steadfast_retry::tower`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use steadfast_errors::ErrorKind;
//! use steadfast_providers_core::{ChatRequest, Message, Pricing};
//! use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
//! use steadfast_router::{ProviderConfig, RouteOptions, Router, StrategyKind};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let mock = |id: &str, outcomes: Vec<Outcome>| {
//!     let config = ScriptedConfig {
//!         id: id.into(),
//!         pricing: Some(Pricing::per_million(1.0, 2.0)),
//!         ..ScriptedConfig::default()
//!     };
//!     Arc::new(ScriptedProvider::new(config, outcomes))
//! };
//! // The primary refuses its key once; the secondary answers.
//! let primary = mock("primary", vec![Outcome::Error(ErrorKind::Auth), Outcome::text("from primary")]);
//! let secondary = mock("secondary", vec![Outcome::text("from secondary")]);
//!
//! let router = Router::builder()
//!     .provider(primary, ProviderConfig { priority: 1, ..ProviderConfig::default() })
//!     .provider(secondary, ProviderConfig { priority: 2, ..ProviderConfig::default() })
//!     .strategy(StrategyKind::Priority.build(None))
//!     .build();
//!
//! let request = ChatRequest::new("model", vec![Message::user("Hello there")]);
//! let answer = router.chat(&request, RouteOptions::default()).await.unwrap();
//! assert_eq!((answer.provider.as_str(), answer.value.text.as_str()), ("secondary", "from secondary"));
//! assert!(answer.fell_back());
//! // The primary answers again on the next call.
//! let answer = router.chat(&request, RouteOptions::default()).await.unwrap();
//! assert_eq!(answer.provider, "primary");
//!
//! let stats = router.stats();
//! assert_eq!((stats.requests, stats.successes, stats.failovers), (2, 2, 1));
//! assert_eq!(stats.providers[0].requests, 2); // primary: one failure, one success
//! assert_eq!(stats.providers[0].failures, 1);
//! // Mock usage: 2 input words and 2 output words per answer, at $1 / $2 per million.
//! assert_eq!(stats.total_tokens, 8);
//! assert!((stats.cost_usd - 12e-6).abs() < 1e-12);
//! # }
//! ```
//!
//! [`EntryConfig::enabled`]: steadfast_fallback::EntryConfig::enabled
//! [`EntryConfig::context_window`]: steadfast_fallback::EntryConfig::context_window

mod affinity;
mod config;
mod error;
mod estimate;
mod hedge;
mod limits;
pub mod media;
mod metered;
mod monitor;
mod options;
mod plan;
mod pricing;
mod report;
mod router;
mod runtime;
#[cfg(feature = "tower")]
mod service;
pub mod shared;
mod stats;
mod strategy;
mod stream;
mod telemetry;
mod window;

pub use config::{Budget, ProviderConfig, RouterConfig};
pub use error::RouterError;
pub use estimate::estimate_tokens;
pub use monitor::HealthCheck;
pub use options::{RouteOptions, Routed};
pub use router::{Router, RouterBuilder};
#[cfg(feature = "tower")]
pub use service::RouterFuture;
pub use shared::{SharedConfig, SharedState};
pub use stats::{Latency, Overhead, ProviderStats, StatsSnapshot};
pub use steadfast_fallback::DuplicateProvider;
pub use strategy::{
    BestPerformance, Candidate, Cheapest, LeastBusy, LowestLatency, PowerOfTwo, Priority,
    RandomHealthy, RoundRobin, RouteContext, Strategy, StrategyKind, WeightedRoundRobin,
};
pub use stream::RouterStream;
#[cfg(feature = "metrics")]
pub use telemetry::metrics::MetricsObserver;
pub use window::WindowStats;
