//! The tracing event of each routed request, in its own test binary: tracing caches
//! callsite interest process-wide, so a capturing subscriber must not race other tests.

use std::sync::Arc;

use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, RouteOptions, Router};

fn mock(id: &str, outcomes: Vec<Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
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

fn request() -> ChatRequest {
    ChatRequest::new("model", vec![Message::user("Hello there")])
}

fn opts() -> RouteOptions {
    RouteOptions::default()
}

/// Collects the fields of every `steadfast_router` event.
#[derive(Default)]
struct Events(std::sync::Mutex<Vec<std::collections::BTreeMap<String, String>>>);

struct Fields<'a>(&'a mut std::collections::BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

struct Capture(Arc<Events>);

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
        if event.metadata().target() == "steadfast_router" {
            let mut fields = std::collections::BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.0.lock().unwrap().push(fields);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(start_paused = true)]
async fn one_event_per_request_with_gen_ai_fields() {
    let events = Arc::new(Events::default());
    let _guard = tracing::subscriber::set_default(Capture(Arc::clone(&events)));
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::Error(ErrorKind::Server)]), pc(1))
        .provider(mock("b", vec![Outcome::text("hi")]), pc(2))
        .build();
    router.chat(&request(), opts()).await.unwrap();
    router.set_enabled("b", false);
    router.chat(&request(), opts()).await.unwrap_err();
    let events = events.0.lock().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    let ok = &events[0];
    assert_eq!(ok["gen_ai.provider.name"], "\"openai\"");
    assert!(
        !ok.contains_key("gen_ai.system"),
        "the deprecated name is gone"
    );
    assert_eq!(ok["gen_ai.request.model"], "\"model\"");
    assert_eq!(ok["gen_ai.usage.input_tokens"], "2");
    assert_eq!(ok["gen_ai.usage.output_tokens"], "1");
    assert_eq!(ok["provider"], "\"b\"");
    assert_eq!(
        (ok["success"].as_str(), ok["fallback"].as_str()),
        ("true", "true")
    );
    assert!(ok.contains_key("duration_ms"));
    let failed = &events[1];
    assert_eq!(failed["success"], "false");
    assert_eq!(failed["error_kind"], "\"server\"");
}
