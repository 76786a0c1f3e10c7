//! `RetryConfig` (the data) and `RetryPolicy` (the config plus a budget, hooks, and `run`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_errors::observe::{Event, Observer};
use steadfast_errors::{ErrorKind, Failure, RetryRule};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::budget::{BudgetConfig, RetryBudget};
use crate::outcome::{Admit, Attempt, Decision, DelayReason, Outcome, Stop};

/// What a retry policy does, as plain data (loadable from a config file).
///
/// Durations are milliseconds or strings such as `"1.5s"`.
///
/// ```
/// use steadfast_retry::RetryConfig;
///
/// let config: RetryConfig = serde_json::from_str(r#"{
///     "max_attempts": 4,
///     "backoff": {"initial": "250ms", "multiplier": 2, "max": "8s", "jitter": {"type": "full"}},
///     "max_retry_after": "30s",
///     "deadline": "20s",
///     "per_kind": {"rate_limited": {"max_attempts": 6}}
/// }"#).unwrap();
/// assert_eq!(config.max_attempts, 4);
/// assert!(config.budget.is_some(), "the retry budget is on unless turned off");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts in all, the first included. Default 3; 0 is read as 1.
    pub max_attempts: u32,
    /// The wait between attempts when the error gives no hint.
    pub backoff: Backoff,
    /// The longest retry hint worth waiting for here. Default 60 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub max_retry_after: Duration,
    /// What a hint longer than `max_retry_after` means. Default [`LongHint::FallBack`].
    pub long_hint: LongHint,
    /// The overall time allowed, measured from the start of the run; no wait ever ends past
    /// it. Default none.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub deadline: Option<Duration>,
    /// Overrides for particular kinds (e.g. more patience for `rate_limited`).
    pub per_kind: BTreeMap<ErrorKind, KindPolicy>,
    /// The shared retry budget, `None` to turn it off. Default on.
    pub budget: Option<BudgetConfig>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            backoff: Backoff::default(),
            max_retry_after: Duration::from_secs(60),
            long_hint: LongHint::FallBack,
            deadline: None,
            per_kind: BTreeMap::new(),
            budget: Some(BudgetConfig::default()),
        }
    }
}

/// Overrides that apply when a failure has a particular [`ErrorKind`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KindPolicy {
    /// Whether this kind is retried at all, overriding the error's own answer.
    pub retry: Option<bool>,
    /// Attempts in all for this kind.
    pub max_attempts: Option<u32>,
    /// Backoff for this kind.
    pub backoff: Option<Backoff>,
}

/// What to do with a retry hint longer than `max_retry_after`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LongHint {
    /// Stop retrying at once with [`Stop::HintBeyondCap`]: fall back now (the OpenAI SDK's
    /// rule: a Retry-After over its cap is not retried).
    #[default]
    FallBack,
    /// Ignore the hint and wait the computed backoff instead (the Anthropic SDK's rule).
    UseBackoff,
}

/// What the operation is told about the attempt it is making.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptContext {
    /// 1 for the first attempt (send it as `x-stainless-retry-count: number - 1` if you
    /// mimic the official SDKs).
    pub number: u32,
    /// Time left before the policy's deadline, for the attempt's own timeout.
    pub remaining: Option<Duration>,
}

type Predicate = Arc<dyn Fn(&dyn Failure) -> bool + Send + Sync>;
type Callback = Arc<dyn Fn(&Attempt) + Send + Sync>;

/// A named [`Observer`] of a policy's retries.
#[derive(Clone)]
struct Named {
    name: Arc<str>,
    observer: Arc<dyn Observer>,
}

/// A retry policy: a [`RetryConfig`], a shared [`RetryBudget`], and optional hooks.
///
/// Cheap to clone; clones share the budget. Time comes from tokio, so tests can run it on a
/// paused clock.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use steadfast_errors::ErrorKind;
/// use steadfast_retry::{RetryConfig, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let calls = AtomicU32::new(0);
/// let policy = RetryPolicy::new(RetryConfig::default());
/// let outcome = policy
///     .run(|attempt| {
///         calls.fetch_add(1, Ordering::Relaxed);
///         async move {
///             if attempt.number < 3 { Err(ErrorKind::Overloaded) } else { Ok("answer") }
///         }
///     })
///     .await;
/// assert_eq!(outcome.result, Ok("answer"));
/// assert_eq!(outcome.retries(), 2);
/// assert_eq!(calls.load(Ordering::Relaxed), 3);
/// # }
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    config: Arc<RetryConfig>,
    budget: Option<RetryBudget>,
    predicate: Option<Predicate>,
    observer: Option<Callback>,
    observers: Vec<Named>,
    seed: Option<u64>,
}

