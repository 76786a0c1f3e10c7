//! `CircuitBreaker`: admission (lock-free while closed), outcome recording and the state machine.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_errors::Failure;
use steadfast_errors::observe::{Event, Observer};
use tokio::time::Instant;

use crate::config::Config;
use crate::error::{CallError, ConfigError, Rejected};
use crate::permit::Permit;
use crate::state::{Reason, State, Transition};
use crate::window::{Outcome, SlidingWindow};

type Classifier = Arc<dyn Fn(&dyn Failure) -> bool + Send + Sync>;
type Callback = Arc<dyn Fn(&Transition) + Send + Sync>;

/// A circuit breaker shared by every clone of it.
///
/// Cloning is cheap (an [`Arc`]); every clone sees the same state, classifier and observers.
/// See the [crate docs](crate) for the state machine and the reasons behind the design.
///
/// ```
/// use steadfast_circuit::{CircuitBreaker, Config, State};
///
/// let breaker = CircuitBreaker::new(Config { consecutive_failures: Some(2), ..Config::default() });
/// for _ in 0..2 {
///     let permit = breaker.try_acquire().expect("closed");
///     permit.failure(&std::io::Error::from(std::io::ErrorKind::ConnectionReset));
/// }
/// assert_eq!(breaker.state(), State::Open);
/// assert!(breaker.try_acquire().is_err());
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

struct Shared {
    /// `(generation << 2) | state`, the copy of `Inner::{generation, state}` that admission
    /// reads without a lock. Written only while `inner` is locked.
    state: AtomicU64,
    /// `Inner::open_until`, stored before `state` so a reader that sees `Open` sees its end.
    open_until: AtomicU64,
    /// Time zero for the window and `open_until` (nanoseconds since this instant).
    origin: Instant,
    config: Config,
    inner: Mutex<Inner>,
    classifier: RwLock<Classifier>,
    observers: RwLock<Vec<Callback>>,
}

/// Everything that changes, behind the lock.
#[derive(Debug)]
struct Inner {
    state: State,
    /// Bumped on every transition; a permit only reports to the generation that admitted it.
    generation: u64,
    window: SlidingWindow,
    consecutive_failures: u32,
    trips: u64,
    /// Trips since the breaker last closed; drives the open-duration backoff.
    trips_in_a_row: u32,
    open_until: u64,
    /// When this half-open period began (nanoseconds since `origin`).
    half_open_since: u64,
    /// Probe slots taken in this half-open period.
    probes: u32,
    probe_successes: u32,
}

/// How a permit ended, as far as the breaker is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Success {
        slow: bool,
    },
    Failure,
    /// Cancelled, or a failure that does not count against health.
    Neutral,
}

impl CircuitBreaker {
    /// A closed breaker. An invalid config is repaired as [`Config::clamped`] describes rather
    /// than refused, so this never panics; use [`try_new`](Self::try_new) to be told instead.
    ///
    /// ```
    /// use steadfast_circuit::{CircuitBreaker, Config, State};
    ///
    /// let breaker = CircuitBreaker::new(Config::default());
    /// assert_eq!(breaker.state(), State::Closed);
    /// assert!(breaker.try_acquire().is_ok());
    /// ```
    pub fn new(config: Config) -> Self {
        Self::build(config.clamped())
    }

