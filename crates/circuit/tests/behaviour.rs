//! One test per promised behaviour: trip reasons, half-open probing, backoff, cancellation, reset.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_circuit::{
    CallError, CircuitBreaker, Config, ConfigError, OpenBackoff, Reason, SlowCall, State,
    Transition, Window,
};
use steadfast_errors::{ErrorKind, Failure};
use tokio::time::advance;

const SERVER: ErrorKind = ErrorKind::Server;
const BAD_REQUEST: ErrorKind = ErrorKind::InvalidRequest;

/// Rules off, so each test turns on only what it tests.
fn quiet() -> Config {
    Config {
        consecutive_failures: None,
        failure_rate: None,
        minimum_calls: 0,
        open_duration: Duration::from_secs(10),
        ..Config::default()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ok(b: &CircuitBreaker) {
    b.try_acquire().expect("admitted").success();
}

fn fail(b: &CircuitBreaker) {
    b.try_acquire().expect("admitted").failure(&SERVER);
}

/// A breaker that records its transitions.
fn observed(config: Config) -> (CircuitBreaker, Arc<Mutex<Vec<Transition>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let b = CircuitBreaker::try_new(config)
        .unwrap()
        .on_transition(move |t| log.lock().unwrap().push(*t));
    (b, seen)
}

fn last_reason(seen: &Mutex<Vec<Transition>>) -> Reason {
    seen.lock().unwrap().last().expect("a transition").reason
}

#[tokio::test(start_paused = true)]
async fn trips_on_consecutive_failures_and_a_success_breaks_the_run() {
    let (b, seen) = observed(Config {
        consecutive_failures: Some(3),
        ..quiet()
    });
    fail(&b);
    fail(&b);
    ok(&b);
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Closed);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    assert_eq!(last_reason(&seen), Reason::ConsecutiveFailures { count: 3 });
}

#[tokio::test(start_paused = true)]
async fn trips_on_failure_rate_only_after_minimum_calls() {
    let (b, seen) = observed(Config {
        failure_rate: Some(0.5),
        window: Window::Count { calls: 10 },
        minimum_calls: 4,
        ..quiet()
    });
    fail(&b);
    fail(&b);
    fail(&b);
    assert_eq!(
        b.state(),
        State::Closed,
        "100% of 3 calls: below the minimum"
    );
    ok(&b);
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        last_reason(&seen),
        Reason::FailureRate {
            rate: 0.75,
            calls: 4
        }
    );
}

#[tokio::test(start_paused = true)]
async fn count_window_forgets_the_oldest_calls() {
    let b = CircuitBreaker::try_new(Config {
        failure_rate: Some(0.5),
        window: Window::Count { calls: 4 },
        minimum_calls: 4,
        ..quiet()
    })
    .unwrap();
    fail(&b);
    for _ in 0..4 {
        ok(&b);
    }
    // The window is [ok, ok, ok, ok]; the failure has slid out.
    fail(&b);
    assert_eq!(b.state(), State::Closed, "1 of 4");
    assert_eq!(b.snapshot().failure_rate, 0.25);
    fail(&b);
    assert_eq!(b.state(), State::Open, "2 of 4");
}

