//! Seed 004, "AI Provider Failover System": Pollinations first, OpenRouter second — the five
//! balancing strategies, failover with circuit breakers and recovery to the primary, the
//! health monitor, enable/disable at run time, statistics and provider status.
//!
//! Both providers are the real OpenAI-compatible presets of `steadfast-providers-openai`,
//! each against a local `FaultServer`, configured as the seed configures them (priority,
//! weight, retries, a breaker that opens after 3 failures, 20 requests per minute) with the
//! timeouts scaled down. No key, no network beyond loopback.
//!
//! ```sh
//! cargo run --example seed004_failover
//! ```
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use steadfast_circuit::Config as BreakerConfig;
use steadfast_fallback::EntryConfig;
use steadfast_providers_core::{
    ApiKey, ChatProvider, ChatRequest, ImageProvider, ImageRequest, Message,
};
use steadfast_providers_media::{PollinationsConfig, PollinationsImageProvider};
use steadfast_providers_mock::{Fault, FaultServer};
use steadfast_providers_openai::{HealthCheck, OpenAiConfig, OpenAiProvider};
use steadfast_retry::{Backoff, RetryConfig, RetryPolicy};
use steadfast_router::{ProviderConfig, RouteOptions, Router, StatsSnapshot, StrategyKind};
use tokio::time::Instant;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// How long an open breaker refuses calls (30 s in production; short here).
const OPEN_FOR: Duration = Duration::from_millis(150);

/// What the run showed (read by the test that runs this example).
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) struct Summary {
    /// For each strategy, who answered each of six calls.
    pub(crate) strategies: Vec<(StrategyKind, Vec<String>)>,
    /// Who answered with `preferred_provider = "openrouter"`.
    pub(crate) preferred: String,
    /// Who answered each call while the primary was down, and whether it failed over.
    pub(crate) outage: Vec<(String, bool)>,
    /// The primary's breaker state at the end of the outage.
    pub(crate) breaker_during_outage: String,
    /// Who answered once the primary's breaker let a probe through again.
    pub(crate) after_recovery: String,
    /// The two health-monitor rounds.
    pub(crate) monitor: MonitorRounds,
    /// Who answered with the primary disabled by hand, then enabled again.
    pub(crate) disabled_enabled: (String, String),
    /// `generate_image`: attempts taken (the first meets a 502) and the length of the
    /// image's base64.
    pub(crate) image: (usize, usize),
    /// The statistics before `reset_statistics()`.
    pub(crate) stats: StatsSnapshot,
    /// The statistics after it.
    pub(crate) after_reset: StatsSnapshot,
}

/// Two rounds of the health monitor, each probe `(provider, passed)`.
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) struct MonitorRounds {
    /// The first round: the primary fails its probe.
    pub(crate) first: Vec<(String, bool)>,
    /// Who answered while the monitor kept the primary disabled.
    pub(crate) while_down: String,
    /// The second round: the primary passes again.
    pub(crate) second: Vec<(String, bool)>,
    /// Who answered after it.
    pub(crate) after: String,
}

fn provider(
    config: OpenAiConfig,
    server: &FaultServer,
    timeout: Duration,
) -> Arc<dyn ChatProvider> {
    let config = OpenAiConfig {
        base_url: format!("{}/v1", server.base_url()),
        api_key: Some(ApiKey::new("sk-local-example")),
        timeout,
        // OpenRouter checks its key at `GET /key`; the local server has only the model list.
        health: HealthCheck::Get("models".into()),
        ..config
    };
    Arc::new(OpenAiProvider::new(config))
}

