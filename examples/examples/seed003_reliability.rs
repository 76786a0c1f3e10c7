//! Seed 003, "Reliability Layer": a retry policy with jitter and Retry-After, a circuit
//! breaker, a stream that is retried before its first token and resumed after it with no
//! data loss, stream timeouts — and the seed's `ReliabilityMetrics` hooks (`record_retry`,
//! `record_circuit_breaker_state`, `get_error_rate`) fed by the observers the parts expose.
//!
//! The generic parts (`steadfast-retry`, `steadfast-circuit`) wrap the real xAI and OpenAI
//! providers, and a `FallbackChain` streams from the real Anthropic provider, each against a
//! local `FaultServer` that injects the seed's failures: a 429 with Retry-After, a 500, an
//! outage, a refused connection, a stream cut after five chunks, a stream that stalls. No
//! key, no network beyond loopback.
//!
//! ```sh
//! cargo run --example seed003_reliability
//! ```
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use steadfast_circuit::{CallError, CircuitBreaker, Config as BreakerConfig, State};
use steadfast_fallback::{ChainConfig, EntryConfig, FallbackChain, ResumeSettings};
use steadfast_providers_anthropic::{AnthropicConfig, AnthropicProvider};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message, StreamEvent};
use steadfast_providers_mock::{Fault, FaultServer, TokenAudit};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use steadfast_retry::{Backoff, Decision, DelayReason, RetryConfig, RetryPolicy, presets};
use steadfast_streaming::Timeouts;
use tokio::time::Instant;

/// One retry decision, as `record_retry(provider, error_type, attempt)` sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RetryRecord {
    /// Which provider.
    pub(crate) provider: String,
    /// The failure's kind.
    pub(crate) error_type: String,
    /// The attempt that failed (1 for the first).
    pub(crate) attempt: u32,
    /// The wait chosen before the next attempt, in milliseconds.
    pub(crate) delay_ms: u128,
    /// Whether the wait was the server's Retry-After rather than the backoff.
    pub(crate) honoured_retry_after: bool,
}

/// The seed's `ReliabilityMetrics`.
#[derive(Debug, Default, Serialize)]
pub(crate) struct ReliabilityMetrics {
    /// Every retry decided.
    pub(crate) retries: Vec<RetryRecord>,
    /// Every breaker transition, `provider: from -> to`.
    pub(crate) breaker_states: Vec<String>,
    /// Every call outcome: provider and whether it failed, with when (not serialized).
    #[serde(skip)]
    outcomes: Vec<(Instant, String, bool)>,
}

impl ReliabilityMetrics {
    fn record_call(&mut self, provider: &str, failed: bool) {
        self.outcomes
            .push((Instant::now(), provider.to_owned(), failed));
    }

    /// The share of `provider`'s calls that failed in the last `window`.
    pub(crate) fn get_error_rate(&self, provider: &str, window: Duration) -> f64 {
        let now = Instant::now();
        let recent: Vec<bool> = self
            .outcomes
            .iter()
            .filter(|(at, p, _)| p == provider && now.duration_since(*at) <= window)
            .map(|(_, _, failed)| *failed)
            .collect();
        if recent.is_empty() {
            return 0.0;
        }
        recent.iter().filter(|f| **f).count() as f64 / recent.len() as f64
    }
}

type Metrics = Arc<Mutex<ReliabilityMetrics>>;

fn lock(m: &Metrics) -> std::sync::MutexGuard<'_, ReliabilityMetrics> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A breaker whose every transition lands in the metrics.
fn observed(breaker: CircuitBreaker, provider: &str, metrics: &Metrics) -> CircuitBreaker {
    let (provider, metrics) = (provider.to_owned(), metrics.clone());
    breaker.on_transition(move |t| {
        lock(&metrics)
            .breaker_states
            .push(format!("{provider}: {} -> {}", t.from, t.to));
    })
}

/// What the run showed (read by the test that runs this example).
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) struct Summary {
    /// Part 1: attempts the retried call took, and whether it answered.
    pub(crate) retry_attempts: usize,
    /// Part 1: whether it answered.
    pub(crate) retry_answered: bool,
    /// Part 2: what each of the five calls through the breaker met: `failed`, `rejected`,
    /// `answered`.
    pub(crate) breaker_calls: Vec<&'static str>,
    /// Part 2: requests that reached the server while the breaker was open.
    pub(crate) requests_while_open: u64,
    /// Part 2: the breaker's state at the end.
    pub(crate) breaker_state: State,
    /// Part 3: the streamed text, the expected answer, resumes, and the audit.
    pub(crate) stream_text: String,
    /// Part 3: the answer the server streams.
    pub(crate) expected: String,
    /// Part 3: continuations opened.
    pub(crate) resumes: u32,
    /// Part 3: tokens lost and duplicated.
    pub(crate) lost_duplicated: (usize, usize),
    /// Everything the metrics hooks saw.
    pub(crate) metrics: ReliabilityMetrics,
    /// The xAI provider's error rate over the last five minutes.
    pub(crate) xai_error_rate: f64,
}

