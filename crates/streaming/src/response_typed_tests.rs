//! The typed readings of whole OpenAI and Anthropic bodies against the `Value` readings:
//! agreement on generated bodies, and the common shapes taken without falling back.

use proptest::prelude::*;
use serde_json::{Value, json};
use steadfast_errors::Provider;

use crate::decode::agree_tests::{count, leaf, object, one_of, slot, text};

/// The `Value` reading, as `decode_response` does it without the typed one.
fn by_value(v: &Value) -> Option<steadfast_providers_core::ChatResponse> {
    if steadfast_errors::classify::in_band_value(Provider::OpenAi, v).is_some() {
        return None;
    }
    Some(crate::response::openai(v))
}

/// The Anthropic `Value` reading, as `decode_response` does it without the typed one.
fn anthropic_by_value(v: &Value) -> Option<steadfast_providers_core::ChatResponse> {
    if steadfast_errors::classify::in_band_value(Provider::Anthropic, v).is_some() {
        return None;
    }
    Some(crate::response::anthropic(v))
}

fn anthropic_body() -> impl Strategy<Value = Value> {
    let input = prop_oneof![
        Just(json!({})),
        Just(json!({"b": 1, "a": "x"})),
        Just(Value::Null)
    ];
    let block = (
        slot(one_of(&[
            "text",
            "thinking",
            "tool_use",
            "redacted_thinking",
        ])),
        slot(text()),
        slot(text()),
        slot(text()),
        slot(text()),
        slot(input),
    )
        .prop_map(|(ty, t, th, id, name, input)| {
            object(vec![
                ("type", ty),
                ("text", t),
                ("thinking", th),
                ("id", id),
                ("name", name),
                ("input", input),
            ])
        });
    let usage =
        (slot(count()), slot(count()), slot(count()), slot(count())).prop_map(|(i, o, r, w)| {
            object(vec![
                ("input_tokens", i),
                ("output_tokens", o),
                ("cache_read_input_tokens", r),
                ("cache_creation_input_tokens", w),
            ])
        });
    let error = Just(json!({"type": "overloaded_error", "message": "Overloaded"}));
    (
        (
            slot(text()),
            slot(text()),
            slot(one_of(&["message", "error"])),
            slot(proptest::collection::vec(block, 0..4).prop_map(Value::Array)),
            slot(one_of(&["end_turn", "max_tokens", "tool_use", "refusal"])),
            slot(usage),
        ),
        (
            prop_oneof![8 => Just(None), 1 => slot(error)],
            prop_oneof![8 => Just(None), 1 => slot(Just(json!([{"error": {"code": 500}}])))],
            slot(leaf()),
        ),
    )
        .prop_map(
            |((id, model, ty, content, stop, usage), (error, choices, extra))| {
                object(vec![
                    ("id", id),
                    ("model", model),
                    ("type", ty),
                    ("role", Some(json!("assistant"))),
                    ("content", content),
                    ("stop_reason", stop),
                    ("usage", usage),
                    ("error", error),
                    ("choices", choices),
                    ("stop_sequence", extra),
                ])
            },
        )
}

fn usage() -> BoxedStrategy<Value> {
    let details = slot(count()).prop_map(|c| object(vec![("cached_tokens", c)]));
    let completion = slot(count()).prop_map(|r| object(vec![("reasoning_tokens", r)]));
    (
        slot(count()),
        slot(count()),
        slot(count()),
        slot(details),
        slot(completion),
        slot(count()),
    )
        .prop_map(|(p, c, t, pd, cd, hit)| {
            object(vec![
                ("prompt_tokens", p),
                ("completion_tokens", c),
                ("total_tokens", t),
                ("prompt_tokens_details", pd),
                ("completion_tokens_details", cd),
                ("prompt_cache_hit_tokens", hit),
            ])
        })
        .boxed()
}

fn message() -> BoxedStrategy<Value> {
    let part = (slot(text()), slot(one_of(&["text", "image_url"])))
        .prop_map(|(t, ty)| object(vec![("text", t), ("type", ty)]));
    let content = prop_oneof![
        3 => text(),
        1 => proptest::collection::vec(part, 0..3).prop_map(Value::Array),
    ];
    let arguments = prop_oneof![text(), Just(json!({"z": 1, "a": [1, 2]})), Just(json!({})),];
    let function = (slot(text()), slot(arguments))
        .prop_map(|(n, a)| object(vec![("name", n), ("arguments", a)]));
    let call = (slot(text()), slot(function), slot(one_of(&["function"])))
        .prop_map(|(id, f, ty)| object(vec![("id", id), ("function", f), ("type", ty)]));
    let calls = proptest::collection::vec(call, 0..3).prop_map(Value::Array);
    (
        slot(one_of(&["assistant"])),
        slot(content),
        slot(text()),
        slot(text()),
        slot(text()),
        slot(calls),
    )
        .prop_map(|(role, c, rc, r, refusal, calls)| {
            object(vec![
                ("role", role),
                ("content", c),
                ("reasoning_content", rc),
                ("reasoning", r),
                ("refusal", refusal),
                ("tool_calls", calls),
            ])
        })
        .boxed()
}

