//! Router scenarios on a paused clock with scripted providers: strategies, recovery to the
//! primary, limits, budgets, cost, stats, affinity, tags, context windows, enable/disable,
//! configuration from files, the health monitor, and a concurrency smoke test.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use steadfast_errors::{ErrorKind, Owner};
use steadfast_fallback::StopReason;
use steadfast_providers_core::{ChatRequest, Message, Pricing};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{
    Budget, ProviderConfig, RouteOptions, Router, RouterConfig, RouterError, StrategyKind,
};

fn mock(id: &str, outcomes: Vec<Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        pricing: Some(Pricing::per_million(1.0, 2.0)),
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

fn request() -> ChatRequest {
    ChatRequest::new("model", vec![Message::user("Hello there")])
}

fn opts() -> RouteOptions {
    RouteOptions::default()
}

async fn who(router: &Router, options: RouteOptions) -> String {
    router.chat(&request(), options).await.unwrap().provider
}

fn router3(strategy: StrategyKind, seed: Option<u64>) -> Router {
    Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), pc(1))
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .provider(mock("c", vec![Outcome::text("c")]), pc(3))
        .config(RouterConfig {
            strategy,
            seed,
            ..RouterConfig::default()
        })
        .build()
}

#[tokio::test(start_paused = true)]
async fn priority_returns_to_primary_after_recovery() {
    let mut primary = pc(1);
    primary.entry.breaker.consecutive_failures = Some(1);
    primary.entry.breaker.open_duration = Duration::from_secs(10);
    let router = Router::builder()
        .provider(mock("backup", vec![Outcome::text("from backup")]), pc(2))
        .provider(
            mock(
                "primary",
                vec![Outcome::Error(ErrorKind::Server), Outcome::text("ok")],
            ),
            primary,
        )
        .build();
    assert_eq!(who(&router, opts()).await, "backup", "primary failed");
    let skipped = router.chat(&request(), opts()).await.unwrap();
    assert_eq!(skipped.provider, "backup", "breaker open: primary skipped");
    assert_eq!(skipped.attempts.len(), 2);
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(who(&router, opts()).await, "primary", "back to the primary");
    assert_eq!(who(&router, opts()).await, "primary");
    assert_eq!(router.stats().failovers, 2);
}

#[tokio::test(start_paused = true)]
async fn round_robin_and_weighted_round_robin() {
    let rr = router3(StrategyKind::RoundRobin, None);
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(who(&rr, opts()).await);
    }
    assert_eq!(seen, ["a", "b", "c", "a"]);

    let mut heavy = pc(1);
    heavy.weight = 2;
    let w = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), heavy)
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .config(RouterConfig {
            strategy: StrategyKind::WeightedRoundRobin,
            ..RouterConfig::default()
        })
        .build();
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(who(&w, opts()).await);
    }
    assert_eq!(seen, ["a", "b", "a", "a", "b", "a"]);
}