    /// A closed breaker, or the first problem with the config.
    ///
    /// ```
    /// use steadfast_circuit::{CircuitBreaker, Config, ConfigError};
    ///
    /// let err = CircuitBreaker::try_new(Config { failure_rate: Some(50.0), ..Config::default() }).unwrap_err();
    /// assert_eq!(err.to_string(), "`failure_rate` must be between 0 and 1, got 50");
    /// ```
    pub fn try_new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::build(config))
    }

    fn build(config: Config) -> Self {
        let inner = Inner {
            state: State::Closed,
            generation: 0,
            window: SlidingWindow::new(config.window),
            consecutive_failures: 0,
            trips: 0,
            trips_in_a_row: 0,
            open_until: 0,
            half_open_since: 0,
            probes: 0,
            probe_successes: 0,
        };
        let classifier: Classifier = Arc::new(|f: &dyn Failure| f.counts_against_health());
        Self {
            shared: Arc::new(Shared {
                state: AtomicU64::new(State::Closed.to_bits()),
                open_until: AtomicU64::new(0),
                origin: Instant::now(),
                config,
                inner: Mutex::new(inner),
                classifier: RwLock::new(classifier),
                observers: RwLock::new(Vec::new()),
            }),
        }
    }

    /// Replaces the rule that decides whether a failure counts against health (by default
    /// [`Failure::counts_against_health`]). A failure that does not count is recorded as
    /// neither success nor failure. Applies to every clone of this breaker.
    ///
    /// ```
    /// use steadfast_circuit::{CircuitBreaker, Config, State};
    /// use steadfast_errors::{ErrorKind, Failure};
    ///
    /// // Rate limits are the caller's problem here, not the target's.
    /// let breaker = CircuitBreaker::new(Config { consecutive_failures: Some(1), ..Config::default() })
    ///     .with_classifier(|f: &dyn Failure| f.counts_against_health() && f.kind() != Some(ErrorKind::RateLimited));
    /// breaker.try_acquire().unwrap().failure(&ErrorKind::RateLimited);
    /// assert_eq!(breaker.state(), State::Closed);
    /// breaker.try_acquire().unwrap().failure(&ErrorKind::Server);
    /// assert_eq!(breaker.state(), State::Open);
    /// ```
    #[must_use]
    pub fn with_classifier<F>(self, counts_against_health: F) -> Self
    where
        F: Fn(&dyn Failure) -> bool + Send + Sync + 'static,
    {
        *write(&self.shared.classifier) = Arc::new(counts_against_health);
        self
    }

    /// Adds a callback run on every state change (several may be added; all run, in the order
    /// added). Applies to every clone of this breaker.
    ///
    /// Callbacks run on the task that caused the change, after the breaker's lock is released,
    /// so they may call any method of the breaker; keep them short. Two changes racing on
    /// different threads may report concurrently.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use steadfast_circuit::{CircuitBreaker, Config, Reason, State};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// let breaker = CircuitBreaker::new(Config { consecutive_failures: Some(1), ..Config::default() })
    ///     .on_transition(move |t| log.lock().unwrap().push((t.from, t.to, t.reason)));
    /// breaker.try_acquire().unwrap().failure(&std::io::Error::other("down"));
    /// breaker.reset();
    /// assert_eq!(*seen.lock().unwrap(), [
    ///     (State::Closed, State::Open, Reason::ConsecutiveFailures { count: 1 }),
    ///     (State::Open, State::Closed, Reason::Reset),
    /// ]);
    /// ```
    #[must_use]
    pub fn on_transition<F>(self, callback: F) -> Self
    where
        F: Fn(&Transition) + Send + Sync + 'static,
    {
        write(&self.shared.observers).push(Arc::new(callback));
        self
    }

    /// Reports every change of state to `observer` as an
    /// [`Event::BreakerTransition`](steadfast_errors::observe::Event::BreakerTransition)
    /// named `name` (a fallback chain names each breaker after its provider). Built on
    /// [`on_transition`](Self::on_transition); the same rules apply.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use steadfast_circuit::{CircuitBreaker, Config};
    /// use steadfast_errors::observe::{BreakerState, Event, Observer};
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<(String, BreakerState)>>);
    /// impl Observer for Seen {
    ///     fn on_event(&self, event: &Event<'_>) {
    ///         if let Event::BreakerTransition { breaker, to, .. } = event {
    ///             self.0.lock().unwrap().push((breaker.to_string(), *to));
    ///         }
    ///     }
    /// }
    /// let seen = Arc::new(Seen::default());
    /// let breaker = CircuitBreaker::new(Config { consecutive_failures: Some(1), ..Config::default() })
    ///     .observe("primary", seen.clone());
    /// breaker.try_acquire().unwrap().failure(&std::io::Error::other("down"));
    /// assert_eq!(*seen.0.lock().unwrap(), [("primary".to_owned(), BreakerState::Open)]);
    /// ```
    #[must_use]
    pub fn observe(self, name: &str, observer: Arc<dyn Observer>) -> Self {
        let name: Arc<str> = Arc::from(name);
        self.on_transition(move |t| {
            observer.on_event(&Event::BreakerTransition {
                breaker: &name,
                from: t.from.into(),
                to: t.to.into(),
            });
        })
    }

    /// Asks to make one call. The [`Permit`] reports how the call went (or, dropped, that it
    /// was cancelled); [`Rejected`] says the call must not be made.
    ///
    /// While closed this reads two atomics and takes no lock; while open and not yet due for
    /// probing it takes none either. Moving from open to half-open and taking a probe slot
    /// lock briefly.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_circuit::{CircuitBreaker, Config};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let breaker = CircuitBreaker::new(Config::default());
    /// match breaker.try_acquire() {
    ///     Ok(permit) => {
    ///         let started = tokio::time::Instant::now();
    ///         // ... send the request, wait for the first token ...
    ///         permit.success_with_latency(started.elapsed());
    ///     }
    ///     Err(rejected) => {
    ///         // Do not call; try elsewhere, or come back after `rejected.retry_in()`.
    ///         let _wait = rejected.retry_in();
    ///     }
    /// }
    /// # }
    /// ```
    pub fn try_acquire(&self) -> Result<Permit, Rejected> {
        let shared = &*self.shared;
        let bits = shared.state.load(Ordering::Acquire);
        match State::from_bits(bits) {
            State::Closed => return Ok(self.permit(bits >> 2, false)),
            State::Open => {
                let until = shared.open_until.load(Ordering::Relaxed);
                let now = shared.nanos(Instant::now());
                if now < until {
                    return Err(Rejected::open(Duration::from_nanos(until - now)));
                }
            }
            State::HalfOpen => {}
        }
        self.acquire_locked()
    }

    /// The slow path of [`try_acquire`](Self::try_acquire): open and due, or half-open.
    fn acquire_locked(&self) -> Result<Permit, Rejected> {
        let shared = &*self.shared;
        let now = shared.nanos(Instant::now());
        let mut inner = lock(&shared.inner);
        // At most two: half-open past its maximum wait -> open, then (a zero open duration)
        // open -> half-open.
        let mut transitions = [None, None];
        if inner.state == State::HalfOpen && shared.half_open_expired(&inner, now) {
            transitions[0] =
                Some(shared.move_to(&mut inner, State::Open, Reason::HalfOpenTimedOut, now));
        }
        let result = match inner.state {
            State::Closed => Ok(self.permit(inner.generation, false)),
            State::Open if now < inner.open_until => {
                Err(Rejected::open(Duration::from_nanos(inner.open_until - now)))
            }
            _ => {
                if inner.state == State::Open {
                    transitions[1] =
                        Some(shared.move_to(&mut inner, State::HalfOpen, Reason::OpenElapsed, now));
                }
                if inner.probes < shared.config.half_open_probes {
                    inner.probes += 1;
                    Ok(self.permit(inner.generation, true))
                } else {
                    Err(Rejected::probes_busy())
                }
            }
        };
        drop(inner);
        for transition in transitions {
            shared.notify(transition);
        }
        result
    }

    fn permit(&self, generation: u64, probe: bool) -> Permit {
        // The clock is read only when `Permit::success` will need it.
        let started = self.shared.config.slow_call.is_some().then(Instant::now);
        Permit::new(self.clone(), generation, probe, started)
    }

    /// Runs `operation` if the breaker admits it, recording its outcome: `Ok` is a success
    /// (judged slow on the time since admission), `Err` a failure if the classifier says it
    /// counts. Dropping the returned future before it completes records a cancelled call.
    ///
    /// ```
    /// use steadfast_circuit::{CallError, CircuitBreaker, Config};
    /// use steadfast_errors::ErrorKind;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let breaker = CircuitBreaker::new(Config::default());
    /// let answer: Result<u32, CallError<ErrorKind>> = breaker.call(|| async { Ok(42) }).await;
    /// assert_eq!(answer.unwrap(), 42);
    ///
    /// let failed = breaker.call(|| async { Err::<u32, _>(ErrorKind::Overloaded) }).await;
    /// assert!(matches!(failed, Err(CallError::Failed(ErrorKind::Overloaded))));
    /// assert_eq!(breaker.snapshot().failures, 1);
    /// # }
    /// ```
    pub async fn call<T, E, F, Fut>(&self, operation: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Failure,
    {
        let permit = self.try_acquire()?;
        match operation().await {
            Ok(value) => {
                permit.success();
                Ok(value)
            }
            Err(error) => {
                permit.failure(&error);
                Err(CallError::Failed(error))
            }
        }
    }

    /// The current state, read without a lock.
    ///
    /// An open breaker whose open duration has passed still reads [`State::Open`] until the
    /// next [`try_acquire`](Self::try_acquire) moves it to half-open (and reports that
    /// transition); [`Snapshot::open_remaining`] is then zero.
    pub fn state(&self) -> State {
        State::from_bits(self.shared.state.load(Ordering::Acquire))
    }

    /// The config in force (after [`Config::clamped`] when built with [`new`](Self::new)).
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// A consistent picture of the breaker for metrics and health endpoints.
    ///
    /// ```
    /// use steadfast_circuit::{CircuitBreaker, Config, State};
    ///
    /// let breaker = CircuitBreaker::new(Config::default());
    /// breaker.try_acquire().unwrap().success();
    /// breaker.try_acquire().unwrap().failure(&std::io::Error::other("x"));
    /// let s = breaker.snapshot();
    /// assert_eq!((s.state, s.calls, s.failures, s.failure_rate), (State::Closed, 2, 1, 0.5));
    /// assert_eq!(s.consecutive_failures, 1);
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let shared = &*self.shared;
        let now = shared.nanos(Instant::now());
        let mut inner = lock(&shared.inner);
        let counts = inner.window.counts(now);
        Snapshot {
            state: inner.state,
            calls: counts.calls,
            failures: counts.failures,
            slow_calls: counts.slow,
            failure_rate: counts.failure_rate(),
            slow_call_rate: counts.slow_rate(),
            consecutive_failures: inner.consecutive_failures,
            trips: inner.trips,
            open_remaining: (inner.state == State::Open)
                .then(|| Duration::from_nanos(inner.open_until.saturating_sub(now))),
            probes_in_use: inner.probes,
            probe_successes: inner.probe_successes,
        }
    }

    /// Closes the breaker, forgets the window, the failure run and the open-duration backoff,
    /// and reports a transition with [`Reason::Reset`] (even when already closed). Permits
    /// admitted before the reset no longer count.
    pub fn reset(&self) {
        let shared = &*self.shared;
        let now = shared.nanos(Instant::now());
        let mut inner = lock(&shared.inner);
        let transition = shared.move_to(&mut inner, State::Closed, Reason::Reset, now);
        drop(inner);
        shared.notify(Some(transition));
    }

    /// Opens the breaker for `duration` from now, whatever its state, and reports a
    /// transition with [`Reason::Forced`]. For state learned elsewhere — another instance of
    /// the same service saw the target fail — so it does not count towards the
    /// open-duration backoff; permits admitted before it no longer count. When `duration`
    /// passes the breaker goes half-open and probes as after any trip.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_circuit::{CircuitBreaker, Config, State};
    ///
    /// let breaker = CircuitBreaker::new(Config::default());
    /// breaker.force_open(Duration::from_secs(5));
    /// assert_eq!(breaker.state(), State::Open);
    /// assert!(breaker.try_acquire().is_err());
    /// ```
    pub fn force_open(&self, duration: Duration) {
        let shared = &*self.shared;
        let now = shared.nanos(Instant::now());
        let mut inner = lock(&shared.inner);
        let mut transition = shared.move_to(&mut inner, State::Open, Reason::Forced, now);
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        inner.open_until = now.saturating_add(nanos);
        shared.open_until.store(inner.open_until, Ordering::Relaxed);
        transition.open_for = Some(duration);
        drop(inner);
        shared.notify(Some(transition));
    }

    /// Records how a permit's call ended. Called once per permit, by the permit.
    pub(crate) fn complete(&self, generation: u64, probe: bool, verdict: Verdict) {
        if verdict == Verdict::Neutral && !probe {
            // Nothing to record and no slot to give back: no lock.
            return;
        }
        let shared = &*self.shared;
        let now = shared.nanos(Instant::now());
        let mut inner = lock(&shared.inner);
        if inner.generation != generation {
            // Admitted by a state that has since ended; its outcome says nothing about now.
            return;
        }
        let transition = match inner.state {
            State::Closed => shared.record_closed(&mut inner, verdict, now),
            State::HalfOpen => shared.record_probe(&mut inner, verdict, now),
            State::Open => None,
        };
        drop(inner);
        shared.notify(transition);
    }

    /// Runs the configured classifier on a failure.
    pub(crate) fn counts(&self, failure: &dyn Failure) -> bool {
        let classifier = read(&self.shared.classifier).clone();
        classifier(failure)
    }

    /// Whether a success with this latency is slow.
    pub(crate) fn is_slow(&self, latency: Duration) -> bool {
        self.shared
            .config
            .slow_call
            .is_some_and(|slow| latency > slow.threshold)
    }
}

