//! The breaker's errors: `Rejected` (no admission), `CallError` (from `call`), `ConfigError`.

use std::fmt;
use std::time::Duration;

use steadfast_errors::serde_duration::format as format_duration;
use steadfast_errors::{ErrorKind, Failure};

use crate::state::State;

/// The breaker refused to admit a call.
///
/// Either it is open (and [`retry_in`](Self::retry_in) says for how much longer), or it is
/// half-open and every probe slot is taken (`retry_in` is zero: a slot frees whenever a probe
/// ends without a verdict, which cannot be predicted).
///
/// As a [`Failure`] it is not retryable on this target and does not count against its health
/// (the target was never called); its `retry_after` is the time left open.
///
/// ```
/// use std::time::Duration;
/// use steadfast_circuit::{CircuitBreaker, Config, State};
/// use steadfast_errors::Failure;
///
/// let breaker = CircuitBreaker::new(Config { consecutive_failures: Some(1), ..Config::default() });
/// breaker.try_acquire().unwrap().failure(&std::io::Error::other("boom"));
///
/// let rejected = breaker.try_acquire().unwrap_err();
/// assert_eq!(rejected.state(), State::Open);
/// assert!(rejected.retry_in() <= Duration::from_secs(30));
/// assert!(!rejected.is_retryable() && !rejected.counts_against_health());
/// assert!(rejected.to_string().starts_with("circuit open: retry in "));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", Message(self))]
pub struct Rejected {
    state: State,
    retry_in: Duration,
}

impl Rejected {
    pub(crate) fn open(retry_in: Duration) -> Self {
        Self {
            state: State::Open,
            retry_in,
        }
    }

    pub(crate) fn probes_busy() -> Self {
        Self {
            state: State::HalfOpen,
            retry_in: Duration::ZERO,
        }
    }

    /// The time until the breaker may admit again: what is left of the open duration, or zero
    /// when it is half-open with every probe slot taken.
    pub fn retry_in(&self) -> Duration {
        self.retry_in
    }

    /// The state that refused the call: [`State::Open`] or [`State::HalfOpen`].
    pub fn state(&self) -> State {
        self.state
    }
}

struct Message<'a>(&'a Rejected);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.state {
            State::HalfOpen => f.write_str("circuit half-open: all probes in flight"),
            state => {
                // Whole milliseconds, rounded up, so "retry in 0ms" never appears while open.
                let nanos = self.0.retry_in.as_nanos().div_ceil(1_000_000) * 1_000_000;
                let rounded = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
                write!(f, "circuit {state}: retry in {}", format_duration(rounded))
            }
        }
    }
}

impl Failure for Rejected {
    fn is_retryable(&self) -> bool {
        false
    }

    fn retry_after(&self) -> Option<Duration> {
        (!self.retry_in.is_zero()).then_some(self.retry_in)
    }

    fn counts_against_health(&self) -> bool {
        false
    }

    fn kind(&self) -> Option<ErrorKind> {
        None
    }

    fn is_refusal(&self) -> bool {
        true
    }
}

/// What [`CircuitBreaker::call`](crate::CircuitBreaker::call) returns on failure: the breaker
/// refused, or the operation ran and failed.
///
/// As a [`Failure`] it answers for the inner error (or for [`Rejected`]), so a retry layer can
/// sit outside the breaker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError<E> {
    /// The breaker did not admit the call; the operation was not run.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The operation ran and returned this error.
    #[error(transparent)]
    Failed(E),
}

impl<E> CallError<E> {
    /// The operation's own error, if it ran and failed.
    pub fn into_failed(self) -> Option<E> {
        match self {
            CallError::Failed(e) => Some(e),
            CallError::Rejected(_) => None,
        }
    }

    /// The rejection, if the breaker refused the call.
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            CallError::Rejected(r) => Some(r),
            CallError::Failed(_) => None,
        }
    }
}

