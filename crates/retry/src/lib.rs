//! Retries for any async operation: backoff with jitter, retry hints, deadlines, and a shared
//! retry budget.
//!
//! `steadfast-retry` knows nothing about AI providers or HTTP. It retries any operation whose
//! error implements [`steadfast_errors::Failure`] — "may I retry, after how long?" — which
//! `ProviderError`, `ErrorKind` and `std::io::Error` do, and your own errors can.
//!
//! # The decision, in order
//!
//! After a failed attempt the policy asks, and stops at the first "no":
//!
//! 1. **Retryable?** The error's answer (for a `ProviderError`: its kind, or the provider's
//!    `x-should-retry`), unless a per-kind override or a [`RetryPolicy::retry_if`] predicate
//!    says otherwise. No → [`Stop::NotRetryable`] — unless the error is a *refusal*: it names
//!    no kind, does not count against health, and still says when to come back (a
//!    `retry_after`), which is how a circuit breaker's rejection answers. The target was
//!    not tried and cannot be now: [`Stop::Refused`], and the caller falls back.
//! 2. **Attempts left?** `max_attempts`, per kind if overridden; a `protocol` error is retried
//!    at most once. No → [`Stop::AttemptsExhausted`].
//! 3. **How long?** The error's retry hint (`Retry-After`) when it gave one — on *every*
//!    attempt, not only the first — otherwise the backoff. A hint above `max_retry_after`
//!    means "do not wait here": [`Stop::HintBeyondCap`] (or the backoff, with
//!    [`LongHint::UseBackoff`]).
//! 4. **Will the target take it?** Only with [`RetryPolicy::run_gated`]: its gate is asked
//!    before any wait — an open breaker says no ([`Stop::Refused`]: fall back now rather
//!    than sleep first and be refused after), or names a longer wait ([`Admit::After`]).
//! 5. **Before the deadline?** A wait that would end at or after the deadline is not taken:
//!    [`Stop::DeadlineWouldPass`].
//! 6. **Budget?** A retry withdraws from the shared [`RetryBudget`]; an empty budget means
//!    [`Stop::BudgetExhausted`].
//!
//! Every stop but [`Stop::NotRetryable`] tells the caller to fall back now
//! ([`Outcome::should_fall_back`]). Every attempt is recorded ([`Attempt`]: number, timing,
//! kind, the delay chosen and why) and given to an observer for metrics.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use steadfast_errors::{ErrorKind, ProviderError};
//! use steadfast_retry::{DelayReason, Decision, RetryConfig, RetryPolicy};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let policy = RetryPolicy::new(RetryConfig::default());
//! let outcome = policy
//!     .run(|attempt| async move {
//!         if attempt.number == 1 {
//!             // A 429 that says when to come back.
//!             Err(ProviderError::new(ErrorKind::RateLimited, "openai", "slow down")
//!                 .with_retry_after(Duration::from_secs(3)))
//!         } else {
//!             Ok("hello")
//!         }
//!     })
//!     .await;
//! assert_eq!(outcome.result.unwrap(), "hello");
//! assert_eq!(
//!     outcome.attempts[0].decision,
//!     Decision::Retry { delay: Duration::from_secs(3), reason: DelayReason::RetryAfter }
//! );
//! # }
//! ```
//!
//! With the `tower` feature, the `tower` module holds `RetryLayer` and `Retry<S>` for
//! tower services and the `# Order` in which to stack them with a breaker and tower's own
//! timeout, concurrency and rate limits.
//!
//! Presets reproducing the systems steadfast replaces and the official SDKs are in
//! [`presets`].

mod backoff;
mod budget;
mod outcome;
mod policy;
pub mod presets;
#[cfg(feature = "tower")]
pub mod tower;

pub use backoff::{Backoff, Jitter};
pub use budget::{BudgetConfig, RetryBudget};
pub use outcome::{Admit, Attempt, Decision, DelayReason, Outcome, Stop};
pub use policy::{AttemptContext, KindPolicy, LongHint, RetryConfig, RetryPolicy};
