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
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::future::Either;
use tower::{Layer, Service};

use crate::error::{ApiError, Wire};
use crate::routes::{DURATION, REQUESTS};
use crate::state::Shared;

/// The `route` labels kept as static strings (the gateway's routes and `unmatched`); any
/// other is copied.
const ROUTES: [&str; 9] = [
    "/health",
    "/v1/chat/completions",
    "/chat/completions",
    "/v1/models",
    "/models",
    "/health/providers",
    "/metrics",
    "/v1/messages",
    "unmatched",
];

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
#[derive(Clone, Copy)]
pub(crate) struct Count;

impl<S> Layer<S> for Count {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted(inner)
    }
}

/// A service behind [`Count`].
#[derive(Clone)]
pub(crate) struct Counted<S>(S);

impl<S> Service<Request> for Counted<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = route_label(req.extensions().get::<MatchedPath>());
        let start = Instant::now();
        let answer = self.0.call(req);
        Box::pin(async move {
            let Ok(response) = answer.await;
            let status = status_label(response.status());
            metrics::counter!(REQUESTS, "route" => route.clone(), "status" => status).increment(1);
            metrics::histogram!(DURATION, "route" => route).record(start.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}

/// The `route` label of a request: its route as registered, `unmatched` without one.
fn route_label(path: Option<&MatchedPath>) -> metrics::SharedString {
    let path = path.map_or("unmatched", MatchedPath::as_str);
    match ROUTES.iter().find(|r| **r == path) {
        Some(known) => metrics::SharedString::const_str(known),
        None => metrics::SharedString::from_owned(path.to_owned()),
    }
}

/// The `status` label of an answer: its three digits.
fn status_label(status: StatusCode) -> metrics::SharedString {
    const COMMON: [(u16, &str); 11] = [
        (200, "200"),
        (400, "400"),
        (401, "401"),
        (404, "404"),
        (405, "405"),
        (413, "413"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    match COMMON.iter().find(|(code, _)| *code == status.as_u16()) {
        Some((_, text)) => metrics::SharedString::const_str(text),
        None => metrics::SharedString::from_owned(status.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::status_label;

    #[test]
    fn status_labels_are_the_three_digits() {
        for code in [200, 201, 401, 418, 503, 599] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(&*status_label(status), code.to_string());
        }
    }
}
