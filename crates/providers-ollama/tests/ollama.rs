//! Integration tests: the Ollama provider against wiremock servers speaking the real wire shapes.

use std::time::Duration;

use serde_json::json;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::{
    ApiKey, ChatProvider, ChatRequest, FinishReason, Message, ModelInfo, Pricing, StreamEvent,
    Usage,
};
use steadfast_providers_ollama::{OllamaConfig, OllamaProvider};
use steadfast_streaming::StreamState;
use steadfast_test_kit::http::{json_body, ndjson};
use steadfast_test_kit::{LogCapture, assert_hidden, drain};
use wiremock::matchers::{bearer_token, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ID: &str = "ollama-test";
const MODEL: &str = "llama3.2";

/// `tests/conformance/responses/ollama/01_chat_not_streamed.json`.
const NOT_STREAMED: &str = r#"{"model":"llama3.2","created_at":"2023-12-12T14:13:43.416799Z","message":{"role":"assistant","content":"Hello! How are you today?"},"done_reason":"stop","done":true,"total_duration":5191566416,"load_duration":2154458,"prompt_eval_count":26,"prompt_eval_duration":383809000,"eval_count":298,"eval_duration":4799921000}"#;

/// `tests/conformance/streams/ollama/01_text_done_counts.json`.
const STREAM_OK: &str = concat!(
    r#"{"model":"llama3.2","created_at":"2025-10-26T17:15:24.097767Z","message":{"role":"assistant","content":"The"},"done":false}"#,
    "\n",
    r#"{"model":"llama3.2","created_at":"2025-10-26T17:15:24.109172Z","message":{"role":"assistant","content":" sky"},"done":false}"#,
    "\n",
    r#"{"model":"llama3.2","created_at":"2025-10-26T17:15:24.120577Z","message":{"role":"assistant","content":" is"},"done":false}"#,
    "\n",
    r#"{"model":"llama3.2","created_at":"2025-10-26T17:15:24.131982Z","message":{"role":"assistant","content":" blue"},"done":false}"#,
    "\n",
    r#"{"model":"llama3.2","created_at":"2025-10-26T17:15:24.215301Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":5191566416,"load_duration":2154458,"prompt_eval_count":26,"prompt_eval_duration":383809000,"eval_count":10,"eval_duration":4799921000}"#,
    "\n",
);

/// `tests/conformance/streams/ollama/05_cut_without_done.json` (the first lines, no `done`).
const STREAM_CUT: &str = concat!(
    r#"{"model":"llama3.2","created_at":"2025-10-26T17:15:24.097767Z","message":{"role":"assistant","content":"The"},"done":false}"#,
    "\n",
    r#"{"model":"llama3.2","created_at":"2025-10-26T17:15:24.109172Z","message":{"role":"assistant","content":" sky"},"done":false}"#,
    "\n",
);

/// `tests/conformance/streams/ollama/06_error_line_runner_terminated.json`.
const STREAM_ERROR_LINE: &str = concat!(
    r#"{"model":"llama3.2","created_at":"2025-10-26T17:15:24.097767Z","message":{"role":"assistant","content":"The"},"done":false}"#,
    "\n",
    r#"{"model":"llama3.2","created_at":"2025-10-26T17:15:24.109172Z","message":{"role":"assistant","content":" sky"},"done":false}"#,
    "\n",
    r#"{"error":"llama runner process has terminated: exit status 2"}"#,
    "\n",
);

/// `tests/conformance/streams/ollama/07_thinking_not_text.json` (shortened) with the tool call
/// of `03_tool_calls.json`.
const STREAM_THINKING_TOOLS: &str = concat!(
    r#"{"model":"qwen3","created_at":"2025-05-29T09:35:56.100000Z","message":{"role":"assistant","content":"","thinking":"The user wants weather"},"done":false}"#,
    "\n",
    r#"{"model":"qwen3","created_at":"2025-05-27T22:54:57.641643Z","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_ls0v2ehe","function":{"index":0,"name":"get_current_weather","arguments":{"format":"celsius","location":"Toronto"}}}]},"done":false}"#,
    "\n",
    r#"{"model":"qwen3","created_at":"2025-05-27T22:54:57.706473Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"prompt_eval_count":251,"eval_count":30}"#,
    "\n",
);

fn config(server: &MockServer) -> OllamaConfig {
    OllamaConfig {
        id: ID.to_owned(),
        base_url: server.uri(),
        ..OllamaConfig::default()
    }
}

fn request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user("why is the sky blue?")])
}

