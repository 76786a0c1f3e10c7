//! OpenAI's `chat.completion` object and `chat.completion.chunk` pieces, built from
//! steadfast's provider-neutral answer and stream events.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use steadfast_providers_core::{ChatResponse, FinishReason, ToolCall, ToolCallDelta, Usage};

/// `chatcmpl-` and 24 random hex digits: the id of an answer the provider gave none.
pub fn completion_id() -> String {
    format!(
        "chatcmpl-{:016x}{:08x}",
        fastrand::u64(..),
        fastrand::u32(..)
    )
}

/// Seconds since the Unix epoch (`created`).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// OpenAI's name of a finish reason (`other` becomes `stop`: the SDK knows no other).
pub fn finish_str(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        _ => "stop",
    }
}

/// OpenAI's `usage` object.
pub fn usage_json(u: &Usage) -> Value {
    let mut v = json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total(),
    });
    if u.cache_read_tokens > 0 {
        v["prompt_tokens_details"] = json!({ "cached_tokens": u.cache_read_tokens });
    }
    if u.reasoning_tokens > 0 {
        v["completion_tokens_details"] = json!({ "reasoning_tokens": u.reasoning_tokens });
    }
    v
}

fn tool_call_json(c: &ToolCall) -> Value {
    json!({
        "id": c.id,
        "type": "function",
        "function": { "name": c.name, "arguments": c.arguments },
    })
}

/// The whole answer as a `chat.completion` object.
///
/// ```
/// use steadfast_providers_core::ChatResponse;
/// use steadfast_gateway::response::completion;
///
/// let answer = ChatResponse { text: "hi".into(), ..ChatResponse::default() };
/// let json = completion(&answer, "mock-small");
/// assert_eq!(json["object"], "chat.completion");
/// assert_eq!(json["choices"][0]["message"]["content"], "hi");
/// assert_eq!(json["choices"][0]["finish_reason"], "stop");
/// ```
pub fn completion(answer: &ChatResponse, model: &str) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": if answer.text.is_empty() && !answer.tool_calls.is_empty() {
            Value::Null
        } else {
            Value::String(answer.text.clone())
        },
    });
    if !answer.tool_calls.is_empty() {
        message["tool_calls"] = answer.tool_calls.iter().map(tool_call_json).collect();
    }
    if !answer.refusal.is_empty() {
        message["refusal"] = json!(answer.refusal);
    }
    if !answer.reasoning.is_empty() {
        message["reasoning_content"] = json!(answer.reasoning);
    }
    let finish = match answer.finish_reason {
        Some(r) => finish_str(r),
        None if !answer.tool_calls.is_empty() => "tool_calls",
        None => "stop",
    };
    json!({
        "id": answer.id.clone().unwrap_or_else(completion_id),
        "object": "chat.completion",
        "created": now_secs(),
        "model": answer.model.as_deref().unwrap_or(model),
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish,
            "logprobs": null,
        }],
        "usage": usage_json(&answer.usage.unwrap_or_default()),
    })
}

/// What every chunk of one stream shares: `id`, `created`, `model`.
#[derive(Debug, Clone)]
pub struct ChunkHead {
    /// The stream's id.
    pub id: String,
    /// When it started.
    pub created: u64,
    /// The model that answers.
    pub model: String,
}

impl ChunkHead {
    /// A chunk with one choice carrying `delta` (and a finish reason, on the last).
    pub fn delta(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish, "logprobs": null }],
        })
    }

    /// The usage chunk (`stream_options.include_usage`): no choices.
    pub fn usage(&self, usage: &Usage) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_json(usage),
        })
    }
}

/// A tool call's delta as OpenAI sends it.
pub fn tool_delta(d: &ToolCallDelta) -> Value {
    let mut function = json!({ "arguments": d.arguments });
    if let Some(name) = &d.name {
        function["name"] = json!(name);
    }
    let mut call = json!({ "index": d.index, "function": function });
    if let Some(id) = &d.id {
        call["id"] = json!(id);
        call["type"] = json!("function");
    }
    json!({ "tool_calls": [call] })
}

/// The in-band error that ends a stream the gateway cannot finish, as a `data:` payload:
/// openai-python raises `APIError` on an event whose data has an `error` key.
pub fn stream_error(message: &str, error_type: &str, code: &str) -> Value {
    json!({ "error": { "message": message, "type": error_type, "param": null, "code": code } })
}

/// One SSE event of `data`.
pub fn sse(data: &Value) -> bytes::Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    // A serde_json Value always serializes.
    let _ = serde_json::to_writer(&mut out, data);
    out.extend_from_slice(b"\n\n");
    out.into()
}
