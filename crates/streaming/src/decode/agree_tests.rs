//! Property tests: each typed decoder reading agrees with its `serde_json::Value` reading.
//!
//! Events are generated from each format's real shapes with every field independently
//! absent, `null`, well-typed, or of a wrong type. Whenever the typed reading takes an event
//! it must push exactly what the `Value` reading pushes and leave the same state behind.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use steadfast_errors::Provider;

use super::Item;
use super::anthropic::AnthropicMessages;
use super::gemini::GeminiStream;
use super::ollama::OllamaNdjson;

/// A leaf of any JSON type, including the strings the decoders switch on.
pub(crate) fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(|n| json!(n)),
        (0u64..100).prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e3f64..1e3).prop_map(|n| json!(n)),
        "[a-z _]{0,8}".prop_map(Value::String),
        "[\"\\\\é🙂\n]{0,4}".prop_map(Value::String),
        Just(json!({})),
        Just(json!([])),
        Just(json!({"a": 1, "b": [true]})),
        Just(json!([{"text": "x"}])),
    ]
}

/// A field: absent (`None`), or present with the good value, `null` or any leaf.
pub(crate) fn slot(good: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        2 => Just(None),
        4 => good.prop_map(Some),
        1 => Just(Some(Value::Null)),
        1 => leaf().prop_map(Some),
    ]
    .boxed()
}

pub(crate) fn object(fields: Vec<(&'static str, Option<Value>)>) -> Value {
    let mut m = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    }
    Value::Object(m)
}

pub(crate) fn text() -> impl Strategy<Value = Value> {
    prop_oneof!["[a-z ]{0,6}", "[é✓\"\\\\\n🙂]{1,3}"].prop_map(Value::String)
}

pub(crate) fn one_of(words: &'static [&'static str]) -> impl Strategy<Value = Value> {
    proptest::sample::select(words).prop_map(|w| Value::String(w.to_owned()))
}

pub(crate) fn count() -> impl Strategy<Value = Value> {
    (0u64..1000).prop_map(|n| json!(n))
}

fn anthropic_usage() -> BoxedStrategy<Value> {
    (slot(count()), slot(count()), slot(count()), slot(count()))
        .prop_map(|(i, o, r, w)| {
            object(vec![
                ("input_tokens", i),
                ("output_tokens", o),
                ("cache_read_input_tokens", r),
                ("cache_creation_input_tokens", w),
            ])
        })
        .boxed()
}

fn anthropic_event() -> impl Strategy<Value = Value> {
    let types = &[
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
        "future_event",
    ];
    let block_types = &["text", "tool_use", "server_tool_use", "thinking", "image"];
    let delta_types = &[
        "text_delta",
        "input_json_delta",
        "thinking_delta",
        "signature_delta",
        "citations_delta",
    ];
    let message =
        (slot(text()), slot(text()), slot(anthropic_usage())).prop_map(|(id, model, usage)| {
            object(vec![("id", id), ("model", model), ("usage", usage)])
        });
    let input = prop_oneof![Just(json!({})), Just(json!({"b": 1, "a": "x"}))];
    let block = (
        slot(one_of(block_types)),
        slot(text()),
        slot(text()),
        slot(text()),
        slot(text()),
        slot(input),
    )
        .prop_map(|(ty, t, id, name, th, input)| {
            object(vec![
                ("type", ty),
                ("text", t),
                ("id", id),
                ("name", name),
                ("thinking", th),
                ("input", input),
            ])
        });
    let delta = (
        slot(one_of(delta_types)),
        slot(text()),
        slot(text()),
        slot(text()),
        slot(text()),
        slot(one_of(&["end_turn", "max_tokens", "tool_use", "refusal"])),
    )
        .prop_map(|(ty, t, pj, th, sig, stop)| {
            object(vec![
                ("type", ty),
                ("text", t),
                ("partial_json", pj),
                ("thinking", th),
                ("signature", sig),
                ("stop_reason", stop),
            ])
        });
    (
        slot(one_of(types)),
        slot(message),
        slot(count()),
        slot(block),
        slot(delta),
        slot(anthropic_usage()),
    )
        .prop_map(|(ty, message, index, block, delta, usage)| {
            object(vec![
                ("type", ty),
                ("message", message),
                ("index", index),
                ("content_block", block),
                ("delta", delta),
                ("usage", usage),
            ])
        })
}

fn gemini_chunk() -> impl Strategy<Value = Value> {
    let call = (
        slot(text()),
        slot(text()),
        slot(prop_oneof![
            Just(json!({"z": 1, "a": [1, 2]})),
            Just(json!({}))
        ]),
    )
        .prop_map(|(id, name, args)| object(vec![("id", id), ("name", name), ("args", args)]));
    let part = (
        slot(text()),
        slot(any::<bool>().prop_map(Value::Bool)),
        slot(call),
    )
        .prop_map(|(t, th, fc)| object(vec![("text", t), ("thought", th), ("functionCall", fc)]));
    let parts = proptest::collection::vec(part, 0..3).prop_map(Value::Array);
    let content = slot(parts).prop_map(|p| object(vec![("parts", p)]));
    let candidate = (
        slot(content),
        slot(one_of(&["STOP", "MAX_TOKENS", "SAFETY", "OTHER"])),
    )
        .prop_map(|(c, f)| object(vec![("content", c), ("finishReason", f)]));
    let candidates = proptest::collection::vec(candidate, 0..3).prop_map(Value::Array);
    let usage = (slot(count()), slot(count()), slot(count()), slot(count())).prop_map(
        |(p, c, t, cached)| {
            object(vec![
                ("promptTokenCount", p),
                ("candidatesTokenCount", c),
                ("thoughtsTokenCount", t),
                ("cachedContentTokenCount", cached),
            ])
        },
    );
    let feedback =
        slot(one_of(&["SAFETY", "OTHER"])).prop_map(|b| object(vec![("blockReason", b)]));
    let error = prop_oneof![Just(
        json!({"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"})
    )];
    (
        slot(error),
        slot(candidates),
        slot(feedback),
        slot(text()),
        slot(text()),
        slot(usage),
    )
        .prop_map(|(e, c, f, id, model, u)| {
            object(vec![
                ("error", e),
                ("candidates", c),
                ("promptFeedback", f),
                ("responseId", id),
                ("modelVersion", model),
                ("usageMetadata", u),
            ])
        })
}