#[tokio::test(start_paused = true)]
async fn random_strategies_are_reproducible_with_a_seed() {
    for kind in [StrategyKind::RandomHealthy, StrategyKind::PowerOfTwo] {
        let run = |seed| async move {
            let r = router3(kind, Some(seed));
            let mut seen = Vec::new();
            for _ in 0..12 {
                seen.push(who(&r, opts()).await);
            }
            seen
        };
        let first = run(9).await;
        assert_eq!(first, run(9).await, "{kind:?}");
        if kind == StrategyKind::RandomHealthy {
            for id in ["a", "b", "c"] {
                assert!(first.iter().any(|s| s == id), "{kind:?} reaches {id}");
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn least_busy_and_concurrency_cap() {
    let slow = Outcome::delay(Duration::from_secs(10), Outcome::text("slow"));
    let mut capped = pc(1);
    capped.max_concurrency = Some(1);
    for (kind, config) in [
        (StrategyKind::LeastBusy, pc(1)),
        (StrategyKind::Priority, capped),
    ] {
        let router = Router::builder()
            .provider(mock("a", vec![slow.clone(), Outcome::text("a")]), config)
            .provider(mock("b", vec![Outcome::text("b")]), pc(2))
            .config(RouterConfig {
                strategy: kind,
                ..RouterConfig::default()
            })
            .build();
        let r = router.clone();
        let first = tokio::spawn(async move { who(&r, opts()).await });
        while router.stats().providers[0].in_flight == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(who(&router, opts()).await, "b", "{kind:?}: a is busy");
        assert_eq!(first.await.unwrap(), "a");
        assert_eq!(router.stats().providers[0].in_flight, 0);
        assert_eq!(who(&router, opts()).await, "a", "{kind:?}: a is free again");
    }

    // With nothing else to take the call, the cap refuses it locally.
    let mut capped = pc(1);
    capped.max_concurrency = Some(1);
    let router = Router::builder()
        .provider(mock("a", vec![slow]), capped)
        .build();
    let r = router.clone();
    let first = tokio::spawn(async move { who(&r, opts()).await });
    while router.stats().providers[0].in_flight == 0 {
        tokio::task::yield_now().await;
    }
    let err = router.chat(&request(), opts()).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::RateLimited));
    assert_eq!(err.owner(), Some(Owner::Local));
    first.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn latency_and_cost_strategies() {
    let mut cheap = pc(2);
    cheap.pricing = Some(Pricing::per_million(0.1, 0.2));
    let router = Router::builder()
        .provider(
            mock(
                "slow",
                vec![Outcome::delay(
                    Duration::from_millis(300),
                    Outcome::text("s"),
                )],
            ),
            pc(1),
        )
        .provider(
            mock(
                "fast",
                vec![Outcome::delay(
                    Duration::from_millis(50),
                    Outcome::text("f"),
                )],
            ),
            cheap,
        )
        .config(RouterConfig {
            strategy: StrategyKind::LowestLatency,
            ..RouterConfig::default()
        })
        .build();
    // Both unmeasured: priority order; then fast is unmeasured and goes first.
    assert_eq!(who(&router, opts()).await, "slow");
    assert_eq!(who(&router, opts()).await, "fast");
    assert_eq!(who(&router, opts()).await, "fast");
    let stats = router.stats();
    assert_eq!(stats.providers[0].latency.ewma_ms, Some(300.0));
    assert_eq!(stats.providers[1].latency.p50_ms, 50.0);

    let cheapest = Router::builder()
        .provider(mock("pricey", vec![Outcome::text("p")]), pc(1))
        .provider(
            mock("cheap", vec![Outcome::text("c")]),
            ProviderConfig {
                pricing: Some(Pricing::per_million(0.1, 0.2)),
                ..pc(2)
            },
        )
        .config(RouterConfig {
            strategy: StrategyKind::Cheapest,
            ..RouterConfig::default()
        })
        .build();
    assert_eq!(who(&cheapest, opts()).await, "cheap");
}

#[tokio::test(start_paused = true)]
async fn rpm_and_tpm_limits_skip_then_refuse() {
    let mut limited = pc(1);
    limited.rpm = Some(2);
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), limited)
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .build();
    assert_eq!(who(&router, opts()).await, "a");
    assert_eq!(who(&router, opts()).await, "a");
    assert_eq!(who(&router, opts()).await, "b", "a used its 2 rpm");
    assert_eq!(router.stats().providers[0].rpm, 2);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(who(&router, opts()).await, "a", "the window slid");

    let mut tpm = pc(1);
    tpm.tpm = Some(4); // each answer bills 2 + 1 tokens, the estimate is 2
    let only = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), tpm)
        .build();
    assert_eq!(who(&only, opts()).await, "a");
    let err = only.chat(&request(), opts()).await.unwrap_err();
    assert!(
        matches!(&err, RouterError::Refused(e) if e.kind() == ErrorKind::RateLimited && e.owner() == Owner::Local)
    );
    assert_eq!(only.stats().providers[0].tpm, 3);
}

