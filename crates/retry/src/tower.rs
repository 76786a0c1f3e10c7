//! tower adapters (feature `tower`): [`RetryLayer`] and [`Retry`], a `RetryPolicy` around any
//! `tower::Service`, and [`RetryBudget`] as a [`tower::retry::budget::Budget`].
//!
//! # Shape
//!
//! As `tower::retry::Retry` does, [`Retry`] forwards `poll_ready` to the service it wraps,
//! sends the first attempt to that (ready) service inside `call`, and keeps a *clone* of the
//! service for the retries; the clone is driven to readiness before each retry. So the
//! service must be `Clone` (put a `tower::buffer::Buffer` in front of one that is not) and
//! so must the request, since each attempt sends its own copy.
//!
//! The decision between attempts is [`RetryPolicy`]'s, unchanged: the error's
//! [`Failure`] answer, per-kind overrides, backoff and jitter, `Retry-After` within
//! `max_retry_after`, the deadline, and the shared budget. A refusal (an open breaker's
//! `Rejected` under this layer) stops at once and is returned to the caller.
//!
//! The response future is boxed: the loop is [`RetryPolicy::run`], an `async fn`, and one
//! allocation per call is small beside the network call it retries.
//!
//! # Errors tower layers return
//!
//! tower's own middleware (timeout, load-shed, buffer) fail with a
//! [`BoxError`], which says nothing about retrying. Map it into a
//! [`BoxFailure`] (`ServiceBuilder::map_err(BoxFailure::from)`), which recognises tower's
//! `Elapsed` as a `timeout` and the errors steadfast knows ([`ProviderError`],
//! [`std::io::Error`]) behind the box.
//!
//! # Order
//!
//! How to stack this with a circuit breaker and tower's timeout, concurrency and rate
//! limits, from the outside in:
//!
//! ```text
//! ConcurrencyLimitLayer   caps calls in flight, whole calls with their retries
//! CircuitBreakerLayer     counts each call once; when open, refuses before any attempt
//! RetryLayer              attempts, backoff, Retry-After, deadline, budget
//! TimeoutLayer            one attempt's time (map its BoxError with BoxFailure)
//! RateLimitLayer          paces attempts, retries included, as the provider counts them
//! service                 the provider call
//! ```
//!
//! - **Breaker outside retry** (as above): one failed call is one failure however many
//!   attempts it took, and an open breaker stops the call — and so every retry it would have
//!   made — without calling the service. **Breaker inside retry** (`RetryLayer` then
//!   `CircuitBreakerLayer`): every attempt counts, and an open breaker's refusal ends the
//!   retry loop at once (it is a [`Failure::is_refusal`]), so no backoff is slept first. The
//!   steadfast fallback chain uses the second order (retry → breaker → timeout → provider)
//!   because each provider has its own breaker and fallback sits outside both.
//! - **Timeout inside retry** bounds each attempt, so a hung attempt becomes a `timeout`
//!   that is retried. A `TimeoutLayer` *outside* retry bounds the whole call, backoff waits
//!   included; prefer [`RetryConfig::deadline`](crate::RetryConfig::deadline) for that,
//!   since the policy then refuses a wait that would pass the deadline instead of being cut
//!   in the middle of it.
//! - **Concurrency limit outside** counts a retrying call as one slot for its whole life;
//!   inside retry it would be released and re-taken between attempts.
//! - **Rate limit inside retry** paces every attempt, since a provider's requests-per-minute
//!   counts retries too; outside it would pace calls and let retries through unpaced.
//!
//! ```
//! use std::time::Duration;
//! use steadfast_errors::{ErrorKind, ProviderError};
//! use steadfast_retry::tower::{BoxFailure, RetryLayer};
//! use steadfast_retry::{RetryConfig, RetryPolicy};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let counted = attempts.clone();
//! let flaky = tower::service_fn(move |question: &'static str| {
//!     let n = counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!     async move {
//!         if n == 0 { Err(ProviderError::new(ErrorKind::Overloaded, "p", "busy")) } else { Ok(question.len()) }
//!     }
//! });
//! let mut service = ServiceBuilder::new()
//!     .layer(RetryLayer::new(RetryPolicy::new(RetryConfig::default())))
//!     .map_err(BoxFailure::from)
//!     .timeout(Duration::from_secs(30))
//!     .service(flaky);
//! let answer = service.ready().await.unwrap().call("why?").await.unwrap();
//! assert_eq!(answer, 4);
//! assert_eq!(attempts.load(std::sync::atomic::Ordering::Relaxed), 2);
//! # }
//! ```

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ::tower::retry::budget::Budget;
use ::tower::{BoxError, Layer, Service};
use steadfast_errors::{ErrorKind, Failure, ProviderError};

