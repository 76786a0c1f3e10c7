//! Per-call types: [`RouteOptions`] going in, [`Routed`] coming out.

use std::time::Duration;

use steadfast_fallback::AttemptRecord;
use steadfast_providers_core::ChatResponse;

use crate::stream::RouterStream;

/// Per-call options.
///
/// ```
/// use steadfast_router::RouteOptions;
///
/// let options = RouteOptions {
///     tags: vec!["eu".into()],
///     affinity_key: Some("conversation-42".into()),
///     ..RouteOptions::default()
/// };
/// assert!(options.fallback);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOptions {
    /// Try this provider first, whatever the strategy says (if it is a candidate).
    /// Default `None`.
    pub prefer: Option<String>,
    /// Whether the call may move on to another provider. With `false` exactly one provider
    /// is called (with its retries): `prefer` if given, else the strategy's choice.
    /// Default `true`.
    pub fallback: bool,
    /// The time allowed for the whole call, replacing the chain's default deadline.
    /// Default `None`.
    pub deadline: Option<Duration>,
    /// The request's tags, for conditional routing: a provider with tags takes the request
    /// only when it carries at least one of them; a provider without tags takes any
    /// request. Default none.
    pub tags: Vec<String>,
    /// A conversation key: the provider that last answered this key goes first while it is
    /// a candidate (after `prefer`). Default `None`.
    pub affinity_key: Option<String>,
    /// Hedging for this call, replacing
    /// [`RouterConfig::hedge_after`](crate::RouterConfig::hedge_after): when the first
    /// provider has not answered (a stream: reached its first token) within this delay, the
    /// rest of the order starts as a backup and the first answer wins. Default `None`.
    pub hedge_after: Option<Duration>,
}

impl Default for RouteOptions {
    fn default() -> Self {
        RouteOptions {
            prefer: None,
            fallback: true,
            deadline: None,
            tags: Vec::new(),
            affinity_key: None,
            hedge_after: None,
        }
    }
}

/// A routed answer: the value, who produced it, every attempt, and what it cost.
#[derive(Debug)]
pub struct Routed<T> {
    /// The answer.
    pub value: T,
    /// The id of the provider that answered.
    pub provider: String,
    /// The model it was asked for.
    pub model: String,
    /// Every provider's turn, in order; the last one succeeded. For a stream, the turns
    /// until it opened (the later ones are in the stream's
    /// [`FallbackStream::attempts`](steadfast_fallback::FallbackStream::attempts)).
    pub attempts: Vec<AttemptRecord>,
    /// The cost of every billed attempt of this call seen so far, in USD (for a stream, see
    /// [`RouterStream::cost_usd`] for the cost once it
    /// ended).
    pub cost_usd: f64,
}

impl Routed<ChatResponse> {
    /// Whether another provider was tried or skipped before the one that answered.
    pub fn fell_back(&self) -> bool {
        self.attempts.len() > 1
    }
}

impl Routed<RouterStream> {
    /// Whether another provider was tried or skipped before the one the stream opened on,
    /// or the answer moved to another provider after it opened (a resume continued it
    /// elsewhere; see [`RouterStream::fell_back`]).
    pub fn fell_back(&self) -> bool {
        self.attempts.len() > 1 || self.value.fell_back()
    }
}