impl std::fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("config", &self.config)
            .field("budget", &self.budget)
            .field("predicate", &self.predicate.is_some())
            .field("observer", &self.observer.is_some())
            .field("observers", &self.observers.len())
            .field("seed", &self.seed)
            .finish()
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::new(RetryConfig::default())
    }
}

impl RetryPolicy {
    /// A policy from its config, with a fresh budget if the config has one.
    pub fn new(config: RetryConfig) -> RetryPolicy {
        let budget = config.budget.map(RetryBudget::new);
        RetryPolicy {
            config: Arc::new(config),
            budget,
            predicate: None,
            observer: None,
            observers: Vec::new(),
            seed: None,
        }
    }

    /// A policy that never retries.
    pub fn never() -> RetryPolicy {
        RetryPolicy::new(RetryConfig {
            max_attempts: 1,
            budget: None,
            ..RetryConfig::default()
        })
    }

    /// The policy's config.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// The budget retries draw from, if any.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }

    /// Draws retries from `budget`, shared with whoever else holds it (e.g. every policy
    /// that calls the same provider).
    pub fn with_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Retries without a budget (only the attempt limit and deadline bound them).
    pub fn without_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// Decides retryability with `predicate` instead of the error's own answer and the
    /// per-kind `retry` overrides.
    pub fn retry_if(
        mut self,
        predicate: impl Fn(&dyn Failure) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.predicate = Some(Arc::new(predicate));
        self
    }

    /// Calls `observer` after every attempt, with the decision taken (for metrics and logs).
    pub fn on_attempt(mut self, observer: impl Fn(&Attempt) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Reports every retry the policy decides on to `observer`, as an
    /// [`Event::Retry`] with `operation` set to `name` (a fallback chain names each policy
    /// after its provider). Several observers may be added; [`on_attempt`](Self::on_attempt)
    /// still works beside them.
    pub fn observe(mut self, name: &str, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(Named {
            name: Arc::from(name),
            observer,
        });
        self
    }

    /// This policy with `config` instead of its own: the budget, the hooks, the observers and
    /// the seed are kept (the config's own `budget` is not turned into a new budget).
    pub fn with_config(&self, config: RetryConfig) -> RetryPolicy {
        RetryPolicy {
            config: Arc::new(config),
            ..self.clone()
        }
    }

    /// Makes the jitter of every run deterministic (for tests and reproductions).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Runs `op` until it succeeds or the policy stops, waiting between attempts.
    ///
    /// `op` is called with the attempt's [`AttemptContext`] and returns the attempt's future.
    /// Dropping the returned future cancels everything: the attempt in flight and any wait.
    ///
    /// An error that is a refusal ([`Failure::is_refusal`], as a circuit breaker's rejection
    /// is, whether it is open or its half-open probes are all taken) stops with
    /// [`Stop::Refused`], so [`Outcome::should_fall_back`] sends the caller on.
    pub async fn run<T, E, F, Fut>(&self, op: F) -> Outcome<T, E>
    where
        E: Failure,
        F: FnMut(AttemptContext) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_gated(|_| Admit::Yes, op).await
    }

