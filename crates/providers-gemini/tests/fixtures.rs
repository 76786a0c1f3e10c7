//! Every Gemini fixture of `tests/conformance` served by a mock API and read through the
//! provider: error classes (on `chat` and `chat_stream`, a 200 error body included), whole
//! answers (a blocked prompt included), and streams — a cut without `finishReason` and a raw
//! JSON error appended after the events among them.

use futures_util::StreamExt;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message, StreamEvent};
use steadfast_providers_gemini::{GeminiConfig, GeminiProvider};
use steadfast_streaming::StreamState;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

use steadfast_test_kit::expect::{check_answer, check_stream};
use steadfast_test_kit::{Fixture, check_error, drain, fixture, fixtures};

const ID: &str = "gemini-eu";
const MODEL: &str = "gemini-2.5-flash";

async fn serve(f: &Fixture) -> (MockServer, GeminiProvider) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(f.template())
        .mount(&server)
        .await;
    let provider = GeminiProvider::new(GeminiConfig {
        id: ID.into(),
        base_url: server.uri(),
        api_key: Some(ApiKey::new("AIzaSyFixtureKey000000000000000000000000")),
        ..GeminiConfig::default()
    });
    (server, provider)
}

fn request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user("Hello")])
}

/// Reads a stream to its end: the accumulated state (error included).
async fn stream_state(provider: &GeminiProvider) -> StreamState {
    drain(provider.chat_stream(&request()).await.unwrap())
        .await
        .0
}

#[tokio::test]
async fn every_error_fixture_classifies_and_is_labelled() {
    let all = fixtures("errors/gemini");
    assert!(all.len() >= 22, "fixtures missing");
    for f in &all {
        let (_server, provider) = serve(f).await;
        let want = &f.expect["error"];
        let err = provider.chat(&request()).await.unwrap_err();
        check_error(&f.name, want, &err, ID, MODEL);
        // Streamed: a status error refuses the stream; an error object inside a 200 arrives
        // as the stream's only item.
        match provider.chat_stream(&request()).await {
            Err(err) => check_error(&f.name, want, &err, ID, MODEL),
            Ok(_) => {
                assert_eq!(f.status, 200, "{}", f.name);
                let state = stream_state(&provider).await;
                check_error(&f.name, want, state.error().unwrap(), ID, MODEL);
            }
        }
    }
}

#[tokio::test]
async fn a_key_echoed_by_the_api_is_scrubbed_from_the_error() {
    let f = fixture("errors/gemini/21_key_echoed_in_url.json");
    let (_server, provider) = serve(&f).await;
    let err = provider.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("AIzaSyPtYgjmUhBel31iEl2hpChYgCfrL1spNxn"),
        "{shown}"
    );
}

#[tokio::test]
async fn every_response_fixture_decodes() {
    for f in &fixtures("responses/gemini") {
        let (_server, provider) = serve(f).await;
        let result = provider.chat(&request()).await;
        if let Some(want) = f.expect.get("error") {
            check_error(&f.name, want, &result.unwrap_err(), ID, MODEL);
            continue;
        }
        let want = &f.expect["response"];
        let answer = result.unwrap();
        check_answer(&f.name, want, &answer);
    }
}

#[tokio::test]
async fn every_stream_fixture_decodes_errors_included() {
    let all = fixtures("streams/gemini");
    assert!(all.len() >= 11, "fixtures missing");
    for f in &all {
        let (_server, provider) = serve(f).await;
        let want = &f.expect["stream"];
        let state = stream_state(&provider).await;
        check_stream(&f.name, want, &state, ID, MODEL);
    }
}

#[tokio::test]
async fn a_stream_cut_before_any_finish_reason_is_interrupted_after_the_text() {
    let (_server, provider) =
        serve(&fixture("streams/gemini/07_cut_without_finish_reason.json")).await;
    let mut stream = provider.chat_stream(&request()).await.unwrap();
    let mut text = String::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(StreamEvent::TextDelta { text: t }) => {
                assert!(error.is_none(), "text after the error");
                text.push_str(&t);
            }
            Ok(_) => {}
            Err(e) => error = Some(e),
        }
    }
    assert_eq!(text, "The capital of France is Paris.");
    let err = error.expect("an explicit interruption");
    assert_eq!(err.kind(), ErrorKind::StreamInterrupted);
    assert!(err.first_byte_received());
    assert_eq!((err.provider(), err.model()), (ID, Some(MODEL)));
}

#[tokio::test]
async fn a_raw_error_appended_to_a_200_stream_classifies_like_a_503() {
    let (_server, provider) =
        serve(&fixture("streams/gemini/08_raw_json_error_tail_503.json")).await;
    let state = stream_state(&provider).await;
    assert_eq!(state.text(), "Here are three ideas:\n1. A garden");
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
    let provider = GeminiProvider::new(GeminiConfig {
        id: ID.into(),
        base_url: format!("http://{addr}"),
        ..GeminiConfig::default()
    });
    let err = provider.chat_stream(&request()).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!((err.provider(), err.model()), (ID, Some(MODEL)));
    let err = provider.health_check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!(err.provider(), ID);
}
