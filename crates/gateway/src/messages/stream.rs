//! Anthropic's stream events from the router's stream: `message_start`, then
//! `content_block_start` / `content_block_delta` / `content_block_stop` per text, thinking or
//! `tool_use` block, `message_delta` (stop reason and usage) and `message_stop`; `ping` for a
//! keep-alive; an `error` event and no `message_stop` when the answer cannot be finished.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use serde_json::{Value, json};
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{FinishReason, StreamEvent, ToolCallDelta, Usage};

use super::response::{delta_event, error_event, event, stop_reason, tool_use_id, usage_json};
use crate::stream::{Encode, Failure};

/// The kind of the block open now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    /// A tool call, by the router's tool-call index.
    Tool(u32),
}

/// The encoder of one streamed answer.
pub(crate) struct Events {
    id: String,
    model: String,
    /// The block open now and its index.
    open: Option<(Block, usize)>,
    next_index: usize,
    /// Block index of each tool call seen, by the router's tool-call index.
    tools: HashMap<u32, usize>,
    finish: Option<(FinishReason, String)>,
    usage: Usage,
}

impl Events {
    pub(crate) fn new(id: String, model: String) -> Events {
        Events {
            id,
            model,
            open: None,
            next_index: 0,
            tools: HashMap::new(),
            finish: None,
            usage: Usage::default(),
        }
    }

    fn close(&mut self, out: &mut VecDeque<Bytes>) {
        if let Some((_, index)) = self.open.take() {
            out.push_back(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// The index of a `kind` block, opening it (and closing the one open) when it is not
    /// the one open now.
    fn block(
        &mut self,
        kind: Block,
        start: impl FnOnce() -> Value,
        out: &mut VecDeque<Bytes>,
    ) -> usize {
        if let Some((open, index)) = self.open
            && open == kind
        {
            return index;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push_back(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start()}),
        ));
        self.open = Some((kind, index));
        index
    }

    fn tool(&mut self, d: ToolCallDelta, out: &mut VecDeque<Bytes>) {
        let index = match self.tools.get(&d.index) {
            // A later fragment of a call already started (providers send one call's
            // fragments together; one that comes back to an earlier call keeps its index).
            Some(index) => *index,
            None => {
                let id = d.id.clone().unwrap_or_else(tool_use_id);
                let name = d.name.clone().unwrap_or_default();
                let index = self.block(
                    Block::Tool(d.index),
                    || json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    out,
                );
                self.tools.insert(d.index, index);
                index
            }
        };
        if !d.arguments.is_empty() {
            out.push_back(delta_event(
                index,
                "input_json_delta",
                "partial_json",
                &d.arguments,
            ));
        }
    }
}

impl Encode for Events {
    fn start(&mut self, out: &mut VecDeque<Bytes>) {
        out.push_back(event(
            "message_start",
            &json!({
                "type": "message_start",
                "message": {
                    "id": self.id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                },
            }),
        ));
    }

    fn event(&mut self, ev: StreamEvent, out: &mut VecDeque<Bytes>) {
        match ev {
            StreamEvent::TextDelta { text } | StreamEvent::RefusalDelta { text }
                if !text.is_empty() =>
            {
                let index = self.block(Block::Text, || json!({"type": "text", "text": ""}), out);
                out.push_back(delta_event(index, "text_delta", "text", &text));
            }
            StreamEvent::ReasoningDelta { text } if !text.is_empty() => {
                let index = self.block(
                    Block::Thinking,
                    || json!({"type": "thinking", "thinking": "", "signature": ""}),
                    out,
                );
                out.push_back(delta_event(index, "thinking_delta", "thinking", &text));
            }
            StreamEvent::ReasoningSignature { signature } => {
                if let Some((Block::Thinking, index)) = self.open {
                    out.push_back(delta_event(
                        index,
                        "signature_delta",
                        "signature",
                        &signature,
                    ));
                }
            }
            StreamEvent::ToolCallDelta(d) => self.tool(d, out),
            StreamEvent::Usage(u) => self.usage = u,
            StreamEvent::Finish { reason, raw } => self.finish = Some((reason, raw)),
            StreamEvent::KeepAlive => out.push_back(event("ping", &json!({"type": "ping"}))),
            _ => {}
        }
    }