    /// [`run`](Self::run), asking `gate` after each failure whether the target will take
    /// the next attempt, before any wait is spent.
    ///
    /// The gate is given the wait the policy chose and asked once the error, the attempt
    /// limit and the retry hint allow a retry, before the deadline and the budget are
    /// checked. [`Admit::No`] stops at once with [`Stop::Refused`]; [`Admit::After`]
    /// lengthens the wait (within `max_retry_after` and the deadline). This is where a
    /// caller asks its circuit breaker: a breaker that is open now would refuse the attempt
    /// after the wait, so the wait is not worth taking — fall back now. The gate is not asked
    /// before the first attempt.
    ///
    /// ```
    /// use steadfast_errors::ErrorKind;
    /// use steadfast_retry::{Admit, RetryConfig, RetryPolicy, Stop};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let started = tokio::time::Instant::now();
    /// let outcome = RetryPolicy::new(RetryConfig::default())
    ///     .run_gated(|_wait| Admit::No, |_| async { Err::<(), _>(ErrorKind::Overloaded) })
    ///     .await;
    /// assert_eq!(outcome.stop, Some(Stop::Refused));
    /// assert!(outcome.should_fall_back());
    /// assert_eq!(started.elapsed(), std::time::Duration::ZERO); // no wait was spent
    /// # }
    /// ```
    pub async fn run_gated<T, E, F, Fut, G>(&self, mut gate: G, mut op: F) -> Outcome<T, E>
    where
        E: Failure,
        F: FnMut(AttemptContext) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        G: FnMut(Duration) -> Admit,
    {
        let start = Instant::now();
        let mut rng = match self.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
        let mut attempts = Vec::new();
        let mut previous_delay = Duration::ZERO;
        let mut number = 1u32;
        loop {
            // The first attempt starts at zero by definition: one clock read saved per call.
            let started = if number == 1 {
                Duration::ZERO
            } else {
                start.elapsed()
            };
            // The attempt's result and record live in this block only, so that the wait
            // before the next attempt does not hold their space in this future.
            let delay = {
                let remaining = self.config.deadline.map(|d| d.saturating_sub(started));
                let result = op(AttemptContext { number, remaining }).await;
                let elapsed = start.elapsed().saturating_sub(started);
                let (kind, decision) = match &result {
                    Ok(_) => (None, Decision::Succeeded),
                    Err(e) => (
                        e.kind(),
                        self.decide(
                            e,
                            number,
                            start.elapsed(),
                            previous_delay,
                            &mut rng,
                            &mut gate,
                        ),
                    ),
                };
                let attempt = Attempt {
                    number,
                    started,
                    elapsed,
                    kind,
                    decision,
                };
                if let Some(observer) = &self.observer {
                    observer(&attempt);
                }
                if let Decision::Retry { delay, .. } = decision {
                    for named in &self.observers {
                        named.observer.on_event(&Event::Retry {
                            operation: &named.name,
                            attempt: number,
                            kind,
                            delay,
                        });
                    }
                }
                attempts.push(attempt);
                match decision {
                    Decision::Retry { delay, .. } => delay,
                    Decision::Succeeded => {
                        return Outcome {
                            result,
                            stop: None,
                            attempts,
                        };
                    }
                    Decision::Stop(stop) => {
                        return Outcome {
                            result,
                            stop: Some(stop),
                            attempts,
                        };
                    }
                }
            };
            previous_delay = delay;
            tokio::time::sleep(delay).await;
            number = number.saturating_add(1);
        }
    }

    /// The decision after a failed attempt `number` (1-based), `elapsed` into the run.
    fn decide(
        &self,
        err: &dyn Failure,
        number: u32,
        elapsed: Duration,
        previous_delay: Duration,
        rng: &mut fastrand::Rng,
        gate: &mut dyn FnMut(Duration) -> Admit,
    ) -> Decision {
        let c = &*self.config;
        let kind = err.kind();
        let per_kind = kind.and_then(|k| c.per_kind.get(&k));
        let retryable = match &self.predicate {
            Some(p) => p(err),
            None => per_kind
                .and_then(|k| k.retry)
                .unwrap_or_else(|| err.is_retryable()),
        };
        if !retryable {
            return Decision::Stop(if err.is_refusal() {
                Stop::Refused
            } else {
                Stop::NotRetryable
            });
        }
        let once = kind.is_some_and(|k| k.retry_rule() == RetryRule::Once);
        let max_attempts = per_kind
            .and_then(|k| k.max_attempts)
            .unwrap_or(if once {
                c.max_attempts.min(2)
            } else {
                c.max_attempts
            })
            .max(1);
        if number >= max_attempts {
            return Decision::Stop(Stop::AttemptsExhausted);
        }
        let backoff = per_kind.and_then(|k| k.backoff).unwrap_or(c.backoff);
        // A zero hint ("retry now") is treated as no hint, as the official SDKs do: a
        // server that keeps saying 0 must not be hammered without backoff.
        let hint = err.retry_after().filter(|h| !h.is_zero());
        let (delay, reason) = match hint {
            Some(h) if h > c.max_retry_after => match c.long_hint {
                LongHint::FallBack => return Decision::Stop(Stop::HintBeyondCap { hint: h }),
                LongHint::UseBackoff => (
                    backoff.delay(number - 1, previous_delay, rng),
                    DelayReason::Backoff,
                ),
            },
            Some(h) => (h, DelayReason::RetryAfter),
            None => (
                backoff.delay(number - 1, previous_delay, rng),
                DelayReason::Backoff,
            ),
        };
        let (delay, reason) = match gate(delay) {
            Admit::Yes => (delay, reason),
            Admit::No => return Decision::Stop(Stop::Refused),
            Admit::After(wait) if wait > c.max_retry_after => {
                return Decision::Stop(Stop::Refused);
            }
            Admit::After(wait) if wait > delay => (wait, DelayReason::Admission),
            Admit::After(_) => (delay, reason),
        };
        if let Some(deadline) = c.deadline {
            let remaining = deadline.saturating_sub(elapsed);
            if delay >= remaining {
                return Decision::Stop(Stop::DeadlineWouldPass { delay, remaining });
            }
        }
        if let Some(budget) = &self.budget
            && !budget.withdraw()
        {
            return Decision::Stop(Stop::BudgetExhausted);
        }
        Decision::Retry { delay, reason }
    }
}
