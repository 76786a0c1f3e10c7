//! `Router` and its `RouterBuilder`, and the flow of one call: plan, hedge, run the chain,
//! count and report the outcome.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use steadfast_errors::ErrorKind;
use steadfast_errors::observe::{Observer, Observers};
use steadfast_fallback::{
    Answered, AttemptRecord, CallOptions, FallbackChain, FallbackError, FallbackStream,
};
use steadfast_providers_core::{ChatProvider, ChatRequest, ChatResponse};
use tokio::time::Instant;
use tracing::Instrument;

use crate::affinity::Affinity;
use crate::config::{ProviderConfig, RouterConfig};
use crate::error::RouterError;
use crate::hedge::{Hedged, hedged, hedging};
use crate::limits::GlobalBudget;
use crate::metered::{CALL, CallCtx, CallTotals, Metered, ProviderState, Shared};
use crate::options::{RouteOptions, Routed};
use crate::plan::{Planned, Planner};
use crate::shared::{Link, SharedConfig, SharedState};
use crate::stats::{RouterCounters, lock};
use crate::strategy::Strategy;
use crate::stream::RouterStream;
use crate::telemetry::{Ending, StreamEnd, Telemetry, spans};

/// What was measured of a finished call.
#[derive(Debug, Clone, Copy)]
struct Measured {
    /// Whether a backup was started.
    hedged: bool,
    totals: CallTotals,
    /// The router's own time, when the call is sampled for it.
    overhead: Option<Duration>,
}

/// How a call ended, as the router counts it: the id and GenAI name of the provider that
/// answered, its model, and whether the call failed over; or the error's kind and whether
/// the call failed over.
type Outcome<'a> = Result<(&'a str, &'static str, &'a str, bool), (Option<ErrorKind>, bool)>;

/// What the chain answers a call with, as the call's ending takes it apart.
trait Answer {
    /// What is left once the provider, model and turns are taken out.
    type Rest;
    /// What the caller gets.
    type Value;
    /// Whether the router's overhead is sampled on this kind of call (a stream's duration
    /// is the consumer's, not the router's).
    const SAMPLES_OVERHEAD: bool;
    /// Whether the call is a stream (its end is reported when the stream ends).
    const STREAM: bool;
    /// The provider and model that answered, the turns that led to it, and the rest.
    fn take(self) -> (Self::Rest, String, String, Vec<AttemptRecord>);
    /// The caller's value, from the rest, the call's context, the router's shared state,
    /// whether the call already counts as a failover, and (for a stream) how to report its
    /// end.
    fn value(
        rest: Self::Rest,
        call: &Arc<CallCtx>,
        router: &Arc<Shared>,
        failover: bool,
        end: Option<StreamEnd>,
    ) -> Self::Value;
}

impl Answer for Answered<ChatResponse> {
    type Rest = ChatResponse;
    type Value = ChatResponse;
    const SAMPLES_OVERHEAD: bool = true;
    const STREAM: bool = false;

    fn take(self) -> (ChatResponse, String, String, Vec<AttemptRecord>) {
        (self.value, self.provider, self.model, self.attempts)
    }

    fn value(
        rest: ChatResponse,
        _: &Arc<CallCtx>,
        _: &Arc<Shared>,
        _: bool,
        _: Option<StreamEnd>,
    ) -> ChatResponse {
        rest
    }
}

impl Answer for FallbackStream {
    type Rest = FallbackStream;
    type Value = RouterStream;
    const SAMPLES_OVERHEAD: bool = false;
    const STREAM: bool = true;

    fn take(self) -> (FallbackStream, String, String, Vec<AttemptRecord>) {
        let (provider, model, attempts) = (self.provider(), self.model(), self.attempts());
        (self, provider, model, attempts)
    }

    fn value(
        rest: FallbackStream,
        call: &Arc<CallCtx>,
        router: &Arc<Shared>,
        failover: bool,
        end: Option<StreamEnd>,
    ) -> RouterStream {
        let opened_on = rest.provider();
        RouterStream::new(
            rest,
            Arc::clone(call),
            Arc::clone(router),
            opened_on,
            failover,
            end,
        )
    }
}

