//! An OpenAI-compatible HTTP gateway over a steadfast config: any client in any language
//! points its `base_url` at it and gets steadfast's retries, fallback and mid-stream resume
//! behind one endpoint. Clients that speak only Anthropic's Messages format use
//! `POST /v1/messages` ([`messages`]) over the same routing.
//!
//! The key decisions:
//!
//! - **One stream, or an explicit error.** A streamed answer is one uninterrupted OpenAI
//!   SSE stream whatever happens behind it; when the router cannot finish an answer it has
//!   started, the stream ends with an in-band `{"error": {…}}` chunk and no `data: [DONE]`
//!   (openai-python raises `APIError` on it), never with a clean end after a truncated
//!   answer. On `/v1/messages` the same promise is an `event: error` and no
//!   `message_stop`.
//! - **Errors before the first byte are OpenAI error JSON** with a status a client can act
//!   on: 400 (with the field as `param`), 401, 404, 413, 429 with `Retry-After` for a local
//!   limit, 502/503 listing each attempt (provider, kind, status — never a message a
//!   provider wrote, nor a key) — in Anthropic's `{"type": "error", …}` shape on
//!   `/v1/messages`.
//! - **Thin.** Every behaviour is the library's ([`steadfast_config::Steadfast`]); the
//!   gateway translates the wire format and enforces the HTTP limits.
//!
//! `docs/gateway.md` in the repository documents endpoints, headers, errors, metrics and
//! the security defaults.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use steadfast_config::Steadfast;
//! use steadfast_gateway::{Gateway, GatewayConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let sf = Arc::new(Steadfast::from_path("examples/steadfast.toml")?);
//! let gateway = Gateway::new(sf, GatewayConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
//! gateway.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod config;
mod error;
mod layer;
pub mod messages;
mod meters;
pub mod request;
pub mod response;
mod routes;
mod serve;
mod state;
mod stream;

use std::future::Future;
use std::io;
use std::sync::Arc;

use steadfast_config::Steadfast;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::{GatewayConfig, METRICS_UPKEEP_EVERY, MetricsRender, MetricsUpkeep};
pub use error::{ApiError, AttemptView};
pub use routes::{
    ATTEMPTS_HEADER, DURATION, FALLBACKS_HEADER, OVERHEAD_HEADER, PROVIDER_HEADER, REQUESTS,
};

use state::Shared;

/// The gateway: the routes over a [`Steadfast`], and the server that runs them.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("steadfast", &self.shared.sf)
            .field("config", &self.shared.config)
            .finish()
    }
}

impl Gateway {
    /// A gateway over `sf`.
    pub fn new(sf: Arc<Steadfast>, config: GatewayConfig) -> Gateway {
        Gateway {
            shared: Arc::new(Shared::new(sf, config)),
        }
    }

    /// The routes, as an [`axum::Router`] to serve or nest elsewhere (without the header
    /// read timeout and graceful shutdown of [`serve`](Self::serve)).
    pub fn router(&self) -> axum::Router {
        routes::router(Arc::clone(&self.shared))
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting, lets streams
    /// in flight go on for [`GatewayConfig::shutdown_grace`], ends those still open with
    /// the in-band error, and returns once every connection closed.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        serve::serve(Arc::clone(&self.shared), self.router(), listener, shutdown).await
    }

    /// Requests in flight now (a stream counts until its last byte or its client left),
    /// as a watch to wait on.
    pub fn in_flight(&self) -> watch::Receiver<usize> {
        self.shared.in_flight()
    }

    /// Client connections open now, as a watch to wait on.
    pub fn connections(&self) -> watch::Receiver<usize> {
        self.shared.connections().subscribe()
    }
}
