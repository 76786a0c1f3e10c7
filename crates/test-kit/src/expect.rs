//! Checks a provider's error, answer or stream against a fixture's `expect` object.
//!
//! Each check compares only the fields the `expect` object names, and every assertion
//! message starts with the fixture's name.

use serde_json::Value;
use steadfast_errors::ProviderError;
use steadfast_providers_core::{ChatResponse, ToolCall, Usage};
use steadfast_streaming::StreamState;

/// Checks `err` against an `expect.error` object (`kind`, and `retryable`, `provider_code`,
/// `retry_after_ms` where given), and that it is labelled with the instance `id` and `model`.
#[track_caller]
pub fn check_error(name: &str, expect: &Value, err: &ProviderError, id: &str, model: &str) {
    assert_eq!(
        err.kind().as_str(),
        expect["kind"].as_str().unwrap(),
        "{name}: {err}"
    );
    if let Some(r) = expect.get("retryable").and_then(Value::as_bool) {
        assert_eq!(err.is_retryable(), r, "{name}: retryable");
    }
    if let Some(code) = expect.get("provider_code").and_then(Value::as_str) {
        // As the conformance runner: the code, the type or the most specific of them.
        let ids = [err.provider_code(), err.code(), err.error_type()];
        assert!(
            ids.contains(&Some(code)),
            "{name}: provider code {code} not in {ids:?}"
        );
    }
    match expect.get("retry_after_ms") {
        Some(Value::Number(ms)) => assert_eq!(
            err.retry_after().map(|d| d.as_millis() as u64),
            ms.as_u64(),
            "{name}: retry after"
        ),
        Some(Value::Null) => assert_eq!(err.retry_after(), None, "{name}: retry after"),
        _ => {}
    }
    assert_eq!(err.provider(), id, "{name}: instance id");
    assert_eq!(err.model(), Some(model), "{name}: model");
}

/// Checks usage against an `expect.*.usage` object (the fields it names).
#[track_caller]
pub fn check_usage(name: &str, expect: &Value, usage: Option<Usage>) {
    let Some(want) = expect.get("usage") else {
        return;
    };
    let got = usage.unwrap_or_else(|| panic!("{name}: no usage"));
    let field = |k: &str| want.get(k).and_then(Value::as_u64);
    for (k, v) in [
        ("input_tokens", got.input_tokens),
        ("output_tokens", got.output_tokens),
        ("cache_read_tokens", got.cache_read_tokens),
        ("cache_write_tokens", got.cache_write_tokens),
        ("reasoning_tokens", got.reasoning_tokens),
    ] {
        if let Some(w) = field(k) {
            assert_eq!(v, w, "{name}: usage.{k}");
        }
    }
}

