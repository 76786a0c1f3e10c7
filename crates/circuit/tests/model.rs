//! Model-based test: random operations on the breaker and on an obviously-correct model agree.
//!
//! The model keeps every closed-state outcome in a plain list with its time and recomputes the
//! window from scratch on each question; it counts time in whole milliseconds on the same
//! paused clock the breaker reads. After every operation the state, every admission decision
//! (with its `retry_in`), the snapshot numbers and the transitions reported must agree.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use steadfast_circuit::{
    CircuitBreaker, Config, OpenBackoff, Permit, Reason, Rejected, SlowCall, State, Window,
};
use steadfast_errors::ErrorKind;

#[derive(Debug, Clone, Copy)]
enum ModelWindow {
    Count(u32),
    Time { width_ms: u64, buckets: u32 },
}

#[derive(Debug, Clone)]
struct Params {
    consecutive: Option<u32>,
    rate: Option<f64>,
    window: ModelWindow,
    minimum: u32,
    slow: Option<(u64, f64)>,
    open_ms: u64,
    backoff: Option<(u32, u64)>,
    probes: u32,
    successes: u32,
    max_wait_ms: Option<u64>,
}

impl Params {
    fn config(&self) -> Config {
        Config {
            consecutive_failures: self.consecutive,
            failure_rate: self.rate,
            window: match self.window {
                ModelWindow::Count(calls) => Window::Count { calls },
                ModelWindow::Time { width_ms, buckets } => Window::Time {
                    duration: Duration::from_millis(width_ms * u64::from(buckets)),
                    buckets,
                },
            },
            minimum_calls: self.minimum,
            slow_call: self.slow.map(|(ms, rate)| SlowCall {
                threshold: Duration::from_millis(ms),
                rate,
            }),
            open_duration: Duration::from_millis(self.open_ms),
            open_backoff: self.backoff.map(|(multiplier, max_ms)| OpenBackoff {
                multiplier: f64::from(multiplier),
                max: Duration::from_millis(max_ms),
            }),
            half_open_probes: self.probes,
            half_open_successes: self.successes,
            half_open_max_wait: self.max_wait_ms.map(Duration::from_millis),
        }
    }
}

/// How a call ends.
#[derive(Debug, Clone, Copy)]
enum End {
    /// `success()`: latency is the time since admission.
    Success,
    /// `success_with_latency(ms)`.
    Reported(u64),
    /// A failure that counts (`ErrorKind::Server`).
    Failure,
    /// A failure that does not count (`ErrorKind::InvalidRequest`).
    NotCounting,
    /// Dropped without an outcome.
    Cancel,
}

#[derive(Debug, Clone)]
enum Op {
    /// Acquire, let `wait` ms pass, end the call.
    Call { wait: u64, end: End },
    /// Let time pass.
    Advance(u64),
    /// Acquire several permits, let `wait` ms pass, end them (in reverse order if `reverse`).
    Hold {
        ends: Vec<End>,
        wait: u64,
        reverse: bool,
    },
    /// `reset()`.
    Reset,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum MState {
    Closed,
    Open { until: u64 },
    HalfOpen { taken: u32, ok: u32 },
}

#[derive(Debug, Clone, Copy)]
struct MPermit {
    generation: u64,
    probe: bool,
    at: u64,
}

/// (from, to, reason, open_for)
type Seen = (State, State, Reason, Option<Duration>);

struct Model {
    p: Params,
    now: u64,
    state: MState,
    generation: u64,
    /// (time, failed, slow) for every closed-state call since the breaker last closed.
    log: Vec<(u64, bool, bool)>,
    consecutive: u32,
    trips: u64,
    in_a_row: u32,
    /// When the current half-open period began.
    half_open_since: u64,
    transitions: Vec<Seen>,
}

impl Model {
    fn new(p: Params) -> Self {
        Self {
            p,
            now: 0,
            state: MState::Closed,
            generation: 0,
            log: Vec::new(),
            consecutive: 0,
            trips: 0,
            in_a_row: 0,
            half_open_since: 0,
            transitions: Vec::new(),
        }
    }

