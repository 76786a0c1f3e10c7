//! Successful calls against a mock Messages API: the exact wire request, whole and streamed
//! answers, tools, prefill resume, health checks, timeouts and cost.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use steadfast_errors::ErrorKind;
use steadfast_providers_anthropic::{
    AnthropicConfig, AnthropicProvider, CONTINUE_PROMPT, DEFAULT_MAX_TOKENS, PrefillMode,
};
use steadfast_providers_core::{
    ApiKey, ChatProvider, ChatRequest, ContentPart, FinishReason, Message, ModelInfo, Pricing,
    StreamEvent, Tool, ToolCall, ToolChoice, Usage,
};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use steadfast_test_kit::fixture;
use steadfast_test_kit::http::sse_events;

const KEY: &str = "sk-ant-api03-test-key-0123456789";

fn provider(server: &MockServer) -> AnthropicProvider {
    AnthropicProvider::new(AnthropicConfig {
        id: "claude-primary".into(),
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        ..AnthropicConfig::default()
    })
}

async fn collect(
    mut stream: steadfast_providers_core::ChatStream,
) -> (
    String,
    Vec<StreamEvent>,
    Option<steadfast_errors::ProviderError>,
) {
    let mut text = String::new();
    let mut events = Vec::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(StreamEvent::TextDelta { text: t }) => {
                text.push_str(&t);
                events.push(StreamEvent::TextDelta { text: t });
            }
            Ok(e) => events.push(e),
            Err(e) => {
                assert!(error.is_none(), "a second error after {error:?}");
                error = Some(e);
            }
        }
    }
    (text, events, error)
}

#[tokio::test]
async fn chat_sends_the_exact_headers_and_body_and_decodes_the_answer() {
    let server = MockServer::start().await;
    let f = fixture("responses/anthropic/01_text_blocks_cache_usage.json");
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "system": "You are terse.\n\nAnswer in English.",
            "temperature": 0.2,
            "top_p": 0.9,
            "stop_sequences": ["END"],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Hello"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
                ]},
            ],
            "metadata": {"user_id": "u-42"},
        })))
        .respond_with(f.template())
        .expect(1)
        .mount(&server)
        .await;

    let mut user = Message::user("Hello");
    user.content.push(ContentPart::Image {
        url: "data:image/png;base64,iVBORw0KGgo=".into(),
    });
    let mut req = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![Message::system("Answer in English."), user],
    )
    .with_system("You are terse.");
    req.temperature = Some(0.2);
    req.top_p = Some(0.9);
    req.stop = vec!["END".into()];
    req.extra
        .insert("metadata".into(), json!({"user_id": "u-42"}));

    let answer = provider(&server).chat(&req).await.unwrap();
    assert_eq!(answer.text, "Hello! How can I help you today?");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    assert_eq!(answer.id.as_deref(), Some("msg_01XFDUDYJgAACzvnptvVoYEL"));
    let usage = answer.usage.unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens
        ),
        (12, 4096, 1024)
    );
    // The body carried no "stream" field for a whole answer.
    let sent = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert!(body.get("stream").is_none());
}

#[tokio::test]
async fn tools_go_out_as_tools_and_tool_use_comes_back_as_tool_calls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(body_partial_json(json!({
            "max_tokens": 300,
            "tools": [{
                "name": "get_weather",
                "description": "Current weather",
                "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
            }],
            "tool_choice": {"type": "tool", "name": "get_weather"},
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather in SF? And Paris?"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking SF first."},
                    {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"location": "SF"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "15°C, fog"}]}
                ]}
            ]
        })))
        .respond_with(fixture("responses/anthropic/02_tool_use_block.json").template())
        .expect(1)
        .mount(&server)
        .await;

    let mut assistant = Message::assistant("Checking SF first.");
    assistant.tool_calls.push(ToolCall {
        id: "toolu_01".into(),
        name: "get_weather".into(),
        arguments: r#"{"location": "SF"}"#.into(),
    });
    let mut req = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![
            Message::user("Weather in SF? And Paris?"),
            assistant,
            Message::tool_result("toolu_01", "15°C, fog"),
        ],
    )
    .with_max_tokens(300)
    .with_tool(Tool {
        name: "get_weather".into(),
        description: "Current weather".into(),
        parameters: json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}),
    });
    req.tool_choice = Some(ToolChoice::Tool("get_weather".into()));

    let answer = provider(&server).chat(&req).await.unwrap();
    assert_eq!(answer.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(answer.tool_calls.len(), 1);
    let call = &answer.tool_calls[0];
    assert_eq!(
        (call.id.as_str(), call.name.as_str()),
        ("toolu_01A09q90qw90lq917835lq9", "get_weather")
    );
    assert_eq!(
        call.parsed_arguments().unwrap(),
        json!({"location": "San Francisco, CA", "unit": "celsius"})
    );
}

