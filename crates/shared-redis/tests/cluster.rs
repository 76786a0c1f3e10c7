//! Router instances in separate processes sharing one real `redis-server`: limits across
//! processes, breaker trips and recoveries across instances, Redis killed mid-run, budgets.
//!
//! Each instance is this test binary re-run as `child_router` in a role (which router it
//! builds), driven by the parent over its stdin and stdout (see `common::instance`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::instance::{self, ChildRouter, Instance};
use serde_json::Value;
use steadfast_errors::ErrorKind;
use steadfast_fallback::EntryConfig;
use steadfast_providers_core::{ChatRequest, Message, Pricing};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_retry::RetryConfig;
use steadfast_router::shared::{Meter, WindowRef};
use steadfast_router::{Budget, ProviderConfig, RouterBuilder, RouterConfig, SharedState};
use tokio::time::Instant;

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

/// Every call's request: the estimate (prompt / 4 + max_tokens, each token at the dearer
/// price) is (1 + 7) tokens = $8e-6; the mock bills 4 tokens = $4e-6.
fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("hello")]).with_max_tokens(7)
}

/// The router of one child, by role.
fn role_router(role: &str, failing: &Arc<AtomicBool>) -> RouterBuilder {
    let b = steadfast_router::Router::builder();
    let config = |priority, entry| ProviderConfig {
        priority,
        entry,
        ..ProviderConfig::default()
    };
    match role {
        // One provider at 60 requests a minute.
        "rpm" => b.provider(
            provider("primary", Arc::default()),
            ProviderConfig {
                rpm: Some(60),
                ..config(0, entry(Duration::from_secs(30)))
            },
        ),
        // A failable primary whose trips last 400 ms, and a backup.
        "breaker" => b
            .provider(
                provider("primary", Arc::clone(failing)),
                config(0, entry(Duration::from_millis(400))),
            )
            .provider(
                provider("backup", Arc::default()),
                config(1, entry(Duration::from_secs(30))),
            ),
        // A limited, failable primary, a backup, and `offline` (with a tpm limit) that the
        // parent calls only while Redis is down.
        "outage" => b
            .provider(
                provider("primary", Arc::clone(failing)),
                ProviderConfig {
                    rpm: Some(100_000),
                    ..config(0, entry(Duration::from_secs(30)))
                },
            )
            .provider(
                provider("backup", Arc::default()),
                config(1, entry(Duration::from_secs(30))),
            )
            .provider(
                provider("offline", Arc::default()),
                ProviderConfig {
                    tpm: Some(1_000_000),
                    ..config(2, entry(Duration::from_secs(30)))
                },
            ),
        // One provider under a router-wide budget of $100e-6 an hour.
        "budget" => b
            .config(RouterConfig {
                budget: Some(Budget {
                    usd: BUDGET,
                    window: Duration::from_secs(3600),
                }),
                ..RouterConfig::default()
            })
            .provider(
                provider("primary", Arc::default()),
                config(0, entry(Duration::from_secs(30))),
            ),
        other => panic!("unknown child role {other:?}"),
    }
}

const BUDGET: f64 = 100e-6;
const ESTIMATE: f64 = 8e-6;

/// Not a test by itself: the body of one router process of the tests below (it does
/// nothing unless spawned by one of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_router() {
    let Ok(role) = std::env::var(instance::ROLE) else {
        return;
    };
    let url = std::env::var(instance::URL).expect("the redis url");
    let ns = std::env::var(instance::NS).expect("the namespace");
    let failing = Arc::new(AtomicBool::new(false));
    let state = common::state(&url, &ns);
    let router = role_router(&role, &failing)
        .shared_state(state.clone(), common::shared_config())
        .build();
    instance::serve(ChildRouter {
        router,
        state,
        failing,
        request: request(),
    })
    .await;
}

/// Instances A, B and C in `role`, each connected to Redis.
async fn three(role: &str, url: &str, namespace: &str) -> [Instance; 3] {
    let (a, b, c) = tokio::join!(
        Instance::spawn("A", role, url, namespace),
        Instance::spawn("B", role, url, namespace),
        Instance::spawn("C", role, url, namespace),
    );
    [a, b, c]
}

/// Sends `command` to every instance at once, then reads every answer.
async fn ask_all(all: &mut [Instance], command: &str) -> Vec<Value> {
    for i in all.iter_mut() {
        i.send(command).await;
    }
    let mut answers = Vec::new();
    for i in all.iter_mut() {
        answers.push(i.read(command).await);
    }
    answers
}