#[tokio::test(start_paused = true)]
async fn budgets_refuse_with_budget_exceeded() {
    // Each answer costs 2 input * $1/M + 1 output * $2/M = $4e-6.
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), pc(1))
        .config(RouterConfig {
            budget: Some(Budget {
                usd: 7e-6,
                window: Duration::from_secs(3600),
            }),
            ..RouterConfig::default()
        })
        .build();
    assert!((router.chat(&request(), opts()).await.unwrap().cost_usd - 4e-6).abs() < 1e-15);
    router.chat(&request(), opts()).await.unwrap();
    let err = router.chat(&request(), opts()).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::BudgetExceeded));
    assert_eq!(err.owner(), Some(Owner::Local));
    tokio::time::advance(Duration::from_secs(3600)).await;
    router.chat(&request(), opts()).await.unwrap();
    let stats = router.stats();
    assert_eq!((stats.requests, stats.successes, stats.failures), (4, 3, 1));

    // A provider's own budget moves traffic on, then refuses when none is left.
    let mut small = pc(1);
    small.budget = Some(Budget {
        usd: 1e-6,
        window: Duration::from_secs(60),
    });
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), small.clone())
        .provider(mock("b", vec![Outcome::text("b")]), small)
        .build();
    assert_eq!(who(&router, opts()).await, "a");
    assert_eq!(who(&router, opts()).await, "b");
    let err = router.chat(&request(), opts()).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::BudgetExceeded));
}

#[tokio::test(start_paused = true)]
async fn cost_is_summed_over_calls_and_stream_parts() {
    let mut priced = pc(2);
    priced.pricing = Some(Pricing::per_million(10.0, 20.0));
    let router = Router::builder()
        .provider(
            mock("a", vec![Outcome::Error(ErrorKind::Overloaded)]),
            pc(1),
        )
        .provider(
            mock(
                "b",
                vec![
                    Outcome::text("one two three"),
                    Outcome::cut(["One", " two"]),
                    Outcome::continue_from("One two three four"),
                ],
            ),
            priced,
        )
        .build();
    let answer = router.chat(&request(), opts()).await.unwrap();
    // 2 input words at $10/M + 3 output words at $20/M (the configured price wins).
    assert!(
        (answer.cost_usd - 80e-6).abs() < 1e-12,
        "{}",
        answer.cost_usd
    );

    let routed = router.chat_stream(&request(), opts()).await.unwrap();
    assert_eq!(routed.provider, "b");
    let mut stream = routed.value;
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        if let steadfast_providers_core::StreamEvent::TextDelta { text: t } = event.unwrap() {
            text.push_str(&t);
        }
    }
    assert_eq!(text, "One two three four");
    assert_eq!(stream.inner().resumes(), 1);
    let billed = stream.usage();
    assert!(billed.total() > 0);
    assert!((stream.cost_usd() - Pricing::per_million(10.0, 20.0).cost(&billed)).abs() < 1e-12);
    let stats = router.stats();
    assert!((stats.cost_usd - (80e-6 + stream.cost_usd())).abs() < 1e-12);
    assert_eq!(stats.total_tokens, 5 + billed.total());
}

#[tokio::test(start_paused = true)]
async fn stats_are_exact_and_reset() {
    let router = Router::builder()
        .provider(
            mock(
                "a",
                vec![
                    Outcome::delay(
                        Duration::from_millis(100),
                        Outcome::Error(ErrorKind::Server),
                    ),
                    Outcome::delay(Duration::from_millis(200), Outcome::text("x y")),
                ],
            ),
            pc(1),
        )
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .build();
    assert_eq!(who(&router, opts()).await, "b");
    assert_eq!(who(&router, opts()).await, "a");
    let s = router.stats();
    assert_eq!(
        (s.requests, s.successes, s.failures, s.failovers),
        (2, 2, 0, 1)
    );
    assert_eq!(s.success_rate, 1.0);
    let a = &s.providers[0];
    assert_eq!(
        (a.id.as_str(), a.requests, a.successes, a.failures),
        ("a", 2, 1, 1)
    );
    assert_eq!(a.success_rate, 0.5);
    assert_eq!((a.latency.p50_ms, a.latency.p99_ms), (100.0, 200.0));
    assert_eq!((a.input_tokens, a.output_tokens), (2, 2));
    assert_eq!((s.input_tokens, s.output_tokens, s.total_tokens), (4, 3, 7));
    assert!((s.cost_usd - 10e-6).abs() < 1e-12);
    assert_eq!(
        s.overhead.samples, 1,
        "only the call answered at once is sampled"
    );
    assert_eq!(s.overhead.p99_us, 0.0, "the paused clock stands still");
    assert_eq!(a.breaker, steadfast_circuit::State::Closed);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["providers"][0]["health"], "healthy");

    router.reset_stats();
    let s = router.stats();
    assert_eq!((s.requests, s.failovers, s.total_tokens), (0, 0, 0));
    assert_eq!(s.cost_usd, 0.0);
    assert_eq!(
        (s.providers[0].requests, s.providers[0].latency.samples),
        (0, 0)
    );
    assert_eq!(
        s.providers[0].latency.ewma_ms.map(|e| e > 0.0),
        Some(true),
        "kept"
    );
}

