//! The shared scenarios again, against the OpenRouter preset: its attribution headers, its
//! error dialect (402 credits, errors inside 200 bodies and streams), its health call.

mod common;

use common::{KEY, both_errors, provider};
use serde_json::json;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ChatProvider, ChatRequest, FinishReason, Message};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use steadfast_test_kit::{drain_items, fixture};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CHAT: &str = "/api/v1/chat/completions";

fn openrouter(server: &MockServer) -> OpenAiProvider {
    provider(
        OpenAiConfig {
            id: "openrouter-main".into(),
            app_url: Some("https://example.com/my-app".into()),
            app_title: Some("My App".into()),
            ..OpenAiConfig::openrouter()
        },
        format!("{}/api/v1", server.uri()),
    )
}

fn hi() -> ChatRequest {
    ChatRequest::new("openai/gpt-4o-mini", vec![Message::user("Hi")])
}

#[tokio::test]
async fn chat_sends_bearer_and_attribution_headers_and_max_tokens() {
    let server = MockServer::start().await;
    let f = fixture("responses/openrouter/01_usage_with_cost.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("http-referer", "https://example.com/my-app"))
        .and(header("x-title", "My App"))
        .and(body_partial_json(json!({
            "model": "openai/gpt-4o-mini",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hi"}]
        })))
        .respond_with(f.template())
        .expect(1)
        .mount(&server)
        .await;
    let r = openrouter(&server)
        .chat(&hi().with_max_tokens(100))
        .await
        .unwrap();
    assert_eq!(r.text, f.expect["response"]["text"].as_str().unwrap());
    assert_eq!(r.finish_reason, Some(FinishReason::Stop));
    let usage = r.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (9, 10));
}

#[tokio::test]
async fn stream_with_processing_comments_completes() {
    let server = MockServer::start().await;
    let f = fixture("streams/openrouter/01_processing_comments_usage_cost.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("x-title", "My App"))
        .and(body_partial_json(
            json!({"stream": true, "stream_options": {"include_usage": true}}),
        ))
        .respond_with(f.template())
        .expect(1)
        .mount(&server)
        .await;
    let (state, _) = drain_items(openrouter(&server).chat_stream(&hi()).await.unwrap()).await;
    assert!(state.is_complete(), "{:?}", state.error());
    assert_eq!(state.text(), f.expect["stream"]["text"].as_str().unwrap());
    let usage = state.usage().unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (12, 9));
}

#[tokio::test]
async fn error_responses_are_classified_with_the_openrouter_table() {
    let cases = [
        "errors/openrouter/01_insufficient_credits_402.json",
        "errors/openrouter/03_moderation_flagged_403.json",
        "errors/openrouter/05_upstream_rate_limited_429_retry_after.json",
        "errors/openrouter/07_model_down_502.json",
        "errors/openrouter/08_no_available_provider_503.json",
        "errors/openrouter/09_request_timeout_408.json",
        "errors/openrouter/10_context_length_400.json",
        "errors/openrouter/13_user_not_found_401.json",
        "errors/openrouter/16_in_flight_budget_402_retry_after.json",
    ];
    for case in cases {
        let f = fixture(case);
        for err in both_errors(&f, CHAT, openrouter, &hi()).await {
            assert_eq!(err.kind().as_str(), f.expected_kind(), "{case}: {err}");
            assert_eq!(err.provider(), "openrouter-main", "{case}");
            assert_eq!(err.model(), Some("openai/gpt-4o-mini"), "{case}");
            assert_eq!(
                err.retry_after().map(|d| d.as_millis() as u64),
                f.expected_retry_ms(),
                "{case}"
            );
        }
    }
}

#[tokio::test]
async fn an_error_object_inside_a_200_body_is_classified_like_its_code() {
    let server = MockServer::start().await;
    let f = fixture("errors/openrouter/11_http200_error_body_502.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(f.template())
        .expect(2)
        .mount(&server)
        .await;
    let p = openrouter(&server);
    // Whole, and as the JSON answer to a stream request.
    for err in [
        p.chat(&hi()).await.unwrap_err(),
        p.chat_stream(&hi()).await.err().unwrap(),
    ] {
        assert_eq!(err.kind().as_str(), f.expected_kind(), "{err}");
        assert_eq!(err.provider(), "openrouter-main");
        assert_eq!(err.model(), Some("openai/gpt-4o-mini"));
    }
}

#[tokio::test]
async fn a_mid_stream_error_chunk_ends_the_stream_classified() {
    let server = MockServer::start().await;
    let f = fixture("streams/openrouter/02_midstream_error_server_error.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(f.template())
        .mount(&server)
        .await;
    let (state, items) = drain_items(openrouter(&server).chat_stream(&hi()).await.unwrap()).await;
    assert_eq!(state.text(), "Bonjour ! Comment");
    assert!(!state.is_complete());
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert_eq!(err.provider_code(), Some("server_error"));
    assert_eq!(
        (err.provider(), err.model()),
        ("openrouter-main", Some("openai/gpt-4o-mini"))
    );
}

#[tokio::test]
async fn a_stream_cut_before_done_is_interrupted() {
    let server = MockServer::start().await;
    let f = fixture("streams/openrouter/01_processing_comments_usage_cost.json");
    // Cut right after the second event: its text arrived, [DONE] never does.
    let second_end = f.body.match_indices("\n\n").nth(2).unwrap().0 + 2;
    let cut = f.cut(second_end);
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(cut.template())
        .mount(&server)
        .await;
    let (state, items) = drain_items(openrouter(&server).chat_stream(&hi()).await.unwrap()).await;
    assert!(!state.text().is_empty());
    assert!(
        f.expect["stream"]["text"]
            .as_str()
            .unwrap()
            .starts_with(state.text())
    );
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamInterrupted);
    assert_eq!(err.provider(), "openrouter-main");
}

#[tokio::test]
async fn health_check_asks_for_the_key_not_the_public_model_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/key"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"label": "sk-or-v1-116...0ce", "limit": 5, "usage": 0.10, "is_free_tier": false}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/models"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    openrouter(&server).health_check().await.unwrap();

    let bad = MockServer::start().await;
    let f = fixture("errors/openrouter/13_user_not_found_401.json");
    Mock::given(method("GET"))
        .and(path("/api/v1/key"))
        .respond_with(f.template())
        .mount(&bad)
        .await;
    let err = openrouter(&bad).health_check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.provider(), "openrouter-main");
}

#[tokio::test]
async fn without_attribution_no_attribution_headers_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(|req: &Request| {
            !req.headers.contains_key("http-referer") && !req.headers.contains_key("x-title")
        })
        .respond_with(fixture("responses/openrouter/01_usage_with_cost.json").template())
        .expect(1)
        .mount(&server)
        .await;
    provider(
        OpenAiConfig::openrouter(),
        format!("{}/api/v1", server.uri()),
    )
    .chat(&hi())
    .await
    .unwrap();
}
