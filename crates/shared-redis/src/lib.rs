//! Router state shared across instances on Redis: [`RedisState`] implements
//! [`steadfast_router::SharedState`].
//!
//! The key decision: **Redis is never on the critical path of correctness, only of
//! precision.** Every command runs under a short timeout; a Redis that is down, slow or
//! restarting makes the router fall back to its local limits and breakers (fail-open), logs
//! one warning per outage (target `steadfast_shared_redis`) and counts each failed command
//! in the `metrics` counter `steadfast.shared.errors`. The connection is a
//! [`redis::aio::ConnectionManager`], which reconnects with backoff; when it cannot be made
//! at all (Redis down at start-up), a new one is tried at most every [`RedisConfig::reconnect_every`].
//!
//! # Keys
//!
//! Every key is under `{namespace}:` and expires:
//!
//! - `{ns}:w:{scope}:{meter}:{span_ms}` — a hash of time buckets (1/60 of the span, on
//!   Redis's clock, so instances need not agree on the time) for one sliding window; it
//!   expires one span after its last write. Reserving is one Lua script: prune, sum, check,
//!   add — atomic across instances.
//! - `{ns}:breaker:{provider}` — `open` for the trip's open duration, or `closed` for
//!   [`RedisConfig::closed_ttl`] after a recovery.
//! - `{ns}:probe:{provider}` — the half-open probe lock (`SET NX PX`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use steadfast_router::{Router, SharedConfig};
//! use steadfast_shared_redis::{RedisConfig, RedisState};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let state = RedisState::new(RedisConfig::new("redis://127.0.0.1:6379", "my-service"))?;
//! let router = Router::builder()
//!     // .provider(...)
//!     .shared_state(Arc::new(state), SharedConfig::default())
//!     .build();
//! # drop(router); Ok(()) }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use steadfast_router::shared::{
    BreakerNews, Check, ClusterView, SharedBreaker, SharedError, SharedState, WindowRef,
};
use tokio::time::Instant;

mod scripts;

/// The counter incremented on every Redis command that failed or timed out.
pub const ERRORS_METRIC: &str = "steadfast.shared.errors";

/// How to reach Redis and how to use it.
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://[:password@]host:port[/db]`; may hold a password, so never printed.
    pub url: String,
    /// The prefix of every key, so several services can share one Redis.
    pub namespace: String,
    /// The longest one command may take. Default 50 ms.
    pub timeout: Duration,
    /// How long a recovery stays published. Default 10 s.
    pub closed_ttl: Duration,
    /// How often a connection is tried while none could be made. Default 250 ms.
    pub reconnect_every: Duration,
}

