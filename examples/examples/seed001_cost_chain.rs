//! Seed 001, "SmartOrchestrator": a primary provider (Anthropic) with retry, then a fallback
//! chain ordered by cost — tokens and USD tracked across every retry and fallback,
//! `get_stats` and `reset_stats`.
//!
//! The order comes from the router's `Cheapest` strategy over the seed's own price table, so
//! it is DeepSeek, GPT-4o-mini, Grok: the seed's hand-written `deepseek → grok-fast →
//! gpt-mini` contradicts its table, where GPT-4o-mini is the cheaper of the two.
//!
//! Four real providers (`steadfast-providers-openai` presets for DeepSeek, OpenAI and xAI,
//! `steadfast-providers-anthropic`) talk to four local `FaultServer`s, which play the seed's
//! three error scenarios: a transient rate limit, a provider that is down, every provider
//! failing. No key, no network beyond loopback.
//!
//! ```sh
//! cargo run --example seed001_cost_chain
//! ```
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use steadfast_fallback::EntryConfig;
use steadfast_providers_anthropic::{AnthropicConfig, AnthropicProvider};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message, Pricing};
use steadfast_providers_mock::{Fault, FaultServer};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use steadfast_retry::{Backoff, RetryConfig, presets};
use steadfast_router::{ProviderConfig, RouteOptions, Router, StatsSnapshot, StrategyKind};

/// `orchestrator.get_stats()`, in the seed's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SeedStats {
    /// The provider that answered last.
    pub(crate) provider: String,
    /// Its model.
    pub(crate) model: String,
    /// Input tokens over every billed attempt.
    pub(crate) input_tokens: u64,
    /// Output tokens over every billed attempt.
    pub(crate) output_tokens: u64,
    /// Both.
    pub(crate) total_tokens: u64,
    /// USD over every billed attempt, retries and fallbacks included.
    pub(crate) cost: f64,
    /// Calls that were answered by another provider than the first one tried.
    pub(crate) fallback_attempts: u64,
    /// Providers with at least one failed attempt.
    pub(crate) failed_providers: Vec<String>,
    /// Whether calls may fall back.
    pub(crate) enable_fallback: bool,
}

impl SeedStats {
    fn from_snapshot(s: &StatsSnapshot, provider: &str, model: &str) -> SeedStats {
        SeedStats {
            provider: provider.to_owned(),
            model: model.to_owned(),
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            total_tokens: s.total_tokens,
            cost: s.cost_usd,
            fallback_attempts: s.failovers,
            failed_providers: s
                .providers
                .iter()
                .filter(|p| p.failures > 0)
                .map(|p| p.id.clone())
                .collect(),
            enable_fallback: true,
        }
    }
}

/// What the run showed (read by the test that runs this example).
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) struct Summary {
    /// Scenario 1: who answered, and after how many attempts of the primary.
    pub(crate) transient: (String, u32),
    /// Scenario 2: who answered after the primary was down.
    pub(crate) fallback_provider: String,
    /// Scenario 2: what that call cost, as the router billed it.
    pub(crate) fallback_cost: f64,
    /// Scenario 3: the one error, listing every attempt.
    pub(crate) all_failed: String,
    /// Scenario 3: the providers the error lists, in the order they were tried.
    pub(crate) all_failed_order: Vec<String>,
    /// `get_stats()` after the three scenarios.
    pub(crate) stats: SeedStats,
    /// The sum of the providers' own costs in the router's snapshot.
    pub(crate) provider_cost_sum: f64,
    /// `get_stats()` after `reset_stats()`.
    pub(crate) after_reset: SeedStats,
}

/// The seed's price table ($ per million tokens, input / output) and models.
const PROVIDERS: [(&str, &str, f64, f64); 4] = [
    ("anthropic", "claude-sonnet-4.5", 3.00, 15.00),
    ("deepseek", "deepseek-chat", 0.14, 0.28),
    ("grok-fast", "grok-beta", 5.00, 15.00),
    ("gpt-mini", "gpt-4o-mini", 0.15, 0.60),
];

fn provider(id: &str, server: &FaultServer) -> Arc<dyn ChatProvider> {
    let client = steadfast_providers_core::http::default_client();
    let timeout = Duration::from_secs(2);
    let openai = |config: OpenAiConfig, key: &str| -> Arc<dyn ChatProvider> {
        let config = OpenAiConfig {
            id: id.to_owned(),
            base_url: format!("{}/v1", server.base_url()),
            api_key: Some(ApiKey::new(key)),
            prefix_base_url: None,
            timeout,
            ..config
        };
        Arc::new(OpenAiProvider::with_client(config, client.clone()))
    };
    match id {
        "anthropic" => Arc::new(AnthropicProvider::with_client(
            AnthropicConfig {
                id: id.to_owned(),
                base_url: server.base_url(),
                api_key: Some(ApiKey::new("sk-ant-local-example")),
                timeout,
                ..AnthropicConfig::default()
            },
            client,
        )),
        "deepseek" => openai(OpenAiConfig::deepseek(), "sk-local-example"),
        "grok-fast" => openai(OpenAiConfig::xai(), "xai-local-example"),
        _ => openai(OpenAiConfig::openai(), "sk-local-example"),
    }
}

