//! `Config`: when a breaker trips, how long it stays open, how it probes; defaults and validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The largest count window, in calls (one byte of memory per call).
pub const MAX_WINDOW_CALLS: u32 = 100_000;

/// The largest number of buckets in a time window.
pub const MAX_WINDOW_BUCKETS: u32 = 10_000;

/// How a [`CircuitBreaker`](crate::CircuitBreaker) decides to trip, how long it stays open and
/// how it probes before closing again.
///
/// Every field is public and has a documented default, so a config is written as
/// `Config { field: value, ..Config::default() }`. In a file (any serde format) every field may
/// be left out and takes its default; durations are whole milliseconds or strings such as
/// `"30s"` or `"1.5s"` (see [`steadfast_errors::serde_duration`]); `null` turns an optional
/// rule off.
///
/// ```
/// use std::time::Duration;
/// use steadfast_circuit::{Config, SlowCall, Window};
///
/// let config: Config = serde_json::from_str(r#"{
///     "consecutive_failures": null,
///     "failure_rate": 0.25,
///     "window": { "type": "time", "duration": "60s", "buckets": 6 },
///     "slow_call": { "threshold": "2s", "rate": 0.8 },
///     "open_backoff": { "multiplier": 2.0, "max": "5m" }
/// }"#).unwrap();
/// assert_eq!(config.consecutive_failures, None);
/// assert_eq!(config.window, Window::Time { duration: Duration::from_secs(60), buckets: 6 });
/// assert_eq!(config.slow_call, Some(SlowCall { threshold: Duration::from_secs(2), rate: 0.8 }));
/// assert_eq!(config.open_duration, Duration::from_secs(30)); // the default
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Trip after this many failures in a row (in the closed state). `None` turns the rule
    /// off. Must be at least 1. Default: `Some(5)`.
    pub consecutive_failures: Option<u32>,

    /// Trip when the share of failed calls in the [`window`](Self::window) reaches this rate
    /// (`0.0..=1.0`), once the window holds at least [`minimum_calls`](Self::minimum_calls)
    /// calls. `None` turns the rule off. Default: `Some(0.5)`.
    pub failure_rate: Option<f64>,

    /// The sliding window over which the failure and slow-call rates are measured.
    /// Default: [`Window::Count`] of 20 calls.
    pub window: Window,

    /// The rates are not judged until the window holds at least this many calls. For a count
    /// window it may not exceed the window size. Default: `10`.
    pub minimum_calls: u32,

    /// Trip when too many successful calls are slow. `None` turns the rule off.
    /// Default: `None`.
    pub slow_call: Option<SlowCall>,

    /// How long the breaker stays open after its first trip before it lets probes through.
    /// Default: 30 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub open_duration: Duration,

    /// Grow the open duration when probes fail and the breaker trips again. `None` keeps it
    /// constant. Default: `None`.
    pub open_backoff: Option<OpenBackoff>,

    /// How many probe calls the half-open state admits (in all, not at once); a probe that
    /// ends without a verdict (cancelled, or a failure that does not count) gives its slot
    /// back. At least 1. Default: `1`.
    pub half_open_probes: u32,

    /// How many probes must succeed before the breaker closes; at least 1 and at most
    /// [`half_open_probes`](Self::half_open_probes). Default: `1`.
    pub half_open_successes: u32,

    /// The longest the breaker stays half-open waiting for its probes' verdicts (resilience4j's
    /// `maxWaitDurationInHalfOpenState`). Past it, the next call that asks to be admitted
    /// moves the breaker back to open (a trip, reported with [`Reason::HalfOpenTimedOut`],
    /// which grows the open duration like a failed probe), as resilience4j does; after the
    /// open duration a fresh half-open period admits new probes, and the outcome of the probe
    /// that outlived its period no longer counts. Without it, a probe whose permit is held
    /// forever (a hung call that is never cancelled) keeps the breaker half-open and every
    /// other call rejected. Not zero; `None` (`null` in a file) waits for ever.
    /// Default: `Some(60 s)`.
    ///
    /// [`Reason::HalfOpenTimedOut`]: crate::Reason::HalfOpenTimedOut
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub half_open_max_wait: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            consecutive_failures: Some(5),
            failure_rate: Some(0.5),
            window: Window::default(),
            minimum_calls: 10,
            slow_call: None,
            open_duration: Duration::from_secs(30),
            open_backoff: None,
            half_open_probes: 1,
            half_open_successes: 1,
            half_open_max_wait: Some(Duration::from_secs(60)),
        }
    }
}

