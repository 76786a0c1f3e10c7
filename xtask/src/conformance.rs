//! `cargo xtask conformance`: runs wire-format fixtures (`../shared/conformance/README.md`).
//!
//! Error expectations are checked against `steadfast_errors::classify`; stream expectations
//! against the provider's `steadfast_streaming` decoder, with every body delivered whole,
//! one byte at a time, in its declared `chunks`, and in several seeded pseudo-random splits
//! (all deliveries must agree); response expectations against `decode_response`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value};
use steadfast_errors::{Provider, ProviderError, Transport, classify};
use steadfast_providers_core::ToolCall;
use steadfast_streaming::{StreamState, WireFormat, decode_response};

/// The outcome of one fixture.
#[derive(Debug)]
pub(crate) enum Outcome {
    Passed,
    Failed(String),
}

/// Results over one or more fixture directories.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    /// (fixture path, fixture name, outcome), in path order.
    pub(crate) cases: Vec<(PathBuf, String, Outcome)>,
}

impl Summary {
    pub(crate) fn merge(&mut self, other: Summary) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.cases.extend(other.cases);
    }

    /// One line per failing case (and passing ones when `verbose`).
    pub(crate) fn lines(&self, verbose: bool) -> Vec<String> {
        self.cases
            .iter()
            .filter_map(|(path, name, outcome)| match outcome {
                Outcome::Failed(why) => Some(format!("FAIL {}: {name}: {why}", path.display())),
                Outcome::Passed if verbose => Some(format!("ok   {}: {name}", path.display())),
                Outcome::Passed => None,
            })
            .collect()
    }

    /// `N passed, M failed`.
    pub(crate) fn closing_line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

#[derive(Debug, Deserialize)]
struct Fixture {
    name: String,
    provider: String,
    response: Response,
    expect: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct Response {
    status: Option<u16>,
    #[serde(default)]
    transport: Option<String>,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    chunks: Option<Vec<String>>,
    /// Our extension: chunks as base64, for splits inside a multi-byte character (which
    /// JSON strings cannot express). Other runners ignore it, as the format allows.
    #[serde(default)]
    chunks_base64: Option<Vec<String>>,
}

/// Runs every `*.json` under `dir`, recursively, in path order.
pub(crate) fn run_dir(dir: &Path) -> Summary {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    let mut summary = Summary::default();
    for path in files {
        let (name, outcome) = run_file(&path);
        match outcome {
            Outcome::Passed => summary.passed += 1,
            Outcome::Failed(_) => summary.failed += 1,
        }
        summary.cases.push((path, name, outcome));
    }
    summary
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("json") {
            out.push(path);
        }
    }
}

/// Runs one fixture file; a fixture that cannot be read is a failure, never a panic.
pub(crate) fn run_file(path: &Path) -> (String, Outcome) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return ("?".into(), Outcome::Failed(format!("cannot read: {e}"))),
    };
    let fixture: Fixture = match serde_json::from_str(&text) {
        Ok(f) => f,
        Err(e) => return ("?".into(), Outcome::Failed(format!("not a fixture: {e}"))),
    };
    let name = fixture.name.clone();
    (name, run(&fixture))
}