/// The seed's two providers: priority, weight, timeout, retries, breaker, RPM.
fn router(pollinations: &FaultServer, openrouter: &FaultServer, strategy: StrategyKind) -> Router {
    let routed = |priority: i32, weight: u32, attempts: u32| ProviderConfig {
        priority,
        weight,
        rpm: Some(20),
        entry: EntryConfig {
            retry: RetryConfig {
                max_attempts: attempts,
                backoff: Backoff::constant(Duration::from_millis(10)),
                ..RetryConfig::default()
            },
            breaker: BreakerConfig {
                consecutive_failures: Some(3),
                open_duration: OPEN_FOR,
                ..BreakerConfig::default()
            },
            ..EntryConfig::default()
        },
        ..ProviderConfig::default()
    };
    Router::builder()
        .provider(
            provider(
                OpenAiConfig::pollinations(),
                pollinations,
                Duration::from_millis(1500),
            ),
            routed(1, 2, 2),
        )
        .provider(
            provider(
                OpenAiConfig::openrouter(),
                openrouter,
                Duration::from_secs(3),
            ),
            routed(2, 1, 1),
        )
        .strategy(strategy.build(Some(7)))
        .build()
}

fn request() -> ChatRequest {
    ChatRequest::new(
        "nvidia/nemotron-nano-9b-v2:free",
        vec![Message::user("Hello! How are you?")],
    )
}

fn print_status(out: &mut impl Write, s: &StatsSnapshot) -> Result<(), Box<dyn Error>> {
    writeln!(
        out,
        "get_statistics(): total_requests {} successful_requests {} failover_count {} success_rate {:.1}% provider_usage {:?}",
        s.requests,
        s.successes,
        s.failovers,
        s.success_rate * 100.0,
        s.providers
            .iter()
            .map(|p| (p.id.as_str(), p.successes))
            .collect::<Vec<_>>()
    )?;
    writeln!(out, "get_provider_status():")?;
    for p in &s.providers {
        writeln!(
            out,
            "  {:<12} enabled {:<5} usage {:>2}  health {:<9} breaker {:<9} success_rate {:>5.1}%  avg_response_time {:.3}s  requests/min {}",
            p.id,
            p.enabled,
            p.requests,
            p.health.to_string(),
            p.breaker.to_string(),
            p.success_rate * 100.0,
            p.latency.ewma_ms.unwrap_or(0.0) / 1000.0,
            p.rpm
        )?;
    }
    Ok(())
}

/// A PNG's signature and nothing else: enough for a content-type check, not an image.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// `generate_image("A beautiful sunset")`, Pollinations only: the real image provider against
/// a local wiremock server whose first answer is a 502, retried.
async fn generate_image(out: &mut impl Write) -> Result<(usize, usize), Box<dyn Error>> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/image/"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/image/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PNG, "image/png"))
        .mount(&server)
        .await;
    let images = PollinationsImageProvider::new(PollinationsConfig {
        base_url: format!("{}/image", server.uri()),
        timeout: Duration::from_secs(2),
        ..PollinationsConfig::default()
    });
    let retry = RetryPolicy::new(RetryConfig {
        max_attempts: 2,
        backoff: Backoff::constant(Duration::from_millis(10)),
        ..RetryConfig::default()
    });
    let request = ImageRequest {
        prompt: "A beautiful sunset".into(),
        ..ImageRequest::default()
    };
    let outcome = retry.run(|_| images.generate_image(&request)).await;
    let attempts = outcome.attempts.len();
    let image = outcome.result?;
    let first = image.images.first().ok_or("no image")?;
    let inline = first.b64_json.as_deref().map_or(0, str::len);
    writeln!(
        out,
        "\ngenerate_image(\"A beautiful sunset\") -> {} ({attempts} attempts, {inline} characters of base64)",
        first.url.as_deref().unwrap_or("an inline image"),
    )?;
    Ok((attempts, inline))
}

