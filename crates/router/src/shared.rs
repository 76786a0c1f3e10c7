//! Shared state: the [`SharedState`] trait through which router instances share rate
//! windows, budgets and breaker trips, and the background sync that keeps each instance's
//! local view of it fresh.
//!
//! # Design
//!
//! The hot path stays local. A call without limits never waits on the shared state; the
//! plan reads each provider's limits against the larger of its local count and the
//! cluster's count as of the last refresh. An attempt on a provider with an `rpm`, a `tpm`
//! or a budget (or under a router-wide budget) also reserves in the shared state, in one
//! atomic step, under [`SharedConfig::timeout`]: its request, its estimated tokens, its
//! estimated cost. Real usage is settled in batches by the background sync, which also
//! reads the cluster's counts and its breakers every [`SharedConfig::refresh_interval`].
//!
//! Breakers: a local trip is published at once (expiring after its open duration); every
//! instance, on its next refresh, forces its own breaker for that provider open until the
//! same moment ([`CircuitBreaker::force_open`]). When the trip runs out, one instance
//! claims the probe lock and probes; the others stay open until it reports. A probe that
//! closes the breaker publishes the recovery, and the others close too.
//!
//! # Failing open
//!
//! Every call to the shared state runs under [`SharedConfig::timeout`]. One that fails or
//! times out never fails the call: a reservation counts as admitted (the local limits
//! still hold), and the refresh forgets the cluster's counts until the state answers
//! again, so each instance is held to its own local limits. Usage billed meanwhile is kept
//! and settled once the state is back. Implementations report their own errors (the Redis
//! one logs a warning once per outage and counts `steadfast.shared.errors`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use steadfast_circuit::{CircuitBreaker, Reason, State};
use steadfast_errors::{ErrorKind, Owner, ProviderError};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::limits::{Cluster, Unsynced};
use crate::metered::{ProviderState, Shared};

/// The scope of the router-wide budget in [`Meter`] keys.
pub const ROUTER_SCOPE: &str = "*";

/// What a shared window counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Meter {
    /// Attempts started (`rpm`).
    Requests,
    /// Tokens, reserved and billed (`tpm`).
    Tokens,
    /// Spend in USD (budgets).
    Spend,
}

impl Meter {
    /// A short name for keys: `rpm`, `tpm`, `spend`.
    pub fn as_str(self) -> &'static str {
        match self {
            Meter::Requests => "rpm",
            Meter::Tokens => "tpm",
            Meter::Spend => "spend",
        }
    }
}

/// One sliding window counted across instances: a provider's (or, with [`ROUTER_SCOPE`],
/// the router's) meter over `span`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRef {
    /// The provider id, or [`ROUTER_SCOPE`].
    pub scope: String,
    /// What is counted.
    pub meter: Meter,
    /// The length of the sliding window.
    pub span: Duration,
}

/// How a reservation is judged against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// Refused when the count plus the amount would pass the limit (`rpm`, `tpm`).
    Fits,
    /// Refused when the count has reached the limit (budgets: the last call admitted may
    /// pass the budget by its own amount).
    Below,
}

/// A breaker change one instance tells the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerNews {
    /// Tripped: open for this long.
    Opened(Duration),
    /// Closed by probes that succeeded.
    Closed,
}

/// A provider's breaker as the cluster last published it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SharedBreaker {
    /// Open for this much longer.
    Open(Duration),
    /// Recovered recently.
    Closed,
}

/// What [`SharedState::view`] reads: the sums of the windows asked for (in order) and the
/// breakers published for the providers asked for (in order; `None` when nothing is
/// published).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    /// One sum per window asked for.
    pub sums: Vec<f64>,
    /// One entry per provider asked for.
    pub breakers: Vec<Option<SharedBreaker>>,
}

/// Why the shared state did not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SharedError {
    /// No answer within the timeout.
    #[error("the shared state did not answer within {0:?}")]
    Timeout(Duration),
    /// The backend failed (connection refused, reset, a script error …).
    #[error("the shared state is unavailable: {0}")]
    Unavailable(String),
}

/// State shared by router instances: sliding windows reserved and settled atomically,
/// breaker news, and a probe lock. Implemented for Redis by `steadfast-shared-redis`.
///
/// Implementations keep every key under their own namespace and expiring, bound each call
/// by a short timeout of their own, and never panic; the router adds
/// [`SharedConfig::timeout`] on top and fails open on any error (see the module docs).
#[async_trait]
pub trait SharedState: Send + Sync + fmt::Debug {
    /// Adds `amount` to `window` unless `check` against `limit` refuses it; `true` when
    /// admitted. Atomic across instances.
    async fn reserve(
        &self,
        window: &WindowRef,
        limit: f64,
        amount: f64,
        check: Check,
    ) -> Result<bool, SharedError>;