impl<E: Failure> Failure for CallError<E> {
    fn is_retryable(&self) -> bool {
        match self {
            CallError::Rejected(r) => r.is_retryable(),
            CallError::Failed(e) => e.is_retryable(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Rejected(r) => r.retry_after(),
            CallError::Failed(e) => e.retry_after(),
        }
    }

    fn counts_against_health(&self) -> bool {
        match self {
            CallError::Rejected(r) => r.counts_against_health(),
            CallError::Failed(e) => e.counts_against_health(),
        }
    }

    fn kind(&self) -> Option<ErrorKind> {
        match self {
            CallError::Rejected(r) => r.kind(),
            CallError::Failed(e) => e.kind(),
        }
    }

    fn is_refusal(&self) -> bool {
        match self {
            CallError::Rejected(r) => r.is_refusal(),
            CallError::Failed(e) => e.is_refusal(),
        }
    }
}

/// A [`Config`](crate::Config) value that [`Config::validate`](crate::Config::validate)
/// refuses (and [`CircuitBreaker::try_new`](crate::CircuitBreaker::try_new) with it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A rate is outside `0.0..=1.0` (or NaN).
    #[error("`{field}` must be between 0 and 1, got {value}")]
    RateOutOfRange {
        /// The field, e.g. `failure_rate`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A count that must be at least 1 is zero.
    #[error("`{field}` must be at least 1")]
    Zero {
        /// The field, e.g. `half_open_probes`.
        field: &'static str,
    },
    /// A window is larger than the crate allows.
    #[error("`{field}` is {value}, more than the maximum {max}")]
    TooLarge {
        /// The field, e.g. `window.calls`.
        field: &'static str,
        /// The value given.
        value: u32,
        /// The largest value allowed.
        max: u32,
    },
    /// A duration that must be positive is zero.
    #[error("`{field}` must not be zero")]
    ZeroDuration {
        /// The field, e.g. `window.duration`.
        field: &'static str,
    },
    /// `minimum_calls` is larger than the count window, so no rate could ever be judged.
    #[error(
        "`minimum_calls` ({minimum_calls}) exceeds the count window ({window_calls} calls): the rate rules could never fire"
    )]
    MinimumCallsExceedWindow {
        /// The value of `minimum_calls`.
        minimum_calls: u32,
        /// The size of the count window.
        window_calls: u32,
    },
    /// `half_open_successes` is larger than `half_open_probes`, so the breaker could never
    /// close.
    #[error("`half_open_successes` ({successes}) exceeds `half_open_probes` ({probes})")]
    SuccessesExceedProbes {
        /// The value of `half_open_successes`.
        successes: u32,
        /// The value of `half_open_probes`.
        probes: u32,
    },
    /// The backoff multiplier is below 1 or not finite.
    #[error("`open_backoff.multiplier` must be finite and at least 1, got {value}")]
    BadMultiplier {
        /// The value given.
        value: f64,
    },
    /// The backoff cap is below the initial open duration.
    #[error(
        "`open_backoff.max` ({}) is shorter than `open_duration` ({})",
        format_duration(*max),
        format_duration(*open_duration)
    )]
    BackoffMaxBelowOpenDuration {
        /// The cap given.
        max: Duration,
        /// The initial open duration.
        open_duration: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_round_up() {
        assert_eq!(
            Rejected::open(Duration::from_secs(12)).to_string(),
            "circuit open: retry in 12s"
        );
        assert_eq!(
            Rejected::open(Duration::from_nanos(1)).to_string(),
            "circuit open: retry in 1ms"
        );
        assert_eq!(
            Rejected::open(Duration::from_millis(1500)).to_string(),
            "circuit open: retry in 1500ms"
        );
        assert_eq!(
            Rejected::probes_busy().to_string(),
            "circuit half-open: all probes in flight"
        );
    }

    #[test]
    fn rejected_is_a_local_non_retryable_failure() {
        let open = Rejected::open(Duration::from_secs(3));
        assert!(!open.is_retryable());
        assert!(!open.counts_against_health());
        assert_eq!(open.kind(), None);
        assert_eq!(open.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(Rejected::probes_busy().retry_after(), None);
    }

    #[test]
    fn call_error_answers_for_its_inner_error() {
        let failed: CallError<ErrorKind> = CallError::Failed(ErrorKind::Overloaded);
        assert!(failed.is_retryable() && failed.counts_against_health());
        assert_eq!(failed.kind(), Some(ErrorKind::Overloaded));
        assert_eq!(failed.into_failed(), Some(ErrorKind::Overloaded));

        let io: CallError<std::io::Error> = Rejected::open(Duration::from_secs(1)).into();
        assert!(!io.is_retryable());
        assert_eq!(io.to_string(), "circuit open: retry in 1s");
        assert!(io.rejected().is_some());
    }
}
