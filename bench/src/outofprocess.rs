//! The out-of-process benchmark: a fake OpenAI-compatible upstream (`fake-upstream`) in its
//! own process, pinned to its own CPU where the machine allows, called by raw reqwest, the
//! OpenAI provider, the fallback chain and the Router in the same run: latency at c=1,
//! throughput at c=64, streaming time to first and last chunk, and instructions per call
//! (callgrind) for raw reqwest and the Router, which do not move with machine noise.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use steadfast_fallback::{EntryConfig, FallbackChain};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use steadfast_router::{ProviderConfig, RouteOptions, Router};

const SUBJECTS: [Subject; 4] = [
    Subject::Raw,
    Subject::Provider,
    Subject::Chain,
    Subject::Router,
];
const CONCURRENCY: usize = 64;
const CHILD_FLAG: &str = "--callgrind-child";

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    Raw,
    Provider,
    Chain,
    Router,
}

impl Subject {
    /// The suffix of its counted function's name.
    fn tag(self) -> &'static str {
        match self {
            Subject::Raw => "raw",
            Subject::Provider => "provider",
            Subject::Chain => "chain",
            Subject::Router => "router",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Subject::Raw => "raw reqwest POST + parse JSON",
            Subject::Provider => "OpenAiProvider::chat",
            Subject::Chain => "FallbackChain::chat",
            Subject::Router => "Router::chat (priority)",
        }
    }
}

/// One subject's figures.
pub(crate) struct Row {
    subject: Subject,
    p50: Duration,
    p99: Duration,
    per_sec: f64,
    /// Throughput at c=64 as a share of raw's in the same round: the median over the
    /// rounds, then the lowest and the highest. A pause of the host that lands in one
    /// subject's burst moves one round's ratio, not the figure.
    vs_raw: (f64, f64, f64),
    /// The client thread's CPU time per call over the c=64 bursts: what throughput would be
    /// with that CPU to itself, whatever else the machine runs.
    cpu_per_call: Duration,
    first: Duration,
    last: Duration,
}

/// What the section measured, or why it could not.
pub(crate) enum Report {
    Skipped(String),
    Done {
        pinning: String,
        rows: Vec<Row>,
        /// Instructions per call, in [`SUBJECTS`] order.
        instructions: Result<Vec<(Subject, f64)>, String>,
        calls: usize,
    },
}

/// The upstream process; killed when dropped.
pub(crate) struct Upstream {
    child: Child,
    pub(crate) addr: String,
}

impl Upstream {
    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn upstream_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.with_file_name(format!("fake-upstream{}", std::env::consts::EXE_SUFFIX));
    bin.exists().then_some(bin)
}

