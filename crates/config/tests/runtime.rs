//! A manager's changes at run time (seed 002's `add_provider`, seed 004's
//! `set_failover_strategy`) keep the group's breakers, counters and routing state.

use std::sync::Arc;
use std::time::Duration;

use steadfast_circuit::State;
use steadfast_config::{ConfigFile, Format, Steadfast};
use steadfast_fallback::AttemptOutcome;
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, ProviderStats, StrategyKind};

const CONFIG: &str = r#"
[deployments.a]
kind = "mock"
script = [{ error = "server" }]
retry = { max_attempts = 1 }
breaker = { consecutive_failures = 1, open_duration = "60s" }
priority = 1

[deployments.c]
kind = "mock"
script = [{ text = "from c" }]
retry = { max_attempts = 1 }
priority = 3

[groups.g]
deployments = ["a", "c"]
"#;

fn build() -> Steadfast {
    let file = ConfigFile::parse(CONFIG, Format::Toml).unwrap_or_else(|e| panic!("{e}"));
    Steadfast::build(&file, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

fn request() -> ChatRequest {
    ChatRequest::new("g", vec![Message::user("hi")])
}

fn mock(id: &str, outcomes: Vec<Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, outcomes))
}

fn pc(priority: i32) -> ProviderConfig {
    let mut c = ProviderConfig {
        priority,
        ..ProviderConfig::default()
    };
    c.entry.retry.max_attempts = 1;
    c
}

fn of(sf: &Steadfast, id: &str) -> ProviderStats {
    sf.stats()["g"]
        .providers
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {id} in the group's stats"))
}

#[tokio::test(start_paused = true)]
async fn a_breaker_stays_open_across_adding_and_removing_deployments() {
    let sf = build();
    let answer = sf.chat(Some("g"), &request(), sf.route_options()).await;
    assert_eq!(answer.unwrap().provider, "c", "a failed and tripped");
    assert_eq!(of(&sf, "a").breaker, State::Open);

    assert!(sf.add_deployment("g", mock("b", vec![Outcome::text("from b")]), pc(2)));
    let a = of(&sf, "a");
    assert_eq!((a.breaker, a.failures), (State::Open, 1), "kept by the add");
    assert!(sf.remove_deployment("g", "c"));
    let a = of(&sf, "a");
    assert_eq!(
        (a.breaker, a.failures),
        (State::Open, 1),
        "kept by the remove"
    );
    assert_eq!(sf.stats()["g"].requests, 1, "the group's totals are kept");

    let answer = sf
        .chat(Some("g"), &request(), sf.route_options())
        .await
        .unwrap();
    assert_eq!(answer.provider, "b");
    assert_eq!(
        answer.attempts[0].outcome,
        AttemptOutcome::SkippedBreakerOpen
    );
}

#[tokio::test(start_paused = true)]
async fn counters_survive_a_strategy_change() {
    let sf = build();
    for _ in 0..2 {
        let answer = sf.chat(Some("g"), &request(), sf.route_options()).await;
        assert_eq!(answer.unwrap().provider, "c");
    }
    assert!(sf.set_strategy("g", StrategyKind::RoundRobin));
    let stats = &sf.stats()["g"];
    assert_eq!(stats.strategy, "round_robin");
    assert_eq!(
        (stats.requests, stats.successes, stats.failovers),
        (2, 2, 2)
    );
    let a = of(&sf, "a");
    assert_eq!((a.requests, a.failures, a.breaker), (1, 1, State::Open));
    assert_eq!(of(&sf, "c").calls, 2);
}

#[tokio::test(start_paused = true)]
async fn a_removed_deployment_is_skipped_by_a_call_already_running() {
    let sf = Arc::new(build());
    let slow = mock(
        "slow",
        vec![Outcome::delay(
            Duration::from_secs(10),
            Outcome::Error(steadfast_errors::ErrorKind::Server),
        )],
    );
    assert!(sf.add_deployment("g", slow, pc(0)));
    // Let a's breaker be the only thing that differs: close it for this test.
    sf.router(Some("g"))
        .unwrap()
        .chain()
        .breaker("a")
        .unwrap()
        .reset();
    let call = tokio::spawn({
        let sf = Arc::clone(&sf);
        async move { sf.chat(Some("g"), &request(), sf.route_options()).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sf.remove_deployment("g", "c"));
    let e = call.await.unwrap().unwrap_err();
    let steadfast_config::CallError::Failed { source, .. } = e else {
        panic!("expected the group to fail, got {e}");
    };
    let steadfast_router::RouterError::Failed(f) = source else {
        panic!("expected attempts");
    };
    let c = f
        .attempts
        .iter()
        .find(|r| r.provider == "c")
        .expect("c was planned");
    assert_eq!(c.outcome, AttemptOutcome::SkippedRemoved);
}

#[tokio::test(start_paused = true)]
async fn an_added_deployment_is_tried_next_and_a_duplicate_is_refused() {
    let sf = build();
    let b = mock("b", vec![Outcome::text("from b")]);
    assert!(sf.add_deployment("g", b.clone(), pc(0)));
    assert!(
        !sf.add_deployment("g", mock("b", vec![]), pc(0)),
        "b is taken"
    );
    assert!(
        !sf.add_deployment("g", mock("a", vec![]), pc(0)),
        "a is taken"
    );
    let answer = sf
        .chat(Some("g"), &request(), sf.route_options())
        .await
        .unwrap();
    assert_eq!((answer.provider.as_str(), b.calls()), ("b", 1));
}

#[tokio::test(start_paused = true)]
async fn the_listing_and_status_follow_the_roster() {
    let sf = build();
    let names = |sf: &Steadfast| -> Vec<(String, Vec<String>)> {
        sf.deployments()
            .into_iter()
            .map(|d| (d.name, d.groups))
            .collect()
    };
    let g = || vec!["g".to_owned()];
    assert_eq!(names(&sf), [("a".to_owned(), g()), ("c".to_owned(), g())]);

    let mut config = pc(2);
    config.model = Some("gpt-4o-mini".into());
    assert!(sf.add_deployment("g", mock("b", vec![Outcome::text("from b")]), config));
    assert!(sf.remove_deployment("g", "c"));
    assert_eq!(names(&sf), [("a".to_owned(), g()), ("b".to_owned(), g())]);
    let b = sf
        .deployments()
        .into_iter()
        .find(|d| d.name == "b")
        .unwrap();
    assert_eq!((b.kind, b.model.as_str()), (None, "gpt-4o-mini"));

    let status: Vec<_> = sf
        .status()
        .await
        .into_iter()
        .map(|s| (s.name, s.kind))
        .collect();
    assert_eq!(
        status,
        [
            ("a".to_owned(), Some(steadfast_config::Kind::Mock)),
            ("b".to_owned(), None)
        ],
        "the added deployment is probed and listed, the removed one is not"
    );
}
