//! Calls against a mock Gemini API: the exact wire request (key in the header, never in the
//! URL), whole and streamed answers, tools, safety blocks, RetryInfo, resume, health checks,
//! timeouts and cost.

use std::time::Duration;

use serde_json::json;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{
    ApiKey, ChatProvider, ChatRequest, ContentPart, FinishReason, Message, ModelInfo, Pricing,
    StreamEvent, Tool, ToolCall, ToolChoice, Usage,
};
use steadfast_providers_gemini::{CONTINUE_PROMPT, ContinueStyle, GeminiConfig, GeminiProvider};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use steadfast_test_kit::{drain, fixture};

const KEY: &str = "AIzaSyTestKey-0123456789abcdefghijklmn";
const ID: &str = "gemini-main";

fn provider(server: &MockServer) -> GeminiProvider {
    GeminiProvider::new(GeminiConfig {
        id: ID.into(),
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        ..GeminiConfig::default()
    })
}

/// A Gemini `alt=sse` stream of `chunks` (JSON texts), framed with CRLF as Google does.
fn sse(chunks: &[&str]) -> ResponseTemplate {
    let body: String = chunks
        .iter()
        .map(|c| format!("data: {c}\r\n\r\n"))
        .collect();
    steadfast_test_kit::http::sse(&body)
}

async fn assert_no_key_in_urls(server: &MockServer) {
    for r in server.received_requests().await.unwrap() {
        assert!(!r.url.as_str().contains(KEY), "key in URL: {}", r.url);
        assert!(
            r.url.query_pairs().all(|(k, _)| k != "key"),
            "key= in URL: {}",
            r.url
        );
        assert_eq!(r.headers.get("x-goog-api-key").unwrap(), KEY);
    }
}

#[tokio::test]
async fn chat_sends_the_exact_request_and_decodes_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-flash:generateContent"))
        .and(header("x-goog-api-key", KEY))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "systemInstruction": {"parts": [{"text": "Answer with arithmetic only."}]},
            "contents": [
                {"role": "user", "parts": [
                    {"text": "What is 1+1?"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
                ]},
            ],
            "generationConfig": {
                "temperature": 0.2,
                "topP": 0.9,
                "maxOutputTokens": 128,
                "stopSequences": ["END"],
                "responseMimeType": "application/json"
            },
            "labels": {"team": "search"}
        })))
        .respond_with(fixture("responses/gemini/01_generate_content_stop.json").template())
        .expect(1)
        .mount(&server)
        .await;

    let mut user = Message::user("What is 1+1?");
    user.content.push(ContentPart::Image {
        url: "data:image/png;base64,iVBORw0KGgo=".into(),
    });
    let mut req = ChatRequest::new("gemini-2.5-flash", vec![user])
        .with_system("Answer with arithmetic only.")
        .with_max_tokens(128);
    req.temperature = Some(0.2);
    req.top_p = Some(0.9);
    req.stop = vec!["END".into()];
    req.response_format = Some(json!({"type": "json_object"}));
    req.extra.insert("labels".into(), json!({"team": "search"}));

    let answer = provider(&server).chat(&req).await.unwrap();
    assert_eq!(answer.text, "1+1 equals 2.");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    assert_eq!(answer.model.as_deref(), Some("gemini-2.5-flash"));
    let usage = answer.usage.unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.reasoning_tokens
        ),
        (15, 26, 20)
    );
    assert_no_key_in_urls(&server).await;
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(sent.url.query(), None);
}

#[tokio::test]
async fn a_stream_uses_alt_sse_and_is_decoded_to_the_end() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        ))
        .and(query_param("alt", "sse"))
        .and(header("x-goog-api-key", KEY))
        .respond_with(fixture("streams/gemini/01_text_crlf_usage.json").template())
        .expect(1)
        .mount(&server)
        .await;
    let req = ChatRequest::new("models/gemini-2.5-flash", vec![Message::user("Capital?")]);
    let (state, events) = drain(provider(&server).chat_stream(&req).await.unwrap()).await;
    assert!(state.error().is_none(), "{:?}", state.error());
    assert_eq!(
        state.text(),
        "The capital of France is Paris. It sits on the Seine."
    );
    assert_eq!(state.finish_reason(), Some(FinishReason::Stop));
    assert!(state.is_complete());
    assert_eq!(events.last(), Some(&StreamEvent::Done));
    assert_no_key_in_urls(&server).await;
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(sent.url.query(), Some("alt=sse"));
}

