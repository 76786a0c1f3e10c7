//! The API key never shows: not in TRACE logs, not in any error's Display or Debug, not in
//! the provider's or the config's Debug — even when the server echoes it back.

use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use steadfast_test_kit::http::sse;
use steadfast_test_kit::{LogCapture, assert_hidden, drain_items, fixture};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "sk-proj-ZebraQuartz-93f1c0de7a55";

#[tokio::test]
async fn the_key_appears_in_no_log_error_or_debug_output() {
    let logs = LogCapture::new();
    logs.set_global();

    let server = MockServer::start().await;
    // Success, whole and streamed.
    Mock::given(method("POST"))
        .and(path("/ok/chat/completions"))
        .respond_with(fixture("responses/openai/01_text_cached_tokens.json").template())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/stream/chat/completions"))
        .respond_with(fixture("streams/openai/01_text_include_usage.json").template())
        .mount(&server)
        .await;
    // A 401 whose message echoes the key, as llama.cpp's does.
    let echoed = format!(
        r#"{{"error":{{"code":401,"message":"Invalid API Key: Authorization: Bearer {SECRET}","type":"authentication_error"}}}}"#
    );
    Mock::given(method("POST"))
        .and(path("/echo/chat/completions"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(echoed.clone(), "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/echo/models"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(echoed, "application/json"))
        .mount(&server)
        .await;
    // An in-band stream error echoing the key.
    let in_band = format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"Hi\"}}}}]}}\n\ndata: {{\"error\":{{\"message\":\"bad key {SECRET}\",\"type\":\"server_error\"}}}}\n\n"
    );
    Mock::given(method("POST"))
        .and(path("/inband/chat/completions"))
        .respond_with(sse(&in_band))
        .mount(&server)
        .await;

    let make = |prefix: &str| {
        OpenAiProvider::new(OpenAiConfig {
            base_url: format!("{}/{prefix}", server.uri()),
            api_key: Some(ApiKey::new(SECRET)),
            ..OpenAiConfig::openai()
        })
    };
    let req = ChatRequest::new("gpt-4o", vec![Message::user("Hi")]);
    let mut shown = Vec::new();

    make("ok").chat(&req).await.unwrap();
    let (state, _) = drain_items(make("stream").chat_stream(&req).await.unwrap()).await;
    assert!(state.is_complete());

    let echo = make("echo");
    let errors = [
        echo.chat(&req).await.unwrap_err(),
        echo.chat_stream(&req).await.err().unwrap(),
        echo.health_check().await.unwrap_err(),
    ];
    let (state, items) = drain_items(make("inband").chat_stream(&req).await.unwrap()).await;
    assert_eq!(state.text(), "Hi");
    let in_band_err = items.into_iter().find_map(Result::err).unwrap();
    for err in errors.iter().chain([&in_band_err]) {
        shown.push(format!("{err}\n{err:?}"));
    }
    assert!(
        shown[0].contains("Invalid API Key"),
        "the echoed message is kept, minus the key: {}",
        shown[0]
    );
    let provider = make("ok");
    shown.push(format!("{provider:?}"));
    shown.push(format!("{:?}", provider.config()));
    shown.push(serde_json::to_string(provider.config()).unwrap());

    let logs = logs.text();
    assert!(
        logs.contains("sending chat completion request"),
        "the subscriber captured the provider's events: {logs}"
    );
    assert_hidden("the logs", &logs, &[SECRET, "ZebraQuartz"]);
    for text in &shown {
        assert_hidden("a shown value", text, &[SECRET, "ZebraQuartz"]);
    }
}
