//! `Metered`: the wrapper each provider sits in inside the fallback chain. It sees every
//! attempt — counts it, times it, applies the configured timeout, and bills its usage to
//! the provider, the budgets and the call in progress.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use futures_util::future::Either;
use steadfast_errors::{ErrorKind, Owner, Provider, ProviderError};
use steadfast_providers_core::{
    Capabilities, ChatProvider, ChatRequest, ChatResponse, ChatStream, ModelInfo, Pricing,
    StreamEvent, Usage,
};
use tokio::time::Instant;

use crate::config::ProviderConfig;
use crate::estimate::estimate_tokens;
use crate::limits::{GlobalBudget, Limiter};
use crate::pricing;
use crate::stats::{ProviderCounters, RouterCounters, lock};

tokio::task_local! {
    /// The call being routed, so that attempts can be billed and timed to it.
    pub(crate) static CALL: Arc<CallCtx>;
}

/// What one routed call accumulated across its attempts.
#[derive(Debug, Default)]
pub(crate) struct CallCtx {
    /// The request's estimated tokens, reserved against `tpm` by each attempt.
    pub(crate) estimated: u64,
    pub(crate) totals: Mutex<CallTotals>,
}

/// See [`CallCtx`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallTotals {
    /// Time spent inside provider attempts.
    pub(crate) provider_time: Duration,
    pub(crate) cost_usd: f64,
    pub(crate) usage: Usage,
}

impl CallCtx {
    pub(crate) fn new(estimated: u64) -> CallCtx {
        CallCtx {
            estimated,
            totals: Mutex::default(),
        }
    }

    pub(crate) fn totals(&self) -> CallTotals {
        *lock(&self.totals)
    }
}

impl CallTotals {
    /// Adds `usage`, billed at `cost`.
    fn bill(&mut self, usage: &Usage, cost: f64) {
        self.cost_usd += cost;
        // `Usage` adds saturating.
        self.usage += *usage;
    }
}

fn current_call() -> Option<Arc<CallCtx>> {
    CALL.try_with(Arc::clone).ok()
}

/// What every provider shares with the router: its counters and the global budget.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) counters: Mutex<RouterCounters>,
    pub(crate) budget: Option<GlobalBudget>,
    pub(crate) ewma_alpha: f64,
    /// State shared with other router instances, when configured.
    pub(crate) link: Option<crate::shared::Link>,
}

impl Shared {
    /// Whether the global budget is spent.
    pub(crate) fn budget_spent(&self, now: Instant) -> bool {
        self.budget.as_ref().is_some_and(|b| b.spent(now))
    }
}

/// One provider as the router keeps it.
#[derive(Debug)]
pub(crate) struct ProviderState {
    pub(crate) provider: Arc<dyn ChatProvider>,
    pub(crate) config: ProviderConfig,
    pub(crate) enabled: AtomicBool,
    /// Disabled by the health monitor (and so re-enabled by it).
    pub(crate) monitor_disabled: AtomicBool,
    pub(crate) limits: Limiter,
    pub(crate) counters: Mutex<ProviderCounters>,
    /// The catalog's row for the model last priced on it.
    catalog: pricing::CatalogCache,
}

impl ProviderState {
    pub(crate) fn new(
        provider: Arc<dyn ChatProvider>,
        config: ProviderConfig,
        samples: usize,
    ) -> ProviderState {
        ProviderState {
            enabled: AtomicBool::new(config.entry.enabled),
            monitor_disabled: AtomicBool::new(false),
            limits: Limiter::new(&config),
            counters: Mutex::new(ProviderCounters::new(samples)),
            catalog: pricing::CatalogCache::default(),
            provider,
            config,
        }
    }

    pub(crate) fn id(&self) -> &str {
        self.provider.id()
    }

    /// The context window of `model` on this provider, when known.
    pub(crate) fn context_window(&self, model: &str) -> Option<u32> {
        pricing::context_window(&self.config, self.provider.as_ref(), &self.catalog, model)
    }

