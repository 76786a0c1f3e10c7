//! The health monitor: probes each provider's `health_check`, disabling one that fails and
//! enabling again one the monitor disabled once it passes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use steadfast_fallback::FallbackChain;
use steadfast_providers_core::ChatProvider;

use crate::metered::{Metered, ProviderState, Shared};

/// One round of probes over `providers` (see
/// [`Router::probe_health`](crate::Router::probe_health)).
pub(crate) async fn probe_round(
    chain: &FallbackChain,
    providers: &[Arc<ProviderState>],
    shared: &Arc<Shared>,
) -> Vec<(String, bool)> {
    let mut results = Vec::new();
    for p in providers {
        let enabled = p.enabled.load(Ordering::Relaxed);
        let by_monitor = p.monitor_disabled.load(Ordering::Relaxed);
        if !enabled && !by_monitor {
            continue;
        }
        let metered = Metered {
            state: Arc::clone(p),
            shared: Arc::clone(shared),
        };
        let passed = metered.health_check().await.is_ok();
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
        results.push((p.id().to_owned(), passed));
    }
    results
}
