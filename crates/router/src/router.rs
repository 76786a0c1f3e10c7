//! `Router` and its `RouterBuilder`; `RouteOptions` and `Routed` for one call;
//! `RouterStream` for a streamed answer.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_fallback::{
    AttemptRecord, CallOptions, FallbackChain, FallbackError, FallbackStream, StopReason,
};
use steadfast_providers_core::{ChatProvider, ChatRequest, ChatResponse, StreamEvent, Usage};
use steadfast_streaming::StreamState;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{ProviderConfig, RouterConfig};
use crate::error::RouterError;
use crate::metered::{CALL, CallCtx, CallTotals, Limited, Metered, ProviderState, Shared};
use crate::stats::{Latency, Overhead, ProviderStats, RouterCounters, StatsSnapshot, Window, lock};
use crate::strategy::{Candidate, RouteContext, Strategy};

/// The estimated size of `request` in tokens, as the context-window check and the `tpm`
/// limit use it: the characters of the system prompt and every message, divided by 4, plus
/// `max_tokens` (0 when unset).
///
/// ```
/// use steadfast_providers_core::{ChatRequest, Message};
///
/// let request = ChatRequest::new("m", vec![Message::user("x".repeat(400))]).with_max_tokens(50);
/// assert_eq!(steadfast_router::estimate_tokens(&request), 150);
/// ```
pub fn estimate_tokens(request: &ChatRequest) -> u64 {
    prompt_tokens(request) + request.max_tokens.map_or(0, u64::from)
}

fn prompt_tokens(request: &ChatRequest) -> u64 {
    let chars = request.system.as_deref().map_or(0, |s| s.chars().count())
        + request
            .messages
            .iter()
            .map(|m| m.joined_text().chars().count())
            .sum::<usize>();
    (chars / 4) as u64
}

/// What a hedged run produced.
struct Hedged<T> {
    result: Result<T, FallbackError>,
    /// Turns of the other leg that failed, to put before the winner's.
    earlier: Vec<AttemptRecord>,
    /// Whether a backup was started.
    hedged: bool,
}

impl<T> Hedged<T> {
    fn plain(result: Result<T, FallbackError>, hedged: bool) -> Hedged<T> {
        Hedged {
            result,
            earlier: Vec::new(),
            hedged,
        }
    }

    /// `failed` happened first, then `later`.
    fn after(failed: FallbackError, later: Result<T, FallbackError>, hedged: bool) -> Hedged<T> {
        match later {
            Ok(value) => Hedged {
                result: Ok(value),
                earlier: failed.attempts,
                hedged,
            },
            Err(mut e) => {
                let mut attempts = failed.attempts;
                attempts.append(&mut e.attempts);
                e.attempts = attempts;
                if e.last.is_none() {
                    e.last = failed.last;
                }
                Hedged::plain(Err(e), hedged)
            }
        }
    }
}

/// Runs `call` hedged: its first provider alone, and when that has not answered within
/// `after` (or failed in a way that may fall back), the rest of the order as a backup, under
/// what is left of the deadline; the first answer wins and the other leg is dropped
/// (cancelled). Without `after`, with fallback off or a single provider, `call` runs as is.
async fn hedge<T, Fut>(
    call: CallOptions,
    after: Option<Duration>,
    run: impl Fn(CallOptions) -> Fut,
) -> Hedged<T>
where
    Fut: Future<Output = Result<T, FallbackError>>,
{
    let order = call.order.clone().unwrap_or_default();
    let Some(after) = after.filter(|_| call.fallback && order.len() > 1) else {
        return Hedged::plain(run(call).await, false);
    };
    let t0 = Instant::now();
    let primary = CallOptions {
        order: Some(order[..1].to_vec()),
        fallback: false,
        ..call.clone()
    };
    let backup = |call: CallOptions| CallOptions {
        order: Some(order[1..].to_vec()),
        deadline: call.deadline.map(|d| d.saturating_sub(t0.elapsed())),
        ..call
    };
    let first = run(primary);
    tokio::pin!(first);
    let early = tokio::select! {
        r = &mut first => Some(r),
        () = tokio::time::sleep(after) => None,
    };
    match early {
        Some(Ok(value)) => return Hedged::plain(Ok(value), false),
        // Failed (or was skipped) early in a way that may fall back: the rest now.
        Some(Err(e))
            if matches!(
                e.reason,
                StopReason::FallbackDisabled | StopReason::NoEligibleProvider
            ) =>
        {
            let later = run(backup(call)).await;
            return Hedged::after(e, later, false);
        }
        Some(Err(e)) => return Hedged::plain(Err(e), false),
        None => {}
    }
    tracing::debug!(target: "steadfast_router", provider = order[0].as_str(), after_ms = after.as_secs_f64() * 1000.0, "no answer yet, starting a backup");
    let second = run(backup(call));
    tokio::pin!(second);
    tokio::select! {
        r = &mut first => match r {
            Ok(value) => Hedged::plain(Ok(value), true),
            Err(e) => Hedged::after(e, second.await, true),
        },
        r = &mut second => match r {
            Ok(value) => Hedged::plain(Ok(value), true),
            Err(e) => Hedged::after(e, first.await, true),
        },
    }
}