#[tokio::test]
async fn tools_go_out_as_function_declarations_and_calls_come_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({
            "tools": [{"functionDeclarations": [{
                "name": "schedule_meeting",
                "description": "Books a meeting",
                "parametersJsonSchema": {"type": "object", "properties": {"topic": {"type": "string"}}}
            }]}],
            "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
            "contents": [
                {"role": "user", "parts": [{"text": "What's the weather, then book a meeting"}]},
                {"role": "model", "parts": [{
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "skip_thought_signature_validator"
                }]},
                {"role": "user", "parts": [{
                    "functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}
                }]}
            ]
        })))
        .respond_with(fixture("responses/gemini/03_function_call.json").template())
        .expect(1)
        .mount(&server)
        .await;
    let mut model_turn = Message::assistant("");
    model_turn.tool_calls.push(ToolCall {
        id: "get_weather".into(),
        name: "get_weather".into(),
        arguments: r#"{"city":"Paris"}"#.into(),
    });
    let mut req = ChatRequest::new(
        "gemini-3-flash-preview",
        vec![
            Message::user("What's the weather, then book a meeting"),
            model_turn,
            Message::tool_result("get_weather", r#"{"temp_c": 18}"#),
        ],
    )
    .with_tool(Tool {
        name: "schedule_meeting".into(),
        description: "Books a meeting".into(),
        parameters: json!({"type": "object", "properties": {"topic": {"type": "string"}}}),
    });
    req.tool_choice = Some(ToolChoice::Auto);
    let answer = provider(&server).chat(&req).await.unwrap();
    assert_eq!(answer.tool_calls.len(), 1);
    assert_eq!(answer.tool_calls[0].name, "schedule_meeting");
    assert_eq!(answer.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(
        answer.tool_calls[0].parsed_arguments().unwrap()["attendees"],
        json!(["Bob", "Alice"])
    );
}

#[tokio::test]
async fn a_blocked_prompt_in_a_200_body_is_a_content_filter_error() {
    let server = MockServer::start().await;
    let blocked = fixture("responses/gemini/02_blocked_prompt_error.json");
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-flash:generateContent"))
        .respond_with(blocked.template())
        .mount(&server)
        .await;
    // The same block as the first (and only) event of a stream.
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-flash:streamGenerateContent"))
        .respond_with(sse(&[
            r#"{"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]}, "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}, "modelVersion": "gemini-2.5-flash"}"#,
        ]))
        .mount(&server)
        .await;
    let gemini = provider(&server);
    let req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("something blocked")]);

    let err = gemini.chat(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContentFilter, "{err}");
    assert!(!err.is_retryable());
    assert_eq!(
        (err.provider(), err.model()),
        (ID, Some("gemini-2.5-flash"))
    );

    let (state, _) = drain(gemini.chat_stream(&req).await.unwrap()).await;
    let err = state
        .error()
        .expect("the block ends the stream with an error");
    assert_eq!(err.kind(), ErrorKind::ContentFilter, "{err}");
    assert_eq!(
        (err.provider(), err.model()),
        (ID, Some("gemini-2.5-flash"))
    );
    assert_eq!(state.text(), "");
}

#[tokio::test]
async fn a_safety_finish_mid_stream_ends_the_answer_as_content_filter() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(fixture("streams/gemini/04_finish_safety.json").template())
        .mount(&server)
        .await;
    let req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("How do I…")]);
    let (state, events) = drain(provider(&server).chat_stream(&req).await.unwrap()).await;
    assert_eq!(state.text(), "Step one is to");
    assert!(events.contains(&StreamEvent::Finish {
        reason: FinishReason::ContentFilter,
        raw: "SAFETY".into()
    }));
    assert_eq!(state.finish_reason(), Some(FinishReason::ContentFilter));
    assert!(state.error().is_none() && state.is_complete());
}

#[tokio::test]
async fn retry_info_on_a_429_becomes_the_retry_after() {
    let cases = [
        (
            "errors/gemini/09_rate_limited_per_minute_retryinfo.json",
            ErrorKind::RateLimited,
            34_000,
        ),
        (
            "errors/gemini/10_rate_limited_fractional_retrydelay.json",
            ErrorKind::RateLimited,
            57_238,
        ),
        (
            "errors/gemini/11_quota_exhausted_per_day.json",
            ErrorKind::QuotaExhausted,
            47_000,
        ),
    ];
    for (file, kind, ms) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(fixture(file).template())
            .mount(&server)
            .await;
        let gemini = provider(&server);
        let req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("Hi")]);
        for err in [
            gemini.chat(&req).await.unwrap_err(),
            gemini.chat_stream(&req).await.err().unwrap(),
        ] {
            assert_eq!(err.kind(), kind, "{file}: {err}");
            assert_eq!(err.retry_after().map(|d| d.as_millis()), Some(ms), "{file}");
            assert_eq!(err.status(), Some(429));
            assert_eq!(
                (err.provider(), err.model()),
                (ID, Some("gemini-2.5-flash"))
            );
        }
    }
}

