//! Limits: the sliding [`Window`] behind rates and budgets, and each provider's
//! [`Limiter`] (concurrency cap, `rpm`, `tpm`, its own budget), plus the router-wide budget.

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
        if self.rpm.is_some_and(|rpm| w.rpm.sum(now) >= f64::from(rpm)) {
            return Some(Limited::Rate);
        }
        if self
            .tpm
            .is_some_and(|tpm| w.tpm.sum(now) + estimated as f64 > tpm as f64)
        {
            return Some(Limited::Rate);
        }
        if let (Some(budget), Some(spend)) = (self.budget, w.spend.as_mut())
            && spend.sum(now) >= budget.usd
        {
            return Some(Limited::Budget);
        }
        None
    }

    /// An attempt starts: in flight until [`end`](Self::end), and counted in `rpm`.
    pub(crate) fn start(&self, now: Instant) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        lock(&self.windows).rpm.add(now, 1.0);
    }

    /// An attempt started with [`start`](Self::start) ended.
    pub(crate) fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// `tokens` and `cost` were billed.
    pub(crate) fn billed(&self, now: Instant, tokens: u64, cost: f64) {
        let mut w = lock(&self.windows);
        w.tpm.add(now, tokens as f64);
        if let Some(spend) = w.spend.as_mut() {
            spend.add(now, cost);
        }
    }
}

/// The router-wide budget.
#[derive(Debug)]
pub(crate) struct GlobalBudget {
    budget: Budget,
    spend: Mutex<Window>,
}

impl GlobalBudget {
    pub(crate) fn new(budget: Budget) -> GlobalBudget {
        GlobalBudget {
            budget,
            spend: Mutex::new(Window::new(budget.window)),
        }
    }

    /// Whether the budget is spent for this window.
    pub(crate) fn spent(&self, now: Instant) -> bool {
        lock(&self.spend).sum(now) >= self.budget.usd
    }

    pub(crate) fn add(&self, now: Instant, cost: f64) {
        lock(&self.spend).add(now, cost);
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
