//! `RetryPolicy::run` end to end, on a paused tokio clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_retry::{
    Backoff, BudgetConfig, Decision, DelayReason, Jitter, KindPolicy, RetryBudget, RetryConfig,
    RetryPolicy, Stop,
};
use tokio::time::Instant;

fn rate_limited(after: Duration) -> ProviderError {
    ProviderError::new(ErrorKind::RateLimited, "openai", "Rate limit reached")
        .with_retry_after(after)
}

fn exact_backoff(initial_ms: u64, max_ms: u64) -> Backoff {
    Backoff {
        initial: Duration::from_millis(initial_ms),
        multiplier: 2.0,
        max: Duration::from_millis(max_ms),
        jitter: Jitter::None,
    }
}

fn delays<T, E>(outcome: &steadfast_retry::Outcome<T, E>) -> Vec<(Duration, DelayReason)> {
    outcome
        .attempts
        .iter()
        .filter_map(|a| match a.decision {
            Decision::Retry { delay, reason } => Some((delay, reason)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_exactly_on_every_attempt() {
    // LiteLLM #20722: the hint was honoured on the first retry only. Here every attempt's
    // hint decides that attempt's wait, and the hints differ so a stale one would show.
    let hints = [3u64, 7, 1, 4];
    let starts = Arc::new(Mutex::new(Vec::new()));
    let policy = RetryPolicy::new(RetryConfig {
        max_attempts: 5,
        ..RetryConfig::default()
    });
    let outcome = policy
        .run(|attempt| {
            starts.lock().unwrap().push(Instant::now());
            async move {
                match hints.get(attempt.number as usize - 1) {
                    Some(&s) => Err(rate_limited(Duration::from_secs(s))),
                    None => Ok(attempt.number),
                }
            }
        })
        .await;
    assert_eq!(*outcome.result.as_ref().unwrap(), 5);
    let starts = starts.lock().unwrap();
    let gaps: Vec<u64> = starts.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
    assert_eq!(gaps, hints);
    assert!(
        delays(&outcome)
            .iter()
            .all(|(_, r)| *r == DelayReason::RetryAfter)
    );
}

#[tokio::test(start_paused = true)]
async fn backoff_applies_when_there_is_no_hint() {
    let policy = RetryPolicy::new(RetryConfig {
        max_attempts: 4,
        backoff: exact_backoff(500, 1500),
        ..RetryConfig::default()
    });
    let begun = Instant::now();
    let outcome = policy
        .run(|_| async { Err::<(), _>(ErrorKind::Server) })
        .await;
    let waits: Vec<u64> = delays(&outcome)
        .iter()
        .map(|(d, _)| d.as_millis() as u64)
        .collect();
    assert_eq!(waits, [500, 1000, 1500]);
    assert_eq!(outcome.stop, Some(Stop::AttemptsExhausted));
    assert_eq!(
        begun.elapsed(),
        Duration::from_millis(3000),
        "it slept exactly the waits"
    );
    assert!(outcome.should_fall_back());
}

#[tokio::test(start_paused = true)]
async fn a_zero_hint_falls_back_to_the_backoff() {
    let policy = RetryPolicy::new(RetryConfig {
        max_attempts: 2,
        backoff: exact_backoff(250, 250),
        ..RetryConfig::default()
    });
    let outcome = policy
        .run(|_| async { Err::<(), _>(rate_limited(Duration::ZERO)) })
        .await;
    assert_eq!(
        delays(&outcome),
        [(Duration::from_millis(250), DelayReason::Backoff)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_hint_beyond_the_cap_means_fall_back_now() {
    let policy = RetryPolicy::new(RetryConfig {
        max_retry_after: Duration::from_secs(30),
        ..RetryConfig::default()
    });
    let begun = Instant::now();
    let outcome = policy
        .run(|_| async { Err::<(), _>(rate_limited(Duration::from_secs(31))) })
        .await;
    assert_eq!(
        outcome.stop,
        Some(Stop::HintBeyondCap {
            hint: Duration::from_secs(31)
        })
    );
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(begun.elapsed(), Duration::ZERO, "no waiting at all");
    assert!(outcome.should_fall_back());
}

#[tokio::test(start_paused = true)]
async fn a_wait_past_the_deadline_is_not_taken() {
    let policy = RetryPolicy::new(RetryConfig {
        max_attempts: 10,
        deadline: Some(Duration::from_secs(10)),
        ..RetryConfig::default()
    });
    let begun = Instant::now();
    let outcome = policy
        .run(|attempt| async move {
            // The first attempt itself takes 4 s; then the provider asks for 8 s.
            if attempt.number == 1 {
                assert_eq!(attempt.remaining, Some(Duration::from_secs(10)));
                tokio::time::sleep(Duration::from_secs(4)).await;
            }
            Err::<(), _>(rate_limited(Duration::from_secs(8)))
        })
        .await;
    assert_eq!(
        outcome.stop,
        Some(Stop::DeadlineWouldPass {
            delay: Duration::from_secs(8),
            remaining: Duration::from_secs(6)
        })
    );
    assert_eq!(begun.elapsed(), Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn errors_that_are_not_retryable_stop_at_once() {
    let policy = RetryPolicy::default();
    let outcome = policy
        .run(|_| async { Err::<(), _>(ErrorKind::InvalidRequest) })
        .await;
    assert_eq!(outcome.stop, Some(Stop::NotRetryable));
    assert!(!outcome.should_fall_back());
    // x-should-retry: false on a 500 makes a server error final too.
    let outcome = policy
        .run(|_| async {
            Err::<(), _>(
                ProviderError::new(ErrorKind::Server, "openai", "boom").with_retryable(false),
            )
        })
        .await;
    assert_eq!(
        (outcome.stop, outcome.attempts.len()),
        (Some(Stop::NotRetryable), 1)
    );
}

#[tokio::test(start_paused = true)]
async fn per_kind_overrides_and_the_protocol_once_rule() {
    let mut per_kind = std::collections::BTreeMap::new();
    per_kind.insert(
        ErrorKind::RateLimited,
        KindPolicy {
            max_attempts: Some(6),
            backoff: Some(Backoff::constant(Duration::from_secs(2))),
            ..KindPolicy::default()
        },
    );
    per_kind.insert(
        ErrorKind::NotFound,
        KindPolicy {
            retry: Some(true),
            ..KindPolicy::default()
        },
    );
    let policy = RetryPolicy::new(RetryConfig {
        max_attempts: 3,
        per_kind,
        ..RetryConfig::default()
    })
    .without_budget();
    let limited = policy
        .run(|_| async { Err::<(), _>(ErrorKind::RateLimited) })
        .await;
    assert_eq!(limited.attempts.len(), 6);
    assert!(
        delays(&limited)
            .iter()
            .all(|(d, _)| *d == Duration::from_secs(2))
    );
    let server = policy
        .run(|_| async { Err::<(), _>(ErrorKind::Server) })
        .await;
    assert_eq!(server.attempts.len(), 3);
    let protocol = policy
        .run(|_| async { Err::<(), _>(ErrorKind::Protocol) })
        .await;
    assert_eq!(
        protocol.attempts.len(),
        2,
        "a malformed response is retried once"
    );
    let missing = policy
        .run(|_| async { Err::<(), _>(ErrorKind::NotFound) })
        .await;
    assert_eq!(
        missing.attempts.len(),
        3,
        "the override made not_found retryable"
    );
}

#[tokio::test(start_paused = true)]
async fn the_predicate_hook_decides() {
    let policy = RetryPolicy::default()
        .without_budget()
        .retry_if(|f| f.kind() == Some(ErrorKind::Auth));
    let auth = policy
        .run(|_| async { Err::<(), _>(ErrorKind::Auth) })
        .await;
    assert_eq!(auth.attempts.len(), 3);
    let server = policy
        .run(|_| async { Err::<(), _>(ErrorKind::Server) })
        .await;
    assert_eq!(server.stop, Some(Stop::NotRetryable));
}

#[tokio::test(start_paused = true)]
async fn the_observer_sees_every_attempt_and_decision() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let policy = RetryPolicy::new(RetryConfig {
        backoff: exact_backoff(100, 100),
        ..RetryConfig::default()
    })
    .on_attempt(move |a| sink.lock().unwrap().push((a.number, a.kind, a.decision)));
    let outcome = policy
        .run(|a| async move {
            if a.number < 3 {
                Err(ErrorKind::Timeout)
            } else {
                Ok(())
            }
        })
        .await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].1, Some(ErrorKind::Timeout));
    assert_eq!(seen[2], (3, None, Decision::Succeeded));
    assert_eq!(outcome.attempts[1].started, Duration::from_millis(100));
    assert_eq!(outcome.total_delay(), Duration::from_millis(200));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_cancels_the_wait_and_every_later_attempt() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let policy = RetryPolicy::new(RetryConfig {
        max_attempts: 10,
        backoff: Backoff::constant(Duration::from_secs(5)),
        ..RetryConfig::default()
    });
    let task = tokio::spawn(async move {
        policy
            .run(|_| {
                counter.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(ErrorKind::Server) }
            })
            .await
    });
    tokio::time::sleep(Duration::from_secs(7)).await; // inside the second wait
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "nothing ran after the drop"
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_schedule() {
    let run = |seed| async move {
        let policy = RetryPolicy::new(RetryConfig {
            max_attempts: 6,
            ..RetryConfig::default()
        })
        .without_budget()
        .with_seed(seed);
        let outcome = policy
            .run(|_| async { Err::<(), _>(ErrorKind::Server) })
            .await;
        delays(&outcome)
    };
    assert_eq!(run(9).await, run(9).await);
    assert_ne!(run(9).await, run(10).await);
}

/// A total outage: every attempt of every call fails. Without a budget each call makes
/// `max_attempts` attempts; with one, attempts per call stay near `1 + retry_percent`.
#[tokio::test(start_paused = true)]
async fn the_budget_bounds_attempts_under_a_total_outage() {
    const CALLS: u32 = 1000;
    async fn outage(policy: RetryPolicy) -> (u32, u32) {
        let attempts = Arc::new(AtomicU32::new(0));
        let budget_stops = Arc::new(AtomicU32::new(0));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..CALLS {
            let policy = policy.clone();
            let attempts = Arc::clone(&attempts);
            let budget_stops = Arc::clone(&budget_stops);
            set.spawn(async move {
                let outcome = policy
                    .run(|_| {
                        attempts.fetch_add(1, Ordering::Relaxed);
                        async { Err::<(), _>(ErrorKind::Overloaded) }
                    })
                    .await;
                if outcome.stop == Some(Stop::BudgetExhausted) {
                    budget_stops.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while set.join_next().await.is_some() {}
        (
            attempts.load(Ordering::Relaxed),
            budget_stops.load(Ordering::Relaxed),
        )
    }
    let config = RetryConfig {
        max_attempts: 5,
        backoff: Backoff::constant(Duration::from_millis(10)),
        budget: None,
        ..RetryConfig::default()
    };
    let (unbounded, _) = outage(RetryPolicy::new(config.clone())).await;
    assert_eq!(unbounded, CALLS * 5);

    let budget = RetryBudget::new(BudgetConfig {
        ttl: Duration::from_secs(10),
        min_per_sec: 0,
        retry_percent: 0.2,
    });
    let (attempts, budget_stops) = outage(RetryPolicy::new(config).with_budget(budget)).await;
    let ratio = f64::from(attempts) / f64::from(CALLS);
    assert!(
        ratio <= 1.2 + 1e-9,
        "attempts per call {ratio} above 1 + retry_percent"
    );
    assert!(
        ratio >= 1.15,
        "the budget should still allow its share: {ratio}"
    );
    assert!(
        budget_stops > CALLS / 2,
        "exhaustion is visible in the outcomes"
    );
}

proptest! {
    /// Whatever the failures and hints, the run never sleeps past its deadline, never makes
    /// more than max_attempts attempts, and every retry wait is its hint or within the backoff.
    #[test]
    fn never_past_the_deadline_nor_the_attempt_limit(
        deadline_ms in 1u64..20_000,
        max_attempts in 1u32..8,
        hints in proptest::collection::vec(proptest::option::of(0u64..5_000), 1..10),
        attempt_ms in 0u64..2_000,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async {
            let policy = RetryPolicy::new(RetryConfig {
                max_attempts,
                deadline: Some(Duration::from_millis(deadline_ms)),
                backoff: Backoff::exponential(Duration::from_millis(100), Duration::from_secs(3)),
                ..RetryConfig::default()
            }).without_budget();
            let begun = Instant::now();
            let hints = hints.clone();
            let outcome = policy.run(|a| {
                let hint = hints[(a.number as usize - 1) % hints.len()];
                async move {
                    tokio::time::sleep(Duration::from_millis(attempt_ms).min(a.remaining.unwrap())).await;
                    let e = ProviderError::new(ErrorKind::Server, "x", "boom");
                    Err::<(), _>(match hint { Some(ms) => e.with_retry_after(Duration::from_millis(ms)), None => e })
                }
            }).await;
            prop_assert!(begun.elapsed() <= Duration::from_millis(deadline_ms));
            prop_assert!(outcome.attempts.len() <= max_attempts as usize);
            for (i, a) in outcome.attempts.iter().enumerate() {
                if let Decision::Retry { delay, reason } = a.decision {
                    let hint = hints[i % hints.len()].filter(|&ms| ms > 0);
                    match reason {
                        DelayReason::RetryAfter => prop_assert_eq!(Some(delay.as_millis() as u64), hint),
                        DelayReason::Backoff => { prop_assert!(hint.is_none()); prop_assert!(delay <= Duration::from_secs(3)); }
                        _ => {}
                    }
                }
            }
            Ok(())
        })?;
    }
}
