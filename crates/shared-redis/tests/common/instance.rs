//! Router instances in separate processes: the test binary re-run as a child that builds
//! one router on the shared Redis and answers commands read from stdin with JSON lines on
//! stdout, and the parent's handle that drives it with a bounded wait on every answer.
//!
//! Commands (one a line) and what the child answers:
//!
//! - `call` / `call <provider>` — one chat (the second with only that provider):
//!   `{"ok": true, "provider": …}` or `{"ok": false, "error": …}`
//! - `burst <tasks> <calls>` — `tasks` concurrent tasks of `calls` chats each: `{"admitted": n}`
//! - `loop on` / `loop off` — keep calling in the background until told to stop; both answer
//!   the tally so far `{"calls": n, "failed": n, "errors": […]}` (the first few errors)
//! - `progress` — the tally and whether the shared state is down: `{"calls", "failed", "down"}`
//! - `state <provider>` — `{"breaker": "Open" | "Closed" | "HalfOpen", "down": bool}`
//! - `fail on` / `fail off` — makes the child's failable provider fail or answer
//! - `stats` — `{"cost_usd": x, "requests": {id: n}, "tokens": {id: n}}`
//!
//! A child ends when its stdin closes (the parent ended, however it ended); the parent's
//! handle kills its child when dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use steadfast_providers_core::ChatRequest;
use steadfast_router::{RouteOptions, Router, SharedState};
use steadfast_shared_redis::RedisState;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::time::Instant;

/// The variable naming the child's role (which router it builds); unset in the parent.
pub const ROLE: &str = "STEADFAST_SHARED_ROLE";
/// The Redis URL the child uses.
pub const URL: &str = "STEADFAST_SHARED_URL";
/// The key namespace the child uses.
pub const NS: &str = "STEADFAST_SHARED_NS";
/// The test that runs a child's body.
pub const CHILD_TEST: &str = "child_router";

/// The longest the parent waits for any one answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The parent's handle on one child router process.
pub struct Instance {
    name: String,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

impl Instance {
    /// Starts a child in `role` on `url` under `namespace` and waits until it is connected
    /// to Redis.
    pub async fn spawn(name: &str, role: &str, url: &str, namespace: &str) -> Instance {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = tokio::process::Command::new(exe)
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env(URL, url)
            .env(NS, namespace)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the child starts");
        let mut me = Instance {
            name: name.to_owned(),
            stdin: child.stdin.take().expect("stdin"),
            lines: BufReader::new(child.stdout.take().expect("stdout")).lines(),
            _child: child,
        };
        let ready = me.read("(start-up)").await;
        assert_eq!(
            ready["ready"], true,
            "instance {name} could not reach Redis: {ready}"
        );
        me
    }

    /// Sends `command` and waits for its answer.
    pub async fn ask(&mut self, command: &str) -> Value {
        self.send(command).await;
        self.read(command).await
    }

    /// Sends `command` without waiting (read the answer with [`Instance::read`]).
    pub async fn send(&mut self, command: &str) {
        let line = format!("{command}\n");
        if let Err(e) = self.stdin.write_all(line.as_bytes()).await {
            panic!("instance {} cannot be told `{command}`: {e}", self.name);
        }
        let _ = self.stdin.flush().await;
    }

    /// The next answer (the first JSON line: the test harness prints lines of its own, and
    /// may print on the same line), within [`ANSWER_TIMEOUT`].
    pub async fn read(&mut self, command: &str) -> Value {
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let line = match tokio::time::timeout_at(deadline, self.lines.next_line()).await {
                Err(_) => panic!(
                    "instance {} did not answer `{command}` within {ANSWER_TIMEOUT:?}",
                    self.name
                ),
                Ok(Err(e)) => panic!("instance {} could not be read: {e}", self.name),
                Ok(Ok(None)) => {
                    panic!("instance {} exited before answering `{command}`", self.name)
                }
                Ok(Ok(Some(line))) => line,
            };
            if let Some(at) = line.find('{') {
                return serde_json::from_str(&line[at..]).unwrap_or_else(|e| {
                    panic!(
                        "instance {} answered `{command}` with {line:?}: {e}",
                        self.name
                    )
                });
            }
        }
    }

    /// The instance's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What a child's calls came to.
#[derive(Default)]
struct Tally {
    calls: AtomicU64,
    failed: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, result: &Result<String, String>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut errors = self.errors.lock().expect("errors");
            if errors.len() < 5 {
                errors.push(e.clone());
            }
        }
    }

    fn json(&self) -> Value {
        json!({
            "calls": self.calls.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "errors": *self.errors.lock().expect("errors"),
        })
    }
}