/// The state and events of a `chat_stream` answered with `reply`.
async fn streamed(reply: ResponseTemplate) -> (StreamState, Vec<StreamEvent>) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(reply)
        .mount(&server)
        .await;
    let stream = OllamaProvider::new(config(&server))
        .chat_stream(&request())
        .await
        .unwrap();
    drain(stream).await
}

fn assert_labelled(err: &ProviderError) {
    assert_eq!(err.provider(), ID, "{err:?}");
    assert_eq!(err.model(), Some(MODEL), "{err:?}");
}

#[tokio::test]
async fn chat_sends_the_native_body_without_auth_and_decodes_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "model": MODEL,
            "stream": false,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "why is the sky blue?"}
            ],
            "options": {"temperature": 0.5, "num_predict": 50, "stop": ["\n\n"]},
            "format": "json",
            "think": false,
            "keep_alive": "5m"
        })))
        .respond_with(json_body(200, NOT_STREAMED))
        .expect(1)
        .mount(&server)
        .await;

    let ollama = OllamaProvider::new(config(&server));
    let mut req = request().with_system("Be brief.").with_max_tokens(50);
    req.temperature = Some(0.5);
    req.stop = vec!["\n\n".into()];
    req.response_format = Some(json!({"type": "json_object"}));
    req.extra.insert("think".into(), json!(false));
    req.extra.insert("keep_alive".into(), json!("5m"));
    let answer = ollama.chat(&req).await.unwrap();

    assert_eq!(answer.text, "Hello! How are you today?");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    let usage = answer.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (26, 298));
    assert_eq!(answer.model.as_deref(), Some(MODEL));

    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].headers.get("authorization").is_none(),
        "a local server gets no auth header"
    );
}

#[tokio::test]
async fn a_configured_key_is_sent_as_bearer_with_the_extra_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(bearer_token("sk-ollama-cloud-abc123"))
        .and(header("x-team", "search"))
        .respond_with(json_body(200, NOT_STREAMED))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.api_key = Some(ApiKey::new("sk-ollama-cloud-abc123"));
    cfg.headers.insert("x-team".into(), "search".into());
    let answer = OllamaProvider::new(cfg).chat(&request()).await.unwrap();
    assert_eq!(answer.text, "Hello! How are you today?");
}

#[tokio::test]
async fn a_stream_decodes_ndjson_to_text_usage_finish_and_done() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({"model": MODEL, "stream": true})))
        .respond_with(ndjson(STREAM_OK))
        .expect(1)
        .mount(&server)
        .await;
    let stream = OllamaProvider::new(config(&server))
        .chat_stream(&request())
        .await
        .unwrap();
    let (state, events) = drain(stream).await;
    assert!(state.error().is_none(), "{:?}", state.error());
    assert_eq!(state.text(), "The sky is blue");
    assert_eq!(state.finish_reason(), Some(FinishReason::Stop));
    let usage = state.usage().unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (26, 10));
    assert!(state.is_complete());
    assert_eq!(events.last(), Some(&StreamEvent::Done));
    assert!(matches!(events[0], StreamEvent::Start { .. }));
}

#[tokio::test]
async fn a_stream_keeps_thinking_apart_and_joins_tool_calls() {
    let (state, _) = streamed(ndjson(STREAM_THINKING_TOOLS)).await;
    assert_eq!(state.text(), "");
    assert_eq!(state.reasoning(), "The user wants weather");
    let calls = state.tool_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "call_ls0v2ehe");
    assert_eq!(calls[0].name, "get_current_weather");
    assert_eq!(
        calls[0].parsed_arguments().unwrap(),
        json!({"format": "celsius", "location": "Toronto"})
    );
    assert_eq!(state.finish_reason(), Some(FinishReason::ToolCalls));
}