fn ollama_line() -> impl Strategy<Value = Value> {
    let tool_call = prop_oneof![
        Just(json!({"function": {"name": "f", "arguments": {"b": 1, "a": 2}}})),
        Just(json!({"id": "c1", "function": {"name": "g", "arguments": "{}"}})),
        Just(json!(5)),
    ];
    let calls = proptest::collection::vec(tool_call, 0..3).prop_map(Value::Array);
    let message = (slot(text()), slot(text()), slot(calls))
        .prop_map(|(th, c, tc)| object(vec![("thinking", th), ("content", c), ("tool_calls", tc)]));
    (
        slot(text()),
        slot(text()),
        slot(message),
        (slot(text()), slot(text())),
        slot(any::<bool>().prop_map(Value::Bool)),
        slot(one_of(&["stop", "length", "load"])),
        (slot(count()), slot(count())),
    )
        .prop_map(|(e, model, msg, (th, resp), done, reason, (p, ev))| {
            object(vec![
                ("error", e),
                ("model", model),
                ("message", msg),
                ("thinking", th),
                ("response", resp),
                ("done", done),
                ("done_reason", reason),
                ("prompt_eval_count", p),
                ("eval_count", ev),
            ])
        })
}

fn shown(items: &[Item]) -> String {
    format!("{items:?}")
}

/// Feeds the same events to a decoder through both readings and compares after each.
fn agree<D: std::fmt::Debug>(
    events: &[Value],
    mut fresh: D,
    typed: impl Fn(&mut D, &str, &mut Vec<Item>) -> Option<super::Flow>,
    value: impl Fn(&mut D, &str, &mut Vec<Item>) -> super::Flow,
    clone: impl Fn(&D) -> D,
) -> Result<(), TestCaseError> {
    for ev in events {
        let data = ev.to_string();
        let mut by_value = clone(&fresh);
        let mut from_value = Vec::new();
        let value_flow = value(&mut by_value, &data, &mut from_value);
        let mut from_typed = Vec::new();
        match typed(&mut fresh, &data, &mut from_typed) {
            Some(flow) => {
                prop_assert_eq!(flow, value_flow, "flow for {}", data);
                prop_assert_eq!(
                    shown(&from_typed),
                    shown(&from_value),
                    "events for {}",
                    data
                );
                prop_assert_eq!(
                    format!("{fresh:?}"),
                    format!("{by_value:?}"),
                    "state for {}",
                    data
                );
            }
            None => {
                prop_assert!(
                    from_typed.is_empty(),
                    "typed pushed before declining {}",
                    data
                );
                fresh = by_value;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn anthropic_typed_reading_agrees_with_value(
        events in proptest::collection::vec(anthropic_event(), 1..6),
        named in proptest::option::of(proptest::sample::select(&["message_stop", "error", "ping"][..])),
    ) {
        agree(
            &events,
            AnthropicMessages::default(),
            |d, data, out| d.typed(named, data, out),
            |d, data, out| d.value(Provider::Anthropic, named, data, out),
            AnthropicMessages::clone,
        )?;
    }

    #[test]
    fn gemini_typed_reading_agrees_with_value(
        events in proptest::collection::vec(gemini_chunk(), 1..5),
    ) {
        agree(
            &events,
            GeminiStream::new(1 << 20),
            |d, data, out| d.typed(data, out),
            |d, data, out| d.value(Provider::Gemini, data, out),
            GeminiStream::clone,
        )?;
    }

    #[test]
    fn ollama_typed_reading_agrees_with_value(
        events in proptest::collection::vec(ollama_line(), 1..5),
    ) {
        agree(
            &events,
            OllamaNdjson::default(),
            |d, data, out| d.typed(data, out),
            |d, data, out| d.value(Provider::Ollama, data, out),
            OllamaNdjson::clone,
        )?;
    }

    /// Arrays and scalars where an object belongs are never taken by the typed readings.
    #[test]
    fn non_objects_go_to_the_value_reading(v in leaf()) {
        let data = v.to_string();
        let mut out = Vec::new();
        if !v.is_object() {
            prop_assert!(AnthropicMessages::default().typed(Some("message_stop"), &data, &mut out).is_none());
            prop_assert!(GeminiStream::new(1 << 20).typed(&data, &mut out).is_none());
            prop_assert!(OllamaNdjson::default().typed(&data, &mut out).is_none());
        }
    }
}

#[test]
fn a_positional_array_is_not_read_as_a_struct() {
    // A derived struct would read `["message_stop"]` as `{"type":"message_stop"}`.
    let mut d = AnthropicMessages::default();
    let mut out = Vec::new();
    assert!(d.typed(None, r#"["message_stop"]"#, &mut out).is_none());
    let mut g = GeminiStream::new(1 << 20);
    assert!(
        g.typed(r#"{"candidates":[[{"parts":[{"text":"x"}]}]]}"#, &mut out)
            .is_none()
    );
    assert!(out.is_empty());
}