/// Checks tool calls against `expect.*.tool_calls` (arguments compared as JSON values).
#[track_caller]
pub fn check_tool_calls(name: &str, expect: &Value, calls: &[ToolCall]) {
    let Some(want) = expect.get("tool_calls").and_then(Value::as_array) else {
        return;
    };
    assert_eq!(calls.len(), want.len(), "{name}: tool call count");
    for (got, want) in calls.iter().zip(want) {
        assert_eq!(got.id, want["id"].as_str().unwrap(), "{name}: tool id");
        assert_eq!(
            got.name,
            want["name"].as_str().unwrap(),
            "{name}: tool name"
        );
        let want_args: Value = serde_json::from_str(want["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(
            got.parsed_arguments().unwrap(),
            want_args,
            "{name}: tool arguments"
        );
    }
}

/// Checks a whole answer against an `expect.response` object: its text, and its finish
/// reason, usage and tool calls where given.
#[track_caller]
pub fn check_answer(name: &str, want: &Value, answer: &ChatResponse) {
    assert_eq!(answer.text, want["text"].as_str().unwrap(), "{name}");
    if let Some(r) = want.get("finish_reason").and_then(Value::as_str) {
        assert_eq!(answer.finish_reason.unwrap().as_str(), r, "{name}");
    }
    check_usage(name, want, answer.usage);
    check_tool_calls(name, want, &answer.tool_calls);
}

/// Checks a drained stream against an `expect.stream` object: its text and whether it
/// completed, its finish reason, usage and tool calls where given, and its error — the one
/// named (labelled with `id` and `model`), or none.
#[track_caller]
pub fn check_stream(name: &str, want: &Value, state: &StreamState, id: &str, model: &str) {
    assert_eq!(state.text(), want["text"].as_str().unwrap(), "{name}");
    assert_eq!(
        state.is_complete(),
        want["complete"].as_bool().unwrap(),
        "{name}"
    );
    if let Some(r) = want.get("finish_reason").and_then(Value::as_str) {
        assert_eq!(state.finish_reason().unwrap().as_str(), r, "{name}");
    }
    check_usage(name, want, state.usage());
    check_tool_calls(name, want, &state.tool_calls());
    match want.get("error") {
        Some(e) => check_error(name, e, state.error().unwrap(), id, model),
        None => assert!(state.error().is_none(), "{name}: {:?}", state.error()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use steadfast_errors::ErrorKind;

    use super::*;

    fn limited() -> ProviderError {
        ProviderError::new(ErrorKind::RateLimited, "eu", "slow down")
            .with_model("m")
            .with_code("rate_limit_exceeded")
            .with_retry_after(Duration::from_millis(1500))
    }

    #[test]
    fn an_error_matching_every_named_field_passes() {
        let want = json!({"kind": "rate_limited", "retryable": true,
            "provider_code": "rate_limit_exceeded", "retry_after_ms": 1500});
        check_error("f", &want, &limited(), "eu", "m");
        check_error("f", &json!({"kind": "rate_limited"}), &limited(), "eu", "m");
    }

    #[test]
    #[should_panic(expected = "f: retry after")]
    fn a_different_retry_hint_fails() {
        let want = json!({"kind": "rate_limited", "retry_after_ms": null});
        check_error("f", &want, &limited(), "eu", "m");
    }

    #[test]
    #[should_panic(expected = "f: instance id")]
    fn an_unlabelled_error_fails() {
        check_error("f", &json!({"kind": "rate_limited"}), &limited(), "us", "m");
    }

    #[test]
    #[should_panic(expected = "f: provider code quota")]
    fn a_missing_provider_code_fails() {
        let want = json!({"kind": "rate_limited", "provider_code": "quota"});
        check_error("f", &want, &limited(), "eu", "m");
    }

    #[test]
    fn usage_checks_only_the_named_fields() {
        let usage = Usage {
            input_tokens: 3,
            output_tokens: 4,
            ..Usage::default()
        };
        check_usage("f", &json!({"usage": {"input_tokens": 3}}), Some(usage));
        check_usage("f", &json!({}), None);
    }

    #[test]
    #[should_panic(expected = "f: usage.output_tokens")]
    fn a_different_usage_field_fails() {
        check_usage(
            "f",
            &json!({"usage": {"output_tokens": 5}}),
            Some(Usage::default()),
        );
    }

    #[test]
    fn tool_arguments_compare_as_json() {
        let call = ToolCall {
            id: "c1".into(),
            name: "weather".into(),
            arguments: r#"{"b": 2, "a": 1}"#.into(),
        };
        let want = json!({"tool_calls": [{"id": "c1", "name": "weather", "arguments": "{\"a\":1,\"b\":2}"}]});
        check_tool_calls("f", &want, &[call]);
    }

    #[test]
    #[should_panic(expected = "f: tool call count")]
    fn a_missing_tool_call_fails() {
        let want = json!({"tool_calls": [{"id": "c1", "name": "weather", "arguments": "{}"}]});
        check_tool_calls("f", &want, &[]);
    }
}
