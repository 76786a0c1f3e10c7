//! A tower stack of steadfast's layers and tower's own over a flaky service: the retry
//! layer retries (a timed-out attempt too), the breaker outside it counts whole calls,
//! opens, refuses without calling the service, and closes again through a probe.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use steadfast_circuit::tower::CircuitBreakerLayer;
use steadfast_circuit::{CallError, CircuitBreaker, Config, State};
use steadfast_errors::{ErrorKind, Failure, ProviderError};
use steadfast_retry::tower::{BoxFailure, RetryLayer};
use steadfast_retry::{Backoff, Jitter, RetryConfig, RetryPolicy};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

/// What the flaky service does on a call.
const HANG_FIRST: u32 = 0;
const FAIL: u32 = 1;
const ANSWER: u32 = 2;

/// Counts every call; hangs on the very first, then fails or answers as `mode` says.
fn flaky(
    calls: Arc<AtomicU32>,
    mode: Arc<AtomicU32>,
) -> impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone + Send + 'static {
    tower::service_fn(move |x: u32| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let mode = mode.load(Ordering::SeqCst);
        async move {
            if n == 0 && mode == HANG_FIRST {
                std::future::pending::<()>().await;
            }
            if mode == ANSWER {
                Ok(x + 1)
            } else {
                Err(ProviderError::new(ErrorKind::Overloaded, "flaky", "overloaded").into())
            }
        }
    })
}

fn policy() -> RetryPolicy {
    RetryPolicy::new(RetryConfig {
        max_attempts: 3,
        backoff: Backoff {
            initial: Duration::from_millis(100),
            multiplier: 2.0,
            max: Duration::from_secs(1),
            jitter: Jitter::None,
        },
        ..RetryConfig::default()
    })
    .without_budget()
}

#[tokio::test(start_paused = true)]
async fn retries_then_the_breaker_opens_and_refuses_without_calling() {
    let calls = Arc::new(AtomicU32::new(0));
    let mode = Arc::new(AtomicU32::new(HANG_FIRST));
    let breaker = CircuitBreaker::new(Config {
        consecutive_failures: Some(2),
        open_duration: Duration::from_secs(30),
        ..Config::default()
    });
    let mut service = ServiceBuilder::new()
        .concurrency_limit(8)
        .layer(CircuitBreakerLayer::new(breaker.clone()))
        .layer(RetryLayer::new(policy()))
        .map_err(BoxFailure::from)
        .timeout(Duration::from_secs(1))
        .service(flaky(Arc::clone(&calls), Arc::clone(&mode)));

    // First call: a timed-out attempt and two overloaded ones, all retried to the limit.
    let first = service.ready().await.unwrap().call(1).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "three attempts");
    assert_eq!(first.kind(), Some(ErrorKind::Overloaded));
    assert!(matches!(first, CallError::Failed(_)));
    assert_eq!(breaker.state(), State::Closed, "one failed call so far");
    assert_eq!(breaker.snapshot().consecutive_failures, 1);

    mode.store(FAIL, Ordering::SeqCst);
    let second = service.ready().await.unwrap().call(2).await.unwrap_err();
    assert!(matches!(second, CallError::Failed(_)));
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    assert_eq!(breaker.state(), State::Open, "two failed calls trip it");

    // Open: refused at once, the service is not called and nothing is retried.
    let refused = service.ready().await.unwrap().call(3).await.unwrap_err();
    assert!(refused.is_refusal());
    assert!(refused.rejected().is_some());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        6,
        "no call reached the service"
    );

    // After the open period a probe goes through and, answered, closes the breaker.
    tokio::time::advance(Duration::from_secs(30)).await;
    mode.store(ANSWER, Ordering::SeqCst);
    let answer = service.ready().await.unwrap().call(41).await.unwrap();
    assert_eq!(answer, 42);
    assert_eq!(calls.load(Ordering::SeqCst), 7);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_breaker_inside_retry_ends_the_retries_when_it_opens() {
    let calls = Arc::new(AtomicU32::new(0));
    let mode = Arc::new(AtomicU32::new(FAIL));
    let breaker = CircuitBreaker::new(Config {
        consecutive_failures: Some(2),
        open_duration: Duration::from_secs(30),
        ..Config::default()
    });
    let mut service = ServiceBuilder::new()
        .layer(RetryLayer::new(
            RetryPolicy::new(RetryConfig {
                max_attempts: 5,
                ..policy().config().clone()
            })
            .without_budget(),
        ))
        .layer(CircuitBreakerLayer::new(breaker.clone()))
        .map_err(BoxFailure::from)
        .timeout(Duration::from_secs(1))
        .service(flaky(Arc::clone(&calls), Arc::clone(&mode)));

    let started = tokio::time::Instant::now();
    let error = service.ready().await.unwrap().call(1).await.unwrap_err();
    // Two attempts trip the breaker; the third is refused and the loop stops there,
    // not at the five attempts the policy allows.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(error.is_refusal());
    assert_eq!(breaker.state(), State::Open);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no wait for the breaker"
    );
}
