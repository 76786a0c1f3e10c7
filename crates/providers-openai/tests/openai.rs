//! The shared scenarios against the OpenAI preset: success whole and streamed, every error
//! class, cut and in-band-error streams, the exact headers and body, timeouts, health.

mod common;

use std::time::Duration;

use common::{KEY, both_errors, provider};
use serde_json::json;
use steadfast_errors::{ErrorKind, Owner};
use steadfast_providers_core::{
    ChatProvider, ChatRequest, ContentPart, FinishReason, Message, ModelInfo, Pricing, Role,
    StreamEvent, Tool, ToolCall, ToolChoice,
};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use steadfast_streaming::Timeouts;
use steadfast_test_kit::http::sse;
use steadfast_test_kit::{drain_items, fixture};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CHAT: &str = "/v1/chat/completions";

fn openai(server: &MockServer) -> OpenAiProvider {
    provider(OpenAiConfig::openai(), format!("{}/v1", server.uri()))
}

fn hello(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Say something about a holiday.")])
}

#[tokio::test]
async fn chat_sends_the_openai_body_and_decodes_the_answer() {
    let server = MockServer::start().await;
    let f = fixture("responses/openai/01_text_cached_tokens.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "model": "gpt-4.1-nano",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say something about a holiday."}
            ],
            "temperature": 0.2,
            "top_p": 0.5,
            "max_completion_tokens": 64,
            "stop": ["\n\n"],
            "response_format": {"type": "json_object"},
            "user": "u-42"
        })))
        .and(|req: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            // Not streamed, and no max_tokens beside max_completion_tokens.
            body.get("stream").is_none() && body.get("max_tokens").is_none()
        })
        .respond_with(f.template())
        .expect(1)
        .mount(&server)
        .await;

    let mut req = hello("gpt-4.1-nano")
        .with_system("Be brief.")
        .with_max_tokens(64);
    req.temperature = Some(0.2);
    req.top_p = Some(0.5);
    req.stop = vec!["\n\n".into()];
    req.response_format = Some(json!({"type": "json_object"}));
    req.extra.insert("user".into(), json!("u-42"));
    let r = openai(&server).chat(&req).await.unwrap();

    assert_eq!(r.text, f.expect["response"]["text"].as_str().unwrap());
    assert_eq!(r.finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.model.as_deref(), Some("gpt-4.1-nano-2025-04-14"));
    let usage = r.usage.unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens
        ),
        (2006, 18, 1920)
    );
}

#[tokio::test]
async fn cost_prices_cached_tokens_inside_prompt_tokens() {
    let server = MockServer::start().await;
    let f = fixture("responses/openai/01_text_cached_tokens.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(f.template())
        .mount(&server)
        .await;
    let p = OpenAiProvider::new(OpenAiConfig {
        base_url: format!("{}/v1", server.uri()),
        api_key: Some(steadfast_providers_core::ApiKey::new(KEY)),
        models: vec![ModelInfo {
            id: "gpt-4.1-nano".into(),
            context_window: Some(1_047_576),
            pricing: Some(Pricing {
                cache_read_per_mtok: Some(0.025),
                ..Pricing::per_million(0.10, 0.40)
            }),
        }],
        ..OpenAiConfig::openai()
    });
    let usage = p.chat(&hello("gpt-4.1-nano")).await.unwrap().usage.unwrap();
    // 86 uncached input at $0.10, 1920 cached at $0.025, 18 output at $0.40 (per million).
    let want = (86.0 * 0.10 + 1920.0 * 0.025 + 18.0 * 0.40) / 1e6;
    let got = p.cost("gpt-4.1-nano", &usage).unwrap();
    assert!((got - want).abs() < 1e-15, "{got} != {want}");
    assert_eq!(p.cost("unpriced-model", &usage), None);
}

#[tokio::test]
async fn stream_asks_for_usage_and_delivers_every_event() {
    let server = MockServer::start().await;
    let f = fixture("streams/openai/01_text_include_usage.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "gpt-4o",
            "stream": true,
            "stream_options": {"include_usage": true}
        })))
        .respond_with(f.template())
        .expect(1)
        .mount(&server)
        .await;
    let stream = openai(&server).chat_stream(&hello("gpt-4o")).await.unwrap();
    let (state, items) = drain_items(stream).await;
    assert!(state.is_complete(), "{:?}", state.error());
    assert_eq!(state.text(), f.expect["stream"]["text"].as_str().unwrap());
    assert_eq!(state.finish_reason(), Some(FinishReason::Stop));
    let usage = state.usage().unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (14, 47));
    assert!(matches!(items.first(), Some(Ok(StreamEvent::Start { .. }))));
    assert_eq!(items.last().unwrap().as_ref().unwrap(), &StreamEvent::Done);
}

