//! The `gemini` decoder for `streamGenerateContent?alt=sse`.
//!
//! Each `data:` event is a `GenerateContentResponse`: `candidates[0].content.parts[]` (text,
//! `thought: true` reasoning, `functionCall`), `finishReason`, `usageMetadata`. There is no
//! `[DONE]`: the stream is complete when a chunk carried a `finishReason`. A blocked prompt
//! has `promptFeedback.blockReason` and no candidates (→ `content_filter`). An error after
//! the stream started arrives as a raw, pretty-printed `{"error":…}` object appended
//! *outside* SSE framing; the framer reports its lines as `Other` and they are gathered here.
//!
//! An event holding one common chunk is read by a hand-written scanner (`gemini_scan`); one
//! it declines is read into borrowed typed structs; anything the typed reading cannot take
//! (an error, a blocked prompt, an array of chunks, an unknown shape) is read again as a
//! `serde_json::Value`, the reference reading, so all three give the same events.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::{FinishReason, StreamEvent, ToolCallDelta, Usage};

use super::gemini_scan;
use super::typed::{First, Obj, any_value, nullable, present};
use super::{Flow, Item, in_band, malformed};
use crate::sse::Frame;

#[derive(Debug, Clone)]
pub(crate) struct GeminiStream {
    pub(crate) finished: bool,
    started: bool,
    tool_calls: u32,
    /// Lines outside SSE framing: the appended error object.
    raw: String,
    max_raw: usize,
}

impl GeminiStream {
    pub(crate) fn new(max_raw: usize) -> GeminiStream {
        GeminiStream {
            finished: false,
            started: false,
            tool_calls: 0,
            raw: String::new(),
            max_raw,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk<'a> {
    /// Only whether it is there and not `null`: an error goes to the `Value` reading.
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(default, borrow)]
    candidates: Option<First<Obj<Candidate<'a>>>>,
    #[serde(default)]
    prompt_feedback: Option<Obj<PromptFeedback>>,
    #[serde(default, borrow)]
    response_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model_version: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "nullable")]
    usage_metadata: Option<Option<Obj<UsageMetadata>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default, deserialize_with = "present")]
    block_reason: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(default, borrow)]
    content: Option<Obj<Content<'a>>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(default, borrow)]
    parts: Option<Parts<'a>>,
}

/// A candidate's parts, the first one kept inline: most chunks hold one part, and so need no
/// vector.
struct Parts<'a> {
    first: Option<Part<'a>>,
    rest: Vec<Part<'a>>,
}

impl<'a> Parts<'a> {
    fn into_iter(self) -> impl Iterator<Item = Part<'a>> {
        self.first.into_iter().chain(self.rest)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Parts<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Parts<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of parts")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Parts<'a>, A::Error> {
                let first = seq.next_element::<Obj<Part<'a>>>()?.map(|p| p.0);
                let mut rest = Vec::new();
                while let Some(Obj(p)) = seq.next_element::<Obj<Part<'a>>>()? {
                    rest.push(p);
                }
                Ok(Parts { first, rest })
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    function_call: Option<Option<Obj<FunctionCall<'a>>>>,
}

#[derive(Deserialize)]
struct FunctionCall<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    /// Re-serialized as the arguments, so kept as a value (`null` included).
    #[serde(default, deserialize_with = "any_value")]
    args: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: Option<u64>,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    cached_content_token_count: Option<u64>,
}

impl UsageMetadata {
    fn usage(&self) -> Usage {
        let n = |v: Option<u64>| v.unwrap_or(0);
        usage_from(
            n(self.prompt_token_count),
            n(self.candidates_token_count),
            n(self.thoughts_token_count),
            n(self.cached_content_token_count),
        )
    }
}

/// Gemini's usage metadata in provider-neutral counts.
pub(crate) fn usage_of(m: &Value) -> Usage {
    let n = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0);
    usage_from(
        n("promptTokenCount"),
        n("candidatesTokenCount"),
        n("thoughtsTokenCount"),
        n("cachedContentTokenCount"),
    )
}

/// Neutral counts from Gemini's prompt, candidates, thoughts and cached-content counts.
pub(crate) fn usage_from(prompt: u64, candidates: u64, thoughts: u64, cached: u64) -> Usage {
    Usage {
        input_tokens: prompt,
        // Saturating: the counts are whatever the server sent.
        output_tokens: candidates.saturating_add(thoughts),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
        reasoning_tokens: thoughts,
    }
}