fn openai_like(config: OpenAiConfig, server: &FaultServer) -> OpenAiProvider {
    OpenAiProvider::new(OpenAiConfig {
        base_url: format!("{}/v1", server.base_url()),
        api_key: Some(ApiKey::new("sk-local-example")),
        timeout: Duration::from_secs(2),
        ..config
    })
}

/// Part 1: the router's retry config (3 attempts, 0.5 s doubling, equal jitter, scaled down
/// fifty times), honouring a 429's Retry-After, every decision recorded.
async fn retry_part(
    out: &mut impl Write,
    metrics: &Metrics,
) -> Result<(usize, bool), Box<dyn Error>> {
    writeln!(
        out,
        "1. retry: 429 (Retry-After 40 ms), then 500, then an answer"
    )?;
    let server = FaultServer::start().await?;
    server.push_all([
        Fault::rate_limited(Duration::from_millis(40)),
        Fault::status(500),
    ]);
    let openai = openai_like(OpenAiConfig::openai(), &server);
    let seed = presets::reliability_layer();
    let hook = metrics.clone();
    let policy = RetryPolicy::new(RetryConfig {
        backoff: Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(600),
            ..seed.backoff
        },
        ..seed
    })
    .on_attempt(move |a| {
        let mut m = lock(&hook);
        m.record_call("openai", a.kind.is_some());
        if let (Decision::Retry { delay, reason }, Some(kind)) = (a.decision, a.kind) {
            m.retries.push(RetryRecord {
                provider: "openai".into(),
                error_type: kind.to_string(),
                attempt: a.number,
                delay_ms: delay.as_millis(),
                honoured_retry_after: reason == DelayReason::RetryAfter,
            });
        }
    });
    let request = ChatRequest::new("gpt-4o-mini", vec![Message::user("Hello")]);
    let outcome = policy.run(|_| openai.chat(&request)).await;
    for a in &outcome.attempts {
        let failure = a.kind.map_or("answered".to_owned(), |k| k.to_string());
        let next = match a.decision {
            Decision::Succeeded => "done".to_owned(),
            Decision::Retry { delay, reason } => {
                let why = if reason == DelayReason::RetryAfter {
                    "Retry-After"
                } else {
                    "backoff"
                };
                format!("retry in {} ms ({why})", delay.as_millis())
            }
            other => format!("{other:?}"),
        };
        writeln!(out, "  attempt {}: {failure} -> {next}", a.number)?;
    }
    let answered = outcome.result.is_ok();
    writeln!(
        out,
        "  -> answered: {answered}, retries: {}",
        outcome.retries()
    )?;
    Ok((outcome.attempts.len(), answered))
}

/// Part 2: a breaker around xAI that opens after 3 consecutive failures, for 250 ms: long
/// enough that the call right after the trip is refused even on a busy machine.
async fn breaker_part(
    out: &mut impl Write,
    metrics: &Metrics,
) -> Result<(Vec<&'static str>, u64, State), Box<dyn Error>> {
    writeln!(
        out,
        "\n2. circuit breaker: xAI is down (503), then recovers"
    )?;
    let server = FaultServer::start().await?;
    server.set_default_fault(Fault::status(503));
    let xai = openai_like(OpenAiConfig::xai(), &server);
    let breaker = observed(
        CircuitBreaker::new(BreakerConfig {
            consecutive_failures: Some(3),
            open_duration: Duration::from_millis(250),
            ..BreakerConfig::default()
        }),
        "xai",
        metrics,
    );
    let request = ChatRequest::new("grok-3-mini", vec![Message::user("Hello")]);
    let mut calls = Vec::new();
    let mut requests_while_open = 0;
    for n in 1..=5 {
        if n == 5 {
            // The outage ends; wait out the open breaker, then the half-open probe passes.
            server.set_default_fault(Fault::None);
            let wait = breaker.snapshot().open_remaining.unwrap_or_default();
            tokio::time::sleep(wait).await;
        }
        let before = server.request_count();
        let result = breaker.call(|| xai.chat(&request)).await;
        let seen = match &result {
            Ok(_) => "answered",
            Err(CallError::Rejected(_)) => {
                requests_while_open += server.request_count() - before;
                "rejected"
            }
            Err(_) => "failed",
        };
        if !matches!(result, Err(CallError::Rejected(_))) {
            lock(metrics).record_call("xai", result.is_err());
        }
        let detail = match &result {
            Err(e) => e.to_string(),
            Ok(answer) => format!("{:?}", answer.text),
        };
        writeln!(
            out,
            "  call {n}: {seen:<8} breaker {}  ({detail})",
            breaker.state()
        )?;
        calls.push(seen);
    }
    Ok((calls, requests_while_open, breaker.state()))
}

