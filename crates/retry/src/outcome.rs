//! What a retried operation returns: the result, why retrying stopped, and every attempt.

use std::fmt;
use std::time::Duration;

use steadfast_errors::ErrorKind;

/// One attempt of a retried operation, as recorded in the log and given to observers.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// When the attempt started, measured from the start of the run.
    pub started: Duration,
    /// How long the attempt itself took.
    pub elapsed: Duration,
    /// The failure's kind, when it failed and the error knows its kind.
    pub kind: Option<ErrorKind>,
    /// What was decided after it.
    pub decision: Decision,
}

/// What the policy decided after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Decision {
    /// The attempt succeeded.
    Succeeded,
    /// Wait `delay`, then try again.
    Retry {
        /// How long to wait.
        delay: Duration,
        /// Why that long.
        reason: DelayReason,
    },
    /// Do not try again.
    Stop(Stop),
}

/// Why a retry waits as long as it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DelayReason {
    /// The policy's backoff (with jitter).
    Backoff,
    /// The error's own retry hint (`Retry-After` and friends), honoured over the backoff.
    RetryAfter,
    /// The gate of [`RetryPolicy::run_gated`](crate::RetryPolicy::run_gated) said the target
    /// admits no attempt before then (e.g. an open breaker's time left).
    Admission,
}

/// What the gate of [`RetryPolicy::run_gated`](crate::RetryPolicy::run_gated) says about the
/// next attempt, asked after a failure and before any wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admit {
    /// The target will take the next attempt: wait as planned.
    Yes,
    /// The target takes no attempt for this long: wait at least this much. The wait is
    /// judged like a retry hint — beyond `max_retry_after` it is [`Stop::Refused`], past
    /// the deadline [`Stop::DeadlineWouldPass`].
    After(Duration),
    /// The target refuses attempts for now: stop with [`Stop::Refused`], without waiting.
    No,
}

/// Why retrying stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stop {
    /// The error is not retryable (by its kind, `x-should-retry`, a per-kind override or
    /// the policy's predicate).
    NotRetryable,
    /// The attempt limit was reached.
    AttemptsExhausted,
    /// The error asked for a wait longer than the policy's `max_retry_after`: do not wait
    /// here, fall back now.
    HintBeyondCap {
        /// The wait the error asked for.
        hint: Duration,
    },
    /// The wait (hint or backoff) would end after the overall deadline: fall back now.
    DeadlineWouldPass {
        /// The wait that was needed.
        delay: Duration,
        /// The time left before the deadline.
        remaining: Duration,
    },
    /// The shared retry budget is exhausted: the target is failing for many callers.
    BudgetExhausted,
    /// The target refuses attempts for now without being tried (an open circuit breaker):
    /// either the attempt's error said so (see [`RetryPolicy::run`](crate::RetryPolicy::run)),
    /// or the gate of [`RetryPolicy::run_gated`](crate::RetryPolicy::run_gated) did, before
    /// any wait was spent. Fall back now.
    Refused,
}

impl Stop {
    /// Whether the caller should move on to another target now rather than give up: the
    /// failure was retryable here, but retrying here was not worth it.
    pub fn should_fall_back(self) -> bool {
        !matches!(self, Stop::NotRetryable)
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::NotRetryable => f.write_str("not retryable"),
            Stop::AttemptsExhausted => f.write_str("attempts exhausted"),
            Stop::HintBeyondCap { hint } => write!(f, "retry hint of {hint:?} is beyond the cap"),
            Stop::DeadlineWouldPass { delay, remaining } => {
                write!(
                    f,
                    "a wait of {delay:?} would pass the deadline ({remaining:?} left)"
                )
            }
            Stop::BudgetExhausted => f.write_str("retry budget exhausted"),
            Stop::Refused => f.write_str("the target refuses attempts for now"),
        }
    }
}

/// The result of [`RetryPolicy::run`](crate::RetryPolicy::run).
#[derive(Debug)]
pub struct Outcome<T, E> {
    /// The last attempt's result.
    pub result: Result<T, E>,
    /// Why retrying stopped; `None` when the last attempt succeeded.
    pub stop: Option<Stop>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
}

impl<T, E> Outcome<T, E> {
    /// The result alone.
    pub fn into_result(self) -> Result<T, E> {
        self.result
    }

    /// How many times the operation was tried again after the first attempt.
    pub fn retries(&self) -> u32 {
        u32::try_from(self.attempts.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// Whether the caller should fall back to another target now: the operation failed
    /// with a retryable error and retrying here stopped for a reason other than the error.
    pub fn should_fall_back(&self) -> bool {
        self.result.is_err() && self.stop.is_some_and(Stop::should_fall_back)
    }

    /// The total time spent waiting between attempts.
    pub fn total_delay(&self) -> Duration {
        self.attempts
            .iter()
            .filter_map(|a| match a.decision {
                Decision::Retry { delay, .. } => Some(delay),
                _ => None,
            })
            .sum()
    }
}