    /// Adds `delta` (negative to give back a reservation) to `window`, unconditionally.
    async fn settle(&self, window: &WindowRef, delta: f64) -> Result<(), SharedError>;

    /// Publishes a breaker change for `provider`.
    async fn publish(&self, provider: &str, news: BreakerNews) -> Result<(), SharedError>;

    /// Reads the sums of `windows` and the breakers of `providers`, in one round trip
    /// where the backend allows.
    async fn view(
        &self,
        windows: &[WindowRef],
        providers: &[&str],
    ) -> Result<ClusterView, SharedError>;

    /// Claims the right to probe `provider` for `ttl`; `true` for the one instance that
    /// got it.
    async fn claim_probe(&self, provider: &str, ttl: Duration) -> Result<bool, SharedError>;
}

/// How a router uses its [`SharedState`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct SharedConfig {
    /// How often the cluster view is read and usage settled. Default 50 ms.
    pub refresh_interval: Duration,
    /// The longest the router waits on one call to the shared state before failing open.
    /// Default 50 ms.
    pub timeout: Duration,
}

impl Default for SharedConfig {
    fn default() -> Self {
        SharedConfig {
            refresh_interval: Duration::from_millis(50),
            timeout: Duration::from_millis(50),
        }
    }
}

impl SharedConfig {
    /// The default config with this refresh interval (at least 1 ms).
    pub fn with_refresh_interval(refresh_interval: Duration) -> Self {
        SharedConfig {
            refresh_interval: refresh_interval.max(Duration::from_millis(1)),
            ..SharedConfig::default()
        }
    }
}

/// The router's handle on its shared state.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) state: Arc<dyn SharedState>,
    pub(crate) config: SharedConfig,
    /// Breaker news from the local breakers' observers, for the sync task to publish.
    news: mpsc::Sender<(String, BreakerNews)>,
    news_rx: std::sync::Mutex<Option<mpsc::Receiver<(String, BreakerNews)>>>,
    /// The providers the sync task keeps in line with the cluster, with their breakers
    /// (changed when the router's providers change at run time).
    followed: std::sync::Mutex<Followed>,
}

/// The providers the sync task follows.
type Followed = Arc<[(Arc<ProviderState>, Option<CircuitBreaker>)]>;

impl Link {
    pub(crate) fn new(state: Arc<dyn SharedState>, config: SharedConfig) -> Link {
        let (news, rx) = mpsc::channel(256);
        Link {
            state,
            config,
            news,
            news_rx: std::sync::Mutex::new(Some(rx)),
            followed: std::sync::Mutex::new(Arc::new([])),
        }
    }

    /// Starts following provider `p`: its windows and budget are shared from the next
    /// refresh on, and its breaker's trips and recoveries are published.
    pub(crate) fn follow(&self, p: Arc<ProviderState>, breaker: Option<CircuitBreaker>) {
        if let Some(b) = &breaker {
            self.watch(p.id(), b);
        }
        let mut followed = crate::stats::lock(&self.followed);
        let mut next = followed.to_vec();
        next.push((p, breaker));
        *followed = next.into();
    }

    /// Stops following the provider with this id (its usage not yet settled is dropped
    /// with it).
    pub(crate) fn unfollow(&self, id: &str) {
        let mut followed = crate::stats::lock(&self.followed);
        let next: Vec<_> = followed
            .iter()
            .filter(|(p, _)| p.id() != id)
            .cloned()
            .collect();
        *followed = next.into();
    }

    fn followed(&self) -> Followed {
        Arc::clone(&crate::stats::lock(&self.followed))
    }

    async fn bounded<T>(
        &self,
        fut: impl Future<Output = Result<T, SharedError>>,
    ) -> Result<T, SharedError> {
        tokio::time::timeout(self.config.timeout, fut)
            .await
            .unwrap_or(Err(SharedError::Timeout(self.config.timeout)))
    }