/// Runs the seed's usage, management and monitoring sections.
pub(crate) async fn run(out: &mut impl Write) -> Result<Summary, Box<dyn Error>> {
    let pollinations = FaultServer::start().await?;
    let openrouter = FaultServer::start().await?;

    writeln!(out, "Failover strategies (six calls each):")?;
    let mut strategies = Vec::new();
    for kind in [
        StrategyKind::Priority,
        StrategyKind::RoundRobin,
        StrategyKind::WeightedRoundRobin,
        StrategyKind::BestPerformance,
        StrategyKind::RandomHealthy,
    ] {
        let r = router(&pollinations, &openrouter, kind);
        let mut answered = Vec::new();
        for _ in 0..6 {
            answered.push(r.chat(&request(), RouteOptions::default()).await?.provider);
        }
        writeln!(out, "  {:<22} {}", format!("{kind:?}"), answered.join(" "))?;
        strategies.push((kind, answered));
    }

    let manager = router(&pollinations, &openrouter, StrategyKind::Priority);
    let prefer = RouteOptions {
        prefer: Some("openrouter".into()),
        ..RouteOptions::default()
    };
    let preferred = manager.chat(&request(), prefer).await?.provider;
    writeln!(
        out,
        "\ngenerate_text(messages, preferred_provider=\"openrouter\") -> {preferred}"
    )?;

    writeln!(out, "\nPollinations goes down (503):")?;
    pollinations.set_default_fault(Fault::status(503));
    let mut outage = Vec::new();
    for _ in 0..3 {
        let answer = manager.chat(&request(), RouteOptions::default()).await?;
        writeln!(
            out,
            "  {} answered, failover_occurred {}: {}",
            answer.provider,
            answer.fell_back(),
            answer.attempts[0]
        )?;
        outage.push((answer.provider.clone(), answer.fell_back()));
    }
    let breaker_during_outage = manager.stats().providers[0].breaker.to_string();
    writeln!(out, "  pollinations breaker: {breaker_during_outage}")?;

    writeln!(out, "\nPollinations recovers:")?;
    pollinations.set_default_fault(Fault::None);
    let recovered_at = Instant::now();
    let mut after_recovery = String::new();
    // The breaker refuses the primary for OPEN_FOR; then its half-open probe is the next
    // call, and the priority strategy routes it to the primary.
    for _ in 0..50 {
        after_recovery = manager
            .chat(&request(), RouteOptions::default())
            .await?
            .provider;
        if after_recovery == "pollinations" {
            break;
        }
        tokio::time::sleep(OPEN_FOR / 5).await;
    }
    writeln!(
        out,
        "  back to {after_recovery} after {} ms (breaker {})",
        recovered_at.elapsed().as_millis(),
        manager.stats().providers[0].breaker
    )?;

    writeln!(out, "\nHealth monitor (force_health_check):")?;
    pollinations.push(Fault::status(503));
    let first_round: Vec<(String, bool)> = manager
        .probe_health()
        .await
        .into_iter()
        .map(|c| (c.id, c.passed))
        .collect();
    let while_down = manager
        .chat(&request(), RouteOptions::default())
        .await?
        .provider;
    writeln!(
        out,
        "  probe {first_round:?} -> next call answered by {while_down}"
    )?;
    let second_round: Vec<(String, bool)> = manager
        .probe_health()
        .await
        .into_iter()
        .map(|c| (c.id, c.passed))
        .collect();
    let after_probe = manager
        .chat(&request(), RouteOptions::default())
        .await?
        .provider;
    writeln!(
        out,
        "  probe {second_round:?} -> next call answered by {after_probe}"
    )?;

    writeln!(
        out,
        "\ndisable_provider(\"pollinations\"), then enable_provider(\"pollinations\"):"
    )?;
    manager.set_enabled("pollinations", false);
    let disabled = manager
        .chat(&request(), RouteOptions::default())
        .await?
        .provider;
    manager.set_enabled("pollinations", true);
    let enabled = manager
        .chat(&request(), RouteOptions::default())
        .await?
        .provider;
    writeln!(out, "  disabled -> {disabled}; enabled -> {enabled}")?;

    let image = generate_image(out).await?;

    writeln!(out)?;
    let stats = manager.stats();
    print_status(out, &stats)?;
    manager.reset_stats();
    let after_reset = manager.stats();
    writeln!(out, "\nreset_statistics()")?;
    print_status(out, &after_reset)?;

    Ok(Summary {
        strategies,
        preferred,
        outage,
        breaker_during_outage,
        after_recovery,
        monitor: MonitorRounds {
            first: first_round,
            while_down,
            second: second_round,
            after: after_probe,
        },
        disabled_enabled: (disabled, enabled),
        image,
        stats,
        after_reset,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock()).await?;
    Ok(())
}