#[tokio::test]
async fn resume_ends_with_a_model_turn_where_the_model_takes_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-flash:streamGenerateContent"))
        .and(body_partial_json(json!({"contents": [
            {"role": "user", "parts": [{"text": "Three ideas?"}]},
            {"role": "model", "parts": [{"text": "Here are three ideas:\n1. A garden"}]}
        ]})))
        .respond_with(sse(&[
            r#"{"candidates": [{"content": {"parts": [{"text": "\n2. A pond\n3. A path"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 20,"candidatesTokenCount": 9,"totalTokenCount": 29},"modelVersion": "gemini-2.5-flash"}"#,
        ]))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/v1beta/models/gemini-3.6-flash:streamGenerateContent",
        ))
        .and(body_partial_json(json!({"contents": [
            {"role": "user", "parts": [{"text": "Three ideas?"}]},
            {"role": "model", "parts": [{"text": "Here are three ideas:\n1. A garden"}]},
            {"role": "user", "parts": [{"text": CONTINUE_PROMPT}]}
        ]})))
        .respond_with(fixture("streams/gemini/01_text_crlf_usage.json").template())
        .expect(1)
        .mount(&server)
        .await;

    let gemini = provider(&server);
    assert!(
        !gemini.capabilities().prefill,
        "Gemini resume is never exact"
    );
    let delivered = "Here are three ideas:\n1. A garden";
    let flash = ChatRequest::new("gemini-2.5-flash", vec![Message::user("Three ideas?")]);
    let next = gemini.continuation(&flash, delivered).unwrap();
    let (state, _) = drain(gemini.chat_stream(&next).await.unwrap()).await;
    assert_eq!(
        format!("{delivered}{}", state.text()),
        "Here are three ideas:\n1. A garden\n2. A pond\n3. A path"
    );

    let newer = ChatRequest::new("gemini-3.6-flash", vec![Message::user("Three ideas?")]);
    assert!(!gemini.continues_in_model_turn(&newer));
    let next = gemini.continuation(&newer, delivered).unwrap();
    let (state, _) = drain(gemini.chat_stream(&next).await.unwrap()).await;
    assert!(state.is_complete());

    let forced = GeminiProvider::new(GeminiConfig {
        continue_style: ContinueStyle::UserTurn,
        ..GeminiConfig::default()
    });
    assert!(!forced.continues_in_model_turn(&flash));
}

#[tokio::test]
async fn health_check_lists_one_model_with_the_key_in_the_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .and(query_param("pageSize", "1"))
        .and(header("x-goog-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "models": [{"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash"}],
            "nextPageToken": "Ch1tb2RlbHMvZ2VtaW5pLTIuNS1mbGFzaA=="
        })))
        .expect(1)
        .mount(&server)
        .await;
    provider(&server).health_check().await.unwrap();
    assert_no_key_in_urls(&server).await;

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(fixture("errors/gemini/01_api_key_invalid.json").template())
        .mount(&server)
        .await;
    let err = provider(&server).health_check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.provider(), ID);
}

#[tokio::test]
async fn a_slow_answer_times_out_with_the_request_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            fixture("responses/gemini/01_generate_content_stop.json")
                .template()
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    let gemini = provider(&server);
    let req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("Hi")])
        .with_timeout(Duration::from_millis(50));
    let err = gemini.chat(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(
        (err.provider(), err.model()),
        (ID, Some("gemini-2.5-flash"))
    );
    let err = gemini.chat_stream(&req).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(
        (err.provider(), err.model()),
        (ID, Some("gemini-2.5-flash"))
    );
    let relaxed = ChatRequest {
        timeout: Some(Duration::from_secs(10)),
        ..req
    };
    gemini.chat(&relaxed).await.unwrap();
}

#[tokio::test]
async fn cost_prices_cached_tokens_inside_the_input() {
    let gemini = GeminiProvider::new(GeminiConfig {
        models: vec![ModelInfo {
            id: "gemini-2.5-flash".into(),
            context_window: Some(1_048_576),
            pricing: Some(Pricing {
                cache_read_per_mtok: Some(0.075),
                ..Pricing::per_million(0.30, 2.50)
            }),
        }],
        ..GeminiConfig::default()
    });
    // Stream fixture 06: promptTokenCount 4120 of which cachedContentTokenCount 4096.
    let usage = Usage {
        input_tokens: 4120,
        output_tokens: 11,
        cache_read_tokens: 4096,
        ..Usage::default()
    };
    let cost = gemini.cost("gemini-2.5-flash", &usage).unwrap();
    let expected = (24.0 * 0.30 + 4096.0 * 0.075 + 11.0 * 2.50) / 1e6;
    assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
}

#[tokio::test]
async fn bad_model_ids_are_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let gemini = provider(&server);
    for model in [
        "gemini-2.5-flash:generateContent?key=x",
        "../../v1/files",
        "",
    ] {
        let err = gemini
            .chat(&ChatRequest::new(model, vec![Message::user("Hi")]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{model}");
        assert_eq!(err.provider(), ID);
    }
}

#[test]
fn a_continuation_asks_only_for_the_tokens_still_owed() {
    let gemini = GeminiProvider::new(GeminiConfig::default());
    // 40 characters delivered: an estimated 10 tokens, on both resume paths.
    let delivered = "x".repeat(40);
    for model in ["gemini-2.5-flash", "gemini-3.6-flash"] {
        let asked = ChatRequest::new(model, vec![Message::user("Count")]).with_max_tokens(100);
        let next = gemini.continuation(&asked, &delivered).unwrap();
        assert_eq!(next.max_tokens, Some(90), "{model}");
        let unlimited = ChatRequest::new(model, vec![Message::user("Count")]);
        assert_eq!(
            gemini
                .continuation(&unlimited, &delivered)
                .unwrap()
                .max_tokens,
            None
        );
    }
}
