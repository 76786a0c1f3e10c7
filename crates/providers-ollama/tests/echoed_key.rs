//! A key that does not look like a key, echoed back in the error body, in x-request-id, or
//! in an error inside a 200 stream, never shows in the error's Display or Debug.

use futures_util::StreamExt;
use steadfast_errors::ProviderError;
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_providers_ollama::{OllamaConfig, OllamaProvider};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "quokka-Mango-7731-zebra-Lime";

fn assert_clean(what: &str, err: &ProviderError) {
    let shown = format!("{err} {err:?} {err:#?}");
    steadfast_test_kit::assert_hidden(what, &shown, &[KEY, "quokka-Mango", "zebra-Lime"]);
}

fn provider(server: &MockServer) -> OllamaProvider {
    OllamaProvider::new(OllamaConfig {
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        ..OllamaConfig::default()
    })
}

fn hi() -> ChatRequest {
    ChatRequest::new("some-model", vec![Message::user("Hi")])
}

#[tokio::test]
async fn a_key_echoed_in_a_status_error_never_shows() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("x-request-id", format!("req-{KEY}"))
                .set_body_raw(
                    format!(r#"{{"error":"no such key {KEY}"}}"#),
                    "application/json",
                ),
        )
        .mount(&server)
        .await;
    let p = provider(&server);
    assert_clean("chat", &p.chat(&hi()).await.unwrap_err());
    match p.chat_stream(&hi()).await {
        Err(err) => assert_clean("stream", &err),
        Ok(_) => panic!("a 401 fails the stream call"),
    }
}

#[tokio::test]
async fn a_key_echoed_in_an_in_band_stream_error_never_shows() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw(format!("{{\"model\":\"m\",\"message\":{{\"role\":\"assistant\",\"content\":\"Hi\"}},\"done\":false}}\n{{\"error\":\"key {KEY} revoked\"}}\n"), "application/x-ndjson"))
        .mount(&server)
        .await;
    let mut stream = provider(&server).chat_stream(&hi()).await.unwrap();
    let mut errors = Vec::new();
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            errors.push(e);
        }
    }
    assert!(!errors.is_empty(), "the in-band error arrives");
    for err in &errors {
        assert_clean("in-band", err);
    }
}