    /// The model this provider is asked for on `request`.
    pub(crate) fn model_for<'a>(&'a self, request: &'a ChatRequest) -> &'a str {
        self.config
            .model
            .as_deref()
            .or(self.config.entry.model.as_deref())
            .unwrap_or(&request.model)
    }

    /// The prices of `model` on this provider, when known (see the `pricing` module).
    pub(crate) fn pricing(&self, model: &str) -> Option<Pricing> {
        pricing::pricing(&self.config, self.provider.as_ref(), &self.catalog, model)
    }

    /// The cost of `usage` on `model` as billed: 0, with one warning, when unknown.
    fn cost(&self, model: &str, usage: &Usage) -> f64 {
        pricing::cost(
            &self.config,
            self.provider.as_ref(),
            &self.catalog,
            model,
            usage,
        )
    }

    /// Admits an attempt on `request` ([`Limiter::admit`]) and counts it, or refuses it
    /// with a local `budget_exceeded` error (which falls back to the next provider and
    /// counts against no provider's health). The slot is held until the returned guard
    /// drops, so a cancelled attempt releases it too.
    fn admit(
        self: &Arc<Self>,
        now: Instant,
        call: Option<&CallCtx>,
        request: &ChatRequest,
    ) -> Result<Slot, ProviderError> {
        let estimated = if self.config.tpm.is_some() {
            call.map_or_else(|| estimate_tokens(request), |c| c.estimated)
        } else {
            0
        };
        match self.limits.admit(now, estimated) {
            Ok(reserved) => {
                let mut c = lock(&self.counters);
                c.requests = c.requests.saturating_add(1);
                drop(c);
                Ok(Slot {
                    state: Arc::clone(self),
                    reserved,
                    cluster: None,
                })
            }
            Err(limit) => Err(ProviderError::new(
                ErrorKind::BudgetExceeded,
                self.id().to_owned(),
                format!("refused when the attempt started: {}", limit.as_str()),
            )
            .with_owner(Owner::Local)
            .with_model(request.model.clone())),
        }
    }

    fn latency(&self, elapsed: Duration, alpha: f64) {
        lock(&self.counters).latency(elapsed, alpha);
    }

    fn outcome(&self, now: Instant, success: bool) {
        lock(&self.counters).outcome(now, success);
    }
}

/// A provider as the fallback chain calls it through the router.
#[derive(Debug)]
pub(crate) struct Metered {
    pub(crate) state: Arc<ProviderState>,
    pub(crate) shared: Arc<Shared>,
}

impl Metered {
    /// Reserves the attempt in the shared state, when there is one (see the `shared`
    /// module); nothing to wait for otherwise.
    async fn reserve_shared(
        &self,
        call: Option<&CallCtx>,
        request: &ChatRequest,
    ) -> Result<Option<crate::shared::Reserved>, ProviderError> {
        if self.shared.link.is_none() {
            return Ok(None);
        }
        let estimated = call.map_or_else(|| estimate_tokens(request), |c| c.estimated);
        // Boxed: the reservation's future is 544 bytes that every attempt's future would
        // carry, Redis or not; only an attempt that reserves pays for the box.
        Box::pin(crate::shared::reserve(
            &self.shared,
            &self.state,
            &request.model,
            estimated,
        ))
        .await
    }

    /// `fut`, cut at the configured timeout; without one, `fut` itself, with no layer
    /// between (an async wrapper would be one more future in every attempt's).
    fn timed<'a, T: 'a, F>(
        &'a self,
        model: &'a str,
        fut: F,
    ) -> Either<F, impl Future<Output = Result<T, ProviderError>> + 'a>
    where
        F: Future<Output = Result<T, ProviderError>> + 'a,
    {
        match self.state.config.timeout {
            None => Either::Left(fut),
            Some(t) => Either::Right(async move {
                tokio::time::timeout(t, fut).await.unwrap_or_else(|_| {
                    Err(ProviderError::new(
                        ErrorKind::Timeout,
                        self.state.id().to_owned(),
                        "the attempt took longer than the router's configured timeout",
                    )
                    .with_model(model.to_owned()))
                })
            }),
        }
    }
}

