//! Router instances sharing one real `redis-server`: limits across processes, breaker
//! trips and recoveries across instances, Redis killed mid-run, budgets.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use steadfast_circuit::State;
use steadfast_errors::ErrorKind;
use steadfast_fallback::EntryConfig;
use steadfast_providers_core::{ChatRequest, Message, Pricing};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_retry::RetryConfig;
use steadfast_router::{Budget, ProviderConfig, RouteOptions, Router, RouterConfig};

/// A provider that answers (2 input + 2 output tokens per the mock) unless `failing`.
fn provider(id: &str, failing: Arc<AtomicBool>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        pricing: Some(Pricing::per_million(1.0, 1.0)),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::from_fn(config, move |_, _| {
        if failing.load(Ordering::Relaxed) {
            Outcome::Error(ErrorKind::Server)
        } else {
            Outcome::text("shared answer")
        }
    }))
}

/// One attempt per provider; a breaker that trips on one failure for `open` and closes on
/// one probe.
fn entry(open: Duration) -> EntryConfig {
    EntryConfig {
        retry: RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        },
        breaker: steadfast_circuit::Config {
            consecutive_failures: Some(1),
            failure_rate: None,
            open_duration: open,
            half_open_probes: 1,
            half_open_successes: 1,
            ..steadfast_circuit::Config::default()
        },
        ..EntryConfig::default()
    }
}

fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("hello")])
}

const CHILD: &str = "STEADFAST_SHARED_CHILD";

/// Not a test by itself: the body of one router process in
/// `rpm_holds_across_three_processes` (it does nothing unless spawned by it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_instance() {
    let Ok(url) = std::env::var(CHILD) else {
        return;
    };
    let ns = std::env::var("STEADFAST_SHARED_NS").expect("namespace");
    let router = common::shared_router(&url, &ns, |b| {
        b.provider(
            provider("primary", Arc::default()),
            ProviderConfig {
                rpm: Some(60),
                entry: entry(Duration::from_secs(30)),
                ..ProviderConfig::default()
            },
        )
    });
    // Let every process connect first, so the race is on the limit, not the connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let router = router.clone();
        tasks.push(tokio::spawn(async move {
            let mut admitted = 0u32;
            for _ in 0..15 {
                if router
                    .chat(&request(), RouteOptions::default())
                    .await
                    .is_ok()
                {
                    admitted += 1;
                }
            }
            admitted
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += t.await.expect("task");
    }
    println!("ADMITTED={admitted}");
}

#[test]
fn rpm_holds_across_three_processes() {
    let Some(redis) = common::redis() else { return };
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_instance",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD, redis.url())
                .env("STEADFAST_SHARED_NS", "rpm-test")
                .output_async()
        })
        .collect();
    let mut total = 0u32;
    for child in children {
        let out = child.wait_with_output().expect("child runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {text}");
        // The test harness may print on the same line.
        let admitted: u32 = text
            .split("ADMITTED=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("child printed no count: {text}"));
        total += admitted;
    }
    println!("three processes, 360 calls, rpm 60: {total} admitted");
    // Reservations are atomic in Redis: no overshoot while it answers, and the limit is
    // used in full.
    assert_eq!(total, 60);
}

/// `Command::spawn` with captured output, under a name that says what it is for.
trait SpawnCaptured {
    fn output_async(&mut self) -> std::process::Child;
}

impl SpawnCaptured for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    }
}

