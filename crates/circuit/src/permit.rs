//! `Permit`: the right to make one call, which reports its outcome — or its cancellation on drop.

use std::fmt;
use std::time::Duration;

use steadfast_errors::Failure;
use tokio::time::Instant;

use crate::breaker::{CircuitBreaker, Verdict};

/// Admission for one call, from [`CircuitBreaker::try_acquire`].
///
/// End it with [`success`](Self::success), [`success_with_latency`](Self::success_with_latency)
/// or [`failure`](Self::failure). Dropping it without an outcome (the call was cancelled, the
/// future dropped) records nothing and gives a half-open probe slot back, so a cancelled
/// probe cannot wedge the breaker.
///
/// An outcome only counts for the state that admitted the permit: if the breaker has tripped,
/// recovered or been reset since, the outcome is ignored.
///
/// ```
/// use std::time::Duration;
/// use steadfast_circuit::{CircuitBreaker, Config, SlowCall};
///
/// let breaker = CircuitBreaker::new(Config {
///     slow_call: Some(SlowCall { threshold: Duration::from_secs(2), rate: 0.5 }),
///     ..Config::default()
/// });
/// let permit = breaker.try_acquire().unwrap();
/// // A long answer whose first token came quickly is not slow.
/// permit.success_with_latency(Duration::from_millis(300));
/// drop(breaker.try_acquire().unwrap()); // cancelled: neither success nor failure
/// let s = breaker.snapshot();
/// assert_eq!((s.calls, s.slow_calls), (1, 0));
/// ```
#[must_use = "dropping a permit records a cancelled call; report success or failure instead"]
pub struct Permit {
    breaker: CircuitBreaker,
    generation: u64,
    probe: bool,
    started: Option<Instant>,
    done: bool,
}

impl Permit {
    pub(crate) fn new(
        breaker: CircuitBreaker,
        generation: u64,
        probe: bool,
        started: Option<Instant>,
    ) -> Self {
        Self {
            breaker,
            generation,
            probe,
            started,
            done: false,
        }
    }

    /// The call succeeded; it is slow (with a slow-call rule) if more time passed since the
    /// permit was issued than the rule's threshold.
    pub fn success(self) {
        let latency = self.started.map_or(Duration::ZERO, |t| t.elapsed());
        self.success_with_latency(latency);
    }

    /// The call succeeded, and its latency (for the slow-call rule) is `latency` as the caller
    /// measured it — time to first token, say, rather than time to the last one.
    pub fn success_with_latency(mut self, latency: Duration) {
        let slow = self.breaker.is_slow(latency);
        self.finish(Verdict::Success { slow });
    }

    /// The call failed with `error`. It counts as a failure only if the breaker's classifier
    /// says so (by default [`Failure::counts_against_health`]); otherwise it is recorded as
    /// neither success nor failure.
    pub fn failure<E: Failure>(mut self, error: &E) {
        let verdict = if self.breaker.counts(error) {
            Verdict::Failure
        } else {
            Verdict::Neutral
        };
        self.finish(verdict);
    }

    /// The call was abandoned: the same as dropping the permit.
    pub fn cancel(self) {}

    /// Whether this permit is one of the half-open state's probes.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    fn finish(&mut self, verdict: Verdict) {
        if !self.done {
            self.done = true;
            self.breaker.complete(self.generation, self.probe, verdict);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.finish(Verdict::Neutral);
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("generation", &self.generation)
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}