#[tokio::test(start_paused = true)]
async fn time_window_forgets_expired_buckets() {
    let b = CircuitBreaker::try_new(Config {
        failure_rate: Some(0.5),
        window: Window::Time {
            duration: secs(10),
            buckets: 10,
        },
        minimum_calls: 2,
        ..quiet()
    })
    .unwrap();
    ok(&b);
    ok(&b);
    fail(&b);
    assert_eq!(b.snapshot().calls, 3);
    advance(secs(10)).await;
    assert_eq!(b.snapshot().calls, 0, "all three calls have expired");
    ok(&b);
    ok(&b);
    fail(&b);
    assert_eq!(b.state(), State::Closed, "1 of 3");
    fail(&b);
    // 2 of 4 trips; had the expired calls still counted, it would be 3 of 7 and stay closed.
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn slow_call_rate_trips_on_reported_latency_not_wall_time() {
    let (b, seen) = observed(Config {
        slow_call: Some(SlowCall {
            threshold: secs(1),
            rate: 0.5,
        }),
        minimum_calls: 4,
        ..quiet()
    });
    // Long calls whose first token came fast are not slow.
    for _ in 0..4 {
        let permit = b.try_acquire().unwrap();
        advance(secs(30)).await;
        permit.success_with_latency(Duration::from_millis(200));
    }
    assert_eq!(b.snapshot().slow_calls, 0);
    assert_eq!(b.state(), State::Closed);
    // Instant calls that report a slow first token are slow.
    b.try_acquire()
        .unwrap()
        .success_with_latency(Duration::from_millis(1500));
    b.try_acquire()
        .unwrap()
        .success_with_latency(Duration::from_millis(1001));
    assert_eq!(b.state(), State::Closed, "2 of 6");
    b.try_acquire().unwrap().success_with_latency(secs(2));
    b.try_acquire().unwrap().success_with_latency(secs(2));
    assert_eq!(b.state(), State::Open, "4 of 8");
    assert_eq!(
        last_reason(&seen),
        Reason::SlowCallRate {
            rate: 0.5,
            calls: 8
        }
    );
}

#[tokio::test(start_paused = true)]
async fn plain_success_is_judged_on_time_since_admission() {
    let b = CircuitBreaker::try_new(Config {
        slow_call: Some(SlowCall {
            threshold: secs(1),
            rate: 1.0,
        }),
        minimum_calls: 1,
        ..quiet()
    })
    .unwrap();
    let permit = b.try_acquire().unwrap();
    advance(secs(1)).await;
    permit.success();
    assert_eq!(
        b.state(),
        State::Closed,
        "exactly the threshold is not slow"
    );
    let permit = b.try_acquire().unwrap();
    advance(Duration::from_millis(1001)).await;
    permit.success();
    assert_eq!(b.snapshot().slow_calls, 1);
}

#[tokio::test(start_paused = true)]
async fn failures_that_do_not_count_are_neither_success_nor_failure() {
    let b = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(2),
        failure_rate: Some(0.1),
        minimum_calls: 1,
        window: Window::Count { calls: 5 },
        ..quiet()
    })
    .unwrap();
    for _ in 0..20 {
        b.try_acquire().unwrap().failure(&BAD_REQUEST);
    }
    let s = b.snapshot();
    assert_eq!((s.state, s.calls, s.failures), (State::Closed, 0, 0));
    // Nor do they break a run of failures.
    let b = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(2),
        ..quiet()
    })
    .unwrap();
    fail(&b);
    b.try_acquire().unwrap().failure(&BAD_REQUEST);
    fail(&b);
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_custom_classifier_decides_what_counts() {
    #[derive(Debug)]
    struct Flaky;
    impl Failure for Flaky {
        fn is_retryable(&self) -> bool {
            true
        }
    }
    let b = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(1),
        ..quiet()
    })
    .unwrap()
    .with_classifier(|f: &dyn Failure| f.kind().is_some_and(|k| k == ErrorKind::Timeout));
    b.try_acquire().unwrap().failure(&Flaky); // counts by default, not here
    b.try_acquire().unwrap().failure(&SERVER);
    assert_eq!(b.state(), State::Closed);
    b.try_acquire().unwrap().failure(&ErrorKind::Timeout);
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn open_rejects_with_the_time_left_then_half_opens_lazily() {
    let (b, seen) = observed(Config {
        consecutive_failures: Some(1),
        ..quiet()
    });
    fail(&b);
    advance(secs(4)).await;
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!(
        (rejected.state(), rejected.retry_in()),
        (State::Open, secs(6))
    );
    assert_eq!(rejected.to_string(), "circuit open: retry in 6s");
    assert_eq!(b.snapshot().open_remaining, Some(secs(6)));
    advance(secs(6)).await;
    assert_eq!(b.state(), State::Open, "moves only when asked");
    assert_eq!(b.snapshot().open_remaining, Some(Duration::ZERO));
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(last_reason(&seen), Reason::OpenElapsed);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_n_probes_and_closes_after_m_successes() {
    let (b, seen) = observed(Config {
        consecutive_failures: Some(1),
        half_open_probes: 3,
        half_open_successes: 2,
        ..quiet()
    });
    fail(&b);
    advance(secs(10)).await;
    let probes: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
    let busy = b.try_acquire().unwrap_err();
    assert_eq!(
        (busy.state(), busy.retry_in()),
        (State::HalfOpen, Duration::ZERO)
    );
    let mut probes = probes.into_iter();
    probes.next().unwrap().success();
    assert_eq!(b.state(), State::HalfOpen);
    assert!(b.try_acquire().is_err(), "a finished probe keeps its slot");
    assert_eq!(
        (b.snapshot().probes_in_use, b.snapshot().probe_successes),
        (3, 1)
    );
    probes.next().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(last_reason(&seen), Reason::ProbesSucceeded { successes: 2 });
    // The third probe ends after the breaker closed: it no longer counts.
    probes.next().unwrap().failure(&SERVER);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.snapshot().calls, 0, "closing starts an empty window");
}