    /// Reports local breaker changes of `provider` that the cluster should learn: trips
    /// and recoveries by probes (not forced opens or resets, which are not this
    /// instance's findings).
    pub(crate) fn watch(&self, provider: &str, breaker: &CircuitBreaker) {
        let news = self.news.clone();
        let id = provider.to_owned();
        let _ = breaker.clone().on_transition(move |t| {
            let item = match (t.to, t.reason) {
                (_, Reason::Forced | Reason::Reset | Reason::OpenElapsed) => return,
                (State::Open, _) => BreakerNews::Opened(t.open_for.unwrap_or_default()),
                (State::Closed, _) => BreakerNews::Closed,
                _ => return,
            };
            // Full: the next refresh still carries the trip to whoever reads it late.
            let _ = news.try_send((id.clone(), item));
        });
    }
}

/// The estimated cost of `tokens` on a provider: every token at the dearer of its input
/// and output prices, so the estimate bounds what the call can bill (0 when unpriced).
fn estimated_cost(state: &ProviderState, model: &str, tokens: u64) -> f64 {
    state.pricing(model).map_or(0.0, |p| {
        tokens as f64 * p.input_per_mtok.max(p.output_per_mtok) / 1e6
    })
}

/// What one attempt reserved in the shared state; given back to the provider's (and the
/// router's) owed usage when the attempt ends, so that the settled total is what was
/// billed.
#[derive(Debug)]
pub(crate) struct Reserved {
    state: Arc<ProviderState>,
    shared: Arc<Shared>,
    tokens: f64,
    cost: f64,
    global_cost: f64,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.state.limits.owe(Unsynced {
            tokens: -self.tokens,
            cost: -self.cost,
        });
        if let Some(budget) = &self.shared.budget
            && self.global_cost != 0.0
        {
            budget.owe(-self.global_cost);
        }
    }
}

/// Reserves an attempt on `state` in the shared state: a request, its estimated tokens and
/// its estimated cost, for each limit configured. `Ok(None)` without shared state or
/// limits; a refusal is a local `budget_exceeded` error, as a local limit's is. A shared
/// state that fails admits (fail-open).
pub(crate) async fn reserve(
    shared: &Arc<Shared>,
    state: &Arc<ProviderState>,
    model: &str,
    estimated: u64,
) -> Result<Option<Reserved>, ProviderError> {
    let Some(link) = &shared.link else {
        return Ok(None);
    };
    let (rpm, tpm, budget) = state.limits.limits();
    let global = shared.budget.as_ref().map(|b| b.budget());
    if rpm.is_none() && tpm.is_none() && budget.is_none() && global.is_none() {
        return Ok(None);
    }
    let id = state.id();
    let window = |meter, span| WindowRef {
        scope: id.to_owned(),
        meter,
        span,
    };
    let minute = Duration::from_secs(60);
    let cost = estimated_cost(state, model, estimated);
    let mut held = Reserved {
        state: Arc::clone(state),
        shared: Arc::clone(shared),
        tokens: 0.0,
        cost: 0.0,
        global_cost: 0.0,
    };
    let refused = |what: &str| {
        ProviderError::new(
            ErrorKind::BudgetExceeded,
            id.to_owned(),
            format!("refused when the attempt started: {what} across the cluster"),
        )
        .with_owner(Owner::Local)
        .with_model(model.to_owned())
    };
    // `Some(true)` reserved, `Some(false)` refused, `None` failed open (nothing reserved).
    let reserve = |w: WindowRef, limit: f64, amount: f64, check: Check| async move {
        link.bounded(link.state.reserve(&w, limit, amount, check))
            .await
            .ok()
    };
    if let Some(rpm) = rpm
        && reserve(
            window(Meter::Requests, minute),
            f64::from(rpm),
            1.0,
            Check::Fits,
        )
        .await
            == Some(false)
    {
        return Err(refused("the provider is at its requests-per-minute limit"));
    }
    if let Some(tpm) = tpm {
        let amount = estimated as f64;
        match reserve(
            window(Meter::Tokens, minute),
            tpm as f64,
            amount,
            Check::Fits,
        )
        .await
        {
            Some(false) => return Err(refused("the provider is at its tokens-per-minute limit")),
            Some(true) => held.tokens = amount,
            None => {}
        }
    }
    if let Some(b) = budget {
        match reserve(window(Meter::Spend, b.window), b.usd, cost, Check::Below).await {
            Some(false) => return Err(refused("the provider's budget is spent")),
            Some(true) => held.cost = cost,
            None => {}
        }
    }
    if let Some(b) = global {
        let w = WindowRef {
            scope: ROUTER_SCOPE.to_owned(),
            meter: Meter::Spend,
            span: b.window,
        };
        match reserve(w, b.usd, cost, Check::Below).await {
            Some(false) => return Err(refused("the router's budget is spent")),
            Some(true) => held.global_cost = cost,
            None => {}
        }
    }
    Ok(Some(held))
}

