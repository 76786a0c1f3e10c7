//! `cargo xtask inject-failures`: the failure-injection suite (DESIGN §9, §11).
//!
//! Real HTTP servers on loopback (`steadfast_providers_mock::FaultServer`) speak the OpenAI,
//! Anthropic, Gemini and Ollama wire formats; the real provider crates call them through the
//! real `Router` (priority strategy: a primary and a fallback) and so its `FallbackChain`,
//! with retries, budgets, breakers and resumable streams. Each scenario gives each server a
//! plan (a seeded share of faulted requests, a flapping outage, a refused port), a
//! continuation mode (exact, repeated tail, restart, echo, divergent restart), runs many
//! calls concurrently and audits every answer token by token ([`audit`]).
//!
//! Nothing is taken on trust: each scenario checks that its faults fired on the servers
//! (and, for cuts, that streams were resumed and the continuation mode served), and the
//! amplification bound is derived from the configured retry budget, attempts and resumes
//! ([`report::bound`]). The run fails when any target is missed.
//!
//! `scenario` lists the scenarios, `setup` builds servers and router, `audit` judges one
//! answer, `report` holds the measurements, targets and table.

mod audit;
mod report;
mod scenario;
mod setup;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use steadfast_errors::ErrorKind;
use steadfast_fallback::{AttemptOutcome, AttemptRecord, StopReason};
use steadfast_providers_core::{ChatRequest, Message, StreamEvent, Tool};
use steadfast_providers_mock::FaultServer;
use steadfast_router::{RouteOptions, Router, RouterError};

use report::Report;
use scenario::{Plan, Scenario};
use setup::{PRIMARY, Side, TOKENS};

/// Calls in flight at once.
const CONCURRENCY: usize = 16;
/// The gap between call starts in a paced scenario.
const PACE: Duration = Duration::from_millis(5);

/// How the suite runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Fewer calls per scenario.
    pub(crate) quick: bool,
    /// Seeds which requests are faulted; the same seed gives the same faults.
    pub(crate) seed: u64,
    /// Print the report as JSON instead of a table.
    pub(crate) json: bool,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One call's result.
struct Call {
    latency: Duration,
    text: String,
    done: bool,
    error: Option<String>,
    kind: Option<ErrorKind>,
    /// The call failed with an error that says why: a kind, or every provider refused by
    /// its open breaker.
    typed: bool,
    attempts: Vec<AttemptRecord>,
    resumes: u32,
    /// The stream said its text is one answer continued exactly (true when not streamed).
    continuation_exact: bool,
    /// The tool calls delivered: name and whole arguments.
    tool_calls: Vec<(String, String)>,
}

async fn one_call(router: Router, s: &Scenario, start_at: Option<Instant>) -> Call {
    if let Some(at) = start_at {
        tokio::time::sleep_until(at.into()).await;
    }
    let streamed = s.streamed;
    let mut req = ChatRequest::new("mock-model", vec![Message::user("count")]).with_max_tokens(512);
    if s.tools {
        req = req.with_tool(Tool {
            name: "count".into(),
            description: "Counts.".into(),
            parameters: serde_json::json!({"type": "object"}),
        });
    }
    let started = Instant::now();
    let mut call = Call {
        latency: Duration::ZERO,
        text: String::new(),
        done: false,
        error: None,
        kind: None,
        typed: false,
        attempts: Vec::new(),
        resumes: 0,
        continuation_exact: true,
        tool_calls: Vec::new(),
    };
    let failed = |call: &mut Call, e: &RouterError| {
        call.error = Some(e.to_string());
        call.kind = e.kind();
        call.typed = call.kind.is_some();
        if let RouterError::Failed(f) = e {
            call.attempts = f.attempts.clone();
            call.typed |= f.reason == StopReason::NoEligibleProvider;
        }
    };
    if streamed {
        match router.chat_stream(&req, RouteOptions::default()).await {
            Ok(routed) => {
                let mut stream = routed.value;
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(StreamEvent::TextDelta { text }) => call.text.push_str(&text),
                        Ok(StreamEvent::Done) => call.done = true,
                        Ok(StreamEvent::ToolCallDelta(d)) => call
                            .tool_calls
                            .push((d.name.unwrap_or_default(), d.arguments)),
                        Ok(_) => {}
                        Err(e) => {
                            call.kind = Some(e.kind());
                            call.typed = true;
                            call.error = Some(e.to_string());
                        }
                    }
                }
                call.attempts = stream.inner().attempts();
                call.resumes = stream.inner().resumes();
                call.continuation_exact = stream.inner().continuation_exact();
            }
            Err(e) => failed(&mut call, &e),
        }
    } else {
        match router.chat(&req, RouteOptions::default()).await {
            Ok(answer) => {
                call.attempts = answer.attempts.clone();
                call.text = answer.value.text;
                call.done = true;
            }
            Err(e) => failed(&mut call, &e),
        }
    }
    call.latency = started.elapsed();
    call
}