    fn public_state(&self) -> State {
        match self.state {
            MState::Closed => State::Closed,
            MState::Open { .. } => State::Open,
            MState::HalfOpen { .. } => State::HalfOpen,
        }
    }

    /// (calls, failures, slow) in the window now.
    fn window(&self) -> (u32, u32, u32) {
        let inside: Vec<&(u64, bool, bool)> = match self.p.window {
            ModelWindow::Count(n) => self.log.iter().rev().take(n as usize).collect(),
            ModelWindow::Time { width_ms, buckets } => self
                .log
                .iter()
                .filter(|(t, _, _)| t / width_ms + u64::from(buckets) > self.now / width_ms)
                .collect(),
        };
        let calls = inside.len() as u32;
        let failures = inside.iter().filter(|e| e.1).count() as u32;
        let slow = inside.iter().filter(|e| e.2).count() as u32;
        (calls, failures, slow)
    }

    fn go(&mut self, to: MState, reason: Reason) {
        let from = self.public_state();
        let mut open_for = None;
        let to = match to {
            MState::Open { .. } => {
                self.trips += 1;
                self.in_a_row += 1;
                let mut ms = self.p.open_ms;
                if let Some((mult, max)) = self.p.backoff {
                    let growth = u64::from(mult).checked_pow(self.in_a_row - 1);
                    ms = growth
                        .and_then(|g| ms.checked_mul(g))
                        .map_or(max, |v| v.min(max));
                }
                open_for = Some(Duration::from_millis(ms));
                MState::Open {
                    until: self.now + ms,
                }
            }
            MState::Closed => {
                self.log.clear();
                self.consecutive = 0;
                self.in_a_row = 0;
                MState::Closed
            }
            half_open => {
                self.half_open_since = self.now;
                half_open
            }
        };
        self.state = to;
        self.generation += 1;
        self.transitions
            .push((from, self.public_state(), reason, open_for));
    }

    /// `Ok(permit)` or `Err((state, retry_in))`.
    fn acquire(&mut self) -> Result<MPermit, (State, Duration)> {
        if let (MState::HalfOpen { .. }, Some(wait)) = (self.state, self.p.max_wait_ms)
            && self.now >= self.half_open_since + wait
        {
            self.go(MState::Open { until: 0 }, Reason::HalfOpenTimedOut);
        }
        if let MState::Open { until } = self.state {
            if self.now < until {
                return Err((State::Open, Duration::from_millis(until - self.now)));
            }
            self.go(MState::HalfOpen { taken: 0, ok: 0 }, Reason::OpenElapsed);
        }
        let generation = self.generation;
        let at = self.now;
        match &mut self.state {
            MState::Closed => Ok(MPermit {
                generation,
                probe: false,
                at,
            }),
            MState::HalfOpen { taken, .. } if *taken < self.p.probes => {
                *taken += 1;
                Ok(MPermit {
                    generation,
                    probe: true,
                    at,
                })
            }
            _ => Err((State::HalfOpen, Duration::ZERO)),
        }
    }

