//! Limits: the sliding [`Window`] behind rates and budgets, and each provider's
//! [`Limiter`] (concurrency cap, `rpm`, `tpm`, its own budget), plus the router-wide budget.
//!
//! A plan looks at the limits to leave out providers that are at one; the limits are
//! enforced when an attempt starts ([`Limiter::admit`]): the concurrency slot, the `rpm`
//! slot and the `tpm` estimate are taken there in one step, so callers planned at the same
//! moment can never together pass a limit.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{Budget, ProviderConfig};
use crate::stats::lock;

/// A sliding sum over `span`, in 60 buckets (so memory stays flat whatever the traffic);
/// a value leaves the window at most one bucket early.
#[derive(Debug)]
pub(crate) struct Window {
    span: Duration,
    bucket: Duration,
    buckets: VecDeque<(Instant, f64)>,
}

impl Window {
    pub(crate) fn new(span: Duration) -> Window {
        Window {
            span,
            bucket: (span / 60).max(Duration::from_millis(1)),
            buckets: VecDeque::new(),
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some(&(start, _)) = self.buckets.front() {
            if start + self.span <= now {
                self.buckets.pop_front();
            } else {
                break;
            }
        }
    }

    pub(crate) fn add(&mut self, now: Instant, value: f64) {
        self.prune(now);
        match self.buckets.back_mut() {
            Some((start, sum)) if *start + self.bucket > now => *sum += value,
            _ => self.buckets.push_back((now, value)),
        }
    }

    pub(crate) fn sum(&mut self, now: Instant) -> f64 {
        self.prune(now);
        self.buckets.iter().map(|&(_, v)| v).sum()
    }
}

/// Why a provider may not take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limited {
    /// The concurrency cap, `rpm` or `tpm`.
    Rate,
    /// The provider's own budget.
    Budget,
}

/// The windows of one provider; kept across stats resets, since they enforce limits.
#[derive(Debug)]
struct Windows {
    /// Attempts per 60 s.
    rpm: Window,
    /// Tokens billed per 60 s.
    tpm: Window,
    /// Spend in the provider's budget window, when it has a budget.
    spend: Option<Window>,
    /// Tokens reserved by attempts in flight and not billed yet.
    reserved: u64,
    /// What the whole cluster counted in each window at the last refresh (zero without
    /// shared state); a limit holds against the larger of it and the local count.
    cluster: Cluster,
    /// Tokens and spend billed here and not yet settled in the shared state.
    unsynced: Unsynced,
}

/// The cluster's counts of one provider's windows, as last read from the shared state.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Cluster {
    pub(crate) rpm: f64,
    pub(crate) tpm: f64,
    pub(crate) spend: f64,
}

/// Usage billed locally and owed to the shared state: added by billing, taken (and put
/// back when the shared state is unreachable) by the refresh.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Unsynced {
    pub(crate) tokens: f64,
    pub(crate) cost: f64,
}

impl Windows {
    /// Whether `estimated` more tokens would pass `tpm`, counting those billed in the
    /// window and those reserved by attempts in flight.
    fn over_tpm(&mut self, now: Instant, tpm: u64, estimated: u64) -> bool {
        let taken = (self.tpm.sum(now) + self.reserved as f64).max(self.cluster.tpm);
        taken + estimated as f64 > tpm as f64
    }

    fn over_rpm(&mut self, now: Instant, rpm: u32) -> bool {
        self.rpm.sum(now).max(self.cluster.rpm) >= f64::from(rpm)
    }
}

/// Which limit refused an attempt when it was about to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdmitError {
    /// `max_concurrency` attempts are in flight.
    Concurrency,
    /// `rpm` attempts started in the last 60 s.
    Rpm,
    /// The tokens billed and reserved in the last 60 s leave no room for the estimate.
    Tpm,
}