/// Asks `command` of every instance every 2 ms until `done(index, answer)` has held for
/// each, for at most `within`; when each was first seen done. Panics with the last answers
/// otherwise.
async fn until_all(
    all: &mut [Instance],
    command: &str,
    within: Duration,
    what: &str,
    mut done: impl FnMut(usize, &Value) -> bool,
) -> Vec<Duration> {
    let start = Instant::now();
    let mut seen = vec![None; all.len()];
    loop {
        let answers = ask_all(all, command).await;
        for (i, v) in answers.iter().enumerate() {
            if seen[i].is_none() && done(i, v) {
                seen[i] = Some(start.elapsed());
            }
        }
        if let Some(seen) = seen.iter().copied().collect::<Option<Vec<_>>>() {
            return seen;
        }
        assert!(
            start.elapsed() < within,
            "{what}: not within {within:?}; last answers to `{command}`: {answers:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `[A 12ms, B 20ms]` for the names of `all` and the times in `seen`.
fn times(all: &[Instance], seen: &[Duration]) -> String {
    let each: Vec<String> = all
        .iter()
        .zip(seen)
        .map(|(i, d)| format!("{} {:.1?}", i.name(), d))
        .collect();
    format!("[{}]", each.join(", "))
}

fn num(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no number {key:?} in {v}"))
}

fn assert_call(v: &Value, provider: &str, who: &Instance) {
    assert_eq!(
        v["ok"],
        true,
        "instance {}: the call failed: {v}",
        who.name()
    );
    assert_eq!(
        v["provider"],
        provider,
        "instance {}: answered by the wrong provider: {v}",
        who.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_holds_across_three_processes() {
    let Some(redis) = common::redis() else { return };
    let mut all = three("rpm", &redis.url(), "rpm-test").await;
    // 8 tasks of 15 calls in each process, all at once.
    let answers = ask_all(&mut all, "burst 8 15").await;
    let total: u64 = answers.iter().map(|v| num(v, "admitted")).sum();
    println!("three processes, 360 calls, rpm 60: {total} admitted");
    // Reservations are atomic in Redis: no overshoot while it answers, and the limit is
    // used in full.
    assert_eq!(total, 60);
}

fn breaker_is(want: &'static str) -> impl FnMut(usize, &Value) -> bool {
    move |_, v| v["breaker"] == want
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_on_one_instance_opens_the_others_and_recovery_closes_them() {
    let Some(redis) = common::redis() else { return };
    let [mut a, b, c] = three("breaker", &redis.url(), "breaker-test").await;

    a.ask("fail on").await;
    let answer = a.ask("call").await;
    assert_call(&answer, "backup", &a);
    let tripped = Instant::now();
    assert_eq!(a.ask("state primary").await["breaker"], "Open");
    let mut others = [b, c];
    let seen = until_all(
        &mut others,
        "state primary",
        Duration::from_secs(5),
        "B and C learn the trip",
        breaker_is("Open"),
    )
    .await;
    let since_trip = tripped.elapsed();
    println!(
        "trip on A seen open on {} (all within {since_trip:.1?} of A's answer)",
        times(&others, &seen)
    );
    // B and C fall back without calling their (healthy) primary.
    let answer = others[0].ask("call").await;
    assert_call(&answer, "backup", &others[0]);

    // The primary recovers; calls keep coming until one instance's probe closes it.
    a.ask("fail off").await;
    let [b, c] = others;
    let mut all = [a, b, c];
    let start = Instant::now();
    let prober = 'rounds: loop {
        for i in &mut all {
            let answer = i.ask("call").await;
            assert_eq!(answer["ok"], true, "instance {}: {answer}", i.name());
            if answer["provider"] == "primary" {
                break 'rounds i.name().to_owned();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no instance probed the primary within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let seen = until_all(
        &mut all,
        "state primary",
        Duration::from_secs(5),
        "every instance closes after the probe",
        breaker_is("Closed"),
    )
    .await;
    println!(
        "recovery probed by {prober}, then seen closed on {}",
        times(&all, &seen)
    );
    let stats = ask_all(&mut all, "stats").await;
    let primary_calls: u64 = stats.iter().map(|s| num(&s["requests"], "primary")).sum();
    // A's failure, and the single probe: the other instances never called the primary while
    // the cluster had it open.
    assert_eq!(primary_calls, 2, "calls to the primary: {stats:?}");
}

/// A window as the routers name it.
fn window(scope: &str, meter: Meter) -> WindowRef {
    WindowRef {
        scope: scope.into(),
        meter,
        span: Duration::from_secs(60),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_fails_no_call_and_resyncs_when_back() {
    let Some(mut redis) = common::redis() else {
        return;
    };
    let mut all = three("outage", &redis.url(), "kill-test").await;
    ask_all(&mut all, "loop on").await;
    let within = Duration::from_secs(10);
    until_all(
        &mut all,
        "progress",
        within,
        "calls before the kill",
        |_, v| num(v, "calls") >= 10,
    )
    .await;

    // Killed while every instance keeps calling.
    let before = ask_all(&mut all, "progress").await;
    assert!(
        before
            .iter()
            .all(|v| v["down"] == false && num(v, "failed") == 0),
        "before the kill every instance is on Redis and no call failed: {before:?}"
    );
    let before: Vec<u64> = before.iter().map(|v| num(v, "calls")).collect();
    redis.kill();
    until_all(
        &mut all,
        "progress",
        within,
        "every instance notices the outage and calls on",
        |i, v| v["down"] == true && num(v, "calls") >= before[i] + 10,
    )
    .await;
    // Usage billed while Redis is down: kept, to be settled when it is back.
    for i in &mut all {
        for _ in 0..5 {
            let answer = i.ask("call offline").await;
            assert_call(&answer, "offline", i);
        }
    }
    let outage = ask_all(&mut all, "progress").await;
    assert!(
        outage.iter().all(|v| v["down"] == true),
        "Redis was down throughout: {outage:?}"
    );

    redis.start();
    let at_restart: Vec<u64> = outage.iter().map(|v| num(v, "calls")).collect();
    let back = until_all(
        &mut all,
        "progress",
        within,
        "every instance reconnects",
        |_, v| v["down"] == false,
    )
    .await;
    let back = times(&all, &back);
    until_all(
        &mut all,
        "progress",
        within,
        "every instance calls on",
        |i, v| num(v, "calls") >= at_restart[i] + 10,
    )
    .await;
    let tallies = ask_all(&mut all, "loop off").await;
    for (i, t) in all.iter().zip(&tallies) {
        assert_eq!(
            num(t, "failed"),
            0,
            "instance {}: no call fails because of Redis: {t}",
            i.name()
        );
    }
    let calls: u64 = tallies.iter().map(|t| num(t, "calls")).sum();
    let during: u64 = at_restart.iter().zip(&before).map(|(r, b)| r - b).sum();
    println!(
        "redis killed mid-run: {calls} calls, none failed ({during} while it was down); \
         reconnected after the restart: {back}"
    );

    // Resynced: what was billed while Redis was down reaches the restarted Redis …
    let view = common::state(&redis.url(), "kill-test");
    let stats = ask_all(&mut all, "stats").await;
    let billed: u64 = stats.iter().map(|s| num(&s["tokens"], "offline")).sum();
    assert!(billed > 0, "the offline calls billed tokens: {stats:?}");
    let start = Instant::now();
    loop {
        let sums = view
            .view(&[window("offline", Meter::Tokens)], &[])
            .await
            .expect("the restarted Redis answers")
            .sums;
        if (sums[0] - billed as f64).abs() < 1e-9 {
            break;
        }
        assert!(
            start.elapsed() < within,
            "tokens billed during the outage settled: Redis counts {sums:?}, {billed} billed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // … new reservations count there …
    let bursts = ask_all(&mut all, "burst 1 10").await;
    for (i, v) in all.iter().zip(bursts) {
        assert_eq!(num(&v, "admitted"), 10, "instance {}: {v}", i.name());
    }
    let sums = view
        .view(&[window("primary", Meter::Requests)], &[])
        .await
        .expect("view")
        .sums;
    assert!(sums[0] >= 30.0, "counted after the restart: {sums:?}");
    // … and a trip is shared again.
    all[0].ask("fail on").await;
    let answer = all[0].ask("call").await;
    assert_call(&answer, "backup", &all[0]);
    let seen = until_all(
        &mut all[1..],
        "state primary",
        Duration::from_secs(5),
        "after the restart, B and C learn a trip on A",
        breaker_is("Open"),
    )
    .await;
    println!(
        "after the restart, a trip on A seen open on {}",
        times(&all[1..], &seen)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn combined_spend_stays_within_the_budget_plus_one_estimate() {
    let Some(redis) = common::redis() else { return };
    let mut all = three("budget", &redis.url(), "budget-test").await;
    // Bursts (4 tasks of 5 calls in each process) until one admits nothing: reservations
    // held by calls in flight refuse early in a burst, the settled real spend lets the next
    // one go on.
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= 30, "the budget was never spent in 30 bursts");
        let admitted: u64 = ask_all(&mut all, "burst 4 5")
            .await
            .iter()
            .map(|v| num(v, "admitted"))
            .sum();
        if admitted == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let stats = ask_all(&mut all, "stats").await;
    let spent: f64 = stats
        .iter()
        .map(|s| s["cost_usd"].as_f64().expect("cost"))
        .sum();
    println!("budget ${BUDGET:e}: three processes spent ${spent:e} in all ({rounds} bursts)");
    assert!(spent <= BUDGET + ESTIMATE + 1e-12, "spent {spent}");
    assert!(spent >= BUDGET - ESTIMATE, "the budget was used: {spent}");
}