fn bill(
    state: &ProviderState,
    shared: &Shared,
    now: Instant,
    model: &str,
    usage: &Usage,
    call: Option<&CallCtx>,
) {
    let cost = state.cost(model, usage);
    lock(&state.counters).bill(usage, cost);
    bill_limits(state, shared, now, usage, cost);
    if let Some(call) = call {
        lock(&call.totals).bill(usage, cost);
    }
}

/// Bills `usage` at `cost` to the provider's limits and the router's budget.
fn bill_limits(state: &ProviderState, shared: &Shared, now: Instant, usage: &Usage, cost: f64) {
    state.limits.billed(now, usage.total(), cost);
    if let Some(budget) = &shared.budget {
        budget.add(now, cost);
    }
}

#[async_trait]
impl ChatProvider for Metered {
    fn id(&self) -> &str {
        self.state.id()
    }

    fn kind(&self) -> Provider {
        self.state.provider.kind()
    }

    fn base_url(&self) -> Option<&str> {
        self.state.provider.base_url()
    }

    fn capabilities(&self) -> Capabilities {
        self.state.provider.capabilities()
    }

    fn models(&self) -> &[ModelInfo] {
        self.state.provider.models()
    }

    fn pricing(&self, model: &str) -> Option<Pricing> {
        self.state.pricing(model)
    }

    fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        pricing::known_cost(
            &self.state.config,
            self.state.provider.as_ref(),
            &self.state.catalog,
            model,
            usage,
        )
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let call = current_call();
        let admitted = Instant::now();
        let mut slot = self.state.admit(admitted, call.as_deref(), request)?;
        slot.cluster = self.reserve_shared(call.as_deref(), request).await?;
        // After admission (and any wait for the shared state): the provider's time only.
        let started = Instant::now();
        let result = self
            .timed(&request.model, self.state.provider.chat(request))
            .await;
        // One reading of the clock for the latency, the billing and the outcome.
        let ended = Instant::now();
        let elapsed = ended.saturating_duration_since(started);
        let usage = result.as_ref().ok().and_then(|r| r.usage.as_ref());
        let cost = usage.map(|u| (u, self.state.cost(&request.model, u)));
        {
            // The provider's counters, taken once for the usage, latency and outcome.
            let mut c = lock(&self.state.counters);
            if let Some((usage, cost)) = cost {
                c.bill(usage, cost);
            }
            c.latency(elapsed, self.shared.ewma_alpha);
            c.outcome(ended, result.is_ok());
        }
        // Billed before the slot (and its token reservation) is released.
        if let Some((usage, cost)) = cost {
            bill_limits(&self.state, &self.shared, ended, usage, cost);
        }
        drop(slot);
        if let Some(call) = &call {
            let mut t = lock(&call.totals);
            if let Some((usage, cost)) = cost {
                t.bill(usage, cost);
            }
            t.provider_time = t.provider_time.saturating_add(elapsed);
        }
        result
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let call = current_call();
        let admitted = Instant::now();
        let mut slot = self.state.admit(admitted, call.as_deref(), request)?;
        slot.cluster = self.reserve_shared(call.as_deref(), request).await?;
        let started = Instant::now();
        let result = self
            .timed(&request.model, self.state.provider.chat_stream(request))
            .await;
        let ended = Instant::now();
        let elapsed = ended.saturating_duration_since(started);
        self.state.latency(elapsed, self.shared.ewma_alpha);
        if let Some(call) = &call {
            let mut t = lock(&call.totals);
            t.provider_time = t.provider_time.saturating_add(elapsed);
        }
        match result {
            Ok(inner) => Ok(Box::pin(MeteredStream::new(
                inner,
                slot,
                Arc::clone(&self.shared),
                request.model.clone(),
                call,
            ))),
            Err(e) => {
                drop(slot);
                self.state.outcome(ended, false);
                Err(e)
            }
        }
    }

    async fn health_check(&self) -> Result<(), ProviderError> {
        self.timed("", self.state.provider.health_check()).await
    }

    fn continuation(&self, request: &ChatRequest, partial: &str) -> Option<ChatRequest> {
        self.state.provider.continuation(request, partial)
    }
}