    fn end(&mut self, permit: MPermit, end: End) {
        if permit.generation != self.generation {
            return;
        }
        let latency = match end {
            End::Success => Some(self.now - permit.at),
            End::Reported(ms) => Some(ms),
            _ => None,
        };
        let slow = match (latency, self.p.slow) {
            (Some(latency), Some((threshold, _))) => latency > threshold,
            _ => false,
        };
        let failed = matches!(end, End::Failure);
        let neutral = matches!(end, End::NotCounting | End::Cancel);
        match self.state {
            MState::Closed => {
                if neutral {
                    return;
                }
                self.consecutive = if failed { self.consecutive + 1 } else { 0 };
                self.log.push((self.now, failed, slow));
                if let Some(reason) = self.judge() {
                    self.go(MState::Open { until: 0 }, reason);
                }
            }
            MState::HalfOpen { taken, ok } => {
                assert!(permit.probe);
                if neutral {
                    self.state = MState::HalfOpen {
                        taken: taken - 1,
                        ok,
                    };
                } else if failed {
                    self.go(MState::Open { until: 0 }, Reason::ProbeFailed);
                } else if slow {
                    self.go(MState::Open { until: 0 }, Reason::ProbeSlow);
                } else if ok + 1 >= self.p.successes {
                    self.go(
                        MState::Closed,
                        Reason::ProbesSucceeded { successes: ok + 1 },
                    );
                } else {
                    self.state = MState::HalfOpen { taken, ok: ok + 1 };
                }
            }
            MState::Open { .. } => unreachable!("an open generation issues no permits"),
        }
    }

    fn judge(&self) -> Option<Reason> {
        if let Some(n) = self.p.consecutive
            && self.consecutive >= n
        {
            return Some(Reason::ConsecutiveFailures {
                count: self.consecutive,
            });
        }
        let (calls, failures, slow) = self.window();
        if calls == 0 || calls < self.p.minimum {
            return None;
        }
        let failure_rate = f64::from(failures) / f64::from(calls);
        if let Some(limit) = self.p.rate
            && failure_rate >= limit
        {
            return Some(Reason::FailureRate {
                rate: failure_rate,
                calls,
            });
        }
        let slow_rate = f64::from(slow) / f64::from(calls);
        if let Some((_, limit)) = self.p.slow
            && slow_rate >= limit
        {
            return Some(Reason::SlowCallRate {
                rate: slow_rate,
                calls,
            });
        }
        None
    }

