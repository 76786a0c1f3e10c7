//! The gateway benchmark (issue 14): out of process on loopback, the same client load sent
//! straight to the fake upstream and through `steadfast serve` (the `gateway-serve` helper,
//! its own process on its own CPU where the machine allows) to that same upstream — and,
//! when `target/litellm-venv` exists or `--litellm` asks, through LiteLLM's proxy as well.
//! Added latency p50/p99 at c=1 and c=64, throughput at c=64, streamed time to first and
//! last chunk, each as a difference or ratio to the direct run. Printed, never asserted.
//!
//! A second c=64 run asks an upstream that waits [`DELAY_MS`] before each answer, as a
//! model would (real ones take hundreds of milliseconds): there the proxies' throughput is
//! bounded by the upstream's latency, not by their CPU, as in published gateway
//! benchmarks that mock the provider with a latency.

mod litellm;
mod print;

pub(crate) use print::print;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::outofprocess::{
    Upstream, has, median, percentile, pin_self, start_upstream, start_upstream_with,
    upstream_binary,
};
use litellm::{litellm_venv, litellm_version, start_litellm};

const CONCURRENCY: usize = 64;
/// The delayed upstream's wait before each answer, in milliseconds.
const DELAY_MS: u64 = 20;
/// The model group (gateway) or model name (LiteLLM) routed to the delayed upstream.
const DELAYED_GROUP: &str = "bench-delayed";
/// Rounds alternate the subjects so drift touches all alike.
const ROUNDS: usize = 4;
/// Targets of issue 14, printed next to the figures.
const TARGET_ADDED_P99_C1: Duration = Duration::from_micros(500);
const TARGET_THROUGHPUT: f64 = 0.90;
/// The environment variable the generated gateway config takes the upstream key from.
const KEY_VAR: &str = "STEADFAST_BENCH_UPSTREAM_KEY";
/// The environment variable of the gateway's client key; both proxies check one key.
const GATEWAY_KEY_VAR: &str = "STEADFAST_BENCH_GATEWAY_KEY";
/// The key the client sends: the steadfast gateway's key and LiteLLM's master key (both
/// refuse to serve a chat route to anyone when one is configured and missing).
const CLIENT_KEY: &str = "sk-bench-5f0c3a9e7d2b4c1a8e6f0b3d9a7c5e21";

/// Who answers the client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Subject {
    Direct,
    /// `bare-proxy`: a hyper server forwarding bytes with reqwest, nothing else.
    Bare,
    Steadfast,
    LiteLlm,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::Direct => "direct: client -> upstream",
            Subject::Bare => "bare hyper+reqwest proxy",
            Subject::Steadfast => "steadfast serve -> upstream",
            Subject::LiteLlm => "LiteLLM proxy -> upstream",
        }
    }

    /// The response header in which the proxy reports its own overhead, in milliseconds.
    fn overhead_header(self) -> Option<&'static str> {
        match self {
            Subject::Direct | Subject::Bare => None,
            Subject::Steadfast => Some("x-steadfast-overhead-ms"),
            Subject::LiteLlm => Some("x-litellm-overhead-duration-ms"),
        }
    }
}

/// Where a subject listens and what it is asked.
struct Target {
    subject: Subject,
    /// The process whose CPU time per call is reported (a proxy's, not the client's).
    pid: Option<u32>,
    /// The same for the calls to the delayed upstream (direct: the delayed upstream's).
    delayed_pid: Option<u32>,
    url: String,
    body: String,
    stream_body: String,
    /// The same call, answered by the delayed upstream.
    delayed_url: String,
    delayed_body: String,
}