impl GeminiStream {
    pub(crate) fn frame(&mut self, provider: Provider, frame: Frame, out: &mut Vec<Item>) -> Flow {
        match frame {
            Frame::Comment(_) => {
                out.push(Ok(StreamEvent::KeepAlive));
                Flow::Continue
            }
            Frame::Other(line) => self.raw_line(provider, &line, out),
            Frame::Event(ev) => {
                let data = ev.data.trim();
                if data.is_empty() {
                    return Flow::Continue;
                }
                if let Some(flow) = self.scanned(data, out) {
                    return flow;
                }
                if let Some(flow) = self.typed(data, out) {
                    return flow;
                }
                self.value(provider, data, out)
            }
        }
    }

    /// The scanned reading of one event's data (see `gemini_scan`); `None` (nothing
    /// pushed, nothing changed) when the event is for the serde readings.
    pub(crate) fn scanned(&mut self, data: &str, out: &mut Vec<Item>) -> Option<Flow> {
        let mark = out.len();
        let v = gemini_scan::scan(data, out)?;
        if !self.started {
            self.started = true;
            out.insert(
                mark,
                Ok(StreamEvent::Start {
                    id: v.response_id.map(Cow::into_owned),
                    model: v.model_version.map(Cow::into_owned),
                }),
            );
        }
        if let Some(usage) = v.usage {
            out.push(Ok(StreamEvent::Usage(usage)));
        }
        if let Some(raw) = v.finish {
            self.finish_with(&raw, out);
        }
        Some(Flow::Continue)
    }

    /// Pushes the stream's finish, once.
    fn finish_with(&mut self, raw: &str, out: &mut Vec<Item>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let reason = match FinishReason::from_gemini(raw) {
            FinishReason::Stop if self.tool_calls > 0 => FinishReason::ToolCalls,
            r => r,
        };
        out.push(Ok(StreamEvent::Finish {
            reason,
            raw: raw.to_owned(),
        }));
    }

