//! Changes to a running router on a paused clock: adding and removing providers and
//! swapping the strategy keep every other provider's breaker, counters and limits, a
//! removed provider is never tried again, and shared state follows the changes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use steadfast_circuit::State;
use steadfast_errors::ErrorKind;
use steadfast_fallback::AttemptOutcome;
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::shared::{BreakerNews, Check, ClusterView, SharedError, WindowRef};
use steadfast_router::{
    ProviderConfig, RouteOptions, Router, RouterError, SharedConfig, SharedState, StrategyKind,
};

fn mock(id: &str, outcomes: Vec<Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, outcomes))
}

/// One attempt per provider, so the tests count calls exactly.
fn pc(priority: i32) -> ProviderConfig {
    let mut c = ProviderConfig {
        priority,
        ..ProviderConfig::default()
    };
    c.entry.retry.max_attempts = 1;
    c
}

/// A provider whose breaker opens on its first failure, for a minute.
fn fragile(priority: i32) -> ProviderConfig {
    let mut c = pc(priority);
    c.entry.breaker.consecutive_failures = Some(1);
    c.entry.breaker.open_duration = Duration::from_secs(60);
    c
}

fn request() -> ChatRequest {
    ChatRequest::new("model", vec![Message::user("Hello there")])
}

fn opts() -> RouteOptions {
    RouteOptions::default()
}

fn provider_stats(router: &Router, id: &str) -> steadfast_router::ProviderStats {
    router
        .stats()
        .providers
        .into_iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no stats for {id}"))
}

fn ids(router: &Router) -> Vec<String> {
    router.stats().providers.into_iter().map(|p| p.id).collect()
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_stays_open_across_an_add_and_a_remove() {
    let router = Router::builder()
        .provider(
            mock("a", vec![Outcome::Error(ErrorKind::Server)]),
            fragile(1),
        )
        .provider(mock("c", vec![Outcome::text("from c")]), pc(3))
        .build();
    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!(answer.provider, "c", "a failed and tripped");
    assert_eq!(provider_stats(&router, "a").breaker, State::Open);

    router
        .add_provider(mock("b", vec![Outcome::text("from b")]), pc(2))
        .unwrap();
    assert_eq!(
        ids(&router),
        ["a", "b", "c"],
        "b takes its place by priority"
    );
    let a = provider_stats(&router, "a");
    assert_eq!((a.breaker, a.failures, a.requests), (State::Open, 1, 1));

    assert!(router.remove_provider("c"));
    assert_eq!(ids(&router), ["a", "b"]);
    let a = provider_stats(&router, "a");
    assert_eq!((a.breaker, a.failures), (State::Open, 1));
    assert_eq!(router.stats().requests, 1, "the router's totals are kept");

    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!(answer.provider, "b");
    assert_eq!(
        answer.attempts[0].outcome,
        AttemptOutcome::SkippedBreakerOpen,
        "a is still open, not reset by the changes"
    );
}

#[tokio::test(start_paused = true)]
async fn counters_survive_a_strategy_change() {
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), pc(1))
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .build();
    for _ in 0..3 {
        assert_eq!(router.chat(&request(), opts()).await.unwrap().provider, "a");
    }
    assert_eq!(router.stats().strategy, "priority");

    router.set_strategy_kind(StrategyKind::RoundRobin);
    let stats = router.stats();
    assert_eq!(stats.strategy, "round_robin");
    assert_eq!((stats.requests, stats.successes), (3, 3));
    let a = provider_stats(&router, "a");
    assert_eq!((a.requests, a.successes, a.calls), (3, 3, 3));

    let mut answered = Vec::new();
    for _ in 0..2 {
        answered.push(router.chat(&request(), opts()).await.unwrap().provider);
    }
    answered.sort();
    assert_eq!(
        answered,
        ["a", "b"],
        "the new strategy routes the next calls"
    );
    assert_eq!(provider_stats(&router, "a").requests, 4);
}

#[tokio::test(start_paused = true)]
async fn a_removed_provider_is_skipped_by_a_call_planned_before_the_removal() {
    let slow = mock(
        "a",
        vec![Outcome::delay(
            Duration::from_secs(10),
            Outcome::Error(ErrorKind::Server),
        )],
    );
    let b = mock("b", vec![Outcome::text("from b")]);
    let router = Router::builder()
        .provider(slow, pc(1))
        .provider(b.clone(), pc(2))
        .build();
    let call = tokio::spawn({
        let router = router.clone();
        async move { router.chat(&request(), opts()).await }
    });
    // The call is on a, with b next in its plan.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(router.remove_provider("b"));
    let Err(RouterError::Failed(e)) = call.await.unwrap() else {
        panic!("b is gone, so the call has nowhere to go after a");
    };
    let outcomes: Vec<_> = e
        .attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("a", AttemptOutcome::Failed),
            ("b", AttemptOutcome::SkippedRemoved)
        ]
    );
    assert_eq!(b.calls(), 0, "b was never called");
    assert!(!router.remove_provider("b"), "already gone");
    assert!(router.chat(&request(), opts()).await.is_err());
    assert_eq!(b.calls(), 0, "nor by a later call");
}