impl AdmitError {
    /// The limit, in words.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AdmitError::Concurrency => "the provider is at its concurrency cap",
            AdmitError::Rpm => "the provider is at its requests-per-minute limit",
            AdmitError::Tpm => "the provider is at its tokens-per-minute limit",
        }
    }
}

/// One provider's limits and what they count: calls in flight, attempts and tokens in the
/// last 60 s, and its spend.
#[derive(Debug)]
pub(crate) struct Limiter {
    max_concurrency: Option<u32>,
    rpm: Option<u32>,
    tpm: Option<u64>,
    budget: Option<Budget>,
    in_flight: AtomicU32,
    windows: Mutex<Windows>,
}

impl Limiter {
    pub(crate) fn new(config: &ProviderConfig) -> Limiter {
        Limiter {
            max_concurrency: config.max_concurrency,
            rpm: config.rpm,
            tpm: config.tpm,
            budget: config.budget,
            in_flight: AtomicU32::new(0),
            windows: Mutex::new(Windows {
                rpm: Window::new(Duration::from_secs(60)),
                tpm: Window::new(Duration::from_secs(60)),
                spend: config.budget.map(|b| Window::new(b.window)),
                reserved: 0,
                cluster: Cluster::default(),
                unsynced: Unsynced::default(),
            }),
        }
    }

    /// Attempts in flight now.
    pub(crate) fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Attempts started in the last 60 s.
    pub(crate) fn rpm(&self, now: Instant) -> u64 {
        lock(&self.windows).rpm.sum(now) as u64
    }

    /// Tokens billed in the last 60 s.
    pub(crate) fn tpm(&self, now: Instant) -> u64 {
        lock(&self.windows).tpm.sum(now) as u64
    }

    /// Whether a limit keeps the provider out of a request of `estimated` tokens now.
    pub(crate) fn limited(&self, now: Instant, estimated: u64) -> Option<Limited> {
        if self
            .max_concurrency
            .is_some_and(|cap| self.in_flight() >= cap)
        {
            return Some(Limited::Rate);
        }
        if self.rpm.is_none() && self.tpm.is_none() && self.budget.is_none() {
            return None;
        }
        let mut w = lock(&self.windows);
        if self.rpm.is_some_and(|rpm| w.over_rpm(now, rpm)) {
            return Some(Limited::Rate);
        }
        if self.tpm.is_some_and(|tpm| w.over_tpm(now, tpm, estimated)) {
            return Some(Limited::Rate);
        }
        if let (Some(budget), Some(spend)) = (self.budget, w.spend.as_mut())
            && spend.sum(now).max(w.cluster.spend) >= budget.usd
        {
            return Some(Limited::Budget);
        }
        None
    }

