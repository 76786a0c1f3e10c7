//! The stats that answer the seeds, on a paused clock: calls apart from attempts, error and
//! request rates over 1- and 5-minute windows that fill and expire, consecutive failures,
//! breaker failures, failed providers, the strategy's name, and health checks recorded by
//! `probe_health` and `probe`.

use std::sync::Arc;
use std::time::Duration;

use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{
    Candidate, ProviderConfig, RouteContext, RouteOptions, Router, RouterConfig, Strategy,
    StrategyKind,
};

fn mock(id: &str, outcomes: Vec<Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, outcomes))
}

fn pc(priority: i32, attempts: u32) -> ProviderConfig {
    let mut c = ProviderConfig {
        priority,
        ..ProviderConfig::default()
    };
    c.entry.retry.max_attempts = attempts;
    c.entry.retry.budget = None;
    c
}

fn request() -> ChatRequest {
    ChatRequest::new("model", vec![Message::user("Hello there")])
}

async fn call(router: &Router) -> String {
    router
        .chat(&request(), RouteOptions::default())
        .await
        .unwrap()
        .provider
}

#[tokio::test(start_paused = true)]
async fn calls_are_counted_apart_from_attempts() {
    let a = mock(
        "a",
        vec![
            Outcome::Error(ErrorKind::Server),
            Outcome::Error(ErrorKind::Server),
            Outcome::text("ok"),
        ],
    );
    let router = Router::builder().provider(a, pc(1, 3)).build();
    assert_eq!(call(&router).await, "a");
    let stats = router.stats();
    let p = &stats.providers[0];
    assert_eq!((p.attempts, p.requests, p.calls), (3, 3, 1));
    assert_eq!((p.successes, p.failures), (1, 2));
    assert_eq!(p.consecutive_failures, 0, "the success ended the run");
    assert_eq!((p.window_1m.attempts, p.window_1m.failures), (3, 2));
    assert!((p.window_1m.error_rate - 2.0 / 3.0).abs() < 1e-9);
    assert!((p.window_1m.per_minute - 3.0).abs() < 1e-9);
    assert!((p.window_5m.per_minute - 0.6).abs() < 1e-9);
    assert_eq!(stats.failed_providers, ["a"]);
}

#[tokio::test(start_paused = true)]
async fn windows_expire_and_failed_providers_with_them() {
    let a = mock("a", vec![Outcome::Error(ErrorKind::Overloaded)]);
    let b = mock("b", vec![Outcome::text("b")]);
    let router = Router::builder()
        .provider(a, pc(1, 1))
        .provider(b, pc(2, 1))
        .build();
    assert_eq!(call(&router).await, "b");
    assert_eq!(call(&router).await, "b", "a's breaker is not open yet");
    let stats = router.stats();
    let (a, b) = (&stats.providers[0], &stats.providers[1]);
    assert_eq!(a.consecutive_failures, 2);
    assert_eq!((a.window_1m.attempts, a.window_1m.failures), (2, 2));
    assert_eq!(a.window_1m.error_rate, 1.0);
    assert_eq!((a.calls, b.calls), (0, 2));
    assert_eq!(b.window_1m.error_rate, 0.0);
    assert_eq!(stats.failed_providers, ["a"]);

    tokio::time::advance(Duration::from_secs(61)).await;
    let stats = router.stats();
    let a = &stats.providers[0];
    assert_eq!(a.window_1m.attempts, 0, "the minute has passed");
    assert_eq!(a.window_5m.attempts, 2, "still inside five minutes");
    assert!(stats.failed_providers.is_empty());
    assert_eq!(a.consecutive_failures, 2, "a run is not timed");

    tokio::time::advance(Duration::from_secs(240)).await;
    assert_eq!(router.stats().providers[0].window_5m.attempts, 0);

    router.reset_stats();
    assert_eq!(router.stats().providers[0].consecutive_failures, 0);
}

#[tokio::test(start_paused = true)]
async fn breaker_state_and_failures_are_reported() {
    let a = mock("a", vec![Outcome::Error(ErrorKind::Server)]);
    let b = mock("b", vec![Outcome::text("b")]);
    let mut config = pc(1, 1);
    config.entry.breaker.consecutive_failures = Some(3);
    let router = Router::builder()
        .provider(a, config)
        .provider(b, pc(2, 1))
        .build();
    for _ in 0..2 {
        call(&router).await;
    }
    let a = router.stats().providers[0].clone();
    assert_eq!(a.breaker, steadfast_circuit::State::Closed);
    assert_eq!(a.breaker_failures, 2);
    call(&router).await;
    let a = router.stats().providers[0].clone();
    assert_eq!(a.breaker, steadfast_circuit::State::Open);
    assert_eq!(a.consecutive_failures, 3);
}

#[tokio::test(start_paused = true)]
async fn health_checks_are_kept_and_one_provider_can_be_probed() {
    let a = mock("a", vec![Outcome::text("a")]);
    let b = mock("b", vec![Outcome::text("b")]);
    let router = Router::builder()
        .provider(Arc::clone(&a) as _, pc(1, 1))
        .provider(Arc::clone(&b) as _, pc(2, 1))
        .build();
    assert!(router.stats().providers[0].last_check.is_none());

    a.set_health(Some(ErrorKind::Server));
    let checks = router.probe_health().await;
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0].id, "a");
    assert!(!checks[0].passed);
    assert_eq!(checks[0].error_kind, Some(ErrorKind::Server));
    assert!(checks[0].error.is_some());
    assert!(checks[1].passed && checks[1].error.is_none());
    assert!(checks[0].at_unix_ms > 0);
    let stats = router.stats();
    assert_eq!(stats.providers[0].last_check.as_ref(), Some(&checks[0]));
    assert!(!stats.providers[0].enabled, "a failed probe disables it");

    a.set_health(None);
    let again = router.probe("a").await.expect("a exists");
    assert!(again.passed);
    assert!(router.stats().providers[0].enabled, "enabled again");
    assert_eq!(a.health_checks(), 2);
    assert_eq!(b.health_checks(), 1, "probe(id) probes only that one");
    assert!(router.probe("nobody").await.is_none());

    // A provider disabled by hand is probed on demand but stays disabled.
    router.set_enabled("b", false);
    assert!(router.probe("b").await.unwrap().passed);
    assert!(!router.stats().providers[1].enabled);
}

#[derive(Debug)]
struct Reversed;

impl Strategy for Reversed {
    fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
        (0..candidates.len()).rev().collect()
    }
}

#[tokio::test(start_paused = true)]
async fn the_active_strategy_is_named_and_everything_serializes() {
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), pc(1, 1))
        .config(RouterConfig {
            strategy: StrategyKind::RoundRobin,
            ..RouterConfig::default()
        })
        .build();
    assert_eq!(router.stats().strategy, "round_robin");
    router.probe_health().await;
    let json = serde_json::to_value(router.stats()).unwrap();
    assert_eq!(json["strategy"], "round_robin");
    assert_eq!(json["providers"][0]["window_1m"]["attempts"], 0);
    assert_eq!(json["providers"][0]["last_check"]["passed"], true);
    assert!(json["failed_providers"].as_array().unwrap().is_empty());

    let custom = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), pc(1, 1))
        .strategy(Arc::new(Reversed))
        .build();
    assert_eq!(custom.stats().strategy, "custom");
    assert_eq!(Router::builder().build().stats().strategy, "priority");
}