#[tokio::test(start_paused = true)]
async fn affinity_sticks_while_eligible() {
    let router = router3(StrategyKind::RoundRobin, None);
    let keyed = || RouteOptions {
        affinity_key: Some("conversation".into()),
        ..RouteOptions::default()
    };
    assert_eq!(who(&router, keyed()).await, "a");
    assert_eq!(who(&router, keyed()).await, "a");
    assert_eq!(
        who(&router, opts()).await,
        "c",
        "round robin moved on meanwhile"
    );
    router.set_enabled("a", false);
    let moved = who(&router, keyed()).await;
    assert_ne!(moved, "a");
    router.set_enabled("a", true);
    assert_eq!(
        who(&router, keyed()).await,
        moved,
        "sticks to the new provider"
    );

    // The map is bounded: the oldest key is forgotten.
    let small = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), pc(1))
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .config(RouterConfig {
            strategy: StrategyKind::RoundRobin,
            affinity_capacity: 1,
            ..RouterConfig::default()
        })
        .build();
    let key = |k: &str| RouteOptions {
        affinity_key: Some(k.into()),
        ..RouteOptions::default()
    };
    assert_eq!(who(&small, key("k1")).await, "a");
    assert_eq!(who(&small, key("k2")).await, "b");
    assert_eq!(
        who(&small, key("k1")).await,
        "a",
        "k1 forgotten: round robin"
    );
    assert_eq!(who(&small, key("k1")).await, "a", "k1 remembered again");
}