/// The router's providers and strategy as one call sees them: a change at run time
/// publishes a new roster (sharing every unchanged provider's state), and a call keeps the
/// one it was planned with.
pub(crate) struct Roster {
    /// In priority order, the same order as the chain's entries.
    pub(crate) providers: Vec<Arc<ProviderState>>,
    pub(crate) strategy: Arc<dyn Strategy>,
    /// Each provider's id and GenAI provider name, for spans and events.
    pub(crate) provider_names: Arc<[(String, &'static str)]>,
}

impl Roster {
    /// The roster of `providers` under `strategy`.
    pub(crate) fn new(providers: Vec<Arc<ProviderState>>, strategy: Arc<dyn Strategy>) -> Self {
        let provider_names = providers
            .iter()
            .map(|p| (p.id().to_owned(), p.provider.kind().as_str()))
            .collect();
        Roster {
            providers,
            strategy,
            provider_names,
        }
    }

    /// The provider with this id.
    pub(crate) fn provider(&self, id: &str) -> Option<&Arc<ProviderState>> {
        self.providers.iter().find(|p| p.id() == id)
    }

    /// The GenAI provider name (`openai`, `anthropic`, …) of the provider with this id.
    fn provider_name(&self, id: &str) -> &'static str {
        self.provider_names
            .iter()
            .find(|(p, _)| p == id)
            .map_or("", |(_, name)| name)
    }
}

pub(crate) struct Inner {
    pub(crate) chain: FallbackChain,
    /// The providers and strategy calls start from (see [`Roster`]).
    pub(crate) roster: ArcSwap<Roster>,
    /// Serialises changes to the roster and the chain, so that they stay in step.
    pub(crate) change: Mutex<()>,
    /// How many latency samples a provider added at run time keeps.
    pub(crate) latency_samples: usize,
    /// The seed of the built-in strategies ([`RouterConfig::seed`]).
    pub(crate) seed: Option<u64>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) affinity: Mutex<Affinity>,
    pub(crate) hedge_after: Option<Duration>,
    pub(crate) telemetry: Telemetry,
}

