//! Every Anthropic fixture of `tests/conformance` served by a mock API and read through the
//! provider: error classes (status errors on both `chat` and `chat_stream`), whole answers,
//! and streams — including a stream cut before `message_stop` and an in-band `event: error`.

use futures_util::StreamExt;
use steadfast_errors::ErrorKind;
use steadfast_providers_anthropic::{AnthropicConfig, AnthropicProvider};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_streaming::StreamState;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use steadfast_test_kit::expect::{check_answer, check_stream};
use steadfast_test_kit::{Fixture, check_error, drain, fixture, fixtures};

const ID: &str = "anthropic-eu";
const MODEL: &str = "claude-sonnet-4-5";

async fn serve(f: &Fixture) -> (MockServer, AnthropicProvider) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(f.template())
        .mount(&server)
        .await;
    let provider = AnthropicProvider::new(AnthropicConfig {
        id: ID.into(),
        base_url: server.uri(),
        api_key: Some(ApiKey::new("sk-ant-fixture-key")),
        ..AnthropicConfig::default()
    });
    (server, provider)
}

fn request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user("Hello")])
}

/// Reads a stream to its end: the accumulated state (error included).
async fn stream_state(provider: &AnthropicProvider) -> StreamState {
    drain(provider.chat_stream(&request()).await.unwrap())
        .await
        .0
}

#[tokio::test]
async fn every_error_fixture_classifies_and_is_labelled() {
    let all = fixtures("errors/anthropic");
    assert!(all.len() >= 18, "fixtures missing");
    for f in &all {
        let (_server, provider) = serve(f).await;
        let want = &f.expect["error"];
        let err = provider.chat(&request()).await.unwrap_err();
        check_error(&f.name, want, &err, ID, MODEL);
        let err = provider.chat_stream(&request()).await.err().unwrap();
        check_error(&f.name, want, &err, ID, MODEL);
        assert!(
            !err.first_byte_received(),
            "{}: a status error precedes the stream",
            f.name
        );
    }
}

#[tokio::test]
async fn the_main_error_classes_by_name() {
    let cases = [
        (
            "errors/anthropic/01_authentication_error_invalid_key.json",
            ErrorKind::Auth,
        ),
        (
            "errors/anthropic/06_rate_limit_error_retry_after.json",
            ErrorKind::RateLimited,
        ),
        (
            "errors/anthropic/18_enforced_spend_limit_429.json",
            ErrorKind::QuotaExhausted,
        ),
        (
            "errors/anthropic/08_overloaded_529.json",
            ErrorKind::Overloaded,
        ),
        ("errors/anthropic/09_api_error_500.json", ErrorKind::Server),
        (
            "errors/anthropic/03_prompt_too_long_400.json",
            ErrorKind::ContextLength,
        ),
    ];
    for (file, kind) in cases {
        let (_server, provider) = serve(&fixture(file)).await;
        let err = provider.chat(&request()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{file}");
        assert!(err.to_string().starts_with("anthropic-eu"), "{err}");
    }
    let (_server, provider) = serve(&fixture(cases[1].0)).await;
    let err = provider.chat(&request()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(23)));
}

#[tokio::test]
async fn every_response_fixture_decodes() {
    for f in &fixtures("responses/anthropic") {
        let (_server, provider) = serve(f).await;
        let want = &f.expect["response"];
        let answer = provider.chat(&request()).await.unwrap();
        check_answer(&f.name, want, &answer);
    }
}

#[tokio::test]
async fn every_stream_fixture_decodes_errors_included() {
    let all = fixtures("streams/anthropic");
    assert!(all.len() >= 11, "fixtures missing");
    for f in &all {
        let (_server, provider) = serve(f).await;
        let want = &f.expect["stream"];
        let state = stream_state(&provider).await;
        check_stream(&f.name, want, &state, ID, MODEL);
    }
}

#[tokio::test]
async fn a_stream_cut_before_message_stop_is_interrupted_after_delivering_the_text() {
    let (_server, provider) = serve(&fixture(
        "streams/anthropic/07_cut_after_message_delta.json",
    ))
    .await;
    let mut stream = provider.chat_stream(&request()).await.unwrap();
    let mut text = String::new();
    let mut last_err = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(steadfast_providers_core::StreamEvent::TextDelta { text: t }) => {
                assert!(last_err.is_none(), "text after the error");
                text.push_str(&t);
            }
            Ok(_) => {}
            Err(e) => last_err = Some(e),
        }
    }
    assert_eq!(text, "Hello there!");
    let err = last_err.expect("an explicit interruption");
    assert_eq!(err.kind(), ErrorKind::StreamInterrupted);
    assert!(err.first_byte_received());
    assert_eq!((err.provider(), err.model()), (ID, Some(MODEL)));
}

#[tokio::test]
async fn an_error_event_inside_a_200_stream_classifies_like_a_529() {
    let (_server, provider) = serve(&fixture(
        "streams/anthropic/06_inband_overloaded_error.json",
    ))
    .await;
    let state = stream_state(&provider).await;
    assert_eq!(state.text(), "Here is the first paragraph.");
    let err = state.error().unwrap();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert!(err.is_retryable() && err.first_byte_received());
    assert_eq!((err.provider(), err.model()), (ID, Some(MODEL)));
}

#[tokio::test]
async fn a_refused_connection_is_a_labelled_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let provider = AnthropicProvider::new(AnthropicConfig {
        id: ID.into(),
        base_url: format!("http://{addr}"),
        ..AnthropicConfig::default()
    });
    let err = provider.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!((err.provider(), err.model()), (ID, Some(MODEL)));
    let err = provider.health_check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
}
