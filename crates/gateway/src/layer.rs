//! The two layers every request passes: [`Count`] (the request counter and duration
//! histogram, around every route) and [`Auth`] (the gateway key, on the guarded routes).
//!
//! Hand-written tower layers rather than `axum::middleware::from_fn`: that boxes the
//! inner service and the future of every request at each layer; here the key check adds
//! no allocation and the counter one.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::future::Either;
use tower::{Layer, Service};

use crate::error::{ApiError, Wire};
use crate::meters::Route;
use crate::state::Shared;

/// Checks the gateway key, from `Authorization: Bearer` or `x-api-key` (what Anthropic's
/// SDKs send); a 401 in the route's wire format without it.
#[derive(Clone)]
pub(crate) struct Auth {
    shared: Arc<Shared>,
    wire: Wire,
}

impl Auth {
    pub(crate) fn new(shared: &Arc<Shared>, wire: Wire) -> Auth {
        Auth {
            shared: Arc::clone(shared),
            wire,
        }
    }
}

impl<S> Layer<S> for Auth {
    type Service = Authed<S>;

    fn layer(&self, inner: S) -> Authed<S> {
        Authed {
            inner,
            auth: self.clone(),
        }
    }
}

/// A service behind [`Auth`].
#[derive(Clone)]
pub(crate) struct Authed<S> {
    inner: S,
    auth: Auth,
}

impl<S> Service<Request> for Authed<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, Ready<Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let headers = req.headers();
        let bearer = headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        let api_key = headers.get("x-api-key").map(HeaderValue::as_bytes);
        if self.auth.shared.authorized(bearer, api_key) {
            Either::Left(self.inner.call(req))
        } else {
            Either::Right(ready(Ok(ApiError::unauthorized().respond(self.auth.wire))))
        }
    }
}

/// Counts every answer by route and status, and records the time to its headers.
#[derive(Clone)]
pub(crate) struct Count(pub(crate) Arc<Shared>);

impl<S> Layer<S> for Count {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            shared: Arc::clone(&self.0),
        }
    }
}

/// A service behind [`Count`].
#[derive(Clone)]
pub(crate) struct Counted<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<Request> for Counted<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = Route::of(req.extensions().get::<MatchedPath>());
        let start = Instant::now();
        let answer = self.inner.call(req);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let Ok(response) = answer.await;
            shared
                .meters
                .answered(&route, response.status(), start.elapsed());
            Ok(response)
        })
    }
}
