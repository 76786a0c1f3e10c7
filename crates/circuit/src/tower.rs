//! tower adapters (feature `tower`): [`CircuitBreakerLayer`] and [`CircuitBreakerService`],
//! a [`CircuitBreaker`] in front of any `tower::Service` whose error implements `Failure`.
//!
//! Each call asks the breaker for a [`Permit`] inside `call`. Refused, it
//! answers at once with [`CallError::Rejected`] and the service is not called; admitted, the
//! call's result is reported through the permit when its future completes, and a future
//! dropped before that (a timeout outside, a client that hung up) cancels the permit, which
//! counts as neither success nor failure and frees a half-open probe slot. Half-open probes
//! are limited exactly as [`Config::half_open_probes`](crate::Config::half_open_probes)
//! says, since admission is the breaker's own.
//!
//! `poll_ready` forwards to the inner service: readiness is backpressure, and an open
//! breaker answers in `call` without waiting for it. The service is `Clone` when the
//! inner one is; clones share the breaker.
//!
//! Where to put it among tower's own layers and a `RetryLayer` is the `# Order` section of
//! `steadfast_retry::tower` (feature `tower` of `steadfast-retry`), and the crate docs'
//! [`# Order`](crate#order).
//!
//! ```
//! use steadfast_circuit::tower::CircuitBreakerLayer;
//! use steadfast_circuit::{CallError, CircuitBreaker, Config};
//! use steadfast_errors::ErrorKind;
//! use tower::{Layer, Service, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let breaker = CircuitBreaker::new(Config { consecutive_failures: Some(1), ..Config::default() });
//! let failing = tower::service_fn(|_: ()| async { Err::<(), _>(ErrorKind::Server) });
//! let mut service = CircuitBreakerLayer::new(breaker).layer(failing);
//! let first = service.ready().await.unwrap().call(()).await;
//! assert!(matches!(first, Err(CallError::Failed(ErrorKind::Server))));
//! let second = service.ready().await.unwrap().call(()).await;
//! assert!(matches!(second, Err(CallError::Rejected(_))), "open: refused without a call");
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tower::{Layer, Service};
use pin_project_lite::pin_project;
use steadfast_errors::Failure;

use crate::breaker::CircuitBreaker;
use crate::error::{CallError, Rejected};
use crate::permit::Permit;

/// Puts a [`CircuitBreaker`] in front of a service; every service it makes shares the
/// breaker.
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    breaker: CircuitBreaker,
}

impl CircuitBreakerLayer {
    /// A layer guarding services with `breaker` (a clone of it: its state is shared).
    pub fn new(breaker: CircuitBreaker) -> CircuitBreakerLayer {
        CircuitBreakerLayer { breaker }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreakerService<S>;

    fn layer(&self, service: S) -> CircuitBreakerService<S> {
        CircuitBreakerService::new(self.breaker.clone(), service)
    }
}

/// A service behind a [`CircuitBreaker`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CircuitBreakerService<S> {
    breaker: CircuitBreaker,
    service: S,
}

impl<S> CircuitBreakerService<S> {
    /// `service` behind `breaker`.
    pub fn new(breaker: CircuitBreaker, service: S) -> CircuitBreakerService<S> {
        CircuitBreakerService { breaker, service }
    }

    /// The breaker (for its state and snapshot).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
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

impl<S, Request> Service<Request> for CircuitBreakerService<S>
where
    S: Service<Request>,
    S::Error: Failure,
{
    type Response = S::Response;
    type Error = CallError<S::Error>;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx).map_err(CallError::Failed)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.breaker.try_acquire() {
            Ok(permit) => ResponseFuture {
                inner: Some(self.service.call(request)),
                permit: Some(permit),
                rejected: None,
            },
            Err(rejected) => ResponseFuture {
                inner: None,
                permit: None,
                rejected: Some(rejected),
            },
        }
    }
}

