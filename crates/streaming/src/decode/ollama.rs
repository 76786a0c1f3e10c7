//! The `ndjson` decoder for Ollama's native `/api/chat` (and `/api/generate`).
//!
//! Lines `{"message":{"role","content","thinking","tool_calls"},"done":false}` … then a final
//! `{"done":true,"done_reason":"stop","prompt_eval_count":…,"eval_count":…}` (the counts may
//! be missing). An error after the stream started is a final `{"error":"…"}` line inside the
//! HTTP 200, classified like the equivalent status error.
//!
//! Each line is read into borrowed typed structs; a line the typed reading cannot take (an
//! error, or a shape it does not know) is read again as a `serde_json::Value`, the reference
//! reading, so both give the same events.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use steadfast_errors::Provider;
use steadfast_providers_core::{FinishReason, StreamEvent, ToolCallDelta, Usage};

use super::typed::Obj;
use super::{Flow, Item, in_band, malformed, push_text};

#[derive(Deserialize)]
struct Line<'a> {
    /// Only whether it is there and not `null`: an error goes to the `Value` reading.
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<Obj<Message<'a>>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    response: Option<Cow<'a, str>>,
    #[serde(default)]
    done: Option<bool>,
    #[serde(default, borrow)]
    done_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    /// Rare, and read by [`tool_call`] like a complete response's.
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
}

#[derive(Debug, Default, Clone)]
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
        match self.typed(line, out) {
            Some(flow) => flow,
            None => self.value(provider, line, out),
        }
    }

    /// The typed reading of one line; `None` (nothing pushed, nothing changed) when the line
    /// is for the `Value` reading.
    pub(crate) fn typed(&mut self, line: &str, out: &mut Vec<Item>) -> Option<Flow> {
        let Obj(v) = serde_json::from_str::<Obj<Line<'_>>>(line).ok()?;
        if v.error.is_some() {
            return None;
        }
        if !self.started {
            self.started = true;
            out.push(Ok(StreamEvent::Start {
                id: None,
                model: v.model.map(Cow::into_owned),
            }));
        }
        if let Some(Obj(msg)) = v.message {
            push_text(out, msg.thinking.as_deref(), |text| {
                StreamEvent::ReasoningDelta { text }
            });
            push_text(out, msg.content.as_deref(), |text| StreamEvent::TextDelta {
                text,
            });
            for tc in msg.tool_calls.iter().flatten() {
                out.push(Ok(StreamEvent::ToolCallDelta(tool_call(
                    self.tool_calls,
                    tc,
                ))));
                self.tool_calls = self.tool_calls.saturating_add(1);
            }
        }
        push_text(out, v.thinking.as_deref(), |text| {
            StreamEvent::ReasoningDelta { text }
        });
        push_text(out, v.response.as_deref(), |text| StreamEvent::TextDelta {
            text,
        });
        if v.done == Some(true) && !self.done {
            self.done = true;
            if v.prompt_eval_count.is_some() || v.eval_count.is_some() {
                out.push(Ok(StreamEvent::Usage(Usage {
                    input_tokens: v.prompt_eval_count.unwrap_or(0),
                    output_tokens: v.eval_count.unwrap_or(0),
                    ..Usage::default()
                })));
            }
            let raw = v.done_reason.as_deref().unwrap_or("stop");
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
        Some(Flow::Continue)
    }

    /// The reference reading of one line, through `serde_json::Value`.
    pub(crate) fn value(&mut self, provider: Provider, line: &str, out: &mut Vec<Item>) -> Flow {
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
