//! The built-in model catalog as the router's default: cost when neither the config nor the
//! provider prices a model, the one warning for a model nobody prices, and the
//! context-window pre-check. In its own test binary because it captures `tracing` output
//! (callsite interest is cached process-wide).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use steadfast_errors::Provider;
use steadfast_providers_core::{ChatRequest, ChatResponse, Message, Pricing, Usage};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, RouteOptions, Router};

fn answer(usage: Usage) -> Outcome {
    Outcome::Response(ChatResponse {
        text: "ok".into(),
        usage: Some(usage),
        ..ChatResponse::default()
    })
}

fn mock(id: &str, kind: Provider, outcomes: Vec<Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        kind,
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, outcomes))
}

fn pc(priority: i32) -> ProviderConfig {
    let mut c = ProviderConfig {
        priority,
        ..ProviderConfig::default()
    };
    c.entry.retry.max_attempts = 1;
    c
}

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Hello there")])
}

const MILLION: Usage = Usage {
    input_tokens: 1_000_000,
    output_tokens: 1_000_000,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
};

/// The warnings the router logs about prices, as (provider, model).
#[derive(Default)]
struct Warnings(Mutex<Vec<BTreeMap<String, String>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct Capture(Arc<Warnings>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let meta = event.metadata();
        if *meta.level() == tracing::Level::WARN && meta.target().starts_with("steadfast_router") {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.0.lock().unwrap().push(fields);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(start_paused = true)]
async fn a_catalog_model_is_billed_at_its_catalog_price() {
    let router = Router::builder()
        .provider(mock("xai", Provider::Xai, vec![answer(MILLION)]), pc(1))
        .build();
    let routed = router
        .chat(&request("grok-3-mini"), RouteOptions::default())
        .await
        .unwrap();
    // grok-3-mini: $0.30 in, $0.50 out per million.
    assert!((routed.cost_usd - 0.80).abs() < 1e-9, "{}", routed.cost_usd);
    assert!((router.stats().cost_usd - 0.80).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn config_pricing_and_the_providers_own_price_come_before_the_catalog() {
    let priced = Arc::new(ScriptedProvider::new(
        ScriptedConfig {
            id: "own".into(),
            kind: Provider::Xai,
            pricing: Some(Pricing::per_million(1.0, 1.0)),
            ..ScriptedConfig::default()
        },
        vec![answer(MILLION)],
    ));
    let configured = ProviderConfig {
        pricing: Some(Pricing::per_million(10.0, 10.0)),
        ..pc(2)
    };
    let router = Router::builder()
        .provider(priced, pc(1))
        .provider(
            mock("cfg", Provider::Xai, vec![answer(MILLION)]),
            configured,
        )
        .build();
    let own = router
        .chat(&request("grok-3-mini"), RouteOptions::default())
        .await
        .unwrap();
    assert!((own.cost_usd - 2.0).abs() < 1e-9, "{}", own.cost_usd);
    let options = RouteOptions {
        prefer: Some("cfg".into()),
        ..RouteOptions::default()
    };
    let cfg = router.chat(&request("grok-3-mini"), options).await.unwrap();
    assert_eq!(cfg.provider, "cfg");
    assert!((cfg.cost_usd - 20.0).abs() < 1e-9, "{}", cfg.cost_usd);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_model_costs_nothing_and_warns_once() {
    let warnings = Arc::new(Warnings::default());
    let _guard = tracing::subscriber::set_default(Capture(Arc::clone(&warnings)));
    let outcomes = vec![answer(MILLION), answer(MILLION), answer(MILLION)];
    let router = Router::builder()
        .provider(mock("unpriced", Provider::OpenAi, outcomes), pc(1))
        .build();
    for _ in 0..3 {
        let routed = router
            .chat(&request("gpt-from-the-future"), RouteOptions::default())
            .await
            .unwrap();
        assert_eq!(routed.cost_usd, 0.0);
    }
    let warnings = warnings.0.lock().unwrap();
    let about_it: Vec<_> = warnings
        .iter()
        .filter(|w| w.get("model").map(String::as_str) == Some("gpt-from-the-future"))
        .collect();
    assert_eq!(about_it.len(), 1, "{warnings:?}");
    assert_eq!(about_it[0]["provider"], "unpriced");
}

#[tokio::test(start_paused = true)]
async fn a_local_provider_is_free_without_a_warning() {
    let warnings = Arc::new(Warnings::default());
    let _guard = tracing::subscriber::set_default(Capture(Arc::clone(&warnings)));
    let router = Router::builder()
        .provider(
            mock("local", Provider::Ollama, vec![answer(MILLION)]),
            pc(1),
        )
        .build();
    let routed = router
        .chat(&request("qwen3:8b"), RouteOptions::default())
        .await
        .unwrap();
    assert_eq!(routed.cost_usd, 0.0);
    assert!(warnings.0.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_context_window_precheck_uses_the_catalog() {
    // grok-2-vision-1212 has an 8192-token window: a 40 000-character prompt (~10 000
    // tokens) does not fit, so the provider is skipped before it is called.
    let small = mock("small", Provider::Xai, vec![Outcome::text("from small")]);
    let large = mock("large", Provider::Xai, vec![Outcome::text("from large")]);
    let mut small_config = pc(1);
    small_config.model = Some("grok-2-vision-1212".into());
    let mut large_config = pc(2);
    large_config.model = Some("grok-3".into());
    let router = Router::builder()
        .provider(small.clone(), small_config)
        .provider(large, large_config)
        .build();
    let long = ChatRequest::new("any", vec![Message::user("word ".repeat(8_000))]);
    let routed = router.chat(&long, RouteOptions::default()).await.unwrap();
    assert_eq!(routed.provider, "large");
    assert_eq!(small.calls(), 0);
    // A short request fits the small window and goes first.
    let routed = router
        .chat(&request("any"), RouteOptions::default())
        .await
        .unwrap();
    assert_eq!(routed.provider, "small");
}