impl Shared {
    fn nanos(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(since).unwrap_or(u64::MAX)
    }

    /// Whether the half-open period has outlived [`Config::half_open_max_wait`].
    fn half_open_expired(&self, inner: &Inner, now: u64) -> bool {
        self.config.half_open_max_wait.is_some_and(|wait| {
            let wait = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
            now >= inner.half_open_since.saturating_add(wait)
        })
    }

    fn record_closed(&self, inner: &mut Inner, verdict: Verdict, now: u64) -> Option<Transition> {
        let outcome = match verdict {
            Verdict::Success { slow } => {
                inner.consecutive_failures = 0;
                Outcome::Success { slow }
            }
            Verdict::Failure => {
                inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
                Outcome::Failure
            }
            Verdict::Neutral => return None,
        };
        inner.window.record(now, outcome);
        let reason = self.judge(inner, now)?;
        Some(self.move_to(inner, State::Open, reason, now))
    }

    /// Whether the closed breaker must trip now, and why.
    fn judge(&self, inner: &mut Inner, now: u64) -> Option<Reason> {
        let config = &self.config;
        if config
            .consecutive_failures
            .is_some_and(|n| inner.consecutive_failures >= n)
        {
            return Some(Reason::ConsecutiveFailures {
                count: inner.consecutive_failures,
            });
        }
        let counts = inner.window.counts(now);
        if counts.calls == 0 || counts.calls < config.minimum_calls {
            return None;
        }
        let calls = counts.calls;
        let rate = counts.failure_rate();
        if config.failure_rate.is_some_and(|limit| rate >= limit) {
            return Some(Reason::FailureRate { rate, calls });
        }
        let rate = counts.slow_rate();
        if config.slow_call.is_some_and(|slow| rate >= slow.rate) {
            return Some(Reason::SlowCallRate { rate, calls });
        }
        None
    }

