//! The gateway benchmark (issue 14): out of process on loopback, the same client load sent
//! straight to the fake upstream and through `steadfast serve` (the `gateway-serve` helper,
//! its own process on its own CPU where the machine allows) to that same upstream — and,
//! when `target/litellm-venv` exists or `--litellm` asks, through LiteLLM's proxy as well.
//! Added latency p50/p99 at c=1 and c=64, throughput at c=64, streamed time to first and
//! last chunk, each as a difference or ratio to the direct run. Printed, never asserted.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::outofprocess::{
    Upstream, has, median, percentile, pin_self, start_upstream, upstream_binary,
};

const CONCURRENCY: usize = 64;
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
    Steadfast,
    LiteLlm,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::Direct => "direct: client -> upstream",
            Subject::Steadfast => "steadfast serve -> upstream",
            Subject::LiteLlm => "LiteLLM proxy -> upstream",
        }
    }

    /// The response header in which the proxy reports its own overhead, in milliseconds.
    fn overhead_header(self) -> Option<&'static str> {
        match self {
            Subject::Direct => None,
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
    url: String,
    body: String,
    stream_body: String,
}

impl Target {
    fn new(subject: Subject, pid: Option<u32>, base: &str, model: &str) -> Target {
        let messages = r#"[{"role":"user","content":"count"}]"#;
        Target {
            subject,
            pid,
            url: format!("{base}/chat/completions"),
            body: format!(r#"{{"model":"{model}","messages":{messages}}}"#),
            stream_body: format!(r#"{{"model":"{model}","messages":{messages},"stream":true}}"#),
        }
    }
}

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
        calls: (usize, usize, usize),
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

/// The config `steadfast serve` gets: one OpenAI-compatible deployment on the upstream.
fn gateway_config(upstream: &str) -> String {
    format!(
        "[router]\ndefault_group = \"bench\"\n\n\
         [deployments.upstream]\nkind = \"openai-compatible\"\nmodel = \"mock-model\"\n\
         base_url = \"http://{upstream}/v1\"\napi_key = \"env:{KEY_VAR}\"\n\n\
         [groups.bench]\ndeployments = [\"upstream\"]\n\n\
         [gateway]\nkeys = [\"env:{GATEWAY_KEY_VAR}\"]\n"
    )
}

fn start_gateway(bin: &Path, upstream: &str, cpu: Option<usize>) -> Result<Proxy, String> {
    let config = temp_file("gateway.toml", &gateway_config(upstream))?;
    let mut child = pinned(bin, cpu)
        .arg("--config")
        .arg(&config)
        .env(KEY_VAR, "k")
        .env(GATEWAY_KEY_VAR, CLIENT_KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting gateway-serve: {e}"))?;
    let stdout = child.stdout.take().ok_or("gateway-serve has no stdout")?;
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    let mut proxy = Proxy {
        child,
        addr: String::new(),
        config,
    };
    read.map_err(|e| format!("reading gateway-serve's address: {e}"))?;
    line.trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("gateway-serve said {line:?}"))?
        .clone_into(&mut proxy.addr);
    Ok(proxy)
}

/// `target/litellm-venv`, beside this binary's target directory or under the working one.
fn litellm_venv() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let beside = exe.parent()?.parent()?.join("litellm-venv");
    [beside, PathBuf::from("target/litellm-venv")]
        .into_iter()
        .find(|v| v.join("bin/litellm").exists())
}

fn litellm_version(venv: &Path) -> Option<String> {
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// LiteLLM's proxy (`litellm --config`) on a free port, one worker, its model list pointing
/// at the upstream; waits until its liveness route answers.
fn start_litellm(venv: &Path, upstream: &str, cpu: Option<usize>) -> Result<Proxy, String> {
    let yaml = format!(
        "model_list:\n  - model_name: bench\n    litellm_params:\n      model: openai/mock-model\n      \
         api_base: http://{upstream}/v1\n      api_key: k\n\
         general_settings:\n  master_key: {CLIENT_KEY}\n"
    );
    let config = temp_file("litellm.yaml", &yaml)?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    let log = std::fs::File::create(std::env::temp_dir().join("steadfast-bench-litellm.log"))
        .map_err(|e| format!("creating LiteLLM's log: {e}"))?;
    let mut cmd = pinned(&venv.join("bin/litellm"), cpu);
    cmd.arg("--config")
        .arg(&config)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--num_workers", "1"])
        // The bundled price map, not a download at start-up.
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().map_err(|e| format!("starting litellm: {e}"))?;
    let mut proxy = Proxy {
        child,
        addr: format!("127.0.0.1:{port}"),
        config,
    };
    let ready = Instant::now();
    loop {
        if let Ok(Some(status)) = proxy.child.try_wait() {
            return Err(format!(
                "litellm exited at start-up ({status}); see its log in the temp dir"
            ));
        }
        if answers_ok(&proxy.addr, "/health/liveliness") {
            return Ok(proxy);
        }
        if ready.elapsed() > Duration::from_secs(180) {
            return Err("litellm did not answer within 180 s".into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Whether `GET path` on `addr` answers 200, within a second.
fn answers_ok(addr: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(addr) = addr.parse() else {
        return false;
    };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET {path} HTTP/1.0\r\nhost: {addr}\r\n\r\n");
    let mut head = [0u8; 12];
    s.write_all(request.as_bytes()).is_ok()
        && s.read_exact(&mut head).is_ok()
        && head.ends_with(b" 200")
}

/// One whole call: send, read, parse the JSON answer; what the proxy's overhead header said.
async fn call(client: &reqwest::Client, t: &Target) -> Result<Option<f64>, String> {
    let r = client
        .post(&t.url)
        .bearer_auth(CLIENT_KEY)
        .header("content-type", "application/json")
        .body(t.body.clone())
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
    /// CPU clock ticks of the subject's process during the c=64 bursts.
    cpu_ticks: Option<u64>,
}

/// User + system CPU clock ticks of process `pid` so far (Linux `/proc`), when readable.
fn cpu_ticks(pid: u32) -> Option<u64> {
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

async fn round(
    client: &reqwest::Client,
    t: &Target,
    (c1, c64, streams): (usize, usize, usize),
    s: &mut Samples,
) -> Result<(), String> {
    for _ in 0..c1 {
        let start = Instant::now();
        let overhead = call(client, t).await?;
        s.c1.push(start.elapsed());
        if let Some(ms) = overhead {
            s.self_reported.push(Duration::from_secs_f64(ms / 1e3));
        }
    }
    let ticks_before = t.pid.and_then(cpu_ticks);
    let start = Instant::now();
    let timed: Vec<Result<Duration, String>> = futures_util::stream::iter(0..c64)
        .map(|_| async {
            let t0 = Instant::now();
            call(client, t).await.map(|_| t0.elapsed())
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    s.busy += start.elapsed();
    if let (Some(before), Some(after)) = (ticks_before, t.pid.and_then(cpu_ticks)) {
        *s.cpu_ticks.get_or_insert(0) += after.saturating_sub(before);
    }
    for d in timed {
        s.c64.push(d?);
    }
    for _ in 0..streams {
        let (first, last) = stream(client, t).await?;
        s.firsts.push(first);
        s.lasts.push(last);
    }
    Ok(())
}

fn measure(targets: &[Target], calls: (usize, usize, usize)) -> Result<Vec<Row>, String> {
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
        // Warm-up: connections, the proxies' lazy paths, a full c=64 burst each.
        for t in targets {
            round(
                &client,
                t,
                (20, CONCURRENCY * 2, 5),
                &mut Samples::default(),
            )
            .await?;
        }
        let per_round = (calls.0 / ROUNDS, calls.1 / ROUNDS, calls.2 / ROUNDS);
        let mut samples: Vec<Samples> = targets.iter().map(|_| Samples::default()).collect();
        for _ in 0..ROUNDS {
            for (t, s) in targets.iter().zip(&mut samples) {
                round(&client, t, per_round, s).await?;
            }
        }
        let tick = ticks_per_second();
        Ok(targets
            .iter()
            .zip(samples)
            .map(|(t, mut s)| {
                s.c1.sort();
                s.c64.sort();
                Row {
                    subject: t.subject,
                    c1_p50: percentile(&s.c1, 0.5),
                    c1_p99: percentile(&s.c1, 0.99),
                    c64_p50: percentile(&s.c64, 0.5),
                    c64_p99: percentile(&s.c64, 0.99),
                    per_sec: s.c64.len() as f64 / s.busy.as_secs_f64(),
                    first: median(s.firsts),
                    last: median(s.lasts),
                    cpu_per_call: s.cpu_ticks.map(|n| {
                        Duration::from_secs_f64(n as f64 / tick / s.c64.len().max(1) as f64)
                    }),
                    self_reported: (!s.self_reported.is_empty()).then(|| median(s.self_reported)),
                }
            })
            .collect())
    })
}

/// Runs the section: `litellm` asks for LiteLLM even where its venv is not found (then the
/// report says why it has no row).
pub(crate) fn run(quick: bool, litellm: bool) -> Report {
    let (Some(up_bin), Some(gw_bin)) = (upstream_binary(), sibling("gateway-serve")) else {
        return Report::Skipped(
            "fake-upstream and gateway-serve are not built next to this binary (run through \
             `cargo xtask bench`)"
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
    let gateway = match start_gateway(&gw_bin, &upstream.addr, proxy_cpu) {
        Ok(g) => g,
        Err(e) => return Report::Skipped(e),
    };
    let mut targets = vec![
        Target::new(
            Subject::Direct,
            Some(upstream.pid()),
            &format!("http://{}/v1", upstream.addr),
            "mock-model",
        ),
        Target::new(
            Subject::Steadfast,
            Some(gateway.child.id()),
            &format!("http://{}/v1", gateway.addr),
            "bench",
        ),
    ];
    let venv = litellm_venv();
    let mut litellm_note = None;
    let mut litellm_version_seen = None;
    let lite = match (&venv, litellm) {
        (Some(venv), _) => match start_litellm(venv, &upstream.addr, proxy_cpu) {
            Ok(p) => {
                litellm_version_seen = litellm_version(venv);
                targets.push(Target::new(
                    Subject::LiteLlm,
                    Some(p.child.id()),
                    &format!("http://{}", p.addr),
                    "bench",
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
    let calls = if quick {
        (400, 2_000, 80)
    } else {
        (4_000, 20_000, 800)
    };
    let measured = measure(&targets, calls);
    if client_cpu.is_some() {
        pin_self(&format!("0-{}", cpus - 1));
    }
    drop(lite);
    drop(gateway);
    match measured {
        Ok(rows) => Report::Done {
            pinning,
            rows,
            litellm_note,
            litellm_version: litellm_version_seen,
            calls,
        },
        Err(e) => Report::Skipped(e),
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub(crate) fn print(report: &Report) {
    let Report::Done {
        pinning,
        rows,
        litellm_note,
        litellm_version,
        calls: (c1, c64, streams),
    } = report
    else {
        if let Report::Skipped(why) = report {
            println!("gateway benchmark skipped: {why}");
        }
        return;
    };
    let Some(direct) = rows.iter().find(|r| r.subject == Subject::Direct) else {
        return;
    };
    println!(
        "gateway, out of process ({pinning}; per subject {c1} calls at c=1, {c64} at \
         c={CONCURRENCY}, {streams} streams of 16 chunks)"
    );
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>9} {:>8}",
        "subject",
        "c1 p50",
        "c1 p99",
        "+p50",
        "+p99",
        "c64 p50",
        "c64 p99",
        "calls/s",
        "vs dir",
        "first",
        "last",
        "self-rep",
        "CPU/call"
    );
    for r in rows {
        let name = match (r.subject, litellm_version) {
            (Subject::LiteLlm, Some(v)) => format!("LiteLLM {v} proxy -> upstream"),
            _ => r.subject.name().to_owned(),
        };
        println!(
            "{:<34} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.1} {:>9.0} {:>6.1}% {:>8.1} {:>8.1} {:>9} {:>8}",
            name,
            us(r.c1_p50),
            us(r.c1_p99),
            us(r.c1_p50) - us(direct.c1_p50),
            us(r.c1_p99) - us(direct.c1_p99),
            us(r.c64_p50),
            us(r.c64_p99),
            r.per_sec,
            100.0 * r.per_sec / direct.per_sec,
            us(r.first),
            us(r.last),
            r.self_reported
                .map_or("-".to_owned(), |d| format!("{:.1}", us(d))),
            r.cpu_per_call
                .map_or("-".to_owned(), |d| format!("{:.1}", us(d))),
        );
    }
    println!(
        "(microseconds; +p50/+p99: minus direct at c=1; self-rep: the proxy's own overhead header, median at c=1;\n CPU/call: the answering process's CPU time per call at c=64 — the upstream's for direct)"
    );
    if let Some(gw) = rows.iter().find(|r| r.subject == Subject::Steadfast) {
        let added = gw.c1_p99.saturating_sub(direct.c1_p99);
        let share = gw.per_sec / direct.per_sec;
        let verdict = |ok: bool| if ok { "met" } else { "missed" };
        println!(
            "targets: added p99 at c=1 {:.0} us (<= {} us: {}); throughput at c={CONCURRENCY} {:.1} % of direct (>= {:.0} %: {})",
            us(added),
            TARGET_ADDED_P99_C1.as_micros(),
            verdict(added <= TARGET_ADDED_P99_C1),
            100.0 * share,
            100.0 * TARGET_THROUGHPUT,
            verdict(share >= TARGET_THROUGHPUT),
        );
        if let Some(lite) = rows.iter().find(|r| r.subject == Subject::LiteLlm) {
            let added = |r: &Row, p: fn(&Row) -> Duration, d: Duration| us(p(r)) - us(d);
            let (lite_p50, gw_p50) = (
                added(lite, |r| r.c1_p50, direct.c1_p50),
                added(gw, |r| r.c1_p50, direct.c1_p50),
            );
            let (lite_p99, gw_p99) = (
                added(lite, |r| r.c1_p99, direct.c1_p99),
                added(gw, |r| r.c1_p99, direct.c1_p99),
            );
            println!(
                "LiteLLM / steadfast: added p50 {:.1}x, added p99 {:.1}x, throughput {:.2}x",
                lite_p50 / gw_p50.max(1.0),
                lite_p99 / gw_p99.max(1.0),
                lite.per_sec / gw.per_sec,
            );
        }
    }
    if let Some(note) = litellm_note {
        println!("LiteLLM proxy: no row ({note})");
    }
}
