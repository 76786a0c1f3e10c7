//! What sharing router state on Redis costs and how fresh it is: per-call latency of a
//! router with an `rpm` limit, local only next to shared on a real `redis-server` on
//! loopback (p50/p99, and the difference), and the measured staleness of a breaker trip
//! (from the trip on one router to its sight on another). Skipped when `redis-server` is
//! not installed.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use steadfast_circuit::State;
use steadfast_errors::ErrorKind;
use steadfast_fallback::EntryConfig;
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_retry::RetryConfig;
use steadfast_router::{ProviderConfig, RouteOptions, Router, SharedConfig};
use steadfast_shared_redis::{RedisConfig, RedisState};

/// A `redis-server` killed on drop.
struct Server(Child, std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start() -> Option<(Server, String)> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let dir = std::env::temp_dir().join(format!("steadfast-bench-redis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(&dir)
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let server = Server(child, dir);
    // Ready once it accepts a connection (at most 2 s).
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(2) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Some((server, format!("redis://127.0.0.1:{port}/")))
}

fn router(url: Option<&str>, namespace: &str, outcome: Outcome) -> Router {
    let config = ScriptedConfig {
        id: "primary".into(),
        ..ScriptedConfig::default()
    };
    let provider = Arc::new(ScriptedProvider::from_fn(config, move |_, _| {
        outcome.clone()
    }));
    let entry = EntryConfig {
        retry: RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        },
        breaker: steadfast_circuit::Config {
            consecutive_failures: Some(1),
            ..steadfast_circuit::Config::default()
        },
        ..EntryConfig::default()
    };
    let pc = ProviderConfig {
        rpm: Some(u32::MAX),
        entry,
        ..ProviderConfig::default()
    };
    let builder = Router::builder().provider(provider, pc);
    match url {
        None => builder.build(),
        Some(url) => {
            let state = RedisState::new(RedisConfig::new(url, namespace)).expect("url");
            builder
                .shared_state(Arc::new(state), SharedConfig::default())
                .build()
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// Per-call microseconds (p50, p99) of `calls` sequential calls.
async fn latency(router: &Router, calls: usize) -> (f64, f64) {
    let request = ChatRequest::new("m", vec![Message::user("hi")]);
    for _ in 0..calls / 10 {
        let _ = router.chat(&request, RouteOptions::default()).await;
    }
    let mut us: Vec<f64> = (0..calls).map(|_| 0.0).collect();
    for slot in &mut us {
        let t = Instant::now();
        let _ = router.chat(&request, RouteOptions::default()).await;
        *slot = t.elapsed().as_secs_f64() * 1e6;
    }
    us.sort_by(f64::total_cmp);
    (percentile(&us, 50.0), percentile(&us, 99.0))
}

/// Milliseconds from a trip on one router to its sight on another, per trial.
async fn staleness(url: &str, trials: usize) -> Vec<f64> {
    let request = ChatRequest::new("m", vec![Message::user("hi")]);
    let mut out = Vec::new();
    for trial in 0..trials {
        let ns = format!("bench-staleness-{trial}");
        let a = router(Some(url), &ns, Outcome::Error(ErrorKind::Server));
        let b = router(Some(url), &ns, Outcome::text("ok"));
        tokio::time::sleep(Duration::from_millis(120)).await;
        let t = Instant::now();
        let _ = a.chat(&request, RouteOptions::default()).await;
        let breaker = b.chain().breaker("primary").expect("breaker");
        while breaker.state() != State::Open && t.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        out.push(t.elapsed().as_secs_f64() * 1e3);
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Runs and prints the shared-state figures.
pub(crate) fn run(quick: bool) {
    println!("\n## Shared state on Redis (loopback redis-server)\n");
    let Some((_server, url)) = start() else {
        println!("skipped: redis-server is not installed or did not start");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let calls = if quick { 500 } else { 10_000 };
    let trials = if quick { 5 } else { 30 };
    rt.block_on(async {
        let local = router(None, "bench", Outcome::text("ok"));
        let shared = router(Some(&url), "bench-latency", Outcome::text("ok"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (l50, l99) = latency(&local, calls).await;
        let (s50, s99) = latency(&shared, calls).await;
        println!("| per call ({calls} calls, rpm limit) | p50 µs | p99 µs |");
        println!("|---|---|---|");
        println!("| local only | {l50:.1} | {l99:.1} |");
        println!("| shared on Redis | {s50:.1} | {s99:.1} |");
        println!("| added by Redis | {:.1} | {:.1} |", s50 - l50, s99 - l99);
        let st = staleness(&url, trials).await;
        println!(
            "\nbreaker trip seen by another router ({trials} trials, 50 ms refresh): p50 {:.1} ms, max {:.1} ms",
            percentile(&st, 50.0),
            st.last().copied().unwrap_or(f64::NAN)
        );
    });
}
