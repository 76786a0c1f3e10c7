//! The router over a `SharedState` that is down or refuses: calls fail open on a broken
//! state, a refusal falls back, and news of a local trip reaches the state.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::shared::{BreakerNews, Check, ClusterView, SharedError, WindowRef};
use steadfast_router::{ProviderConfig, RouteOptions, Router, SharedConfig, SharedState};

/// A state that fails every call, or refuses every reservation, and records breaker news.
#[derive(Debug, Default)]
struct Fake {
    refuse: bool,
    calls: AtomicU32,
    news: Mutex<Vec<(String, BreakerNews)>>,
}

#[async_trait]
impl SharedState for Fake {
    async fn reserve(&self, _: &WindowRef, _: f64, _: f64, _: Check) -> Result<bool, SharedError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.refuse {
            Ok(false)
        } else {
            Err(SharedError::Unavailable("down".into()))
        }
    }
    async fn settle(&self, _: &WindowRef, _: f64) -> Result<(), SharedError> {
        Err(SharedError::Unavailable("down".into()))
    }
    async fn publish(&self, provider: &str, news: BreakerNews) -> Result<(), SharedError> {
        self.news.lock().unwrap().push((provider.to_owned(), news));
        Ok(())
    }
    async fn view(&self, _: &[WindowRef], _: &[&str]) -> Result<ClusterView, SharedError> {
        Err(SharedError::Unavailable("down".into()))
    }
    async fn claim_probe(&self, _: &str, _: Duration) -> Result<bool, SharedError> {
        Err(SharedError::Unavailable("down".into()))
    }
}

fn mock(id: &str, outcome: Outcome) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::from_fn(config, move |_, _| {
        outcome.clone()
    }))
}

fn limited(priority: i32) -> ProviderConfig {
    ProviderConfig {
        priority,
        rpm: Some(1000),
        ..ProviderConfig::default()
    }
}

fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("hi")])
}

#[tokio::test(start_paused = true)]
async fn a_broken_state_fails_no_call() {
    let state = Arc::new(Fake::default());
    let router = Router::builder()
        .provider(mock("a", Outcome::text("ok")), limited(0))
        .shared_state(state.clone(), SharedConfig::default())
        .build();
    for _ in 0..5 {
        let answer = router.chat(&request(), RouteOptions::default()).await;
        assert_eq!(answer.expect("fails open").provider, "a");
        tokio::time::advance(Duration::from_millis(60)).await;
    }
    assert_eq!(
        state.calls.load(Ordering::Relaxed),
        5,
        "one reservation per attempt"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cluster_refusal_falls_back_like_a_local_limit() {
    let state = Arc::new(Fake {
        refuse: true,
        ..Fake::default()
    });
    let router = Router::builder()
        .provider(mock("a", Outcome::text("from a")), limited(0))
        .provider(
            mock("b", Outcome::text("from b")),
            ProviderConfig {
                priority: 1,
                ..ProviderConfig::default()
            },
        )
        .shared_state(state, SharedConfig::default())
        .build();
    let answer = router
        .chat(&request(), RouteOptions::default())
        .await
        .unwrap();
    assert_eq!(answer.provider, "b");
    let a = &router.stats().providers[0];
    assert_eq!(
        a.successes, 0,
        "the refused attempt never reached the provider"
    );
}

#[tokio::test(start_paused = true)]
async fn a_local_trip_is_published() {
    let state = Arc::new(Fake::default());
    let entry = steadfast_fallback::EntryConfig {
        retry: steadfast_retry::RetryConfig {
            max_attempts: 1,
            ..Default::default()
        },
        breaker: steadfast_circuit::Config {
            consecutive_failures: Some(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let router = Router::builder()
        .provider(
            mock("a", Outcome::Error(ErrorKind::Server)),
            ProviderConfig {
                entry,
                ..ProviderConfig::default()
            },
        )
        .shared_state(state.clone(), SharedConfig::default())
        .build();
    let _ = router.chat(&request(), RouteOptions::default()).await;
    // The sync task publishes on its next turn.
    tokio::time::advance(Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
    let news = state.news.lock().unwrap().clone();
    assert_eq!(news.len(), 1, "{news:?}");
    assert_eq!(news[0].0, "a");
    assert!(matches!(news[0].1, BreakerNews::Opened(d) if d > Duration::ZERO));
}

/// A state that answers: it holds what was published and can be told another instance's
/// probe closed the breaker.
#[derive(Debug, Default)]
struct Answering {
    open: Mutex<Option<Duration>>,
    closed_elsewhere: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl SharedState for Answering {
    async fn reserve(&self, _: &WindowRef, _: f64, _: f64, _: Check) -> Result<bool, SharedError> {
        Ok(true)
    }
    async fn settle(&self, _: &WindowRef, _: f64) -> Result<(), SharedError> {
        Ok(())
    }
    async fn publish(&self, _: &str, news: BreakerNews) -> Result<(), SharedError> {
        if let BreakerNews::Opened(d) = news {
            *self.open.lock().unwrap() = Some(d);
        }
        Ok(())
    }
    async fn view(&self, _: &[WindowRef], ids: &[&str]) -> Result<ClusterView, SharedError> {
        use steadfast_router::shared::SharedBreaker;
        let breaker = if self.closed_elsewhere.load(Ordering::Relaxed) {
            Some(SharedBreaker::Closed)
        } else {
            self.open.lock().unwrap().map(SharedBreaker::Open)
        };
        Ok(ClusterView {
            sums: Vec::new(),
            breakers: ids.iter().map(|_| breaker).collect(),
        })
    }
    async fn claim_probe(&self, _: &str, _: Duration) -> Result<bool, SharedError> {
        Ok(false)
    }
}

/// The instance that tripped closes on the next refresh after another instance's probe
/// closed the breaker, like every other instance: its own trip was published before that
/// view was read, so the view's `closed` is the verdict on it.
#[tokio::test(start_paused = true)]
async fn the_tripping_instance_takes_the_clusters_recovery_at_the_next_refresh() {
    let state = Arc::new(Answering::default());
    let entry = steadfast_fallback::EntryConfig {
        retry: steadfast_retry::RetryConfig {
            max_attempts: 1,
            ..Default::default()
        },
        breaker: steadfast_circuit::Config {
            consecutive_failures: Some(1),
            open_duration: Duration::from_secs(30),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut shared = SharedConfig::default();
    shared.refresh_interval = Duration::from_millis(50);
    shared.timeout = Duration::from_millis(500);
    let router = Router::builder()
        .provider(
            mock("a", Outcome::Error(ErrorKind::Server)),
            ProviderConfig {
                entry,
                ..ProviderConfig::default()
            },
        )
        .shared_state(state.clone(), shared)
        .build();
    let breaker = |r: &Router| r.stats().providers[0].breaker;
    let _ = router.chat(&request(), RouteOptions::default()).await;
    // Published, and read back as open for two refreshes.
    for _ in 0..2 {
        tokio::time::advance(Duration::from_millis(50)).await;
        tokio::task::yield_now().await;
    }
    assert!(
        state.open.lock().unwrap().is_some(),
        "the trip was published"
    );
    assert_eq!(breaker(&router), steadfast_circuit::State::Open);
    // Another instance probes and closes it; this one takes that at its next refresh.
    state.closed_elsewhere.store(true, Ordering::Relaxed);
    for _ in 0..2 {
        tokio::time::advance(Duration::from_millis(50)).await;
        tokio::task::yield_now().await;
    }
    assert_eq!(breaker(&router), steadfast_circuit::State::Closed);
}
