//! What a router reports and what can be changed on it while it runs: the stats snapshot
//! and its reset, enabling and disabling a provider, health probes and the monitor.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use steadfast_fallback::ProviderStatus;

use crate::monitor::{HealthCheck, probe_one, probe_round};
use crate::router::Router;
use crate::stats::{Latency, Overhead, ProviderStats, StatsSnapshot, lock, saturating_sum};
use crate::window::{FIVE_MINUTES, ONE_MINUTE};

impl Router {
    /// Everything counted since the router was built or [`reset_stats`](Self::reset_stats)
    /// was last called, with each provider's breaker state and health.
    pub fn stats(&self) -> StatsSnapshot {
        let now = Instant::now();
        let roster = self.inner.roster.load();
        let status = self.inner.chain.status();
        let providers: Vec<ProviderStats> = roster
            .providers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((p, status_of(&status, i, p.id())?)))
            .map(|(p, s)| {
                let breaker_failures = self
                    .inner
                    .chain
                    .breaker(p.id())
                    .map_or(0, |b| b.snapshot().failures);
                let c = lock(&p.counters);
                let [p50, p95, p99] = c.latency.percentiles([50.0, 95.0, 99.0]);
                ProviderStats {
                    id: p.id().to_owned(),
                    enabled: p.enabled.load(Ordering::Relaxed),
                    requests: c.requests,
                    attempts: c.requests,
                    calls: c.calls,
                    successes: c.successes,
                    failures: c.failures,
                    success_rate: c.success_rate(),
                    in_flight: p.limits.in_flight(),
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
                    rpm: p.limits.rpm(now),
                    tpm: p.limits.tpm(now),
                    breaker: s.breaker,
                    breaker_failures,
                    health: s.health,
                    consecutive_failures: c.consecutive_failures,
                    window_1m: c.window.stats(now, ONE_MINUTE),
                    window_5m: c.window.stats(now, FIVE_MINUTES),
                    last_check: c.last_check.clone(),
                }
            })
            .collect();
        let c = lock(&self.inner.shared.counters);
        let [o50, o99] = c.overhead.percentiles([50.0, 99.0]);
        let input_tokens = saturating_sum(providers.iter().map(|p| p.input_tokens));
        let output_tokens = saturating_sum(providers.iter().map(|p| p.output_tokens));
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
            total_tokens: input_tokens.saturating_add(output_tokens),
            cost_usd: providers.iter().map(|p| p.cost_usd).sum(),
            overhead: Overhead {
                p50_us: o50,
                p99_us: o99,
                samples: c.overhead.len(),
            },
            strategy: roster.strategy.name().to_owned(),
            failed_providers: providers
                .iter()
                .filter(|p| p.window_1m.failures > 0)
                .map(|p| p.id.clone())
                .collect(),
            providers,
        }
    }

    /// Clears the counters, tokens, costs, percentiles, the 1- and 5-minute windows and the
    /// runs of consecutive failures. What steers routing and enforces limits is kept, and
    /// each provider's last health check: latency averages, rate-limit windows, budget spend, the
    /// chain's health and breakers, calls in flight.
    pub fn reset_stats(&self) {
        lock(&self.inner.shared.counters).reset();
        for p in &self.inner.roster.load().providers {
            lock(&p.counters).reset();
        }
    }

    /// Enables or disables the provider with this id at run time; `false` when there is
    /// none. Calls in flight are not interrupted. A provider disabled here stays disabled
    /// whatever the health monitor finds.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> bool {
        let roster = self.inner.roster.load();
        let Some(p) = roster.provider(id) else {
            return false;
        };
        p.monitor_disabled.store(false, Ordering::Relaxed);
        p.enabled.store(enabled, Ordering::Relaxed);
        self.inner.chain.set_enabled(id, enabled)
    }

    /// Probes every provider once with [`ChatProvider::health_check`](steadfast_providers_core::ChatProvider::health_check) (under its configured
    /// timeout): one that fails is disabled, and one the monitor disabled is enabled again
    /// once it passes. Providers disabled by [`set_enabled`](Self::set_enabled) are not
    /// probed. Returns each probed provider's check (passed, when, latency, why it failed),
    /// which [`stats`](Self::stats) also keeps as its `last_check`.
    pub async fn probe_health(&self) -> Vec<HealthCheck> {
        let roster = self.inner.roster.load_full();
        probe_round(&self.inner.chain, &roster.providers, &self.inner.shared).await
    }

    /// Probes the provider with this id now, under the same rules as
    /// [`probe_health`](Self::probe_health) except that one disabled by hand is probed too
    /// (and stays disabled whatever it answers); `None` when there is no such provider.
    pub async fn probe(&self, id: &str) -> Option<HealthCheck> {
        let p = Arc::clone(self.inner.roster.load().provider(id)?);
        Some(probe_one(&self.inner.chain, &p, &self.inner.shared).await)
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

/// The chain's status of provider `id`, which sits at `index` unless a change at run time is
/// under way (the chain then holds a provider the roster does not yet, or still).
pub(crate) fn status_of<'a>(
    status: &'a [ProviderStatus],
    index: usize,
    id: &str,
) -> Option<&'a ProviderStatus> {
    status
        .get(index)
        .filter(|s| s.id == id)
        .or_else(|| status.iter().find(|s| s.id == id))
}
