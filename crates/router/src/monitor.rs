//! The health monitor: probes each provider's `health_check`, records the result as a
//! [`HealthCheck`], disables a provider that fails and enables again one the monitor
//! disabled once it passes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use steadfast_errors::ErrorKind;
use steadfast_fallback::FallbackChain;
use steadfast_providers_core::ChatProvider;
use tokio::time::Instant;

use crate::metered::{Metered, ProviderState, Shared};
use crate::stats::lock;

/// One health check of one provider: what [`Router::probe_health`](crate::Router::probe_health)
/// and [`Router::probe`](crate::Router::probe) return, and what
/// [`ProviderStats::last_check`](crate::ProviderStats::last_check) keeps.
///
/// The time is wall-clock milliseconds since the Unix epoch (as `steadfast status` prints
/// it); "seconds ago" is `now - at_unix_ms`, computed by whoever reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HealthCheck {
    /// The provider's id.
    pub id: String,
    /// Whether the check passed.
    pub passed: bool,
    /// When it finished, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// How long it took, in milliseconds (under the provider's configured timeout).
    pub latency_ms: f64,
    /// The kind of the failure, when it failed.
    pub error_kind: Option<ErrorKind>,
    /// The failure's message, when it failed (never a key).
    pub error: Option<String>,
}

fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Probes `p` once, records the result in its stats, and applies the monitor's rule: a
/// provider the monitor disabled is enabled again when it passes, an enabled one is
/// disabled when it fails, and one disabled by hand stays as it is.
pub(crate) async fn probe_one(
    chain: &FallbackChain,
    p: &Arc<ProviderState>,
    shared: &Arc<Shared>,
) -> HealthCheck {
    let enabled = p.enabled.load(Ordering::Relaxed);
    let by_monitor = p.monitor_disabled.load(Ordering::Relaxed);
    let metered = Metered {
        state: Arc::clone(p),
        shared: Arc::clone(shared),
    };
    let started = Instant::now();
    let result = metered.health_check().await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let passed = result.is_ok();
    if passed && by_monitor {
        p.monitor_disabled.store(false, Ordering::Relaxed);
        p.enabled.store(true, Ordering::Relaxed);
        chain.set_enabled(p.id(), true);
        tracing::info!(target: "steadfast_router", provider = p.id(), "health probe passed, provider enabled again");
    } else if !passed && enabled {
        p.monitor_disabled.store(true, Ordering::Relaxed);
        p.enabled.store(false, Ordering::Relaxed);
        chain.set_enabled(p.id(), false);
        tracing::warn!(target: "steadfast_router", provider = p.id(), "health probe failed, provider disabled");
    }
    let check = HealthCheck {
        id: p.id().to_owned(),
        passed,
        at_unix_ms: unix_ms_now(),
        latency_ms,
        error_kind: result.as_ref().err().map(|e| e.kind()),
        error: result.err().map(|e| e.to_string()),
    };
    lock(&p.counters).last_check = Some(check.clone());
    check
}

/// One round of probes over `providers`, skipping those disabled by hand (see
/// [`Router::probe_health`](crate::Router::probe_health)).
pub(crate) async fn probe_round(
    chain: &FallbackChain,
    providers: &[Arc<ProviderState>],
    shared: &Arc<Shared>,
) -> Vec<HealthCheck> {
    let mut results = Vec::new();
    for p in providers {
        let enabled = p.enabled.load(Ordering::Relaxed);
        let by_monitor = p.monitor_disabled.load(Ordering::Relaxed);
        if !enabled && !by_monitor {
            continue;
        }
        results.push(probe_one(chain, p, shared).await);
    }
    results
}
