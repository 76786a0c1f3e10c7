//! Decoding whole (non-streamed) bodies of each wire format into a [`ChatResponse`].
//!
//! The same wire knowledge as the stream decoders, for `stream: false`: OpenAI-compatible
//! `choices[0].message` (DeepSeek's blank lines before the JSON included), Anthropic
//! `content[]` blocks, Ollama's `message` with `done: true`, Gemini `candidates[0]`. An error
//! object inside a 200 (OpenRouter, a blocked Gemini prompt) classifies like its status.
//!
//! The readings here go through a `serde_json::Value`; OpenAI-compatible and Anthropic
//! bodies are read first by the typed, borrowing readings of `response_typed`, which give
//! the same answer and leave to these any body they cannot take or that may hold an error.

use serde_json::Value;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::{ChatResponse, FinishReason, ToolCall, Usage};

use crate::decode::WireFormat;

/// The largest whole body [`decode_response`] parses, in bytes after trimming surrounding
/// whitespace and a byte order mark: 16 MiB. A larger body is a `protocol` error, never
/// parsed.
pub const MAX_RESPONSE_BYTES: usize = crate::sse::DEFAULT_MAX_EVENT_BYTES * 16;

/// Decodes a successful non-streamed body; an error object inside it becomes the classified
/// error, and anything that is not the format's JSON a `protocol` error.
///
/// ```
/// use steadfast_errors::Provider;
/// use steadfast_streaming::{decode_response, WireFormat};
///
/// let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
///   "content":[{"type":"text","text":"Hi!"}],"stop_reason":"end_turn",
///   "usage":{"input_tokens":9,"output_tokens":3}}"#;
/// let r = decode_response(WireFormat::AnthropicMessages, Provider::Anthropic, body).unwrap();
/// assert_eq!(r.text, "Hi!");
/// assert_eq!(r.usage.unwrap().output_tokens, 3);
/// ```
pub fn decode_response(
    format: WireFormat,
    provider: Provider,
    body: &[u8],
) -> Result<ChatResponse, ProviderError> {
    let trimmed = body.trim_ascii();
    let trimmed = trimmed.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(trimmed);
    if trimmed.len() > MAX_RESPONSE_BYTES {
        return Err(ProviderError::new(
            ErrorKind::Protocol,
            provider.as_str(),
            "response body exceeds the size limit",
        ));
    }
    let typed = match format {
        WireFormat::OpenAiChat => crate::response_typed::openai(trimmed),
        WireFormat::AnthropicMessages => crate::response_typed::anthropic(trimmed),
        _ => None,
    };
    if let Some(r) = typed {
        return Ok(r);
    }
    let v: Value = serde_json::from_slice(trimmed).map_err(|e| {
        let preview: String = String::from_utf8_lossy(&trimmed[..trimmed.len().min(120)]).into();
        ProviderError::new(
            ErrorKind::Protocol,
            provider.as_str(),
            format!("response body is not JSON ({e}): {preview}"),
        )
    })?;
    if let Some(err) = steadfast_errors::classify::in_band_value(provider, &v) {
        return Err(err.with_first_byte_received(false));
    }
    Ok(match format {
        WireFormat::OpenAiChat => openai(&v),
        WireFormat::AnthropicMessages => anthropic(&v),
        WireFormat::OllamaNdjson => ollama(&v),
        WireFormat::Gemini => gemini(&v),
    })
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(crate) fn openai(v: &Value) -> ChatResponse {
    let mut r = ChatResponse {
        id: s(v, "id"),
        model: s(v, "model"),
        ..ChatResponse::default()
    };
    if let Some(choice) = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    {
        let msg = choice.get("message").unwrap_or(&Value::Null);
        match msg.get("content") {
            Some(Value::String(t)) => r.text = t.clone(),
            // Content as an array of parts.
            Some(Value::Array(parts)) => {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(Value::as_str) {
                        r.text.push_str(t);
                    }
                }
            }
            _ => {}
        }
        r.reasoning = s(msg, "reasoning_content")
            .or_else(|| s(msg, "reasoning"))
            .unwrap_or_default();
        r.refusal = s(msg, "refusal").unwrap_or_default();
        for tc in msg
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let f = tc.get("function").unwrap_or(&Value::Null);
            let arguments = match f.get("arguments") {
                Some(Value::String(a)) => a.clone(),
                Some(other @ Value::Object(_)) => other.to_string(),
                _ => String::new(),
            };
            r.tool_calls.push(ToolCall {
                id: s(tc, "id").unwrap_or_default(),
                name: s(f, "name").unwrap_or_default(),
                arguments,
            });
        }
        if let Some(raw) = choice.get("finish_reason").and_then(Value::as_str) {
            r.finish_reason = Some(FinishReason::from_openai(raw));
            r.finish_raw = Some(raw.to_owned());
        }
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        let wire: crate::decode::WireUsage = serde_json::from_value(u.clone()).unwrap_or_default();
        r.usage = Some(wire.to_usage());
    }
    r
}