pub(crate) fn has(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn start_upstream(
    bin: &std::path::Path,
    cpu: Option<usize>,
) -> Result<Upstream, String> {
    start_upstream_with(bin, cpu, &[])
}

/// [`start_upstream`] with extra arguments for `fake-upstream` (`--delay-ms N`).
pub(crate) fn start_upstream_with(
    bin: &std::path::Path,
    cpu: Option<usize>,
    args: &[&str],
) -> Result<Upstream, String> {
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting fake-upstream: {e}"))?;
    let stdout = child.stdout.take().ok_or("fake-upstream has no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("reading fake-upstream's address: {e}"))?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("fake-upstream said {line:?}"))?
        .to_owned();
    Ok(Upstream { child, addr })
}

/// Pins every thread of this process to `cpus` (a taskset list); whether it worked.
pub(crate) fn pin_self(cpus: &str) -> bool {
    Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Everything a call needs, built once.
struct Clients {
    client: reqwest::Client,
    url: String,
    body: serde_json::Value,
    stream_body: serde_json::Value,
    request: ChatRequest,
    provider: Arc<OpenAiProvider>,
    chain: FallbackChain,
    router: Router,
}

impl Clients {
    fn new(addr: &str) -> Clients {
        let client = steadfast_providers_core::http::default_client();
        let mut config = OpenAiConfig::openai();
        config.base_url = format!("http://{addr}/v1");
        config.api_key = Some(ApiKey::new("k"));
        let provider = Arc::new(OpenAiProvider::with_client(config, client.clone()));
        let chain = FallbackChain::builder()
            .provider(
                Arc::clone(&provider) as Arc<dyn ChatProvider>,
                EntryConfig::default(),
            )
            .build();
        let router = Router::builder()
            .provider(
                Arc::clone(&provider) as Arc<dyn ChatProvider>,
                ProviderConfig::default(),
            )
            .build();
        Clients {
            client,
            url: format!("http://{addr}/v1/chat/completions"),
            body: serde_json::json!({"model": "mock-model", "messages": [{"role": "user", "content": "count"}]}),
            stream_body: serde_json::json!({"model": "mock-model", "messages": [{"role": "user", "content": "count"}], "stream": true}),
            request: ChatRequest::new("mock-model", vec![Message::user("count")]),
            provider,
            chain,
            router,
        }
    }

    async fn call(&self, subject: Subject) -> bool {
        match subject {
            Subject::Raw => {
                // What any client must do: send, read, parse the JSON answer.
                let sent = self
                    .client
                    .post(&self.url)
                    .bearer_auth("k")
                    .json(&self.body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(b) => serde_json::from_slice::<serde_json::Value>(&b).is_ok(),
                        Err(_) => false,
                    },
                    _ => false,
                }
            }
            Subject::Provider => self.provider.chat(&self.request).await.is_ok(),
            Subject::Chain => self.chain.chat(&self.request).await.is_ok(),
            Subject::Router => self
                .router
                .chat(&self.request, RouteOptions::default())
                .await
                .is_ok(),
        }
    }

    /// A streamed call: the time to its first chunk (raw) or event, and to its end.
    async fn stream(&self, subject: Subject) -> Option<(Duration, Duration)> {
        let start = Instant::now();
        let mut first = None;
        macro_rules! drain {
            ($s:expr) => {{
                let mut s = Box::pin($s);
                while let Some(item) = s.next().await {
                    item.ok()?;
                    first.get_or_insert_with(|| start.elapsed());
                }
            }};
        }
        match subject {
            Subject::Raw => {
                let mut r = self
                    .client
                    .post(&self.url)
                    .bearer_auth("k")
                    .json(&self.stream_body)
                    .send()
                    .await
                    .ok()?;
                while r.chunk().await.ok()?.is_some() {
                    first.get_or_insert_with(|| start.elapsed());
                }
            }
            Subject::Provider => drain!(self.provider.chat_stream(&self.request).await.ok()?),
            Subject::Chain => drain!(self.chain.chat_stream(&self.request).await.ok()?),
            Subject::Router => drain!(
                self.router
                    .chat_stream(&self.request, RouteOptions::default())
                    .await
                    .ok()?
                    .value
            ),
        }
        Some((first?, start.elapsed()))
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    percentile(&v, 0.5)
}

/// Runs the section. Quick mode keeps it to a few seconds plus one callgrind run.
pub(crate) fn run(quick: bool) -> Report {
    let Some(bin) = upstream_binary() else {
        return Report::Skipped(
            "fake-upstream is not built next to this binary (run through `cargo xtask bench`)"
                .into(),
        );
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let taskset = has("taskset", "--version");
    let split = taskset && cpus >= 2;
    let upstream = match start_upstream(&bin, split.then_some(0)) {
        Ok(u) => u,
        Err(e) => return Report::Skipped(e),
    };
    let pinned = split && pin_self("1");
    let pinning = if pinned {
        "upstream pinned to CPU 0, client to CPU 1 (taskset)".to_owned()
    } else if !taskset {
        "not pinned: taskset is missing".to_owned()
    } else {
        format!("not pinned: {cpus} CPU(s)")
    };
    let (calls, streams) = if quick { (2000, 80) } else { (20_000, 800) };
    let rows = measure(&upstream.addr, calls, streams);
    if pinned {
        pin_self(&format!("0-{}", cpus - 1));
    }
    // Quick mode counts the two the targets compare; a full run counts every subject.
    let counted: &[Subject] = if quick {
        &[Subject::Raw, Subject::Router]
    } else {
        &SUBJECTS
    };
    let instructions = instructions(&upstream.addr, if quick { 100 } else { 500 }, counted);
    Report::Done {
        pinning,
        rows,
        instructions,
        calls,
    }
}

fn measure(addr: &str, calls: usize, streams: usize) -> Vec<Row> {
    // One thread: the client has one CPU, and the Router's work is what is compared.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let clients = Clients::new(addr);
        for s in SUBJECTS {
            for _ in 0..20 {
                assert!(clients.call(s).await, "{} failed", s.name());
            }
        }
        let rounds = ROUNDS;
        let mut latencies = vec![Vec::new(); SUBJECTS.len()];
        let mut busy = [Duration::ZERO; SUBJECTS.len()];
        let mut round_busy = vec![Vec::with_capacity(rounds); SUBJECTS.len()];
        let mut cpu = [Duration::ZERO; SUBJECTS.len()];
        let mut firsts = vec![Vec::new(); SUBJECTS.len()];
        let mut lasts = vec![Vec::new(); SUBJECTS.len()];
        // Rounds alternate the subjects so drift touches all alike.
        for _ in 0..rounds {
            for (i, s) in SUBJECTS.into_iter().enumerate() {
                for _ in 0..calls / rounds / 2 {
                    let t = Instant::now();
                    assert!(clients.call(s).await, "{} failed", s.name());
                    latencies[i].push(t.elapsed());
                }
                let t = Instant::now();
                let c = thread_cpu();
                let ok = futures_util::stream::iter(0..calls / rounds)
                    .map(|_| clients.call(s))
                    .buffer_unordered(CONCURRENCY)
                    .filter(|ok| std::future::ready(*ok))
                    .count()
                    .await;
                assert_eq!(ok, calls / rounds, "{} failed under load", s.name());
                round_busy[i].push(t.elapsed());
                busy[i] += t.elapsed();
                cpu[i] += thread_cpu().saturating_sub(c);
                for _ in 0..streams / rounds {
                    let (first, last) = clients.stream(s).await.expect("a complete stream");
                    firsts[i].push(first);
                    lasts[i].push(last);
                }
            }
        }
        SUBJECTS
            .into_iter()
            .enumerate()
            .map(|(i, subject)| {
                let mut l = std::mem::take(&mut latencies[i]);
                l.sort();
                Row {
                    subject,
                    p50: percentile(&l, 0.5),
                    p99: percentile(&l, 0.99),
                    per_sec: (calls / rounds * rounds) as f64 / busy[i].as_secs_f64(),
                    vs_raw: round_ratios(&round_busy[0], &round_busy[i]),
                    cpu_per_call: cpu[i] / u32::try_from(calls / rounds * rounds).unwrap_or(1),
                    first: median(std::mem::take(&mut firsts[i])),
                    last: median(std::mem::take(&mut lasts[i])),
                }
            })
            .collect()
    })
}

/// Rounds of the alternating measurement: each subject's c=64 burst is `calls / ROUNDS`.
const ROUNDS: usize = 8;

/// Per round, `raw`'s burst time over `subject`'s (the subject's throughput as a share of
/// raw's, the bursts being of equal calls): the median, the lowest, the highest.
fn round_ratios(raw: &[Duration], subject: &[Duration]) -> (f64, f64, f64) {
    let mut r: Vec<f64> = raw
        .iter()
        .zip(subject)
        .map(|(raw, s)| raw.as_secs_f64() / s.as_secs_f64().max(f64::MIN_POSITIVE))
        .collect();
    r.sort_by(f64::total_cmp);
    let Some((&low, &high)) = r.first().zip(r.last()) else {
        return (1.0, 1.0, 1.0);
    };
    // The even count's median is the mean of the middle two.
    let mid = r.len() / 2;
    let median = if r.len().is_multiple_of(2) {
        f64::midpoint(r[mid - 1], r[mid])
    } else {
        r[mid]
    };
    (median, low, high)
}

/// This thread's CPU time so far (user and system).
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Instructions per call of each of `subjects`, counted by callgrind in a child run of this
/// binary (one run per subject): only inside that subject's measuring function, after a
/// warm-up, so start-up, the warm-up and the other subjects are not counted.
fn instructions(
    addr: &str,
    calls: usize,
    subjects: &[Subject],
) -> Result<Vec<(Subject, f64)>, String> {
    if !has("valgrind", "--version") {
        return Err("valgrind is missing: instruction counts skipped".into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    subjects
        .iter()
        .map(|&s| {
            let out = Command::new("valgrind")
                .arg("--tool=callgrind")
                .arg("--callgrind-out-file=/dev/null")
                .arg(format!(
                    "--toggle-collect=*outofprocess::measured_calls_{}",
                    s.tag()
                ))
                .arg(&exe)
                .args([CHILD_FLAG, addr, &calls.to_string()])
                .stdout(Stdio::null())
                .output()
                .map_err(|e| format!("running valgrind: {e}"))?;
            if !out.status.success() {
                return Err(format!("the callgrind run failed ({})", out.status));
            }
            // `==pid== Collected : 123456`
            let collected = String::from_utf8_lossy(&out.stderr)
                .lines()
                .find_map(|l| {
                    l.split_once("Collected :")
                        .map(|(_, n)| n.trim().to_owned())
                })
                .and_then(|n| n.parse::<f64>().ok())
                .ok_or("no instruction count in callgrind's output")?;
            Ok((s, collected / calls as f64))
        })
        .collect()
}

macro_rules! counted {
    ($name:ident, $subject:expr) => {
        #[inline(never)]
        fn $name(rt: &tokio::runtime::Runtime, clients: &Clients, calls: usize) {
            rt.block_on(async {
                for _ in 0..calls {
                    assert!(clients.call($subject).await);
                }
            });
        }
    };
}
counted!(measured_calls_raw, Subject::Raw);
counted!(measured_calls_provider, Subject::Provider);
counted!(measured_calls_chain, Subject::Chain);
counted!(measured_calls_router, Subject::Router);

/// When this process is the callgrind child (`--callgrind-child ADDR CALLS`): makes the
/// calls and returns `true`; the caller then exits.
pub(crate) fn child() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let Some(i) = args.iter().position(|a| a == CHILD_FLAG) else {
        return false;
    };
    let (Some(addr), Some(calls)) = (args.get(i + 1), args.get(i + 2)) else {
        return false;
    };
    let calls: usize = calls.parse().unwrap_or(100);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let clients = Clients::new(addr);
    // Warm-up outside the counted functions: connections, lazy statics, first allocations.
    rt.block_on(async {
        for s in SUBJECTS {
            for _ in 0..20 {
                assert!(clients.call(s).await);
            }
        }
    });
    measured_calls_raw(&rt, &clients, calls);
    measured_calls_provider(&rt, &clients, calls);
    measured_calls_chain(&rt, &clients, calls);
    measured_calls_router(&rt, &clients, calls);
    true
}

pub(crate) fn print(report: &Report) {
    let (pinning, rows, instructions, calls) = match report {
        Report::Skipped(why) => {
            println!("out-of-process benchmark skipped: {why}");
            return;
        }
        Report::Done {
            pinning,
            rows,
            instructions,
            calls,
        } => (pinning, rows, instructions, calls),
    };
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let Some(raw) = rows.iter().find(|r| r.subject == Subject::Raw) else {
        return;
    };
    println!(
        "out of process ({pinning}; {calls} calls per subject at c=1 and at c={CONCURRENCY}, \
         in {ROUNDS} alternating rounds)"
    );
    println!(
        "(calls/s: over all rounds; vs raw: the median of the rounds' ratios, with their range)"
    );
    println!(
        "{:<32} {:>8} {:>8} {:>8} {:>10} {:>7} {:>13} {:>8} {:>7} {:>10} {:>10}",
        "subject",
        "p50 us",
        "p99 us",
        "+p50 us",
        "calls/s",
        "vs raw",
        "rounds",
        "cpu us",
        "vs raw",
        "first us",
        "last us"
    );
    for r in rows {
        println!(
            "{:<32} {:>8.1} {:>8.1} {:>8.1} {:>10.0} {:>6.1}% {:>13} {:>8.2} {:>6.1}% {:>10.1} {:>10.1}",
            r.subject.name(),
            us(r.p50),
            us(r.p99),
            us(r.p50) - us(raw.p50),
            r.per_sec,
            100.0 * r.vs_raw.0,
            format!("{:.1}-{:.1}%", 100.0 * r.vs_raw.1, 100.0 * r.vs_raw.2),
            us(r.cpu_per_call),
            // Throughput the CPU allows, as a share of raw's: raw's CPU per call over this.
            100.0 * us(raw.cpu_per_call) / us(r.cpu_per_call).max(f64::MIN_POSITIVE),
            us(r.first),
            us(r.last),
        );
    }
    match instructions {
        Ok(counts) => {
            let raw_i = counts.first().map_or(1.0, |c| c.1);
            println!("instructions per call (callgrind, inside the calls only):");
            for &(s, n) in counts {
                println!(
                    "  {:<30} {:>10.0} {:>+8.1} % over raw",
                    s.name(),
                    n,
                    100.0 * (n - raw_i) / raw_i
                );
            }
        }
        Err(why) => println!("instructions per call: {why}"),
    }
}