/// The sliding window over which failure and slow-call rates are measured.
///
/// In a file: `{ "type": "count", "calls": 20 }` or
/// `{ "type": "time", "duration": "60s", "buckets": 10 }` (`buckets` defaults to 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Window {
    /// The last `calls` recorded calls (1 to [`MAX_WINDOW_CALLS`]).
    Count {
        /// How many of the most recent calls are kept.
        calls: u32,
    },
    /// The calls recorded in the last `duration`, kept in `buckets` buckets of
    /// `duration / buckets` each (1 to [`MAX_WINDOW_BUCKETS`]).
    ///
    /// The window holds the current bucket and the `buckets - 1` before it, so a call is
    /// forgotten between `duration - duration / buckets` and `duration` after it was
    /// recorded: more buckets, sharper edge.
    Time {
        /// The span of the window.
        #[serde(with = "steadfast_errors::serde_duration")]
        duration: Duration,
        /// How many buckets the span is cut into.
        #[serde(default = "default_buckets")]
        buckets: u32,
    },
}

fn default_buckets() -> u32 {
    10
}

impl Default for Window {
    fn default() -> Self {
        Window::Count { calls: 20 }
    }
}

/// The slow-call rule: trip when at least `rate` of the calls in the window were slow.
///
/// A call is slow when its latency is *longer than* `threshold`. The latency is the one the
/// caller reports with [`Permit::success_with_latency`](crate::Permit::success_with_latency)
/// (a router reports time to first token, since a long answer is not a slow provider), or the
/// time since admission for [`Permit::success`](crate::Permit::success). Only successes are
/// judged: a failure is a failure, not also a slow call.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowCall {
    /// Calls taking longer than this are slow.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub threshold: Duration,
    /// The share of slow calls (`0.0..=1.0`) in the window that trips the breaker.
    pub rate: f64,
}

/// Exponential growth of the open duration on repeated trips.
///
/// The `n`-th trip in a row (without the breaker closing in between) stays open for
/// `open_duration * multiplier^(n-1)`, never longer than `max`. A successful recovery (or a
/// [`reset`](crate::CircuitBreaker::reset)) starts over at `open_duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBackoff {
    /// Growth per repeated trip; finite and at least 1.
    pub multiplier: f64,
    /// The longest open duration; at least [`Config::open_duration`].
    #[serde(with = "steadfast_errors::serde_duration")]
    pub max: Duration,
}