/// The stream of part 3.
struct StreamOutcome {
    text: String,
    expected: String,
    resumes: u32,
    audit: TokenAudit,
}

/// Part 3: a stream retried before its first token, then cut and stalled after it, resumed
/// each time with nothing lost or repeated.
async fn stream_part(
    out: &mut impl Write,
    metrics: &Metrics,
) -> Result<StreamOutcome, Box<dyn Error>> {
    writeln!(
        out,
        "\n3. streaming: a refused connection, a cut after 5 chunks, a stall after 3 more"
    )?;
    let server = FaultServer::start().await?;
    server.push_all([
        Fault::ResetBeforeResponse,
        Fault::CutAfter { chunks: 5 },
        Fault::Stall { after: 3 },
    ]);
    let anthropic: Arc<dyn ChatProvider> = Arc::new(AnthropicProvider::new(AnthropicConfig {
        base_url: server.base_url(),
        api_key: Some(ApiKey::new("sk-ant-local-example")),
        timeout: Duration::from_secs(2),
        // StreamingOptions: connection / first-byte / idle timeouts.
        stream: Timeouts {
            first_byte: Some(Duration::from_secs(1)),
            idle: Some(Duration::from_millis(300)),
            total: Some(Duration::from_secs(5)),
            keep_alive_resets_idle: false,
        },
        ..AnthropicConfig::default()
    }));
    let chain = FallbackChain::builder()
        .provider(
            anthropic,
            EntryConfig {
                retry: RetryConfig {
                    max_attempts: 3,
                    backoff: Backoff::constant(Duration::from_millis(10)),
                    ..RetryConfig::default()
                },
                ..EntryConfig::default()
            },
        )
        .config(ChainConfig {
            deadline: Some(Duration::from_secs(5)),
            resume: ResumeSettings {
                max_resumes: 3,
                backoff: Backoff::constant(Duration::from_millis(10)),
                ..ResumeSettings::default()
            },
        })
        .build();
    if let Some(breaker) = chain.breaker("anthropic") {
        let _ = observed(breaker, "anthropic", metrics);
    }
    let request = ChatRequest::new("claude-sonnet-4-5", vec![Message::user("Count")]);
    let mut stream = chain.chat_stream(&request).await?;
    let mut text = String::new();
    write!(out, "  ")?;
    while let Some(event) = stream.next().await {
        if let StreamEvent::TextDelta { text: t } = event? {
            write!(out, "{t}")?;
            text.push_str(&t);
        }
    }
    writeln!(out)?;
    for a in stream.attempts() {
        writeln!(out, "  {a}")?;
    }
    let audit = TokenAudit::of(&text, server.config().answer_tokens);
    writeln!(
        out,
        "  -> {} resumes, {} of {} tokens, {} lost, {} duplicated; {} requests reached the server",
        stream.resumes(),
        audit.delivered,
        audit.expected,
        audit.lost,
        audit.duplicated,
        server.request_count()
    )?;
    Ok(StreamOutcome {
        text,
        expected: server.answer(),
        resumes: stream.resumes(),
        audit,
    })
}

/// Runs the three parts and prints what the metrics hooks saw.
pub(crate) async fn run(out: &mut impl Write) -> Result<Summary, Box<dyn Error>> {
    let metrics: Metrics = Arc::default();
    let (retry_attempts, retry_answered) = retry_part(out, &metrics).await?;
    let (breaker_calls, requests_while_open, breaker_state) = breaker_part(out, &metrics).await?;
    let stream = stream_part(out, &metrics).await?;

    let metrics = std::mem::take(&mut *lock(&metrics));
    let xai_error_rate = metrics.get_error_rate("xai", Duration::from_secs(300));
    writeln!(
        out,
        "\nReliabilityMetrics = {}",
        serde_json::to_string_pretty(&metrics)?
    )?;
    writeln!(
        out,
        "get_error_rate('xai', window_minutes=5) = {xai_error_rate:.2}; get_error_rate('openai', 5) = {:.2}",
        metrics.get_error_rate("openai", Duration::from_secs(300))
    )?;
    Ok(Summary {
        retry_attempts,
        retry_answered,
        breaker_calls,
        requests_while_open,
        breaker_state,
        stream_text: stream.text,
        expected: stream.expected,
        resumes: stream.resumes,
        lost_duplicated: (stream.audit.lost, stream.audit.duplicated),
        metrics,
        xai_error_rate,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock()).await?;
    Ok(())
}