#[tokio::test(start_paused = true)]
async fn an_added_provider_is_tried_by_the_next_call() {
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::Error(ErrorKind::Server)]), pc(1))
        .build();
    assert!(router.chat(&request(), opts()).await.is_err());
    let b = mock("b", vec![Outcome::text("from b")]);
    router.add_provider(b.clone(), pc(2)).unwrap();
    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!((answer.provider.as_str(), b.calls()), ("b", 1));
    assert_eq!(provider_stats(&router, "b").calls, 1);
    assert_eq!(provider_stats(&router, "a").failures, 2, "a kept counting");
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_id_is_refused() {
    let a = mock("a", vec![Outcome::text("the first a")]);
    let router = Router::builder().provider(a.clone(), pc(1)).build();
    router.chat(&request(), opts()).await.unwrap();
    let refused = router
        .add_provider(mock("a", vec![Outcome::text("another a")]), pc(0))
        .unwrap_err();
    assert_eq!(refused.id(), "a");
    assert!(refused.to_string().contains("`a`"), "{refused}");
    assert_eq!(ids(&router), ["a"]);
    assert_eq!(router.chain().len(), 1);
    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!(answer.value.text, "the first a");
    assert_eq!((a.calls(), provider_stats(&router, "a").calls), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn a_call_in_flight_on_a_removed_provider_finishes_and_is_not_counted_in_its_successor() {
    let old = mock(
        "a",
        vec![Outcome::delay(
            Duration::from_secs(10),
            Outcome::text("old"),
        )],
    );
    let router = Router::builder().provider(old, pc(1)).build();
    let call = tokio::spawn({
        let router = router.clone();
        async move { router.chat(&request(), opts()).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(router.remove_provider("a"));
    router
        .add_provider(mock("a", vec![Outcome::text("new")]), pc(1))
        .unwrap();
    let answer = call.await.unwrap().unwrap();
    assert_eq!(
        (answer.provider.as_str(), answer.value.text.as_str()),
        ("a", "old")
    );
    let a = provider_stats(&router, "a");
    assert_eq!(
        (a.requests, a.calls, a.successes),
        (0, 0, 0),
        "a fresh provider"
    );
    assert_eq!(router.stats().successes, 1, "the router counted the call");
    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!(answer.value.text, "new");
    assert_eq!(provider_stats(&router, "a").calls, 1);
}

/// A state that answers every read with nothing shared, and records what it was asked.
#[derive(Debug, Default)]
struct Recorder {
    viewed: Mutex<Vec<Vec<String>>>,
    news: Mutex<Vec<String>>,
}

#[async_trait]
impl SharedState for Recorder {
    async fn reserve(&self, _: &WindowRef, _: f64, _: f64, _: Check) -> Result<bool, SharedError> {
        Ok(true)
    }
    async fn settle(&self, _: &WindowRef, _: f64) -> Result<(), SharedError> {
        Ok(())
    }
    async fn publish(&self, provider: &str, _: BreakerNews) -> Result<(), SharedError> {
        self.news.lock().unwrap().push(provider.to_owned());
        Ok(())
    }
    async fn view(
        &self,
        windows: &[WindowRef],
        providers: &[&str],
    ) -> Result<ClusterView, SharedError> {
        self.viewed
            .lock()
            .unwrap()
            .push(providers.iter().map(|p| (*p).to_owned()).collect());
        Ok(ClusterView {
            sums: vec![0.0; windows.len()],
            breakers: vec![None; providers.len()],
        })
    }
    async fn claim_probe(&self, _: &str, _: Duration) -> Result<bool, SharedError> {
        Ok(false)
    }
}

#[tokio::test(start_paused = true)]
async fn shared_state_follows_added_and_removed_providers() {
    let state = Arc::new(Recorder::default());
    let interval = Duration::from_millis(50);
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), pc(1))
        .shared_state(state.clone(), SharedConfig::with_refresh_interval(interval))
        .build();
    let last_view = || {
        state
            .viewed
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    };
    tokio::time::sleep(interval * 2).await;
    assert_eq!(last_view(), ["a"]);

    router
        .add_provider(
            mock("b", vec![Outcome::Error(ErrorKind::Server)]),
            fragile(0),
        )
        .unwrap();
    tokio::time::sleep(interval * 2).await;
    assert_eq!(last_view(), ["a", "b"]);
    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!(answer.provider, "a", "b failed first and tripped");
    tokio::time::sleep(interval * 2).await;
    assert_eq!(
        *state.news.lock().unwrap(),
        ["b"],
        "the added provider's trip is published"
    );

    assert!(router.remove_provider("a"));
    tokio::time::sleep(interval * 2).await;
    assert_eq!(last_view(), ["b"]);
}

#[test]
fn a_provider_added_at_run_time_has_its_metrics() {
    use metrics_exporter_prometheus::PrometheusBuilder;
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let router = Router::builder()
                .name("g")
                .provider(mock("a", vec![Outcome::Error(ErrorKind::Server)]), pc(1))
                .build();
            router
                .add_provider(mock("b", vec![Outcome::text("from b")]), pc(2))
                .unwrap();
            let answer = router.chat(&request(), opts()).await.unwrap();
            assert_eq!(answer.provider, "b");
        });
    });
    let text = handle.render();
    let attempts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("steadfast_attempts{"))
        .collect();
    assert!(
        attempts.contains(
            &"steadfast_attempts{model_group=\"g\",provider=\"b\",outcome=\"success\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("steadfast_fallbacks{model_group=\"g\",provider=\"a\"} 1"),
        "{text}"
    );
}