impl Config {
    /// Checks the config, returning the first problem found.
    ///
    /// ```
    /// use steadfast_circuit::{Config, ConfigError};
    ///
    /// let bad = Config { half_open_probes: 1, half_open_successes: 2, ..Config::default() };
    /// assert!(matches!(bad.validate(), Err(ConfigError::SuccessesExceedProbes { .. })));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.consecutive_failures == Some(0) {
            return Err(ConfigError::Zero {
                field: "consecutive_failures",
            });
        }
        if let Some(rate) = self.failure_rate {
            check_rate("failure_rate", rate)?;
        }
        match self.window {
            Window::Count { calls } => {
                check_count("window.calls", calls, MAX_WINDOW_CALLS)?;
                if self.minimum_calls > calls {
                    return Err(ConfigError::MinimumCallsExceedWindow {
                        minimum_calls: self.minimum_calls,
                        window_calls: calls,
                    });
                }
            }
            Window::Time { duration, buckets } => {
                check_count("window.buckets", buckets, MAX_WINDOW_BUCKETS)?;
                if duration.is_zero() {
                    return Err(ConfigError::ZeroDuration {
                        field: "window.duration",
                    });
                }
                if (duration / buckets).is_zero() {
                    return Err(ConfigError::ZeroDuration {
                        field: "window.duration / window.buckets",
                    });
                }
            }
        }
        if let Some(slow) = self.slow_call {
            check_rate("slow_call.rate", slow.rate)?;
        }
        if let Some(backoff) = self.open_backoff {
            if !(backoff.multiplier.is_finite() && backoff.multiplier >= 1.0) {
                return Err(ConfigError::BadMultiplier {
                    value: backoff.multiplier,
                });
            }
            if backoff.max < self.open_duration {
                return Err(ConfigError::BackoffMaxBelowOpenDuration {
                    max: backoff.max,
                    open_duration: self.open_duration,
                });
            }
        }
        if self.half_open_probes == 0 {
            return Err(ConfigError::Zero {
                field: "half_open_probes",
            });
        }
        if self.half_open_successes == 0 {
            return Err(ConfigError::Zero {
                field: "half_open_successes",
            });
        }
        if self.half_open_max_wait == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroDuration {
                field: "half_open_max_wait",
            });
        }
        if self.half_open_successes > self.half_open_probes {
            return Err(ConfigError::SuccessesExceedProbes {
                successes: self.half_open_successes,
                probes: self.half_open_probes,
            });
        }
        Ok(())
    }

    /// Repairs every problem [`validate`](Self::validate) would report, by moving each bad
    /// value to the nearest good one; this is what [`CircuitBreaker::new`] does.
    ///
    /// - a rate outside `0..=1` is clamped into it; a NaN rate turns its rule off;
    /// - `consecutive_failures: Some(0)`, zero probes or successes, and a zero count window or
    ///   bucket count become 1; oversized windows become the maximum
    ///   ([`MAX_WINDOW_CALLS`], [`MAX_WINDOW_BUCKETS`]);
    /// - a time window too short for its buckets gets one nanosecond per bucket;
    /// - `minimum_calls` above a count window's size becomes the size;
    /// - `half_open_successes` above `half_open_probes` becomes `half_open_probes`;
    /// - a backoff multiplier below 1 (or not finite) becomes 1, and a backoff `max` below
    ///   `open_duration` becomes `open_duration`.
    /// - a zero `half_open_max_wait` becomes one nanosecond.
    ///
    /// ```
    /// use steadfast_circuit::Config;
    ///
    /// let fixed = Config { failure_rate: Some(1.5), half_open_probes: 0, ..Config::default() }.clamped();
    /// assert_eq!(fixed.failure_rate, Some(1.0));
    /// assert_eq!(fixed.half_open_probes, 1);
    /// assert!(fixed.validate().is_ok());
    /// ```
    ///
    /// [`CircuitBreaker::new`]: crate::CircuitBreaker::new
    #[must_use]
    pub fn clamped(mut self) -> Self {
        let clamp_rate = |rate: f64| (!rate.is_nan()).then(|| rate.clamp(0.0, 1.0));
        self.consecutive_failures = self.consecutive_failures.map(|n| n.max(1));
        self.failure_rate = self.failure_rate.and_then(clamp_rate);
        self.window = match self.window {
            Window::Count { calls } => {
                let calls = calls.clamp(1, MAX_WINDOW_CALLS);
                self.minimum_calls = self.minimum_calls.min(calls);
                Window::Count { calls }
            }
            Window::Time { duration, buckets } => {
                let buckets = buckets.clamp(1, MAX_WINDOW_BUCKETS);
                let duration = duration.max(Duration::from_nanos(u64::from(buckets)));
                Window::Time { duration, buckets }
            }
        };
        self.slow_call = self
            .slow_call
            .and_then(|slow| clamp_rate(slow.rate).map(|rate| SlowCall { rate, ..slow }));
        if let Some(backoff) = &mut self.open_backoff {
            if !(backoff.multiplier.is_finite() && backoff.multiplier >= 1.0) {
                backoff.multiplier = 1.0;
            }
            backoff.max = backoff.max.max(self.open_duration);
        }
        self.half_open_probes = self.half_open_probes.max(1);
        self.half_open_successes = self.half_open_successes.clamp(1, self.half_open_probes);
        self.half_open_max_wait = self
            .half_open_max_wait
            .map(|wait| wait.max(Duration::from_nanos(1)));
        self
    }

    /// How long the `trip`-th trip in a row keeps the breaker open (`trip` counts from 1).
    pub(crate) fn open_duration_for(&self, trip: u32) -> Duration {
        let Some(backoff) = self.open_backoff else {
            return self.open_duration;
        };
        let exponent = i32::try_from(trip.saturating_sub(1)).unwrap_or(i32::MAX);
        let nanos = self.open_duration.as_nanos() as f64 * backoff.multiplier.powi(exponent);
        if nanos >= backoff.max.as_nanos() as f64 {
            backoff.max
        } else {
            // Below `max`, so it fits in a u64 of nanoseconds for any sane `max`; `as`
            // saturates otherwise.
            Duration::from_nanos(nanos as u64).min(backoff.max)
        }
    }
}

