//! Refusals and the gate of `RetryPolicy::run_gated`, on a paused tokio clock: a target that
//! refuses (an open breaker) stops the run without a wait and sends the caller on.

use std::sync::Mutex;
use std::time::Duration;

use steadfast_errors::{ErrorKind, Failure};
use steadfast_retry::{
    Admit, Backoff, BudgetConfig, Decision, DelayReason, Jitter, RetryBudget, RetryConfig,
    RetryPolicy, Stop,
};
use tokio::time::Instant;

/// Answers as a circuit breaker's rejection does: a refusal, not retryable, not counting
/// against health, and the time left open as its retry hint.
#[derive(Debug)]
struct OpenBreaker;

impl Failure for OpenBreaker {
    fn is_retryable(&self) -> bool {
        false
    }
    fn retry_after(&self) -> Option<Duration> {
        Some(Duration::from_secs(30))
    }
    fn counts_against_health(&self) -> bool {
        false
    }
    fn is_refusal(&self) -> bool {
        true
    }
}

/// A final error of the caller's own (the crate docs' `DbError::Syntax`): no hint.
#[derive(Debug)]
struct Syntax;

impl Failure for Syntax {
    fn is_retryable(&self) -> bool {
        false
    }
    fn counts_against_health(&self) -> bool {
        false
    }
}

fn constant(secs: u64, max_attempts: u32) -> RetryPolicy {
    let wait = Duration::from_secs(secs);
    RetryPolicy::new(RetryConfig {
        max_attempts,
        backoff: Backoff {
            initial: wait,
            multiplier: 1.0,
            max: wait,
            jitter: Jitter::None,
        },
        budget: None,
        ..RetryConfig::default()
    })
}

#[tokio::test(start_paused = true)]
async fn a_refusal_is_not_retried_and_means_fall_back() {
    let outcome = RetryPolicy::default()
        .run(|_| async { Err::<(), _>(OpenBreaker) })
        .await;
    assert_eq!(outcome.attempts.len(), 1);
    assert!(outcome.should_fall_back());
    assert_eq!(outcome.stop, Some(Stop::Refused));
    // A final error that says nothing about coming back stays final.
    let outcome = RetryPolicy::default()
        .run(|_| async { Err::<(), _>(Syntax) })
        .await;
    assert_eq!(outcome.stop, Some(Stop::NotRetryable));
    assert!(!outcome.should_fall_back());
}

#[tokio::test(start_paused = true)]
async fn a_closed_gate_stops_before_any_wait() {
    let asked = Mutex::new(Vec::new());
    let started = Instant::now();
    let outcome = constant(1, 5)
        .run_gated(
            |wait| {
                asked.lock().unwrap().push(wait);
                if asked.lock().unwrap().len() < 2 {
                    Admit::Yes
                } else {
                    Admit::No
                }
            },
            |_| async { Err::<(), _>(ErrorKind::Overloaded) },
        )
        .await;
    assert_eq!(outcome.stop, Some(Stop::Refused));
    assert!(outcome.should_fall_back());
    assert_eq!(outcome.attempts.len(), 2);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(1),
        "only the admitted wait"
    );
    assert_eq!(*asked.lock().unwrap(), [Duration::from_secs(1); 2]);
}

#[tokio::test(start_paused = true)]
async fn the_gate_is_asked_only_when_a_retry_is_otherwise_allowed() {
    let asked = Mutex::new(0u32);
    let gate = |_| {
        *asked.lock().unwrap() += 1;
        Admit::No
    };
    let outcome = constant(1, 3)
        .run_gated(gate, |_| async { Err::<(), _>(ErrorKind::InvalidRequest) })
        .await;
    assert_eq!(outcome.stop, Some(Stop::NotRetryable));
    let outcome = constant(1, 1)
        .run_gated(gate, |_| async { Err::<(), _>(ErrorKind::Server) })
        .await;
    assert_eq!(outcome.stop, Some(Stop::AttemptsExhausted));
    let outcome = constant(1, 3)
        .run_gated(gate, |_| async { Ok::<_, ErrorKind>(1) })
        .await;
    assert_eq!(outcome.result, Ok(1));
    assert_eq!(*asked.lock().unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_later_admission_lengthens_the_wait_within_the_limits() {
    let started = Instant::now();
    let outcome = constant(1, 3)
        .run_gated(
            |_| Admit::After(Duration::from_secs(5)),
            |a| async move {
                if a.number < 2 {
                    Err(ErrorKind::Overloaded)
                } else {
                    Ok("probe answered")
                }
            },
        )
        .await;
    assert_eq!(outcome.result, Ok("probe answered"));
    assert_eq!(
        outcome.attempts[0].decision,
        Decision::Retry {
            delay: Duration::from_secs(5),
            reason: DelayReason::Admission
        }
    );
    assert_eq!(started.elapsed(), Duration::from_secs(5));

    // Shorter than the backoff: the backoff stands.
    let outcome = constant(3, 2)
        .run_gated(
            |_| Admit::After(Duration::from_secs(1)),
            |_| async { Err::<(), _>(ErrorKind::Overloaded) },
        )
        .await;
    assert_eq!(
        outcome.attempts[0].decision,
        Decision::Retry {
            delay: Duration::from_secs(3),
            reason: DelayReason::Backoff
        }
    );

    // Beyond `max_retry_after`: refused; past the deadline: not taken.
    let beyond = constant(1, 3)
        .run_gated(
            |_| Admit::After(Duration::from_secs(61)),
            |_| async { Err::<(), _>(ErrorKind::Overloaded) },
        )
        .await;
    assert_eq!(beyond.stop, Some(Stop::Refused));
    let mut config = constant(1, 3).config().clone();
    config.deadline = Some(Duration::from_secs(10));
    let late = RetryPolicy::new(config)
        .run_gated(
            |_| Admit::After(Duration::from_secs(20)),
            |_| async { Err::<(), _>(ErrorKind::Overloaded) },
        )
        .await;
    assert!(matches!(late.stop, Some(Stop::DeadlineWouldPass { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_refused_retry_takes_nothing_from_the_budget() {
    let budget = RetryBudget::new(BudgetConfig::default());
    let before = budget.balance();
    let outcome = constant(1, 3)
        .with_budget(budget.clone())
        .run_gated(
            |_| Admit::No,
            |_| async { Err::<(), _>(ErrorKind::Overloaded) },
        )
        .await;
    assert_eq!(outcome.stop, Some(Stop::Refused));
    // The run's own deposit is all that changed.
    assert!(budget.balance() >= before);
}

/// Half-open with every probe slot taken: the breaker refuses without a hint.
#[derive(Debug)]
struct ProbesBusy;

impl Failure for ProbesBusy {
    fn is_retryable(&self) -> bool {
        false
    }
    fn counts_against_health(&self) -> bool {
        false
    }
    fn is_refusal(&self) -> bool {
        true
    }
}

#[tokio::test(start_paused = true)]
async fn a_refusal_without_a_hint_still_means_fall_back() {
    let outcome = constant(1, 5)
        .run(|_| async { Err::<(), _>(ProbesBusy) })
        .await;
    assert_eq!(outcome.attempts.len(), 1);
    assert!(
        matches!(outcome.stop, Some(Stop::Refused)),
        "{:?}",
        outcome.stop
    );
    assert!(outcome.should_fall_back());
}
