//! Helpers shared by the integration tests: the repository's wire fixtures as mock responses.

#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use wiremock::ResponseTemplate;

/// One recorded (or documented) response from `tests/conformance`.
#[derive(Debug, Clone)]
pub(crate) struct Fixture {
    pub(crate) name: String,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    pub(crate) expect: Value,
}

/// Loads `tests/conformance/<rel>` from the workspace root.
pub(crate) fn fixture(rel: &str) -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance")
        .join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    let response = &v["response"];
    Fixture {
        name: v["name"].as_str().unwrap_or(rel).to_owned(),
        status: response["status"].as_u64().unwrap() as u16,
        headers: response["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        body: response["body"].as_str().unwrap_or_default().to_owned(),
        expect: v["expect"].clone(),
    }
}

/// All fixtures of one directory, sorted by file name.
pub(crate) fn fixtures(dir: &str) -> Vec<Fixture> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance")
        .join(dir);
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| fixture(&format!("{dir}/{n}")))
        .collect()
}

/// The fixture as a wiremock response: status, headers and the body bytes as recorded.
pub(crate) fn respond(f: &Fixture) -> ResponseTemplate {
    let content_type = f
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "application/json".to_owned());
    let mut t =
        ResponseTemplate::new(f.status).set_body_raw(f.body.clone().into_bytes(), &content_type);
    for (k, v) in &f.headers {
        if !k.eq_ignore_ascii_case("content-type") {
            t = t.insert_header(k.as_str(), v.as_str());
        }
    }
    t
}

/// A server-sent event stream of `events` (each `(event, data)`), as Anthropic frames it.
pub(crate) fn sse(events: &[(&str, &str)]) -> ResponseTemplate {
    let body: String = events
        .iter()
        .map(|(e, d)| format!("event: {e}\ndata: {d}\n\n"))
        .collect();
    ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "text/event-stream")
}

/// Checks an error against a fixture's `expect.error`, and that it is labelled.
pub(crate) fn check_error(
    name: &str,
    expect: &Value,
    err: &steadfast_errors::ProviderError,
    id: &str,
    model: &str,
) {
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
pub(crate) fn check_usage(
    name: &str,
    expect: &Value,
    usage: Option<steadfast_providers_core::Usage>,
) {
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
pub(crate) fn check_tool_calls(
    name: &str,
    expect: &Value,
    calls: &[steadfast_providers_core::ToolCall],
) {
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
