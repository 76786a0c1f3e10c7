//! The `openai-chat` decoder: OpenAI chat-completion chunks and every compatible server's.
//!
//! Handles `[DONE]`; the usage chunk with `choices: []`; tool-call deltas; `refusal`;
//! `reasoning_content` (DeepSeek, xAI) and `reasoning` (OpenRouter) kept apart from text;
//! OpenRouter's `: OPENROUTER PROCESSING` comments and its mid-stream error chunk
//! (`"error":{…}` with `finish_reason: "error"`); DeepSeek's `: keep-alive`; llama.cpp's
//! `data: {"error":…}` close and the non-standard `error: {json}` field of older builds.

use serde::Deserialize;
use serde_json::Value;
use steadfast_errors::Provider;
use steadfast_providers_core::{FinishReason, StreamEvent, ToolCallDelta, Usage};

use super::{Flow, Item, in_band, malformed, push_text};
use crate::sse::Frame;

#[derive(Debug, Default)]
pub(crate) struct OpenAiChat {
    pub(crate) done: bool,
    started: bool,
    finished: bool,
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    index: u32,
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize, Default)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// OpenAI-shaped usage, with the compatible servers' extra fields.
#[derive(Deserialize, Default, Debug)]
pub(crate) struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek.
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl WireUsage {
    pub(crate) fn to_usage(&self) -> Usage {
        let reasoning = self
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0);
        // OpenAI counts reasoning inside completion_tokens; xAI reports it beside them
        // (total = prompt + completion + reasoning). Output tokens are what is billed as
        // output, so add reasoning when the total shows it was left out.
        // The sums saturate: a server may send any u64, and a wrapped count would bill nothing.
        let outside = reasoning > 0
            && self.total_tokens
                == Some(
                    self.prompt_tokens
                        .saturating_add(self.completion_tokens)
                        .saturating_add(reasoning),
                );
        Usage {
            input_tokens: self.prompt_tokens,
            output_tokens: self.completion_tokens.saturating_add(if outside {
                reasoning
            } else {
                0
            }),
            cache_read_tokens: self
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .or(self.prompt_cache_hit_tokens)
                .unwrap_or(0),
            cache_write_tokens: 0,
            reasoning_tokens: reasoning,
        }
    }
}

fn is_error_value(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}

impl OpenAiChat {
    pub(crate) fn frame(&mut self, provider: Provider, frame: Frame, out: &mut Vec<Item>) -> Flow {
        match frame {
            Frame::Comment(_) => {
                out.push(Ok(StreamEvent::KeepAlive));
                Flow::Continue
            }
            Frame::Other(line) => {
                // llama.cpp before 2024: a non-standard `error: {json}` field.
                match line.strip_prefix("error:") {
                    Some(rest) => match serde_json::from_str::<Value>(rest.trim()) {
                        Ok(v) => {
                            let wrapped = match v {
                                Value::Object(ref o) if o.contains_key("error") => v,
                                other => serde_json::json!({ "error": other }),
                            };
                            out.push(Err(in_band(provider, &wrapped)));
                            Flow::Stop
                        }
                        Err(_) => Flow::Continue,
                    },
                    None => Flow::Continue,
                }
            }
            Frame::Event(ev) => self.data(provider, &ev.data, out),
        }
    }

    fn data(&mut self, provider: Provider, data: &str, out: &mut Vec<Item>) -> Flow {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            out.push(Ok(StreamEvent::Done));
            return Flow::Continue;
        }
        if data.is_empty() {
            return Flow::Continue;
        }
        let chunk: Chunk<'_> = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                out.push(Err(malformed(provider, &e, data)));
                return Flow::Stop;
            }
        };
        if is_error_value(&chunk.error) {
            // Top-level error: OpenRouter's mid-stream chunk, llama.cpp's close.
            let value = serde_json::json!({ "error": chunk.error });
            out.push(Err(in_band(provider, &value)));
            return Flow::Stop;
        }
        if !self.started {
            self.started = true;
            out.push(Ok(StreamEvent::Start {
                id: chunk.id.map(|s| s.into_owned()),
                model: chunk.model.map(|s| s.into_owned()),
            }));
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(delta) = &choice.delta {
                push_text(out, delta.reasoning_content.as_deref(), |text| {
                    StreamEvent::ReasoningDelta { text }
                });
                push_text(out, delta.reasoning.as_deref(), |text| {
                    StreamEvent::ReasoningDelta { text }
                });
                push_text(out, delta.content.as_deref(), |text| {
                    StreamEvent::TextDelta { text }
                });
                push_text(out, delta.refusal.as_deref(), |text| {
                    StreamEvent::RefusalDelta { text }
                });
                for tc in &delta.tool_calls {
                    let (name, arguments) = match &tc.function {
                        Some(f) => (f.name.clone(), f.arguments.clone().unwrap_or_default()),
                        None => (None, String::new()),
                    };
                    out.push(Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index: tc.index,
                        id: tc.id.clone(),
                        name,
                        arguments,
                    })));
                }
            }
            match choice.finish_reason.as_deref() {
                Some("error") => {
                    let value = match &choice.error {
                        Some(e) => serde_json::json!({ "error": e }),
                        None => {
                            serde_json::json!({ "error": { "message": "the provider ended the stream with an error" } })
                        }
                    };
                    out.push(Err(in_band(provider, &value)));
                    return Flow::Stop;
                }
                Some(raw) if !self.finished => {
                    self.finished = true;
                    out.push(Ok(StreamEvent::Finish {
                        reason: FinishReason::from_openai(raw),
                        raw: raw.to_owned(),
                    }));
                }
                _ => {}
            }
        }
        if let Some(usage) = &chunk.usage {
            out.push(Ok(StreamEvent::Usage(usage.to_usage())));
        }
        Flow::Continue
    }
}
