//! The `ndjson` decoder for Ollama's native `/api/chat` (and `/api/generate`).
//!
//! Lines `{"message":{"role","content","thinking","tool_calls"},"done":false}` … then a final
//! `{"done":true,"done_reason":"stop","prompt_eval_count":…,"eval_count":…}` (the counts may
//! be missing). An error after the stream started is a final `{"error":"…"}` line inside the
//! HTTP 200, classified like the equivalent status error.

use serde_json::Value;
use steadfast_errors::Provider;
use steadfast_providers_core::{FinishReason, StreamEvent, ToolCallDelta, Usage};

use super::{Flow, Item, in_band, malformed, push_text};

#[derive(Debug, Default)]
pub(crate) struct OllamaNdjson {
    pub(crate) done: bool,
    started: bool,
    tool_calls: u32,
}

/// Ollama's counts, when both or either are present.
pub(crate) fn usage_of(v: &Value) -> Option<Usage> {
    let input = v.get("prompt_eval_count").and_then(Value::as_u64);
    let output = v.get("eval_count").and_then(Value::as_u64);
    (input.is_some() || output.is_some()).then(|| Usage {
        input_tokens: input.unwrap_or(0),
        output_tokens: output.unwrap_or(0),
        ..Usage::default()
    })
}

/// An Ollama tool call object into a delta (`arguments` arrives as a JSON object).
pub(crate) fn tool_call(index: u32, tc: &Value) -> ToolCallDelta {
    let f = tc.get("function").unwrap_or(&Value::Null);
    let name = f.get("name").and_then(Value::as_str).map(str::to_owned);
    let arguments = match f.get("arguments") {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Object(_)) => v.to_string(),
        _ => String::new(),
    };
    ToolCallDelta {
        index,
        id: tc
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| name.clone()),
        name,
        arguments,
    }
}

impl OllamaNdjson {
    pub(crate) fn line(&mut self, provider: Provider, line: &str, out: &mut Vec<Item>) -> Flow {
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.push(Err(malformed(provider, &e, line)));
                return Flow::Stop;
            }
        };
        if v.get("error").is_some_and(|e| !e.is_null()) {
            out.push(Err(in_band(provider, &v)));
            return Flow::Stop;
        }
        if !self.started {
            self.started = true;
            out.push(Ok(StreamEvent::Start {
                id: None,
                model: v.get("model").and_then(Value::as_str).map(str::to_owned),
            }));
        }
        if let Some(msg) = v.get("message") {
            push_text(out, msg.get("thinking").and_then(Value::as_str), |text| {
                StreamEvent::ReasoningDelta { text }
            });
            push_text(out, msg.get("content").and_then(Value::as_str), |text| {
                StreamEvent::TextDelta { text }
            });
            for tc in msg
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(Ok(StreamEvent::ToolCallDelta(tool_call(
                    self.tool_calls,
                    tc,
                ))));
                self.tool_calls = self.tool_calls.saturating_add(1);
            }
        }
        // /api/generate streams `response` instead of `message`.
        push_text(out, v.get("thinking").and_then(Value::as_str), |text| {
            StreamEvent::ReasoningDelta { text }
        });
        push_text(out, v.get("response").and_then(Value::as_str), |text| {
            StreamEvent::TextDelta { text }
        });
        if v.get("done").and_then(Value::as_bool) == Some(true) && !self.done {
            self.done = true;
            if let Some(u) = usage_of(&v) {
                out.push(Ok(StreamEvent::Usage(u)));
            }
            let raw = v
                .get("done_reason")
                .and_then(Value::as_str)
                .unwrap_or("stop");
            let reason = if self.tool_calls > 0 && raw == "stop" {
                FinishReason::ToolCalls
            } else {
                FinishReason::from_ollama(raw)
            };
            out.push(Ok(StreamEvent::Finish {
                reason,
                raw: raw.to_owned(),
            }));
            out.push(Ok(StreamEvent::Done));
        }
        Flow::Continue
    }
}