    fn end(&mut self, billed: Usage, out: &mut VecDeque<Bytes>) {
        self.close(out);
        let usage = if billed.total() > 0 {
            billed
        } else {
            self.usage
        };
        let (reason, raw) = match &self.finish {
            Some((reason, raw)) => (Some(*reason), raw.as_str()),
            None => (None, ""),
        };
        let stop = stop_reason(reason, raw, !self.tools.is_empty());
        out.push_back(event(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": usage_json(&usage),
            }),
        ));
        out.push_back(event("message_stop", &json!({"type": "message_stop"})));
    }

    fn fail(&mut self, failure: &Failure<'_>, out: &mut VecDeque<Bytes>) {
        let error_type = match failure.kind {
            None
            | Some(
                ErrorKind::Overloaded
                | ErrorKind::RateLimited
                | ErrorKind::QuotaExhausted
                | ErrorKind::BudgetExceeded,
            ) => "overloaded_error",
            Some(_) => "api_error",
        };
        out.push_back(error_event(error_type, failure.message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(events: Vec<StreamEvent>, end: bool) -> Vec<(String, Value)> {
        let mut e = Events::new("msg_1".into(), "m".into());
        let mut out = VecDeque::new();
        e.start(&mut out);
        for ev in events {
            e.event(ev, &mut out);
        }
        if end {
            e.end(Usage::default(), &mut out);
        } else {
            e.fail(
                &Failure {
                    message: "cut",
                    code: "overloaded",
                    kind: Some(ErrorKind::Overloaded),
                },
                &mut out,
            );
        }
        out.iter()
            .map(|b| {
                let text = std::str::from_utf8(b).unwrap();
                let (head, data) = text.split_once('\n').unwrap();
                let name = head.strip_prefix("event: ").unwrap().to_owned();
                let data = data.strip_prefix("data: ").unwrap().trim_end();
                (name, serde_json::from_str(data).unwrap())
            })
            .collect()
    }

    fn tool(index: u32, id: Option<&str>, arguments: &str) -> StreamEvent {
        StreamEvent::ToolCallDelta(ToolCallDelta {
            index,
            id: id.map(str::to_owned),
            name: id.map(|_| format!("tool{index}")),
            arguments: arguments.into(),
        })
    }

    #[test]
    fn blocks_open_and_close_in_order_with_their_indices() {
        let events = run(
            vec![
                StreamEvent::ReasoningDelta { text: "hm".into() },
                StreamEvent::ReasoningSignature {
                    signature: "sig".into(),
                },
                StreamEvent::TextDelta { text: "a".into() },
                StreamEvent::TextDelta {
                    text: String::new(),
                },
                StreamEvent::TextDelta { text: "b".into() },
                StreamEvent::KeepAlive,
                tool(0, Some("call_a"), "{\"x\":"),
                tool(0, None, "1}"),
                tool(1, Some("call_b"), ""),
                StreamEvent::Usage(Usage {
                    input_tokens: 5,
                    output_tokens: 9,
                    ..Usage::default()
                }),
                StreamEvent::Finish {
                    reason: FinishReason::ToolCalls,
                    raw: "tool_calls".into(),
                },
            ],
            true,
        );
        let shape: Vec<(String, Value)> = events
            .iter()
            .map(|(n, d)| (n.clone(), d["index"].clone()))
            .collect();
        let expected: Vec<(&str, Value)> = vec![
            ("message_start", Value::Null),
            ("content_block_start", json!(0)),
            ("content_block_delta", json!(0)),
            ("content_block_delta", json!(0)),
            ("content_block_stop", json!(0)),
            ("content_block_start", json!(1)),
            ("content_block_delta", json!(1)),
            ("content_block_delta", json!(1)),
            ("ping", Value::Null),
            ("content_block_stop", json!(1)),
            ("content_block_start", json!(2)),
            ("content_block_delta", json!(2)),
            ("content_block_delta", json!(2)),
            ("content_block_stop", json!(2)),
            ("content_block_start", json!(3)),
            ("content_block_stop", json!(3)),
            ("message_delta", Value::Null),
            ("message_stop", Value::Null),
        ];
        let expected: Vec<(String, Value)> = expected
            .into_iter()
            .map(|(n, i)| (n.to_owned(), i))
            .collect();
        assert_eq!(shape, expected, "{events:#?}");
        assert_eq!(events[1].1["content_block"]["type"], "thinking");
        assert_eq!(events[3].1["delta"]["signature"], "sig");
        assert_eq!(
            events[10].1["content_block"],
            json!({"type": "tool_use", "id": "call_a", "name": "tool0", "input": {}})
        );
        assert_eq!(events[12].1["delta"]["partial_json"], "1}");
        let delta = &events[16].1;
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
        assert_eq!(
            delta["usage"],
            json!({"input_tokens": 5, "output_tokens": 9})
        );
    }

    #[test]
    fn a_tool_call_without_an_id_gets_one() {
        let events = run(vec![tool(0, None, "{}")], true);
        let id = events[1].1["content_block"]["id"].as_str().unwrap();
        assert!(id.starts_with("toolu_"), "{id}");
        assert_eq!(
            events[events.len() - 2].1["delta"]["stop_reason"],
            "tool_use"
        );
    }

    #[test]
    fn an_unfinished_stream_ends_with_an_error_event_only() {
        let events = run(vec![StreamEvent::TextDelta { text: "a".into() }], false);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "error"
            ]
        );
        assert_eq!(
            events[3].1,
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "cut"}})
        );
    }
}