#[tokio::test]
async fn stream_usage_can_be_turned_off_for_servers_that_refuse_stream_options() {
    let server = MockServer::start().await;
    let f = fixture("streams/openai/01_text_include_usage.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(|req: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            body["stream"] == json!(true) && body.get("stream_options").is_none()
        })
        .respond_with(f.template())
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(
        OpenAiConfig {
            stream_usage: false,
            ..OpenAiConfig::openai()
        },
        format!("{}/v1", server.uri()),
    );
    let (state, _) = drain_items(p.chat_stream(&hello("gpt-4o")).await.unwrap()).await;
    assert!(state.is_complete());
}

#[tokio::test]
async fn streamed_parallel_tool_calls_are_assembled() {
    let server = MockServer::start().await;
    let f = fixture("streams/openai/03_parallel_tool_calls.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(body_partial_json(json!({
            "tools": [
                {"type": "function", "function": {
                    "name": "get_stock_price",
                    "description": "The price of a stock.",
                    "parameters": {"type": "object", "properties": {"ticker": {"type": "string"}}}
                }}
            ],
            "tool_choice": "required"
        })))
        .respond_with(f.template())
        .expect(1)
        .mount(&server)
        .await;
    let mut req = hello("gpt-4o").with_tool(Tool {
        name: "get_stock_price".into(),
        description: "The price of a stock.".into(),
        parameters: json!({"type": "object", "properties": {"ticker": {"type": "string"}}}),
    });
    req.tool_choice = Some(ToolChoice::Required);
    let (state, _) = drain_items(openai(&server).chat_stream(&req).await.unwrap()).await;
    assert!(state.is_complete());
    assert_eq!(state.finish_reason(), Some(FinishReason::ToolCalls));
    let calls = state.tool_calls();
    let want = f.expect["stream"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), want.len());
    for (got, want) in calls.iter().zip(want) {
        assert_eq!(got.id, want["id"].as_str().unwrap());
        assert_eq!(got.name, want["name"].as_str().unwrap());
        assert_eq!(got.arguments, want["arguments"].as_str().unwrap());
    }
}

#[tokio::test]
async fn history_with_tool_calls_tool_results_and_images_has_the_wire_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(body_partial_json(json!({
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "What is the weather where this photo was taken?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [{
                    "id": "call_abc", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Edinburgh\"}"}
                }]},
                {"role": "tool", "tool_call_id": "call_abc", "content": "{\"temp_c\":11}"}
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}
        })))
        .respond_with(fixture("responses/openai/01_text_cached_tokens.json").template())
        .expect(1)
        .mount(&server)
        .await;
    let mut req = ChatRequest::new(
        "gpt-4o",
        vec![
            Message {
                role: Role::User,
                content: vec![
                    ContentPart::Text {
                        text: "What is the weather where this photo was taken?".into(),
                    },
                    ContentPart::Image {
                        url: "data:image/png;base64,iVBORw0KGgo=".into(),
                    },
                ],
                tool_calls: Vec::new(),
                tool_call_id: None,
            },
            Message {
                role: Role::Assistant,
                content: Vec::new(),
                tool_calls: vec![ToolCall {
                    id: "call_abc".into(),
                    name: "get_weather".into(),
                    arguments: "{\"city\":\"Edinburgh\"}".into(),
                }],
                tool_call_id: None,
            },
            Message::tool_result("call_abc", "{\"temp_c\":11}"),
        ],
    );
    req.tool_choice = Some(ToolChoice::Tool("get_weather".into()));
    openai(&server).chat(&req).await.unwrap();
}