pub(crate) fn anthropic(v: &Value) -> ChatResponse {
    let mut r = ChatResponse {
        id: s(v, "id"),
        model: s(v, "model"),
        ..ChatResponse::default()
    };
    for block in v
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => r
                .text
                .push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("thinking") => r
                .reasoning
                .push_str(block.get("thinking").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => r.tool_calls.push(ToolCall {
                id: s(block, "id").unwrap_or_default(),
                name: s(block, "name").unwrap_or_default(),
                arguments: block
                    .get("input")
                    .map(Value::to_string)
                    .unwrap_or_else(|| "{}".to_owned()),
            }),
            _ => {}
        }
    }
    if let Some(raw) = v.get("stop_reason").and_then(Value::as_str) {
        r.finish_reason = Some(FinishReason::from_anthropic(raw));
        r.finish_raw = Some(raw.to_owned());
    }
    if let Some(u) = v.get("usage") {
        let mut usage = Usage::default();
        crate::decode::merge_anthropic_usage(&mut usage, u);
        r.usage = Some(usage);
    }
    r
}

fn ollama(v: &Value) -> ChatResponse {
    let mut r = ChatResponse {
        model: s(v, "model"),
        ..ChatResponse::default()
    };
    if let Some(msg) = v.get("message") {
        r.text = s(msg, "content").unwrap_or_default();
        r.reasoning = s(msg, "thinking").unwrap_or_default();
        for (i, tc) in msg
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let d = crate::decode::ollama_tool_call(i as u32, tc);
            r.tool_calls.push(ToolCall {
                id: d.id.unwrap_or_default(),
                name: d.name.unwrap_or_default(),
                arguments: d.arguments,
            });
        }
    } else if let Some(t) = v.get("response").and_then(Value::as_str) {
        r.text = t.to_owned();
    }
    if let Some(raw) = v.get("done_reason").and_then(Value::as_str) {
        r.finish_reason = Some(if !r.tool_calls.is_empty() && raw == "stop" {
            FinishReason::ToolCalls
        } else {
            FinishReason::from_ollama(raw)
        });
        r.finish_raw = Some(raw.to_owned());
    }
    r.usage = crate::decode::ollama_usage(v);
    r
}

fn gemini(v: &Value) -> ChatResponse {
    let mut r = ChatResponse {
        id: s(v, "responseId"),
        model: s(v, "modelVersion"),
        ..ChatResponse::default()
    };
    if let Some(c) = v
        .get("candidates")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    {
        let parts = c
            .get("content")
            .and_then(|c| c.get("parts"))
            .and_then(Value::as_array);
        for part in parts.into_iter().flatten() {
            if let Some(t) = part.get("text").and_then(Value::as_str) {
                if part.get("thought").and_then(Value::as_bool) == Some(true) {
                    r.reasoning.push_str(t);
                } else {
                    r.text.push_str(t);
                }
            }
            if let Some(call) = part.get("functionCall") {
                let name = s(call, "name").unwrap_or_default();
                r.tool_calls.push(ToolCall {
                    id: s(call, "id").unwrap_or_else(|| name.clone()),
                    name,
                    arguments: call.get("args").map(Value::to_string).unwrap_or_default(),
                });
            }
        }
        if let Some(raw) = c.get("finishReason").and_then(Value::as_str) {
            let reason = match FinishReason::from_gemini(raw) {
                FinishReason::Stop if !r.tool_calls.is_empty() => FinishReason::ToolCalls,
                other => other,
            };
            r.finish_reason = Some(reason);
            r.finish_raw = Some(raw.to_owned());
        }
    }
    if let Some(m) = v.get("usageMetadata") {
        r.usage = Some(crate::decode::gemini_usage(m));
    }
    r
}