/// What the sync task knows of one provider's breaker beyond the breaker itself.
#[derive(Debug, Default)]
struct Forced {
    /// Forced open by the cluster (so the cluster's recovery may close it).
    forced: bool,
    /// When the local breaker last tripped on its own.
    tripped_at: Option<Instant>,
    /// Whether that trip reached the shared state (a failed publish leaves the cluster
    /// unaware of it, so a `closed` read afterwards is not a verdict on it).
    published: bool,
    /// When this instance last won the probe lock.
    claimed_at: Option<Instant>,
}

/// Spawns the sync task of a router: publishes breaker news at once, and every refresh
/// interval settles owed usage and reads the cluster view. Ends when the router is
/// dropped. Without a tokio runtime nothing is spawned and a warning says so.
pub(crate) fn spawn(shared: &Arc<Shared>) {
    let Some(link) = &shared.link else { return };
    let Some(mut news) = crate::stats::lock(&link.news_rx).take() else {
        return;
    };
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(target: "steadfast_router", "shared state configured but the router was built outside a tokio runtime: it stays local");
        return;
    };
    let weak: Weak<Shared> = Arc::downgrade(shared);
    handle.spawn(async move {
        let mut sync = SyncTask {
            providers: Arc::new([]),
            marks: HashMap::new(),
        };
        let interval = match weak.upgrade() {
            Some(s) => s
                .link
                .as_ref()
                .map_or(Duration::from_millis(50), |l| l.config.refresh_interval),
            None => return,
        };
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                item = news.recv() => {
                    let Some((id, item)) = item else { return };
                    let Some(shared) = weak.upgrade() else { return };
                    sync.publish(&shared, &id, item).await;
                }
                _ = ticks.tick() => {
                    let Some(shared) = weak.upgrade() else { return };
                    sync.refresh(&shared, &mut news).await;
                }
            }
        }
    });
}

struct SyncTask {
    /// The providers followed as of the last refresh.
    providers: Followed,
    marks: HashMap<String, Forced>,
}

impl SyncTask {
    async fn publish(&mut self, shared: &Shared, id: &str, news: BreakerNews) {
        let Some(link) = &shared.link else { return };
        let opened = matches!(news, BreakerNews::Opened(_));
        if opened {
            let mark = self.marks.entry(id.to_owned()).or_default();
            mark.tripped_at = Some(Instant::now());
            mark.forced = false;
        }
        let published = link.bounded(link.state.publish(id, news)).await.is_ok();
        if opened && let Some(mark) = self.marks.get_mut(id) {
            mark.published = published;
        }
    }