/// The longest wait from a recovery of a flapping primary to the first request it answered.
fn return_time(side: &Side, period: Duration, down: Duration) -> Option<u64> {
    let timeline = lock(&side.timeline).clone();
    let end = timeline.last()?.0;
    let mut worst = None;
    let mut recovery = down;
    while recovery < end {
        let back = timeline
            .iter()
            .find(|(at, refused)| *at >= recovery && !refused)
            .map(|(at, _)| (*at - recovery).as_millis() as u64);
        if let Some(ms) = back {
            worst = Some(worst.map_or(ms, |w: u64| w.max(ms)));
        }
        recovery += period;
    }
    worst
}

/// The fired faults that prove a plan ran: a quarter of the share of the requests it could
/// fault (none when there were too few to expect four faults). A server that stopped
/// injecting fires none.
fn needed(plan: &Plan, side: &Side) -> u64 {
    match plan {
        Plan::Share { per_mille, .. } => per_mille * side.requests() / 4000,
        // Continuations are not faulted.
        Plan::FirstAttempts { per_mille, .. } => {
            per_mille * (side.requests() - side.continuations()) / 4000
        }
        Plan::Flapping { .. } => 1,
        Plan::Healthy | Plan::Refused => 0,
    }
}

async fn run_scenario(s: &Scenario, index: u64, calls: u64, seed: u64) -> Result<Report, String> {
    let salt = setup::mix(seed ^ index.wrapping_mul(1_000_003));
    let primary = Side::start(s.primary, s.primary_plan, s.continuation, salt).await?;
    let fallback = Side::start(s.fallback, s.fallback_plan, s.continuation, !salt).await?;
    let router = setup::router(&primary, &fallback);
    let started = Instant::now();
    let results: Vec<Call> = futures_util::stream::iter(0..calls)
        .map(|i| {
            let at = s.paced.then(|| started + PACE * i as u32);
            one_call(router.clone(), s, at)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut r = Report {
        name: s.name.to_owned(),
        formats: format!("{}>{}", s.primary.name(), s.fallback.name()),
        promise: s.promise.name(),
        calls,
        ..Report::default()
    };
    for call in results {
        let a = audit::audit(&call.text, TOKENS, s.promise);
        // Every delivered character came from a part billed at no less than one output
        // token per 4 characters (a reported count, or the estimate for a cut part).
        r.billed_output_floor += call.text.chars().count().div_ceil(4) as u64;
        r.latencies.push(call.latency);
        match s.promise {
            scenario::Promise::FailsFast => {}
            // An explicitly incomplete answer owes no more text; a repeat is never allowed.
            scenario::Promise::WholeToolCalls => {
                if call.done || !call.typed {
                    r.lost += a.lost;
                    r.garbled += a.garbled;
                }
                r.duplicated += a.duplicated;
            }
            _ => {
                r.lost += a.lost;
                r.duplicated += a.duplicated;
                r.garbled += a.garbled;
            }
        }
        r.joined += u64::from(a.joined);
        // A joined answer must say so; an answer that says so must be joined.
        if a.joined == call.continuation_exact {
            r.misflagged += 1;
        }
        r.resumes += u64::from(call.resumes);
        r.attempts += call.attempts.len() as u64;
        for at in &call.attempts {
            if at.outcome == AttemptOutcome::SkippedBreakerOpen {
                r.breaker_skips += 1;
            }
            if at.provider == PRIMARY && at.kind == Some(ErrorKind::Network) {
                r.refused_attempts += 1;
            }
        }
        if call.typed && !call.done {
            r.typed_failures += 1;
        }
        let tool_ok = if s.tools {
            let (name, args) = FaultServer::tool_call(TOKENS);
            // As JSON values: Gemini and Ollama send the arguments as an object, which the
            // decoder writes back out with its own key order.
            let args: serde_json::Value = serde_json::from_str(&args).unwrap_or_default();
            let whole = call
                .tool_calls
                .iter()
                .filter(|(n, a)| {
                    *n == name
                        && serde_json::from_str::<serde_json::Value>(a).ok().as_ref() == Some(&args)
                })
                .count() as u64;
            let calls = call.tool_calls.len() as u64;
            r.tool_calls += calls;
            r.tool_duplicated += whole.saturating_sub(1);
            r.tool_spliced += calls - whole;
            // A complete answer has its call once, whole.
            !call.done || (whole == 1 && calls == 1)
        } else {
            true
        };
        if !tool_ok {
            r.tool_missing += 1;
        }
        if call.done && a.exact && call.error.is_none() && tool_ok {
            r.completed += 1;
        } else if s.promise == scenario::Promise::WholeToolCalls && !call.done && call.typed {
            r.explicitly_incomplete += 1;
        } else if r.examples.len() < 3 && (s.promise != scenario::Promise::FailsFast || !call.typed)
        {
            r.examples.push(
                call.error
                    .unwrap_or_else(|| format!("incomplete answer: {:?}", call.text)),
            );
        }
    }
    r.fired_primary = match s.primary_plan {
        // Nothing listens: the faults are the refused connections the client saw.
        Plan::Refused => r.refused_attempts,
        _ => primary.fired(),
    };
    r.fired_fallback = fallback.fired();
    r.fired_needed_primary = needed(&s.primary_plan, &primary);
    r.fired_needed_fallback = needed(&s.fallback_plan, &fallback);
    r.continuations_served = primary.continuations() + fallback.continuations();
    r.server_requests = primary.requests() + fallback.requests();
    r.request_bound = report::bound(calls, r.resumes, elapsed);
    if let Plan::Flapping { period, down } = s.primary_plan {
        r.return_ms = return_time(&primary, period, down);
    }
    let stats = router.stats();
    let (pi, po) = primary.reported_usage();
    let (fi, fo) = fallback.reported_usage();
    r.reported_input = pi + fi;
    r.reported_output = po + fo;
    r.billed_input = stats.input_tokens;
    r.billed_output = stats.output_tokens;
    r.billed_output_bound =
        r.reported_output + primary.unreported_output_bound() + fallback.unreported_output_bound();
    r.usage_exact = scenario::leaves_answers_whole(&s.primary_plan)
        && scenario::leaves_answers_whole(&s.fallback_plan);
    r.failovers = stats.failovers;
    r.router_overhead_p99_us = stats.overhead.p99_us;
    r.check(s);
    Ok(r)
}

/// Runs every scenario; returns whether every target was met.
pub(crate) fn run(options: Options) -> Result<bool, String> {
    let calls = if options.quick { 120 } else { 500 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let started = Instant::now();
    let scenarios = scenario::all();
    let title = format!(
        "inject-failures: {} scenarios x {calls} calls, {CONCURRENCY} in flight, {TOKENS}-token answers, seed {}; through the Router (priority: primary, then fallback), every server on loopback",
        scenarios.len(),
        options.seed
    );
    if !options.json {
        println!("{title}");
        println!("{}", report::header());
    }
    let reports: Vec<Report> = runtime.block_on(async {
        let mut reports = Vec::new();
        for (i, s) in scenarios.iter().enumerate() {
            let r = run_scenario(s, i as u64, calls, options.seed).await?;
            if !options.json {
                println!("{}", report::row(&r));
                if !r.missed.is_empty() {
                    println!("  MISSED: {}", r.missed.join("; "));
                    for e in &r.examples {
                        println!("    e.g. {e}");
                    }
                }
            }
            reports.push(r);
        }
        Ok::<_, String>(reports)
    })?;
    let failed = reports.iter().filter(|r| !r.missed.is_empty()).count();
    let passed = reports.len() - failed;
    if options.json {
        let doc = serde_json::json!({
            "title": title,
            "seed": options.seed,
            "calls_per_scenario": calls,
            "scenarios": reports,
            "passed": passed,
            "failed": failed,
            "seconds": started.elapsed().as_secs_f64(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
    } else {
        for line in report::legend() {
            println!("{line}");
        }
        if let Some(flap) = reports.iter().find(|r| r.return_ms.is_some()) {
            println!(
                "flapping primary: breaker skips {}, longest return to the primary {}ms",
                flap.breaker_skips,
                flap.return_ms.unwrap_or(0)
            );
        }
        println!("took {:.1}s", started.elapsed().as_secs_f64());
        println!("{passed} passed, {failed} failed");
    }
    Ok(failed == 0)
}
