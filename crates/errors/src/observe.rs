//! `Observer` and its `Event`s: the one hook through which retry, the circuit breaker, the
//! fallback chain and the router report what they do (for metrics, logs and spans).
//!
//! It lives here, in the crate below every other, so that the generic `retry` and `circuit`
//! crates can report to it without knowing about providers or routers.
//!
//! # Why one method and an enum
//!
//! An observer has one method, [`Observer::on_event`], and the events are one
//! `#[non_exhaustive]` enum rather than one trait method per event: a new event is then a
//! new variant, which breaks no observer (each matches what it cares about and ignores the
//! rest with `_ => {}`), fanning an event out to several observers is one loop, and an
//! observer that forwards everything (to a channel, to a log) needs no per-event code.
//! Events borrow what they carry: building one allocates nothing, so a router without
//! observers pays nothing for them.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use steadfast_errors::observe::{Event, Observer};
//!
//! /// Counts the attempts that failed.
//! #[derive(Debug, Default)]
//! struct Failures(AtomicU64);
//!
//! impl Observer for Failures {
//!     fn on_event(&self, event: &Event<'_>) {
//!         if let Event::Attempt { error: Some(_), .. } = event {
//!             self.0.fetch_add(1, Ordering::Relaxed);
//!         }
//!     }
//! }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{ErrorKind, ProviderError};

/// Receives the [`Event`]s of retry policies, circuit breakers, fallback chains and routers.
///
/// The default method ignores every event, so an observer implements only what it needs.
/// Observers are called synchronously on the task that does the work: keep `on_event` short
/// and never block in it (hand slow work to a channel).
pub trait Observer: Send + Sync {
    /// Called once per event.
    fn on_event(&self, event: &Event<'_>) {
        let _ = event;
    }
}

/// An observer that ignores everything (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {}

/// Several observers as one: each event goes to every one of them, in order.
///
/// Empty by default, and then [`emit`](Self::emit) is a check of a length.
#[derive(Clone, Default)]
pub struct Observers(Vec<Arc<dyn Observer>>);

impl Observers {
    /// No observers.
    pub fn new() -> Observers {
        Observers(Vec::new())
    }

    /// Adds `observer` after those already held.
    pub fn push(&mut self, observer: Arc<dyn Observer>) {
        self.0.push(observer);
    }

    /// The observers held, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Observer>> {
        self.0.iter()
    }

    /// Whether none is held (events then need not be built).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sends `event` to every observer.
    pub fn emit(&self, event: &Event<'_>) {
        for observer in &self.0 {
            observer.on_event(event);
        }
    }
}

impl Observer for Observers {
    fn on_event(&self, event: &Event<'_>) {
        self.emit(event);
    }
}

impl fmt::Debug for Observers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observers")
            .field("len", &self.0.len())
            .finish()
    }
}

/// A circuit breaker's state, as events report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// A few probe calls pass.
    HalfOpen,
    /// Calls are refused.
    Open,
}

impl BreakerState {
    /// `closed`, `half_open` or `open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
        }
    }

    /// The state as a gauge value: 0 closed, 1 half-open, 2 open.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

/// Why a call or an attempt was refused before anything was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// An open circuit breaker (or its half-open probes all taken).
    Breaker,
    /// A local rate or concurrency limit.
    RateLimit,
    /// A local cost budget.
    Budget,
    /// No provider may take the request (all disabled, none fits, none tagged for it).
    NoProvider,
}

impl Refusal {
    /// `breaker`, `rate_limit`, `budget` or `no_provider`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Breaker => "breaker",
            Refusal::RateLimit => "rate_limit",
            Refusal::Budget => "budget",
            Refusal::NoProvider => "no_provider",
        }
    }
}