fn run(f: &Fixture) -> Outcome {
    let provider: Provider = match f.provider.parse() {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let kinds: Vec<&str> = ["error", "response", "stream"]
        .into_iter()
        .filter(|k| f.expect.contains_key(*k))
        .collect();
    let [kind] = kinds.as_slice() else {
        return Outcome::Failed(format!(
            "`expect` must hold exactly one of error / response / stream, found {kinds:?}"
        ));
    };
    let Some(Value::Object(want)) = f.expect.get(*kind) else {
        return Outcome::Failed(format!("`expect.{kind}` must be an object"));
    };
    let result = match *kind {
        "stream" => run_stream(provider, &f.response, want),
        "response" => run_response(provider, &f.response, want),
        _ => run_error(provider, &f.response, want),
    };
    match result {
        Ok(()) => Outcome::Passed,
        Err(why) => Outcome::Failed(why),
    }
}

fn run_error(provider: Provider, r: &Response, want: &Map<String, Value>) -> Result<(), String> {
    let err = match actual_error(provider, r)? {
        Some(e) => e,
        None => {
            // An error inside a streamed 200 body: the stream decoder finds it.
            let summary = stream_summary(provider, r)?;
            match summary.error {
                Some(e) => e,
                None => {
                    return Err(format!(
                        "expected an error, the stream completed with text {:?}",
                        summary.text
                    ));
                }
            }
        }
    };
    check_error(&err, want).map_err(|why| format!("{why} (got: {err})"))
}

fn run_response(provider: Provider, r: &Response, want: &Map<String, Value>) -> Result<(), String> {
    let status = r.status.ok_or("a response fixture needs a status")?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "a response fixture needs a 2xx status, got {status}"
        ));
    }
    let body = body(r)?;
    let format = WireFormat::for_provider(provider);
    let resp =
        decode_response(format, provider, &body).map_err(|e| format!("decoding failed: {e}"))?;
    let mut problems = Vec::new();
    for (field, expected) in want {
        let problem = match field.as_str() {
            "text" => expect_eq(field, expected, &Value::String(resp.text.clone())),
            "finish_reason" => expect_eq(
                field,
                expected,
                &resp
                    .finish_reason
                    .map_or(Value::Null, |r| Value::String(r.as_str().into())),
            ),
            "usage" => check_usage(expected, resp.usage),
            "tool_calls" => check_tool_calls(expected, &resp.tool_calls),
            _ => None,
        };
        problems.extend(problem);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn run_stream(provider: Provider, r: &Response, want: &Map<String, Value>) -> Result<(), String> {
    let summary = stream_summary(provider, r)?;
    let mut problems = Vec::new();
    for (field, expected) in want {
        let problem = match field.as_str() {
            "text" => expect_eq(field, expected, &Value::String(summary.text.clone())),
            "finish_reason" => expect_eq(
                field,
                expected,
                &summary
                    .finish_reason
                    .clone()
                    .map_or(Value::Null, Value::String),
            ),
            "usage" => check_usage(expected, summary.usage),
            "tool_calls" => check_tool_calls(expected, &summary.tool_calls),
            "complete" => expect_eq(field, expected, &Value::Bool(summary.complete)),
            "error" => match (expected, &summary.error) {
                (Value::Object(w), Some(e)) => check_error(e, w)
                    .err()
                    .map(|why| format!("error: {why} (got: {e})")),
                (Value::Object(_), None) => Some("error: expected one, the stream had none".into()),
                (Value::Null, Some(e)) => Some(format!("error: expected none, got {e}")),
                _ => None,
            },
            _ => None,
        };
        problems.extend(problem);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// What one delivery of a streamed body produced.
#[derive(Debug, Clone)]
struct StreamSummary {
    text: String,
    finish_reason: Option<String>,
    usage: Option<steadfast_providers_core::Usage>,
    tool_calls: Vec<ToolCall>,
    complete: bool,
    error: Option<ProviderError>,
}

impl StreamSummary {
    /// Everything that must agree across deliveries.
    fn key(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{}|{:?}",
            self.text,
            self.finish_reason,
            self.usage,
            self.tool_calls,
            self.complete,
            self.error.as_ref().map(|e| (
                e.kind(),
                e.is_retryable(),
                e.retry_after(),
                e.code().map(str::to_owned),
                e.message().to_owned()
            )),
        )
    }
}

fn decode_pieces(provider: Provider, pieces: &[&[u8]]) -> StreamSummary {
    let mut decoder = WireFormat::for_provider(provider).decoder(provider);
    let mut items = Vec::new();
    for piece in pieces {
        decoder.feed(piece, &mut items);
    }
    decoder.finish(&mut items);
    let mut state = StreamState::default();
    let mut error = None;
    for item in items {
        match item {
            Ok(event) => state.apply(&event),
            Err(e) => {
                state.apply_error(&e);
                error = Some(e);
            }
        }
    }
    StreamSummary {
        text: state.text().to_owned(),
        finish_reason: state.finish_reason().map(|r| r.as_str().to_owned()),
        usage: state.usage(),
        tool_calls: state.tool_calls(),
        complete: state.is_complete(),
        error,
    }
}

/// Decodes the body in every delivery; they must all agree.
fn stream_summary(provider: Provider, r: &Response) -> Result<StreamSummary, String> {
    if let Some(status) = r.status
        && !(200..300).contains(&status)
    {
        return Err(format!("a streamed body needs a 2xx status, got {status}"));
    }
    let body = body(r)?;
    let mut deliveries: Vec<(String, Vec<&[u8]>)> = vec![
        ("whole".into(), vec![&body[..]]),
        ("byte by byte".into(), body.chunks(1).collect()),
    ];
    let declared: Vec<Vec<u8>> = r
        .chunks
        .iter()
        .flatten()
        .map(|c| c.clone().into_bytes())
        .collect();
    if r.chunks.is_some() {
        if declared.concat() != body {
            return Err("`chunks` do not join to the body".into());
        }
        deliveries.push((
            "declared chunks".into(),
            declared.iter().map(Vec::as_slice).collect(),
        ));
    }
    let declared_bytes: Vec<Vec<u8>> = r
        .chunks_base64
        .iter()
        .flatten()
        .map(|c| base64::engine::general_purpose::STANDARD.decode(c.trim()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("chunks_base64: {e}"))?;
    if r.chunks_base64.is_some() {
        if declared_bytes.concat() != body {
            return Err("`chunks_base64` do not join to the body".into());
        }
        deliveries.push((
            "declared byte chunks".into(),
            declared_bytes.iter().map(Vec::as_slice).collect(),
        ));
    }
    let mut seed = body.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    for n in 0..4 {
        let mut cuts = Vec::new();
        let mut at = 0;
        while at < body.len() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let step = 1 + (seed % (1 + 16 * (n + 1))) as usize;
            let end = (at + step).min(body.len());
            cuts.push(&body[at..end]);
            at = end;
        }
        deliveries.push((format!("random split {n}"), cuts));
    }
    let mut first: Option<(String, StreamSummary)> = None;
    for (name, pieces) in deliveries {
        let summary = decode_pieces(provider, &pieces);
        match &first {
            None => first = Some((name, summary)),
            Some((first_name, f)) if f.key() != summary.key() => {
                return Err(format!(
                    "deliveries disagree: {first_name} gave {:?}, {name} gave {:?}",
                    f.key(),
                    summary.key()
                ));
            }
            Some(_) => {}
        }
    }
    let (_, summary) = first.ok_or("no delivery")?;
    Ok(summary)
}

fn expect_eq(field: &str, expected: &Value, got: &Value) -> Option<String> {
    (expected != got).then(|| format!("{field}: expected {expected}, got {got}"))
}

fn check_usage(expected: &Value, got: Option<steadfast_providers_core::Usage>) -> Option<String> {
    let Value::Object(want) = expected else {
        return (expected.is_null() != got.is_none())
            .then(|| format!("usage: expected {expected}, got {got:?}"));
    };
    let Some(u) = got else {
        return Some(format!("usage: expected {expected}, got none"));
    };
    let fields = [
        ("input_tokens", u.input_tokens),
        ("output_tokens", u.output_tokens),
        ("cache_read_tokens", u.cache_read_tokens),
        ("cache_write_tokens", u.cache_write_tokens),
    ];
    let bad: Vec<String> = fields
        .iter()
        .filter_map(|(name, value)| {
            let w = want.get(*name)?;
            (w.as_u64() != Some(*value)).then(|| format!("{name} expected {w}, got {value}"))
        })
        .collect();
    (!bad.is_empty()).then(|| format!("usage: {}", bad.join(", ")))
}

fn check_tool_calls(expected: &Value, got: &[ToolCall]) -> Option<String> {
    let Value::Array(want) = expected else {
        return Some(format!(
            "tool_calls: expected a list, fixture has {expected}"
        ));
    };
    if want.len() != got.len() {
        return Some(format!(
            "tool_calls: expected {} calls, got {got:?}",
            want.len()
        ));
    }
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        if let Some(id) = w.get("id").and_then(Value::as_str)
            && id != g.id
        {
            return Some(format!("tool_calls[{i}].id: expected {id}, got {}", g.id));
        }
        if let Some(name) = w.get("name").and_then(Value::as_str)
            && name != g.name
        {
            return Some(format!(
                "tool_calls[{i}].name: expected {name}, got {}",
                g.name
            ));
        }
        if let Some(args) = w.get("arguments") {
            let want_args = match args {
                Value::String(s) => {
                    serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.clone()))
                }
                other => other.clone(),
            };
            let got_args = g
                .parsed_arguments()
                .unwrap_or_else(|_| Value::String(g.arguments.clone()));
            if want_args != got_args {
                return Some(format!(
                    "tool_calls[{i}].arguments: expected {want_args}, got {got_args}"
                ));
            }
        }
    }
    None
}