fn check_rate(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::RateOutOfRange { field, value })
    }
}

fn check_count(field: &'static str, value: u32, max: u32) -> Result<(), ConfigError> {
    if value == 0 {
        Err(ConfigError::Zero { field })
    } else if value > max {
        Err(ConfigError::TooLarge { field, value, max })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let config = Config::default();
        assert_eq!(config.validate(), Ok(()));
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), config);
        assert_eq!(serde_json::from_str::<Config>("{}").unwrap(), config);
    }

    #[test]
    fn each_bad_value_has_its_error() {
        let d = Config::default;
        let cases = [
            (
                Config {
                    consecutive_failures: Some(0),
                    ..d()
                },
                "`consecutive_failures` must be at least 1",
            ),
            (
                Config {
                    failure_rate: Some(-0.1),
                    ..d()
                },
                "`failure_rate` must be between 0 and 1, got -0.1",
            ),
            (
                Config {
                    failure_rate: Some(f64::NAN),
                    ..d()
                },
                "`failure_rate` must be between 0 and 1, got NaN",
            ),
            (
                Config {
                    window: Window::Count { calls: 0 },
                    ..d()
                },
                "`window.calls` must be at least 1",
            ),
            (
                Config {
                    window: Window::Count {
                        calls: MAX_WINDOW_CALLS + 1,
                    },
                    ..d()
                },
                "`window.calls` is 100001, more than the maximum 100000",
            ),
            (
                Config {
                    window: Window::Count { calls: 5 },
                    ..d()
                },
                "`minimum_calls` (10) exceeds the count window (5 calls): the rate rules could never fire",
            ),
            (
                Config {
                    window: Window::Time {
                        duration: Duration::ZERO,
                        buckets: 3,
                    },
                    ..d()
                },
                "`window.duration` must not be zero",
            ),
            (
                Config {
                    window: Window::Time {
                        duration: Duration::from_nanos(2),
                        buckets: 3,
                    },
                    ..d()
                },
                "`window.duration / window.buckets` must not be zero",
            ),
            (
                Config {
                    window: Window::Time {
                        duration: Duration::from_secs(1),
                        buckets: 0,
                    },
                    ..d()
                },
                "`window.buckets` must be at least 1",
            ),
            (
                Config {
                    slow_call: Some(SlowCall {
                        threshold: Duration::from_secs(1),
                        rate: 2.0,
                    }),
                    ..d()
                },
                "`slow_call.rate` must be between 0 and 1, got 2",
            ),
            (
                Config {
                    open_backoff: Some(OpenBackoff {
                        multiplier: 0.5,
                        max: Duration::from_secs(60),
                    }),
                    ..d()
                },
                "`open_backoff.multiplier` must be finite and at least 1, got 0.5",
            ),
            (
                Config {
                    open_backoff: Some(OpenBackoff {
                        multiplier: 2.0,
                        max: Duration::from_secs(1),
                    }),
                    ..d()
                },
                "`open_backoff.max` (1s) is shorter than `open_duration` (30s)",
            ),
            (
                Config {
                    half_open_probes: 0,
                    half_open_successes: 0,
                    ..d()
                },
                "`half_open_probes` must be at least 1",
            ),
            (
                Config {
                    half_open_successes: 0,
                    ..d()
                },
                "`half_open_successes` must be at least 1",
            ),
            (
                Config {
                    half_open_probes: 2,
                    half_open_successes: 3,
                    ..d()
                },
                "`half_open_successes` (3) exceeds `half_open_probes` (2)",
            ),
        ];
        for (config, message) in cases {
            let err = config.validate().unwrap_err();
            assert_eq!(err.to_string(), message);
            assert!(config.clamped().validate().is_ok(), "{message}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<Config>(r#"{"failure_rat": 0.5}"#).is_err());
        let w: Window = serde_json::from_str(r#"{"type":"time","duration":60000}"#).unwrap();
        assert_eq!(
            w,
            Window::Time {
                duration: Duration::from_secs(60),
                buckets: 10
            }
        );
    }

    #[test]
    fn open_duration_grows_and_is_capped() {
        let config = Config {
            open_duration: Duration::from_secs(10),
            open_backoff: Some(OpenBackoff {
                multiplier: 2.0,
                max: Duration::from_secs(60),
            }),
            ..Config::default()
        };
        let got: Vec<u64> = (1..=6)
            .map(|n| config.open_duration_for(n).as_secs())
            .collect();
        assert_eq!(got, [10, 20, 40, 60, 60, 60]);
        assert_eq!(config.open_duration_for(u32::MAX), Duration::from_secs(60));
        let flat = Config::default();
        assert_eq!(flat.open_duration_for(7), Duration::from_secs(30));
    }

    fn any_rate() -> impl Strategy<Value = f64> {
        prop_oneof![
            -2.0..3.0f64,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY)
        ]
    }

    fn any_config() -> impl Strategy<Value = Config> {
        let window = prop_oneof![
            any::<u32>().prop_map(|calls| Window::Count { calls }),
            (any::<u64>(), any::<u32>()).prop_map(|(nanos, buckets)| Window::Time {
                duration: Duration::from_nanos(nanos),
                buckets
            }),
        ];
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any_rate()),
            window,
            any::<u32>(),
            proptest::option::of((any::<u64>(), any_rate())),
            any::<u64>(),
            proptest::option::of((any_rate(), any::<u64>())),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(
                |(
                    consecutive,
                    rate,
                    window,
                    minimum,
                    slow,
                    open,
                    backoff,
                    probes,
                    successes,
                    max_wait,
                )| {
                    Config {
                        consecutive_failures: consecutive,
                        failure_rate: rate,
                        window,
                        minimum_calls: minimum,
                        slow_call: slow.map(|(ms, rate)| SlowCall {
                            threshold: Duration::from_millis(ms),
                            rate,
                        }),
                        open_duration: Duration::from_nanos(open),
                        open_backoff: backoff.map(|(multiplier, nanos)| OpenBackoff {
                            multiplier,
                            max: Duration::from_nanos(nanos),
                        }),
                        half_open_probes: probes,
                        half_open_successes: successes,
                        half_open_max_wait: max_wait.map(Duration::from_nanos),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn clamped_is_always_valid_and_keeps_valid_configs(config in any_config()) {
            let fixed = config.clone().clamped();
            prop_assert_eq!(fixed.validate(), Ok(()));
            if config.validate().is_ok() {
                prop_assert_eq!(fixed, config);
            }
        }
    }
}
