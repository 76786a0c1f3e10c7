//! Many tasks on a multi-thread runtime share one breaker: no lost counts, no wedged half-open.
//!
//! These run on real threads, so they use no timers at all (a zero open duration stands in
//! for waiting), and they check totals that any lost update would break.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use steadfast_circuit::{CircuitBreaker, Config, SlowCall, State, Window};
use steadfast_errors::ErrorKind;

const TASKS: u32 = 16;
const CALLS: u32 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counts_add_up_exactly_under_contention() {
    let breaker = CircuitBreaker::try_new(Config {
        consecutive_failures: None,
        failure_rate: None,
        // Never judged: the window never fills (3 calls in 5 count), so the slow-call rule
        // counts without tripping. With 0, a slow success recorded before any other call
        // made the rate 1/1 and tripped the breaker, as it should — a race in the test.
        minimum_calls: TASKS * CALLS,
        window: Window::Count {
            calls: TASKS * CALLS,
        },
        slow_call: Some(SlowCall {
            threshold: Duration::from_millis(100),
            rate: 1.0,
        }),
        ..Config::default()
    })
    .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let breaker = breaker.clone();
            tokio::spawn(async move {
                for i in 0..CALLS {
                    let permit = breaker.try_acquire().expect("never trips");
                    if i % 2 == 0 {
                        tokio::task::yield_now().await;
                    }
                    match (task + i) % 5 {
                        0 => permit.failure(&ErrorKind::Server),
                        1 => permit.failure(&ErrorKind::InvalidRequest),
                        2 => drop(permit),
                        3 => permit.success_with_latency(Duration::from_secs(1)),
                        _ => permit.success_with_latency(Duration::ZERO),
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let expected = |kind: u32| {
        (0..TASKS)
            .flat_map(|task| (0..CALLS).map(move |i| (task + i) % 5))
            .filter(|&k| k == kind)
            .count() as u32
    };
    let s = breaker.snapshot();
    assert_eq!(s.failures, expected(0));
    assert_eq!(s.slow_calls, expected(3));
    assert_eq!(s.calls, expected(0) + expected(3) + expected(4));
    assert_eq!(s.state, State::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_with_every_probe_cancelled_still_admits() {
    let breaker = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(1),
        open_duration: Duration::ZERO,
        half_open_probes: 3,
        ..Config::default()
    })
    .unwrap();
    breaker.try_acquire().unwrap().failure(&ErrorKind::Server);
    assert_eq!(breaker.state(), State::Open);

    let admitted = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let breaker = breaker.clone();
            let admitted = admitted.clone();
            tokio::spawn(async move {
                for _ in 0..CALLS {
                    if let Ok(probe) = breaker.try_acquire() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                        drop(probe);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(admitted.load(Ordering::Relaxed) > 0);
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(breaker.snapshot().probes_in_use, 0, "every slot came back");
    let probes: Vec<_> = (0..3)
        .map(|_| breaker.try_acquire().expect("not wedged"))
        .collect();
    assert!(breaker.try_acquire().is_err());
    drop(probes);
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_trips_and_recoveries_never_wedge() {
    let breaker = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(3),
        failure_rate: Some(0.5),
        minimum_calls: 4,
        window: Window::Count { calls: 8 },
        open_duration: Duration::ZERO,
        half_open_probes: 2,
        half_open_successes: 2,
        ..Config::default()
    })
    .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let breaker = breaker.clone();
            tokio::spawn(async move {
                for i in 0..CALLS {
                    let Ok(permit) = breaker.try_acquire() else {
                        continue;
                    };
                    tokio::task::yield_now().await;
                    match (task * 7 + i) % 4 {
                        0 | 3 => permit.failure(&ErrorKind::Timeout),
                        1 => drop(permit),
                        _ => permit.success(),
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // Whatever state the race left, with no permit held the breaker admits and can close.
    for _ in 0..2 {
        breaker.try_acquire().expect("admits").success();
    }
    assert_eq!(breaker.state(), State::Closed);
    assert!(breaker.snapshot().trips > 0, "the load did trip it");
}
