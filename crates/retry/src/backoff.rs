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
    /// Never above `max`; never overflows however large `retry` grows.
    pub fn base(&self, retry: u32) -> Duration {
        let max = self.max.as_secs_f64();
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let grown = self.initial.as_secs_f64() * multiplier.powi(retry.min(1024) as i32);
        secs(grown.min(max))
    }

    /// The jittered wait before retry number `retry`, given the previous wait (used by
    /// [`Jitter::Decorrelated`]). Always within `0..=max`.
    pub fn delay(&self, retry: u32, previous: Duration, rng: &mut fastrand::Rng) -> Duration {
        let base = self.base(retry);
        let d = match self.jitter {
            Jitter::None => base,
            Jitter::Full => base.mul_f64(rng.f64()),
            Jitter::Equal => base / 2 + (base / 2).mul_f64(rng.f64()),
            Jitter::Decorrelated => {
                let lo = self.initial.min(self.max);
                let hi = previous.max(lo).saturating_mul(3).min(self.max);
                lo + (hi.saturating_sub(lo)).mul_f64(rng.f64())
            }
            Jitter::Multiplicative { spread } => {
                let spread = if spread.is_finite() {
                    spread.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                base.mul_f64(1.0 - spread * rng.f64())
            }
        };
        d.min(self.max)
    }
}

fn secs(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 {
        Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
    } else {
        Duration::ZERO
    }
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

    proptest! {
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
    fn serde_names_are_readable() {
        let b: Backoff = serde_json::from_str(
            r#"{"initial":"1s","multiplier":2,"max":"10s","jitter":{"type":"multiplicative","spread":0.25}}"#,
        )
        .unwrap();
        assert_eq!(b.jitter, Jitter::Multiplicative { spread: 0.25 });
        assert_eq!(b.max, Duration::from_secs(10));
    }
}
