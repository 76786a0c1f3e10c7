//! `Backoff`: how long to wait before the n-th retry, with jitter.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Exponential backoff: `initial × multiplier^n`, capped at `max`, then jittered.
///
/// ```
/// use std::time::Duration;
/// use steadfast_retry::{Backoff, Jitter};
///
/// let b = Backoff { jitter: Jitter::None, ..Backoff::exponential(Duration::from_secs(1), Duration::from_secs(10)) };
/// let mut rng = fastrand::Rng::with_seed(7);
/// let waits: Vec<u64> = (0..5).map(|n| b.delay(n, Duration::ZERO, &mut rng).as_secs()).collect();
/// assert_eq!(waits, [1, 2, 4, 8, 10]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// The base wait before the first retry. Default 500 ms.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub initial: Duration,
    /// Growth per retry. Default 2.
    pub multiplier: f64,
    /// The cap on any single wait. Default 30 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub max: Duration,
    /// How the wait is randomised. Default [`Jitter::Full`].
    pub jitter: Jitter,
}

/// How a computed wait is randomised so that many clients do not retry in lockstep.
///
/// See AWS's "Exponential Backoff And Jitter" for the trade-offs of the first four.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum Jitter {
    /// Exactly the exponential value.
    None,
    /// Uniform in `[0, base]`: the most spread, the least total wait.
    Full,
    /// Uniform in `[base/2, base]`: never retries immediately.
    Equal,
    /// `min(max, uniform[initial, previous × 3])`: grows from the previous wait, not the
    /// attempt number.
    Decorrelated,
    /// `base × (1 − spread × uniform[0, 1])`, the official OpenAI and Anthropic SDKs' rule
    /// (`spread` 0.25 there).
    Multiplicative {
        /// The largest fraction taken off; clamped to `0..=1`.
        spread: f64,
    },
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::exponential(Duration::from_millis(500), Duration::from_secs(30))
    }
}

impl Backoff {
    /// Doubling backoff from `initial` up to `max`, with full jitter.
    pub fn exponential(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            multiplier: 2.0,
            max,
            jitter: Jitter::Full,
        }
    }

    /// The same wait every time, without jitter.
    pub fn constant(wait: Duration) -> Backoff {
        Backoff {
            initial: wait,
            multiplier: 1.0,
            max: wait,
            jitter: Jitter::None,
        }
    }

    /// The wait before retry number `retry` (0 for the first retry), before jitter.
    ///
    /// Never above `max`, never decreasing as `retry` grows, and never overflows or panics
    /// for any parameters: an `initial` of zero stays zero, a multiplier that is not a
    /// finite number ≥ 1 counts as 1, and growth past what a `Duration` can hold saturates
    /// at `max`.
    pub fn base(&self, retry: u32) -> Duration {
        if self.initial.is_zero() || self.max.is_zero() {
            return Duration::ZERO;
        }
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        // `powf` with a float exponent: monotone in `retry` and infinite rather than
        // wrapping once it overflows; `initial` is non-zero here, so no `0 × inf`.
        let grown = self.initial.as_secs_f64() * multiplier.powf(f64::from(retry));
        Duration::try_from_secs_f64(grown)
            .unwrap_or(Duration::MAX)
            .min(self.max)
    }

    /// The jittered wait before retry number `retry`, given the previous wait (used by
    /// [`Jitter::Decorrelated`]). Always within `0..=max`, for any parameters.
    pub fn delay(&self, retry: u32, previous: Duration, rng: &mut fastrand::Rng) -> Duration {
        let base = self.base(retry);
        let d = match self.jitter {
            Jitter::None => base,
            Jitter::Full => fraction(base, rng.f64()),
            Jitter::Equal => (base / 2).saturating_add(fraction(base / 2, rng.f64())),
            Jitter::Decorrelated => {
                let lo = self.initial.min(self.max);
                let hi = previous.max(lo).saturating_mul(3).min(self.max);
                lo.saturating_add(fraction(hi.saturating_sub(lo), rng.f64()))
            }
            Jitter::Multiplicative { spread } => {
                let spread = if spread.is_finite() {
                    spread.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                fraction(base, 1.0 - spread * rng.f64())
            }
        };
        d.min(self.max)
    }
}

