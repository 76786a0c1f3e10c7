//! Seed 002, "Provider Integration Layer": a provider manager over OpenAI, Claude, OpenRouter
//! and Ollama — `execute_with_fallback`, `stream_execute_with_fallback` through one shared
//! stream parser per wire format, the seven error categories, and `get_provider_status`
//! with healthy / degraded / unhealthy.
//!
//! The manager is a `steadfast_fallback::FallbackChain` over the real OpenAI-compatible
//! presets and the real Anthropic provider, each against its own local `FaultServer`:
//! OpenAI refuses its key, then drops connections; Claude's stream is cut half way and
//! resumed with every token once. No key, no network beyond loopback.
//!
//! ```sh
//! cargo run --example seed002_provider_manager
//! ```
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use steadfast_fallback::{EntryConfig, FallbackChain, Health, ProviderStatus};
use steadfast_providers_anthropic::{AnthropicConfig, AnthropicProvider};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message, StreamEvent};
use steadfast_providers_mock::{Fault, FaultServer, TokenAudit};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use steadfast_retry::{Backoff, RetryConfig};

/// What the run showed (read by the test that runs this example).
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) struct Summary {
    /// `execute_with_fallback`: who answered, and the seven-way category of each failure
    /// before it (`provider: category`).
    pub(crate) execute: (String, Vec<String>),
    /// `stream_execute_with_fallback`: who streamed, the text the consumer received, and
    /// how many times the stream was resumed.
    pub(crate) stream: (String, String, u32),
    /// The answer the servers stream (`t0 t1 …`).
    pub(crate) expected: String,
    /// Tokens lost and duplicated in the streamed text.
    pub(crate) lost_duplicated: (usize, usize),
    /// `get_provider_status()` after the first two calls.
    pub(crate) status_after_two_calls: Vec<ProviderStatus>,
    /// `get_provider_status()` after OpenAI failed three more calls.
    pub(crate) status_at_end: Vec<ProviderStatus>,
}

fn openai_like(config: OpenAiConfig, id: &str, server: &FaultServer) -> Arc<dyn ChatProvider> {
    let config = OpenAiConfig {
        id: id.to_owned(),
        base_url: format!("{}/v1", server.base_url()),
        api_key: Some(ApiKey::new("sk-local-example")),
        timeout: Duration::from_secs(2),
        ..config
    };
    Arc::new(OpenAiProvider::with_client(
        config,
        steadfast_providers_core::http::default_client(),
    ))
}

fn print_status(out: &mut impl Write, status: &[ProviderStatus]) -> Result<(), Box<dyn Error>> {
    writeln!(out, "get_provider_status() = {{")?;
    for s in status {
        writeln!(
            out,
            "  {:>10}: {{'health': '{}', 'errors': {}, 'successes': {}, 'error_score': {}, 'breaker': '{}'}}",
            s.id, s.health, s.failures, s.successes, s.error_score, s.breaker
        )?;
    }
    writeln!(out, "}}")?;
    Ok(())
}

/// Sets up the manager, calls it whole and streamed, and reports the providers' health.
pub(crate) async fn run(out: &mut impl Write) -> Result<Summary, Box<dyn Error>> {
    let openai_server = FaultServer::start().await?;
    let claude_server = FaultServer::start().await?;
    let openrouter_server = FaultServer::start().await?;
    let ollama_server = FaultServer::start().await?;

    let claude: Arc<dyn ChatProvider> = Arc::new(AnthropicProvider::with_client(
        AnthropicConfig {
            id: "claude".into(),
            base_url: claude_server.base_url(),
            api_key: Some(ApiKey::new("sk-ant-local-example")),
            timeout: Duration::from_secs(2),
            ..AnthropicConfig::default()
        },
        steadfast_providers_core::http::default_client(),
    ));
    let entry = |model: &str| EntryConfig {
        model: Some(model.to_owned()),
        retry: RetryConfig {
            max_attempts: 2,
            backoff: Backoff::constant(Duration::from_millis(10)),
            ..RetryConfig::default()
        },
        ..EntryConfig::default()
    };
    // manager.setup_fallback_chain(['openai', 'claude', 'openrouter', 'ollama'])
    let manager = FallbackChain::builder()
        .provider(
            openai_like(OpenAiConfig::openai(), "openai", &openai_server),
            entry("gpt-4o-mini"),
        )
        .provider(claude, entry("claude-sonnet-4-5"))
        .provider(
            openai_like(OpenAiConfig::openrouter(), "openrouter", &openrouter_server),
            entry("meta-llama/llama-3.1-8b-instruct"),
        )
        .provider(
            openai_like(OpenAiConfig::ollama_v1(), "ollama", &ollama_server),
            entry("llama3.2"),
        )
        .build();
    let request = ChatRequest::new("gpt-4o-mini", vec![Message::user("Hello")]);

    writeln!(out, "manager.execute_with_fallback('gpt-4o-mini', 'Hello')")?;
    openai_server.push(Fault::status(401));
    let answer = manager.chat(&request).await?;
    let mut categories = Vec::new();
    for a in &answer.attempts {
        let category = a.kind.map(|k| k.category7().to_string());
        writeln!(
            out,
            "  {a}  category: {}",
            category.as_deref().unwrap_or("-")
        )?;
        if let Some(c) = category {
            categories.push(format!("{}: {c}", a.provider));
        }
    }
    writeln!(out, "  -> {}: {:?}", answer.provider, answer.value.text)?;
    let execute = (answer.provider.clone(), categories);

    writeln!(
        out,
        "\nmanager.stream_execute_with_fallback('gpt-4o-mini', 'Hello')"
    )?;
    openai_server.push_all(std::iter::repeat_n(Fault::ResetBeforeResponse, 2));
    claude_server.push(Fault::CutAfter { chunks: 7 });
    let mut stream = manager.chat_stream(&request).await?;
    write!(out, "  ")?;
    let mut text = String::new();
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
    let audit = TokenAudit::of(&text, claude_server.config().answer_tokens);
    writeln!(
        out,
        "  -> {} streamed {} tokens, resumed {} time(s) after the cut: {} lost, {} duplicated",
        stream.provider(),
        text.split_whitespace().count(),
        stream.resumes(),
        audit.lost,
        audit.duplicated
    )?;
    let stream_summary = (stream.provider(), text, stream.resumes());
    drop(stream);

    let status_after_two_calls = manager.status();
    writeln!(out)?;
    print_status(out, &status_after_two_calls)?;

    writeln!(out, "\nOpenAI stays down for three more calls:")?;
    openai_server.set_default_fault(Fault::status(503));
    for _ in 0..3 {
        let answer = manager.chat(&request).await?;
        writeln!(
            out,
            "  answered by {} after {}",
            answer.provider, answer.attempts[0]
        )?;
    }
    let status_at_end = manager.status();
    print_status(out, &status_at_end)?;
    let openai = &status_at_end[0];
    if openai.health == Health::Unhealthy {
        writeln!(
            out,
            "  openai is unhealthy: its breaker is {}",
            openai.breaker
        )?;
    }

    Ok(Summary {
        execute,
        stream: stream_summary,
        expected: claude_server.answer(),
        lost_duplicated: (audit.lost, audit.duplicated),
        status_after_two_calls,
        status_at_end,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock()).await?;
    Ok(())
}