#[tokio::test]
async fn a_stream_is_decoded_to_the_end() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(body_partial_json(
            json!({"stream": true, "model": "claude-3-opus-latest"}),
        ))
        .respond_with(fixture("streams/anthropic/01_text_ping_end_turn.json").template())
        .expect(1)
        .mount(&server)
        .await;
    let req = ChatRequest::new("claude-3-opus-latest", vec![Message::user("Hi")]);
    let stream = provider(&server).chat_stream(&req).await.unwrap();
    let (text, events, error) = collect(stream).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text, "Hello there!");
    assert!(events.contains(&StreamEvent::Finish {
        reason: FinishReason::Stop,
        raw: "end_turn".into()
    }));
    assert!(events.contains(&StreamEvent::Usage(Usage {
        input_tokens: 11,
        output_tokens: 6,
        ..Usage::default()
    })));
    assert_eq!(events.last(), Some(&StreamEvent::Done));
}

#[tokio::test]
async fn a_streamed_tool_call_arrives_as_fragments() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(fixture("streams/anthropic/02_tool_use_input_json_delta.json").template())
        .mount(&server)
        .await;
    let req = ChatRequest::new("claude-sonnet-4-5", vec![Message::user("Weather?")]);
    let (_, events, error) = collect(provider(&server).chat_stream(&req).await.unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    let mut state = steadfast_streaming::StreamState::default();
    for e in &events {
        state.apply(e);
    }
    let calls = state.tool_calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].parsed_arguments().unwrap().is_object());
}

/// The exactly-once rule for prefill: the consumer holds "The answer is 42, " — the request
/// carries it trimmed ("…42,"), the model writes " because…", and the consumer receives
/// "because…": nothing repeated, nothing lost.
#[tokio::test]
async fn a_prefill_resume_is_exact_despite_the_trailing_whitespace_rule() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(body_partial_json(json!({
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Why 42?"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "The answer is 42,"}]}
            ]
        })))
        .respond_with(sse_events(&[
            ("message_start", r#"{"type":"message_start","message":{"id":"msg_2","model":"claude-sonnet-4-5","usage":{"input_tokens":20,"output_tokens":1}}}"#),
            ("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" "}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" because"}}"#),
            ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" it is."}}"#),
            ("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}"#),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ]))
        .expect(1)
        .mount(&server)
        .await;

    let claude = provider(&server);
    let original = ChatRequest::new("claude-sonnet-4-5", vec![Message::user("Why 42?")]);
    assert!(claude.capabilities().prefill);
    assert!(claude.continues_exactly(&original));
    let delivered = "The answer is 42,  ";
    let next = claude.continuation(&original, delivered).unwrap();
    assert_eq!(next.messages.len(), 2);

    let (text, _, error) = collect(claude.chat_stream(&next).await.unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text, "because it is.");
    assert_eq!(
        format!("{delivered}{text}"),
        "The answer is 42,  because it is."
    );
}

#[tokio::test]
async fn a_whole_answer_to_a_prefill_skips_the_trimmed_whitespace() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({
            "messages": [{"role": "user"}, {"role": "assistant", "content": [{"type": "text", "text": "{"}]}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_3", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "\n  \"a\": 1\n}"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 8}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let req = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![Message::user("JSON please"), Message::assistant("{\n")],
    );
    let answer = provider(&server).chat(&req).await.unwrap();
    assert_eq!(format!("{{\n{}", answer.text), "{\n  \"a\": 1\n}");
}

#[tokio::test]
async fn models_without_prefill_get_a_best_effort_continuation() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({
            "model": "claude-opus-4-6",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Tell a story"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Once upon a time "}]},
                {"role": "user", "content": [{"type": "text", "text": CONTINUE_PROMPT}]}
            ]
        })))
        .respond_with(fixture("responses/anthropic/01_text_blocks_cache_usage.json").template())
        .expect(1)
        .mount(&server)
        .await;
    let claude = provider(&server);
    let req = ChatRequest::new("claude-opus-4-6", vec![Message::user("Tell a story")]);
    assert!(!claude.continues_exactly(&req));
    let next = claude.continuation(&req, "Once upon a time ").unwrap();
    claude.chat(&next).await.unwrap();

    // Extended thinking rules prefill out on any model; `Never` turns it off everywhere.
    let mut thinking = ChatRequest::new("claude-sonnet-4-5", vec![Message::user("x")]);
    thinking.extra.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": 1024}),
    );
    assert!(!claude.continues_exactly(&thinking));
    let never = AnthropicProvider::new(AnthropicConfig {
        prefill: PrefillMode::Never,
        ..AnthropicConfig::default()
    });
    assert!(!never.capabilities().prefill);
    let plain = ChatRequest::new("claude-sonnet-4-5", vec![Message::user("x")]);
    assert_eq!(
        never
            .continuation(&plain, "abc")
            .unwrap()
            .messages
            .last()
            .unwrap()
            .joined_text(),
        CONTINUE_PROMPT
    );
}

