//! The `anthropic-messages` decoder.
//!
//! `message_start` (id, model, input usage) → `content_block_start` (text, `tool_use` with id
//! and name, `thinking`) → `content_block_delta` (`text_delta`, `input_json_delta`,
//! `thinking_delta`, `signature_delta`; `citations_delta` ignored) → `content_block_stop` →
//! `message_delta` (stop reason, cumulative output usage) → `message_stop`. `ping` is a
//! keep-alive, unknown event types are ignored as Anthropic asks, and `event: error` inside
//! the 200 stream classifies exactly like the status error it names.
//!
//! Each event is read into borrowed typed structs; an event the typed reading cannot take
//! (an `error`, or a shape it does not know) is read again as a `serde_json::Value`, the
//! reference reading, so both give the same events.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use steadfast_errors::Provider;
use steadfast_providers_core::{FinishReason, StreamEvent, ToolCallDelta, Usage};

use super::typed::{Obj, nullable};
use super::{Flow, Item, in_band, malformed, push_text};
use crate::sse::Frame;

#[derive(Debug, Default, Clone)]
pub(crate) struct AnthropicMessages {
    pub(crate) done: bool,
    usage: Usage,
}

fn u64_at(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// Anthropic usage fields into the running usage (absent fields keep their value).
pub(crate) fn merge_usage(usage: &mut Usage, u: &Value) {
    if let Some(n) = u64_at(u, "input_tokens") {
        usage.input_tokens = n;
    }
    if let Some(n) = u64_at(u, "output_tokens") {
        usage.output_tokens = n;
    }
    if let Some(n) = u64_at(u, "cache_read_input_tokens") {
        usage.cache_read_tokens = n;
    }
    if let Some(n) = u64_at(u, "cache_creation_input_tokens") {
        usage.cache_write_tokens = n;
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(default, borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<Obj<Message<'a>>>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    content_block: Option<Obj<Block<'a>>>,
    #[serde(default, borrow)]
    delta: Option<Obj<Delta<'a>>>,
    #[serde(default, deserialize_with = "nullable")]
    usage: Option<Option<Obj<WireUsage>>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "nullable")]
    usage: Option<Option<Obj<WireUsage>>>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(default, borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    /// `{}` in a stream; kept as a value because a non-empty one is re-serialized.
    #[serde(default)]
    input: Option<Value>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
}

/// Anthropic usage, as the typed readings take it.
#[derive(Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Its fields into the running usage (absent fields keep their value), as [`merge_usage`].
    pub(crate) fn merge_into(&self, usage: &mut Usage) {
        if let Some(n) = self.input_tokens {
            usage.input_tokens = n;
        }
        if let Some(n) = self.output_tokens {
            usage.output_tokens = n;
        }
        if let Some(n) = self.cache_read_input_tokens {
            usage.cache_read_tokens = n;
        }
        if let Some(n) = self.cache_creation_input_tokens {
            usage.cache_write_tokens = n;
        }
    }
}

impl AnthropicMessages {
    pub(crate) fn frame(&mut self, provider: Provider, frame: Frame, out: &mut Vec<Item>) -> Flow {
        let ev = match frame {
            Frame::Event(ev) => ev,
            Frame::Comment(_) => {
                out.push(Ok(StreamEvent::KeepAlive));
                return Flow::Continue;
            }
            Frame::Other(_) => return Flow::Continue,
        };
        match self.typed(ev.event.as_deref(), &ev.data, out) {
            Some(flow) => flow,
            None => self.value(provider, ev.event.as_deref(), &ev.data, out),
        }
    }

    /// The typed reading of one event's data; `None` (nothing pushed, nothing changed) when
    /// the event is for the `Value` reading.
    pub(crate) fn typed(
        &mut self,
        event: Option<&str>,
        data: &str,
        out: &mut Vec<Item>,
    ) -> Option<Flow> {
        let v: Obj<Event<'_>> = serde_json::from_str(data).ok()?;
        let v = v.0;
        let ty = v.ty.as_deref().or(event).unwrap_or("");
        match ty {
            "message_start" => {
                let msg = v.message.map(|m| m.0);
                let (id, model, usage) = match msg {
                    Some(m) => (m.id, m.model, m.usage),
                    None => (None, None, None),
                };
                out.push(Ok(StreamEvent::Start {
                    id: id.map(Cow::into_owned),
                    model: model.map(Cow::into_owned),
                }));
                if let Some(u) = usage {
                    if let Some(u) = u {
                        u.0.merge_into(&mut self.usage);
                    }
                    out.push(Ok(StreamEvent::Usage(self.usage)));
                }
            }
            "content_block_start" => {
                let index = v.index.unwrap_or(0) as u32;
                let Some(Obj(block)) = v.content_block else {
                    return Some(Flow::Continue);
                };
                match block.ty.as_deref() {
                    Some("text") => push_text(out, block.text.as_deref(), |text| {
                        StreamEvent::TextDelta { text }
                    }),
                    Some("tool_use") | Some("server_tool_use") => {
                        let initial = match block.input {
                            Some(Value::Object(o)) if !o.is_empty() => Value::Object(o).to_string(),
                            _ => String::new(),
                        };
                        out.push(Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
                            index,
                            id: block.id.map(Cow::into_owned),
                            name: block.name.map(Cow::into_owned),
                            arguments: initial,
                        })));
                    }
                    Some("thinking") => push_text(out, block.thinking.as_deref(), |text| {
                        StreamEvent::ReasoningDelta { text }
                    }),
                    _ => {}
                }
            }
            "content_block_delta" => {
                let index = v.index.unwrap_or(0) as u32;
                let Some(Obj(delta)) = v.delta else {
                    return Some(Flow::Continue);
                };
                match delta.ty.as_deref() {
                    Some("text_delta") => push_text(out, delta.text.as_deref(), |text| {
                        StreamEvent::TextDelta { text }
                    }),
                    Some("input_json_delta") => {
                        if let Some(part) = delta.partial_json
                            && !part.is_empty()
                        {
                            out.push(Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
                                index,
                                id: None,
                                name: None,
                                arguments: part.into_owned(),
                            })));
                        }
                    }
                    Some("thinking_delta") => push_text(out, delta.thinking.as_deref(), |text| {
                        StreamEvent::ReasoningDelta { text }
                    }),
                    Some("signature_delta") => {
                        push_text(out, delta.signature.as_deref(), |signature| {
                            StreamEvent::ReasoningSignature { signature }
                        })
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(u) = v.usage {
                    if let Some(u) = u {
                        u.0.merge_into(&mut self.usage);
                    }
                    out.push(Ok(StreamEvent::Usage(self.usage)));
                }
                if let Some(raw) = v.delta.and_then(|d| d.0.stop_reason) {
                    out.push(Ok(StreamEvent::Finish {
                        reason: FinishReason::from_anthropic(&raw),
                        raw: raw.into_owned(),
                    }));
                }
            }
            "message_stop" => {
                self.done = true;
                out.push(Ok(StreamEvent::Done));
            }
            "ping" => out.push(Ok(StreamEvent::KeepAlive)),
            // The in-band error is classified from the whole value.
            "error" => return None,
            _ => {}
        }
        Some(Flow::Continue)
    }

    /// The reference reading of one event's data, through `serde_json::Value`.
    pub(crate) fn value(
        &mut self,
        provider: Provider,
        event: Option<&str>,
        data: &str,
        out: &mut Vec<Item>,
    ) -> Flow {
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                out.push(Err(malformed(provider, &e, data)));
                return Flow::Stop;
            }
        };
        // The `type` in the data is authoritative; the `event:` line repeats it.
        let ty = v
            .get("type")
            .and_then(Value::as_str)
            .or(event)
            .unwrap_or("");
        match ty {
            "message_start" => {
                let msg = v.get("message").unwrap_or(&Value::Null);
                out.push(Ok(StreamEvent::Start {
                    id: msg.get("id").and_then(Value::as_str).map(str::to_owned),
                    model: msg.get("model").and_then(Value::as_str).map(str::to_owned),
                }));
                if let Some(u) = msg.get("usage") {
                    merge_usage(&mut self.usage, u);
                    out.push(Ok(StreamEvent::Usage(self.usage)));
                }
            }
            "content_block_start" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as u32;
                let block = v.get("content_block").unwrap_or(&Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        push_text(out, block.get("text").and_then(Value::as_str), |text| {
                            StreamEvent::TextDelta { text }
                        })
                    }
                    Some("tool_use") | Some("server_tool_use") => {
                        // `input` is `{}` here; the arguments arrive as input_json_delta.
                        let initial = match block.get("input") {
                            Some(Value::Object(o)) if !o.is_empty() => {
                                Value::Object(o.clone()).to_string()
                            }
                            _ => String::new(),
                        };
                        out.push(Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
                            index,
                            id: block.get("id").and_then(Value::as_str).map(str::to_owned),
                            name: block.get("name").and_then(Value::as_str).map(str::to_owned),
                            arguments: initial,
                        })));
                    }
                    Some("thinking") => {
                        push_text(out, block.get("thinking").and_then(Value::as_str), |text| {
                            StreamEvent::ReasoningDelta { text }
                        })
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as u32;
                let delta = v.get("delta").unwrap_or(&Value::Null);
                let s = |k: &str| delta.get(k).and_then(Value::as_str);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        push_text(out, s("text"), |text| StreamEvent::TextDelta { text })
                    }
                    Some("input_json_delta") => {
                        if let Some(part) = s("partial_json")
                            && !part.is_empty()
                        {
                            out.push(Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
                                index,
                                id: None,
                                name: None,
                                arguments: part.to_owned(),
                            })));
                        }
                    }
                    Some("thinking_delta") => push_text(out, s("thinking"), |text| {
                        StreamEvent::ReasoningDelta { text }
                    }),
                    Some("signature_delta") => push_text(out, s("signature"), |signature| {
                        StreamEvent::ReasoningSignature { signature }
                    }),
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    merge_usage(&mut self.usage, u);
                    out.push(Ok(StreamEvent::Usage(self.usage)));
                }
                if let Some(raw) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    out.push(Ok(StreamEvent::Finish {
                        reason: FinishReason::from_anthropic(raw),
                        raw: raw.to_owned(),
                    }));
                }
            }
            "message_stop" => {
                self.done = true;
                out.push(Ok(StreamEvent::Done));
            }
            "ping" => out.push(Ok(StreamEvent::KeepAlive)),
            "error" => {
                out.push(Err(in_band(provider, &v)));
                return Flow::Stop;
            }
            // content_block_stop, and event types added after this was written.
            _ => {}
        }
        Flow::Continue
    }
}