#[tokio::test]
async fn a_non_streamed_tool_call_answer_is_decoded() {
    let server = MockServer::start().await;
    let f = fixture("responses/openai/02_tool_calls.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(f.template())
        .mount(&server)
        .await;
    let r = openai(&server).chat(&hello("gpt-4o")).await.unwrap();
    assert_eq!(r.finish_reason, Some(FinishReason::ToolCalls));
    assert!(!r.tool_calls.is_empty());
    assert!(r.tool_calls[0].parsed_arguments().is_ok());
}

/// Every error class OpenAI produces, whole and streamed: classified by the OpenAI table,
/// labelled with the instance id and the model, retry hints kept.
#[tokio::test]
async fn error_responses_are_classified_and_labelled() {
    let cases = [
        "errors/openai/01_invalid_api_key_masked.json",
        "errors/openai/03_insufficient_quota_429.json",
        "errors/openai/04_rate_limit_tpm_body_hint_seconds.json",
        "errors/openai/08_context_length_exceeded.json",
        "errors/openai/09_model_not_found.json",
        "errors/openai/10_content_policy_violation.json",
        "errors/openai/11_server_error_500_should_retry_false.json",
        "errors/openai/12_server_is_overloaded_503_retry_after_ms.json",
        "errors/openai/13_html_502_from_proxy.json",
        "errors/openai/15_unsupported_country_403.json",
    ];
    for case in cases {
        let f = fixture(case);
        let eu = |server: &MockServer| {
            provider(
                OpenAiConfig {
                    id: "openai-eu".into(),
                    ..OpenAiConfig::openai()
                },
                format!("{}/v1", server.uri()),
            )
        };
        for err in both_errors(&f, CHAT, eu, &hello("gpt-4o")).await {
            assert_eq!(err.kind().as_str(), f.expected_kind(), "{case}: {err}");
            assert_eq!(err.provider(), "openai-eu", "{case}");
            assert_eq!(err.model(), Some("gpt-4o"), "{case}");
            assert_eq!(err.status(), Some(f.status), "{case}");
            assert_eq!(
                err.retry_after().map(|d| d.as_millis() as u64),
                f.expected_retry_ms(),
                "{case}"
            );
            assert!(!err.first_byte_received(), "{case}");
        }
    }
}

#[tokio::test]
async fn a_stream_cut_before_done_is_interrupted_and_keeps_the_text() {
    let server = MockServer::start().await;
    let f = fixture("streams/openai/06_cut_no_done_partial_event.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(f.template())
        .mount(&server)
        .await;
    let p = provider(
        OpenAiConfig {
            id: "openai-primary".into(),
            ..OpenAiConfig::openai()
        },
        format!("{}/v1", server.uri()),
    );
    let (state, items) = drain_items(p.chat_stream(&hello("gpt-4o")).await.unwrap()).await;
    assert_eq!(state.text(), f.expect["stream"]["text"].as_str().unwrap());
    assert!(!state.is_complete());
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamInterrupted);
    assert_eq!(err.provider(), "openai-primary");
    assert_eq!(err.model(), Some("gpt-4o"));
    assert!(err.first_byte_received());
    assert_eq!(
        items.iter().filter(|i| i.is_err()).count(),
        1,
        "exactly one error, last"
    );
}

#[tokio::test]
async fn an_error_inside_a_200_stream_is_classified_after_the_text() {
    let server = MockServer::start().await;
    let body = concat!(
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Half \"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"an answer\"},\"finish_reason\":null}]}\n\n",
        "data: {\"error\":{\"message\":\"The server had an error while processing your request. Sorry about that!\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
    );
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(sse(body))
        .mount(&server)
        .await;
    let (state, items) =
        drain_items(openai(&server).chat_stream(&hello("gpt-4o")).await.unwrap()).await;
    assert_eq!(state.text(), "Half an answer");
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert!(err.is_retryable());
    assert_eq!((err.provider(), err.model()), ("openai", Some("gpt-4o")));
    assert!(err.first_byte_received());
}

#[tokio::test]
async fn a_missing_key_is_refused_locally_without_a_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let p = OpenAiProvider::new(OpenAiConfig {
        base_url: format!("{}/v1", server.uri()),
        ..OpenAiConfig::openai()
    });
    for err in [
        p.chat(&hello("gpt-4o")).await.unwrap_err(),
        p.chat_stream(&hello("gpt-4o")).await.err().unwrap(),
        p.health_check().await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert_eq!(err.owner(), Owner::Local);
        assert_eq!(err.provider(), "openai");
    }
}

