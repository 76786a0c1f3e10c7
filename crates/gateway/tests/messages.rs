//! The Anthropic-format endpoint (`POST /v1/messages`) over real loopback upstreams: whole
//! and streamed answers, tools, fallback before and after the first token, the in-band
//! error of an unfinishable stream, auth, and every error before the first byte in
//! Anthropic's shape.

mod common;

use common::{messages_body, messages_text, named_events, start};
use serde_json::{Value, json};
use steadfast_gateway::GatewayConfig;
use steadfast_providers_mock::{Fault, FaultServer};

/// The text of an OpenAI-format message's content, a string or parts.
fn flat(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// The event names of an Anthropic SSE body, each checked against its data's `type`.
fn names(text: &str) -> Vec<String> {
    named_events(text)
        .into_iter()
        .map(|(name, data)| {
            assert_eq!(data["type"], name.as_str(), "{text}");
            name
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_answer_is_a_message_with_the_verification_headers() {
    let s = start("", GatewayConfig::default()).await;
    let resp = s.messages(&messages_body(false)).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["x-steadfast-provider"], "primary");
    assert_eq!(h["x-steadfast-attempts"], "1");
    assert_eq!(h["x-steadfast-fallbacks"], "0");
    assert!(h.contains_key("x-steadfast-overhead-ms"));
    let v: Value = resp.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("msg_"), "{v}");
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert!(v["model"].is_string());
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": s.primary.answer()}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["stop_sequence"], Value::Null);
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0, "{v}");
    assert!(v["usage"]["output_tokens"].as_u64().unwrap() > 0, "{v}");
    let sent = s.primary.requests()[0].json().unwrap();
    assert_eq!(sent["max_tokens"], 256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_blocks_tools_and_results_reach_the_provider() {
    let s = start("", GatewayConfig::default()).await;
    let request = json!({
        "model": "chat",
        "max_tokens": 50,
        "system": [{"type": "text", "text": "be brief"}, {"type": "text", "text": "be kind"}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "what is this, and the weather?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hm", "signature": "sig"},
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "station offline", "is_error": true},
                {"type": "text", "text": "and now?"}
            ]}
        ],
        "tools": [{"name": "get_weather", "description": "w", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "any"},
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": {"user_id": "user-7"},
        "service_tier": "auto",
    });
    let resp = s.messages(&request).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let sent = s.primary.requests()[0].json().unwrap();
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        sent["tools"][0]["function"]["parameters"]["properties"]["city"]["type"],
        "string"
    );
    assert_eq!(sent["tool_choice"], "required");
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["temperature"], 0.5);
    assert!((sent["top_p"].as_f64().unwrap() - 0.9).abs() < 1e-6);
    // `metadata.user_id` is the end user, which the OpenAI wire calls `user`; `top_k` has
    // no OpenAI field, so this OpenAI-format upstream does not get it; unknown fields stay out.
    assert_eq!(sent["user"], "user-7");
    assert!(sent.get("metadata").is_none());
    assert!(sent.get("top_k").is_none());
    assert!(sent.get("service_tier").is_none());
    let messages = sent["messages"].as_array().unwrap();
    let system = &messages[0];
    assert_eq!(system["role"], "system");
    assert_eq!(flat(&system["content"]), "be brief\n\nbe kind");
    let image = messages[1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "image_url")
        .expect("the image part");
    assert_eq!(
        image["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgo="
    );
    let assistant = &messages[2];
    assert_eq!(flat(&assistant["content"]), "Let me look.");
    assert_eq!(assistant["tool_calls"][0]["id"], "toolu_1");
    assert_eq!(
        serde_json::from_str::<Value>(
            assistant["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap()
        )
        .unwrap(),
        json!({"city": "Paris"})
    );
    let tool = &messages[3];
    assert_eq!(tool["role"], "tool");
    assert_eq!(tool["tool_call_id"], "toolu_1");
    assert_eq!(flat(&tool["content"]), "Error: station offline");
    assert_eq!(messages[4]["role"], "user");
    assert_eq!(flat(&messages[4]["content"]), "and now?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_the_anthropic_event_sequence() {
    let s = start("", GatewayConfig::default()).await;
    let resp = s.messages(&messages_body(true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-steadfast-provider"], "primary");
    let text = resp.text().await.unwrap();
    assert_eq!(messages_text(&text), s.primary.answer());
    let names: Vec<String> = names(&text).into_iter().filter(|n| n != "ping").collect();
    assert_eq!(names[0], "message_start");
    assert_eq!(names[1], "content_block_start");
    assert!(
        names[2..names.len() - 3]
            .iter()
            .all(|n| n == "content_block_delta")
    );
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    let events = named_events(&text);
    let start = &events[0].1["message"];
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["content"], json!([]));
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    assert_eq!(events[1].1["index"], 0);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(
        delta["usage"]["output_tokens"].as_u64().unwrap() > 0,
        "{delta}"
    );
    assert!(
        delta["usage"]["input_tokens"].as_u64().unwrap() > 0,
        "{delta}"
    );
    assert!(text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_tool_calls_are_tool_use_blocks_after_the_text_block() {
    // The fault server ends a streamed answer with a tool call when the request offers
    // tools (whole answers with tool calls are covered by the unit tests of `response`).
    let s = start("", GatewayConfig::default()).await;
    let (name, args) = FaultServer::tool_call(20);
    let mut b = messages_body(true);
    b["tools"] = json!([{"name": "count", "input_schema": {"type": "object"}}]);
    let text = s.messages(&b).await.text().await.unwrap();
    let events = named_events(&text);
    let start = events
        .iter()
        .find(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .unwrap_or_else(|| panic!("no tool_use block: {text}"));
    assert_eq!(start.1["content_block"]["name"], name);
    assert_eq!(start.1["content_block"]["input"], json!({}));
    assert!(
        start.1["content_block"]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let index = &start.1["index"];
    // The text came first, in block 0, closed before the tool block opened.
    assert_eq!(index, 1);
    let stop_0 = events
        .iter()
        .position(|(n, d)| n == "content_block_stop" && d["index"] == 0)
        .unwrap();
    let start_1 = events
        .iter()
        .position(|(n, d)| n == "content_block_start" && d["index"] == 1)
        .unwrap();
    assert!(stop_0 < start_1, "{text}");
    let joined: String = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| {
            assert_eq!(&d["index"], index);
            d["delta"]["partial_json"].as_str().unwrap()
        })
        .collect();
    assert_eq!(joined, args);
    let delta = events.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");
    // Every block started is stopped, once, before the message ends.
    let starts = events
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .count();
    let stops = events
        .iter()
        .filter(|(n, _)| n == "content_block_stop")
        .count();
    assert_eq!(starts, stops);
    assert_eq!(events.last().unwrap().0, "message_stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_failing_before_the_first_token_falls_back() {
    let s = start("", GatewayConfig::default()).await;
    s.primary.push_all([Fault::status(503), Fault::status(503)]);
    let resp = s.messages(&messages_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-steadfast-provider"], "secondary");
    assert_eq!(resp.headers()["x-steadfast-fallbacks"], "1");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["content"][0]["text"], s.secondary.answer());
    let resp = s.messages(&messages_body(true)).await;
    assert_eq!(resp.headers()["x-steadfast-provider"], "secondary");
    let text = resp.text().await.unwrap();
    assert_eq!(messages_text(&text), s.secondary.answer());
    assert_eq!(names(&text).last().unwrap(), "message_stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_cut_after_the_first_token_is_resumed_without_a_duplicate() {
    let s = start("", GatewayConfig::default()).await;
    s.primary.push(Fault::CutAfter { chunks: 5 });
    let text = s.messages(&messages_body(true)).await.text().await.unwrap();
    assert_eq!(messages_text(&text), s.primary.answer());
    let names = names(&text);
    assert_eq!(names.last().unwrap(), "message_stop");
    assert!(!names.iter().any(|n| n == "error"), "{text}");
    assert_eq!(
        s.primary.continuation_count() + s.secondary.continuation_count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_cannot_be_finished_ends_with_an_error_event_and_no_message_stop() {
    let s = start("", GatewayConfig::default()).await;
    s.primary.set_default_fault(Fault::CutAfter { chunks: 3 });
    s.secondary.set_default_fault(Fault::status(503));
    let resp = s.messages(&messages_body(true)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let names = names(&text);
    assert!(
        !names
            .iter()
            .any(|n| n == "message_stop" || n == "message_delta"),
        "{text}"
    );
    let events = named_events(&text);
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "error");
    assert!(
        ["api_error", "overloaded_error"].contains(&last["error"]["type"].as_str().unwrap()),
        "{last}"
    );
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be finished")
    );
    assert!(s.primary.answer().starts_with(&messages_text(&text)));
    assert!(!messages_text(&text).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_down_is_a_503_in_anthropic_shape_listing_each_attempt() {
    let s = start("", GatewayConfig::default()).await;
    s.primary.set_default_fault(Fault::status(500));
    s.secondary.set_default_fault(Fault::status(503));
    for stream in [false, true] {
        let resp = s.messages(&messages_body(stream)).await;
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["x-steadfast-attempts"], "2");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "overloaded_error");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("every deployment failed")
        );
        let attempts = v["error"]["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0]["provider"], "primary");
        assert_eq!(attempts[0]["status"], 500);
        assert_eq!(attempts[1]["provider"], "secondary");
        assert_eq!(attempts[1]["status"], 503);
        assert!(v.get("error").unwrap().get("param").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_key_is_taken_from_x_api_key_or_bearer() {
    let s = start("", common::keyed(&["gw-key-1", "gw-key-2"])).await;
    let b = messages_body(false);
    let none = s.messages(&b).await;
    assert_eq!(none.status(), 401);
    let v: Value = none.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");
    for wrong in ["gw-key-3", "gw-key", "gw-key-10", ""] {
        let resp = s.post("/v1/messages", &[("x-api-key", wrong)], &b).await;
        assert_eq!(resp.status(), 401, "{wrong}");
    }
    // A wrong key in one header does not hide a right one in the other.
    let both = s
        .post(
            "/v1/messages",
            &[("x-api-key", "nope"), ("authorization", "Bearer gw-key-1")],
            &b,
        )
        .await;
    assert_eq!(both.status(), 200);
    let api_key = s
        .post("/v1/messages", &[("x-api-key", "gw-key-2")], &b)
        .await;
    assert_eq!(api_key.status(), 200);
    let bearer = s
        .post("/v1/messages", &[("authorization", "Bearer gw-key-1")], &b)
        .await;
    assert_eq!(bearer.status(), 200);
    // `x-api-key` opens the chat completions route too; its 401 stays OpenAI-shaped.
    let chat = s
        .post(
            "/v1/chat/completions",
            &[("x-api-key", "gw-key-1")],
            &common::body(false),
        )
        .await;
    assert_eq!(chat.status(), 200);
    let v: Value = s.chat(&common::body(false)).await.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    assert!(v.get("type").is_none());
    assert_eq!(s.primary.request_count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_400_naming_the_field_and_an_unknown_group_is_404() {
    let s = start("", GatewayConfig::default()).await;
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut no_max = messages_body(false);
    no_max.as_object_mut().unwrap().remove("max_tokens");
    cases.push((no_max, "max_tokens"));
    let mut b = messages_body(false);
    b["messages"] = json!([{"role": "user", "content": [{"type": "document", "source": {}}]}]);
    cases.push((b, "messages[0].content[0].type"));
    let mut b = messages_body(false);
    b["messages"] = json!([{"role": "system", "content": "x"}]);
    cases.push((b, "messages[0].role"));
    let mut b = messages_body(false);
    b["tools"] = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    cases.push((b, "tools[0].type"));
    let mut b = messages_body(false);
    b["tool_choice"] = json!("auto");
    cases.push((b, "tool_choice"));
    let mut b = messages_body(false);
    b["temperature"] = json!(1.5);
    cases.push((b, "temperature"));
    for (body, field) in cases {
        let resp = s.messages(&body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{field}: {message}"
        );
    }
    let mut b = messages_body(false);
    b["model"] = json!("claude-opus-4");
    let resp = s.messages(&b).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "not_found_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("claude-opus-4")
    );
    assert_eq!(s.primary.request_count() + s.secondary.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_limit_is_429_and_an_oversized_body_413_in_anthropic_shape() {
    let s = common::start_limited(GatewayConfig {
        max_body_bytes: 1024,
        ..GatewayConfig::default()
    })
    .await;
    for _ in 0..2 {
        assert_eq!(s.messages(&messages_body(false)).await.status(), 200);
    }
    let refused = s.messages(&messages_body(false)).await;
    assert_eq!(refused.status(), 429);
    let after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after >= 1);
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let mut big = messages_body(false);
    big["messages"][0]["content"] = json!("x".repeat(4096));
    let resp = s.messages(&big).await;
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "request_too_large");
    assert_eq!(s.primary.request_count() + s.secondary.request_count(), 2);
}
