//! OpenAI's `chat.completion` object and `chat.completion.chunk` pieces, built from
//! steadfast's provider-neutral answer and stream events.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use steadfast_providers_core::{ChatResponse, FinishReason, ToolCallDelta, Usage};

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
    // The text below is JSON by construction.
    serde_json::from_slice(&completion_json(answer, model)).unwrap_or(Value::Null)
}

/// [`completion`] as JSON text, written straight from the answer: the same bytes that
/// serializing [`completion`]'s value gives, without building the value first.
///
/// ```
/// use steadfast_providers_core::ChatResponse;
/// use steadfast_gateway::response::completion_json;
///
/// let answer = ChatResponse { id: Some("chatcmpl-1".into()), text: "hi".into(), ..ChatResponse::default() };
/// let text = String::from_utf8(completion_json(&answer, "mock-small")).unwrap();
/// assert!(text.starts_with(r#"{"choices":[{"finish_reason":"stop","index":0,"logprobs":null,"message":{"content":"hi","role":"assistant"}}]"#));
/// ```
pub fn completion_json(answer: &ChatResponse, model: &str) -> Vec<u8> {
    completion_json_at(answer, model, now_secs())
}

// The `chat.completion` object, written as text: the fixed keys and punctuation as bytes,
// only the answer's own strings escaped. Keys come in alphabetical order, the order in
// which a `serde_json::Value` object writes them, so both give the same text (the tests
// hold it to the `json!` builder byte for byte).
fn completion_json_at(answer: &ChatResponse, model: &str, created: u64) -> Vec<u8> {
    let texts = answer.text.len() + answer.reasoning.len() + answer.refusal.len();
    let calls: usize = answer
        .tool_calls
        .iter()
        .map(|c| c.id.len() + c.name.len() + c.arguments.len() + 64)
        .sum();
    let mut out = Vec::with_capacity(320 + model.len() + texts + calls);
    let tools = !answer.tool_calls.is_empty();
    let finish = match answer.finish_reason {
        Some(r) => finish_str(r),
        None if tools => "tool_calls",
        None => "stop",
    };
    out.extend_from_slice(br#"{"choices":[{"finish_reason":""#);
    out.extend_from_slice(finish.as_bytes());
    out.extend_from_slice(br#"","index":0,"logprobs":null,"message":{"content":"#);
    // `null` when the answer is only tool calls.
    if answer.text.is_empty() && tools {
        out.extend_from_slice(b"null");
    } else {
        string(&mut out, &answer.text);
    }
    if !answer.reasoning.is_empty() {
        out.extend_from_slice(br#","reasoning_content":"#);
        string(&mut out, &answer.reasoning);
    }
    if !answer.refusal.is_empty() {
        out.extend_from_slice(br#","refusal":"#);
        string(&mut out, &answer.refusal);
    }
    out.extend_from_slice(br#","role":"assistant""#);
    if tools {
        out.extend_from_slice(br#","tool_calls":["#);
        for (i, c) in answer.tool_calls.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"function":{"arguments":"#);
            string(&mut out, &c.arguments);
            out.extend_from_slice(br#","name":"#);
            string(&mut out, &c.name);
            out.extend_from_slice(br#"},"id":"#);
            string(&mut out, &c.id);
            out.extend_from_slice(br#","type":"function"}"#);
        }
        out.push(b']');
    }
    out.extend_from_slice(br#"}}],"created":"#);
    number(&mut out, created);
    out.extend_from_slice(br#","id":"#);
    match answer.id.as_deref() {
        Some(id) => string(&mut out, id),
        None => string(&mut out, &completion_id()),
    }
    out.extend_from_slice(br#","model":"#);
    string(&mut out, answer.model.as_deref().unwrap_or(model));
    out.extend_from_slice(br#","object":"chat.completion","usage":"#);
    usage_text(&mut out, &answer.usage.unwrap_or_default());
    out.push(b'}');
    out
}

/// `s` as a JSON string, escaped as serde_json escapes it.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

pub(crate) fn number(out: &mut Vec<u8>, n: u64) {
    let _ = serde_json::to_writer(&mut *out, &n);
}

/// OpenAI's `usage` object as text, its keys in alphabetical order.
fn usage_text(out: &mut Vec<u8>, u: &Usage) {
    out.extend_from_slice(br#"{"completion_tokens":"#);
    number(out, u.output_tokens);
    if u.reasoning_tokens > 0 {
        out.extend_from_slice(br#","completion_tokens_details":{"reasoning_tokens":"#);
        number(out, u.reasoning_tokens);
        out.push(b'}');
    }
    out.extend_from_slice(br#","prompt_tokens":"#);
    number(out, u.input_tokens);
    if u.cache_read_tokens > 0 {
        out.extend_from_slice(br#","prompt_tokens_details":{"cached_tokens":"#);
        number(out, u.cache_read_tokens);
        out.push(b'}');
    }
    out.extend_from_slice(br#","total_tokens":"#);
    number(out, u.total());
    out.push(b'}');
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

/// The SSE events of a stream's chunks, written as text with only the chunk's own strings
/// escaped; the head's part is rendered once per stream ([`DeltaChunks::new`]). Keys come
/// in alphabetical order, as a `serde_json::Value` writes them (the tests hold each event
/// to a `json!` builder's, byte for byte).
pub(crate) struct DeltaChunks {
    /// What follows a delta: `},"finish_reason":null`, the rest of the choice, `created`,
    /// `id`, `model`, `object`, and the blank line that ends the event.
    tail: Vec<u8>,
    /// Where in `tail` the choice's rest (`,"index":0,…`) starts.
    rest_at: usize,
    /// Where in `tail` the head's fields (`"created":…`) start.
    head_at: usize,
}

/// The key of a text delta.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TextKey {
    Content,
    Reasoning,
    Refusal,
}

/// `tail`'s end after the head's fields: the chunk's `}` and the blank line.
const CHUNK_END: &[u8] = b"}\n\n";

impl DeltaChunks {
    pub(crate) fn new(head: &ChunkHead) -> DeltaChunks {
        let mut tail = Vec::with_capacity(160 + head.id.len() + head.model.len());
        tail.extend_from_slice(br#"},"finish_reason":null"#);
        let rest_at = tail.len();
        tail.extend_from_slice(br#","index":0,"logprobs":null}],"#);
        let head_at = tail.len();
        tail.extend_from_slice(br#""created":"#);
        number(&mut tail, head.created);
        tail.extend_from_slice(br#","id":"#);
        string(&mut tail, &head.id);
        tail.extend_from_slice(br#","model":"#);
        string(&mut tail, &head.model);
        tail.extend_from_slice(br#","object":"chat.completion.chunk""#);
        tail.extend_from_slice(CHUNK_END);
        DeltaChunks {
            tail,
            rest_at,
            head_at,
        }
    }

    /// The first event: the assistant's role and empty content.
    pub(crate) fn role(&self) -> bytes::Bytes {
        const START: &[u8] = br#"data: {"choices":[{"delta":{"content":"","role":"assistant""#;
        let mut out = Vec::with_capacity(START.len() + self.tail.len());
        out.extend_from_slice(START);
        out.extend_from_slice(&self.tail);
        out.into()
    }

    /// The last chunk with a choice: an empty delta and the finish reason.
    pub(crate) fn finish(&self, reason: &str) -> bytes::Bytes {
        const START: &[u8] = br#"data: {"choices":[{"delta":{},"finish_reason":"#;
        let rest = &self.tail[self.rest_at..];
        let mut out = Vec::with_capacity(START.len() + reason.len() + 2 + rest.len());
        out.extend_from_slice(START);
        string(&mut out, reason);
        out.extend_from_slice(rest);
        out.into()
    }

    /// The usage chunk (`stream_options.include_usage`): no choices.
    pub(crate) fn usage(&self, usage: &Usage) -> bytes::Bytes {
        const START: &[u8] = br#"data: {"choices":[],"#;
        let head = &self.tail[self.head_at..self.tail.len() - CHUNK_END.len()];
        let mut out = Vec::with_capacity(START.len() + head.len() + 160);
        out.extend_from_slice(START);
        out.extend_from_slice(head);
        out.extend_from_slice(br#","usage":"#);
        usage_text(&mut out, usage);
        out.extend_from_slice(CHUNK_END);
        out.into()
    }

    /// The event of one `key: text` delta.
    pub(crate) fn event(&self, key: TextKey, text: &str) -> bytes::Bytes {
        let key: &[u8] = match key {
            TextKey::Content => br#"content":"#,
            TextKey::Reasoning => br#"reasoning_content":"#,
            TextKey::Refusal => br#"refusal":"#,
        };
        let mut out = Vec::with_capacity(48 + key.len() + text.len() + self.tail.len());
        out.extend_from_slice(br#"data: {"choices":[{"delta":{""#);
        out.extend_from_slice(key);
        string(&mut out, text);
        out.extend_from_slice(&self.tail);
        out.into()
    }

    /// The event of one tool-call fragment (`id` and `type` only on the fragment that
    /// names the call).
    pub(crate) fn tool(&self, d: &ToolCallDelta) -> bytes::Bytes {
        let strings = d.arguments.len()
            + d.name.as_ref().map_or(0, String::len)
            + d.id.as_ref().map_or(0, String::len);
        let mut out = Vec::with_capacity(128 + strings + self.tail.len());
        out.extend_from_slice(
            br#"data: {"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"#,
        );
        string(&mut out, &d.arguments);
        if let Some(name) = &d.name {
            out.extend_from_slice(br#","name":"#);
            string(&mut out, name);
        }
        out.push(b'}');
        if let Some(id) = &d.id {
            out.extend_from_slice(br#","id":"#);
            string(&mut out, id);
        }
        out.extend_from_slice(br#","index":"#);
        number(&mut out, u64::from(d.index));
        if d.id.is_some() {
            out.extend_from_slice(br#","type":"function""#);
        }
        out.extend_from_slice(b"}]");
        out.extend_from_slice(&self.tail);
        out.into()
    }
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use steadfast_providers_core::{ChatResponse, FinishReason, ToolCall, Usage};

    use super::{ChunkHead, DeltaChunks, TextKey, completion_json_at, finish_str, sse};
    use steadfast_providers_core::ToolCallDelta;

    /// OpenAI's `usage` object as the `json!` builder made it.
    fn usage_reference(u: &Usage) -> Value {
        let mut usage = json!({
            "prompt_tokens": u.input_tokens,
            "completion_tokens": u.output_tokens,
            "total_tokens": u.total(),
        });
        if u.cache_read_tokens > 0 {
            usage["prompt_tokens_details"] = json!({ "cached_tokens": u.cache_read_tokens });
        }
        if u.reasoning_tokens > 0 {
            usage["completion_tokens_details"] = json!({ "reasoning_tokens": u.reasoning_tokens });
        }
        usage
    }

    /// The `json!` builders the stream's chunks were made with before they were written as
    /// text: the references each event must equal byte for byte.
    fn chunk_reference(head: &ChunkHead, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": head.id,
            "object": "chat.completion.chunk",
            "created": head.created,
            "model": head.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish, "logprobs": null }],
        })
    }

    fn usage_chunk_reference(head: &ChunkHead, usage: &Usage) -> Value {
        json!({
            "id": head.id,
            "object": "chat.completion.chunk",
            "created": head.created,
            "model": head.model,
            "choices": [],
            "usage": usage_reference(usage),
        })
    }

    fn tool_delta_reference(d: &ToolCallDelta) -> Value {
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

    /// The `json!` builder the gateway answered with before the typed object: the
    /// reference the typed text must equal byte for byte.
    fn reference(answer: &ChatResponse, model: &str, created: u64) -> Value {
        let mut message = json!({
            "role": "assistant",
            "content": if answer.text.is_empty() && !answer.tool_calls.is_empty() {
                Value::Null
            } else {
                Value::String(answer.text.clone())
            },
        });
        if !answer.tool_calls.is_empty() {
            message["tool_calls"] = answer
                .tool_calls
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments },
                    })
                })
                .collect();
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
        let usage = usage_reference(&answer.usage.unwrap_or_default());
        json!({
            "id": answer.id.clone().unwrap_or_else(|| "generated".to_owned()),
            "object": "chat.completion",
            "created": created,
            "model": answer.model.as_deref().unwrap_or(model),
            "choices": [{
                "index": 0,
                "message": message,
                "finish_reason": finish,
                "logprobs": null,
            }],
            "usage": usage,
        })
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z \"\\\\\n\u{1}\u{e9}\u{1f600}]{1,12}"
        ]
    }

    fn answer() -> impl Strategy<Value = ChatResponse> {
        let call = (text(), text(), text()).prop_map(|(id, name, arguments)| ToolCall {
            id,
            name,
            arguments,
        });
        let finish = prop_oneof![
            Just(None),
            Just(Some(FinishReason::Stop)),
            Just(Some(FinishReason::Length)),
            Just(Some(FinishReason::ToolCalls)),
            Just(Some(FinishReason::ContentFilter)),
        ];
        let usage = proptest::option::of(
            (0u64..1000, 0u64..1000, 0u64..3, 0u64..3, 0u64..3).prop_map(|(i, o, r, w, t)| Usage {
                input_tokens: i,
                output_tokens: o,
                cache_read_tokens: r,
                cache_write_tokens: w,
                reasoning_tokens: t,
            }),
        );
        (
            proptest::option::of(text()),
            proptest::option::of(text()),
            (text(), text(), text()),
            proptest::collection::vec(call, 0..3),
            finish,
            usage,
        )
            .prop_map(
                |(id, model, (text, reasoning, refusal), tool_calls, finish, usage)| ChatResponse {
                    id: Some(id.unwrap_or_else(|| "generated".to_owned())),
                    model,
                    text,
                    reasoning,
                    refusal,
                    tool_calls,
                    finish_reason: finish,
                    usage,
                    ..ChatResponse::default()
                },
            )
    }

    proptest! {
        #[test]
        fn typed_completion_is_the_json_builders_text(a in answer(), created in 0u64..u64::MAX) {
            let typed = completion_json_at(&a, "group-model", created);
            let built = serde_json::to_vec(&reference(&a, "group-model", created)).unwrap();
            prop_assert_eq!(String::from_utf8(typed).unwrap(), String::from_utf8(built).unwrap());
        }

        #[test]
        fn a_text_chunk_is_the_json_builders_event(
            id in text(),
            model in text(),
            created in 0u64..u64::MAX,
            delta in text(),
            key in 0usize..3,
        ) {
            let head = ChunkHead { id, created, model };
            let (key, name) = [
                (TextKey::Content, "content"),
                (TextKey::Reasoning, "reasoning_content"),
                (TextKey::Refusal, "refusal"),
            ][key];
            let typed = DeltaChunks::new(&head).event(key, &delta);
            let built = sse(&chunk_reference(&head, json!({ name: delta }), None));
            prop_assert_eq!(std::str::from_utf8(&typed).unwrap(), std::str::from_utf8(&built).unwrap());
        }

        #[test]
        fn the_role_finish_and_usage_chunks_are_the_json_builders_events(
            id in text(),
            model in text(),
            created in 0u64..u64::MAX,
            finish in 0usize..4,
            tokens in proptest::array::uniform4(0u64..1_000_000),
        ) {
            let head = ChunkHead { id, created, model };
            let chunks = DeltaChunks::new(&head);
            let utf8 = |b: &[u8]| std::str::from_utf8(b).unwrap().to_owned();
            let role = sse(&chunk_reference(&head, json!({"role": "assistant", "content": ""}), None));
            prop_assert_eq!(utf8(&chunks.role()), utf8(&role));
            let reason = ["stop", "length", "tool_calls", "content_filter"][finish];
            prop_assert_eq!(utf8(&chunks.finish(reason)), utf8(&sse(&chunk_reference(&head, json!({}), Some(reason)))));
            let usage = Usage {
                input_tokens: tokens[0],
                output_tokens: tokens[1],
                reasoning_tokens: tokens[2] % 3,
                cache_read_tokens: tokens[3] % 3,
                ..Usage::default()
            };
            prop_assert_eq!(utf8(&chunks.usage(&usage)), utf8(&sse(&usage_chunk_reference(&head, &usage))));
        }

        #[test]
        fn a_tool_chunk_is_the_json_builders_event(
            id in text(),
            created in 0u64..u64::MAX,
            index in 0u32..u32::MAX,
            call_id in proptest::option::of(text()),
            name in proptest::option::of(text()),
            arguments in text(),
        ) {
            let head = ChunkHead { id, created, model: "m".into() };
            let d = ToolCallDelta { index, id: call_id, name, arguments };
            let typed = DeltaChunks::new(&head).tool(&d);
            let built = sse(&chunk_reference(&head, tool_delta_reference(&d), None));
            prop_assert_eq!(std::str::from_utf8(&typed).unwrap(), std::str::from_utf8(&built).unwrap());
        }
    }

    #[test]
    fn a_missing_id_is_generated() {
        let a = ChatResponse::default();
        let v: Value = serde_json::from_slice(&completion_json_at(&a, "m", 7)).unwrap();
        let id = v["id"].as_str().unwrap();
        assert!(id.starts_with("chatcmpl-") && id.len() == 9 + 24, "{id}");
        assert_eq!(
            (v["created"].as_u64(), v["model"].as_str()),
            (Some(7), Some("m"))
        );
    }
}