use crate::budget::RetryBudget;
use crate::policy::RetryPolicy;

/// Wraps a service in [`Retry`] with a [`RetryPolicy`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer that retries with `policy` (clones share its budget).
    pub fn new(policy: RetryPolicy) -> RetryLayer {
        RetryLayer { policy }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, service: S) -> Retry<S> {
        Retry::new(self.policy.clone(), service)
    }
}

/// A service that retries `S` with a [`RetryPolicy`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Retry<S> {
    policy: RetryPolicy,
    service: S,
}

impl<S> Retry<S> {
    /// `service`, retried with `policy`.
    pub fn new(policy: RetryPolicy, service: S) -> Retry<S> {
        Retry { policy, service }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.service
    }
}

/// The future a [`Retry`] returns: the whole run, every attempt and wait.
pub type ResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, Request> Service<Request> for Retry<S>
where
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Failure + Send + 'static,
    Request: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The first attempt goes to the service the caller drove to readiness; the retries
        // go to a clone, made ready again before each one.
        let mut first = Some(self.service.call(request.clone()));
        let retries = self.service.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            policy
                .run(move |_| {
                    let attempt = match first.take() {
                        Some(sent) => Attempt::Sent(sent),
                        None => Attempt::Retry(retries.clone(), request.clone()),
                    };
                    attempt.run()
                })
                .await
                .result
        })
    }
}

/// One attempt: the first, already sent, or a retry still to send.
enum Attempt<S, Request, F> {
    Sent(F),
    Retry(S, Request),
}

impl<S, Request> Attempt<S, Request, S::Future>
where
    S: Service<Request>,
{
    async fn run(self) -> Result<S::Response, S::Error> {
        match self {
            Attempt::Sent(future) => future.await,
            Attempt::Retry(mut service, request) => {
                poll_fn(|cx| service.poll_ready(cx)).await?;
                service.call(request).await
            }
        }
    }
}

/// The budget tower's own `tower::retry::Retry` policies can draw from; the same account
/// as [`RetryBudget::deposit`] and [`RetryBudget::withdraw`].
///
/// ```
/// use steadfast_retry::{BudgetConfig, RetryBudget};
/// use tower::retry::budget::Budget;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let budget = RetryBudget::new(BudgetConfig { min_per_sec: 0, retry_percent: 1.0, ..BudgetConfig::default() });
/// Budget::deposit(&budget);
/// assert!(Budget::withdraw(&budget));
/// assert!(!Budget::withdraw(&budget));
/// # }
/// ```
impl Budget for RetryBudget {
    fn deposit(&self) {
        RetryBudget::deposit(self);
    }

    fn withdraw(&self) -> bool {
        RetryBudget::withdraw(self)
    }
}

/// A tower [`BoxError`] that answers [`Failure`]: tower's `Elapsed` is a retryable
/// `timeout`; a [`ProviderError`] or [`std::io::Error`] in the box answers for
/// itself; anything else is not retried and counts against health (kind unknown).
pub struct BoxFailure(pub BoxError);

impl BoxFailure {
    /// The error steadfast knows behind the box, if any.
    fn known(&self) -> Option<&dyn Failure> {
        let e = &*self.0;
        if let Some(e) = e.downcast_ref::<ProviderError>() {
            Some(e)
        } else if let Some(e) = e.downcast_ref::<std::io::Error>() {
            Some(e)
        } else if e.is::<::tower::timeout::error::Elapsed>() {
            Some(&ErrorKind::Timeout)
        } else {
            None
        }
    }

    /// The boxed error.
    pub fn into_inner(self) -> BoxError {
        self.0
    }
}

impl From<BoxError> for BoxFailure {
    fn from(error: BoxError) -> BoxFailure {
        BoxFailure(error)
    }
}

impl fmt::Debug for BoxFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for BoxFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for BoxFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl Failure for BoxFailure {
    fn is_retryable(&self) -> bool {
        self.known().is_some_and(|e| e.is_retryable())
    }

    fn retry_after(&self) -> Option<Duration> {
        self.known().and_then(|e| e.retry_after())
    }

