//! Hostile input: huge usage numbers, endless tool-call indices, bodies and events just past
//! their size bounds — a typed error or a saturated count, never a panic or growth.

use proptest::prelude::*;
use steadfast_errors::{ErrorKind, Provider};
use steadfast_providers_core::{StreamEvent, ToolCallDelta};
use steadfast_streaming::sse::DEFAULT_MAX_EVENT_BYTES;
use steadfast_streaming::{
    Item, MAX_RESPONSE_BYTES, MAX_TOOL_CALLS, StreamState, WireFormat, decode_response,
};

fn decode(format: WireFormat, provider: Provider, body: &[u8]) -> (StreamState, Vec<Item>) {
    let mut d = format.decoder(provider);
    let mut items = Vec::new();
    d.feed(body, &mut items);
    d.finish(&mut items);
    let mut state = StreamState::default();
    for i in &items {
        match i {
            Ok(e) => state.apply(e),
            Err(e) => state.apply_error(e),
        }
    }
    (state, items)
}

/// Token counts as a hostile or broken server might send them.
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(u64::MAX / 2 + 1),
        any::<u64>(),
        0u64..10_000,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Usage fields from the whole u64 range, in the stream chunk and the whole body of each
    /// format: sums saturate, nothing panics.
    #[test]
    fn usage_numbers_from_the_whole_u64_range_saturate(
        a in count(), b in count(), c in count(), d in count(), total in prop_oneof![count().prop_map(Some), Just(None)],
    ) {
        let total = total.map_or(String::new(), |t| format!(",\"total_tokens\":{t}"));
        // OpenAI-compatible: total = prompt + completion + reasoning triggers the xAI sum.
        let openai_usage = format!(
            "{{\"prompt_tokens\":{a},\"completion_tokens\":{b},\"completion_tokens_details\":{{\"reasoning_tokens\":{c}}},\"prompt_tokens_details\":{{\"cached_tokens\":{d}}}{total}}}"
        );
        let xai_total = a.saturating_add(b).saturating_add(c);
        let xai_usage = format!(
            "{{\"prompt_tokens\":{a},\"completion_tokens\":{b},\"completion_tokens_details\":{{\"reasoning_tokens\":{c}}},\"total_tokens\":{xai_total}}}"
        );
        for u in [&openai_usage, &xai_usage] {
            let sse = format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"x\"}},\"finish_reason\":\"stop\"}}],\"usage\":{u}}}\n\ndata: [DONE]\n\n");
            let (state, _) = decode(WireFormat::OpenAiChat, Provider::Xai, sse.as_bytes());
            let usage = state.usage().unwrap();
            prop_assert!(usage.output_tokens >= b);
            prop_assert!(usage.output_tokens <= b.saturating_add(c));
            let whole = format!("{{\"choices\":[{{\"message\":{{\"content\":\"x\"}},\"finish_reason\":\"stop\"}}],\"usage\":{u}}}");
            let r = decode_response(WireFormat::OpenAiChat, Provider::Xai, whole.as_bytes()).unwrap();
            prop_assert_eq!(r.usage, Some(usage));
        }

        let gemini_meta = format!(
            "{{\"promptTokenCount\":{a},\"candidatesTokenCount\":{b},\"thoughtsTokenCount\":{c},\"cachedContentTokenCount\":{d}}}"
        );
        let sse = format!("data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"x\"}}]}},\"finishReason\":\"STOP\"}}],\"usageMetadata\":{gemini_meta}}}\n\n");
        let (state, _) = decode(WireFormat::Gemini, Provider::Gemini, sse.as_bytes());
        prop_assert_eq!(state.usage().unwrap().output_tokens, b.saturating_add(c));
        let whole = format!("{{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"x\"}}]}},\"finishReason\":\"STOP\"}}],\"usageMetadata\":{gemini_meta}}}");
        let r = decode_response(WireFormat::Gemini, Provider::Gemini, whole.as_bytes()).unwrap();
        prop_assert_eq!(r.usage.unwrap().output_tokens, b.saturating_add(c));

        let anthropic = format!(
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"m\",\"usage\":{{\"input_tokens\":{a},\"output_tokens\":{b},\"cache_read_input_tokens\":{c},\"cache_creation_input_tokens\":{d}}}}}}}\n\n\
             event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}},\"usage\":{{\"output_tokens\":{c}}}}}\n\n\
             event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
        );
        let (state, _) = decode(WireFormat::AnthropicMessages, Provider::Anthropic, anthropic.as_bytes());
        prop_assert_eq!(state.usage().unwrap().output_tokens, c);

        let ollama = format!("{{\"model\":\"m\",\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":{a},\"eval_count\":{b}}}\n");
        let (state, _) = decode(WireFormat::OllamaNdjson, Provider::Ollama, ollama.as_bytes());
        prop_assert_eq!(state.usage().unwrap().total(), a.saturating_add(b));
    }
}