/// One child's router and what it needs to answer commands.
pub struct ChildRouter {
    /// The router under test.
    pub router: Router,
    /// Its shared state (to report outages).
    pub state: Arc<RedisState>,
    /// Makes the failable provider fail.
    pub failing: Arc<AtomicBool>,
    /// The request every call sends.
    pub request: ChatRequest,
}

async fn call(
    router: &Router,
    request: &ChatRequest,
    only: Option<&str>,
) -> Result<String, String> {
    let options = RouteOptions {
        prefer: only.map(str::to_owned),
        fallback: only.is_none(),
        ..RouteOptions::default()
    };
    router
        .chat(request, options)
        .await
        .map(|answer| answer.provider)
        .map_err(|e| e.to_string())
}

fn reply(value: &Value) {
    println!("{value}");
}

/// The child's body: connects, says it is ready, then answers commands until stdin closes.
pub async fn serve(child: ChildRouter) {
    let ChildRouter {
        router,
        state,
        failing,
        request,
    } = child;
    let start = Instant::now();
    let mut connected = false;
    while !connected && start.elapsed() < Duration::from_secs(5) {
        connected = state.view(&[], &[]).await.is_ok();
        if !connected {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // A fresh line first, so the harness's own text never shares the first answer's line.
    println!();
    reply(&json!({ "ready": connected }));

    let tally = Arc::new(Tally::default());
    let mut looping: Option<(Arc<AtomicBool>, tokio::task::JoinHandle<()>)> = None;
    let mut lines = stdin_lines();
    while let Some(line) = lines.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["call"] => answer_call(call(&router, &request, None).await),
            ["call", only] => answer_call(call(&router, &request, Some(only)).await),
            ["burst", tasks, calls] => {
                let (Ok(tasks), Ok(calls)) = (tasks.parse::<usize>(), calls.parse::<usize>())
                else {
                    reply(&json!({ "error": format!("bad burst: {line}") }));
                    continue;
                };
                let mut running = Vec::new();
                for _ in 0..tasks {
                    let (router, request) = (router.clone(), request.clone());
                    running.push(tokio::spawn(async move {
                        let mut admitted = 0u64;
                        for _ in 0..calls {
                            admitted += u64::from(call(&router, &request, None).await.is_ok());
                        }
                        admitted
                    }));
                }
                let mut admitted = 0;
                for task in running {
                    admitted += task.await.expect("burst task");
                }
                json!({ "admitted": admitted })
            }
            ["loop", "on"] => {
                if looping.is_none() {
                    let stop = Arc::new(AtomicBool::new(false));
                    let (router, request, tally, stop2) = (
                        router.clone(),
                        request.clone(),
                        Arc::clone(&tally),
                        Arc::clone(&stop),
                    );
                    let task = tokio::spawn(async move {
                        while !stop2.load(Ordering::Relaxed) {
                            tally.record(&call(&router, &request, None).await);
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    });
                    looping = Some((stop, task));
                }
                tally.json()
            }
            ["loop", "off"] => {
                if let Some((stop, task)) = looping.take() {
                    stop.store(true, Ordering::Relaxed);
                    task.await.expect("call loop");
                }
                tally.json()
            }
            ["progress"] => {
                let mut v = tally.json();
                v["down"] = json!(state.is_down());
                v
            }
            ["state", provider] => match router.chain().breaker(provider) {
                Some(b) => {
                    json!({ "breaker": format!("{:?}", b.state()), "down": state.is_down() })
                }
                None => json!({ "error": format!("no breaker for {provider}") }),
            },
            ["fail", on] => {
                failing.store(*on == "on", Ordering::Relaxed);
                json!({ "failing": *on == "on" })
            }
            ["stats"] => {
                let stats = router.stats();
                let requests: serde_json::Map<String, Value> = stats
                    .providers
                    .iter()
                    .map(|p| (p.id.clone(), json!(p.requests)))
                    .collect();
                let tokens: serde_json::Map<String, Value> = stats
                    .providers
                    .iter()
                    .map(|p| (p.id.clone(), json!(p.input_tokens + p.output_tokens)))
                    .collect();
                json!({ "cost_usd": stats.cost_usd, "requests": requests, "tokens": tokens })
            }
            _ => json!({ "error": format!("unknown command: {line}") }),
        };
        reply(&answer);
    }
}

/// The lines of stdin, read on a thread of their own; the channel closes at end of input.
fn stdin_lines() -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn answer_call(result: Result<String, String>) -> Value {
    match result {
        Ok(provider) => json!({ "ok": true, "provider": provider }),
        Err(error) => json!({ "ok": false, "error": error }),
    }
}
