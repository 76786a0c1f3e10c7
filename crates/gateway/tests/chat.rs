//! The chat completions endpoint over real loopback upstreams: whole and streamed answers,
//! tools, fallback before and after the first token, and every error before the first byte.

mod common;

use std::time::Duration;

use common::{LONG, body, events, start, streamed_text};
use serde_json::{Value, json};
use steadfast_gateway::GatewayConfig;
use steadfast_providers_mock::{Fault, FaultServer};

fn client() -> reqwest::Client {
    common::client()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_answer_is_a_chat_completion_with_the_verification_headers() {
    let s = start("", GatewayConfig::default()).await;
    let resp = s.chat(&body(false)).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["x-steadfast-provider"], "primary");
    assert_eq!(h["x-steadfast-attempts"], "1");
    assert_eq!(h["x-steadfast-fallbacks"], "0");
    let overhead: f64 = h["x-steadfast-overhead-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(overhead >= 0.0);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], s.primary.answer());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(v["id"].as_str().unwrap().len() > 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_pass_through_to_the_provider() {
    let s = start("", GatewayConfig::default()).await;
    let request = json!({
        "model": "chat",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "w", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "auto",
        "temperature": 0.5,
        "max_tokens": 50,
        "stop": ["END"],
        "response_format": {"type": "json_object"},
        "user": "user-7",
    });
    let resp = s.chat(&request).await;
    assert_eq!(resp.status(), 200);
    let sent = s.primary.requests()[0].json().unwrap();
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(sent["tool_choice"], "auto");
    assert_eq!(sent["temperature"], 0.5);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["response_format"]["type"], "json_object");
    assert_eq!(sent["user"], "user-7");
    let messages = sent["messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m["tool_calls"][0]["id"] == "call_1")
    );
    assert!(
        messages
            .iter()
            .any(|m| m["role"] == "tool" && m["tool_call_id"] == "call_1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_openai_chunks_ending_in_done_with_a_usage_chunk() {
    let s = start("", GatewayConfig::default()).await;
    let mut b = body(true);
    b["stream_options"] = json!({"include_usage": true});
    let resp = s.chat(&b).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-steadfast-provider"], "primary");
    let text = resp.text().await.unwrap();
    assert_eq!(streamed_text(&text), s.primary.answer());
    let ev = events(&text);
    assert_eq!(ev.last().unwrap(), "[DONE]");
    let first: Value = serde_json::from_str(&ev[0]).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let usage: Value = serde_json::from_str(&ev[ev.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let finish: Value = serde_json::from_str(&ev[ev.len() - 3]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_tool_calls_arrive_as_tool_call_deltas() {
    let s = start("", GatewayConfig::default()).await;
    let mut b = body(true);
    b["tools"] = json!([{"type": "function", "function": {"name": "count", "parameters": {"type": "object"}}}]);
    let text = s.chat(&b).await.text().await.unwrap();
    let (name, args) = FaultServer::tool_call(20);
    let chunks: Vec<Value> = events(&text)
        .iter()
        .filter_map(|e| serde_json::from_str(e).ok())
        .collect();
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert!(!calls.is_empty(), "{text}");
    assert_eq!(calls[0]["function"]["name"], name);
    assert_eq!(calls[0]["type"], "function");
    let joined: String = calls
        .iter()
        .map(|c| c["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(joined, args);
    let last = chunks
        .iter()
        .rev()
        .find(|c| !c["choices"][0]["finish_reason"].is_null());
    assert_eq!(last.unwrap()["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(events(&text).last().unwrap(), "[DONE]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_failing_before_the_first_token_falls_back() {
    let s = start("", GatewayConfig::default()).await;
    s.primary.push(Fault::status(503));
    s.primary.push(Fault::status(503));
    let resp = s.chat(&body(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-steadfast-provider"], "secondary");
    assert_eq!(resp.headers()["x-steadfast-fallbacks"], "1");
    assert_eq!(resp.headers()["x-steadfast-attempts"], "2");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], s.secondary.answer());
    let resp = s.chat(&body(true)).await;
    assert_eq!(resp.headers()["x-steadfast-provider"], "secondary");
    let text = resp.text().await.unwrap();
    assert_eq!(streamed_text(&text), s.secondary.answer());
    assert_eq!(events(&text).last().unwrap(), "[DONE]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_cut_after_the_first_token_is_resumed_without_a_duplicate() {
    let s = start("", GatewayConfig::default()).await;
    s.primary.push(Fault::CutAfter { chunks: 5 });
    let text = s.chat(&body(true)).await.text().await.unwrap();
    // The whole answer, once: the five tokens the primary sent, then the rest.
    assert_eq!(streamed_text(&text), s.primary.answer());
    assert_eq!(events(&text).last().unwrap(), "[DONE]");
    assert!(!text.contains("\"error\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_cannot_be_finished_ends_with_an_error_chunk_and_no_done() {
    let s = start("", GatewayConfig::default()).await;
    s.primary.set_default_fault(Fault::CutAfter { chunks: 3 });
    s.secondary.set_default_fault(Fault::status(503));
    let resp = s.chat(&body(true)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let ev = events(&text);
    assert_ne!(ev.last().unwrap(), "[DONE]", "{text}");
    assert!(!text.contains("[DONE]"));
    let last: Value = serde_json::from_str(ev.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be finished")
    );
    assert!(last["error"]["code"].is_string());
    // What was delivered before the cut is a prefix of the answer, sent once.
    assert!(s.primary.answer().starts_with(&streamed_text(&text)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_down_is_a_503_listing_each_attempt() {
    let s = start("", GatewayConfig::default()).await;
    s.primary.set_default_fault(Fault::status(500));
    s.secondary.set_default_fault(Fault::status(503));
    for stream in [false, true] {
        let resp = s.chat(&body(stream)).await;
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["x-steadfast-attempts"], "2");
        let v: Value = resp.json().await.unwrap();
        let attempts = v["error"]["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0]["provider"], "primary");
        assert_eq!(attempts[0]["kind"], "server");
        assert_eq!(attempts[0]["status"], 500);
        assert_eq!(attempts[1]["provider"], "secondary");
        assert_eq!(attempts[1]["status"], 503);
        assert_eq!(v["error"]["type"], "api_error");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_gateway_key_is_401() {
    let s = start("", common::keyed(&["gw-key-1", "gw-key-2"])).await;
    let none = s.chat(&body(false)).await;
    assert_eq!(none.status(), 401);
    let v: Value = none.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    let wrong = s.chat_as("gw-key-3", &body(false)).await;
    assert_eq!(wrong.status(), 401);
    let prefix = s.chat_as("gw-key", &body(false)).await;
    assert_eq!(prefix.status(), 401);
    let right = s.chat_as("gw-key-2", &body(false)).await;
    assert_eq!(right.status(), 200);
    assert_eq!(s.primary.request_count(), 1);
    // Liveness answers without a key; the rest does not.
    assert_eq!(s.get("/health").await.status(), 200);
    assert_eq!(s.get("/v1/models").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_group_is_404_and_a_bad_field_is_400_with_its_name() {
    let s = start("", GatewayConfig::default()).await;
    let mut b = body(false);
    b["model"] = json!("gpt-5");
    let resp = s.chat(&b).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found");
    assert_eq!(v["error"]["param"], "model");
    let mut b = body(false);
    b["temperature"] = json!("hot");
    let resp = s.chat(&b).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "temperature");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(s.primary.request_count() + s.secondary.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_rate_limit_is_429_with_retry_after() {
    // Both deployments allow one request a minute: the third call is refused locally.
    let s = common::start_limited(GatewayConfig::default()).await;
    for _ in 0..2 {
        let ok = s.chat(&body(false)).await;
        assert_eq!(ok.status(), 200);
    }
    let refused = s.chat(&body(false)).await;
    assert_eq!(refused.status(), 429);
    let after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after >= 1);
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(v["error"]["code"], "rate_limited");
    assert_eq!(s.primary.request_count() + s.secondary.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413_whether_declared_or_chunked() {
    let config = GatewayConfig {
        max_body_bytes: 1024,
        ..GatewayConfig::default()
    };
    let s = start("", config).await;
    let mut b = body(false);
    b["messages"][0]["content"] = json!("x".repeat(4096));
    let resp = s.chat(&b).await;
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "request_too_large");
    // Chunked: no Content-Length, the cap is enforced while reading.
    let bytes = serde_json::to_vec(&b).unwrap();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(512).map(|c| Ok(c.to_vec())).collect();
    let stream = futures_util::stream::iter(chunks);
    let resp = client()
        .post(s.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(s.primary.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_health_and_providers_answer() {
    let s = start("", GatewayConfig::default()).await;
    let v: Value = s.get("/v1/models").await.json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "chat");
    let v: Value = s.get("/health").await.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    s.primary.push(Fault::status(500));
    let _ = s.chat(&body(false)).await;
    let v: Value = s.get("/health/providers").await.json().await.unwrap();
    let d = v["deployments"].as_array().unwrap();
    assert_eq!(d.len(), 2);
    let primary = d.iter().find(|d| d["deployment"] == "primary").unwrap();
    assert_eq!(primary["error_rate"], 1.0);
    assert!(primary["breaker"].is_string(), "{primary}");
    assert!(!primary["health"].is_null());
    let secondary = d.iter().find(|d| d["deployment"] == "secondary").unwrap();
    assert_eq!(secondary["error_rate"], 0.0);
    let _ = LONG;
    let _ = Duration::ZERO;
}
