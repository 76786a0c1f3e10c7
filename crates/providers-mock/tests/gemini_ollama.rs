//! The fault server's Gemini and Ollama dialects, read by the shared decoders exactly as the
//! provider crates read them: whole answers with usage, continuations, and each body fault
//! giving the error a real Gemini or Ollama failure gives.

use futures_util::StreamExt;
use serde_json::{Value, json};
use steadfast_errors::{ErrorKind, Provider};
use steadfast_providers_core::http::{Caller, default_client};
use steadfast_providers_mock::{Fault, FaultServer, ServerConfig};
use steadfast_streaming::{DecodedStream, StreamState, WireFormat, decode_response};

#[derive(Clone, Copy)]
enum Kind {
    Gemini,
    Ollama,
}

impl Kind {
    fn provider(self) -> Provider {
        match self {
            Kind::Gemini => Provider::Gemini,
            Kind::Ollama => Provider::Ollama,
        }
    }

    fn format(self) -> WireFormat {
        match self {
            Kind::Gemini => WireFormat::Gemini,
            Kind::Ollama => WireFormat::OllamaNdjson,
        }
    }

    fn path(self, stream: bool) -> &'static str {
        match (self, stream) {
            (Kind::Gemini, true) => "/v1beta/models/mock-model:streamGenerateContent?alt=sse",
            (Kind::Gemini, false) => "/v1beta/models/mock-model:generateContent",
            (Kind::Ollama, _) => "/api/chat",
        }
    }

    fn body(self, stream: bool, prefix: Option<&str>) -> Value {
        match self {
            Kind::Gemini => {
                let mut contents = vec![json!({"role": "user", "parts": [{"text": "Count"}]})];
                if let Some(p) = prefix {
                    contents.push(json!({"role": "model", "parts": [{"text": p}]}));
                }
                json!({"contents": contents})
            }
            Kind::Ollama => {
                let mut messages = vec![json!({"role": "user", "content": "Count"})];
                if let Some(p) = prefix {
                    messages.push(json!({"role": "assistant", "content": p}));
                }
                json!({"model": "mock-model", "messages": messages, "stream": stream})
            }
        }
    }
}

fn caller(kind: Kind) -> Caller<'static> {
    Caller {
        kind: kind.provider(),
        id: "mock-wire",
        model: "mock-model",
        key: None,
    }
}

async fn stream(server: &FaultServer, kind: Kind, prefix: Option<&str>) -> StreamState {
    let request = default_client()
        .post(server.url(kind.path(true)))
        .json(&kind.body(true, prefix));
    let caller = caller(kind);
    let response = caller.send(request).await.unwrap();
    let decoder = kind.format().decoder(kind.provider());
    let mut events = DecodedStream::new(caller.body_stream(response), decoder);
    let mut state = StreamState::default();
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => state.apply(&event),
            Err(err) => state.apply_error(&err),
        }
    }
    state
}

async fn server() -> FaultServer {
    FaultServer::with_config(ServerConfig {
        answer_tokens: 6,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn whole_answers_with_usage_streamed_and_not() {
    for kind in [Kind::Gemini, Kind::Ollama] {
        let server = server().await;
        let state = stream(&server, kind, None).await;
        assert!(state.is_complete(), "{:?}", state.error());
        assert_eq!(state.text(), "t0 t1 t2 t3 t4 t5");
        let usage = state.usage().unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (1, 6));

        let request = default_client()
            .post(server.url(kind.path(false)))
            .json(&kind.body(false, None));
        let response = caller(kind).send(request).await.unwrap();
        let bytes = response.bytes().await.unwrap();
        let answer = decode_response(kind.format(), kind.provider(), &bytes).unwrap();
        assert_eq!(answer.text, "t0 t1 t2 t3 t4 t5");
    }
}

#[tokio::test]
async fn a_prefix_in_a_model_or_assistant_turn_is_continued() {
    for kind in [Kind::Gemini, Kind::Ollama] {
        let server = server().await;
        let state = stream(&server, kind, Some("t0 t1 t2")).await;
        assert_eq!(state.text(), " t3 t4 t5");
        assert_eq!(server.continuation_count(), 1);
    }
}

#[tokio::test]
async fn body_faults_fail_as_the_real_servers_do() {
    let cases = [
        (
            Fault::CutAfter { chunks: 3 },
            "t0 t1 t2",
            ErrorKind::StreamInterrupted,
        ),
        (
            Fault::EndAfter { chunks: 2 },
            "t0 t1",
            ErrorKind::StreamInterrupted,
        ),
        (Fault::Malformed { after: 1 }, "t0", ErrorKind::Protocol),
    ];
    for kind in [Kind::Gemini, Kind::Ollama] {
        for (fault, text, error) in cases.clone() {
            let server = server().await;
            server.push(fault.clone());
            let state = stream(&server, kind, None).await;
            assert_eq!(state.text(), text, "{fault:?}");
            assert_eq!(state.error().map(|e| e.kind()), Some(error), "{fault:?}");
            assert_eq!(server.faults_fired_total(), 1);
        }
        let server = server().await;
        server.push(Fault::InBandError { after: 2 });
        let state = stream(&server, kind, None).await;
        assert_eq!(state.text(), "t0 t1");
        let expected = match kind {
            Kind::Gemini => ErrorKind::Overloaded,
            Kind::Ollama => ErrorKind::Server,
        };
        let err = state.error().unwrap();
        assert_eq!(err.kind(), expected);
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn error_statuses_carry_each_dialects_body() {
    let server = server().await;
    server.push_all([Fault::status(503), Fault::status(429)]);
    let request = default_client()
        .post(server.url(Kind::Gemini.path(false)))
        .json(&Kind::Gemini.body(false, None));
    let err = caller(Kind::Gemini).send(request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.provider_code(), Some("UNAVAILABLE"));
    let request = default_client()
        .post(server.url(Kind::Ollama.path(false)))
        .json(&Kind::Ollama.body(false, None));
    let err = caller(Kind::Ollama).send(request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
}
