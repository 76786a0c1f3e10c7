//! A generic async circuit breaker: stop calling a target that is failing, probe, recover.
//!
//! A [`CircuitBreaker`] watches the outcomes of calls to one target (a provider, a model, a
//! database) and stops admitting calls when the target looks unhealthy, so callers fail fast
//! or fall back instead of piling onto an outage. It works for any operation whose error
//! implements [`steadfast_errors::Failure`]; nothing here knows about AI providers.
//!
//! # The state machine
//!
//! - **Closed**: calls flow. The breaker trips (→ open) on [`Config::consecutive_failures`]
//!   failures in a row, or when the failure rate — or, with [`Config::slow_call`], the
//!   slow-call rate — over the sliding [`Window`] reaches its threshold once the window holds
//!   [`Config::minimum_calls`] calls.
//! - **Open**: calls are [`Rejected`] with the time left. After [`Config::open_duration`]
//!   (growing by [`Config::open_backoff`] on repeated trips, capped) the next
//!   [`try_acquire`](CircuitBreaker::try_acquire) moves it to half-open.
//! - **Half-open**: up to [`Config::half_open_probes`] probe calls are admitted. One probe
//!   failure (or slow probe) re-opens it; [`Config::half_open_successes`] successes close it
//!   with an empty window.
//!
//! Only failures that count against health count ([`Failure::counts_against_health`][health], or your
//! own rule via [`CircuitBreaker::with_classifier`]): a 400 is the caller's fault and says
//! nothing about the target. Such a failure is recorded as neither success nor failure.
//! Every change of state is reported to [`CircuitBreaker::on_transition`] callbacks as a
//! [`Transition`] (from, to, [`Reason`]); [`CircuitBreaker::snapshot`] gives the numbers.
//!
//! [health]: steadfast_errors::Failure::counts_against_health
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use steadfast_circuit::{CallError, CircuitBreaker, Config, State, Window};
//! use steadfast_errors::ErrorKind;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let breaker = CircuitBreaker::new(Config {
//!     failure_rate: Some(0.5),
//!     window: Window::Time { duration: Duration::from_secs(60), buckets: 6 },
//!     minimum_calls: 4,
//!     open_duration: Duration::from_secs(10),
//!     ..Config::default()
//! });
//!
//! for ok in [true, false, true, false] {
//!     let _ = breaker.call(|| async move { if ok { Ok(()) } else { Err(ErrorKind::Server) } }).await;
//! }
//! assert_eq!(breaker.state(), State::Open); // 2 of 4 failed: 50 %
//!
//! let refused = breaker.call(|| async { Ok::<_, ErrorKind>(()) }).await.unwrap_err();
//! assert!(matches!(&refused, CallError::Rejected(r) if r.retry_in() == Duration::from_secs(10)));
//!
//! tokio::time::advance(Duration::from_secs(10)).await;
//! let probe = breaker.try_acquire().expect("half-open admits a probe");
//! assert_eq!(breaker.state(), State::HalfOpen);
//! probe.success();
//! assert_eq!(breaker.state(), State::Closed);
//! # }
//! ```
//!
//! # Why a permit?
//!
//! A breaker needs to know how each admitted call ended, and the obvious API — `allow()`,
//! then `record_success()` / `record_failure()` — trusts every caller to report exactly once.
//! Async Rust makes that trust misplaced: a future can be dropped at any `.await` (a timeout,
//! a `select!`, a client hanging up), and the report never comes. In the closed state a lost
//! report costs one sample. In the half-open state it is fatal: the breaker admitted its one
//! probe, the probe vanished, and no further probe is ever admitted — the breaker is wedged
//! open with a healthy target behind it.
//!
//! So admission returns a [`Permit`], an RAII value that *is* the admitted call. Reporting
//! consumes it, so a call cannot report twice; dropping it unreported is a cancellation,
//! which counts as neither success nor failure (the target did nothing wrong) and gives the
//! probe slot back. [`CircuitBreaker::call`] wraps this for the common case. A permit also
//! remembers which state admitted it, so a call admitted before a trip cannot close the
//! breaker by succeeding after it.
//!
//! A permit that is neither reported nor dropped — a hung call nobody cancels — would still
//! hold its probe slot for ever, so the half-open state has a maximum wait
//! ([`Config::half_open_max_wait`], 60 s by default, as resilience4j's
//! `maxWaitDurationInHalfOpenState`): past it the breaker opens again and later admits a fresh
//! probe, and the hung permit's outcome no longer counts.
//!
//! # Why the closed path takes no lock
//!
//! Admission happens on every call; trips are rare. The state and a generation number share
//! one `AtomicU64`, and the end of the open period another; `try_acquire` reads them and, when
//! closed (or open and not yet due), answers without locking. Only transitions and the
//! half-open slot bookkeeping take the breaker's mutex, which also guards the window;
//! recording an outcome takes it briefly (a cancelled or non-counting call in the closed
//! state takes nothing). The atomics are written only under the mutex, so they always
//! describe the state the mutex holds; a reader racing a transition may still admit a call
//! under the state just left, and the generation makes that harmless: the outcome of a
//! permit issued by an older generation is ignored.
//!
//! # Windows
//!
//! A [`Window::Count`] keeps the last N outcomes in a ring of one byte each with running
//! totals. A [`Window::Time`] keeps the last span in fixed buckets (slot = bucket index mod
//! bucket count) with running totals; reaching a new bucket clears the buckets that fell out,
//! so recording and reading stay O(1) and memory stays fixed however many calls are made.
//! All time comes from [`tokio::time::Instant`], so tests can pause and advance the clock.
//!
//! # Slow calls
//!
//! For a model call, total duration says more about the answer's length than the provider's
//! health. So "slow" is judged on a latency *the caller reports*
//! ([`Permit::success_with_latency`] — e.g. time to first token), falling back to the time
//! since admission for [`Permit::success`].
//!
//! # Order
//!
//! In a stack of steadfast layers the breaker sits inside retry and outside the timeout:
//! fallback → retry → **breaker** → timeout → provider. Each retry attempt then asks the
//! breaker, a timeout is a failure the breaker sees, and a [`Rejected`] (not retryable, not
//! counting against health) sends the fallback layer to the next target at once.
//!
//! With the `tower` feature, the `tower` module holds `CircuitBreakerLayer` and
//! `CircuitBreakerService<S>`. In a tower stack the breaker may also go *outside* a retry
//! layer, to count a call once however many attempts it made and to refuse a call before
//! any attempt while open; the `# Order` section of `steadfast_retry::tower` weighs the two
//! and places tower's timeout, concurrency and rate limits around them.

mod breaker;
mod config;
mod error;
mod permit;
mod state;
#[cfg(feature = "tower")]
pub mod tower;
mod window;

pub use breaker::{CircuitBreaker, Snapshot};
pub use config::{Config, MAX_WINDOW_BUCKETS, MAX_WINDOW_CALLS, OpenBackoff, SlowCall, Window};
pub use error::{CallError, ConfigError, Rejected};
pub use permit::Permit;
pub use state::{Reason, State, Transition};