#[tokio::test]
async fn health_check_lists_one_model() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(query_param("limit", "1"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "claude-opus-4-6", "type": "model", "display_name": "Claude Opus 4.6", "created_at": "2026-02-04T00:00:00Z"}],
            "first_id": "claude-opus-4-6", "has_more": true, "last_id": "claude-opus-4-6"
        })))
        .expect(1)
        .mount(&server)
        .await;
    provider(&server).health_check().await.unwrap();
}

#[tokio::test]
async fn a_slow_answer_times_out_with_the_request_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            fixture("responses/anthropic/01_text_blocks_cache_usage.json")
                .template()
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    let claude = AnthropicProvider::new(AnthropicConfig {
        timeout: Duration::from_secs(30),
        ..provider(&server).config().clone()
    });
    let req = ChatRequest::new("claude-sonnet-4-5", vec![Message::user("Hi")])
        .with_timeout(Duration::from_millis(50));

    let err = claude.chat(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(
        (err.provider(), err.model()),
        ("claude-primary", Some("claude-sonnet-4-5"))
    );

    let err = claude.chat_stream(&req).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(
        (err.provider(), err.model()),
        ("claude-primary", Some("claude-sonnet-4-5"))
    );

    // Without the override the config's 30 s apply, and the same call succeeds.
    let relaxed = ChatRequest {
        timeout: None,
        ..req
    };
    claude.chat(&relaxed).await.unwrap();
}

#[tokio::test]
async fn cost_prices_cache_reads_and_writes_beside_the_input() {
    let claude = AnthropicProvider::new(AnthropicConfig {
        models: vec![ModelInfo {
            id: "claude-sonnet-4-5".into(),
            context_window: Some(200_000),
            pricing: Some(Pricing {
                cache_read_per_mtok: Some(0.30),
                cache_write_per_mtok: Some(3.75),
                ..Pricing::per_million(3.0, 15.0)
            }),
        }],
        ..AnthropicConfig::default()
    });
    // Fixture 01: input 12, cache write 1024, cache read 4096, output 14.
    let usage = Usage {
        input_tokens: 12,
        output_tokens: 14,
        cache_read_tokens: 4096,
        cache_write_tokens: 1024,
        reasoning_tokens: 0,
    };
    let cost = claude.cost("claude-sonnet-4-5", &usage).unwrap();
    let expected = (12.0 * 3.0 + 4096.0 * 0.30 + 1024.0 * 3.75 + 14.0 * 15.0) / 1e6;
    assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
    assert_eq!(claude.cost("claude-unknown", &usage), None);
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let claude = provider(&server);
    let mut bad = Message::user("look");
    bad.content.push(ContentPart::Image {
        url: "ftp://example.com/cat.png".into(),
    });
    let err = claude
        .chat(&ChatRequest::new("claude-sonnet-4-5", vec![bad]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(
        (err.provider(), err.model()),
        ("claude-primary", Some("claude-sonnet-4-5"))
    );
}

#[test]
fn a_continuation_asks_only_for_the_tokens_still_owed() {
    let claude = AnthropicProvider::new(AnthropicConfig::default());
    // 40 characters delivered: an estimated 10 tokens, on both resume paths.
    let delivered = "x".repeat(40);
    for model in ["claude-sonnet-4-5", "claude-opus-4-6"] {
        let asked = ChatRequest::new(model, vec![Message::user("Count")]).with_max_tokens(100);
        let next = claude.continuation(&asked, &delivered).unwrap();
        assert_eq!(next.max_tokens, Some(90), "{model}");
        // No limit in the request: the configured default is what the answer was held to.
        let unlimited = ChatRequest::new(model, vec![Message::user("Count")]);
        let next = claude.continuation(&unlimited, &delivered).unwrap();
        assert_eq!(next.max_tokens, Some(DEFAULT_MAX_TOKENS - 10), "{model}");
    }
}