fn openai_tool_chunk(index: u64) -> String {
    format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"tool_calls\":[{{\"index\":{index},\"id\":\"c{index}\",\"function\":{{\"name\":\"f\",\"arguments\":\"{{}}\"}}}}]}}}}]}}\n\n"
    )
}

/// Bodies that open one tool call after another, in each format, up to `n` calls.
fn many_tool_calls(format: WireFormat, n: u64, spread: u64) -> String {
    let mut b = String::new();
    for i in 0..n {
        let index = i * spread;
        match format {
            WireFormat::OpenAiChat => b.push_str(&openai_tool_chunk(index)),
            WireFormat::AnthropicMessages => b.push_str(&format!(
                "event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":{index},\"content_block\":{{\"type\":\"tool_use\",\"id\":\"t{index}\",\"name\":\"f\",\"input\":{{}}}}}}\n\n"
            )),
            WireFormat::Gemini => b.push_str(
                "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{}}}]}}]}\n\n",
            ),
            _ => b.push_str(
                "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":{}}}]},\"done\":false}\n",
            ),
        }
    }
    b
}

#[test]
fn a_stream_opening_too_many_tool_calls_is_refused() {
    for (format, provider) in [
        (WireFormat::OpenAiChat, Provider::OpenAi),
        (WireFormat::AnthropicMessages, Provider::Anthropic),
        (WireFormat::Gemini, Provider::Gemini),
        (WireFormat::OllamaNdjson, Provider::Ollama),
    ] {
        for spread in [1, 1_000_003] {
            let body = many_tool_calls(format, 3 * MAX_TOOL_CALLS as u64, spread);
            let (state, items) = decode(format, provider, body.as_bytes());
            let err = items.last().unwrap().as_ref().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Protocol, "{format:?}: {err}");
            assert!(err.message().contains("tool calls"), "{err}");
            let deltas = items
                .iter()
                .filter(|i| matches!(i, Ok(StreamEvent::ToolCallDelta(_))))
                .count();
            assert_eq!(deltas, MAX_TOOL_CALLS, "{format:?}");
            assert_eq!(state.tool_calls().len(), MAX_TOOL_CALLS);
        }
        // Exactly the limit is fine.
        let body = many_tool_calls(format, MAX_TOOL_CALLS as u64, 1);
        let (_, items) = decode(format, provider, body.as_bytes());
        assert!(
            items.iter().all(|i| match i {
                Ok(_) => true,
                Err(e) => e.kind() == ErrorKind::StreamInterrupted,
            }),
            "{format:?}: {:?}",
            items.last()
        );
    }
}

#[test]
fn stream_state_keeps_a_bounded_number_of_tool_calls() {
    let mut state = StreamState::default();
    for i in 0..1_000_000u32 {
        state.apply(&StreamEvent::ToolCallDelta(ToolCallDelta {
            index: i.wrapping_mul(2_654_435_761),
            id: Some("c".into()),
            name: Some("f".into()),
            arguments: "{}".into(),
        }));
    }
    assert_eq!(state.tool_calls().len(), MAX_TOOL_CALLS);
    assert_eq!(state.error().unwrap().kind(), ErrorKind::Protocol);
    // Calls already kept still take their argument deltas.
    let first = state.tool_calls()[0].clone();
    assert_eq!(first.arguments, "{}");
}