/// Routes chat calls over several providers: a [`Strategy`] picks the order, a
/// [`FallbackChain`] runs it (retry, breaker, fallback, stream resume), and the router adds
/// rate limits, concurrency caps, budgets, tags, affinity, cost and statistics. See the
/// [crate docs](crate).
///
/// Cheap to clone (an [`Arc`]); clones share everything.
///
/// # Changes at run time
///
/// [`add_provider`](Self::add_provider), [`remove_provider`](Self::remove_provider) and
/// [`set_strategy`](Self::set_strategy) change a running router without resetting anything:
/// every other provider keeps its breaker, retry budget, health, counters, rate windows,
/// budget spend, latency averages and calls in flight, and the router its totals, budget
/// and affinity. A call reads the providers and the strategy once, when it is planned (an
/// atomic load, no lock). A provider removed is skipped by every call that has not reached
/// it yet, even one planned before the removal; an attempt already running on it finishes
/// and is counted in the removed provider's own statistics, which leave
/// [`stats`](Self::stats) with it. A provider added later under the same id starts from
/// zero, and a call planned before the removal never counts into it.
#[derive(Clone)]
pub struct Router {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("chain", &self.inner.chain)
            .field("strategy", &self.inner.roster.load().strategy)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Router`].
#[derive(Debug, Default)]
pub struct RouterBuilder {
    providers: Vec<(Arc<dyn ChatProvider>, Option<ProviderConfig>)>,
    strategy: Option<Arc<dyn Strategy>>,
    config: RouterConfig,
    name: Option<String>,
    observers: Observers,
    shared: Option<(Arc<dyn SharedState>, SharedConfig)>,
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

    /// Shares rate windows, budgets and breaker trips with the other routers on the same
    /// `state` (see the [`shared`](crate::shared) module). The router must be built inside a
    /// tokio runtime, which runs its sync task. Default: none, everything local.
    #[must_use]
    pub fn shared_state(mut self, state: Arc<dyn SharedState>, config: SharedConfig) -> Self {
        self.shared = Some((state, config));
        self
    }

    /// Sets the router's configuration.
    #[must_use]
    pub fn config(mut self, config: RouterConfig) -> Self {
        self.config = config;
        self
    }

    /// Names the router's model group (default `"default"`): the `model_group` label of its
    /// metrics and the group of its [`Event`](steadfast_errors::observe::Event)s.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds an observer, told of every call, attempt, retry, breaker transition, fallback,
    /// resume and refusal (see [`steadfast_errors::observe`]). Several may be added; they
    /// are called in the order added, after the built-in metrics observer (feature
    /// `metrics`).
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Builds the router. Providers are ordered by priority (ties in the order added); a
    /// provider whose id was already added is left out, with a warning, since ids name
    /// providers in options, stats and affinity.
    pub fn build(self) -> Router {
        let config = self.config;
        let shared = Arc::new(Shared {
            counters: Mutex::new(RouterCounters::new(config.latency_samples)),
            budget: config.budget.map(GlobalBudget::new),
            ewma_alpha: if config.ewma_alpha > 0.0 && config.ewma_alpha <= 1.0 {
                config.ewma_alpha
            } else {
                0.2
            },
            link: self.shared.map(|(state, c)| Link::new(state, c)),
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
        let group: Arc<str> = Arc::from(self.name.as_deref().unwrap_or("default"));
        let mut observers = Observers::new();
        #[cfg(feature = "metrics")]
        observers.push(Arc::new(crate::telemetry::metrics::MetricsObserver::new(
            &group,
            providers.iter().map(|p| p.id()),
        )));
        for observer in self.observers.iter() {
            observers.push(Arc::clone(observer));
        }
        let observers = Arc::new(observers);
        let mut chain = FallbackChain::builder().config(config.chain.clone());
        if !observers.is_empty() {
            chain = chain.observer(Arc::clone(&observers) as Arc<dyn Observer>);
        }
        for p in &providers {
            let metered = Metered {
                state: Arc::clone(p),
                shared: Arc::clone(&shared),
            };
            chain = chain.provider(Arc::new(metered), p.config.chain_entry());
        }
        let chain = chain.build();
        if let Some(link) = &shared.link {
            for p in &providers {
                link.follow(Arc::clone(p), chain.breaker(p.id()));
            }
            crate::shared::spawn(&shared);
        }
        let strategy = self
            .strategy
            .unwrap_or_else(|| config.strategy.build(config.seed));
        Router {
            inner: Arc::new(Inner {
                chain,
                roster: ArcSwap::from_pointee(Roster::new(providers, strategy)),
                change: Mutex::new(()),
                latency_samples: config.latency_samples,
                seed: config.seed,
                shared,
                affinity: Mutex::new(Affinity::new(config.affinity_capacity)),
                hedge_after: config.hedge_after,
                telemetry: Telemetry { observers, group },
            }),
        }
    }
}

impl Router {
    /// A builder with no providers and the default [`RouterConfig`].
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// The fallback chain underneath (for its status and breakers). Change the providers
    /// through [`add_provider`](Self::add_provider) and
    /// [`remove_provider`](Self::remove_provider), not on the chain: the router only routes
    /// to the providers it knows.
    pub fn chain(&self) -> &FallbackChain {
        &self.inner.chain
    }

    /// The candidates for `request`, the call options that try them in order, and the
    /// request's estimated tokens.
    fn plan<'a>(
        &'a self,
        roster: &'a Roster,
        request: &ChatRequest,
        options: &RouteOptions,
        now: Instant,
    ) -> Result<Planned<'a>, RouterError> {
        let sticky = options
            .affinity_key
            .as_deref()
            .and_then(|k| lock(&self.inner.affinity).get(k).map(str::to_owned));
        Planner {
            chain: &self.inner.chain,
            providers: &roster.providers,
            strategy: &*roster.strategy,
            shared: &self.inner.shared,
            sticky,
            now,
        }
        .plan(request, options)
    }

    /// Answers `request` whole.
    pub async fn chat(
        &self,
        request: &ChatRequest,
        options: RouteOptions,
    ) -> Result<Routed<ChatResponse>, RouterError> {
        let run = |o: CallOptions| self.inner.chain.chat_with(request, o);
        self.route(request, options, run).await
    }

    /// Answers `request` as a stream: returns once a provider's stream reached its first
    /// token, and resumes after interruptions as [`FallbackStream`] does. The call counts as
    /// a success once the stream is open, and as a failover when a resume moves the answer
    /// to another provider (see [`RouterStream`]); its usage and cost are billed when each
    /// part ends (see [`RouterStream::cost_usd`]).
    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        options: RouteOptions,
    ) -> Result<Routed<RouterStream>, RouterError> {
        let run = |o: CallOptions| self.inner.chain.chat_stream_with(request, o);
        self.route(request, options, run).await
    }

    /// One call, whole or streamed: plan it, run it (hedged when asked) with its attempts
    /// billed to it, then count and report how it ended.
    async fn route<A, Fut>(
        &self,
        request: &ChatRequest,
        options: RouteOptions,
        run: impl Fn(CallOptions) -> Fut,
    ) -> Result<Routed<A::Value>, RouterError>
    where
        A: Answer,
        Fut: Future<Output = Result<A, FallbackError>>,
    {
        let started = Instant::now();
        let telemetry = &self.inner.telemetry;
        telemetry.started(&request.model, A::STREAM);
        let span = spans::call_span(&telemetry.group, &request.model, A::STREAM);
        // The roster the call is planned with: its outcome is counted there too, so a
        // provider removed meanwhile (and one added again under its id) is not confused.
        let roster = self.inner.roster.load_full();
        let Planned {
            call,
            estimated,
            first: first_choice,
        } = match span.in_scope(|| self.plan(&roster, request, &options, started)) {
            Ok(planned) => planned,
            Err(e) => {
                telemetry.refused(&request.model, A::STREAM, started, &e);
                spans::record_end(&span, None, &CallTotals::default(), e.kind());
                return Err(span.in_scope(|| self.refused(request, started, e)));
            }
        };
        let after = options.hedge_after.or(self.inner.hedge_after);
        let ctx = Arc::new(CallCtx::new(estimated));
        let hedged = match hedging(&call, after) {
            // The chain's future (KiBs, holding the provider's) is pinned in place here, and
            // the scope and the span hold a pointer to it: it is neither boxed (an allocation
            // past the allocator's small sizes) nor moved into each wrapper.
            None => {
                let run = std::pin::pin!(run(call));
                let result = CALL
                    .scope(Arc::clone(&ctx), run)
                    .instrument(span.clone())
                    .await;
                Hedged::plain(result, false)
            }
            // Boxed: the hedged run holds two calls' futures at once.
            Some(after) => {
                CALL.scope(Arc::clone(&ctx), Box::pin(hedged(call, after, run)))
                    .instrument(span.clone())
                    .await
            }
        };
        let _entered = span.enter();
        let totals = ctx.totals();
        // The call's duration, read once for the overhead, the event and the log.
        let elapsed = started.elapsed();
        match hedged.result {
            Ok(answer) => {
                let (rest, provider, model, later) = answer.take();
                let attempts = if hedged.earlier.is_empty() {
                    later
                } else {
                    let mut attempts = hedged.earlier;
                    attempts.extend(later);
                    attempts
                };
                let single = A::SAMPLES_OVERHEAD
                    && !hedged.hedged
                    && attempts.len() == 1
                    && attempts[0].retries == 0;
                let overhead = single.then(|| elapsed.saturating_sub(totals.provider_time));
                let failover = attempts.len() > 1 || provider != first_choice;
                // The GenAI name of who answered, for the span and the log.
                let name = roster.provider_name(&provider);
                let end = if A::STREAM {
                    telemetry.first_token(&provider, elapsed);
                    Some(StreamEnd {
                        telemetry: telemetry.clone(),
                        request_model: request.model.clone(),
                        started,
                        done: false,
                        error: None,
                        span: span.clone(),
                        provider_names: Arc::clone(&roster.provider_names),
                    })
                } else {
                    spans::record_end(&span, Some((&provider, name, &model)), &totals, None);
                    telemetry.finished(
                        &request.model,
                        elapsed,
                        &Ending {
                            provider: Some(&provider),
                            response_model: Some(&model),
                            error: None,
                            totals,
                            stream: false,
                        },
                    );
                    None
                };
                self.finished(
                    &roster,
                    request,
                    &options,
                    elapsed,
                    Ok((&provider, name, &model, failover)),
                    Measured {
                        hedged: hedged.hedged,
                        totals,
                        overhead,
                    },
                );
                Ok(Routed {
                    value: A::value(rest, &ctx, &self.inner.shared, failover, end),
                    provider,
                    model,
                    attempts,
                    cost_usd: totals.cost_usd,
                })
            }
            Err(e) => {
                let failover = e.attempts.len() > 1;
                spans::record_end(&span, None, &totals, e.kind().or(Some(ErrorKind::Unknown)));
                telemetry.finished(
                    &request.model,
                    elapsed,
                    &Ending {
                        provider: None,
                        response_model: None,
                        error: e.kind().or(Some(ErrorKind::Unknown)),
                        totals,
                        stream: A::STREAM,
                    },
                );
                self.finished(
                    &roster,
                    request,
                    &options,
                    elapsed,
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
            c.requests = c.requests.saturating_add(1);
            c.failures = c.failures.saturating_add(1);
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
        roster: &Roster,
        request: &ChatRequest,
        options: &RouteOptions,
        elapsed: Duration,
        outcome: Outcome<'_>,
        measured: Measured,
    ) {
        let Measured {
            hedged,
            totals,
            overhead,
        } = measured;
        let (usage, cost_usd) = (totals.usage, totals.cost_usd);
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        {
            let mut c = lock(&self.inner.shared.counters);
            c.requests = c.requests.saturating_add(1);
            c.hedges = c.hedges.saturating_add(u64::from(hedged));
            match outcome {
                Ok((_, _, _, failover)) => {
                    c.successes = c.successes.saturating_add(1);
                    c.failovers = c.failovers.saturating_add(u64::from(failover));
                }
                Err((_, failover)) => {
                    c.failures = c.failures.saturating_add(1);
                    c.failovers = c.failovers.saturating_add(u64::from(failover));
                }
            }
            if let Some(o) = overhead {
                c.overhead.push(o.as_secs_f64() * 1e6);
            }
        }
        match outcome {
            Ok((provider, provider_name, model, fallback)) => {
                if let Some(p) = roster.provider(provider) {
                    let mut c = lock(&p.counters);
                    c.calls = c.calls.saturating_add(1);
                }
                if let Some(key) = &options.affinity_key {
                    lock(&self.inner.affinity).set(key, provider);
                }
                tracing::info!(
                    target: "steadfast_router",
                    provider,
                    gen_ai.provider.name = provider_name,
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
}
