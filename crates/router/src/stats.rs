//! Counters and latency reservoirs, and the serializable [`StatsSnapshot`] they are
//! reported in.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use steadfast_circuit::State;
use steadfast_fallback::Health;
use steadfast_providers_core::Usage;
use tokio::time::Instant;

use crate::monitor::HealthCheck;
use crate::window::{RateWindow, WindowStats};

/// The sum of `values`, stopping at `u64::MAX` instead of overflowing.
pub(crate) fn saturating_sum(values: impl IntoIterator<Item = u64>) -> u64 {
    values.into_iter().fold(0, u64::saturating_add)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The last `capacity` samples, for percentiles.
#[derive(Debug)]
pub(crate) struct Reservoir {
    samples: Vec<f64>,
    next: usize,
    capacity: usize,
}

impl Reservoir {
    pub(crate) fn new(capacity: usize) -> Reservoir {
        Reservoir {
            samples: Vec::new(),
            next: 0,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn push(&mut self, value: f64) {
        if self.samples.len() < self.capacity {
            self.samples.push(value);
        } else {
            self.samples[self.next] = value;
            self.next = (self.next + 1) % self.capacity;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.samples.clear();
        self.next = 0;
    }

    /// Nearest-rank percentiles, one per `ps` entry (0 without samples).
    pub(crate) fn percentiles<const N: usize>(&self, ps: [f64; N]) -> [f64; N] {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        ps.map(|p| {
            if sorted.is_empty() {
                return 0.0;
            }
            let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[rank.clamp(1, sorted.len()) - 1]
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }
}

/// The counters of one provider.
#[derive(Debug)]
pub(crate) struct ProviderCounters {
    pub(crate) requests: u64,
    /// Routed calls this provider answered.
    pub(crate) calls: u64,
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    /// Failed attempts since the last successful one.
    pub(crate) consecutive_failures: u32,
    /// Finished attempts over the last minutes.
    pub(crate) window: RateWindow,
    /// The last health check; a fact about the provider, so a stats reset keeps it.
    pub(crate) last_check: Option<HealthCheck>,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) cost_usd: f64,
    pub(crate) latency: Reservoir,
    /// Milliseconds; steers routing, so a stats reset keeps it.
    pub(crate) ewma_ms: Option<f64>,
}

impl ProviderCounters {
    pub(crate) fn new(samples: usize) -> ProviderCounters {
        ProviderCounters {
            requests: 0,
            calls: 0,
            successes: 0,
            failures: 0,
            consecutive_failures: 0,
            window: RateWindow::new(Instant::now()),
            last_check: None,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            latency: Reservoir::new(samples),
            ewma_ms: None,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.requests = 0;
        self.calls = 0;
        self.successes = 0;
        self.failures = 0;
        self.consecutive_failures = 0;
        self.window.clear();
        self.input_tokens = 0;
        self.output_tokens = 0;
        self.cost_usd = 0.0;
        self.latency.clear();
    }

    /// Adds `usage`, billed at `cost`.
    pub(crate) fn bill(&mut self, usage: &Usage, cost: f64) {
        self.input_tokens = self.input_tokens.saturating_add(usage.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(usage.output_tokens);
        self.cost_usd += cost;
    }

    /// Samples an attempt's latency, and moves the average (EWMA, weight `alpha`).
    pub(crate) fn latency(&mut self, elapsed: Duration, alpha: f64) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        self.latency.push(ms);
        self.ewma_ms = Some(self.ewma_ms.map_or(ms, |e| e + alpha * (ms - e)));
    }

    /// Counts one finished attempt at `now`.
    pub(crate) fn outcome(&mut self, now: Instant, success: bool) {
        if success {
            self.successes = self.successes.saturating_add(1);
            self.consecutive_failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        }
        self.window.record(now, !success);
    }

    pub(crate) fn success_rate(&self) -> f64 {
        let done = self.successes.saturating_add(self.failures);
        if done == 0 {
            1.0
        } else {
            self.successes as f64 / done as f64
        }
    }
}

/// The router's own counters.
#[derive(Debug)]
pub(crate) struct RouterCounters {
    pub(crate) requests: u64,
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) failovers: u64,
    pub(crate) hedges: u64,
    /// Microseconds.
    pub(crate) overhead: Reservoir,
}

impl RouterCounters {
    pub(crate) fn new(samples: usize) -> RouterCounters {
        RouterCounters {
            requests: 0,
            successes: 0,
            failures: 0,
            failovers: 0,
            hedges: 0,
            overhead: Reservoir::new(samples),
        }
    }

    pub(crate) fn reset(&mut self) {
        let samples = self.overhead.capacity;
        *self = RouterCounters::new(samples);
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// The median.
    pub p50_ms: f64,
    /// The 95th percentile.
    pub p95_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The moving average that steers the latency strategies; `None` before any sample.
    pub ewma_ms: Option<f64>,
    /// Samples behind the percentiles (at most `latency_samples`, the newest).
    pub samples: usize,
}

/// One provider's numbers in a [`StatsSnapshot`]; `docs/stats.md` lists every field with
/// its unit and window.
///
/// `requests` (and its clearer twin `attempts`) counts attempts (each retry is one), since
/// that is what a provider is paid and rate-limited for; `calls` counts the routed calls
/// it answered. `successes + failures` may lag `requests` by the attempts in flight and
/// those cancelled (a deadline, a hedge that lost, a dropped call).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderStats {
    /// The provider's id.
    pub id: String,
    /// Whether it is enabled.
    pub enabled: bool,
    /// Attempts started.
    pub requests: u64,
    /// Attempts started: every provider turn, retries included (the same as `requests`).
    pub attempts: u64,
    /// Routed calls this provider answered (a stream: opened on it).
    pub calls: u64,
    /// Attempts that succeeded (a stream: ended without error, or was dropped by the
    /// consumer).
    pub successes: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// `successes / (successes + failures)`; 1.0 without any.
    pub success_rate: f64,
    /// Attempts in flight now.
    pub in_flight: u32,
    /// Input tokens billed.
    pub input_tokens: u64,
    /// Output tokens billed.
    pub output_tokens: u64,
    /// Cost billed, in USD.
    pub cost_usd: f64,
    /// Attempt latency (for streams: until the stream opened).
    pub latency: Latency,
    /// Attempts started in the last 60 s.
    pub rpm: u64,
    /// Tokens billed in the last 60 s.
    pub tpm: u64,
    /// Its circuit breaker's state.
    pub breaker: State,
    /// Failures in its circuit breaker's window now (what a failure-rate trip counts).
    pub breaker_failures: u32,
    /// Its health, from the fallback chain.
    pub health: Health,
    /// Failed attempts since its last successful one.
    pub consecutive_failures: u32,
    /// Attempts that finished in the last minute (55–60 s, in 5 s buckets), with their
    /// error rate and rate per minute.
    pub window_1m: WindowStats,
    /// The same over the last five minutes (295–300 s).
    pub window_5m: WindowStats,
    /// Its last health check ([`Router::probe_health`](crate::Router::probe_health) or
    /// [`Router::probe`](crate::Router::probe)); `None` before the first.
    pub last_check: Option<HealthCheck>,
}

/// The router's own time per call, in microseconds: the call's duration minus the time
/// spent inside provider attempts. Only calls answered by their first attempt are sampled,
/// since a retried call's backoff waits are not overhead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Overhead {
    /// The median.
    pub p50_us: f64,
    /// The 99th percentile.
    pub p99_us: f64,
    /// Samples behind the percentiles.
    pub samples: usize,
}

/// Everything the router counted since it was built or last reset; see
/// [`Router::stats`](crate::Router::stats).
///
/// Counts and token sums saturate at `u64::MAX` rather than overflow, whatever usage a
/// provider reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsSnapshot {
    /// Calls routed (refused ones included).
    pub requests: u64,
    /// Calls answered (a stream: opened).
    pub successes: u64,
    /// Calls that failed or were refused.
    pub failures: u64,
    /// `successes / requests`; 1.0 without any.
    pub success_rate: f64,
    /// Calls on which another provider was tried or skipped before the last one, and
    /// streams whose answer another provider continued after they opened (counted when
    /// the move happens). Each call counts once.
    pub failovers: u64,
    /// Calls on which a hedge (a backup request) was started.
    pub hedges: u64,
    /// Input tokens billed, over every provider.
    pub input_tokens: u64,
    /// Output tokens billed, over every provider.
    pub output_tokens: u64,
    /// Input plus output tokens.
    pub total_tokens: u64,
    /// Cost billed, in USD, over every provider.
    pub cost_usd: f64,
    /// The router's own overhead per call.
    pub overhead: Overhead,
    /// Each provider, in priority order.
    pub providers: Vec<ProviderStats>,
    /// The strategy ordering the providers ([`Strategy::name`](crate::Strategy::name)).
    pub strategy: String,
    /// Providers with a failed attempt in the last minute (their `window_1m.failures`), in
    /// priority order.
    pub failed_providers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservoir_is_bounded_and_ranks() {
        let mut r = Reservoir::new(100);
        for i in 1..=200 {
            r.push(f64::from(i));
        }
        assert_eq!(r.len(), 100);
        assert_eq!(r.percentiles([50.0, 99.0, 100.0]), [150.0, 199.0, 200.0]);
        r.clear();
        assert_eq!(r.percentiles([50.0]), [0.0]);
    }
}