    fn reset(&mut self) {
        self.go(MState::Closed, Reason::Reset);
    }
}

fn finish(permit: Permit, end: End) {
    match end {
        End::Success => permit.success(),
        End::Reported(ms) => permit.success_with_latency(Duration::from_millis(ms)),
        End::Failure => permit.failure(&ErrorKind::Server),
        End::NotCounting => permit.failure(&ErrorKind::InvalidRequest),
        End::Cancel => drop(permit),
    }
}

fn same_decision(real: &Result<Permit, Rejected>, model: &Result<MPermit, (State, Duration)>) {
    match (real, model) {
        (Ok(r), Ok(m)) => assert_eq!(r.is_probe(), m.probe, "probe or not"),
        (Err(r), Err((state, retry_in))) => {
            assert_eq!(r.state(), *state, "rejecting state");
            assert_eq!(r.retry_in(), *retry_in, "retry_in");
        }
        (real, model) => panic!(
            "admission differs: breaker {:?}, model {model:?}",
            real.as_ref().map(|_| "admitted")
        ),
    }
}

fn check(breaker: &CircuitBreaker, model: &Model, seen: &Mutex<Vec<Seen>>) {
    assert_eq!(breaker.state(), model.public_state(), "state");
    let s = breaker.snapshot();
    let (calls, failures, slow) = model.window();
    assert_eq!(
        (s.calls, s.failures, s.slow_calls),
        (calls, failures, slow),
        "window"
    );
    assert_eq!(s.consecutive_failures, model.consecutive, "consecutive");
    assert_eq!(s.trips, model.trips, "trips");
    let (taken, ok) = match model.state {
        MState::HalfOpen { taken, ok } => (taken, ok),
        _ => (0, 0),
    };
    assert_eq!((s.probes_in_use, s.probe_successes), (taken, ok), "probes");
    let remaining = match model.state {
        MState::Open { until } => Some(Duration::from_millis(until.saturating_sub(model.now))),
        _ => None,
    };
    assert_eq!(s.open_remaining, remaining, "open_remaining");
    assert_eq!(*seen.lock().unwrap(), model.transitions, "transitions");
}

async fn run(params: Params, ops: Vec<Op>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let breaker = CircuitBreaker::try_new(params.config())
        .expect("generated configs are valid")
        .on_transition(move |t| {
            log.lock()
                .unwrap()
                .push((t.from, t.to, t.reason, t.open_for))
        });
    let mut model = Model::new(params);

    let pass = |model: &mut Model, ms: u64| {
        model.now += ms;
        tokio::time::advance(Duration::from_millis(ms))
    };

    for op in ops {
        match op {
            Op::Call { wait, end } => {
                let real = breaker.try_acquire();
                let mine = model.acquire();
                same_decision(&real, &mine);
                pass(&mut model, wait).await;
                if let (Ok(real), Ok(mine)) = (real, mine) {
                    finish(real, end);
                    model.end(mine, end);
                }
            }
            Op::Advance(ms) => pass(&mut model, ms).await,
            Op::Hold {
                ends,
                wait,
                reverse,
            } => {
                let mut held = Vec::new();
                for &end in &ends {
                    let real = breaker.try_acquire();
                    let mine = model.acquire();
                    same_decision(&real, &mine);
                    check(&breaker, &model, &seen);
                    if let (Ok(real), Ok(mine)) = (real, mine) {
                        held.push((real, mine, end));
                    }
                }
                pass(&mut model, wait).await;
                if reverse {
                    held.reverse();
                }
                for (real, mine, end) in held {
                    finish(real, end);
                    model.end(mine, end);
                    check(&breaker, &model, &seen);
                }
            }
            Op::Reset => {
                breaker.reset();
                model.reset();
            }
        }
        check(&breaker, &model, &seen);
    }
}

fn params() -> impl Strategy<Value = Params> {
    let window = prop_oneof![
        (1u32..8).prop_map(ModelWindow::Count),
        (50u64..500, 1u32..5)
            .prop_map(|(width_ms, buckets)| ModelWindow::Time { width_ms, buckets }),
    ];
    let rate = || prop::sample::select(vec![0.25, 0.5, 0.75, 1.0]);
    (
        prop::option::of(1u32..5),
        prop::option::weighted(0.8, rate()),
        window,
        0u32..8,
        prop::option::of((10u64..300, rate())),
        prop_oneof![Just(0u64), 1u64..1000],
        prop::option::of((1u32..4, 1u64..10)),
        1u32..4,
        1u32..4,
        prop::option::of(1u64..2000),
    )
        .prop_map(
            |(
                consecutive,
                rate,
                window,
                minimum,
                slow,
                open_ms,
                backoff,
                probes,
                successes,
                max_wait_ms,
            )| {
                let minimum = match window {
                    ModelWindow::Count(n) => minimum.min(n),
                    ModelWindow::Time { .. } => minimum,
                };
                Params {
                    consecutive,
                    rate,
                    window,
                    minimum,
                    slow,
                    open_ms,
                    backoff: backoff.map(|(mult, times)| (mult, open_ms * times)),
                    probes,
                    successes: successes.min(probes),
                    max_wait_ms,
                }
            },
        )
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        3 => Just(End::Success),
        2 => (0u64..600).prop_map(End::Reported),
        4 => Just(End::Failure),
        1 => Just(End::NotCounting),
        1 => Just(End::Cancel),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => ((prop_oneof![Just(0u64), 0u64..400]), end()).prop_map(|(wait, end)| Op::Call { wait, end }),
        3 => (0u64..1500).prop_map(Op::Advance),
        2 => (prop::collection::vec(end(), 1..5), 0u64..400, any::<bool>())
            .prop_map(|(ends, wait, reverse)| Op::Hold { ends, wait, reverse }),
        1 => Just(Op::Reset),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn breaker_agrees_with_the_model(params in params(), ops in prop::collection::vec(op(), 1..80)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(run(params, ops));
    }
}