/// Polls `done` every few milliseconds, for at most 5 s; how long it took.
async fn until(mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if done() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

fn breaker_state(router: &Router) -> State {
    router.chain().breaker("primary").expect("breaker").state()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_on_one_instance_opens_the_others_and_recovery_closes_them() {
    let Some(redis) = common::redis() else { return };
    let failing_on_a = Arc::new(AtomicBool::new(true));
    let make = |failing: Arc<AtomicBool>| {
        common::shared_router(&redis.url(), "breaker-test", |b| {
            b.provider(
                provider("primary", failing),
                ProviderConfig {
                    priority: 0,
                    entry: entry(Duration::from_millis(400)),
                    ..ProviderConfig::default()
                },
            )
            .provider(
                provider("backup", Arc::default()),
                ProviderConfig {
                    priority: 1,
                    entry: entry(Duration::from_secs(30)),
                    ..ProviderConfig::default()
                },
            )
        })
    };
    let a = make(Arc::clone(&failing_on_a));
    let b = make(Arc::default());
    let c = make(Arc::default());
    // Let the three connect and read the (empty) view once.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let answer = a.chat(&request(), RouteOptions::default()).await.unwrap();
    assert_eq!(answer.provider, "backup");
    assert_eq!(breaker_state(&a), State::Open);
    let seen = until(|| breaker_state(&b) == State::Open && breaker_state(&c) == State::Open)
        .await
        .expect("B and C learn the trip");
    println!("trip on A seen open on B and C after {seen:?}");
    // B and C fall back without calling their (healthy) primary.
    let answer = b.chat(&request(), RouteOptions::default()).await.unwrap();
    assert_eq!(answer.provider, "backup");

    // The primary recovers; calls keep coming until one instance's probe closes it.
    failing_on_a.store(false, Ordering::Relaxed);
    let mut probed_at = None;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        for r in [&a, &b, &c] {
            let answer = r.chat(&request(), RouteOptions::default()).await.unwrap();
            if answer.provider == "primary" && probed_at.is_none() {
                probed_at = Some(Instant::now());
            }
        }
        if probed_at.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let probed_at = probed_at.expect("one instance probed the primary");
    let closed = until(|| {
        [&a, &b, &c]
            .iter()
            .all(|r| breaker_state(r) == State::Closed)
    })
    .await
    .expect("every instance closes after the probe");
    println!(
        "recovery seen closed everywhere {:?} after the probe",
        probed_at.elapsed().min(closed + Duration::from_millis(5))
    );
    let primary_calls: u64 = [&a, &b, &c]
        .iter()
        .map(|r| r.stats().providers[0].requests)
        .sum();
    // A's failure, and the single probe: the other instances never called the primary while
    // the cluster had it open.
    assert_eq!(primary_calls, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_fails_no_call_and_resyncs_when_back() {
    let Some(mut redis) = common::redis() else {
        return;
    };
    let state = common::state(&redis.url(), "kill-test");
    let router = Router::builder()
        .provider(
            provider("primary", Arc::default()),
            ProviderConfig {
                rpm: Some(100_000),
                entry: entry(Duration::from_secs(30)),
                ..ProviderConfig::default()
            },
        )
        .shared_state(state.clone(), common::shared_config())
        .build();
    let run = |n: usize| {
        let router = router.clone();
        async move {
            for _ in 0..n {
                router
                    .chat(&request(), RouteOptions::default())
                    .await
                    .expect("no call fails because of Redis");
            }
        }
    };
    run(20).await;
    assert!(!state.is_down());
    redis.kill();
    run(20).await;
    assert!(state.is_down(), "the outage was noticed");
    redis.start();
    until(|| !state.is_down())
        .await
        .expect("the connection comes back");
    run(20).await;
    // Resynced: the fresh Redis counts the calls made since it came back.
    let view = steadfast_router::SharedState::view(
        &*state,
        &[steadfast_router::shared::WindowRef {
            scope: "primary".into(),
            meter: steadfast_router::shared::Meter::Requests,
            span: Duration::from_secs(60),
        }],
        &[],
    )
    .await
    .expect("view");
    assert!(
        view.sums[0] >= 20.0,
        "counted after the restart: {:?}",
        view.sums
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn combined_spend_stays_within_the_budget_plus_one_estimate() {
    let Some(redis) = common::redis() else { return };
    // The mock bills 4 tokens at $1/Mtok = $4e-6 a call; the estimate (prompt / 4 +
    // max_tokens, each at the dearer price) is (1 + 7) tokens = $8e-6.
    let budget = 100e-6;
    let estimate = 8e-6;
    let routers: Vec<Router> = (0..3)
        .map(|_| {
            let config = RouterConfig {
                budget: Some(Budget {
                    usd: budget,
                    window: Duration::from_secs(3600),
                }),
                ..RouterConfig::default()
            };
            common::shared_router(&redis.url(), "budget-test", |b| {
                b.config(config).provider(
                    provider("primary", Arc::default()),
                    ProviderConfig {
                        entry: entry(Duration::from_secs(30)),
                        ..ProviderConfig::default()
                    },
                )
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Bursts until one admits nothing: reservations held by calls in flight refuse early
    // in a burst, the settled real spend lets the next one go on.
    for _ in 0..30 {
        let mut tasks = Vec::new();
        for r in &routers {
            for _ in 0..4 {
                let r = r.clone();
                tasks.push(tokio::spawn(async move {
                    let req = request().with_max_tokens(7);
                    let mut admitted = 0;
                    for _ in 0..5 {
                        admitted += u32::from(r.chat(&req, RouteOptions::default()).await.is_ok());
                    }
                    admitted
                }));
            }
        }
        let mut admitted = 0;
        for t in tasks {
            admitted += t.await.expect("task");
        }
        if admitted == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let spent: f64 = routers.iter().map(|r| r.stats().cost_usd).sum();
    println!("budget ${budget:e}: the three instances spent ${spent:e} in all");
    assert!(spent <= budget + estimate + 1e-12, "spent {spent}");
    assert!(spent >= budget - estimate, "the budget was used: {spent}");
}