/// Something a retry policy, a breaker, a fallback chain or a router did.
///
/// Provider ids, model names and group names are the configured ones (bounded); nothing here
/// carries a prompt or a key. [`ProviderError`]s carry their message, which observers that
/// export labels must not use as one (use [`ProviderError::kind`]).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A retry policy chose to try again after a failed attempt.
    Retry {
        /// What the policy retries (the provider id inside a fallback chain; empty when the
        /// policy was not named).
        operation: &'a str,
        /// The attempt that failed (1 for the first).
        attempt: u32,
        /// Its kind, when known.
        kind: Option<ErrorKind>,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// A circuit breaker changed state.
    BreakerTransition {
        /// The breaker's name (the provider id inside a fallback chain).
        breaker: &'a str,
        /// The state it left.
        from: BreakerState,
        /// The state it entered.
        to: BreakerState,
    },
    /// One attempt on a provider finished (a call, or the opening of a stream part).
    Attempt {
        /// The deployment.
        provider: &'a str,
        /// The model asked of it.
        model: &'a str,
        /// 1 for the first attempt of this provider's turn.
        attempt: u32,
        /// How long it took.
        duration: Duration,
        /// Why it failed; `None` when it succeeded.
        error: Option<&'a ProviderError>,
        /// Whether another provider was tried before this one in the call.
        fallback: bool,
        /// Whether it reopened an interrupted stream.
        resume: bool,
    },
    /// A provider was passed over without an attempt (its breaker refused).
    Rejected {
        /// The deployment; empty when the whole call was refused.
        provider: &'a str,
        /// Why.
        reason: Refusal,
    },
    /// The call moved on from one provider to the next.
    Fallback {
        /// The provider given up on.
        from: &'a str,
        /// The provider tried next.
        to: &'a str,
    },
    /// An interrupted stream was continued.
    Resume {
        /// The provider the continuation opened on.
        provider: &'a str,
        /// The model asked of it.
        model: &'a str,
        /// 1 for the first resume of the stream.
        resume: u32,
    },
    /// A routed call started.
    CallStarted {
        /// The router's model group.
        group: &'a str,
        /// The model the caller asked for.
        request_model: &'a str,
        /// Whether it is streamed.
        stream: bool,
    },
    /// A streamed call reached its first token.
    FirstToken {
        /// The router's model group.
        group: &'a str,
        /// The provider streaming.
        provider: &'a str,
        /// Since the call started.
        after: Duration,
    },
    /// A routed call ended: answered (a stream when it ended), failed or refused. Every
    /// [`CallStarted`](Event::CallStarted) is followed by one of these.
    CallFinished {
        /// The router's model group.
        group: &'a str,
        /// The model the caller asked for.
        request_model: &'a str,
        /// The provider that answered (the last one, for a stream), if any did.
        provider: Option<&'a str>,
        /// The model that answered, if any did.
        response_model: Option<&'a str>,
        /// Since the call started.
        duration: Duration,
        /// Why it failed; `None` when it was answered.
        error: Option<ErrorKind>,
        /// Input tokens billed over every attempt.
        input_tokens: u64,
        /// Output tokens billed over every attempt.
        output_tokens: u64,
        /// Cost billed over every attempt, in USD.
        cost_usd: f64,
        /// Whether it was streamed.
        stream: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Observer for Log {
        fn on_event(&self, event: &Event<'_>) {
            if let Event::Fallback { from, to } = event {
                self.0.lock().unwrap().push(format!("{from}->{to}"));
            }
        }
    }

    #[test]
    fn observers_fan_out_in_order_and_noop_ignores() {
        let log = Arc::new(Log::default());
        let mut all = Observers::new();
        assert!(all.is_empty());
        all.push(Arc::new(NoopObserver));
        all.push(log.clone());
        all.push(log.clone());
        all.emit(&Event::Fallback { from: "a", to: "b" });
        all.emit(&Event::Rejected {
            provider: "a",
            reason: Refusal::Breaker,
        });
        assert_eq!(*log.0.lock().unwrap(), ["a->b", "a->b"]);
    }

    #[test]
    fn gauge_values_and_names() {
        assert_eq!(BreakerState::Closed.gauge(), 0.0);
        assert_eq!(BreakerState::HalfOpen.gauge(), 1.0);
        assert_eq!(BreakerState::Open.gauge(), 2.0);
        assert_eq!(BreakerState::HalfOpen.as_str(), "half_open");
        assert_eq!(Refusal::RateLimit.as_str(), "rate_limit");
    }
}
