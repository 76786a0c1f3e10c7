//! Configuration as data: [`ProviderConfig`] per provider, [`RouterConfig`] for the router,
//! and [`Budget`] for spending limits.
//!
//! Everything here is `serde`, so a router's settings can come from a file. Every field may
//! be left out and takes its documented default; durations are whole milliseconds or
//! strings such as `"1.5s"` or `"1h"` (see [`steadfast_errors::serde_duration`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_fallback::{ChainConfig, EntryConfig};
use steadfast_providers_core::Pricing;

use crate::strategy::StrategyKind;

/// A spending limit: at most `usd` dollars within any `window`.
///
/// Spending is counted from the cost of every billed answer (see the crate docs) in buckets
/// of 1/60 of the window, so a spend leaves the window at most one bucket early. Once the
/// spend in the window reaches `usd`, calls are refused with `budget_exceeded`.
///
/// ```
/// use std::time::Duration;
/// use steadfast_router::Budget;
///
/// let budget: Budget = serde_json::from_str(r#"{"usd": 5.0, "window": "1h"}"#).unwrap();
/// assert_eq!(budget.window, Duration::from_secs(3600));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// The most that may be spent within one window, in USD.
    pub usd: f64,
    /// The length of the sliding window.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub window: Duration,
}

/// How one provider takes part in a [`Router`](crate::Router).
///
/// ```
/// use steadfast_router::ProviderConfig;
///
/// let config: ProviderConfig = toml::from_str(r#"
///     priority = 1
///     weight = 2
///     rpm = 20
///     timeout = "15s"
///     tags = ["eu"]
///     [entry.retry]
///     max_attempts = 2
/// "#).unwrap();
/// assert_eq!((config.priority, config.weight, config.rpm), (1, 2, Some(20)));
/// assert_eq!(config.entry.retry.max_attempts, 2);
/// assert!(config.entry.enabled);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// Lower goes first: the order the priority strategy uses, and the order every other
    /// strategy falls back in. Ties keep the order providers were added in. Default 0.
    pub priority: i32,
    /// The share of traffic under the weighted round-robin strategy; 0 never goes first.
    /// Default 1.
    pub weight: u32,
    /// The model to ask this provider for; replaces [`EntryConfig::model`] when set.
    /// Default `None`.
    pub model: Option<String>,
    /// The longest one attempt on this provider may take before it fails with `timeout`
    /// (retried and fallen back from like any timeout). Default `None` (the provider's own).
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub timeout: Option<Duration>,
    /// Retry policy, circuit breaker, enabled flag and context window, as the fallback
    /// chain takes them. Default [`EntryConfig::default`].
    pub entry: EntryConfig,
    /// The most attempts started on this provider in any 60 s; at it, the provider is not
    /// a candidate, and an attempt about to start is refused (see the crate docs).
    /// Default `None` (no limit).
    pub rpm: Option<u32>,
    /// The most tokens (input plus output, as billed) in any 60 s; a provider whose tokens
    /// in the window, plus the estimates reserved by its attempts in flight, plus the
    /// request's estimate would pass it is not a candidate, and such an attempt is refused.
    /// Default `None` (no limit).
    pub tpm: Option<u64>,
    /// The most attempts in flight on this provider at once (a stream: until it ends or is
    /// dropped); at the cap, the provider is not a candidate, and an attempt about to start
    /// is refused. Default `None` (no cap).
    pub max_concurrency: Option<u32>,
    /// Prices used for cost and the cheapest strategy, replacing the provider's own
    /// ([`ChatProvider::cost`](steadfast_providers_core::ChatProvider::cost)) and the
    /// built-in model catalog's. Default `None` (the provider's, else the catalog's).
    pub pricing: Option<Pricing>,
    /// Conditional routing: a provider with tags takes only requests that carry at least one
    /// of them; a provider without tags takes every request. Default none.
    pub tags: Vec<String>,
    /// This provider's own spending limit; once reached it is not a candidate.
    /// Default `None`.
    pub budget: Option<Budget>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            priority: 0,
            weight: 1,
            model: None,
            timeout: None,
            entry: EntryConfig::default(),
            rpm: None,
            tpm: None,
            max_concurrency: None,
            pricing: None,
            tags: Vec::new(),
            budget: None,
        }
    }
}

impl ProviderConfig {
    /// The entry handed to the fallback chain: `entry`, with `model` when set.
    pub(crate) fn chain_entry(&self) -> EntryConfig {
        let mut entry = self.entry.clone();
        if self.model.is_some() {
            entry.model.clone_from(&self.model);
        }
        entry
    }
}

/// Settings of the whole router.
///
/// ```
/// use steadfast_router::{RouterConfig, StrategyKind};
///
/// let config: RouterConfig = serde_json::from_str(r#"{
///     "strategy": "least_busy",
///     "budget": {"usd": 10.0, "window": "24h"},
///     "chain": {"deadline": "30s"},
///     "providers": {"openai": {"priority": 1, "rpm": 60}}
/// }"#).unwrap();
/// assert_eq!(config.strategy, StrategyKind::LeastBusy);
/// assert_eq!(config.providers["openai"].rpm, Some(60));
/// assert_eq!(config.affinity_capacity, 10_000); // the default
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// The built-in strategy, unless the builder is given one. Default
    /// [`StrategyKind::Priority`].
    pub strategy: StrategyKind,
    /// The seed of the random strategies, for reproducible orders. Default `None` (random).
    pub seed: Option<u64>,
    /// The fallback chain's settings: the default deadline and stream resume.
    /// Default [`ChainConfig::default`].
    pub chain: ChainConfig,
    /// A spending limit across every provider. Default `None`.
    pub budget: Option<Budget>,
    /// Provider settings by provider id, used for providers added with
    /// [`RouterBuilder::provider_from_config`](crate::RouterBuilder::provider_from_config).
    /// Default none.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// The most affinity keys remembered; the least recently used is forgotten first.
    /// Default 10 000.
    pub affinity_capacity: usize,
    /// The latency samples kept per provider (and overhead samples for the router) for
    /// percentiles; the oldest is replaced first. Default 1024.
    pub latency_samples: usize,
    /// The weight of the newest sample in each provider's latency average (EWMA), in
    /// `(0, 1]`. Default 0.2.
    pub ewma_alpha: f64,
    /// Hedging: when the first provider of a call has not answered (a stream: reached its
    /// first token) within this delay, the rest of the call's order starts as a backup, and
    /// the first answer wins (the other is cancelled; both are billed if both were).
    /// [`RouteOptions::hedge_after`](crate::RouteOptions::hedge_after) replaces it per call.
    /// Default `None` (no hedging).
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub hedge_after: Option<Duration>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            strategy: StrategyKind::Priority,
            seed: None,
            chain: ChainConfig::default(),
            budget: None,
            providers: BTreeMap::new(),
            affinity_capacity: 10_000,
            latency_samples: 1024,
            ewma_alpha: 0.2,
            hedge_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_docs_and_round_trip() {
        let p: ProviderConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(p, ProviderConfig::default());
        assert_eq!(p.weight, 1);
        let r: RouterConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(r, RouterConfig::default());
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RouterConfig>(&json).unwrap(), r);
        assert!(serde_json::from_str::<ProviderConfig>(r#"{"prio": 1}"#).is_err());
    }

    #[test]
    fn model_overrides_the_entry() {
        let p = ProviderConfig {
            model: Some("m".into()),
            ..ProviderConfig::default()
        };
        assert_eq!(p.chain_entry().model.as_deref(), Some("m"));
    }
}