    /// Settles owed usage, then reads the cluster view and applies it.
    async fn refresh(&mut self, shared: &Shared, news: &mut mpsc::Receiver<(String, BreakerNews)>) {
        let Some(link) = &shared.link else { return };
        self.providers = link.followed();
        let providers = Arc::clone(&self.providers);
        self.marks
            .retain(|id, _| providers.iter().any(|(p, _)| p.id() == id));
        let minute = Duration::from_secs(60);
        let mut windows = Vec::new();
        let mut ok = true;
        for (p, _) in self.providers.iter() {
            let (rpm, tpm, budget) = p.limits.limits();
            let owed = p.limits.take_unsynced();
            let w = |meter, span| WindowRef {
                scope: p.id().to_owned(),
                meter,
                span,
            };
            let mut back = Unsynced::default();
            if tpm.is_some() && owed.tokens != 0.0 {
                let win = w(Meter::Tokens, minute);
                if link
                    .bounded(link.state.settle(&win, owed.tokens))
                    .await
                    .is_err()
                {
                    back.tokens = owed.tokens;
                    ok = false;
                }
            }
            if let Some(b) = budget
                && owed.cost != 0.0
            {
                let win = w(Meter::Spend, b.window);
                if link
                    .bounded(link.state.settle(&win, owed.cost))
                    .await
                    .is_err()
                {
                    back.cost = owed.cost;
                    ok = false;
                }
            }
            if back != Unsynced::default() {
                p.limits.owe(back);
            }
            windows.push(rpm.map(|_| w(Meter::Requests, minute)));
            windows.push(tpm.map(|_| w(Meter::Tokens, minute)));
            windows.push(budget.map(|b| w(Meter::Spend, b.window)));
        }
        let global = shared.budget.as_ref().map(|b| {
            let owed = b.take_unsynced();
            let w = WindowRef {
                scope: ROUTER_SCOPE.to_owned(),
                meter: Meter::Spend,
                span: b.budget().window,
            };
            (b, w, owed)
        });
        if let Some((b, w, owed)) = &global
            && *owed != 0.0
            && link.bounded(link.state.settle(w, *owed)).await.is_err()
        {
            b.owe(*owed);
            ok = false;
        }
        let mut asked: Vec<WindowRef> = windows.iter().flatten().cloned().collect();
        if let Some((_, w, _)) = &global {
            asked.push(w.clone());
        }
        let ids: Vec<&str> = self.providers.iter().map(|(p, _)| p.id()).collect();
        let read_at = Instant::now();
        let view = if ok {
            link.bounded(link.state.view(&asked, &ids)).await.ok()
        } else {
            None
        };
        let Some(view) =
            view.filter(|v| v.sums.len() == asked.len() && v.breakers.len() == ids.len())
        else {
            // Fail open: each instance on its own local counts until the state answers.
            for (p, _) in self.providers.iter() {
                p.limits.set_cluster(Cluster::default());
            }
            if let Some((b, _, _)) = &global {
                b.set_cluster(0.0);
            }
            return;
        };
        let mut sums = view.sums.iter().copied();
        for (i, (p, _)) in self.providers.iter().enumerate() {
            let mut next = |present: bool| {
                if present {
                    sums.next().unwrap_or(0.0)
                } else {
                    0.0
                }
            };
            let cluster = Cluster {
                rpm: next(windows[3 * i].is_some()),
                tpm: next(windows[3 * i + 1].is_some()),
                spend: next(windows[3 * i + 2].is_some()),
            };
            p.limits.set_cluster(cluster);
        }
        if let Some((b, _, _)) = &global {
            b.set_cluster(sums.next().unwrap_or(0.0));
        }
        // Trips made while the view was read are published first, so that the view's
        // `closed` is never taken as the verdict on a trip it could not know of.
        while let Ok((id, item)) = news.try_recv() {
            self.publish(shared, &id, item).await;
        }
        for (i, remote) in view.breakers.iter().enumerate() {
            self.apply(link, i, *remote, read_at).await;
        }
    }

    /// Brings provider `i`'s local breaker in line with what the cluster published.
    async fn apply(
        &mut self,
        link: &Link,
        i: usize,
        remote: Option<SharedBreaker>,
        read_at: Instant,
    ) {
        let (p, Some(breaker)) = &self.providers[i] else {
            return;
        };
        let id = p.id().to_owned();
        let mark = self.marks.entry(id.clone()).or_default();
        let snapshot = breaker.snapshot();
        let slack = link.config.refresh_interval * 2;
        match remote {
            Some(SharedBreaker::Open(left)) => {
                // Held open a little past the published trip, so that every instance
                // (the one that tripped too) meets the probe lock before it may probe.
                let target = left + slack;
                let local_left = snapshot.open_remaining.unwrap_or_default();
                if snapshot.state != State::Open || local_left + slack / 2 < target {
                    breaker.force_open(target);
                    mark.forced = true;
                }
            }
            Some(SharedBreaker::Closed) => {
                // The cluster's `closed` is a verdict on this instance's own trip only when
                // the view was read after that trip was published. A trip whose publish
                // failed is held for a bounded while (the cluster never heard of it).
                let fresh_trip = mark.tripped_at.is_some_and(|t| {
                    t >= read_at || (!mark.published && t.elapsed() < slack + link.config.timeout)
                });
                if snapshot.state != State::Closed && !fresh_trip {
                    breaker.reset();
                    mark.forced = false;
                }
            }
            None => {
                // The trip ran out: one instance probes, the others wait for its verdict.
                let ttl = (slack * 4).max(Duration::from_millis(500));
                let claimed = mark.claimed_at.is_some_and(|t| t.elapsed() < ttl);
                let due = snapshot.state == State::Open
                    && !claimed
                    && snapshot.open_remaining.unwrap_or_default() <= slack;
                if due {
                    // The state down: probe as a lone instance would, when the trip ends.
                    match link.bounded(link.state.claim_probe(&id, ttl)).await {
                        Ok(true) => {
                            mark.claimed_at = Some(Instant::now());
                            breaker.force_open(Duration::ZERO);
                        }
                        Ok(false) => {
                            breaker.force_open(ttl);
                            mark.forced = true;
                        }
                        Err(_) => {}
                    }
                }
            }
        }
    }
}