#[tokio::test(start_paused = true)]
async fn a_probe_held_past_the_half_open_maximum_wait_reopens_the_breaker() {
    let (b, seen) = observed(Config {
        consecutive_failures: Some(1),
        half_open_max_wait: Some(secs(60)),
        ..quiet()
    });
    fail(&b);
    advance(secs(10)).await;
    let hung = b.try_acquire().expect("the first probe");
    advance(secs(59)).await;
    let busy = b.try_acquire().unwrap_err();
    assert_eq!(busy.state(), State::HalfOpen, "still waiting for the probe");
    advance(secs(1)).await;
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!(
        (rejected.state(), rejected.retry_in()),
        (State::Open, secs(10)),
        "back to open for the open duration"
    );
    assert_eq!(b.state(), State::Open);
    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!(
        (last.from, last.to, last.reason, last.open_for),
        (
            State::HalfOpen,
            State::Open,
            Reason::HalfOpenTimedOut,
            Some(secs(10))
        )
    );
    advance(secs(10)).await;
    let fresh = b
        .try_acquire()
        .expect("a new half-open period admits a new probe");
    assert!(fresh.is_probe());
    hung.success();
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "the outlived probe no longer counts"
    );
    fresh.success();
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn without_a_half_open_maximum_wait_a_held_probe_keeps_the_breaker_half_open() {
    let b = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(1),
        half_open_max_wait: None,
        ..quiet()
    })
    .unwrap();
    fail(&b);
    advance(secs(10)).await;
    let _hung = b.try_acquire().expect("the probe");
    advance(secs(24 * 3600)).await;
    assert_eq!(b.try_acquire().unwrap_err().state(), State::HalfOpen);
}