    fn record_probe(&self, inner: &mut Inner, verdict: Verdict, now: u64) -> Option<Transition> {
        match verdict {
            Verdict::Neutral => {
                inner.probes = inner.probes.saturating_sub(1);
                None
            }
            Verdict::Failure => Some(self.move_to(inner, State::Open, Reason::ProbeFailed, now)),
            Verdict::Success { slow: true } => {
                Some(self.move_to(inner, State::Open, Reason::ProbeSlow, now))
            }
            Verdict::Success { slow: false } => {
                inner.probe_successes += 1;
                let successes = inner.probe_successes;
                (successes >= self.config.half_open_successes).then(|| {
                    self.move_to(
                        inner,
                        State::Closed,
                        Reason::ProbesSucceeded { successes },
                        now,
                    )
                })
            }
        }
    }

    /// Moves to `to`, starting a new generation, and publishes the new state to the atomics.
    fn move_to(&self, inner: &mut Inner, to: State, reason: Reason, now: u64) -> Transition {
        let from = inner.state;
        let mut open_for = None;
        // Probe bookkeeping belongs to one half-open period.
        inner.probes = 0;
        inner.probe_successes = 0;
        match to {
            State::Open => {
                inner.trips += 1;
                if reason != Reason::Forced {
                    inner.trips_in_a_row = inner.trips_in_a_row.saturating_add(1);
                }
                let duration = self.config.open_duration_for(inner.trips_in_a_row);
                let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
                inner.open_until = now.saturating_add(nanos);
                self.open_until.store(inner.open_until, Ordering::Relaxed);
                open_for = Some(duration);
            }
            State::HalfOpen => inner.half_open_since = now,
            State::Closed => {
                inner.window.clear();
                inner.consecutive_failures = 0;
                inner.trips_in_a_row = 0;
            }
        }
        inner.state = to;
        inner.generation += 1;
        self.state
            .store((inner.generation << 2) | to.to_bits(), Ordering::Release);
        Transition {
            from,
            to,
            reason,
            open_for,
        }
    }