/// Classifies the fixture's response; `Ok(None)` for a streamed success body.
fn actual_error(provider: Provider, r: &Response) -> Result<Option<ProviderError>, String> {
    if let Some(t) = &r.transport {
        if r.status.is_some() {
            return Err("`transport` needs `status: null`".into());
        }
        let t: Transport = t.parse()?;
        return Ok(Some(classify::transport(provider, t)));
    }
    let status = r
        .status
        .ok_or("`status` is null but no `transport` is given")?;
    let headers = headers(&r.headers)?;
    let body = body(r)?;
    if (200..300).contains(&status) && is_stream(&headers, &body) {
        return Ok(None);
    }
    Ok(Some(classify::response(provider, status, &headers, &body)))
}

fn headers(map: &Map<String, Value>) -> Result<HeaderMap, String> {
    let mut h = HeaderMap::new();
    for (k, v) in map {
        let name = HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
            .map_err(|e| format!("header name `{k}`: {e}"))?;
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => return Err(format!("header `{k}` must be a string, got {other}")),
        };
        let value = HeaderValue::from_str(&text).map_err(|e| format!("header `{k}`: {e}"))?;
        h.append(name, value);
    }
    Ok(h)
}

fn body(r: &Response) -> Result<Vec<u8>, String> {
    match (&r.body, &r.body_base64) {
        (Some(_), Some(_)) => Err("give `body` or `body_base64`, not both".into()),
        (Some(b), None) => Ok(b.clone().into_bytes()),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("body_base64: {e}")),
        (None, None) => Ok(Vec::new()),
    }
}