fn body() -> impl Strategy<Value = Value> {
    let error = prop_oneof![
        Just(json!({"code": 502, "message": "Provider returned error"})),
        Just(json!("upstream failed")),
    ];
    let choice = (
        slot(count()),
        slot(message()),
        slot(one_of(&[
            "stop",
            "length",
            "tool_calls",
            "content_filter",
            "error",
        ])),
        prop_oneof![6 => Just(None), 1 => slot(error.clone())],
    )
        .prop_map(|(i, m, f, e)| {
            object(vec![
                ("index", i),
                ("message", m),
                ("finish_reason", f),
                ("error", e),
            ])
        });
    let choices = proptest::collection::vec(choice, 0..3).prop_map(Value::Array);
    (
        (
            slot(text()),
            slot(text()),
            slot(one_of(&["chat.completion", "error"])),
            slot(choices),
            slot(usage()),
        ),
        (
            prop_oneof![8 => Just(None), 1 => slot(error)],
            prop_oneof![8 => Just(None), 1 => slot(one_of(&["FAILED", "ok"]))],
            prop_oneof![8 => Just(None), 1 => slot(Just(json!({"blockReason": "SAFETY"})))],
            slot(leaf()),
        ),
    )
        .prop_map(
            |((id, model, ty, choices, usage), (error, status, fb, extra))| {
                object(vec![
                    ("id", id),
                    ("model", model),
                    ("object", ty.clone()),
                    ("type", ty),
                    ("choices", choices),
                    ("usage", usage),
                    ("error", error),
                    ("status", status),
                    ("promptFeedback", fb),
                    ("system_fingerprint", extra),
                ])
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whenever the typed reading takes a body, it answers exactly as the `Value` reading,
    /// and it never takes a body the `Value` reading finds an in-band error in.
    #[test]
    fn the_typed_reading_agrees_with_the_value_reading(v in body()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Some(typed) = super::openai(&bytes) {
            prop_assert_eq!(Some(typed), by_value(&v));
        }
    }

    /// The same for the Anthropic reading.
    #[test]
    fn the_typed_anthropic_reading_agrees_with_the_value_reading(v in anthropic_body()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Some(typed) = super::anthropic(&bytes) {
            prop_assert_eq!(Some(typed), anthropic_by_value(&v));
        }
    }

    /// On any bytes, the typed reading never panics, and takes nothing that is not JSON.
    #[test]
    fn the_typed_reading_takes_only_json(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if super::openai(&bytes).is_some() || super::anthropic(&bytes).is_some() {
            prop_assert!(serde_json::from_slice::<Value>(&bytes).is_ok());
        }
    }
}

#[test]
fn common_shapes_are_taken_without_falling_back() {
    let bodies = [
        r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"one \"two\"","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":16,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}},"system_fingerprint":"fp"}"#,
        r#"{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}"#,
        r#"{"id":"c","model":"deepseek-reasoner","choices":[{"message":{"content":"x","reasoning_content":"think"},"finish_reason":"stop"}]}"#,
    ];
    for b in bodies {
        let v: Value = serde_json::from_str(b).unwrap();
        let typed = super::openai(b.as_bytes());
        assert!(typed.is_some(), "fell back on {b}");
        assert_eq!(typed, by_value(&v));
    }
    let calls = super::openai(bodies[1].as_bytes()).unwrap();
    assert_eq!(calls.tool_calls[0].arguments, r#"{"a":1}"#);
}

#[test]
fn in_band_errors_and_odd_shapes_go_to_the_value_reading() {
    let bodies: [&[u8]; 8] = [
        br#"{"error":{"message":"boom","code":500}}"#,
        br#"{"choices":[{"message":{"content":""},"error":{"code":502}}]}"#,
        br#"{"choices":[],"error":null}"#,
        br#"{"type":"error","error":{"type":"overloaded_error"}}"#,
        br#"{"id":1,"choices":[]}"#,
        br#"{"id":"a","id":"b"}"#,
        br#"[{"choices":[]}]"#,
        b"{\"id\":\"\xff\"}",
    ];
    for b in bodies {
        assert!(
            super::openai(b).is_none(),
            "took {}",
            String::from_utf8_lossy(b)
        );
    }
}

#[test]
fn common_anthropic_shapes_are_taken_without_falling_back() {
    let bodies = [
        r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"Hi!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":3,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"service_tier":"standard"}}"#,
        r#"{"id":"msg_2","type":"message","role":"assistant","model":"claude-x","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{"b":1,"a":"x"}}],"stop_reason":"tool_use","usage":{"input_tokens":9,"output_tokens":3}}"#,
    ];
    for b in bodies {
        let v: Value = serde_json::from_str(b).unwrap();
        let typed = super::anthropic(b.as_bytes());
        assert!(typed.is_some(), "fell back on {b}");
        assert_eq!(typed, anthropic_by_value(&v));
    }
    let error = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    assert!(super::anthropic(error).is_none());
}