impl RedisConfig {
    /// A config with the defaults.
    pub fn new(url: impl Into<String>, namespace: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            namespace: namespace.into(),
            timeout: Duration::from_millis(50),
            closed_ttl: Duration::from_secs(10),
            reconnect_every: Duration::from_millis(250),
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"<redacted>")
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why a [`RedisState`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStateError {
    /// The URL is not a Redis URL (its text is not repeated: it may hold a password).
    #[error("the shared-state redis url is invalid")]
    InvalidUrl(#[source] redis::RedisError),
}

/// [`SharedState`] on Redis. See the [crate docs](crate).
pub struct RedisState {
    client: Client,
    config: RedisConfig,
    conn: tokio::sync::Mutex<Connection>,
    down: AtomicBool,
    window: Script,
    view: Script,
}

#[derive(Default)]
struct Connection {
    manager: Option<ConnectionManager>,
    last_try: Option<Instant>,
}

impl fmt::Debug for RedisState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisState")
            .field("namespace", &self.config.namespace)
            .field("down", &self.down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RedisState {
    /// A state on the Redis at `config.url`; connects on first use (so a Redis that is
    /// down at start-up delays nothing).
    pub fn new(config: RedisConfig) -> Result<Self, RedisStateError> {
        let client = Client::open(config.url.as_str()).map_err(RedisStateError::InvalidUrl)?;
        Ok(RedisState {
            client,
            config,
            conn: tokio::sync::Mutex::new(Connection::default()),
            down: AtomicBool::new(false),
            window: Script::new(scripts::WINDOW),
            view: Script::new(scripts::VIEW),
        })
    }

    /// Whether the last command failed (Redis is taken to be down until one succeeds).
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.config.namespace.clone();
        for p in parts {
            key.push(':');
            key.push_str(p);
        }
        key
    }

    fn window_key(&self, w: &WindowRef) -> String {
        let span = w.span.as_millis().to_string();
        self.key(&["w", &w.scope, w.meter.as_str(), &span])
    }

    /// The connection, made now when there is none and the last try is old enough.
    async fn connection(&self) -> Result<ConnectionManager, SharedError> {
        let mut conn = self.conn.lock().await;
        if let Some(m) = &conn.manager {
            return Ok(m.clone());
        }
        if conn
            .last_try
            .is_some_and(|t| t.elapsed() < self.config.reconnect_every)
        {
            return Err(SharedError::Unavailable("not connected".into()));
        }
        conn.last_try = Some(Instant::now());
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.config.timeout.max(Duration::from_millis(100)))
            .set_response_timeout(self.config.timeout)
            // One try per `reconnect_every`: this gate, not the manager's backoff, paces
            // reconnection, so a restarted Redis is used again within that interval.
            .set_number_of_retries(0);
        let made = ConnectionManager::new_with_config(self.client.clone(), config);
        match tokio::time::timeout(self.config.timeout * 4, made).await {
            Ok(Ok(m)) => {
                conn.manager = Some(m.clone());
                Ok(m)
            }
            Ok(Err(e)) => Err(SharedError::Unavailable(e.to_string())),
            Err(_) => Err(SharedError::Timeout(self.config.timeout * 4)),
        }
    }

    /// Runs one command under the timeout, and keeps the outage bookkeeping.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, SharedError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let result = async {
            let conn = self.connection().await?;
            match tokio::time::timeout(self.config.timeout, op(conn)).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => {
                    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
                        // The manager's own reconnection waits a second or more before its
                        // first try; a new one, made at most every `reconnect_every`,
                        // connects as soon as Redis is back.
                        self.conn.lock().await.manager = None;
                    }
                    Err(SharedError::Unavailable(e.to_string()))
                }
                Err(_) => Err(SharedError::Timeout(self.config.timeout)),
            }
        }
        .await;
        match &result {
            Ok(_) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!(target: "steadfast_shared_redis", namespace = %self.config.namespace, "shared state reachable again; resyncing");
                }
            }
            Err(e) => {
                metrics::counter!(ERRORS_METRIC).increment(1);
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(target: "steadfast_shared_redis", namespace = %self.config.namespace, error = %e, "shared state unreachable: routing on local state until it answers");
                }
            }
        }
        result
    }

    async fn window_op(
        &self,
        w: &WindowRef,
        limit: f64,
        amount: f64,
        mode: &str,
    ) -> Result<bool, SharedError> {
        let key = self.window_key(w);
        let span = u64::try_from(w.span.as_millis()).unwrap_or(u64::MAX).max(1);
        let answer: (i64, String) = self
            .run(|mut c| async move {
                self.window
                    .key(&key)
                    .arg(span)
                    .arg(limit)
                    .arg(amount)
                    .arg(mode)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(answer.0 == 1)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl SharedState for RedisState {
    async fn reserve(
        &self,
        window: &WindowRef,
        limit: f64,
        amount: f64,
        check: Check,
    ) -> Result<bool, SharedError> {
        let mode = match check {
            Check::Below => "below",
            _ => "fits",
        };
        self.window_op(window, limit, amount, mode).await
    }

    async fn settle(&self, window: &WindowRef, delta: f64) -> Result<(), SharedError> {
        self.window_op(window, 0.0, delta, "add").await.map(drop)
    }

    async fn publish(&self, provider: &str, news: BreakerNews) -> Result<(), SharedError> {
        let key = self.key(&["breaker", provider]);
        let probe = self.key(&["probe", provider]);
        let (value, ttl) = match news {
            BreakerNews::Opened(d) => ("open", millis(d)),
            _ => ("closed", millis(self.config.closed_ttl)),
        };
        self.run(|mut c| async move {
            redis::pipe()
                .cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("PX")
                .arg(ttl)
                .ignore()
                .cmd("DEL")
                .arg(&probe)
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    async fn view(
        &self,
        windows: &[WindowRef],
        providers: &[&str],
    ) -> Result<ClusterView, SharedError> {
        let mut keys: Vec<String> = windows.iter().map(|w| self.window_key(w)).collect();
        keys.extend(providers.iter().map(|p| self.key(&["breaker", p])));
        let spans: Vec<u64> = windows.iter().map(|w| millis(w.span)).collect();
        let n = windows.len();
        let answer: Vec<String> = self
            .run(|mut c| async move {
                let mut call = self.view.prepare_invoke();
                for k in &keys {
                    call.key(k);
                }
                call.arg(n);
                for s in &spans {
                    call.arg(*s);
                }
                call.invoke_async(&mut c).await
            })
            .await?;
        if answer.len() != n + providers.len() {
            return Err(SharedError::Unavailable(
                "the view script answered the wrong number of values".into(),
            ));
        }
        let sums = answer[..n]
            .iter()
            .map(|s| s.parse::<f64>().unwrap_or(0.0))
            .collect();
        let breakers = answer[n..].iter().map(|s| parse_breaker(s)).collect();
        Ok(ClusterView { sums, breakers })
    }

    async fn claim_probe(&self, provider: &str, ttl: Duration) -> Result<bool, SharedError> {
        let key = self.key(&["probe", provider]);
        let ttl = millis(ttl);
        let set: Option<String> = self
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg("1")
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }
}

/// `open:<ms left>`, `closed`, or empty (nothing published).
fn parse_breaker(s: &str) -> Option<SharedBreaker> {
    if s == "closed" {
        return Some(SharedBreaker::Closed);
    }
    let ms = s.strip_prefix("open:")?.parse::<u64>().ok()?;
    Some(SharedBreaker::Open(Duration::from_millis(ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_answers_parse() {
        assert_eq!(parse_breaker("closed"), Some(SharedBreaker::Closed));
        assert_eq!(
            parse_breaker("open:1500"),
            Some(SharedBreaker::Open(Duration::from_millis(1500)))
        );
        assert_eq!(parse_breaker(""), None);
        assert_eq!(parse_breaker("open:x"), None);
    }

    #[test]
    fn debug_never_shows_the_url() {
        let config = RedisConfig::new("redis://:hunter2@127.0.0.1:1/0", "ns");
        assert!(!format!("{config:?}").contains("hunter2"));
        let state = RedisState::new(config).unwrap();
        assert!(!format!("{state:?}").contains("hunter2"));
        let err = RedisState::new(RedisConfig::new("nope://:hunter2@x", "ns")).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }
}