    /// The typed reading of one event's data; `None` (nothing pushed, nothing changed) when
    /// the event is for the `Value` reading.
    pub(crate) fn typed(&mut self, data: &str, out: &mut Vec<Item>) -> Option<Flow> {
        let Obj(v) = serde_json::from_str::<Obj<Chunk<'_>>>(data).ok()?;
        let no_candidates = v.candidates.as_ref().is_none_or(|c| c.0.is_none());
        if v.error.is_some()
            || (no_candidates && v.prompt_feedback.as_ref().is_some_and(|p| p.0.block_reason))
        {
            return None;
        }
        if !self.started {
            self.started = true;
            out.push(Ok(StreamEvent::Start {
                id: v.response_id.map(Cow::into_owned),
                model: v.model_version.map(Cow::into_owned),
            }));
        }
        let mut finish = None;
        if let Some(Obj(c)) = v.candidates.and_then(|c| c.0) {
            let parts = c.content.and_then(|c| c.0.parts);
            for part in parts.into_iter().flat_map(Parts::into_iter) {
                if let Some(text) = part.text
                    && !text.is_empty()
                {
                    let text = text.into_owned();
                    out.push(Ok(if part.thought == Some(true) {
                        StreamEvent::ReasoningDelta { text }
                    } else {
                        StreamEvent::TextDelta { text }
                    }));
                }
                if let Some(call) = part.function_call {
                    let (id, name, args) = match call {
                        Some(Obj(c)) => (c.id, c.name, c.args),
                        None => (None, None, None),
                    };
                    let name = name.map(Cow::into_owned);
                    out.push(Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index: self.tool_calls,
                        id: id.map(Cow::into_owned).or_else(|| name.clone()),
                        name,
                        arguments: args.map(|a| a.to_string()).unwrap_or_default(),
                    })));
                    self.tool_calls = self.tool_calls.saturating_add(1);
                }
            }
            finish = c.finish_reason;
        }
        if let Some(m) = v.usage_metadata {
            let usage = m
                .map(|m| m.0.usage())
                .unwrap_or_else(|| usage_of(&Value::Null));
            out.push(Ok(StreamEvent::Usage(usage)));
        }
        if let Some(raw) = finish {
            self.finish_with(&raw, out);
        }
        Some(Flow::Continue)
    }

    /// The reference reading of one event's data, through `serde_json::Value`.
    pub(crate) fn value(&mut self, provider: Provider, data: &str, out: &mut Vec<Item>) -> Flow {
        match serde_json::from_str::<Value>(data) {
            Ok(Value::Array(items)) => {
                for item in &items {
                    if self.chunk(provider, item, out) == Flow::Stop {
                        return Flow::Stop;
                    }
                }
                Flow::Continue
            }
            Ok(v) => self.chunk(provider, &v, out),
            Err(e) => {
                out.push(Err(malformed(provider, &e, data)));
                Flow::Stop
            }
        }
    }

    fn raw_line(&mut self, provider: Provider, line: &str, out: &mut Vec<Item>) -> Flow {
        if self.raw.is_empty() && !line.trim_start().starts_with(['{', '[']) {
            return Flow::Continue;
        }
        if self.raw.len() + line.len() + 1 > self.max_raw {
            out.push(Err(ProviderError::new(
                ErrorKind::Protocol,
                provider.as_str(),
                "unframed content after the stream exceeds the event size limit",
            )
            .with_first_byte_received(true)));
            return Flow::Stop;
        }
        self.raw.push_str(line);
        self.raw.push('\n');
        if let Ok(v) = serde_json::from_str::<Value>(&self.raw) {
            self.raw.clear();
            let v = match v {
                Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
                other => other,
            };
            if v.get("error").is_some() {
                out.push(Err(in_band(provider, &v)));
                return Flow::Stop;
            }
            return self.chunk(provider, &v, out);
        }
        Flow::Continue
    }

    /// At end of input: an unterminated raw object is a protocol error.
    pub(crate) fn finish(&mut self, provider: Provider, out: &mut Vec<Item>) -> Flow {
        if self.raw.trim().is_empty() {
            return Flow::Continue;
        }
        let preview: String = self.raw.chars().take(120).collect();
        out.push(Err(ProviderError::new(
            ErrorKind::Protocol,
            provider.as_str(),
            format!("unframed content after the stream is not JSON: {preview}"),
        )
        .with_first_byte_received(true)));
        Flow::Stop
    }

    fn chunk(&mut self, provider: Provider, v: &Value, out: &mut Vec<Item>) -> Flow {
        if v.get("error").is_some_and(|e| !e.is_null()) {
            out.push(Err(in_band(provider, v)));
            return Flow::Stop;
        }
        let candidates = v.get("candidates").and_then(Value::as_array);
        if candidates.is_none_or(|c| c.is_empty())
            && v.get("promptFeedback")
                .and_then(|p| p.get("blockReason"))
                .is_some()
        {
            out.push(Err(in_band(provider, v)));
            return Flow::Stop;
        }
        if !self.started {
            self.started = true;
            out.push(Ok(StreamEvent::Start {
                id: v
                    .get("responseId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                model: v
                    .get("modelVersion")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }));
        }
        let mut finish = None;
        if let Some(c) = candidates.and_then(|c| c.first()) {
            let parts = c
                .get("content")
                .and_then(|c| c.get("parts"))
                .and_then(Value::as_array);
            for part in parts.into_iter().flatten() {
                if let Some(text) = part.get("text").and_then(Value::as_str)
                    && !text.is_empty()
                {
                    let thought = part.get("thought").and_then(Value::as_bool) == Some(true);
                    out.push(Ok(if thought {
                        StreamEvent::ReasoningDelta {
                            text: text.to_owned(),
                        }
                    } else {
                        StreamEvent::TextDelta {
                            text: text.to_owned(),
                        }
                    }));
                }
                if let Some(call) = part.get("functionCall") {
                    let name = call.get("name").and_then(Value::as_str).map(str::to_owned);
                    let arguments = call.get("args").map(Value::to_string).unwrap_or_default();
                    out.push(Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index: self.tool_calls,
                        id: call
                            .get("id")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            .or_else(|| name.clone()),
                        name,
                        arguments,
                    })));
                    self.tool_calls = self.tool_calls.saturating_add(1);
                }
            }
            finish = c.get("finishReason").and_then(Value::as_str);
        }
        if let Some(m) = v.get("usageMetadata") {
            out.push(Ok(StreamEvent::Usage(usage_of(m))));
        }
        if let Some(raw) = finish {
            self.finish_with(raw, out);
        }
        Flow::Continue
    }
}
