//! Shared helpers for the integration tests: conformance fixtures as wiremock responses,
//! providers pointed at a mock server, and stream draining.
#![allow(dead_code)]

use std::path::PathBuf;

use futures_util::StreamExt;
use serde_json::Value;
use steadfast_errors::ProviderError;
use steadfast_providers_core::{ApiKey, ChatStream, StreamEvent};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use steadfast_streaming::StreamState;
use wiremock::ResponseTemplate;

/// A recorded response from `tests/conformance/` at the workspace root.
#[derive(Debug, Clone)]
pub(crate) struct Fixture {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    pub(crate) expect: Value,
}

/// Loads `tests/conformance/<rel>`.
pub(crate) fn fixture(rel: &str) -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance")
        .join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    let r = &v["response"];
    Fixture {
        status: r["status"].as_u64().unwrap() as u16,
        headers: r["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        body: r["body"].as_str().unwrap().to_owned(),
        expect: v["expect"].clone(),
    }
}

impl Fixture {
    /// The response as wiremock serves it, headers and all.
    pub(crate) fn template(&self) -> ResponseTemplate {
        respond(self.status, &self.headers, &self.body)
    }

    /// The body cut to its first `len` bytes.
    pub(crate) fn cut(&self, len: usize) -> Fixture {
        Fixture {
            body: self.body[..len].to_owned(),
            ..self.clone()
        }
    }
}

/// A response with `status`, `headers` and `body`.
pub(crate) fn respond(status: u16, headers: &[(String, String)], body: &str) -> ResponseTemplate {
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("application/json");
    let mut t = ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), content_type);
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("content-type") {
            t = t.insert_header(k.as_str(), v.as_str());
        }
    }
    t
}

/// An SSE response of `body`.
pub(crate) fn sse(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/event-stream")
}

/// The test key every provider is given unless a test says otherwise.
pub(crate) const KEY: &str = "sk-proj-TESTKEY-4f1d2c";

/// `config` pointed at `base_url`, with [`KEY`].
pub(crate) fn provider(config: OpenAiConfig, base_url: String) -> OpenAiProvider {
    OpenAiProvider::new(OpenAiConfig {
        base_url,
        api_key: Some(ApiKey::new(KEY)),
        ..config
    })
}

/// Every item of `stream`, and the state they build.
pub(crate) async fn drain(
    mut stream: ChatStream,
) -> (StreamState, Vec<Result<StreamEvent, ProviderError>>) {
    let mut state = StreamState::default();
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        match &item {
            Ok(event) => state.apply(event),
            Err(err) => state.apply_error(err),
        }
        items.push(item);
    }
    (state, items)
}

/// The expected kind of an error fixture, as the name `ErrorKind` displays.
pub(crate) fn expected_kind(f: &Fixture) -> String {
    f.expect["error"]["kind"].as_str().unwrap().to_owned()
}

/// The expected retry hint of an error fixture, in milliseconds.
pub(crate) fn expected_retry_ms(f: &Fixture) -> Option<u64> {
    f.expect["error"]["retry_after_ms"].as_u64()
}