/// An admitted attempt's slot and token reservation; released when dropped (so a cancelled
/// attempt releases too).
struct Slot {
    state: Arc<ProviderState>,
    reserved: u64,
    /// What the attempt reserved in the shared state, given back when the slot drops.
    cluster: Option<crate::shared::Reserved>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.state.limits.end(self.reserved);
    }
}

/// A provider's stream, counted in flight until it ends, and billed when it ends (or is
/// dropped) with the last usage it reported — providers report usage so far, cumulatively.
///
/// A stream cut after content it never reported output tokens for is billed as the resume
/// layer bills it (`steadfast_streaming::ResumableStream`): one
/// output token per 4 characters it delivered, rounded up, or what it reported if that is
/// more — the provider generated those tokens, and the stream's own usage events count them.
struct MeteredStream {
    inner: ChatStream,
    /// `Some` until the stream ended.
    slot: Option<Slot>,
    shared: Arc<Shared>,
    model: String,
    usage: Option<Usage>,
    call: Option<Arc<CallCtx>>,
    /// Characters of content (text, reasoning, refusal, tool-call arguments) delivered.
    chars: usize,
    /// Content arrived after the last usage report.
    unreported: bool,
    /// The stream completed (`Done`, or its end): nothing was cut.
    completed: bool,
}

impl MeteredStream {
    fn new(
        inner: ChatStream,
        slot: Slot,
        shared: Arc<Shared>,
        model: String,
        call: Option<Arc<CallCtx>>,
    ) -> MeteredStream {
        MeteredStream {
            inner,
            slot: Some(slot),
            shared,
            model,
            usage: None,
            call,
            chars: 0,
            unreported: false,
            completed: false,
        }
    }

    /// Notes what `event` means for billing.
    fn saw(&mut self, event: &StreamEvent) {
        let chars = match event {
            StreamEvent::TextDelta { text }
            | StreamEvent::ReasoningDelta { text }
            | StreamEvent::RefusalDelta { text } => text.chars().count(),
            StreamEvent::ToolCallDelta(d) => d.arguments.chars().count(),
            StreamEvent::Usage(u) => {
                self.usage = Some(*u);
                self.unreported = false;
                return;
            }
            StreamEvent::Done => {
                self.completed = true;
                return;
            }
            _ => return,
        };
        self.chars = self.chars.saturating_add(chars);
        self.unreported |= chars > 0;
    }

    /// What to bill: the last report; for a stream cut after content, unless a report of
    /// some output tokens came after its last content, at least the estimate (the rule of
    /// the resume layer, so both agree).
    fn billed(&mut self) -> Option<Usage> {
        let reported = self.usage.take();
        let covered = !self.unreported && reported.is_some_and(|u| u.output_tokens > 0);
        if self.completed || self.chars == 0 || covered {
            return reported;
        }
        let estimate = self.chars.div_ceil(4) as u64;
        let mut usage = reported.unwrap_or_default();
        usage.output_tokens = usage.output_tokens.max(estimate);
        Some(usage)
    }

    fn finish(&mut self, success: bool) {
        if let Some(slot) = self.slot.take() {
            let now = Instant::now();
            slot.state.outcome(now, success);
            if let Some(usage) = self.billed() {
                bill(
                    &slot.state,
                    &self.shared,
                    now,
                    &self.model,
                    &usage,
                    self.call.as_deref(),
                );
            }
        }
    }
}

impl Stream for MeteredStream {
    type Item = Result<StreamEvent, ProviderError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = this.inner.as_mut().poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(event))) => this.saw(event),
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Ready(None) => {
                this.completed = true;
                this.finish(true);
            }
            _ => {}
        }
        item
    }
}

impl Drop for MeteredStream {
    fn drop(&mut self) {
        self.finish(true);
    }
}

impl fmt::Debug for MeteredStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredStream")
            .field("model", &self.model)
            .field("usage", &self.usage)
            .finish_non_exhaustive()
    }
}