/// Why a provider is not a candidate (other than limits and budgets).
#[derive(Debug, Clone, Copy)]
enum Skip {
    Disabled,
    Tags,
    Context(u32),
}

/// What was measured of a finished call.
#[derive(Debug, Clone, Copy)]
struct Measured {
    /// Whether a backup was started.
    hedged: bool,
    totals: CallTotals,
    /// The router's own time, when the call is sampled for it.
    overhead: Option<Duration>,
}

/// The provider a call's plan tries first.
fn first_of(call: &CallOptions) -> String {
    call.order
        .as_ref()
        .and_then(|o| o.first())
        .cloned()
        .unwrap_or_default()
}

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
    /// Hedging for this call, replacing [`RouterConfig::hedge_after`]: when the first
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
    /// Every provider's turn, in order; the last one succeeded.
    pub attempts: Vec<AttemptRecord>,
    /// The cost of every billed attempt of this call seen so far, in USD (for a stream,
    /// see [`RouterStream::cost_usd`] for the cost once it ended).
    pub cost_usd: f64,
}

impl<T> Routed<T> {
    /// Whether another provider was tried or skipped before the one that answered.
    pub fn fell_back(&self) -> bool {
        self.attempts.len() > 1
    }
}

/// Bounded sticky map: affinity key to provider id, the oldest key forgotten first.
#[derive(Debug)]
struct Affinity {
    map: HashMap<String, String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Affinity {
    fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    fn set(&mut self, key: &str, provider: &str) {
        if self.capacity == 0 {
            return;
        }
        if let Some(v) = self.map.get_mut(key) {
            provider.clone_into(v);
            return;
        }
        if self.map.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.order.push_back(key.to_owned());
        self.map.insert(key.to_owned(), provider.to_owned());
    }
}

struct Inner {
    chain: FallbackChain,
    /// In priority order, the same order as the chain's entries.
    providers: Vec<Arc<ProviderState>>,
    strategy: Arc<dyn Strategy>,
    shared: Arc<Shared>,
    affinity: Mutex<Affinity>,
    hedge_after: Option<Duration>,
}

/// Routes chat calls over several providers: a [`Strategy`] picks the order, a
/// [`FallbackChain`] runs it (retry, breaker, fallback, stream resume), and the router adds
/// rate limits, concurrency caps, budgets, tags, affinity, cost and statistics. See the
/// [crate docs](crate).
///
/// Cheap to clone (an [`Arc`]); clones share everything.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("chain", &self.inner.chain)
            .field("strategy", &self.inner.strategy)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Router`].
#[derive(Debug, Default)]
pub struct RouterBuilder {
    providers: Vec<(Arc<dyn ChatProvider>, Option<ProviderConfig>)>,
    strategy: Option<Arc<dyn Strategy>>,
    config: RouterConfig,
}

impl RouterBuilder {
    /// Adds `provider` with `config`.
    #[must_use]
    pub fn provider(mut self, provider: Arc<dyn ChatProvider>, config: ProviderConfig) -> Self {
        self.providers.push((provider, Some(config)));
        self
    }

    /// Adds `provider` with the settings [`RouterConfig::providers`] holds for its id (the
    /// defaults when it holds none), looked up when the router is built.
    #[must_use]
    pub fn provider_from_config(mut self, provider: Arc<dyn ChatProvider>) -> Self {
        self.providers.push((provider, None));
        self
    }

    /// Sets the strategy, replacing [`RouterConfig::strategy`].
    #[must_use]
    pub fn strategy(mut self, strategy: Arc<dyn Strategy>) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// Sets the router's configuration.
    #[must_use]
    pub fn config(mut self, config: RouterConfig) -> Self {
        self.config = config;
        self
    }

    /// Builds the router. Providers are ordered by priority (ties in the order added); a
    /// provider whose id was already added is left out, with a warning, since ids name
    /// providers in options, stats and affinity.
    pub fn build(self) -> Router {
        let config = self.config;
        let shared = Arc::new(Shared {
            counters: Mutex::new(RouterCounters::new(config.latency_samples)),
            budget: config
                .budget
                .map(|b| (b, Mutex::new(Window::new(b.window)))),
            ewma_alpha: if config.ewma_alpha > 0.0 && config.ewma_alpha <= 1.0 {
                config.ewma_alpha
            } else {
                0.2
            },
        });
        let mut providers: Vec<Arc<ProviderState>> = Vec::new();
        for (provider, pc) in self.providers {
            if providers.iter().any(|p| p.id() == provider.id()) {
                tracing::warn!(target: "steadfast_router", provider = provider.id(), "duplicate provider id left out");
                continue;
            }
            let pc = pc.unwrap_or_else(|| {
                config
                    .providers
                    .get(provider.id())
                    .cloned()
                    .unwrap_or_default()
            });
            providers.push(Arc::new(ProviderState::new(
                provider,
                pc,
                config.latency_samples,
            )));
        }
        providers.sort_by_key(|p| p.config.priority);
        let mut chain = FallbackChain::builder().config(config.chain.clone());
        for p in &providers {
            let metered = Metered {
                state: Arc::clone(p),
                shared: Arc::clone(&shared),
            };
            chain = chain.provider(Arc::new(metered), p.config.chain_entry());
        }
        let strategy = self
            .strategy
            .unwrap_or_else(|| config.strategy.build(config.seed));
        Router {
            inner: Arc::new(Inner {
                chain: chain.build(),
                providers,
                strategy,
                shared,
                affinity: Mutex::new(Affinity {
                    map: HashMap::new(),
                    order: VecDeque::new(),
                    capacity: config.affinity_capacity,
                }),
                hedge_after: config.hedge_after,
            }),
        }
    }
}

impl Router {
    /// A builder with no providers and the default [`RouterConfig`].
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// The fallback chain underneath (for its status and breakers).
    pub fn chain(&self) -> &FallbackChain {
        &self.inner.chain
    }

    /// The candidates for `request` and the call options that try them in the strategy's
    /// order, or why there are none.
    fn plan(
        &self,
        request: &ChatRequest,
        options: &RouteOptions,
    ) -> Result<CallOptions, RouterError> {
        let now = Instant::now();
        if self.inner.shared.budget_spent(now) {
            return Err(RouterError::refused(
                ErrorKind::BudgetExceeded,
                "the router's budget is spent for this window",
            ));
        }
        let prompt = prompt_tokens(request);
        let estimated = prompt + request.max_tokens.map_or(0, u64::from);
        let status = self.inner.chain.status();
        let mut candidates = Vec::new();
        let (mut rate, mut budget, mut other) = (0, 0, Vec::new());
        for (p, s) in self.inner.providers.iter().zip(&status) {
            if !p.enabled.load(Ordering::Relaxed) {
                other.push((p.id(), Skip::Disabled));
                continue;
            }
            if !p.config.tags.is_empty() && !p.config.tags.iter().any(|t| options.tags.contains(t))
            {
                other.push((p.id(), Skip::Tags));
                continue;
            }
            let model = p.model_for(request);
            if let Some(window) = p.context_window(model)
                && estimated > u64::from(window)
            {
                other.push((p.id(), Skip::Context(window)));
                continue;
            }
            match p.limited(now, estimated) {
                Some(Limited::Rate) => rate += 1,
                Some(Limited::Budget) => budget += 1,
                None => {
                    let c = lock(&p.counters);
                    candidates.push(Candidate {
                        id: p.id().to_owned(),
                        priority: p.config.priority,
                        weight: p.config.weight,
                        in_flight: p.in_flight.load(Ordering::Relaxed),
                        latency: c
                            .ewma_ms
                            .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok()),
                        success_rate: c.success_rate(),
                        pricing: p.pricing(model),
                        health: s.health,
                        breaker: s.breaker,
                    });
                }
            }
        }
        if candidates.is_empty() {
            return Err(if budget > 0 {
                RouterError::refused(
                    ErrorKind::BudgetExceeded,
                    "every eligible provider's budget is spent",
                )
            } else if rate > 0 {
                RouterError::refused(
                    ErrorKind::RateLimited,
                    "every eligible provider is at its rate limit or concurrency cap",
                )
            } else if other.is_empty() {
                RouterError::NoProvider {
                    reason: "the router has no provider".into(),
                }
            } else {
                let reasons: Vec<String> = other
                    .iter()
                    .map(|(id, skip)| match skip {
                        Skip::Disabled => format!("{id} is disabled"),
                        Skip::Tags => format!("{id} takes other tags"),
                        Skip::Context(w) => {
                            format!("{id} has a context window of {w} < {estimated} tokens")
                        }
                    })
                    .collect();
                RouterError::NoProvider {
                    reason: reasons.join(", "),
                }
            });
        }
        let ctx = RouteContext {
            request,
            prompt_tokens: prompt,
            estimated_tokens: estimated,
            tags: &options.tags,
            affinity_key: options.affinity_key.as_deref(),
        };
        let mut seen = vec![false; candidates.len()];
        let mut order: Vec<String> = self
            .inner
            .strategy
            .order(&candidates, &ctx)
            .into_iter()
            .filter(|&i| i < candidates.len() && !std::mem::replace(&mut seen[i], true))
            .map(|i| candidates[i].id.clone())
            .collect();
        if order.is_empty() {
            order = candidates.iter().map(|c| c.id.clone()).collect();
        }
        let sticky = options
            .affinity_key
            .as_deref()
            .and_then(|k| lock(&self.inner.affinity).get(k).map(str::to_owned));
        for first in [sticky, options.prefer.clone()].into_iter().flatten() {
            if let Some(pos) = order.iter().position(|id| *id == first) {
                let id = order.remove(pos);
                order.insert(0, id);
            } else if candidates.iter().any(|c| c.id == first) {
                order.insert(0, first);
            } else if options.prefer.as_deref() == Some(first.as_str()) && !options.fallback {
                return Err(RouterError::NoProvider {
                    reason: format!(
                        "the preferred provider {first} may not take it, and fallback is off"
                    ),
                });
            }
        }
        Ok(CallOptions {
            prefer: None,
            fallback: options.fallback,
            deadline: options.deadline.or(self.inner.chain.config().deadline),
            order: Some(order),
        })
    }

    /// Answers `request` whole.
    pub async fn chat(
        &self,
        request: &ChatRequest,
        options: RouteOptions,
    ) -> Result<Routed<ChatResponse>, RouterError> {
        let started = Instant::now();
        let call = match self.plan(request, &options) {
            Ok(call) => call,
            Err(e) => return Err(self.refused(request, started, e)),
        };
        let first_choice = first_of(&call);
        let after = options.hedge_after.or(self.inner.hedge_after);
        let ctx = Arc::new(CallCtx::default());
        let run = |o: CallOptions| self.inner.chain.chat_with(request, o);
        let hedged = CALL.scope(Arc::clone(&ctx), hedge(call, after, run)).await;
        let totals = ctx.totals();
        match hedged.result {
            Ok(mut answered) => {
                let mut attempts = hedged.earlier;
                attempts.append(&mut answered.attempts);
                let single = !hedged.hedged && attempts.len() == 1 && attempts[0].retries == 0;
                let overhead =
                    single.then(|| started.elapsed().saturating_sub(totals.provider_time));
                let failover = attempts.len() > 1 || answered.provider != first_choice;
                self.finished(
                    request,
                    &options,
                    started,
                    Ok((&answered.provider, &answered.model, failover)),
                    Measured {
                        hedged: hedged.hedged,
                        totals,
                        overhead,
                    },
                );
                Ok(Routed {
                    value: answered.value,
                    provider: answered.provider,
                    model: answered.model,
                    attempts,
                    cost_usd: totals.cost_usd,
                })
            }
            Err(e) => {
                let failover = e.attempts.len() > 1;
                self.finished(
                    request,
                    &options,
                    started,
                    Err((e.kind(), failover)),
                    Measured {
                        hedged: hedged.hedged,
                        totals,
                        overhead: None,
                    },
                );
                Err(RouterError::Failed(e))
            }
        }
    }

    /// Answers `request` as a stream: returns once a provider's stream reached its first
    /// token, and resumes after interruptions as [`FallbackStream`] does. The call counts as
    /// a success once the stream is open; its usage and cost are billed when each part ends
    /// (see [`RouterStream::cost_usd`]).
    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        options: RouteOptions,
    ) -> Result<Routed<RouterStream>, RouterError> {
        let started = Instant::now();
        let call = match self.plan(request, &options) {
            Ok(call) => call,
            Err(e) => return Err(self.refused(request, started, e)),
        };
        let first_choice = first_of(&call);
        let after = options.hedge_after.or(self.inner.hedge_after);
        let ctx = Arc::new(CallCtx::default());
        let run = |o: CallOptions| self.inner.chain.chat_stream_with(request, o);
        let hedged = CALL.scope(Arc::clone(&ctx), hedge(call, after, run)).await;
        let totals = ctx.totals();
        match hedged.result {
            Ok(stream) => {
                let mut attempts = hedged.earlier;
                attempts.extend(stream.attempts());
                let (provider, model) = (stream.provider(), stream.model());
                let failover = attempts.len() > 1 || provider != first_choice;
                self.finished(
                    request,
                    &options,
                    started,
                    Ok((&provider, &model, failover)),
                    Measured {
                        hedged: hedged.hedged,
                        totals,
                        overhead: None,
                    },
                );
                Ok(Routed {
                    value: RouterStream { inner: stream, ctx },
                    provider,
                    model,
                    attempts,
                    cost_usd: totals.cost_usd,
                })
            }
            Err(e) => {
                let failover = e.attempts.len() > 1;
                self.finished(
                    request,
                    &options,
                    started,
                    Err((e.kind(), failover)),
                    Measured {
                        hedged: hedged.hedged,
                        totals,
                        overhead: None,
                    },
                );
                Err(RouterError::Failed(e))
            }
        }
    }

    fn refused(&self, request: &ChatRequest, started: Instant, e: RouterError) -> RouterError {
        {
            let mut c = lock(&self.inner.shared.counters);
            c.requests += 1;
            c.failures += 1;
        }
        tracing::warn!(
            target: "steadfast_router",
            success = false,
            gen_ai.request.model = request.model.as_str(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            error_kind = e.kind().map(ErrorKind::as_str),
            error = %e,
            "request refused"
        );
        e
    }

    /// Counts a finished call, remembers its affinity, and emits its event.
    fn finished(
        &self,
        request: &ChatRequest,
        options: &RouteOptions,
        started: Instant,
        outcome: Result<(&str, &str, bool), (Option<ErrorKind>, bool)>,
        measured: Measured,
    ) {
        let Measured {
            hedged,
            totals,
            overhead,
        } = measured;
        let (usage, cost_usd) = (totals.usage, totals.cost_usd);
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        {
            let mut c = lock(&self.inner.shared.counters);
            c.requests += 1;
            c.hedges += u64::from(hedged);
            match outcome {
                Ok((_, _, failover)) => {
                    c.successes += 1;
                    c.failovers += u64::from(failover);
                }
                Err((_, failover)) => {
                    c.failures += 1;
                    c.failovers += u64::from(failover);
                }
            }
            if let Some(o) = overhead {
                c.overhead.push(o.as_secs_f64() * 1e6);
            }
        }
        match outcome {
            Ok((provider, model, fallback)) => {
                if let Some(key) = &options.affinity_key {
                    lock(&self.inner.affinity).set(key, provider);
                }
                let system = self
                    .inner
                    .providers
                    .iter()
                    .find(|p| p.id() == provider)
                    .map_or("", |p| p.provider.kind().as_str());
                tracing::info!(
                    target: "steadfast_router",
                    provider,
                    gen_ai.system = system,
                    gen_ai.request.model = model,
                    gen_ai.usage.input_tokens = usage.input_tokens,
                    gen_ai.usage.output_tokens = usage.output_tokens,
                    duration_ms,
                    success = true,
                    fallback,
                    hedged,
                    cost_usd,
                    "request routed"
                );
            }
            Err((kind, fallback)) => tracing::warn!(
                target: "steadfast_router",
                success = false,
                gen_ai.request.model = request.model.as_str(),
                gen_ai.usage.input_tokens = usage.input_tokens,
                gen_ai.usage.output_tokens = usage.output_tokens,
                duration_ms,
                error_kind = kind.map(ErrorKind::as_str),
                fallback,
                hedged,
                cost_usd,
                "request failed"
            ),
        }
    }

    /// Everything counted since the router was built or [`reset_stats`](Self::reset_stats)
    /// was last called, with each provider's breaker state and health.
    pub fn stats(&self) -> StatsSnapshot {
        let now = Instant::now();
        let status = self.inner.chain.status();
        let providers: Vec<ProviderStats> = self
            .inner
            .providers
            .iter()
            .zip(&status)
            .map(|(p, s)| {
                let mut c = lock(&p.counters);
                let [p50, p95, p99] = c.latency.percentiles([50.0, 95.0, 99.0]);
                ProviderStats {
                    id: p.id().to_owned(),
                    enabled: p.enabled.load(Ordering::Relaxed),
                    requests: c.requests,
                    successes: c.successes,
                    failures: c.failures,
                    success_rate: c.success_rate(),
                    in_flight: p.in_flight.load(Ordering::Relaxed),
                    input_tokens: c.input_tokens,
                    output_tokens: c.output_tokens,
                    cost_usd: c.cost_usd,
                    latency: Latency {
                        p50_ms: p50,
                        p95_ms: p95,
                        p99_ms: p99,
                        ewma_ms: c.ewma_ms,
                        samples: c.latency.len(),
                    },
                    rpm: c.rpm.sum(now) as u64,
                    tpm: c.tpm.sum(now) as u64,
                    breaker: s.breaker,
                    health: s.health,
                }
            })
            .collect();
        let c = lock(&self.inner.shared.counters);
        let [o50, o99] = c.overhead.percentiles([50.0, 99.0]);
        let input_tokens = providers.iter().map(|p| p.input_tokens).sum();
        let output_tokens = providers.iter().map(|p| p.output_tokens).sum();
        StatsSnapshot {
            requests: c.requests,
            successes: c.successes,
            failures: c.failures,
            success_rate: if c.requests == 0 {
                1.0
            } else {
                c.successes as f64 / c.requests as f64
            },
            failovers: c.failovers,
            hedges: c.hedges,
            input_tokens,
            output_tokens,
            total_tokens: input_tokens + output_tokens,
            cost_usd: providers.iter().map(|p| p.cost_usd).sum(),
            overhead: Overhead {
                p50_us: o50,
                p99_us: o99,
                samples: c.overhead.len(),
            },
            providers,
        }
    }

    /// Clears the counters, tokens, costs and percentiles. What steers routing and
    /// enforces limits is kept: latency averages, rate-limit windows, budget spend, the
    /// chain's health and breakers, calls in flight.
    pub fn reset_stats(&self) {
        lock(&self.inner.shared.counters).reset();
        for p in &self.inner.providers {
            lock(&p.counters).reset();
        }
    }

    /// Enables or disables the provider with this id at run time; `false` when there is
    /// none. Calls in flight are not interrupted. A provider disabled here stays disabled
    /// whatever the health monitor finds.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> bool {
        let Some(p) = self.inner.providers.iter().find(|p| p.id() == id) else {
            return false;
        };
        p.monitor_disabled.store(false, Ordering::Relaxed);
        p.enabled.store(enabled, Ordering::Relaxed);
        self.inner.chain.set_enabled(id, enabled)
    }

    /// Probes every provider once with [`ChatProvider::health_check`] (under its configured
    /// timeout): one that fails is disabled, and one the monitor disabled is enabled again
    /// once it passes. Providers disabled by [`set_enabled`](Self::set_enabled) are not
    /// probed. Returns each probed provider's id and whether it passed.
    pub async fn probe_health(&self) -> Vec<(String, bool)> {
        let mut results = Vec::new();
        for (p, metered) in self.inner.providers.iter().zip(self.probes()) {
            let enabled = p.enabled.load(Ordering::Relaxed);
            let by_monitor = p.monitor_disabled.load(Ordering::Relaxed);
            if !enabled && !by_monitor {
                continue;
            }
            let passed = metered.health_check().await.is_ok();
            if passed && by_monitor {
                p.monitor_disabled.store(false, Ordering::Relaxed);
                p.enabled.store(true, Ordering::Relaxed);
                self.inner.chain.set_enabled(p.id(), true);
                tracing::info!(target: "steadfast_router", provider = p.id(), "health probe passed, provider enabled again");
            } else if !passed && enabled {
                p.monitor_disabled.store(true, Ordering::Relaxed);
                p.enabled.store(false, Ordering::Relaxed);
                self.inner.chain.set_enabled(p.id(), false);
                tracing::warn!(target: "steadfast_router", provider = p.id(), "health probe failed, provider disabled");
            }
            results.push((p.id().to_owned(), passed));
        }
        results
    }

    fn probes(&self) -> Vec<Metered> {
        self.inner
            .providers
            .iter()
            .map(|p| Metered {
                state: Arc::clone(p),
                shared: Arc::clone(&self.inner.shared),
            })
            .collect()
    }

    /// Spawns the background health monitor: [`probe_health`](Self::probe_health) at once
    /// and then every `interval`, until the handle is aborted. The task holds a clone of the
    /// router. Needs a tokio runtime.
    pub fn spawn_health_monitor(&self, interval: Duration) -> JoinHandle<()> {
        let router = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(1)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                router.probe_health().await;
            }
        })
    }
}

/// A streamed answer from a [`Router`]: the [`FallbackStream`] underneath, with the call's
/// cost and usage billed as its parts end.
pub struct RouterStream {
    inner: FallbackStream,
    ctx: Arc<CallCtx>,
}

impl RouterStream {
    /// The cost billed so far for this call, in USD: every part that ended (including parts
    /// cut off and resumed elsewhere), priced on the provider that served it.
    pub fn cost_usd(&self) -> f64 {
        self.ctx.totals().cost_usd
    }

    /// The usage billed so far for this call, summed over its parts.
    pub fn usage(&self) -> Usage {
        self.ctx.totals().usage
    }

    /// Everything delivered so far (see [`FallbackStream::delivered`]).
    pub fn delivered(&self) -> &StreamState {
        self.inner.delivered()
    }

    /// The stream underneath.
    pub fn inner(&self) -> &FallbackStream {
        &self.inner
    }
}

impl Stream for RouterStream {
    type Item = Result<StreamEvent, ProviderError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let ctx = Arc::clone(&this.ctx);
        // Reopens run inside this poll: the scope bills them to this call.
        CALL.sync_scope(ctx, || Pin::new(&mut this.inner).poll_next(cx))
    }
}

impl fmt::Debug for RouterStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterStream")
            .field("inner", &self.inner)
            .field("cost_usd", &self.cost_usd())
            .finish()
    }
}