    fn counts_against_health(&self) -> bool {
        self.known().is_none_or(|e| e.counts_against_health())
    }

    fn kind(&self) -> Option<ErrorKind> {
        self.known().and_then(|e| e.kind())
    }

    fn is_refusal(&self) -> bool {
        self.known().is_some_and(|e| e.is_refusal())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use ::tower::{ServiceBuilder, ServiceExt};

    use super::*;
    use crate::{BudgetConfig, RetryConfig};

    /// A service failing with `error` on its first `failures` calls, counting every call.
    fn flaky(
        failures: u32,
        error: ErrorKind,
    ) -> (
        Arc<AtomicU32>,
        impl Service<u32, Response = u32, Error = ErrorKind, Future: Send> + Clone + Send,
    ) {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let service = ::tower::service_fn(move |x: u32| {
            let n = counted.fetch_add(1, Ordering::Relaxed);
            async move { if n < failures { Err(error) } else { Ok(x * 2) } }
        });
        (calls, service)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_an_answer() {
        let (calls, service) = flaky(2, ErrorKind::Server);
        let mut retry = RetryLayer::new(RetryPolicy::default()).layer(service);
        let answer = retry.ready().await.unwrap().call(21).await;
        assert_eq!(answer, Ok(42));
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_the_attempt_limit_and_on_a_non_retryable_error() {
        let (calls, service) = flaky(10, ErrorKind::Overloaded);
        let mut retry = Retry::new(RetryPolicy::default(), service);
        let answer = retry.ready().await.unwrap().call(1).await;
        assert_eq!(answer, Err(ErrorKind::Overloaded));
        assert_eq!(calls.load(Ordering::Relaxed), 3, "max_attempts is 3");

        let (calls, service) = flaky(10, ErrorKind::InvalidRequest);
        let mut retry = Retry::new(RetryPolicy::default(), service);
        let answer = retry.ready().await.unwrap().call(1).await;
        assert_eq!(answer, Err(ErrorKind::InvalidRequest));
        assert_eq!(calls.load(Ordering::Relaxed), 1, "a 400 is not retried");
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_budget_stops_retries() {
        let budget = RetryBudget::new(BudgetConfig {
            min_per_sec: 0,
            retry_percent: 0.0,
            ..BudgetConfig::default()
        });
        let (calls, service) = flaky(10, ErrorKind::Server);
        let policy = RetryPolicy::new(RetryConfig::default()).with_budget(budget);
        let mut retry = Retry::new(policy, service);
        assert!(retry.ready().await.unwrap().call(1).await.is_err());
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_out_attempt_is_retried() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let slow_then_fast = ::tower::service_fn(move |x: u32| {
            let n = counted.fetch_add(1, Ordering::Relaxed);
            async move {
                if n == 0 {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                Ok::<_, BoxError>(x)
            }
        });
        let mut service = ServiceBuilder::new()
            .layer(RetryLayer::new(RetryPolicy::default()))
            .map_err(BoxFailure::from)
            .timeout(Duration::from_secs(1))
            .service(slow_then_fast);
        let answer = service.ready().await.unwrap().call(7).await.unwrap();
        assert_eq!(answer, 7);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn box_failure_answers_for_what_it_holds() {
        let elapsed: BoxError = Box::new(::tower::timeout::error::Elapsed::new());
        let timeout = BoxFailure::from(elapsed);
        assert_eq!(timeout.kind(), Some(ErrorKind::Timeout));
        assert!(timeout.is_retryable());

        let provider: BoxError = Box::new(
            ProviderError::new(ErrorKind::RateLimited, "p", "slow down")
                .with_retry_after(Duration::from_secs(2)),
        );
        let limited = BoxFailure::from(provider);
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(limited.kind(), Some(ErrorKind::RateLimited));

        let other = BoxFailure::from(BoxError::from("something else"));
        assert!(!other.is_retryable());
        assert!(other.counts_against_health());
        assert_eq!(other.kind(), None);
        assert_eq!(other.to_string(), "something else");
    }

    #[tokio::test(start_paused = true)]
    async fn the_tower_budget_is_the_same_account() {
        let budget = RetryBudget::new(BudgetConfig {
            min_per_sec: 0,
            retry_percent: 1.0,
            ..BudgetConfig::default()
        });
        Budget::deposit(&budget);
        assert!((budget.balance() - 1.0).abs() < 1e-9);
        assert!(Budget::withdraw(&budget));
        assert!(!budget.withdraw());
    }
}
