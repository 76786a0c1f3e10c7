//! Ready-made configs: the retry rules of the systems steadfast replaces, and of the
//! official SDKs.
//!
//! Each returns a [`RetryConfig`] to use as is or adjust. All keep the default retry budget
//! on: under normal traffic it never refuses a retry, and under an outage it keeps a preset's
//! "3 attempts" from tripling the load.

use std::time::Duration;

use crate::backoff::{Backoff, Jitter};
use crate::policy::{LongHint, RetryConfig};

/// Seed 000, "Provider Router Hardening": 3 attempts, waits of 1 s, 2 s, 4 s … capped at
/// 10 s, no jitter.
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::ErrorKind;
/// use steadfast_retry::{presets, Decision, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let policy = RetryPolicy::new(presets::router_hardening());
/// let outcome = policy.run(|_| async { Err::<(), _>(ErrorKind::Network) }).await;
/// let waits: Vec<Duration> = outcome.attempts.iter().filter_map(|a| match a.decision {
///     Decision::Retry { delay, .. } => Some(delay),
///     _ => None,
/// }).collect();
/// assert_eq!(waits, [Duration::from_secs(1), Duration::from_secs(2)]);
/// assert_eq!(outcome.attempts.len(), 3);
/// assert!(outcome.should_fall_back(), "transient failures move on to the fallback provider");
/// # }
/// ```
pub fn router_hardening() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        backoff: Backoff {
            initial: Duration::from_secs(1),
            multiplier: 2.0,
            max: Duration::from_secs(10),
            jitter: Jitter::None,
        },
        ..RetryConfig::default()
    }
}

/// Seed 001, "SmartOrchestrator" (tenacity `stop_after_attempt(3)`,
/// `wait_exponential(multiplier=1, min=2, max=16)`): 3 attempts, waits of 2 s, 4 s, 8 s, 16 s
/// as attempts are added, no jitter.
///
/// ```
/// use std::time::Duration;
/// use steadfast_retry::{presets, Backoff};
///
/// let config = presets::smart_orchestrator();
/// let mut rng = fastrand::Rng::with_seed(0);
/// let schedule: Vec<u64> = (0..5).map(|n| config.backoff.delay(n, Duration::ZERO, &mut rng).as_secs()).collect();
/// assert_eq!(schedule, [2, 4, 8, 16, 16]);
/// assert_eq!(config.max_attempts, 3);
/// ```
pub fn smart_orchestrator() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        backoff: Backoff {
            initial: Duration::from_secs(2),
            multiplier: 2.0,
            max: Duration::from_secs(16),
            jitter: Jitter::None,
        },
        ..RetryConfig::default()
    }
}

/// Seed 003, "Reliability Layer" (`RetryConfig(max_attempts=3, initial_delay=0.5,
/// backoff_factor=2.0, max_delay=30.0)` with jitter): 3 attempts, 0.5 s doubling up to
/// 30 s, equal jitter (each wait between half and all of its exponential value).
///
/// ```
/// use std::time::Duration;
/// use steadfast_retry::presets;
///
/// let config = presets::reliability_layer();
/// let mut rng = fastrand::Rng::with_seed(42);
/// for n in 0..8u32 {
///     let base = Duration::from_millis(500).saturating_mul(1 << n).min(Duration::from_secs(30));
///     let d = config.backoff.delay(n, Duration::ZERO, &mut rng);
///     assert!(d >= base / 2 && d <= base, "retry {n}: {d:?} outside [{:?}, {base:?}]", base / 2);
/// }
/// ```
pub fn reliability_layer() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        backoff: Backoff {
            initial: Duration::from_millis(500),
            multiplier: 2.0,
            max: Duration::from_secs(30),
            jitter: Jitter::Equal,
        },
        ..RetryConfig::default()
    }
}

/// The official OpenAI SDK's rules: 2 retries (3 attempts), `min(0.5 s × 2ⁿ, 8 s)` reduced by
/// up to 25 %, a Retry-After honoured up to 120 s and a longer one not retried at all;
/// `x-should-retry` already decided by the error.
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::{ErrorKind, ProviderError};
/// use steadfast_retry::{presets, RetryPolicy, Stop};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let policy = RetryPolicy::new(presets::openai_sdk());
/// let slow_down = || ProviderError::new(ErrorKind::RateLimited, "openai", "slow down")
///     .with_retry_after(Duration::from_secs(600));
/// let outcome = policy.run(|_| async { Err::<(), _>(slow_down()) }).await;
/// assert_eq!(outcome.stop, Some(Stop::HintBeyondCap { hint: Duration::from_secs(600) }));
/// assert_eq!(outcome.attempts.len(), 1, "a 10-minute Retry-After is not waited for");
/// # }
/// ```
pub fn openai_sdk() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        backoff: Backoff {
            initial: Duration::from_millis(500),
            multiplier: 2.0,
            max: Duration::from_secs(8),
            jitter: Jitter::Multiplicative { spread: 0.25 },
        },
        max_retry_after: Duration::from_secs(120),
        long_hint: LongHint::FallBack,
        ..RetryConfig::default()
    }
}

/// The official Anthropic SDK's rules: as OpenAI's, but a Retry-After is honoured only up to
/// 60 s; a longer one is ignored in favour of the backoff.
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::{ErrorKind, ProviderError};
/// use steadfast_retry::{presets, DelayReason, Decision, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let policy = RetryPolicy::new(presets::anthropic_sdk());
/// let outcome = policy
///     .run(|a| async move {
///         if a.number == 1 {
///             Err(ProviderError::new(ErrorKind::Overloaded, "anthropic", "Overloaded")
///                 .with_retry_after(Duration::from_secs(90)))
///         } else {
///             Ok(())
///         }
///     })
///     .await;
/// assert!(outcome.result.is_ok());
/// let Decision::Retry { delay, reason } = outcome.attempts[0].decision else { unreachable!() };
/// assert_eq!(reason, DelayReason::Backoff);
/// assert!(delay <= Duration::from_millis(500));
/// # }
/// ```
pub fn anthropic_sdk() -> RetryConfig {
    RetryConfig {
        max_retry_after: Duration::from_secs(60),
        long_hint: LongHint::UseBackoff,
        ..openai_sdk()
    }
}