#[tokio::test]
async fn a_non_streamed_call_times_out_per_request() {
    let server = MockServer::start().await;
    let f = fixture("responses/openai/01_text_cached_tokens.json");
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(f.template().set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    // The config's timeout is tight…
    let p = provider(
        OpenAiConfig {
            timeout: Duration::from_millis(60),
            ..OpenAiConfig::openai()
        },
        format!("{}/v1", server.uri()),
    );
    let err = p.chat(&hello("gpt-4o")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!((err.provider(), err.model()), ("openai", Some("gpt-4o")));
    // …and the request's own timeout overrides it.
    let patient = hello("gpt-4o").with_timeout(Duration::from_secs(5));
    assert!(p.chat(&patient).await.is_ok());
    let hurried = provider(OpenAiConfig::openai(), format!("{}/v1", server.uri()));
    let err = hurried
        .chat(&hello("gpt-4o").with_timeout(Duration::from_millis(60)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn a_stream_whose_headers_are_late_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(
            fixture("streams/openai/01_text_include_usage.json")
                .template()
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    let p = openai(&server);
    let err = p
        .chat_stream(&hello("gpt-4o").with_timeout(Duration::from_millis(60)))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.message().contains("headers"), "{err}");
    assert_eq!((err.provider(), err.model()), ("openai", Some("gpt-4o")));
}

/// A server that sends the headers and one chunk, then stalls: the idle timer fires.
#[tokio::test]
async fn a_stalled_stream_hits_the_idle_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let _ = sock.read(&mut buf).await.unwrap();
        let chunk =
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n",
            chunk.len()
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(sock);
    });
    let p = provider(
        OpenAiConfig {
            stream_timeouts: Timeouts {
                first_byte: Some(Duration::from_secs(5)),
                idle: Some(Duration::from_millis(80)),
                ..Timeouts::default()
            },
            ..OpenAiConfig::openai()
        },
        format!("http://{addr}/v1"),
    );
    let (state, items) = drain_items(p.chat_stream(&hello("gpt-4o")).await.unwrap()).await;
    assert_eq!(state.text(), "Hel");
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.message().contains("idle"), "{err}");
    assert_eq!((err.provider(), err.model()), ("openai", Some("gpt-4o")));
    server.abort();
}

#[tokio::test]
async fn a_whole_json_answer_to_a_stream_request_is_replayed_as_events() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(fixture("responses/openai/01_text_cached_tokens.json").template())
        .mount(&server)
        .await;
    let (state, _) =
        drain_items(openai(&server).chat_stream(&hello("gpt-4o")).await.unwrap()).await;
    assert!(state.is_complete());
    assert!(state.text().starts_with("Galaxy Day"));
    assert_eq!(state.usage().unwrap().cache_read_tokens, 1920);
}

#[tokio::test]
async fn health_check_lists_models_with_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "owned_by": "openai"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    openai(&server).health_check().await.unwrap();

    let bad = MockServer::start().await;
    let f = fixture("errors/openai/01_invalid_api_key_masked.json");
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(f.template())
        .mount(&bad)
        .await;
    let err = openai(&bad).health_check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!((err.provider(), err.model()), ("openai", None));
}

#[tokio::test]
async fn openai_resume_is_a_best_effort_trailing_assistant_message() {
    let p = OpenAiProvider::new(OpenAiConfig::openai());
    assert!(!p.capabilities().prefill);
    let req = hello("gpt-4o");
    let next = p.continuation(&req, "Galaxy Day is cele").unwrap();
    assert_eq!(next.messages.len(), 2);
    assert_eq!(next.messages[1].role, Role::Assistant);
    assert_eq!(next.messages[1].joined_text(), "Galaxy Day is cele");
    assert_eq!(p.continuation(&req, "").unwrap(), req);
}

#[tokio::test]
async fn custom_headers_are_sent_and_attribution_only_when_configured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(header("openai-organization", "org-123"))
        .and(|req: &Request| {
            !req.headers.contains_key("http-referer") && !req.headers.contains_key("x-title")
        })
        .respond_with(fixture("responses/openai/01_text_cached_tokens.json").template())
        .expect(1)
        .mount(&server)
        .await;
    let mut config = OpenAiConfig::openai();
    config
        .headers
        .insert("OpenAI-Organization".into(), "org-123".into());
    provider(config, format!("{}/v1", server.uri()))
        .chat(&hello("gpt-4o"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_a_network_error() {
    // Bind and drop a listener: the port is (almost certainly) closed now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = provider(OpenAiConfig::openai(), format!("http://{addr}/v1"));
    let err = p.chat(&hello("gpt-4o")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!(err.provider(), "openai");
}

#[test]
fn a_continuation_asks_only_for_the_tokens_still_owed() {
    // 40 characters delivered: an estimated 10 tokens, best effort or prefix completion.
    let delivered = "x".repeat(40);
    for config in [OpenAiConfig::openai(), OpenAiConfig::deepseek()] {
        let p = OpenAiProvider::new(config);
        let asked = hello("some-model").with_max_tokens(100);
        assert_eq!(
            p.continuation(&asked, &delivered).unwrap().max_tokens,
            Some(90)
        );
    }
}