#[tokio::test(start_paused = true)]
async fn tags_route_conditionally() {
    let mut eu = pc(1);
    eu.tags = vec!["eu".into()];
    let router = Router::builder()
        .provider(mock("eu", vec![Outcome::text("eu")]), eu)
        .provider(mock("any", vec![Outcome::text("any")]), pc(2))
        .build();
    assert_eq!(who(&router, opts()).await, "any", "untagged request");
    let tagged = || RouteOptions {
        tags: vec!["eu".into(), "gdpr".into()],
        ..RouteOptions::default()
    };
    assert_eq!(who(&router, tagged()).await, "eu");
    router.set_enabled("any", false);
    let err = router.chat(&request(), opts()).await.unwrap_err();
    assert!(matches!(err, RouterError::NoProvider { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn context_window_is_checked_before_the_call() {
    let mut small = pc(1);
    small.entry.context_window = Some(100);
    let a = mock("small", vec![Outcome::text("a")]);
    let router = Router::builder()
        .provider(a.clone(), small)
        .provider(mock("large", vec![Outcome::text("b")]), pc(2))
        .build();
    let long = ChatRequest::new("model", vec![Message::user("x".repeat(400))]).with_max_tokens(1);
    let answer = router.chat(&long, opts()).await.unwrap();
    assert_eq!(answer.provider, "large");
    assert_eq!(answer.attempts.len(), 1, "small was not even tried");
    assert_eq!(a.calls(), 0);
    let fits = ChatRequest::new("model", vec![Message::user("x".repeat(396))]).with_max_tokens(1);
    assert_eq!(router.chat(&fits, opts()).await.unwrap().provider, "small");
}

#[tokio::test(start_paused = true)]
async fn enable_disable_prefer_and_no_fallback() {
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::Error(ErrorKind::Server)]), pc(1))
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .build();
    assert!(router.set_enabled("a", false));
    assert!(!router.set_enabled("nope", false));
    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!((answer.provider.as_str(), answer.attempts.len()), ("b", 1));
    assert!(!router.stats().providers[0].enabled);
    assert!(router.set_enabled("a", true));

    let prefer_b = RouteOptions {
        prefer: Some("b".into()),
        ..RouteOptions::default()
    };
    assert_eq!(who(&router, prefer_b).await, "b");
    let pinned = RouteOptions {
        fallback: false,
        ..RouteOptions::default()
    };
    let err = router.chat(&request(), pinned).await.unwrap_err();
    match err {
        RouterError::Failed(e) => assert_eq!(e.reason, StopReason::FallbackDisabled),
        other => panic!("{other}"),
    }
    router.set_enabled("a", false);
    router.set_enabled("b", false);
    assert!(matches!(
        router.chat(&request(), opts()).await,
        Err(RouterError::NoProvider { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn config_from_toml_and_json() {
    let config: RouterConfig = toml::from_str(
        r#"
        strategy = "priority"
        [budget]
        usd = 1.0
        window = "1h"
        [providers.a]
        priority = 2
        [providers.b]
        priority = 1
        timeout = "1s"
        entry = { retry = { max_attempts = 1 } }
        "#,
    )
    .unwrap();
    assert_eq!(config.providers["b"].timeout, Some(Duration::from_secs(1)));
    let b = mock(
        "b",
        vec![
            Outcome::delay(Duration::from_secs(5), Outcome::text("late")),
            Outcome::text("b"),
        ],
    );
    let router = Router::builder()
        .provider_from_config(mock("a", vec![Outcome::text("a")]))
        .provider_from_config(b)
        .config(config)
        .build();
    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!(answer.provider, "a", "b timed out after its configured 1 s");
    assert_eq!(answer.attempts[0].kind, Some(ErrorKind::Timeout));
    assert_eq!(who(&router, opts()).await, "b");

    let json: RouterConfig =
        serde_json::from_str(r#"{"strategy": "round_robin", "seed": 1, "latency_samples": 8}"#)
            .unwrap();
    assert_eq!(
        (json.strategy, json.seed, json.latency_samples),
        (StrategyKind::RoundRobin, Some(1), 8)
    );
}

#[tokio::test(start_paused = true)]
async fn health_monitor_disables_and_re_enables() {
    let a = mock("a", vec![Outcome::text("a")]);
    let c = mock("c", vec![Outcome::text("c")]);
    let router = Router::builder()
        .provider(a.clone(), pc(1))
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .provider(c.clone(), pc(3))
        .build();
    router.set_enabled("c", false);
    c.set_health(Some(ErrorKind::Server));
    a.set_health(Some(ErrorKind::Server));
    let monitor = router.spawn_health_monitor(Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(who(&router, opts()).await, "b", "a failed its probe");
    assert!(!router.stats().providers[0].enabled);
    a.set_health(None);
    c.set_health(None);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(who(&router, opts()).await, "a", "a passed its probe");
    assert_eq!(c.health_checks(), 0, "manually disabled: never probed");
    assert!(!router.stats().providers[2].enabled);
    assert_eq!(a.health_checks(), 2);
    monitor.abort();
    let probed: Vec<(String, bool)> = router
        .probe_health()
        .await
        .into_iter()
        .map(|c| (c.id, c.passed))
        .collect();
    assert_eq!(probed, [("a".to_owned(), true), ("b".to_owned(), true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_are_all_counted() {
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), pc(1))
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .provider(mock("c", vec![Outcome::text("c")]), pc(3))
        .config(RouterConfig {
            strategy: StrategyKind::PowerOfTwo,
            ..RouterConfig::default()
        })
        .build();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let r = router.clone();
            tokio::spawn(async move {
                for _ in 0..50 {
                    r.chat(&request(), opts()).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = router.stats();
    assert_eq!((s.requests, s.successes, s.failures), (400, 400, 0));
    assert_eq!(s.providers.iter().map(|p| p.requests).sum::<u64>(), 400);
    assert!(s.providers.iter().all(|p| p.in_flight == 0));
    assert_eq!(s.total_tokens, 400 * 3);
    assert_eq!(s.overhead.samples, 400);
}

fn hedging(
    a: Vec<Outcome>,
    b: Vec<Outcome>,
) -> (Router, Arc<ScriptedProvider>, Arc<ScriptedProvider>) {
    let (a, b) = (mock("a", a), mock("b", b));
    let router = Router::builder()
        .provider(a.clone(), pc(1))
        .provider(b.clone(), pc(2))
        .config(RouterConfig {
            hedge_after: Some(Duration::from_secs(1)),
            ..RouterConfig::default()
        })
        .build();
    (router, a, b)
}

#[tokio::test(start_paused = true)]
async fn hedging_starts_a_backup_after_the_delay() {
    let slow = |secs| Outcome::delay(Duration::from_secs(secs), Outcome::text("slow"));
    // The primary is stuck: the backup answers one second in.
    let (router, a, b) = hedging(vec![slow(10)], vec![Outcome::text("b")]);
    let t0 = tokio::time::Instant::now();
    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!(answer.provider, "b");
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    assert_eq!((a.calls(), b.calls()), (1, 1));
    let s = router.stats();
    assert_eq!((s.hedges, s.failovers), (1, 1));
    assert_eq!(s.providers[0].in_flight, 0, "the losing leg was cancelled");

    // The primary answers within the delay: no backup.
    let (router, _, b) = hedging(vec![slow(0)], vec![Outcome::text("b")]);
    assert_eq!(who(&router, opts()).await, "a");
    assert_eq!((b.calls(), router.stats().hedges), (0, 0));

    // Both slow: the primary still wins when it answers first.
    let (router, _, _) = hedging(
        vec![slow(3)],
        vec![Outcome::delay(Duration::from_secs(5), Outcome::text("b"))],
    );
    let t0 = tokio::time::Instant::now();
    assert_eq!(who(&router, opts()).await, "a");
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    assert_eq!(router.stats().failovers, 0);
}

#[tokio::test(start_paused = true)]
async fn hedging_falls_back_and_fails_like_the_chain() {
    // The primary fails at once: the rest runs at once, and its failure is in the log.
    let (router, _, _) = hedging(
        vec![Outcome::Error(ErrorKind::Server)],
        vec![Outcome::text("b")],
    );
    let t0 = tokio::time::Instant::now();
    let answer = router.chat(&request(), opts()).await.unwrap();
    assert_eq!((answer.provider.as_str(), answer.attempts.len()), ("b", 2));
    assert_eq!(answer.attempts[0].kind, Some(ErrorKind::Server));
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(router.stats().hedges, 0);

    // A request that would fail everywhere is not sent to the backup.
    let (router, _, b) = hedging(
        vec![Outcome::Error(ErrorKind::InvalidRequest)],
        vec![Outcome::text("b")],
    );
    let err = router.chat(&request(), opts()).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::InvalidRequest));
    assert_eq!(b.calls(), 0);

    // Both legs fail: one error lists both.
    let (router, _, _) = hedging(
        vec![Outcome::delay(
            Duration::from_secs(2),
            Outcome::Error(ErrorKind::Server),
        )],
        vec![Outcome::Error(ErrorKind::Overloaded)],
    );
    match router.chat(&request(), opts()).await.unwrap_err() {
        RouterError::Failed(e) => {
            let providers: Vec<&str> = e.attempts.iter().map(|a| a.provider.as_str()).collect();
            assert_eq!(providers, ["b", "a"]);
        }
        other => panic!("{other}"),
    }

    // Per call: off by default here, on through the options.
    let (a, b) = (
        mock(
            "a",
            vec![Outcome::delay(Duration::from_secs(10), Outcome::text("a"))],
        ),
        mock("b", vec![Outcome::text("b")]),
    );
    let router = Router::builder()
        .provider(a, pc(1))
        .provider(b, pc(2))
        .build();
    let hedged = RouteOptions {
        hedge_after: Some(Duration::from_millis(200)),
        ..RouteOptions::default()
    };
    let routed = router.chat_stream(&request(), hedged).await.unwrap();
    assert_eq!(routed.provider, "b", "streams hedge on the first token");
    let text: Vec<_> = routed.value.collect().await;
    assert!(text.iter().all(Result::is_ok));
}

/// Only the last candidate: what a custom strategy leaves out is not tried.
#[derive(Debug)]
struct LastOnly;

impl steadfast_router::Strategy for LastOnly {
    fn order(
        &self,
        candidates: &[steadfast_router::Candidate],
        ctx: &steadfast_router::RouteContext<'_>,
    ) -> Vec<usize> {
        assert_eq!(ctx.estimated_tokens, 2);
        vec![candidates.len() - 1, 99]
    }
}

#[tokio::test(start_paused = true)]
async fn custom_strategies_steer_the_chain() {
    let mut off = pc(3);
    off.entry.enabled = false;
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::text("a")]), pc(1))
        .provider(mock("b", vec![Outcome::Error(ErrorKind::Server)]), pc(2))
        .provider(mock("c", vec![Outcome::text("c")]), off)
        .strategy(Arc::new(LastOnly))
        .build();
    let err = router.chat(&request(), opts()).await.unwrap_err();
    match err {
        RouterError::Failed(e) => {
            assert_eq!(e.attempts.len(), 1, "a was left out, c is disabled");
            assert_eq!(e.attempts[0].provider, "b");
        }
        other => panic!("{other}"),
    }
    let prefer_a = RouteOptions {
        prefer: Some("a".into()),
        ..RouteOptions::default()
    };
    assert_eq!(who(&router, prefer_a).await, "a", "prefer adds a candidate");
}

/// Reads `stream` to its end; the text it delivered.
async fn drain(stream: &mut steadfast_router::RouterStream) -> String {
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        if let steadfast_providers_core::StreamEvent::TextDelta { text: t } = event.unwrap() {
            text.push_str(&t);
        }
    }
    text
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_moves_after_its_first_token_counts_as_a_failover() {
    // The primary is cut after its first token and cannot continue; the secondary does.
    let primary = mock(
        "a",
        vec![
            Outcome::cut(["One", " two"]),
            Outcome::Error(ErrorKind::Overloaded),
        ],
    );
    let router = Router::builder()
        .provider(primary, pc(1))
        .provider(
            mock("b", vec![Outcome::continue_from("One two three")]),
            pc(2),
        )
        .build();
    let mut routed = router.chat_stream(&request(), opts()).await.unwrap();
    assert_eq!(routed.provider, "a");
    assert!(!routed.fell_back(), "opened on the first choice");
    assert_eq!(router.stats().failovers, 0);

    assert_eq!(drain(&mut routed.value).await, "One two three");
    assert_eq!(routed.value.inner().provider(), "b");
    let stats = router.stats();
    assert_eq!(
        (stats.requests, stats.successes, stats.failovers),
        (1, 1, 1)
    );
    assert!(
        routed.fell_back(),
        "the answer was finished by another provider"
    );
    assert!(routed.value.fell_back());
    drop(routed);
    assert_eq!(router.stats().failovers, 1, "counted once");

    // A stream resumed on the provider it opened on has not fallen back.
    let same = Router::builder()
        .provider(
            mock(
                "a",
                vec![
                    Outcome::cut(["One", " two"]),
                    Outcome::continue_from("One two three"),
                ],
            ),
            pc(1),
        )
        .provider(mock("b", vec![Outcome::text("b")]), pc(2))
        .build();
    let mut routed = same.chat_stream(&request(), opts()).await.unwrap();
    assert_eq!(drain(&mut routed.value).await, "One two three");
    assert_eq!(routed.value.inner().resumes(), 1);
    assert!(!routed.fell_back() && !routed.value.fell_back());
    assert_eq!(same.stats().failovers, 0);
}

/// A part cut before it reported usage was still generated, and billed, by its provider:
/// the router bills it by the resume layer's rule (one output token per 4 characters it
/// delivered, rounded up) instead of not at all, so its stats, cost and budgets agree with
/// the usage the stream reports.
#[tokio::test(start_paused = true)]
async fn a_part_cut_before_its_usage_is_billed_by_an_estimate() {
    let router = Router::builder()
        .provider(
            mock(
                "b",
                vec![
                    // 9 characters, no usage: cut.
                    Outcome::cut(["One", " two", "!!"]),
                    Outcome::continue_from("One two!! three four"),
                ],
            ),
            pc(1),
        )
        .build();
    let mut stream = router.chat_stream(&request(), opts()).await.unwrap().value;
    let (mut text, mut delivered) = (String::new(), None);
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            steadfast_providers_core::StreamEvent::TextDelta { text: t } => text.push_str(&t),
            steadfast_providers_core::StreamEvent::Usage(u) => delivered = Some(u),
            _ => {}
        }
    }
    assert_eq!(text, "One two!! three four");
    assert_eq!(stream.inner().resumes(), 1);
    // Billed as the stream reports it: the continuation's own usage (4 in, 2 out) plus
    // ceil(9 / 4) = 3 output tokens for the cut part.
    let billed = stream.usage();
    assert_eq!((billed.input_tokens, billed.output_tokens), (4, 5));
    assert_eq!(Some(billed), delivered);
    assert_eq!(router.stats().total_tokens, 9);
    let priced = Pricing::per_million(1.0, 2.0).cost(&billed);
    assert!(
        (stream.cost_usd() - priced).abs() < 1e-15,
        "{}",
        stream.cost_usd()
    );
}
