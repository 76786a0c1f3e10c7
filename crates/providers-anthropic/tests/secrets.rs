//! The API key never shows: not in TRACE logs, errors (Display or Debug), nor the provider's
//! or config's Debug, even when the API echoes it back in an error body.

use futures_util::StreamExt;
use serde_json::json;
use steadfast_providers_anthropic::{AnthropicConfig, AnthropicProvider};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, ContentPart, Message};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use steadfast_test_kit::{LogCapture, assert_hidden, fixture};

/// A distinctive key, so that any leak is unmistakable.
const KEY: &str = "sk-ant-api03-LEAKCANARY-7f3a9c2e1d-ZZZ";

fn assert_clean(what: &str, text: &str) {
    assert_hidden(what, text, &[KEY, "LEAKCANARY"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_appears_in_no_log_error_or_debug_output() {
    let logs = LogCapture::new();
    logs.set_global();

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(wiremock::matchers::body_partial_json(
            json!({"model": "claude-ok"}),
        ))
        .respond_with(fixture("responses/anthropic/01_text_blocks_cache_usage.json").template())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(wiremock::matchers::body_partial_json(
            json!({"model": "claude-stream"}),
        ))
        .respond_with(fixture("streams/anthropic/07_cut_after_message_delta.json").template())
        .mount(&server)
        .await;
    // The API echoing the key back in an error message.
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(wiremock::matchers::body_partial_json(json!({"model": "claude-bad"})))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "type": "error",
            "error": {"type": "authentication_error", "message": format!("invalid x-api-key: {KEY}")},
            "request_id": "req_011CXw8h8A796q3f74Ezmhav"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "type": "error",
            "error": {"type": "permission_error", "message": format!("key {KEY} may not list models")}
        })))
        .mount(&server)
        .await;

    let config = AnthropicConfig {
        id: "claude-primary".into(),
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        ..AnthropicConfig::default()
    };
    let provider = AnthropicProvider::new(config.clone());
    let mut errors = Vec::new();

    provider
        .chat(&ChatRequest::new("claude-ok", vec![Message::user("Hi")]))
        .await
        .unwrap();
    let mut stream = provider
        .chat_stream(&ChatRequest::new(
            "claude-stream",
            vec![Message::user("Hi")],
        ))
        .await
        .unwrap();
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            errors.push(e);
        }
    }
    errors.push(
        provider
            .chat(&ChatRequest::new("claude-bad", vec![Message::user("Hi")]))
            .await
            .unwrap_err(),
    );
    errors.push(
        provider
            .chat_stream(&ChatRequest::new("claude-bad", vec![Message::user("Hi")]))
            .await
            .err()
            .unwrap(),
    );
    errors.push(provider.health_check().await.unwrap_err());
    let mut bad = Message::user("x");
    bad.content.push(ContentPart::Image {
        url: format!("data:{KEY}"),
    });
    errors.push(
        provider
            .chat(&ChatRequest::new("claude-ok", vec![bad]))
            .await
            .unwrap_err(),
    );
    let closed = AnthropicProvider::new(AnthropicConfig {
        base_url: "http://127.0.0.1:9".into(),
        ..config.clone()
    });
    errors.push(
        closed
            .chat(&ChatRequest::new("claude-ok", vec![Message::user("Hi")]))
            .await
            .unwrap_err(),
    );

    assert_eq!(errors.len(), 6, "{errors:?}");
    for err in &errors {
        assert_clean("an error's Display", &err.to_string());
        assert_clean("an error's Debug", &format!("{err:?}"));
        assert_eq!(err.provider(), "claude-primary");
    }
    assert_clean("the provider's Debug", &format!("{provider:?}"));
    assert_clean("the config's Debug", &format!("{config:?}"));
    assert_clean(
        "the serialized config",
        &serde_json::to_string(&config).unwrap(),
    );

    let captured = logs.text();
    assert!(
        captured.contains("sending an anthropic messages request")
            && captured.contains("claude-primary"),
        "the subscriber captured nothing: {captured}"
    );
    assert_clean("the TRACE logs", &captured);
}