/// `d × f` for `f` in `0..=1`, never above `d`.
///
/// `Duration::mul_f64` panics when the product rounds past `Duration::MAX` (it does for
/// `Duration::MAX × 1.0`, since `u64::MAX` seconds is not exact in a float); this computes
/// in nanoseconds and clamps instead.
fn fraction(d: Duration, f: f64) -> Duration {
    let f = if f.is_finite() {
        f.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let total = d.as_nanos();
    // `as` from float to integer saturates, and NaN is excluded above.
    let nanos = ((total as f64) * f) as u128;
    let nanos = nanos.min(total);
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32).min(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn jitter_strategy() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
            (0.0f64..=1.0).prop_map(|spread| Jitter::Multiplicative { spread }),
        ]
    }

    /// Any duration, weighted towards the edges (zero, tiny, `Duration::MAX`) where the
    /// float arithmetic used to break.
    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            Just(Duration::from_nanos(1)),
            (0u64..600_000).prop_map(Duration::from_millis),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    fn any_multiplier() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::INFINITY),
            Just(f64::NAN),
            Just(f64::MAX),
            Just(1.0),
            Just(1.000_000_1),
            -4.0f64..0.0,
            0.0f64..1.0,
            1.0f64..10.0,
            any::<f64>(),
        ]
    }

    fn any_retry() -> impl Strategy<Value = u32> {
        prop_oneof![
            Just(0u32),
            Just(1023),
            Just(1024),
            Just(1025),
            Just(u32::MAX - 1),
            0u32..100,
            any::<u32>(),
        ]
    }

    proptest! {
        /// Regression: `initial = 0` used to become `max` after 1024 retries (`0 × inf` is
        /// NaN and `NaN.min(max)` is `max`), and an uncapped `max = Duration::MAX` made
        /// `delay()` panic converting an overflowing float back to a `Duration`.
        #[test]
        fn any_parameters_give_a_bounded_monotone_delay_without_panicking(
            initial in any_duration(),
            multiplier in any_multiplier(),
            max in any_duration(),
            jitter in jitter_strategy(),
            retry in any_retry(),
            previous in any_duration(),
            seed in any::<u64>(),
        ) {
            let b = Backoff { initial, multiplier, max, jitter };
            let mut rng = fastrand::Rng::with_seed(seed);
            let base = b.base(retry);
            prop_assert!(base <= max, "base {base:?} > max {max:?}");
            if retry < u32::MAX {
                let next = b.base(retry + 1);
                prop_assert!(base <= next, "base({retry}) = {base:?} > base({}) = {next:?}", retry + 1);
            }
            let d = b.delay(retry, previous, &mut rng);
            prop_assert!(d <= max, "delay {d:?} > max {max:?}");
            if initial.is_zero() {
                prop_assert_eq!(base, Duration::ZERO);
                let from_zero = b.delay(retry, Duration::ZERO, &mut rng);
                prop_assert_eq!(from_zero, Duration::ZERO);
                if !matches!(jitter, Jitter::Decorrelated) {
                    prop_assert_eq!(d, Duration::ZERO);
                }
            }
        }

        #[test]
        fn every_delay_is_within_its_bounds(
            initial_ms in 0u64..5_000,
            max_ms in 0u64..120_000,
            multiplier in 1.0f64..4.0,
            jitter in jitter_strategy(),
            retry in 0u32..200,
            previous_ms in 0u64..200_000,
            seed in any::<u64>(),
        ) {
            let b = Backoff {
                initial: Duration::from_millis(initial_ms),
                multiplier,
                max: Duration::from_millis(max_ms),
                jitter,
            };
            let mut rng = fastrand::Rng::with_seed(seed);
            let base = b.base(retry);
            prop_assert!(base <= b.max);
            let d = b.delay(retry, Duration::from_millis(previous_ms), &mut rng);
            prop_assert!(d <= b.max, "{d:?} > max {:?}", b.max);
            match jitter {
                Jitter::None => prop_assert_eq!(d, base),
                Jitter::Full => prop_assert!(d <= base),
                Jitter::Equal => prop_assert!(d >= base / 2 && d <= base),
                Jitter::Multiplicative { spread } => {
                    prop_assert!(d <= base);
                    prop_assert!(d.as_secs_f64() >= base.as_secs_f64() * (1.0 - spread) - 1e-6);
                }
                Jitter::Decorrelated => {
                    prop_assert!(d >= b.initial.min(b.max));
                }

            }
        }

        #[test]
        fn base_grows_monotonically_to_the_cap(initial_ms in 1u64..2_000, max_ms in 1u64..60_000, retry in 0u32..60) {
            let b = Backoff { jitter: Jitter::None, ..Backoff::exponential(Duration::from_millis(initial_ms), Duration::from_millis(max_ms)) };
            prop_assert!(b.base(retry) <= b.base(retry + 1));
            prop_assert!(b.base(retry) <= b.max);
        }

        #[test]
        fn the_same_seed_gives_the_same_delays(seed in any::<u64>()) {
            let b = Backoff::default();
            let run = |seed| {
                let mut rng = fastrand::Rng::with_seed(seed);
                (0..8).map(|n| b.delay(n, Duration::ZERO, &mut rng)).collect::<Vec<_>>()
            };
            prop_assert_eq!(run(seed), run(seed));
        }
    }

    #[test]
    fn absurd_parameters_do_not_overflow_or_panic() {
        let b = Backoff {
            initial: Duration::MAX,
            multiplier: f64::INFINITY,
            max: Duration::MAX,
            jitter: Jitter::Decorrelated,
        };
        let mut rng = fastrand::Rng::with_seed(1);
        let _ = b.delay(u32::MAX, Duration::MAX, &mut rng);
        let shrinking = Backoff {
            multiplier: 0.1,
            jitter: Jitter::None,
            ..Backoff::default()
        };
        assert_eq!(
            shrinking.base(5),
            shrinking.initial,
            "a multiplier below 1 is treated as 1"
        );
    }

    #[test]
    fn an_uncapped_backoff_and_a_zero_initial_keep_their_promises() {
        let uncapped = Backoff {
            jitter: Jitter::Multiplicative { spread: 0.0 },
            ..Backoff::exponential(Duration::from_secs(1), Duration::MAX)
        };
        let mut rng = fastrand::Rng::with_seed(3);
        assert_eq!(
            uncapped.delay(2_000, Duration::ZERO, &mut rng),
            Duration::MAX
        );
        let zero = Backoff {
            jitter: Jitter::None,
            ..Backoff::exponential(Duration::ZERO, Duration::from_secs(30))
        };
        assert_eq!(zero.base(1_024), Duration::ZERO);
        assert_eq!(zero.base(u32::MAX), Duration::ZERO);
    }

    #[test]
    fn serde_names_are_readable() {
        let b: Backoff = serde_json::from_str(
            r#"{"initial":"1s","multiplier":2,"max":"10s","jitter":{"type":"multiplicative","spread":0.25}}"#,
        )
        .unwrap();
        assert_eq!(b.jitter, Jitter::Multiplicative { spread: 0.25 });
        assert_eq!(b.max, Duration::from_secs(10));
    }
}