#[tokio::test]
async fn error_statuses_are_classified_and_labelled() {
    struct Case {
        status: u16,
        retry_after: Option<&'static str>,
        body: &'static str,
        kind: ErrorKind,
        hint: Option<Duration>,
    }
    let cases = [
        // errors/ollama/04_unauthorized_signin_url.json
        Case {
            status: 401,
            retry_after: None,
            body: r#"{"error":"unauthorized","signin_url":"https://ollama.com/connect?name=devbox&key=c3NoLWVkMjU1MTk"}"#,
            kind: ErrorKind::Auth,
            hint: None,
        },
        // errors/ollama/07_cloud_hourly_limit_429.json, with a Retry-After header.
        Case {
            status: 429,
            retry_after: Some("7"),
            body: r#"{"error":"you've reached your hourly usage limit, please wait or upgrade to continue"}"#,
            kind: ErrorKind::RateLimited,
            hint: Some(Duration::from_secs(7)),
        },
        // errors/ollama/12_cloud_weekly_usage_limit_429.json: the quota trap.
        Case {
            status: 429,
            retry_after: None,
            body: r#"{"error":"you (user) have reached your weekly usage limit, upgrade for higher limits: https://ollama.com/upgrade"}"#,
            kind: ErrorKind::QuotaExhausted,
            hint: None,
        },
        // errors/ollama/02_model_does_not_support_tools.json
        Case {
            status: 400,
            retry_after: None,
            body: r#"{"error":"registry.ollama.ai/library/gemma2:2b does not support tools"}"#,
            kind: ErrorKind::InvalidRequest,
            hint: None,
        },
        // errors/ollama/05_runner_terminated_500.json
        Case {
            status: 500,
            retry_after: None,
            body: r#"{"error":"llama runner process has terminated: exit status 2"}"#,
            kind: ErrorKind::Server,
            hint: None,
        },
        // errors/ollama/08_cloud_bad_gateway_502.json
        Case {
            status: 502,
            retry_after: None,
            body: r#"{"error":"upstream error: cloud model is unreachable"}"#,
            kind: ErrorKind::Server,
            hint: None,
        },
        // Ollama's queue-full answer (server.ErrMaxQueue) is a 503.
        Case {
            status: 503,
            retry_after: None,
            body: r#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#,
            kind: ErrorKind::Overloaded,
            hint: None,
        },
    ];
    for case in cases {
        let server = MockServer::start().await;
        let mut response = json_body(case.status, case.body);
        if let Some(after) = case.retry_after {
            response = response.insert_header("retry-after", after);
        }
        Mock::given(method("POST"))
            .and(path("/api/chat"))
            .respond_with(response)
            .mount(&server)
            .await;
        let ollama = OllamaProvider::new(config(&server));

        let err = ollama.chat(&request()).await.unwrap_err();
        assert_eq!(
            err.kind(),
            case.kind,
            "{} {}: {err}",
            case.status,
            case.body
        );
        assert_eq!(err.status(), Some(case.status));
        assert_eq!(err.retry_after(), case.hint, "{err:?}");
        assert_labelled(&err);

        // The streamed call fails the same way, before any stream is returned.
        let err = match ollama.chat_stream(&request()).await {
            Err(err) => err,
            Ok(_) => panic!("{}: a stream was returned", case.status),
        };
        assert_eq!(err.kind(), case.kind);
        assert_labelled(&err);
    }
}