pin_project! {
    /// The future a [`CircuitBreakerService`] returns: the refusal, or the admitted call
    /// holding its permit until it completes.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        permit: Option<Permit>,
        rejected: Option<Rejected>,
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Failure,
{
    type Output = Result<T, CallError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(rejected) = this.rejected.take() {
            return Poll::Ready(Err(CallError::Rejected(rejected)));
        }
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            // Polled again after completing: a caller bug, answered as `futures`' own
            // combinators answer it.
            panic!("CircuitBreakerService's future polled after it completed");
        };
        let result = std::task::ready!(inner.poll(cx));
        this.inner.set(None);
        let permit = this.permit.take();
        Poll::Ready(match result {
            Ok(value) => {
                if let Some(p) = permit {
                    p.success();
                }
                Ok(value)
            }
            Err(error) => {
                if let Some(p) = permit {
                    p.failure(&error);
                }
                Err(CallError::Failed(error))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use ::tower::ServiceExt;
    use steadfast_errors::ErrorKind;

    use super::*;
    use crate::{Config, State};

    fn counting(
        fail: bool,
    ) -> (
        Arc<AtomicU32>,
        impl Service<(), Response = (), Error = ErrorKind> + Clone,
    ) {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let service = ::tower::service_fn(move |()| {
            counted.fetch_add(1, Ordering::Relaxed);
            async move { if fail { Err(ErrorKind::Server) } else { Ok(()) } }
        });
        (calls, service)
    }

    #[tokio::test(start_paused = true)]
    async fn opens_refuses_without_calling_and_recovers_through_a_probe() {
        let breaker = CircuitBreaker::new(Config {
            consecutive_failures: Some(2),
            open_duration: Duration::from_secs(10),
            ..Config::default()
        });
        let (calls, failing) = counting(true);
        let mut service = CircuitBreakerLayer::new(breaker.clone()).layer(failing);
        for _ in 0..2 {
            let r = service.ready().await.unwrap().call(()).await;
            assert!(matches!(r, Err(CallError::Failed(ErrorKind::Server))));
        }
        assert_eq!(breaker.state(), State::Open);
        let refused = service.ready().await.unwrap().call(()).await.unwrap_err();
        assert!(refused.is_refusal());
        assert_eq!(
            calls.load(Ordering::Relaxed),
            2,
            "an open breaker calls nothing"
        );

        tokio::time::advance(Duration::from_secs(10)).await;
        let (calls, healthy) = counting(false);
        let mut service = CircuitBreakerService::new(breaker.clone(), healthy);
        service.ready().await.unwrap().call(()).await.unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_eq!(breaker.state(), State::Closed, "the probe closed it");
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_admits_only_its_probes_and_a_dropped_call_frees_the_slot() {
        let breaker = CircuitBreaker::new(Config {
            consecutive_failures: Some(1),
            open_duration: Duration::from_secs(1),
            half_open_probes: 1,
            ..Config::default()
        });
        breaker
            .try_acquire()
            .unwrap()
            .failure(&ErrorKind::Overloaded);
        tokio::time::advance(Duration::from_secs(1)).await;
        let hanging = ::tower::service_fn(|()| std::future::pending::<Result<(), ErrorKind>>());
        let mut service = CircuitBreakerService::new(breaker.clone(), hanging);
        let probe = service.ready().await.unwrap().call(());
        assert_eq!(breaker.state(), State::HalfOpen);
        let second = service.ready().await.unwrap().call(()).await.unwrap_err();
        assert_eq!(
            second.rejected().map(Rejected::state),
            Some(State::HalfOpen)
        );
        drop(probe);
        assert!(
            breaker.try_acquire().is_ok(),
            "a cancelled probe gives its slot back"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_that_does_not_count_leaves_it_closed() {
        let breaker = CircuitBreaker::new(Config {
            consecutive_failures: Some(1),
            ..Config::default()
        });
        let bad_request =
            ::tower::service_fn(|()| async { Err::<(), _>(ErrorKind::InvalidRequest) });
        let mut service = CircuitBreakerService::new(breaker.clone(), bad_request);
        let r = service.ready().await.unwrap().call(()).await;
        assert!(matches!(
            r,
            Err(CallError::Failed(ErrorKind::InvalidRequest))
        ));
        assert_eq!(breaker.state(), State::Closed);
    }
}
