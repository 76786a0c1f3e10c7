//! One provider of a chain (`Entry`: its policy, breaker, health, enabled flag) and the
//! snapshot of the chain a call runs on (`Inner`).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use steadfast_circuit::{CircuitBreaker, State};
use steadfast_errors::observe::{Observer, Observers};
use steadfast_providers_core::{ChatProvider, ChatRequest};
use steadfast_retry::RetryPolicy;

use crate::config::{ChainConfig, EntryConfig};
use crate::constraints::Constraints;
use crate::health::HealthTracker;
use crate::record::{AttemptOutcome, AttemptRecord};

/// The chain as one call sees it: its entries and config. A change at run time publishes a
/// new snapshot with the same `Arc<Entry>`s (so each keeps its breaker, budget and health);
/// a call keeps the snapshot it started with, and its plan's indices point into it.
pub(crate) struct Inner {
    pub(crate) entries: Vec<Arc<Entry>>,
    pub(crate) config: ChainConfig,
    /// Told of every attempt, fallback, resume and refusal (the breakers and retry policies
    /// report to them directly).
    pub(crate) observers: Observers,
}

/// One provider with its policy, breaker and health.
pub(crate) struct Entry {
    pub(crate) provider: Arc<dyn ChatProvider>,
    pub(crate) config: EntryConfig,
    pub(crate) policy: RetryPolicy,
    pub(crate) breaker: CircuitBreaker,
    pub(crate) enabled: AtomicBool,
    pub(crate) health: HealthTracker,
    /// Set when the entry is removed from the chain: a call that planned it earlier skips it.
    pub(crate) removed: AtomicBool,
}

impl Entry {
    /// A fresh entry for `provider`: its own retry policy (with its budget) and breaker,
    /// reporting to `observers` under the provider's id.
    pub(crate) fn new(
        provider: Arc<dyn ChatProvider>,
        config: EntryConfig,
        observers: Option<&Arc<dyn Observer>>,
    ) -> Entry {
        let mut policy = RetryPolicy::new(config.retry.clone());
        let mut breaker = CircuitBreaker::new(config.breaker.clone());
        if let Some(all) = observers {
            policy = policy.observe(provider.id(), Arc::clone(all));
            breaker = breaker.observe(provider.id(), Arc::clone(all));
        }
        Entry {
            policy,
            breaker,
            enabled: AtomicBool::new(config.enabled),
            health: HealthTracker::default(),
            removed: AtomicBool::new(false),
            provider,
            config,
        }
    }

    pub(crate) fn id(&self) -> &str {
        self.provider.id()
    }

    /// The model this entry asks for.
    pub(crate) fn model_for<'a>(&'a self, request: &'a ChatRequest) -> &'a str {
        self.config.model.as_deref().unwrap_or(&request.model)
    }

    /// The request as this entry sends it, when that is not `request` itself: a copy with
    /// the entry's model, when it overrides the request's. Boxed, so that a call's future,
    /// which holds it across the attempts, stays small when it is `None`.
    pub(crate) fn request_for(&self, request: &ChatRequest) -> Option<Box<ChatRequest>> {
        match &self.config.model {
            Some(model) if *model != request.model => {
                let mut owned = Box::new(request.clone());
                owned.model.clone_from(model);
                Some(owned)
            }
            _ => None,
        }
    }

    /// Why this entry may not be tried now, if it may not (removed, disabled, or excluded
    /// by an earlier failure). The breaker is asked later, per attempt.
    pub(crate) fn excluded(&self, constraints: &Constraints) -> Option<AttemptOutcome> {
        if self.removed.load(Ordering::Acquire) {
            Some(AttemptOutcome::SkippedRemoved)
        } else if self.enabled.load(Ordering::Relaxed) {
            constraints.excludes(&self.config)
        } else {
            Some(AttemptOutcome::SkippedDisabled)
        }
    }

    /// The entry's retry policy, bounded by a call deadline `remaining` away. The policy's
    /// config is shared, so a bounded copy is made (sharing the entry's retry budget and
    /// observers).
    pub(crate) fn policy_within(&self, remaining: Option<Duration>) -> Cow<'_, RetryPolicy> {
        let Some(left) = remaining else {
            return Cow::Borrowed(&self.policy);
        };
        let mut config = self.policy.config().clone();
        config.deadline = Some(config.deadline.map_or(left, |d| d.min(left)));
        // The copy keeps the entry's budget and observers.
        Cow::Owned(self.policy.with_config(config))
    }

    /// How long the breaker stays open, when it is open with time left (it then refuses
    /// every attempt); `None` when it may admit one now.
    pub(crate) fn open_for(&self) -> Option<Duration> {
        if self.breaker.state() != State::Open {
            return None;
        }
        self.breaker
            .snapshot()
            .open_remaining
            .filter(|left| !left.is_zero())
    }

    pub(crate) fn record(&self, request: &ChatRequest, outcome: AttemptOutcome) -> AttemptRecord {
        AttemptRecord::new(self.id(), self.model_for(request), outcome)
    }
}