#[tokio::test]
async fn model_not_found_always_carries_the_pull_hint() {
    let server = MockServer::start().await;
    // errors/ollama/01_model_not_found.json: Ollama's own hint is kept as is.
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({"model": "llama3"})))
        .respond_with(json_body(
            404,
            r#"{"error":"model 'llama3' not found, try pulling it first"}"#,
        ))
        .mount(&server)
        .await;
    // Newer servers answer some paths without the hint: it is added.
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({"model": "qwen3:8b"})))
        .respond_with(json_body(404, r#"{"error":"model 'qwen3:8b' not found"}"#))
        .mount(&server)
        .await;
    let ollama = OllamaProvider::new(config(&server));

    let err = ollama
        .chat(&ChatRequest::new("llama3", vec![Message::user("hi")]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.message(),
        "model 'llama3' not found, try pulling it first"
    );
    assert_eq!((err.provider(), err.model()), (ID, Some("llama3")));
    assert!(!err.is_retryable());

    let stream_err = match ollama
        .chat_stream(&ChatRequest::new("qwen3:8b", vec![Message::user("hi")]))
        .await
    {
        Err(err) => err,
        Ok(_) => panic!("a stream was returned for a missing model"),
    };
    assert_eq!(stream_err.kind(), ErrorKind::NotFound);
    assert_eq!(
        stream_err.message(),
        "model 'qwen3:8b' not found; run `ollama pull qwen3:8b`"
    );
    assert_eq!(stream_err.status(), Some(404));
    assert_eq!(
        (stream_err.provider(), stream_err.model()),
        (ID, Some("qwen3:8b"))
    );
    assert!(stream_err.to_string().contains("ollama pull qwen3:8b"));
}

#[tokio::test]
async fn a_stream_cut_before_done_is_interrupted_and_keeps_its_text() {
    let (state, events) = streamed(ndjson(STREAM_CUT)).await;
    assert_eq!(state.text(), "The sky");
    let err = state.error().expect("an interruption error");
    assert_eq!(err.kind(), ErrorKind::StreamInterrupted);
    assert!(err.first_byte_received());
    assert!(err.is_retryable());
    assert_labelled(err);
    assert!(!state.is_complete());
    assert!(!events.contains(&StreamEvent::Done));
}

#[tokio::test]
async fn an_error_line_inside_a_200_stream_is_classified_like_a_status() {
    let (state, _) = streamed(ndjson(STREAM_ERROR_LINE)).await;
    assert_eq!(state.text(), "The sky");
    let err = state.error().expect("the in-band error");
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(
        err.message()
            .contains("llama runner process has terminated")
    );
    assert!(err.first_byte_received());
    assert_labelled(err);
}

#[tokio::test]
async fn an_error_object_in_a_200_body_is_classified() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(json_body(
            200,
            r#"{"error":"llama runner process has terminated: exit status 2"}"#,
        ))
        .mount(&server)
        .await;
    let err = OllamaProvider::new(config(&server))
        .chat(&request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_labelled(&err);
}

#[tokio::test]
async fn slow_headers_time_out_for_whole_and_streamed_calls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ndjson(STREAM_OK).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.timeout = Duration::from_secs(30);
    let ollama = OllamaProvider::new(cfg);
    // The per-request timeout overrides the configured one.
    let req = request().with_timeout(Duration::from_millis(50));

    let err = ollama.chat(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_labelled(&err);

    let err = match ollama.chat_stream(&req).await {
        Err(err) => err,
        Ok(_) => panic!("headers arrived within the timeout"),
    };
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.is_retryable());
    assert_labelled(&err);

    // With room to wait, the same server answers.
    let ok = ollama
        .chat_stream(&request().with_timeout(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(drain(ok).await.0.text(), "The sky is blue");
}

#[tokio::test]
async fn health_check_lists_tags_and_classifies_failures() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(json_body(
            200,
            r#"{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","size":2019393189}]}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let ollama = OllamaProvider::new(config(&server));
    ollama.health_check().await.unwrap();

    let down = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(json_body(401, r#"{"error":"unauthorized"}"#))
        .mount(&down)
        .await;
    let err = OllamaProvider::new(config(&down))
        .health_check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.provider(), ID);

    // Nothing listening (wiremock pools its servers, so take a port and free it).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = OllamaProvider::new(OllamaConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        ..OllamaConfig::default()
    })
    .health_check()
    .await
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Network | ErrorKind::Timeout),
        "{err:?}"
    );
}

#[tokio::test]
async fn continuation_resends_the_partial_answer_as_the_last_assistant_turn() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({
            "messages": [
                {"role": "user", "content": "why is the sky blue?"},
                {"role": "assistant", "content": "The sky is"}
            ]
        })))
        .respond_with(ndjson(concat!(
            r#"{"model":"llama3.2","message":{"role":"assistant","content":" blue"},"done":false}"#,
            "\n",
            r#"{"model":"llama3.2","message":{"role":"assistant","content":""},"done_reason":"stop","done":true}"#,
            "\n"
        )))
        .expect(1)
        .mount(&server)
        .await;
    let ollama = OllamaProvider::new(config(&server));
    assert!(ollama.capabilities().prefill);
    let next = ollama.continuation(&request(), "The sky is").unwrap();
    assert_eq!(next.messages.len(), 2);
    let (state, _) = drain(ollama.chat_stream(&next).await.unwrap()).await;
    assert_eq!(state.text(), " blue");
    assert!(state.is_complete());
}