fn is_stream(headers: &HeaderMap, body: &[u8]) -> bool {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let start = String::from_utf8_lossy(&body[..body.len().min(64)])
        .trim_start()
        .to_owned();
    ct.contains("event-stream")
        || ct.contains("ndjson")
        || start.starts_with("data:")
        || start.starts_with("event:")
        || start.starts_with(':')
}

fn check_error(err: &ProviderError, want: &Map<String, Value>) -> Result<(), String> {
    let mut problems = Vec::new();
    for (field, expected) in want {
        let ok = match field.as_str() {
            "kind" => expected.as_str() == Some(err.kind().as_str()),
            "retryable" => expected.as_bool() == Some(err.is_retryable()),
            "category5" => expected.as_str() == Some(err.category5().as_str()),
            "category7" => expected.as_str() == Some(err.category7().as_str()),
            "retry_after_ms" => match expected {
                Value::Null => err.retry_after().is_none(),
                v => v.as_u64().is_some_and(|ms| {
                    err.retry_after().map(|d| d.as_millis()) == Some(u128::from(ms))
                }),
            },
            "provider_code" => expected.as_str().is_some_and(|want| {
                [err.provider_code(), err.code(), err.error_type()]
                    .into_iter()
                    .flatten()
                    .any(|got| got == want)
            }),
            // Fields this runner does not know yet are ignored, as the format asks.
            _ => true,
        };
        if !ok {
            let actual = match field.as_str() {
                "kind" => err.kind().to_string(),
                "retryable" => err.is_retryable().to_string(),
                "category5" => err.category5().to_string(),
                "category7" => err.category7().to_string(),
                "retry_after_ms" => format!("{:?}", err.retry_after().map(|d| d.as_millis())),
                "provider_code" => format!("{:?}/{:?}", err.code(), err.error_type()),
                _ => String::new(),
            };
            problems.push(format!("{field}: expected {expected}, got {actual}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_fixtures_pass() {
        let summary = run_dir(&crate::workspace_root().join("tests/conformance"));
        let failures = summary.lines(false);
        assert_eq!(
            summary.failed,
            0,
            "failing fixtures:\n{}",
            failures.join("\n")
        );
        assert!(
            summary.passed >= 70,
            "only {} fixtures passed",
            summary.passed
        );
    }

    #[test]
    fn a_wrong_expectation_fails_and_says_why() {
        let f: Fixture = serde_json::from_value(serde_json::json!({
            "name": "n", "provider": "openai",
            "response": {"status": 429, "headers": {"retry-after": "3"},
                         "body": "{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"slow\"}}"},
            "expect": {"error": {"kind": "server", "retry_after_ms": 1000, "retryable": true}}
        }))
        .unwrap();
        let Outcome::Failed(why) = run(&f) else {
            panic!("a wrong expectation passed");
        };
        assert!(
            why.contains("kind: expected \"server\", got rate_limited"),
            "{why}"
        );
        assert!(
            why.contains("retry_after_ms: expected 1000, got Some(3000)"),
            "{why}"
        );
        assert!(!why.contains("retryable"), "{why}");
    }

    #[test]
    fn malformed_fixtures_fail_instead_of_panicking() {
        let bad = [
            serde_json::json!({"name": "n", "provider": "acme", "response": {"status": 500}, "expect": {"error": {}}}),
            serde_json::json!({"name": "n", "provider": "openai", "response": {"status": null}, "expect": {"error": {}}}),
            serde_json::json!({"name": "n", "provider": "openai", "response": {"status": null, "transport": "carrier_pigeon"}, "expect": {"error": {}}}),
            serde_json::json!({"name": "n", "provider": "openai", "response": {"status": 500, "headers": {"bad name": "x"}}, "expect": {"error": {}}}),
            serde_json::json!({"name": "n", "provider": "openai", "response": {"status": 500, "body_base64": "!!"}, "expect": {"error": {}}}),
            serde_json::json!({"name": "n", "provider": "openai", "response": {"status": 500}, "expect": {"error": {}, "stream": {}}}),
        ];
        for b in bad {
            let f: Fixture = serde_json::from_value(b.clone()).unwrap();
            assert!(matches!(run(&f), Outcome::Failed(_)), "{b}");
        }
    }

    #[test]
    fn stream_expectations_are_checked_in_every_delivery() {
        let good: Fixture = serde_json::from_value(serde_json::json!({
            "name": "n", "provider": "openai",
            "response": {"status": 200, "headers": {"content-type": "text/event-stream"},
                "body": "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"},
            "expect": {"stream": {"text": "hi", "complete": false, "error": {"kind": "stream_interrupted"}}}
        }))
        .unwrap();
        assert!(matches!(run(&good), Outcome::Passed), "{:?}", run(&good));
        let wrong: Fixture = serde_json::from_value(serde_json::json!({
            "name": "n", "provider": "openai",
            "response": {"status": 200, "headers": {"content-type": "text/event-stream"},
                "body": "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"},
            "expect": {"stream": {"text": "ho", "complete": false}}
        }))
        .unwrap();
        let Outcome::Failed(why) = run(&wrong) else {
            panic!("a wrong stream expectation passed")
        };
        assert!(
            why.contains("text: expected \"ho\"") && why.contains("complete: expected false"),
            "{why}"
        );
        let s = Summary {
            passed: 3,
            failed: 1,
            ..Summary::default()
        };
        assert_eq!(s.closing_line(), "3 passed, 1 failed");
    }
}
