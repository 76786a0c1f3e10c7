//! The fault server's tool calls in every streamed dialect, read by the shared decoders as
//! the provider crates read them: Anthropic streams the arguments in pieces, Gemini and
//! Ollama send the call whole with its arguments as a JSON object.

use futures_util::StreamExt;
use serde_json::{Value, json};
use steadfast_errors::Provider;
use steadfast_providers_core::FinishReason;
use steadfast_providers_core::http::{Caller, default_client};
use steadfast_providers_mock::{FaultServer, ServerConfig};
use steadfast_streaming::{DecodedStream, StreamState, WireFormat};

const TOOLS_OPENAI: &str =
    r#"[{"type": "function", "function": {"name": "count", "parameters": {"type": "object"}}}]"#;

/// Streams one answer to `body` at `path` and decodes it in `format`; the raw body too.
async fn stream(
    server: &FaultServer,
    provider: Provider,
    format: WireFormat,
    path: &str,
    body: Value,
) -> (StreamState, String) {
    let caller = Caller {
        kind: provider,
        id: "mock-wire",
        model: "mock-model",
        key: None,
    };
    let raw = default_client()
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = caller
        .send(default_client().post(server.url(path)).json(&body))
        .await
        .unwrap();
    let mut events = DecodedStream::new(caller.body_stream(response), format.decoder(provider));
    let mut state = StreamState::default();
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => state.apply(&event),
            Err(err) => state.apply_error(&err),
        }
    }
    (state, raw)
}

async fn server() -> FaultServer {
    FaultServer::with_config(ServerConfig {
        answer_tokens: 6,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

/// The answer's text, then its one tool call: the fault server's, whole.
fn assert_text_then_the_tool_call(state: &StreamState) {
    assert!(state.is_complete(), "{:?}", state.error());
    assert_eq!(state.text(), "t0 t1 t2 t3 t4 t5");
    let calls = state.tool_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (name, args) = FaultServer::tool_call(6);
    assert_eq!(calls[0].name, name);
    let want: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(calls[0].parsed_arguments().unwrap(), want);
    assert_eq!(state.finish_reason(), Some(FinishReason::ToolCalls));
}

#[tokio::test]
async fn anthropic_streams_the_tool_input_in_pieces() {
    let server = server().await;
    let tools: Value = json!([{"name": "count", "input_schema": {"type": "object"}}]);
    let body = json!({
        "model": "mock-model", "max_tokens": 64, "stream": true, "tools": tools,
        "messages": [{"role": "user", "content": "Count"}],
    });
    let (state, raw) = stream(
        &server,
        Provider::Anthropic,
        WireFormat::AnthropicMessages,
        "/v1/messages",
        body,
    )
    .await;
    assert_text_then_the_tool_call(&state);
    assert!(raw.matches("input_json_delta").count() > 3, "in pieces");
    assert!(raw.contains("\"stop_reason\":\"tool_use\""), "{raw}");
    // The text block closes before the tool block opens, each exactly once.
    assert_eq!(raw.matches("\"type\":\"content_block_stop\"").count(), 2);
}

#[tokio::test]
async fn gemini_sends_the_function_call_whole() {
    let server = server().await;
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": "Count"}]}],
        "tools": [{"functionDeclarations": [{"name": "count", "parameters": {"type": "object"}}]}],
    });
    let (state, raw) = stream(
        &server,
        Provider::Gemini,
        WireFormat::Gemini,
        "/v1beta/models/mock-model:streamGenerateContent?alt=sse",
        body,
    )
    .await;
    assert_text_then_the_tool_call(&state);
    assert_eq!(raw.matches("\"functionCall\"").count(), 1);
}

#[tokio::test]
async fn ollama_sends_the_tool_call_whole() {
    let server = server().await;
    let tools: Value = serde_json::from_str(TOOLS_OPENAI).unwrap();
    let body = json!({
        "model": "mock-model", "stream": true, "tools": tools,
        "messages": [{"role": "user", "content": "Count"}],
    });
    let (state, raw) = stream(
        &server,
        Provider::Ollama,
        WireFormat::OllamaNdjson,
        "/api/chat",
        body,
    )
    .await;
    assert_text_then_the_tool_call(&state);
    assert_eq!(raw.matches("\"tool_calls\"").count(), 1);
}

#[tokio::test]
async fn without_tools_no_format_calls_one() {
    let server = server().await;
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": "Count"}]}],
        "tools": [{"functionDeclarations": []}],
    });
    let (state, _) = stream(
        &server,
        Provider::Gemini,
        WireFormat::Gemini,
        "/v1beta/models/mock-model:streamGenerateContent?alt=sse",
        body,
    )
    .await;
    assert!(state.tool_calls().is_empty());
    let body = json!({
        "model": "mock-model", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "Count"}],
    });
    let (state, raw) = stream(
        &server,
        Provider::Anthropic,
        WireFormat::AnthropicMessages,
        "/v1/messages",
        body,
    )
    .await;
    assert!(state.tool_calls().is_empty());
    assert!(raw.contains("\"stop_reason\":\"end_turn\""));
}