#[tokio::test]
async fn cost_is_zero_on_a_local_server_priced_when_configured_and_unknown_on_cloud() {
    let usage = Usage {
        input_tokens: 1_000_000,
        output_tokens: 500_000,
        ..Usage::default()
    };
    let local = OllamaProvider::new(OllamaConfig::default());
    assert_eq!(local.cost("llama3.2", &usage), Some(0.0));

    let priced = OllamaProvider::new(OllamaConfig {
        models: vec![ModelInfo {
            id: "gpt-oss:120b-cloud".into(),
            context_window: Some(131_072),
            pricing: Some(Pricing::per_million(0.5, 2.0)),
        }],
        api_key: Some(ApiKey::new("sk-x")),
        ..OllamaConfig::default()
    });
    assert_eq!(priced.cost("gpt-oss:120b-cloud", &usage), Some(1.5));
    assert_eq!(priced.cost("unpriced", &usage), None);
    assert_eq!(priced.kind(), Provider::Ollama);
}

#[tokio::test]
async fn the_key_never_appears_in_logs_errors_or_debug_output() {
    const KEY: &str = "sk-ollama-Zq8vK2mXw9RtY4pL7nB3";
    let logs = LogCapture::new();
    let _guard = logs.set_default();

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({"model": MODEL})))
        .and(bearer_token(KEY))
        .respond_with(json_body(200, NOT_STREAMED))
        .mount(&server)
        .await;
    // A proxy that echoes the key back in its error.
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({"model": "echo"})))
        .respond_with(json_body(
            401,
            &format!(r#"{{"error":"invalid key {KEY} for this account"}}"#),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(json_body(
            403,
            &format!(r#"{{"error":"key {KEY} is revoked"}}"#),
        ))
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.api_key = Some(ApiKey::new(KEY));
    let ollama = OllamaProvider::new(cfg.clone());

    ollama.chat(&request()).await.unwrap();
    let mut shown = Vec::new();
    match ollama.chat_stream(&request()).await {
        Ok(s) => {
            if let Some(e) = drain(s).await.0.error() {
                shown.push(format!("{e} {e:?}"));
            }
        }
        Err(e) => shown.push(format!("{e} {e:?}")),
    }
    let auth = ollama
        .chat(&ChatRequest::new("echo", vec![Message::user("hi")]))
        .await
        .unwrap_err();
    assert_eq!(auth.kind(), ErrorKind::Auth);
    shown.push(format!("{auth} {auth:?}"));
    let health = ollama.health_check().await.unwrap_err();
    assert_eq!(health.kind(), ErrorKind::Permission);
    shown.push(format!("{health} {health:?}"));

    let logs = logs.text();
    assert!(
        logs.contains("ollama chat request"),
        "the capture must see the provider's events: {logs}"
    );
    assert_hidden("the logs", &logs, &[KEY]);
    for text in &shown {
        assert_hidden("an error", text, &[KEY]);
    }
    assert!(shown.iter().any(|t| t.contains("REDACTED")), "{shown:?}");
    assert_hidden(
        "the provider's and config's Debug",
        &format!("{ollama:?} {cfg:?}"),
        &[KEY],
    );
}
