//! What a scripted answer streams: the events of a whole answer or of text chunks, how the
//! stream ends, and the stream that plays them.

use std::collections::VecDeque;
use std::time::Duration;

use steadfast_errors::ProviderError;
use steadfast_providers_core::{
    ChatRequest, ChatResponse, FinishReason, Message, StreamEvent, ToolCallDelta, Usage,
};
use steadfast_streaming::StreamState;

use crate::text::{count_words, word_chunks};

/// How a planned stream ends after its events.
pub(crate) enum Tail {
    End,
    Error(ProviderError),
    Stall,
}

/// A resolved outcome: the events to stream and how the stream ends.
pub(crate) struct Plan {
    pub(crate) events: Vec<StreamEvent>,
    pub(crate) tail: Tail,
    pub(crate) pace: Option<Duration>,
}

/// The events of a whole answer.
pub(crate) fn whole(start: StreamEvent, r: ChatResponse, request: &ChatRequest) -> Plan {
    let start = match start {
        StreamEvent::Start { id, model } => StreamEvent::Start {
            id: r.id.clone().or(id),
            model: r.model.clone().or(model),
        },
        other => other,
    };
    let mut events = vec![start];
    let texts: [(&str, MakeEvent); 3] = [
        (&r.reasoning, |text| StreamEvent::ReasoningDelta { text }),
        (&r.text, |text| StreamEvent::TextDelta { text }),
        (&r.refusal, |text| StreamEvent::RefusalDelta { text }),
    ];
    let mut output = 0u64;
    for (text, make) in texts {
        for chunk in word_chunks(text) {
            output += 1;
            events.push(make(chunk));
        }
    }
    for (index, call) in r.tool_calls.iter().enumerate() {
        output += 1;
        let mut mid = call.arguments.len() / 2;
        while !call.arguments.is_char_boundary(mid) {
            mid += 1;
        }
        let (head, tail) = call.arguments.split_at(mid);
        events.push(StreamEvent::ToolCallDelta(ToolCallDelta {
            index: index as u32,
            id: Some(call.id.clone()),
            name: Some(call.name.clone()),
            arguments: head.to_owned(),
        }));
        if !tail.is_empty() {
            events.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                index: index as u32,
                id: None,
                name: None,
                arguments: tail.to_owned(),
            }));
        }
    }
    let usage = r.usage.unwrap_or_else(|| usage_of(request, output));
    let reason = r.finish_reason.unwrap_or(if r.tool_calls.is_empty() {
        FinishReason::Stop
    } else {
        FinishReason::ToolCalls
    });
    let raw = r.finish_raw.unwrap_or_else(|| reason.as_str().to_owned());
    events.push(StreamEvent::Usage(usage));
    events.push(StreamEvent::Finish { reason, raw });
    events.push(StreamEvent::Done);
    Plan {
        events,
        tail: Tail::End,
        pace: None,
    }
}

/// The events of text chunks, then the end: `tail`, or a complete ending (usage, finish,
/// terminator) when it is `None`.
pub(crate) fn chunked(
    start: StreamEvent,
    chunks: &[String],
    tail: Option<Tail>,
    request: &ChatRequest,
) -> Plan {
    let mut events = vec![start];
    events.extend(
        chunks
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| StreamEvent::TextDelta { text: c.clone() }),
    );
    let tail = match tail {
        Some(tail) => tail,
        None => {
            events.push(StreamEvent::Usage(usage_of(request, chunks.len() as u64)));
            events.push(StreamEvent::Finish {
                reason: FinishReason::Stop,
                raw: "stop".to_owned(),
            });
            events.push(StreamEvent::Done);
            Tail::End
        }
    };
    Plan {
        events,
        tail,
        pace: None,
    }
}

/// Makes a text-like event.
type MakeEvent = fn(String) -> StreamEvent;

/// Words in, chunks out: the mock's usage.
pub(crate) fn usage_of(request: &ChatRequest, output: u64) -> Usage {
    let input = request.system.as_deref().map_or(0, count_words)
        + request
            .messages
            .iter()
            .map(Message::joined_text)
            .map(|t| count_words(&t))
            .sum::<u64>();
    Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    }
}

/// Plays a plan as a stream.
pub(crate) fn play(
    plan: Plan,
) -> impl futures_core::Stream<Item = steadfast_streaming::Item> + Send {
    let mut items: VecDeque<steadfast_streaming::Item> = plan.events.into_iter().map(Ok).collect();
    let stall = match plan.tail {
        Tail::End => false,
        Tail::Error(err) => {
            items.push_back(Err(err));
            false
        }
        Tail::Stall => true,
    };
    futures_util::stream::unfold(
        (items, stall, plan.pace),
        |(mut items, stall, pace)| async move {
            match items.pop_front() {
                Some(item) => {
                    if let Some(every) = pace {
                        tokio::time::sleep(every).await;
                    }
                    Some((item, (items, stall, pace)))
                }
                None if stall => std::future::pending().await,
                None => None,
            }
        },
    )
}

/// A whole answer from what a stream delivered.
pub(crate) fn response_of(state: &StreamState) -> ChatResponse {
    ChatResponse {
        id: state.id().map(str::to_owned),
        model: state.model().map(str::to_owned),
        text: state.text().to_owned(),
        reasoning: state.reasoning().to_owned(),
        refusal: state.refusal().to_owned(),
        tool_calls: state.tool_calls(),
        finish_reason: state.finish_reason(),
        finish_raw: state.finish_raw().map(str::to_owned),
        usage: state.usage(),
    }
}