impl Target {
    /// A subject at `base` asked for `model`, and at `delayed.0` for `delayed.1` to reach
    /// the delayed upstream.
    fn new(
        subject: Subject,
        pid: Option<u32>,
        (base, model): (&str, &str),
        (delayed_base, delayed_model): (&str, &str),
    ) -> Target {
        let messages = r#"[{"role":"user","content":"count"}]"#;
        Target {
            subject,
            pid,
            delayed_pid: pid,
            url: format!("{base}/chat/completions"),
            body: format!(r#"{{"model":"{model}","messages":{messages}}}"#),
            stream_body: format!(r#"{{"model":"{model}","messages":{messages},"stream":true}}"#),
            delayed_url: format!("{delayed_base}/chat/completions"),
            delayed_body: format!(r#"{{"model":"{delayed_model}","messages":{messages}}}"#),
        }
    }
}

/// Calls per subject: at c=1, at c=64, streams, at c=64 to the delayed upstream.
type Calls = (usize, usize, usize, usize);

/// One subject's figures.
pub(crate) struct Row {
    subject: Subject,
    c1_p50: Duration,
    c1_p99: Duration,
    c64_p50: Duration,
    c64_p99: Duration,
    per_sec: f64,
    first: Duration,
    last: Duration,
    /// The median of what the proxy's own overhead header said at c=1.
    self_reported: Option<Duration>,
    /// The proxy process's CPU time (user + system) per call at c=64.
    cpu_per_call: Option<Duration>,
    /// At c=64 with the delayed upstream: latency p50, p99, calls per second, CPU per call.
    delayed_p50: Duration,
    delayed_p99: Duration,
    delayed_per_sec: f64,
    delayed_cpu_per_call: Option<Duration>,
}

/// What the section measured, or why it could not.
pub(crate) enum Report {
    Skipped(String),
    Done {
        pinning: String,
        rows: Vec<Row>,
        /// Why LiteLLM has no row, when it was looked for and has none.
        litellm_note: Option<String>,
        litellm_version: Option<String>,
        calls: Calls,
    },
}

/// A proxy process (the gateway or LiteLLM); killed with its process group when dropped.
struct Proxy {
    child: Child,
    addr: String,
    config: PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // LiteLLM may start workers of its own: end the whole group we made for it.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
    }
}

fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    bin.exists().then_some(bin)
}

/// `taskset -c CPU program` when a CPU is given, else `program`.
fn pinned(program: &Path, cpu: Option<usize>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn temp_file(name: &str, text: &str) -> Result<PathBuf, String> {
    let path = std::env::temp_dir().join(format!("steadfast-bench-{}-{name}", std::process::id()));
    std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

/// The config `steadfast serve` gets: one OpenAI-compatible deployment on each upstream,
/// in groups `bench` (the immediate one) and [`DELAYED_GROUP`].
fn gateway_config(upstream: &str, delayed: &str) -> String {
    let deployment = |name: &str, at: &str| {
        format!(
            "[deployments.{name}]\nkind = \"openai-compatible\"\nmodel = \"mock-model\"\n\
             base_url = \"http://{at}/v1\"\napi_key = \"env:{KEY_VAR}\"\n\n"
        )
    };
    format!(
        "[router]\ndefault_group = \"bench\"\n\n{}{}\
         [groups.bench]\ndeployments = [\"upstream\"]\n\n\
         [groups.{DELAYED_GROUP}]\ndeployments = [\"delayed\"]\n\n\
         [gateway]\nkeys = [\"env:{GATEWAY_KEY_VAR}\"]\n",
        deployment("upstream", upstream),
        deployment("delayed", delayed),
    )
}

fn start_gateway(
    bin: &Path,
    (upstream, delayed): (&str, &str),
    cpu: Option<usize>,
) -> Result<Proxy, String> {
    let config = temp_file("gateway.toml", &gateway_config(upstream, delayed))?;
    let mut command = pinned(bin, cpu);
    command
        .arg("--config")
        .arg(&config)
        .env(KEY_VAR, "k")
        .env(GATEWAY_KEY_VAR, CLIENT_KEY);
    start_listening(command, "gateway-serve", config)
}

/// The bare proxy in front of both upstreams: `/delayed/...` to the delayed one.
fn start_bare(
    bin: &Path,
    (upstream, delayed): (&str, &str),
    cpu: Option<usize>,
) -> Result<Proxy, String> {
    let mut command = pinned(bin, cpu);
    command.args(["--upstream", upstream, "--delayed", delayed]);
    // No config of its own: an empty marker file stands in, removed with the proxy.
    let marker = temp_file("bare-proxy", "")?;
    start_listening(command, "bare-proxy", marker)
}

/// Starts `command` (stdin held, so it ends with us) and reads its `listening on ADDR`.
fn start_listening(mut command: Command, name: &str, config: PathBuf) -> Result<Proxy, String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {name}: {e}"))?;
    let stdout = child.stdout.take().ok_or(format!("{name} has no stdout"))?;
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    let mut proxy = Proxy {
        child,
        addr: String::new(),
        config,
    };
    read.map_err(|e| format!("reading {name}'s address: {e}"))?;
    line.trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("{name} said {line:?}"))?
        .clone_into(&mut proxy.addr);
    Ok(proxy)
}

/// One whole call (to the delayed upstream when `delayed`): send, read, parse the JSON
/// answer; what the proxy's overhead header said.
async fn call(client: &reqwest::Client, t: &Target, delayed: bool) -> Result<Option<f64>, String> {
    let (url, body) = if delayed {
        (&t.delayed_url, &t.delayed_body)
    } else {
        (&t.url, &t.body)
    };
    let r = client
        .post(url)
        .bearer_auth(CLIENT_KEY)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .map_err(|e| format!("{}: {e}", t.subject.name()))?;
    let status = r.status();
    let overhead = t
        .subject
        .overhead_header()
        .and_then(|h| r.headers().get(h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<f64>().ok());
    let body = r
        .bytes()
        .await
        .map_err(|e| format!("{}: {e}", t.subject.name()))?;
    if !status.is_success() || serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return Err(format!(
            "{} answered {status}: {}",
            t.subject.name(),
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok(overhead)
}

/// One streamed call: the time to its first body chunk and to its end (`[DONE]` required).
async fn stream(client: &reqwest::Client, t: &Target) -> Result<(Duration, Duration), String> {
    let start = Instant::now();
    let fail = |e: String| format!("{} (stream): {e}", t.subject.name());
    let mut r = client
        .post(&t.url)
        .bearer_auth(CLIENT_KEY)
        .header("content-type", "application/json")
        .body(t.stream_body.clone())
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !r.status().is_success() {
        return Err(fail(format!("status {}", r.status())));
    }
    let mut first = None;
    let mut all = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(|e| fail(e.to_string()))? {
        first.get_or_insert_with(|| start.elapsed());
        all.extend_from_slice(&chunk);
    }
    let done = all.windows(12).any(|w| w == b"data: [DONE]");
    match (first, done) {
        (Some(first), true) => Ok((first, start.elapsed())),
        _ => Err(fail("ended without `data: [DONE]`".into())),
    }
}

/// Figures gathered for one subject across the rounds.
#[derive(Default)]
struct Samples {
    c1: Vec<Duration>,
    c64: Vec<Duration>,
    busy: Duration,
    firsts: Vec<Duration>,
    lasts: Vec<Duration>,
    self_reported: Vec<Duration>,
    /// CPU time (ns) of the subject's process during the c=64 bursts.
    cpu_ns: Option<u64>,
    /// The same three for the bursts to the delayed upstream.
    delayed: Vec<Duration>,
    delayed_busy: Duration,
    delayed_ns: Option<u64>,
}

/// CPU time of process `pid` so far, in nanoseconds: the sum of its threads' run time in
/// `/proc/PID/task/*/schedstat` (nanosecond clocks), or — where schedstat is missing — its
/// user + system clock ticks in `/proc/PID/stat` (10 ms each at the usual 100 Hz: coarse).
fn cpu_ns(pid: u32) -> Option<u64> {
    schedstat_ns(pid)
        .or_else(|| stat_ticks(pid).map(|t| (t as f64 * 1e9 / ticks_per_second()) as u64))
}

fn schedstat_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut sum = 0u64;
    for task in tasks.flatten() {
        let text = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        sum += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(sum)
}

/// User + system CPU clock ticks of process `pid` so far.
fn stat_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may hold spaces: state is the 3rd, utime the 14th.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 when it cannot be asked.
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// `n` calls at c=64 (to the delayed upstream when `delayed`): each one's latency, the
/// time the burst took, the subject's CPU time (ns) over it.
async fn burst(
    client: &reqwest::Client,
    t: &Target,
    n: usize,
    delayed: bool,
) -> Result<(Vec<Duration>, Duration, Option<u64>), String> {
    let pid = if delayed { t.delayed_pid } else { t.pid };
    let cpu_before = pid.and_then(cpu_ns);
    let start = Instant::now();
    let timed: Vec<Result<Duration, String>> = futures_util::stream::iter(0..n)
        .map(|_| async {
            let t0 = Instant::now();
            call(client, t, delayed).await.map(|_| t0.elapsed())
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let busy = start.elapsed();
    let cpu = match (cpu_before, pid.and_then(cpu_ns)) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    Ok((timed.into_iter().collect::<Result<_, _>>()?, busy, cpu))
}

async fn round(
    client: &reqwest::Client,
    t: &Target,
    (c1, c64, streams, delayed): Calls,
    s: &mut Samples,
) -> Result<(), String> {
    for _ in 0..c1 {
        let start = Instant::now();
        let overhead = call(client, t, false).await?;
        s.c1.push(start.elapsed());
        if let Some(ms) = overhead {
            s.self_reported.push(Duration::from_secs_f64(ms / 1e3));
        }
    }
    let (timed, busy, cpu) = burst(client, t, c64, false).await?;
    s.c64.extend(timed);
    s.busy += busy;
    if let Some(n) = cpu {
        *s.cpu_ns.get_or_insert(0) += n;
    }
    for _ in 0..streams {
        let (first, last) = stream(client, t).await?;
        s.firsts.push(first);
        s.lasts.push(last);
    }
    let (timed, busy, cpu) = burst(client, t, delayed, true).await?;
    s.delayed.extend(timed);
    s.delayed_busy += busy;
    if let Some(n) = cpu {
        *s.delayed_ns.get_or_insert(0) += n;
    }
    Ok(())
}

/// Every subject's row, and what became of LiteLLM when its proxy failed a call: its row
/// is left out then (with why), as a flaky peer must not cost steadfast's figures; any
/// other subject's failure fails the section.
fn measure(targets: &[Target], calls: Calls) -> Result<(Vec<Row>, Option<String>), String> {
    // One client thread: its CPU is shared alike by every subject.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("a runtime: {e}"))?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(CONCURRENCY)
            .build()
            .map_err(|e| format!("a client: {e}"))?;
        // The subject left out, and why.
        let mut dropped: Option<(usize, String)> = None;
        let failed = |i: usize, t: &Target, e: String| -> Result<(usize, String), String> {
            if t.subject == Subject::LiteLlm {
                Ok((i, format!("left out after a failed call: {e}")))
            } else {
                Err(e)
            }
        };
        // Warm-up: connections, the proxies' lazy paths, a full c=64 burst each.
        for (i, t) in targets.iter().enumerate() {
            let warm = (20, CONCURRENCY * 2, 5, CONCURRENCY * 2);
            if let Err(e) = round(&client, t, warm, &mut Samples::default()).await {
                dropped = Some(failed(i, t, e)?);
            }
        }
        let per_round = (
            calls.0 / ROUNDS,
            calls.1 / ROUNDS,
            calls.2 / ROUNDS,
            calls.3 / ROUNDS,
        );
        let mut samples: Vec<Samples> = targets.iter().map(|_| Samples::default()).collect();
        for _ in 0..ROUNDS {
            for (i, (t, s)) in targets.iter().zip(&mut samples).enumerate() {
                if dropped.as_ref().is_some_and(|(d, _)| *d == i) {
                    continue;
                }
                if let Err(e) = round(&client, t, per_round, s).await {
                    dropped = Some(failed(i, t, e)?);
                }
            }
        }
        let left_out = dropped.as_ref().map(|(i, _)| *i);
        let rows = targets
            .iter()
            .zip(samples)
            .enumerate()
            .filter(|(i, _)| Some(*i) != left_out)
            .map(|(_, (t, mut s))| {
                s.c1.sort();
                s.c64.sort();
                s.delayed.sort();
                let per_call = |ns: Option<u64>, calls: usize| {
                    ns.map(|n| Duration::from_nanos(n / calls.max(1) as u64))
                };
                Row {
                    subject: t.subject,
                    c1_p50: percentile(&s.c1, 0.5),
                    c1_p99: percentile(&s.c1, 0.99),
                    c64_p50: percentile(&s.c64, 0.5),
                    c64_p99: percentile(&s.c64, 0.99),
                    per_sec: s.c64.len() as f64 / s.busy.as_secs_f64(),
                    first: median(s.firsts),
                    last: median(s.lasts),
                    cpu_per_call: per_call(s.cpu_ns, s.c64.len()),
                    self_reported: (!s.self_reported.is_empty()).then(|| median(s.self_reported)),
                    delayed_p50: percentile(&s.delayed, 0.5),
                    delayed_p99: percentile(&s.delayed, 0.99),
                    delayed_per_sec: s.delayed.len() as f64 / s.delayed_busy.as_secs_f64(),
                    delayed_cpu_per_call: per_call(s.delayed_ns, s.delayed.len()),
                }
            })
            .collect();
        Ok((rows, dropped.map(|(_, why)| why)))
    })
}

/// Runs the section: `litellm` asks for LiteLLM even where its venv is not found (then the
/// report says why it has no row).
pub(crate) fn run(quick: bool, litellm: bool) -> Report {
    let (Some(up_bin), Some(gw_bin), Some(bare_bin)) = (
        upstream_binary(),
        sibling("gateway-serve"),
        sibling("bare-proxy"),
    ) else {
        return Report::Skipped(
            "fake-upstream, gateway-serve and bare-proxy are not built next to this binary \
             (run through `cargo xtask bench`)"
                .into(),
        );
    };
    // Upstream on CPU 0, each proxy on CPU 1, the client on CPU 2 — or on CPU 0 beside the
    // upstream when there are only two: the proxy always has a CPU of its own.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let split = has("taskset", "--version") && cpus >= 2;
    let (up_cpu, proxy_cpu, client_cpu) = if split {
        (Some(0), Some(1), Some(if cpus >= 3 { 2 } else { 0 }))
    } else {
        (None, None, None)
    };
    let upstream: Upstream = match start_upstream(&up_bin, up_cpu) {
        Ok(u) => u,
        Err(e) => return Report::Skipped(e),
    };
    // The delayed upstream shares the immediate one's CPU: it does the same work, later.
    let delay = DELAY_MS.to_string();
    let delayed = match start_upstream_with(&up_bin, up_cpu, &["--delay-ms", &delay]) {
        Ok(u) => u,
        Err(e) => return Report::Skipped(e),
    };
    let upstreams = (upstream.addr.as_str(), delayed.addr.as_str());
    let gateway = match start_gateway(&gw_bin, upstreams, proxy_cpu) {
        Ok(g) => g,
        Err(e) => return Report::Skipped(e),
    };
    let bare = match start_bare(&bare_bin, upstreams, proxy_cpu) {
        Ok(b) => b,
        Err(e) => return Report::Skipped(e),
    };
    let bare_base = format!("http://{}/v1", bare.addr);
    let bare_delayed = format!("http://{}/delayed/v1", bare.addr);
    let direct = format!("http://{}/v1", upstream.addr);
    let direct_delayed = format!("http://{}/v1", delayed.addr);
    let gateway_base = format!("http://{}/v1", gateway.addr);
    let mut direct_target = Target::new(
        Subject::Direct,
        Some(upstream.pid()),
        (&direct, "mock-model"),
        (&direct_delayed, "mock-model"),
    );
    direct_target.delayed_pid = Some(delayed.pid());
    let mut targets = vec![
        direct_target,
        Target::new(
            Subject::Bare,
            Some(bare.child.id()),
            (&bare_base, "mock-model"),
            (&bare_delayed, "mock-model"),
        ),
        Target::new(
            Subject::Steadfast,
            Some(gateway.child.id()),
            (&gateway_base, "bench"),
            (&gateway_base, DELAYED_GROUP),
        ),
    ];
    let venv = litellm_venv();
    let mut litellm_note = None;
    let mut litellm_version_seen = None;
    let lite = match (&venv, litellm) {
        (Some(venv), _) => match start_litellm(venv, upstreams, proxy_cpu) {
            Ok(p) => {
                litellm_version_seen = litellm_version(venv);
                let base = format!("http://{}", p.addr);
                targets.push(Target::new(
                    Subject::LiteLlm,
                    Some(p.child.id()),
                    (&base, "bench"),
                    (&base, DELAYED_GROUP),
                ));
                Some(p)
            }
            Err(e) => {
                litellm_note = Some(e);
                None
            }
        },
        (None, true) => {
            litellm_note =
                Some("no target/litellm-venv: run bench/litellm-venv to create it".into());
            None
        }
        (None, false) => None,
    };
    let pinning = match client_cpu {
        Some(c) if pin_self(&c.to_string()) => {
            format!("upstream on CPU 0, each proxy on CPU 1, client on CPU {c} (taskset)")
        }
        _ if !has("taskset", "--version") => "not pinned: taskset is missing".to_owned(),
        _ => format!("not pinned: {cpus} CPU(s)"),
    };
    // With the delay, c=64 passes at most 64 calls per DELAY_MS: quick's 1 280 take about
    // 0.4 s per subject.
    let calls = if quick {
        (400, 2_000, 80, 1_280)
    } else {
        (4_000, 20_000, 800, 12_800)
    };
    let measured = measure(&targets, calls);
    if client_cpu.is_some() {
        pin_self(&format!("0-{}", cpus - 1));
    }
    drop(lite);
    drop(gateway);
    drop(bare);
    match measured {
        Ok((rows, left_out)) => Report::Done {
            pinning,
            rows,
            litellm_note: left_out.or(litellm_note),
            litellm_version: litellm_version_seen,
            calls,
        },
        Err(e) => Report::Skipped(e),
    }
}
