//! The API key never shows: not in a URL, TRACE logs, errors (Display or Debug), nor the
//! provider's or config's Debug, even when the API echoes it back in an error body.

use futures_util::StreamExt;
use serde_json::json;
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_providers_gemini::{GeminiConfig, GeminiProvider};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use steadfast_test_kit::{LogCapture, assert_hidden, fixture};

/// A distinctive key (Google's shape: `AIza` + 35 characters), so that a leak is unmistakable.
const KEY: &str = "AIzaSyLEAKCANARY0123456789abcdefghijkl";

fn assert_clean(what: &str, text: &str) {
    assert_hidden(what, text, &[KEY, "LEAKCANARY"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_appears_in_no_url_log_error_or_debug_output() {
    let logs = LogCapture::new();
    logs.set_global();

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-ok:generateContent"))
        .and(header("x-goog-api-key", KEY))
        .respond_with(fixture("responses/gemini/01_generate_content_stop.json").template())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-ok:streamGenerateContent"))
        .respond_with(fixture("streams/gemini/08_raw_json_error_tail_503.json").template())
        .mount(&server)
        .await;
    // The API (or a relay) echoing the key back in error messages.
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-bad:generateContent"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": 400,
            "message": format!("API key not valid: {KEY}"),
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
        }})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-bad:streamGenerateContent"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {
            "code": 429,
            "message": format!("Error fetching https://generativelanguage.googleapis.com/v1beta/models/x:generateContent?key={KEY}: quota"),
            "status": "RESOURCE_EXHAUSTED"
        }})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": 403, "message": format!("Key {KEY} was reported as leaked."), "status": "PERMISSION_DENIED"
        }})))
        .mount(&server)
        .await;

    let config = GeminiConfig {
        id: "gemini-main".into(),
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        ..GeminiConfig::default()
    };
    let provider = GeminiProvider::new(config.clone());
    let mut errors = Vec::new();

    provider
        .chat(&ChatRequest::new("gemini-ok", vec![Message::user("Hi")]))
        .await
        .unwrap();
    let mut stream = provider
        .chat_stream(&ChatRequest::new("gemini-ok", vec![Message::user("Hi")]))
        .await
        .unwrap();
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            errors.push(e);
        }
    }
    errors.push(
        provider
            .chat(&ChatRequest::new("gemini-bad", vec![Message::user("Hi")]))
            .await
            .unwrap_err(),
    );
    errors.push(
        provider
            .chat_stream(&ChatRequest::new("gemini-bad", vec![Message::user("Hi")]))
            .await
            .err()
            .unwrap(),
    );
    errors.push(provider.health_check().await.unwrap_err());
    errors.push(
        provider
            .chat(&ChatRequest::new("../files", vec![Message::user("Hi")]))
            .await
            .unwrap_err(),
    );
    let closed = GeminiProvider::new(GeminiConfig {
        base_url: "http://127.0.0.1:9".into(),
        ..config.clone()
    });
    errors.push(
        closed
            .chat(&ChatRequest::new("gemini-ok", vec![Message::user("Hi")]))
            .await
            .unwrap_err(),
    );

    assert_eq!(errors.len(), 6, "{errors:?}");
    for err in &errors {
        assert_clean("an error's Display", &err.to_string());
        assert_clean("an error's Debug", &format!("{err:?}"));
        assert_eq!(err.provider(), "gemini-main");
    }
    for request in server.received_requests().await.unwrap() {
        assert_clean("a request URL", request.url.as_str());
    }
    assert_clean("the provider's Debug", &format!("{provider:?}"));
    assert_clean("the config's Debug", &format!("{config:?}"));
    assert_clean(
        "the serialized config",
        &serde_json::to_string(&config).unwrap(),
    );

    let captured = logs.text();
    assert!(
        captured.contains("sending a gemini generateContent request")
            && captured.contains("gemini-main"),
        "the subscriber captured nothing: {captured}"
    );
    assert_clean("the TRACE logs", &captured);
}
