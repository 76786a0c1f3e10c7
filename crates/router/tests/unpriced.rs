//! A model with no known price is billed at 0 with one warning per (provider, model), in its
//! own test binary: tracing caches callsite interest process-wide, so a capturing
//! subscriber must not race other tests.

use std::sync::{Arc, Mutex};

use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, RouteOptions, Router};

/// Counts the warnings of the router's pricing module, with their `model` field.
#[derive(Default)]
struct Warnings(Mutex<Vec<String>>);

struct Model<'a>(&'a mut String);

impl tracing::field::Visit for Model<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "model" {
            *self.0 = format!("{value:?}");
        }
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
        if meta.target().starts_with("steadfast_router::pricing")
            && *meta.level() == tracing::Level::WARN
        {
            let mut model = String::new();
            event.record(&mut Model(&mut model));
            self.0.0.lock().unwrap().push(model);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(start_paused = true)]
async fn an_unpriced_model_warns_once_and_costs_nothing() {
    let warnings = Arc::new(Warnings::default());
    let _guard = tracing::subscriber::set_default(Capture(Arc::clone(&warnings)));
    let config = ScriptedConfig {
        id: "local".into(),
        ..ScriptedConfig::default()
    };
    let provider = Arc::new(ScriptedProvider::from_fn(config, |_, _| {
        Outcome::text("hi")
    }));
    let router = Router::builder()
        .provider(provider, ProviderConfig::default())
        .build();
    for model in [
        "no-such-model-a",
        "no-such-model-a",
        "no-such-model-b",
        "no-such-model-a",
    ] {
        let request = ChatRequest::new(model, vec![Message::user("Hello")]);
        router
            .chat(&request, RouteOptions::default())
            .await
            .unwrap();
    }
    let warned = warnings.0.lock().unwrap().clone();
    assert_eq!(warned, ["\"no-such-model-a\"", "\"no-such-model-b\""]);
    assert_eq!(router.stats().cost_usd, 0.0);
}