#[test]
fn the_half_open_maximum_wait_is_on_by_default_and_may_be_turned_off() {
    assert_eq!(Config::default().half_open_max_wait, Some(secs(60)));
    let off: Config = serde_json::from_str(r#"{"half_open_max_wait": null}"#).unwrap();
    assert_eq!(off.half_open_max_wait, None);
    let short: Config = serde_json::from_str(r#"{"half_open_max_wait": "5s"}"#).unwrap();
    assert_eq!(short.half_open_max_wait, Some(secs(5)));
    let zero = Config {
        half_open_max_wait: Some(Duration::ZERO),
        ..Config::default()
    };
    assert_eq!(
        zero.validate(),
        Err(ConfigError::ZeroDuration {
            field: "half_open_max_wait"
        })
    );
    assert!(zero.clamped().validate().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_for_longer_up_to_the_cap() {
    let (b, seen) = observed(Config {
        consecutive_failures: Some(1),
        open_duration: secs(10),
        open_backoff: Some(OpenBackoff {
            multiplier: 2.0,
            max: secs(25),
        }),
        ..quiet()
    });
    fail(&b);
    let mut open_for = vec![seen.lock().unwrap().last().unwrap().open_for.unwrap()];
    for _ in 0..3 {
        advance(*open_for.last().unwrap()).await;
        fail(&b); // the probe
        let t = *seen.lock().unwrap().last().unwrap();
        assert_eq!(
            (t.from, t.to, t.reason),
            (State::HalfOpen, State::Open, Reason::ProbeFailed)
        );
        assert_eq!(b.try_acquire().unwrap_err().retry_in(), t.open_for.unwrap());
        open_for.push(t.open_for.unwrap());
    }
    assert_eq!(open_for, [secs(10), secs(20), secs(25), secs(25)]);
    // Recovery starts the backoff over.
    advance(secs(25)).await;
    ok(&b);
    assert_eq!(b.state(), State::Closed);
    fail(&b);
    assert_eq!(b.try_acquire().unwrap_err().retry_in(), secs(10));
    assert_eq!(b.snapshot().trips, 5);
}

#[tokio::test(start_paused = true)]
async fn a_slow_probe_reopens() {
    let (b, seen) = observed(Config {
        consecutive_failures: Some(1),
        slow_call: Some(SlowCall {
            threshold: secs(1),
            rate: 1.0,
        }),
        ..quiet()
    });
    fail(&b);
    advance(secs(10)).await;
    b.try_acquire().unwrap().success_with_latency(secs(3));
    assert_eq!(b.state(), State::Open);
    assert_eq!(last_reason(&seen), Reason::ProbeSlow);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_or_non_counting_probe_frees_its_slot() {
    let b = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(1),
        ..quiet()
    })
    .unwrap();
    fail(&b);
    advance(secs(10)).await;
    for _ in 0..5 {
        let probe = b.try_acquire().expect("the slot is free again");
        assert!(b.try_acquire().is_err(), "one probe at a time");
        drop(probe);
    }
    b.try_acquire().unwrap().failure(&BAD_REQUEST);
    b.try_acquire().unwrap().cancel();
    assert_eq!(b.state(), State::HalfOpen);
    ok(&b);
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_call_future_dropped_mid_flight_is_a_cancellation() {
    let b = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(1),
        ..quiet()
    })
    .unwrap();
    fail(&b);
    advance(secs(10)).await;
    let hung = b.call(std::future::pending::<Result<(), ErrorKind>>);
    let timed_out = tokio::time::timeout(secs(1), hung).await;
    assert!(timed_out.is_err());
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(
        b.snapshot().probes_in_use,
        0,
        "the dropped probe gave its slot back"
    );
    let answer = b.call(|| async { Ok::<_, ErrorKind>(7) }).await;
    assert_eq!(answer.unwrap(), 7);
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn call_reports_rejection_and_failures() {
    let b = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(1),
        ..quiet()
    })
    .unwrap();
    let failed = b.call(|| async { Err::<(), _>(SERVER) }).await;
    assert!(matches!(failed, Err(CallError::Failed(SERVER))));
    let mut ran = false;
    let refused = b
        .call(|| {
            ran = true;
            async { Ok::<(), ErrorKind>(()) }
        })
        .await
        .unwrap_err();
    assert!(!ran, "a rejected call is not run");
    assert_eq!(refused.rejected().unwrap().retry_in(), secs(10));
    assert!(!refused.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn a_call_admitted_before_a_trip_cannot_close_the_breaker() {
    let b = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(1),
        ..quiet()
    })
    .unwrap();
    let early = b.try_acquire().unwrap();
    fail(&b);
    advance(secs(10)).await;
    let probe = b.try_acquire().unwrap();
    early.success();
    assert_eq!(b.state(), State::HalfOpen);
    probe.failure(&SERVER);
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn transitions_report_from_to_and_reason() {
    let (b, seen) = observed(Config {
        consecutive_failures: Some(2),
        ..quiet()
    });
    fail(&b);
    fail(&b);
    advance(secs(10)).await;
    ok(&b);
    b.reset();
    let got: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|t| (t.from, t.to, t.reason, t.open_for))
        .collect();
    assert_eq!(
        got,
        [
            (
                State::Closed,
                State::Open,
                Reason::ConsecutiveFailures { count: 2 },
                Some(secs(10))
            ),
            (State::Open, State::HalfOpen, Reason::OpenElapsed, None),
            (
                State::HalfOpen,
                State::Closed,
                Reason::ProbesSucceeded { successes: 1 },
                None
            ),
            (State::Closed, State::Closed, Reason::Reset, None),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn several_observers_all_see_every_transition_and_may_call_back() {
    let count = Arc::new(Mutex::new((0, 0)));
    let (a, c) = (count.clone(), count.clone());
    let b = CircuitBreaker::try_new(Config {
        consecutive_failures: Some(1),
        ..quiet()
    })
    .unwrap();
    let inside = b.clone();
    let b = b
        .on_transition(move |_| a.lock().unwrap().0 += 1)
        .on_transition(move |t| {
            // Calling back into the breaker from a callback does not deadlock.
            assert_eq!(inside.snapshot().state, t.to);
            c.lock().unwrap().1 += 1;
        });
    fail(&b);
    b.reset();
    assert_eq!(*count.lock().unwrap(), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn reset_closes_clears_and_orphans_earlier_permits() {
    let (b, seen) = observed(Config {
        consecutive_failures: Some(1),
        failure_rate: Some(0.9),
        minimum_calls: 5,
        ..quiet()
    });
    ok(&b);
    let early = b.try_acquire().unwrap();
    fail(&b);
    assert_eq!(b.state(), State::Open);
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(last_reason(&seen), Reason::Reset);
    let s = b.snapshot();
    assert_eq!((s.calls, s.consecutive_failures, s.trips), (0, 0, 1));
    early.failure(&SERVER);
    assert_eq!(
        b.state(),
        State::Closed,
        "admitted before the reset: ignored"
    );
}

#[test]
fn try_new_refuses_and_new_repairs() {
    let bad = Config {
        half_open_probes: 0,
        ..Config::default()
    };
    assert_eq!(
        CircuitBreaker::try_new(bad.clone()).unwrap_err(),
        ConfigError::Zero {
            field: "half_open_probes"
        }
    );
    assert_eq!(CircuitBreaker::new(bad).config().half_open_probes, 1);
}

#[test]
fn snapshot_serializes() {
    let b = CircuitBreaker::new(Config::default());
    b.try_acquire().unwrap().failure(&SERVER);
    let json = serde_json::to_value(b.snapshot()).unwrap();
    assert_eq!(json["state"], "closed");
    assert_eq!(json["failures"], 1);
    assert_eq!(json["failure_rate"], 1.0);
    assert_eq!(json["open_remaining"], serde_json::Value::Null);
}

#[test]
fn breaker_and_permit_are_send_sync_clone_and_debug() {
    fn check<T: Send + Sync + 'static + std::fmt::Debug>() {}
    check::<CircuitBreaker>();
    check::<steadfast_circuit::Permit>();
    check::<steadfast_circuit::Rejected>();
    let b = CircuitBreaker::new(Config::default());
    assert!(format!("{b:?}").starts_with("CircuitBreaker { state: Closed"));
}

#[tokio::test(start_paused = true)]
async fn force_open_refuses_for_the_duration_then_probes_without_backoff() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let breaker = CircuitBreaker::new(Config {
        open_backoff: Some(OpenBackoff {
            multiplier: 2.0,
            max: secs(100),
        }),
        ..quiet()
    })
    .on_transition(move |t: &Transition| log.lock().unwrap().push((t.to, t.reason, t.open_for)));
    breaker.force_open(secs(3));
    assert_eq!(breaker.state(), State::Open);
    assert!(breaker.try_acquire().is_err());
    advance(secs(3)).await;
    // Half-open after the forced duration, not the configured 10 s.
    let probe = breaker.try_acquire().expect("probe");
    probe.failure(&SERVER);
    // A real trip after a forced one opens for the base duration: forcing is no backoff step.
    assert_eq!(breaker.snapshot().open_remaining, Some(secs(10)));
    assert_eq!(
        seen.lock().unwrap()[0],
        (State::Open, Reason::Forced, Some(secs(3)))
    );
}
