//! The real openai-python and anthropic-sdk-python SDKs (from PyPI, in the venv
//! `.ci/python-venv` makes) and `curl -N` against the gateway over loopback, with two fault
//! servers as upstreams.
//!
//! The venv is `$STEADFAST_PY_VENV`, else `target/py-venv` at the workspace root. Without
//! it (or without an SDK in it) the SDK tests fail under `CI=true` and are skipped (with a
//! note on stderr) elsewhere.

#![allow(clippy::print_stderr)] // a skipped test says so

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Setup, keyed, start, start_limited};
use steadfast_providers_mock::{Fault, FaultServer};

const KEY: &str = "gw-sdk-test-key";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("STEADFAST_PY_VENV").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv"),
        PathBuf::from,
    );
    let python = venv.join("bin").join("python");
    python.exists().then_some(python)
}

/// One SDK's python script and the base URL it is given.
#[derive(Clone, Copy)]
enum Sdk {
    /// openai-python, `base_url` ending in `/v1`.
    OpenAi,
    /// anthropic-sdk-python, `base_url` without `/v1` (the SDK adds `/v1/messages`).
    Anthropic,
}

impl Sdk {
    fn script(self) -> PathBuf {
        let name = match self {
            Sdk::OpenAi => "test_sdk.py",
            Sdk::Anthropic => "test_anthropic_sdk.py",
        };
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/python")
            .join(name)
    }

    fn base_url(self, s: &Setup) -> String {
        match self {
            Sdk::OpenAi => s.url("/v1"),
            Sdk::Anthropic => s.url(""),
        }
    }

    fn module(self) -> &'static str {
        match self {
            Sdk::OpenAi => "openai",
            Sdk::Anthropic => "anthropic",
        }
    }

    /// The venv's python when it has this SDK; `None` (a skip) outside CI, a failure in CI.
    fn python(self) -> Option<PathBuf> {
        let Some(python) = venv_python() else {
            assert!(
                !in_ci(),
                "the python venv is missing: run `bash .ci/python-venv` (CI must)"
            );
            eprintln!("skipped: no python venv (run `bash .ci/python-venv`)");
            return None;
        };
        let has = Command::new(&python)
            .args(["-c", &format!("import {}", self.module())])
            .output()
            .is_ok_and(|o| o.status.success());
        if !has {
            assert!(
                !in_ci(),
                "the python venv has no `{}`: run `bash .ci/python-venv` (CI must)",
                self.module()
            );
            eprintln!(
                "skipped: no `{}` in the python venv (run `bash .ci/python-venv`)",
                self.module()
            );
            return None;
        }
        Some(python)
    }
}

/// Runs one case of `sdk`'s python script against `s`, and fails the test with its
/// output when the case fails.
async fn run(sdk: Sdk, python: &PathBuf, s: &Setup, name: &str) {
    let mut cmd = Command::new(python);
    cmd.arg(sdk.script())
        .arg(name)
        .arg(sdk.base_url(s))
        .arg(KEY)
        .arg(s.primary.answer())
        .arg(FaultServer::tool_call(s.primary.config().answer_tokens).1)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_AUTH_TOKEN")
        .env_remove("ANTHROPIC_BASE_URL");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("cannot run python");
    assert!(
        out.status.success(),
        "python case `{name}` failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn case(python: &PathBuf, s: &Setup, name: &str) {
    run(Sdk::OpenAi, python, s, name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_python_sdk_sees_one_whole_answer_or_the_right_exception() {
    let Some(python) = Sdk::OpenAi.python() else {
        return;
    };
    let s = start("", keyed(&[KEY])).await;
    for name in [
        "whole",
        "stream",
        "tools",
        "models",
        "wrong_key",
        "unknown_model",
    ] {
        case(&python, &s, name).await;
    }

    // The primary fails before the first token: the secondary answers.
    s.primary.push_all([Fault::status(503), Fault::status(503)]);
    case(&python, &s, "fail_before").await;
    assert_eq!(s.primary.queued(), 0);

    // The primary is cut after five tokens: the SDK still sees the whole answer, once.
    s.primary.push(Fault::CutAfter { chunks: 5 });
    let continued = s.secondary.continuation_count() + s.primary.continuation_count();
    case(&python, &s, "fail_after").await;
    assert!(s.secondary.continuation_count() + s.primary.continuation_count() > continued);

    // Cut, and nobody can finish it: an APIError during iteration, not a clean end.
    s.primary.set_default_fault(Fault::CutAfter { chunks: 3 });
    s.secondary.set_default_fault(Fault::status(503));
    case(&python, &s, "stream_error").await;

    // Every provider down: APIStatusError 503 listing the attempts.
    s.primary.set_default_fault(Fault::status(503));
    case(&python, &s, "all_down").await;

    // A local limit (one request a minute on each deployment): RateLimitError 429.
    let limited = start_limited(keyed(&[KEY])).await;
    case(&python, &limited, "rate_limited").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_anthropic_python_sdk_sees_one_whole_answer_or_the_right_exception() {
    let Some(python) = Sdk::Anthropic.python() else {
        return;
    };
    let s = start("", keyed(&[KEY])).await;
    let case = |name| run(Sdk::Anthropic, &python, &s, name);
    // The cases without faults, in one python process.
    case("whole,stream,raw_events,tools,x_api_key,wrong_key,unknown_model,no_max_tokens").await;

    // The primary fails before the first token: the secondary answers.
    s.primary.push_all([Fault::status(503), Fault::status(503)]);
    case("fail_before").await;
    assert_eq!(s.primary.queued(), 0);

    // The primary is cut after five tokens: the SDK still sees the whole answer, once.
    s.primary.push(Fault::CutAfter { chunks: 5 });
    let continued = s.secondary.continuation_count() + s.primary.continuation_count();
    case("fail_after").await;
    assert!(s.secondary.continuation_count() + s.primary.continuation_count() > continued);

    // Cut, and nobody can finish it: an error event the SDK raises on, not a clean end.
    s.primary.set_default_fault(Fault::CutAfter { chunks: 3 });
    s.secondary.set_default_fault(Fault::status(503));
    case("stream_error").await;

    // Every provider down: InternalServerError 503 listing the attempts.
    s.primary.set_default_fault(Fault::status(503));
    case("all_down").await;

    // A local limit (one request a minute on each deployment): RateLimitError 429.
    let limited = start_limited(keyed(&[KEY])).await;
    run(Sdk::Anthropic, &python, &limited, "rate_limited").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sees_raw_sse_bytes_ending_in_done() {
    let s = start("", keyed(&[KEY])).await;
    let url = s.url("/v1/chat/completions");
    let auth = format!("Authorization: Bearer {KEY}");
    let body = r#"{"model":"chat","stream":true,"messages":[{"role":"user","content":"count"}]}"#;
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-N", "-s", "-S", "--max-time", "60", "-H", &auth])
            .args(["-H", "Content-Type: application/json", "-d", body, &url])
            .output()
    })
    .await
    .unwrap();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            assert!(!in_ci(), "curl is missing: {e}");
            eprintln!("skipped: no curl ({e})");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = String::from_utf8(out.stdout).unwrap();
    assert!(raw.starts_with("data: {"), "{raw}");
    assert!(raw.ends_with("data: [DONE]\n\n"), "{raw}");
    assert!(raw.contains("\"object\":\"chat.completion.chunk\""));
    assert_eq!(common::streamed_text(&raw), s.primary.answer());
}