fn print_stats(out: &mut impl Write, label: &str, stats: &SeedStats) -> Result<(), Box<dyn Error>> {
    writeln!(out, "{label} = {}", serde_json::to_string_pretty(stats)?)?;
    Ok(())
}

/// Runs the seed's three error scenarios, then `get_stats` and `reset_stats`.
pub(crate) async fn run(out: &mut impl Write) -> Result<Summary, Box<dyn Error>> {
    let mut servers = Vec::new();
    for _ in PROVIDERS {
        servers.push(FaultServer::start().await?);
    }
    // The seed's tenacity schedule (3 attempts, 2 s doubling up to 16 s), a hundred times
    // faster.
    let seed = presets::smart_orchestrator();
    let retry = RetryConfig {
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(160),
            ..seed.backoff
        },
        ..seed
    };
    let mut builder = Router::builder().strategy(StrategyKind::Cheapest.build(None));
    for ((id, model, input, output), server) in PROVIDERS.iter().zip(&servers) {
        builder = builder.provider(
            provider(id, server),
            ProviderConfig {
                model: Some((*model).to_owned()),
                pricing: Some(Pricing::per_million(*input, *output)),
                entry: EntryConfig {
                    retry: retry.clone(),
                    ..EntryConfig::default()
                },
                ..ProviderConfig::default()
            },
        );
    }
    let router = builder.build();
    // SmartOrchestrator(provider='anthropic', enable_fallback=True): Anthropic first, then
    // the rest cheapest first.
    let primary = RouteOptions {
        prefer: Some("anthropic".into()),
        ..RouteOptions::default()
    };
    let prompt =
        |text: &str| ChatRequest::new("auto", vec![Message::user(text)]).with_max_tokens(8);
    let anthropic = &servers[0];

    writeln!(out, "Scenario 1: transient API error")?;
    anthropic.push(Fault::rate_limited(Duration::from_millis(20)));
    let answer = router.chat(&prompt("Prompt 1"), primary.clone()).await?;
    for a in &answer.attempts {
        writeln!(out, "  {a}")?;
    }
    let transient = (answer.provider.clone(), answer.attempts[0].attempts());
    writeln!(
        out,
        "  -> {}: {:?} (${:.8})",
        answer.provider, answer.value.text, answer.cost_usd
    )?;

    writeln!(out, "\nScenario 2: provider down")?;
    anthropic.push_all(std::iter::repeat_n(Fault::ResetBeforeResponse, 3));
    let answer = router.chat(&prompt("Prompt 2"), primary.clone()).await?;
    for a in &answer.attempts {
        writeln!(out, "  {a}")?;
    }
    writeln!(
        out,
        "  -> fallback successful: {} (${:.8})",
        answer.provider, answer.cost_usd
    )?;
    let (fallback_provider, fallback_cost) = (answer.provider.clone(), answer.cost_usd);
    let (last_provider, last_model) = (answer.provider.clone(), answer.model.clone());

    writeln!(out, "\nScenario 3: all providers fail")?;
    for server in &servers {
        server.set_default_fault(Fault::status(500));
    }
    let err = match router.chat(&prompt("Prompt 3"), primary.clone()).await {
        Ok(a) => {
            return Err(format!("expected every provider to fail, {} answered", a.provider).into());
        }
        Err(e) => e,
    };
    writeln!(out, "  RuntimeError: {err}")?;
    let all_failed_order = match &err {
        steadfast_router::RouterError::Failed(f) => {
            f.attempts.iter().map(|a| a.provider.clone()).collect()
        }
        _ => Vec::new(),
    };
    for server in &servers {
        server.set_default_fault(Fault::None);
    }

    let snapshot = router.stats();
    let stats = SeedStats::from_snapshot(&snapshot, &last_provider, &last_model);
    writeln!(out)?;
    print_stats(out, "get_stats()", &stats)?;
    writeln!(out, "per provider:")?;
    for p in &snapshot.providers {
        writeln!(
            out,
            "  {:<10} requests {} successes {} failures {} tokens {} cost ${:.8} breaker {}",
            p.id,
            p.requests,
            p.successes,
            p.failures,
            p.input_tokens + p.output_tokens,
            p.cost_usd,
            p.breaker
        )?;
    }
    let provider_cost_sum = snapshot.providers.iter().map(|p| p.cost_usd).sum();

    router.reset_stats();
    let after_reset = SeedStats::from_snapshot(&router.stats(), &last_provider, &last_model);
    writeln!(out)?;
    print_stats(out, "after reset_stats()", &after_reset)?;

    Ok(Summary {
        transient,
        fallback_provider,
        fallback_cost,
        all_failed: err.to_string(),
        all_failed_order,
        stats,
        provider_cost_sum,
        after_reset,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock()).await?;
    Ok(())
}