    fn notify(&self, transition: Option<Transition>) {
        let Some(transition) = transition else {
            return;
        };
        let observers = read(&self.observers).clone();
        for observer in observers {
            observer(&transition);
        }
    }
}

/// No user code runs under these locks, so a poisoned lock still guards consistent data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// What [`CircuitBreaker::snapshot`] reports; serializable for metrics and health endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// The current state.
    pub state: State,
    /// Calls recorded in the window (successes and counting failures; not cancelled calls or
    /// failures that do not count). Emptied when the breaker closes.
    pub calls: u32,
    /// Failures in the window.
    pub failures: u32,
    /// Slow successes in the window.
    pub slow_calls: u32,
    /// `failures / calls`, zero for an empty window.
    pub failure_rate: f64,
    /// `slow_calls / calls`, zero for an empty window.
    pub slow_call_rate: f64,
    /// The current run of failures (reset by a success).
    pub consecutive_failures: u32,
    /// How many times the breaker has opened since it was created (not cleared by `reset`).
    pub trips: u64,
    /// While open: how long until it may admit a probe (zero once due).
    #[serde(default, with = "steadfast_errors::serde_duration::option")]
    pub open_remaining: Option<Duration>,
    /// While half-open: probe slots taken (in flight or finished successfully).
    pub probes_in_use: u32,
    /// While half-open: probes that succeeded.
    pub probe_successes: u32,
}
