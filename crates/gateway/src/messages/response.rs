//! Anthropic's `message` object and stream events, built from steadfast's provider-neutral
//! answer.

use bytes::Bytes;
use serde_json::{Value, json};
use steadfast_providers_core::{ChatResponse, FinishReason, Usage};

use crate::response::{number, string};

/// `msg_` and 24 random hex digits: the id of an answer.
pub fn message_id() -> String {
    format!("msg_{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..))
}

/// `toolu_` and 24 random hex digits: the id of a tool call the provider gave none.
pub fn tool_use_id() -> String {
    format!("toolu_{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..))
}

/// Anthropic's `stop_reason` for a finish: `end_turn`, `max_tokens`, `stop_sequence` (only
/// when the provider said so: an OpenAI-format provider does not tell a stop sequence from
/// a natural end), `tool_use`, `refusal`; an unknown reason with tool calls is `tool_use`.
///
/// ```
/// use steadfast_gateway::messages::response::stop_reason;
/// use steadfast_providers_core::FinishReason;
///
/// assert_eq!(stop_reason(Some(FinishReason::Length), "length", false), "max_tokens");
/// assert_eq!(stop_reason(Some(FinishReason::Stop), "stop_sequence", false), "stop_sequence");
/// assert_eq!(stop_reason(None, "", true), "tool_use");
/// ```
pub fn stop_reason(reason: Option<FinishReason>, raw: &str, saw_tools: bool) -> &'static str {
    match reason {
        Some(FinishReason::Stop) if raw == "stop_sequence" => "stop_sequence",
        Some(FinishReason::Stop) => "end_turn",
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        _ if raw == "pause_turn" => "pause_turn",
        _ if saw_tools => "tool_use",
        _ => "end_turn",
    }
}

/// Anthropic's `usage` object (cache counts when there are any).
pub fn usage_json(u: &Usage) -> Value {
    let mut v = json!({
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
    });
    if u.cache_read_tokens > 0 {
        v["cache_read_input_tokens"] = json!(u.cache_read_tokens);
    }
    if u.cache_write_tokens > 0 {
        v["cache_creation_input_tokens"] = json!(u.cache_write_tokens);
    }
    v
}

/// The whole answer as a `message` object: thinking, text and `tool_use` blocks in that
/// order. An error when a tool call's arguments are not a JSON object (a `tool_use`
/// block's `input` must be one).
///
/// ```
/// use steadfast_providers_core::ChatResponse;
/// use steadfast_gateway::messages::response::message;
///
/// let answer = ChatResponse { text: "hi".into(), ..ChatResponse::default() };
/// let json = message(&answer, "mock-small").unwrap();
/// assert_eq!(json["type"], "message");
/// assert_eq!(json["content"][0], serde_json::json!({"type": "text", "text": "hi"}));
/// assert_eq!(json["stop_reason"], "end_turn");
/// ```
pub fn message(answer: &ChatResponse, model: &str) -> Result<Value, String> {
    let mut content = Vec::new();
    if !answer.reasoning.is_empty() {
        content.push(json!({"type": "thinking", "thinking": answer.reasoning, "signature": ""}));
    }
    let text = format!("{}{}", answer.text, answer.refusal);
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in &answer.tool_calls {
        content.push(json!({
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": call.object_arguments()?,
        }));
    }
    let stop = stop_reason(
        answer.finish_reason,
        answer.finish_raw.as_deref().unwrap_or(""),
        !answer.tool_calls.is_empty(),
    );
    Ok(json!({
        "id": answer
            .id
            .as_deref()
            .filter(|id| id.starts_with("msg_"))
            .map_or_else(message_id, str::to_owned),
        "type": "message",
        "role": "assistant",
        "model": answer.model.as_deref().unwrap_or(model),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage_json(&answer.usage.unwrap_or_default()),
    }))
}

/// One SSE event: `event: <type>` and its `data:`.
pub fn event(kind: &str, data: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // A serde_json Value always serializes.
    let _ = serde_json::to_writer(&mut out, data);
    out.extend_from_slice(b"\n\n");
    out.into()
}

/// A `content_block_delta` event whose delta is `{"type": kind, field: value}`, written as
/// text: what [`event`] of the `json!` object gives, byte for byte, with only `value`
/// escaped. `field` sorts before `type` (`text`, `thinking`, `signature`, `partial_json`),
/// as the object's keys do.
pub(crate) fn delta_event(index: usize, kind: &str, field: &str, value: &str) -> Bytes {
    debug_assert!(field < "type");
    let mut out = Vec::with_capacity(112 + kind.len() + field.len() + value.len());
    out.extend_from_slice(b"event: content_block_delta\ndata: {\"delta\":{\"");
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":");
    string(&mut out, value);
    out.extend_from_slice(br#","type":""#);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(br#""},"index":"#);
    number(&mut out, u64::try_from(index).unwrap_or(u64::MAX));
    out.extend_from_slice(b",\"type\":\"content_block_delta\"}\n\n");
    out.into()
}

/// The in-band `error` event that ends a stream the gateway cannot finish (no
/// `message_stop` follows).
pub fn error_event(error_type: &str, message: &str) -> Bytes {
    event(
        "error",
        &json!({"type": "error", "error": {"type": error_type, "message": message}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use steadfast_providers_core::ToolCall;

    proptest! {
        #[test]
        fn a_delta_event_is_the_json_builders_event(
            index in 0usize..1_000_000,
            value in "[a-z \"\\\\\n\u{1}\u{e9}\u{1f600}]{0,12}",
            which in 0usize..4,
        ) {
            let (kind, field) = [
                ("text_delta", "text"),
                ("thinking_delta", "thinking"),
                ("signature_delta", "signature"),
                ("input_json_delta", "partial_json"),
            ][which];
            let typed = delta_event(index, kind, field, &value);
            let built = event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": {"type": kind, field: value}}),
            );
            prop_assert_eq!(std::str::from_utf8(&typed).unwrap(), std::str::from_utf8(&built).unwrap());
        }
    }

    fn call(arguments: &str) -> ToolCall {
        ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn a_whole_answer_with_tool_calls_has_tool_use_blocks() {
        let answer = ChatResponse {
            id: Some("chatcmpl-1".into()),
            text: "Let me look.".into(),
            reasoning: "the user wants weather".into(),
            tool_calls: vec![call(r#"{"city":"Paris"}"#), call("")],
            finish_reason: Some(FinishReason::ToolCalls),
            finish_raw: Some("tool_calls".into()),
            usage: Some(Usage {
                input_tokens: 7,
                output_tokens: 3,
                cache_read_tokens: 2,
                ..Usage::default()
            }),
            ..ChatResponse::default()
        };
        let v = message(&answer, "m").unwrap();
        // Not an Anthropic id: a fresh one.
        assert!(v["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(v["content"][0]["type"], "thinking");
        assert_eq!(
            v["content"][1],
            json!({"type": "text", "text": "Let me look."})
        );
        assert_eq!(
            v["content"][2],
            json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}})
        );
        assert_eq!(v["content"][3]["input"], json!({}));
        assert_eq!(v["stop_reason"], "tool_use");
        assert_eq!(
            v["usage"],
            json!({"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 2})
        );
    }

    #[test]
    fn tool_arguments_that_are_not_an_object_are_an_error() {
        for bad in ["{not json", "[1, 2]"] {
            let answer = ChatResponse {
                tool_calls: vec![call(bad)],
                ..ChatResponse::default()
            };
            assert!(message(&answer, "m").is_err(), "{bad}");
        }
    }

    #[test]
    fn an_anthropic_id_is_kept_and_finish_reasons_map() {
        let answer = ChatResponse {
            id: Some("msg_abc".into()),
            finish_reason: Some(FinishReason::Length),
            ..ChatResponse::default()
        };
        let v = message(&answer, "m").unwrap();
        assert_eq!(v["id"], "msg_abc");
        assert_eq!(v["stop_reason"], "max_tokens");
        assert_eq!(v["content"], json!([]));
        assert_eq!(
            stop_reason(Some(FinishReason::ContentFilter), "", false),
            "refusal"
        );
        assert_eq!(
            stop_reason(Some(FinishReason::Other), "pause_turn", false),
            "pause_turn"
        );
        assert_eq!(
            stop_reason(Some(FinishReason::Stop), "stop", true),
            "end_turn"
        );
    }

    #[test]
    fn an_event_is_named_and_one_data_line() {
        let b = event("ping", &json!({"type": "ping"}));
        assert_eq!(&b[..], b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
        let e = error_event("overloaded_error", "a\nb");
        let text = std::str::from_utf8(&e).unwrap();
        assert_eq!(text.matches('\n').count(), 3, "{text}");
    }
}