    /// Admits an attempt of `estimated` tokens now, or says which limit refuses it. In one
    /// step it takes a concurrency slot (a compare-exchange below the cap), counts the
    /// attempt in `rpm`, and reserves `estimated` tokens against `tpm` until the attempt
    /// ends ([`end`](Self::end) with the returned reservation) — by then its real usage is
    /// billed.
    pub(crate) fn admit(&self, now: Instant, estimated: u64) -> Result<u64, AdmitError> {
        match self.max_concurrency {
            Some(cap) => self
                .in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < cap).then(|| n + 1)
                })
                .map(drop)
                .map_err(|_| AdmitError::Concurrency)?,
            None => {
                self.in_flight.fetch_add(1, Ordering::AcqRel);
            }
        }
        let mut w = lock(&self.windows);
        let refused = if self.rpm.is_some_and(|rpm| w.over_rpm(now, rpm)) {
            Some(AdmitError::Rpm)
        } else if self.tpm.is_some_and(|tpm| w.over_tpm(now, tpm, estimated)) {
            Some(AdmitError::Tpm)
        } else {
            None
        };
        if let Some(refused) = refused {
            drop(w);
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(refused);
        }
        w.rpm.add(now, 1.0);
        let reserved = if self.tpm.is_some() { estimated } else { 0 };
        w.reserved = w.reserved.saturating_add(reserved);
        Ok(reserved)
    }

    /// An admitted attempt ended; `reserved` is what [`admit`](Self::admit) returned.
    pub(crate) fn end(&self, reserved: u64) {
        if reserved > 0 {
            let mut w = lock(&self.windows);
            w.reserved = w.reserved.saturating_sub(reserved);
        }
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// `tokens` and `cost` were billed.
    pub(crate) fn billed(&self, now: Instant, tokens: u64, cost: f64) {
        let mut w = lock(&self.windows);
        w.tpm.add(now, tokens as f64);
        if let Some(spend) = w.spend.as_mut() {
            spend.add(now, cost);
        }
        w.unsynced.tokens += tokens as f64;
        w.unsynced.cost += cost;
    }

    /// The configured limits: `rpm`, `tpm` and the budget.
    pub(crate) fn limits(&self) -> (Option<u32>, Option<u64>, Option<Budget>) {
        (self.rpm, self.tpm, self.budget)
    }

    /// Takes what was billed here since the last call, for the shared state.
    pub(crate) fn take_unsynced(&self) -> Unsynced {
        std::mem::take(&mut lock(&self.windows).unsynced)
    }

    /// Owes `u` to the shared state again (it could not be settled), or owes a correction
    /// (a released reservation is a negative amount).
    pub(crate) fn owe(&self, u: Unsynced) {
        let mut w = lock(&self.windows);
        w.unsynced.tokens += u.tokens;
        w.unsynced.cost += u.cost;
    }

    /// What the cluster counted at the last refresh; zeros fall back to local counts.
    pub(crate) fn set_cluster(&self, cluster: Cluster) {
        lock(&self.windows).cluster = cluster;
    }
}

/// The router-wide budget.
#[derive(Debug)]
pub(crate) struct GlobalBudget {
    budget: Budget,
    spend: Mutex<Window>,
    /// Shared state: the cluster's spend at the last refresh, and the spend owed to it.
    cluster: Mutex<(f64, f64)>,
}

impl GlobalBudget {
    pub(crate) fn new(budget: Budget) -> GlobalBudget {
        GlobalBudget {
            budget,
            spend: Mutex::new(Window::new(budget.window)),
            cluster: Mutex::new((0.0, 0.0)),
        }
    }

    /// Whether the budget is spent for this window (here, or across the cluster as last
    /// read from the shared state).
    pub(crate) fn spent(&self, now: Instant) -> bool {
        let cluster = lock(&self.cluster).0;
        lock(&self.spend).sum(now).max(cluster) >= self.budget.usd
    }

    pub(crate) fn add(&self, now: Instant, cost: f64) {
        lock(&self.spend).add(now, cost);
        lock(&self.cluster).1 += cost;
    }

    /// The budget.
    pub(crate) fn budget(&self) -> Budget {
        self.budget
    }

    /// Takes the spend owed to the shared state.
    pub(crate) fn take_unsynced(&self) -> f64 {
        std::mem::take(&mut lock(&self.cluster).1)
    }

    /// Owes `cost` to the shared state (again, or as a negative correction).
    pub(crate) fn owe(&self, cost: f64) {
        lock(&self.cluster).1 += cost;
    }

    /// The cluster's spend at the last refresh.
    pub(crate) fn set_cluster(&self, spend: f64) {
        lock(&self.cluster).0 = spend;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn window_slides() {
        let mut w = Window::new(Duration::from_secs(60));
        let t0 = Instant::now();
        w.add(t0, 1.0);
        w.add(t0 + Duration::from_millis(500), 2.0);
        w.add(t0 + Duration::from_secs(30), 4.0);
        assert_eq!(w.sum(t0 + Duration::from_secs(59)), 7.0);
        assert_eq!(w.sum(t0 + Duration::from_secs(60)), 4.0);
        assert_eq!(w.sum(t0 + Duration::from_secs(90)), 0.0);
        assert!(w.buckets.is_empty());
    }
}