/// `data: {json}` of exactly `len` bytes of JSON whose text is padding.
fn openai_event_of(len: usize) -> String {
    let head = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"";
    let tail = "\"}}]}";
    let pad = len - head.len() - tail.len();
    format!("data: {head}{}{tail}\n\n", "a".repeat(pad))
}

#[test]
fn sse_events_just_over_the_bound_are_refused_and_just_under_pass() {
    // The framer bounds one line plus the event's data: `data: ` and the payload must fit.
    let fits = DEFAULT_MAX_EVENT_BYTES - "data: ".len();
    for (format, provider) in [
        (WireFormat::OpenAiChat, Provider::OpenAi),
        (WireFormat::AnthropicMessages, Provider::Anthropic),
        (WireFormat::Gemini, Provider::Gemini),
    ] {
        for (len, ok) in [(fits, true), (fits + 1, false)] {
            let event = match format {
                WireFormat::OpenAiChat => openai_event_of(len),
                WireFormat::AnthropicMessages => {
                    let head = "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"";
                    let tail = "\"}}";
                    let pad = "a".repeat(len - head.len() - tail.len());
                    format!("event: content_block_delta\ndata: {head}{pad}{tail}\n\n")
                }
                _ => {
                    let head = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"";
                    let tail = "\"}]}}]}";
                    let pad = "a".repeat(len - head.len() - tail.len());
                    format!("data: {head}{pad}{tail}\n\n")
                }
            };
            let (state, items) = decode(format, provider, event.as_bytes());
            let err = items.last().unwrap().as_ref().unwrap_err();
            if ok {
                assert_eq!(
                    err.kind(),
                    ErrorKind::StreamInterrupted,
                    "{format:?}: {err}"
                );
                assert!(
                    state.text().len() > DEFAULT_MAX_EVENT_BYTES - 100,
                    "{format:?}"
                );
                assert!(state.text().bytes().all(|b| b == b'a'));
            } else {
                assert_eq!(err.kind(), ErrorKind::Protocol, "{format:?}: {err}");
                assert!(state.text().is_empty());
            }
        }
    }
}

#[test]
fn ndjson_lines_just_over_the_bound_are_refused_and_just_under_pass() {
    let head = "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"";
    let tail = "\"},\"done\":false}";
    for (len, ok) in [
        (DEFAULT_MAX_EVENT_BYTES, true),
        (DEFAULT_MAX_EVENT_BYTES + 1, false),
    ] {
        let line = format!(
            "{head}{}{tail}\n",
            "a".repeat(len - head.len() - tail.len())
        );
        let (state, items) = decode(WireFormat::OllamaNdjson, Provider::Ollama, line.as_bytes());
        let err = items.last().unwrap().as_ref().unwrap_err();
        if ok {
            assert_eq!(err.kind(), ErrorKind::StreamInterrupted, "{err}");
            assert!(state.text().len() > DEFAULT_MAX_EVENT_BYTES - 100);
        } else {
            assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
            assert!(state.text().is_empty());
        }
    }
}

#[test]
fn whole_bodies_just_over_the_bound_are_refused_and_just_under_pass() {
    let head = "{\"choices\":[{\"message\":{\"content\":\"";
    let tail = "\"},\"finish_reason\":\"stop\"}]}";
    for (len, ok) in [(MAX_RESPONSE_BYTES, true), (MAX_RESPONSE_BYTES + 1, false)] {
        let body = format!("{head}{}{tail}", "a".repeat(len - head.len() - tail.len()));
        assert_eq!(body.len(), len);
        for format in [
            WireFormat::OpenAiChat,
            WireFormat::AnthropicMessages,
            WireFormat::Gemini,
            WireFormat::OllamaNdjson,
        ] {
            let r = decode_response(format, Provider::OpenAi, body.as_bytes());
            if ok {
                assert!(r.is_ok(), "{format:?}: {r:?}");
            } else {
                let err = r.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Protocol, "{format:?}: {err}");
                assert!(err.message().contains("size limit"), "{err}");
            }
        }
        let r = decode_response(WireFormat::OpenAiChat, Provider::OpenAi, body.as_bytes());
        if ok {
            assert_eq!(r.unwrap().text.len(), len - head.len() - tail.len());
        }
    }
}
