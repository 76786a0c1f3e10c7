//! `cargo xtask conformance`: runs wire-format fixtures (`../shared/conformance/README.md`).
//!
//! Error expectations are checked against `steadfast_errors::classify`. Stream and response
//! expectations are reported as skipped — never as passed — until the streaming decoders
//! exist.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value};
use steadfast_errors::{Provider, ProviderError, Transport, classify};

/// The outcome of one fixture.
#[derive(Debug)]
pub(crate) enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// Results over one or more fixture directories.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
    /// (fixture path, fixture name, outcome), in path order.
    pub(crate) cases: Vec<(PathBuf, String, Outcome)>,
}

impl Summary {
    pub(crate) fn merge(&mut self, other: Summary) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.cases.extend(other.cases);
    }

    /// One line per failing and skipped case (and passing ones when `verbose`).
    pub(crate) fn lines(&self, verbose: bool) -> Vec<String> {
        self.cases
            .iter()
            .filter_map(|(path, name, outcome)| match outcome {
                Outcome::Failed(why) => Some(format!("FAIL {}: {name}: {why}", path.display())),
                Outcome::Skipped(why) => Some(format!("SKIP {}: {name}: {why}", path.display())),
                Outcome::Passed if verbose => Some(format!("ok   {}: {name}", path.display())),
                Outcome::Passed => None,
            })
            .collect()
    }

    /// `N passed, M failed` plus `, K skipped` when any were skipped.
    pub(crate) fn closing_line(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            line.push_str(&format!(", {} skipped", self.skipped));
        }
        line
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
            Outcome::Skipped(_) => summary.skipped += 1,
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
    if *kind != "error" {
        return Outcome::Skipped(format!("`{kind}` expectations need the streaming decoders"));
    }
    let want = match f.expect.get("error") {
        Some(Value::Object(o)) => o,
        _ => return Outcome::Failed("`expect.error` must be an object".into()),
    };
    let err = match actual_error(provider, &f.response) {
        Ok(Some(e)) => e,
        Ok(None) => {
            return Outcome::Skipped(
                "an error inside a streamed body needs the streaming decoders".into(),
            );
        }
        Err(why) => return Outcome::Failed(why),
    };
    match check_error(&err, want) {
        Ok(()) => Outcome::Passed,
        Err(why) => Outcome::Failed(format!("{why} (got: {err})")),
    }
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
    fn streams_are_skipped_not_passed() {
        let f: Fixture = serde_json::from_value(serde_json::json!({
            "name": "n", "provider": "openai",
            "response": {"status": 200, "headers": {"content-type": "text/event-stream"}, "body": "data: [DONE]\n\n"},
            "expect": {"stream": {"text": ""}}
        }))
        .unwrap();
        assert!(matches!(run(&f), Outcome::Skipped(_)));
        let s = Summary {
            skipped: 2,
            passed: 3,
            ..Summary::default()
        };
        assert_eq!(s.closing_line(), "3 passed, 0 failed, 2 skipped");
    }
}
