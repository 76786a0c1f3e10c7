//! The `Router` as a `tower::Service<ChatRequest>` (feature `tower`).
//!
//! [`Router`] is an `Arc` inside, so the service is a cheap clone of it and every clone
//! routes over the same providers, limits and stats. It is always ready: the router's own
//! limits and breakers refuse a call in `call` ([`RouterError::Refused`] or a failed chain),
//! not by backpressure. Each call uses [`RouteOptions::default`]; for per-call options
//! call [`Router::chat`] directly.
//!
//! The router already retries, breaks circuits and falls back per provider inside, so a
//! retry or breaker layer around it is rarely wanted; tower's `ConcurrencyLimitLayer`,
//! `RateLimitLayer` and a `TimeoutLayer` for the whole call are the usual additions. Where
//! each goes and why is the `# Order` section of `steadfast_retry::tower`.
//!
//! ```
//! use std::sync::Arc;
//! use steadfast_providers_core::{ChatRequest, Message};
//! use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
//! use steadfast_router::{ProviderConfig, Router};
//! use tower::{Service, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let config = ScriptedConfig { id: "a".into(), ..ScriptedConfig::default() };
//! let provider = Arc::new(ScriptedProvider::new(config, vec![Outcome::text("hi")]));
//! let router = Router::builder().provider(provider, ProviderConfig::default()).build();
//! let mut service = router.clone();
//! let request = ChatRequest::new("m", vec![Message::user("hello")]);
//! let routed = service.ready().await.unwrap().call(request).await.unwrap();
//! assert_eq!(routed.provider, "a");
//! assert_eq!(router.stats().requests, 1);
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use steadfast_providers_core::{ChatRequest, ChatResponse};

use crate::error::RouterError;
use crate::options::{RouteOptions, Routed};
use crate::router::Router;

/// The future [`Router`]'s `Service::call` returns.
pub type RouterFuture =
    Pin<Box<dyn Future<Output = Result<Routed<ChatResponse>, RouterError>> + Send + 'static>>;

impl tower::Service<ChatRequest> for Router {
    type Response = Routed<ChatResponse>;
    type Error = RouterError;
    type Future = RouterFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), RouterError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: ChatRequest) -> RouterFuture {
        let router = self.clone();
        Box::pin(async move { router.chat(&request, RouteOptions::default()).await })
    }
}
