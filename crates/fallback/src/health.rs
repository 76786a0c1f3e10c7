//! `Health`: a per-provider error score in the manner of seed 002 — a failure adds one, a
//! success takes one away — and the `ProviderStatus` snapshot that reports it.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde::Serialize;
use steadfast_circuit::State;

/// The error score at which a provider is [`Health::Degraded`].
pub const DEGRADED_AT: u32 = 2;
/// The error score at which a provider is [`Health::Unhealthy`].
pub const UNHEALTHY_AT: u32 = 5;
/// The highest the error score goes, so that a provider recovers after at most this many
/// successes however long its outage was.
pub const MAX_ERROR_SCORE: u32 = 10;

/// How a provider is doing, judged on its recent attempts.
///
/// The score behind it is the seed-002 counter: every failed attempt that
/// [counts against health](steadfast_errors::ErrorKind::counts_against_health) adds one,
/// every successful attempt takes one away (never below zero), and it is capped at
/// [`MAX_ERROR_SCORE`]. Below [`DEGRADED_AT`] the provider is healthy, from
/// [`UNHEALTHY_AT`] unhealthy, degraded in between. So one stray failure leaves a provider
/// healthy, and a provider recovering from an outage passes through degraded.
///
/// Health is reported, not acted on: the circuit breaker decides whether a provider is
/// called. A router may order its providers by it.
///
/// ```
/// use steadfast_fallback::Health;
///
/// assert_eq!(Health::from_score(1), Health::Healthy);
/// assert_eq!(Health::from_score(2), Health::Degraded);
/// assert_eq!(Health::from_score(5), Health::Unhealthy);
/// assert_eq!(Health::Degraded.to_string(), "degraded");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Health {
    /// Few or no recent failures.
    Healthy,
    /// Failing some of the time.
    Degraded,
    /// Failing most of the time.
    Unhealthy,
}

impl Health {
    /// The health an error score stands for.
    pub const fn from_score(score: u32) -> Health {
        if score >= UNHEALTHY_AT {
            Health::Unhealthy
        } else if score >= DEGRADED_AT {
            Health::Degraded
        } else {
            Health::Healthy
        }
    }

    /// The `snake_case` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One provider of a chain, as [`FallbackChain::status`](crate::FallbackChain::status)
/// reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ProviderStatus {
    /// The provider's id.
    pub id: String,
    /// The model configured for it, when the entry overrides the request's.
    pub model: Option<String>,
    /// Whether it is tried at all.
    pub enabled: bool,
    /// Its health.
    pub health: Health,
    /// Its circuit breaker's state.
    pub breaker: State,
    /// Successful attempts since the chain was built.
    pub successes: u64,
    /// Failed attempts since the chain was built, of every kind.
    pub failures: u64,
    /// The error score behind [`health`](Self::health) (see [`Health`]).
    pub error_score: u32,
    /// Failures that count against health since the last success.
    pub consecutive_failures: u32,
}

/// The counters of one provider; lock-free.
#[derive(Debug, Default)]
pub(crate) struct HealthTracker {
    score: AtomicU32,
    consecutive: AtomicU32,
    successes: AtomicU64,
    failures: AtomicU64,
}

impl HealthTracker {
    pub(crate) fn success(&self) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        self.consecutive.store(0, Ordering::Relaxed);
        let _ = self
            .score
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| s.checked_sub(1));
    }

    /// A failed attempt; `counts` says whether it counts against health.
    pub(crate) fn failure(&self, counts: bool) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if counts {
            let _ = self
                .consecutive
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(1));
            let _ = self
                .score
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                    (s < MAX_ERROR_SCORE).then_some(s + 1)
                });
        }
    }

    pub(crate) fn score(&self) -> u32 {
        self.score.load(Ordering::Relaxed)
    }

    pub(crate) fn health(&self) -> Health {
        Health::from_score(self.score())
    }

    pub(crate) fn successes(&self) -> u64 {
        self.successes.load(Ordering::Relaxed)
    }

    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub(crate) fn consecutive(&self) -> u32 {
        self.consecutive.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_002_transitions() {
        let h = HealthTracker::default();
        h.failure(true);
        assert_eq!(h.health(), Health::Healthy, "one failure is not a trend");
        h.failure(true);
        assert_eq!(h.health(), Health::Degraded);
        for _ in 0..3 {
            h.failure(true);
        }
        assert_eq!(h.health(), Health::Unhealthy);
        h.failure(false);
        assert_eq!(
            (h.score(), h.failures()),
            (5, 6),
            "a 400 does not hurt health"
        );
        h.success();
        assert_eq!(h.health(), Health::Degraded);
        assert_eq!(h.consecutive(), 0);
        for _ in 0..3 {
            h.success();
        }
        assert_eq!(h.health(), Health::Healthy);
        assert_eq!(h.successes(), 4);
    }

    proptest! {
        /// The score stays within bounds and health always matches it, whatever the order.
        #[test]
        fn score_is_bounded(steps in proptest::collection::vec(0u8..3, 0..200)) {
            let h = HealthTracker::default();
            let mut model: u32 = 0;
            for s in steps {
                match s {
                    0 => { h.success(); model = model.saturating_sub(1); }
                    1 => { h.failure(true); model = (model + 1).min(MAX_ERROR_SCORE); }
                    _ => h.failure(false),
                }
                prop_assert_eq!(h.score(), model);
                prop_assert_eq!(h.health(), Health::from_score(model));
            }
        }
    }
}
