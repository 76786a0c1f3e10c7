//! The span tree of a routed, streamed call as an OpenTelemetry backend sees it: exported
//! through `tracing-opentelemetry` into the SDK's in-memory exporter. In its own test
//! binary: tracing caches callsite interest process-wide.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use steadfast_errors::{ErrorKind, Provider};
use steadfast_providers_core::{ChatRequest, Message, StreamEvent};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, RouteOptions, Router};
use tracing_subscriber::layer::SubscriberExt;

const ANSWER: &str = "t0 t1 t2 t3";

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

/// A span's attributes as strings.
fn attrs(span: &SpanData) -> BTreeMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.as_str().to_owned(), kv.value.as_str().into_owned()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn call_then_attempts_then_resume_with_gen_ai_attributes() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let router = Router::builder()
        .name("writers")
        .provider(
            mock(
                "primary",
                Provider::OpenAi,
                vec![Outcome::Error(ErrorKind::Server)],
            ),
            pc(1),
        )
        .provider(
            mock(
                "backup",
                Provider::Anthropic,
                vec![Outcome::cut(["t0", " t1"]), Outcome::continue_from(ANSWER)],
            ),
            pc(2),
        )
        .build();
    let request = ChatRequest::new("gpt-test", vec![Message::user("Hello there")]);
    let mut stream = router
        .chat_stream(&request, RouteOptions::default())
        .await
        .unwrap()
        .value;
    // Open at its first token: the two attempts ended, the call goes on with the stream.
    provider.force_flush().unwrap();
    let ended = exporter.get_finished_spans().unwrap();
    assert_eq!(ended.len(), 2, "{ended:#?}");
    assert!(
        ended
            .iter()
            .all(|s| !attrs(s).contains_key("steadfast.model_group"))
    );
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        if let Ok(StreamEvent::TextDelta { text: t }) = item {
            text.push_str(&t);
        }
    }
    assert_eq!(text, ANSWER);
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let call = spans
        .iter()
        .find(|s| attrs(s).contains_key("steadfast.model_group"))
        .expect("the call span");
    assert_eq!(call.name, "chat gpt-test");
    let a = attrs(call);
    assert_eq!(a["gen_ai.operation.name"], "chat");
    assert_eq!(a["gen_ai.request.model"], "gpt-test");
    assert_eq!(a["gen_ai.response.model"], "gpt-test");
    assert_eq!(a["gen_ai.provider.name"], "anthropic");
    assert_eq!(a["steadfast.provider"], "backup");
    assert_eq!(a["steadfast.model_group"], "writers");
    let usage = stream_usage(&a);
    assert!(usage.0 > 0 && usage.1 > 0, "{a:?}");
    assert!(!a.contains_key("error.type"), "{a:?}");
    assert!(!a.contains_key("gen_ai.system"));

    // Every other span is a child of the call.
    let mut children: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_context.span_id() != call.span_context.span_id())
        .collect();
    assert!(
        children
            .iter()
            .all(|s| s.parent_span_id == call.span_context.span_id()),
        "{children:#?}"
    );
    // In call order: the primary's attempt, the backup's, then the resume (start times are
    // wall-clock and may tie).
    children.sort_by_key(|s| {
        let a = attrs(s);
        (
            a["steadfast.resume"] == "true",
            a["steadfast.provider"] != "primary",
        )
    });
    let summary: Vec<[Option<String>; 5]> = children
        .iter()
        .map(|s| {
            let a = attrs(s);
            let get = |k: &str| a.get(k).cloned();
            [
                Some(s.name.to_string()),
                get("steadfast.provider"),
                get("gen_ai.provider.name"),
                get("steadfast.resume"),
                get("error.type"),
            ]
        })
        .collect();
    let row = |provider: &str, name: &str, resume: &str, error: Option<&str>| {
        [
            Some("chat gpt-test".to_owned()),
            Some(provider.to_owned()),
            Some(name.to_owned()),
            Some(resume.to_owned()),
            error.map(str::to_owned),
        ]
    };
    assert_eq!(
        summary,
        [
            row("primary", "openai", "false", Some("server")),
            row("backup", "anthropic", "false", None),
            row("backup", "anthropic", "true", None),
        ]
    );
    for child in &children {
        let a = attrs(child);
        assert_eq!(a["gen_ai.operation.name"], "chat");
        assert_eq!(a["gen_ai.request.model"], "gpt-test");
    }
}

fn stream_usage(a: &BTreeMap<String, String>) -> (u64, u64) {
    (
        a["gen_ai.usage.input_tokens"].parse().unwrap(),
        a["gen_ai.usage.output_tokens"].parse().unwrap(),
    )
}

/// An HTTP provider's attempt names the server it called — host and port only: a secret in
/// the base URL's user info or query never reaches an attribute.
#[tokio::test]
async fn an_http_attempt_names_its_server_and_nothing_else_of_the_url() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = steadfast_providers_mock::FaultServer::start()
        .await
        .unwrap();
    let port = server.addr().port();
    let config = steadfast_providers_openai::OpenAiConfig {
        id: "local".into(),
        base_url: format!("http://user:sk-url-secret@127.0.0.1:{port}/v1?key=sk-query-secret"),
        api_key: Some(steadfast_providers_core::ApiKey::new("sk-header-secret")),
        ..steadfast_providers_openai::OpenAiConfig::default()
    };
    let openai = Arc::new(steadfast_providers_openai::OpenAiProvider::new(config));
    let router = Router::builder().provider(openai, pc(1)).build();
    let request = ChatRequest::new("mock-model", vec![Message::user("Count")]);
    router
        .chat(&request, RouteOptions::default())
        .await
        .unwrap();
    drop(router);

    let spans = exporter.get_finished_spans().unwrap();
    let attempt = spans
        .iter()
        .find(|s| attrs(s).contains_key("steadfast.attempt"))
        .expect("an attempt span");
    let a = attrs(attempt);
    assert_eq!(a["server.address"], "127.0.0.1");
    assert_eq!(a["server.port"], port.to_string());
    for span in &spans {
        for (k, v) in attrs(span) {
            assert!(!v.contains("secret"), "{k} = {v}");
        }
    }
}
