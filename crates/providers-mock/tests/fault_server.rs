//! `FaultServer` over real loopback sockets, read with reqwest exactly as a provider crate
//! reads a provider: `Caller::send` classifies statuses and transport failures, and the
//! shared decoders (`DecodedStream`, `decode_response`) read the bodies. Each fault must
//! produce the right classified error, with everything before it delivered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use steadfast_errors::{ErrorKind, Provider, ProviderError, Transport};
use steadfast_providers_core::http::{Caller, default_client};
use steadfast_providers_core::{FinishReason, StreamEvent};
use steadfast_providers_mock::{Fault, FaultServer, ServerConfig, TokenAudit, token_answer};
use steadfast_streaming::{
    DecodedStream, EventStream, ReopenFn, ResumableStream, ResumeConfig, StreamState, Timeouts,
    WireFormat, decode_response,
};
use steadfast_test_kit::drain;

const ID: &str = "mock-wire";
const MODEL: &str = "mock-model";

fn caller(kind: Provider) -> Caller<'static> {
    Caller {
        kind,
        id: ID,
        model: MODEL,
        key: None,
    }
}

fn path(kind: Provider) -> &'static str {
    match kind {
        Provider::Anthropic => "/v1/messages",
        _ => "/v1/chat/completions",
    }
}

/// A request body in `kind`'s format; `prefix` adds a final assistant message.
fn body(kind: Provider, stream: bool, prefix: Option<&str>) -> Value {
    let mut messages = vec![json!({"role": "user", "content": "Count, please"})];
    if let Some(p) = prefix {
        messages.push(json!({"role": "assistant", "content": p}));
    }
    let mut b = json!({"model": MODEL, "messages": messages, "stream": stream});
    match kind {
        Provider::Anthropic => b["max_tokens"] = json!(1024),
        _ if stream => b["stream_options"] = json!({"include_usage": true}),
        _ => {}
    }
    b
}

async fn server(answer_tokens: usize) -> FaultServer {
    FaultServer::with_config(ServerConfig {
        answer_tokens,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

/// Opens a streamed answer: the response, or the classified refusal.
async fn open(
    client: &reqwest::Client,
    server: &FaultServer,
    kind: Provider,
    body: &Value,
) -> Result<reqwest::Response, ProviderError> {
    caller(kind)
        .send(client.post(server.url(path(kind))).json(body))
        .await
}

/// Opens a streamed answer to the plain request in `kind`'s format.
async fn open_stream(
    client: &reqwest::Client,
    server: &FaultServer,
    kind: Provider,
) -> Result<reqwest::Response, ProviderError> {
    open(client, server, kind, &body(kind, true, None)).await
}

fn decoded(kind: Provider, response: reqwest::Response) -> EventStream {
    let caller = caller(kind);
    Box::pin(DecodedStream::new(
        caller.body_stream(response),
        WireFormat::for_provider(kind).decoder(kind),
    ))
}

async fn collect(events: EventStream) -> StreamState {
    drain(events).await.0
}

/// Streams one answer in `kind`'s format to the end.
async fn stream(
    client: &reqwest::Client,
    server: &FaultServer,
    kind: Provider,
    prefix: Option<&str>,
) -> StreamState {
    let response = open(client, server, kind, &body(kind, true, prefix))
        .await
        .unwrap();
    collect(decoded(kind, response)).await
}

const BOTH: [Provider; 2] = [Provider::OpenAi, Provider::Anthropic];

#[tokio::test]
async fn a_clean_stream_is_the_whole_answer_in_both_formats() {
    let server = server(12).await;
    let client = default_client();
    for kind in BOTH {
        let state = stream(&client, &server, kind, None).await;
        assert!(state.is_complete(), "{kind}: {:?}", state.error());
        assert_eq!(state.text(), token_answer(12));
        assert_eq!(state.finish_reason(), Some(FinishReason::Stop));
        let usage = state.usage().unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (2, 12));
        assert_eq!(state.model(), Some(MODEL));
    }
    let sent = server.requests();
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[1].json().unwrap()["max_tokens"], 1024);
}

#[tokio::test]
async fn non_streamed_answers_decode_with_the_shared_decoder() {
    let server = server(7).await;
    let client = default_client();
    for kind in BOTH {
        let response = open(&client, &server, kind, &body(kind, false, None))
            .await
            .unwrap();
        assert_eq!(response.headers()["content-type"], "application/json");
        let bytes = caller(kind).body(response).await.unwrap();
        let answer = decode_response(WireFormat::for_provider(kind), kind, &bytes).unwrap();
        assert_eq!(answer.text, "t0 t1 t2 t3 t4 t5 t6");
        assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
        assert_eq!(answer.usage.unwrap().output_tokens, 7);
    }
}

#[tokio::test]
async fn a_prefill_continues_the_deterministic_answer_exactly() {
    let server = server(10).await;
    let client = default_client();
    for kind in BOTH {
        for prefix in ["t0 t1 t2", "t0 t1 t", "t0"] {
            let state = stream(&client, &server, kind, Some(prefix)).await;
            assert!(state.is_complete());
            assert_eq!(format!("{prefix}{}", state.text()), token_answer(10));
        }
    }
    // A prefix the answer does not start with gets the whole answer.
    let state = stream(&client, &server, Provider::OpenAi, Some("something else")).await;
    assert_eq!(state.text(), token_answer(10));
}

#[tokio::test]
async fn anthropic_refuses_a_prefill_with_trailing_whitespace_or_when_prefill_is_off() {
    let client = default_client();
    let kind = Provider::Anthropic;
    let server = server(5).await;
    let e = open(&client, &server, kind, &body(kind, true, Some("t0 t1 ")))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.status()),
        (ErrorKind::InvalidRequest, Some(400))
    );
    assert!(e.message().contains("trailing whitespace"), "{e}");

    let strict = FaultServer::with_config(ServerConfig {
        anthropic_prefill: false,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let e = open(&client, &strict, kind, &body(kind, true, Some("t0")))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(
        e.message()
            .contains("does not support assistant message prefill")
    );
    // OpenAI-format requests continue a prefix regardless.
    assert!(
        open(
            &client,
            &strict,
            Provider::OpenAi,
            &body(Provider::OpenAi, true, Some("t0"))
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn max_tokens_shortens_the_answer_with_finish_reason_length() {
    let server = server(10).await;
    for kind in BOTH {
        let mut b = body(kind, true, None);
        b["max_tokens"] = json!(3);
        let response = open(&default_client(), &server, kind, &b).await.unwrap();
        let state = collect(decoded(kind, response)).await;
        assert_eq!(state.text(), "t0 t1 t2");
        assert_eq!(state.finish_reason(), Some(FinishReason::Length));
    }
}

#[tokio::test]
async fn tokens_per_chunk_groups_tokens_into_events() {
    let server = FaultServer::with_config(ServerConfig {
        answer_tokens: 9,
        tokens_per_chunk: 4,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let response = open_stream(&default_client(), &server, Provider::OpenAi)
        .await
        .unwrap();
    let mut events = decoded(Provider::OpenAi, response);
    let mut chunks = Vec::new();
    while let Some(item) = events.next().await {
        if let StreamEvent::TextDelta { text } = item.unwrap() {
            chunks.push(text);
        }
    }
    assert_eq!(chunks, ["t0 t1 t2 t3", " t4 t5 t6 t7", " t8"]);
}

#[tokio::test]
async fn rate_limited_429_carries_the_retry_after_hint() {
    let server = server(5).await;
    let client = default_client();
    for kind in BOTH {
        server.push(Fault::rate_limited(Duration::from_secs(2)));
        let e = open_stream(&client, &server, kind).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited, "{kind}: {e}");
        assert_eq!(e.status(), Some(429));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!((e.provider(), e.model()), (ID, Some(MODEL)));
        assert!(e.request_id().is_some_and(|id| id.starts_with("req_mock")));
    }
    server.push(Fault::rate_limited(Duration::from_millis(1500)));
    let e = open_stream(&client, &server, Provider::OpenAi)
        .await
        .unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
}

#[tokio::test]
async fn error_statuses_classify_by_dialect() {
    let server = server(5).await;
    let client = default_client();
    let cases = [
        (529, ErrorKind::Overloaded),
        (503, ErrorKind::Overloaded),
        (500, ErrorKind::Server),
        (401, ErrorKind::Auth),
        (404, ErrorKind::NotFound),
        (400, ErrorKind::InvalidRequest),
    ];
    for kind in BOTH {
        for (status, expected) in cases {
            server.push(Fault::status(status));
            let e = open_stream(&client, &server, kind).await.unwrap_err();
            assert_eq!(e.kind(), expected, "{kind} {status}: {e}");
            assert_eq!(e.status(), Some(status));
        }
    }
    // A body of one's own: OpenAI's quota trap is a 429 that must not be retried.
    server.push(Fault::Status {
        status: 429,
        body: Some(r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#.into()),
        headers: vec![],
    });
    let e = open_stream(&client, &server, Provider::OpenAi)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QuotaExhausted);
    assert!(!e.is_retryable());
    assert_eq!(
        server.connection_count(),
        1,
        "error responses keep the connection"
    );
}

#[tokio::test]
async fn a_reset_before_the_response_is_a_network_error() {
    let server = server(5).await;
    server.push(Fault::ResetBeforeResponse);
    let e = open_stream(&default_client(), &server, Provider::OpenAi)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert_eq!(e.transport(), Some(Transport::ConnectionReset));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn a_delay_before_the_headers_trips_the_request_timeout() {
    let server = server(3).await;
    let client = default_client();
    let kind = Provider::Anthropic;
    server.push(Fault::Delay(Duration::from_millis(300)));
    let request = client
        .post(server.url(path(kind)))
        .json(&body(kind, true, None))
        .timeout(Duration::from_millis(100));
    let e = caller(kind).send(request).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");

    // Without a timeout the answer simply comes late.
    server.push(Fault::Delay(Duration::from_millis(120)));
    let started = Instant::now();
    let state = stream(&client, &server, kind, None).await;
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_eq!(state.text(), "t0 t1 t2");
}

#[tokio::test]
async fn cut_after_n_chunks_delivers_them_then_an_interrupted_stream() {
    let server = server(10).await;
    let client = default_client();
    for kind in BOTH {
        server.push(Fault::CutAfter { chunks: 3 });
        let state = stream(&client, &server, kind, None).await;
        assert_eq!(state.text(), "t0 t1 t2", "{kind}");
        let e = state.error().unwrap();
        // The connection died after complete events: a cut stream, resumable.
        assert_eq!(e.kind(), ErrorKind::StreamInterrupted, "{kind}: {e}");
        assert!(e.first_byte_received());
        assert_eq!((e.provider(), e.model()), (ID, Some(MODEL)));
        assert!(!state.is_complete());
    }
    // Past the last chunk, the cut still comes before the terminator.
    server.push(Fault::CutAfter { chunks: 99 });
    let state = stream(&client, &server, Provider::OpenAi, None).await;
    assert_eq!(state.text(), token_answer(10));
    assert!(!state.is_complete());
    assert!(state.error().is_some());
}

#[tokio::test]
async fn end_after_n_chunks_without_a_terminator_is_stream_interrupted() {
    let server = server(10).await;
    let client = default_client();
    for kind in BOTH {
        server.push(Fault::EndAfter { chunks: 4 });
        let state = stream(&client, &server, kind, None).await;
        assert_eq!(state.text(), "t0 t1 t2 t3");
        assert_eq!(state.error().unwrap().kind(), ErrorKind::StreamInterrupted);
    }
    assert_eq!(
        server.connection_count(),
        1,
        "a cleanly ended body keeps the connection"
    );
}

#[tokio::test]
async fn a_malformed_chunk_is_a_protocol_error() {
    let server = server(10).await;
    let client = default_client();
    for kind in BOTH {
        server.push(Fault::Malformed { after: 2 });
        let state = stream(&client, &server, kind, None).await;
        assert_eq!(state.text(), "t0 t1");
        assert_eq!(state.error().unwrap().kind(), ErrorKind::Protocol, "{kind}");
    }
}

#[tokio::test]
async fn an_in_band_error_in_a_200_stream_is_overloaded() {
    let server = server(10).await;
    let client = default_client();
    for kind in [Provider::OpenAi, Provider::OpenRouter, Provider::Anthropic] {
        server.push(Fault::InBandError { after: 2 });
        let state = stream(&client, &server, kind, None).await;
        assert_eq!(state.text(), "t0 t1");
        let e = state.error().unwrap();
        assert_eq!(e.kind(), ErrorKind::Overloaded, "{kind}: {e}");
        assert!(e.is_retryable());
        assert!(e.first_byte_received());
    }
    let sent = server.requests();
    assert!(
        sent.iter()
            .all(|r| r.fault == Fault::InBandError { after: 2 })
    );
}

#[tokio::test]
async fn faults_in_a_non_streamed_answer() {
    let server = server(30).await;
    let client = default_client();
    for kind in BOTH {
        let format = WireFormat::for_provider(kind);
        // Cut mid-body: the content-length is never reached.
        server.push(Fault::CutAfter { chunks: 1 });
        let response = open(&client, &server, kind, &body(kind, false, None))
            .await
            .unwrap();
        let e = caller(kind).body(response).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Network, "{kind}: {e}");

        server.push(Fault::Malformed { after: 1 });
        let response = open(&client, &server, kind, &body(kind, false, None))
            .await
            .unwrap();
        let bytes = caller(kind).body(response).await.unwrap();
        let e = decode_response(format, kind, &bytes).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);

        server.push(Fault::InBandError { after: 0 });
        let response = open(&client, &server, kind, &body(kind, false, None))
            .await
            .unwrap();
        let bytes = caller(kind).body(response).await.unwrap();
        let e = decode_response(format, kind, &bytes).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Overloaded);
    }
}

#[tokio::test]
async fn a_stall_trips_the_idle_timeout_with_the_first_chunks_delivered() {
    let server = server(10).await;
    for kind in BOTH {
        server.push(Fault::Stall { after: 2 });
        let response = open_stream(&default_client(), &server, kind).await.unwrap();
        let timeouts = Timeouts {
            idle: Some(Duration::from_millis(150)),
            ..Timeouts::default()
        };
        let state = collect(Box::pin(timeouts.wrap(ID, decoded(kind, response)))).await;
        assert_eq!(state.text(), "t0 t1");
        let e = state.error().unwrap();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{kind}: {e}");
        assert!(e.message().contains("idle"));
    }
}

#[tokio::test]
async fn a_slow_drip_arrives_whole_but_can_trip_an_idle_timeout() {
    let server = server(4).await;
    let client = default_client();
    let kind = Provider::OpenAi;
    server.push(Fault::SlowDrip {
        per_chunk: Duration::from_millis(25),
    });
    let started = Instant::now();
    let state = stream(&client, &server, kind, None).await;
    assert!(state.is_complete());
    assert_eq!(state.text(), "t0 t1 t2 t3");
    // Four content chunks, the finish chunk, the usage chunk and [DONE].
    assert!(started.elapsed() >= Duration::from_millis(7 * 25));

    server.push(Fault::SlowDrip {
        per_chunk: Duration::from_millis(300),
    });
    let response = open_stream(&default_client(), &server, kind).await.unwrap();
    let timeouts = Timeouts {
        idle: Some(Duration::from_millis(100)),
        ..Timeouts::default()
    };
    let state = collect(Box::pin(timeouts.wrap(ID, decoded(kind, response)))).await;
    assert_eq!(state.error().unwrap().kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn keep_alive_connections_are_reused_until_a_fault_breaks_one() {
    let server = server(5).await;
    let client = default_client();
    let kind = Provider::OpenAi;
    // A streamed answer, a whole one and an error status share one connection.
    assert!(stream(&client, &server, kind, None).await.is_complete());
    let response = open(&client, &server, kind, &body(kind, false, None))
        .await
        .unwrap();
    caller(kind).body(response).await.unwrap();
    server.push(Fault::status(503));
    assert!(open_stream(&client, &server, kind).await.is_err());
    assert_eq!(server.connection_count(), 1);

    // A cut closes the connection; the next request opens a new one.
    server.push(Fault::CutAfter { chunks: 1 });
    assert!(stream(&client, &server, kind, None).await.error().is_some());
    assert!(stream(&client, &server, kind, None).await.is_complete());
    let connections: Vec<u64> = server.requests().iter().map(|r| r.connection).collect();
    assert_eq!(connections, [0, 0, 0, 0, 1]);
    assert_eq!(server.connection_count(), 2);
}

#[tokio::test]
async fn a_resumed_stream_over_the_wire_delivers_every_token_exactly_once() {
    let server = Arc::new(server(25).await);
    let client = default_client();
    for kind in BOTH {
        let before = server.request_count() as usize;
        server.push_all([
            Fault::CutAfter { chunks: 4 },
            Fault::InBandError { after: 5 },
            Fault::Stall { after: 3 },
            Fault::None,
        ]);
        let timeouts = Timeouts {
            idle: Some(Duration::from_millis(150)),
            ..Timeouts::default()
        };
        let open_at = {
            let server = server.clone();
            let client = client.clone();
            move |prefix: Option<String>| {
                let server = server.clone();
                let client = client.clone();
                async move {
                    let b = body(kind, true, prefix.as_deref());
                    let response = open(&client, &server, kind, &b).await?;
                    Ok::<EventStream, ProviderError>(Box::pin(
                        timeouts.wrap(ID, decoded(kind, response)),
                    ))
                }
            }
        };
        let first = open_at(None).await.unwrap();
        let reopen = {
            let open_at = open_at.clone();
            ReopenFn(move |delivered: StreamState, _attempt: u32| {
                open_at(Some(delivered.text().to_owned()))
            })
        };
        let mut config = ResumeConfig {
            overlap_window: 0,
            ..ResumeConfig::default()
        };
        config.backoff.initial = Duration::from_millis(1);
        config.backoff.max = Duration::from_millis(5);
        let mut resumed = ResumableStream::new(first, Arc::new(reopen), config);
        let mut text = String::new();
        while let Some(item) = resumed.next().await {
            if let StreamEvent::TextDelta { text: t } = item.unwrap() {
                text.push_str(&t);
            }
        }
        assert_eq!(text, server.answer(), "{kind}: every token exactly once");
        let audit = TokenAudit::of(&text, 25);
        assert!(
            audit.exact && audit.lost == 0 && audit.duplicated == 0,
            "{audit:?}"
        );
        assert_eq!(resumed.resumes(), 3);
        assert!(resumed.delivered().is_complete());
        // The continuations sent what was delivered as the assistant prefix.
        let prefixes: Vec<String> = server.requests()[before + 1..]
            .iter()
            .map(|r| {
                let body = r.json().unwrap();
                let last = body["messages"].as_array().unwrap().last().unwrap().clone();
                assert_eq!(last["role"], "assistant");
                last["content"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(
            prefixes,
            [
                "t0 t1 t2 t3",
                "t0 t1 t2 t3 t4 t5 t6 t7 t8",
                "t0 t1 t2 t3 t4 t5 t6 t7 t8 t9 t10 t11"
            ]
        );
    }
}

#[tokio::test]
async fn a_resume_that_forgets_the_prefix_restarts_and_the_repeat_is_dropped() {
    let server = Arc::new(server(10).await);
    let client = default_client();
    let kind = Provider::OpenAi;
    server.push(Fault::CutAfter { chunks: 4 });
    let first = decoded(kind, open_stream(&client, &server, kind).await.unwrap());
    let reopen = {
        let server = server.clone();
        ReopenFn(move |_delivered: StreamState, _attempt: u32| {
            let server = server.clone();
            let client = client.clone();
            async move {
                // Wrong on purpose: asks again from the start.
                let response = open_stream(&client, &server, kind).await?;
                Ok::<EventStream, ProviderError>(decoded(kind, response))
            }
        })
    };
    let mut config = ResumeConfig {
        overlap_window: 0,
        ..ResumeConfig::default()
    };
    config.backoff.initial = Duration::from_millis(1);
    let mut resumed = ResumableStream::new(first, Arc::new(reopen), config);
    while let Some(item) = resumed.next().await {
        item.unwrap();
    }
    // The continuation repeats "t0 t1 t2 t3" before going on: even with overlap_window 0
    // the restart is recognised and dropped, so every token arrives once.
    let audit = TokenAudit::of(resumed.delivered().text(), 10);
    assert!(audit.exact, "{audit:?}");
    assert_eq!(resumed.delivered().text(), token_answer(10));
    assert_eq!(
        resumed.outcomes(),
        [steadfast_streaming::ResumeOutcome::Echoed]
    );
}

#[tokio::test]
async fn a_script_closure_decides_per_request_after_the_queue() {
    let server = server(6).await;
    server.set_script(|req| {
        if req.index % 2 == 1 {
            Fault::CutAfter { chunks: 2 }
        } else {
            Fault::None
        }
    });
    server.push(Fault::status(500));
    let client = default_client();
    let kind = Provider::Anthropic;
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        match open_stream(&client, &server, kind).await {
            Err(e) => outcomes.push(e.kind().as_str().to_owned()),
            Ok(response) => {
                let state = collect(decoded(kind, response)).await;
                outcomes.push(match state.error() {
                    Some(e) => e.kind().as_str().to_owned(),
                    None => state.text().to_owned(),
                });
            }
        }
    }
    let full = token_answer(6);
    assert_eq!(
        outcomes,
        // A cut after complete events is an interrupted stream, not a bare network error.
        [
            "server",
            "stream_interrupted",
            full.as_str(),
            "stream_interrupted",
            full.as_str()
        ]
    );
    server.clear_script();
    server.set_default_fault(Fault::EndAfter { chunks: 1 });
    let state = stream(&client, &server, kind, None).await;
    assert_eq!(state.error().unwrap().kind(), ErrorKind::StreamInterrupted);
}

#[tokio::test]
async fn many_concurrent_streams_each_get_their_own_answer() {
    let server = Arc::new(server(30).await);
    server.set_script(|req| match req.index % 3 {
        0 => Fault::None,
        1 => Fault::CutAfter { chunks: 5 },
        _ => Fault::InBandError { after: 5 },
    });
    let client = default_client();
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let server = server.clone();
            let client = client.clone();
            tokio::spawn(async move {
                let kind = Provider::OpenAi;
                let response = open_stream(&client, &server, kind).await.unwrap();
                collect(decoded(kind, response)).await
            })
        })
        .collect();
    let mut complete = 0;
    for task in tasks {
        let state = task.await.unwrap();
        if state.is_complete() {
            complete += 1;
            assert_eq!(state.text(), token_answer(30));
        } else {
            assert_eq!(state.text(), "t0 t1 t2 t3 t4");
        }
    }
    assert_eq!(complete, 8);
    assert_eq!(server.request_count(), 24);
}

#[tokio::test]
async fn requests_are_recorded_with_headers_and_bodies_of_either_framing() {
    let server = server(3).await;
    let client = default_client();
    let b = body(Provider::Anthropic, false, None);
    client
        .post(server.url("/v1/messages?beta=true"))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .json(&b)
        .send()
        .await
        .unwrap();
    // A streamed request body arrives chunked.
    let bytes = serde_json::to_vec(&body(Provider::OpenAi, false, None)).unwrap();
    let (head, tail) = bytes.split_at(10);
    let parts = vec![Ok::<_, std::io::Error>(head.to_vec()), Ok(tail.to_vec())];
    let response = client
        .post(server.url("/chat/completions"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            parts,
        )))
        .send()
        .await
        .unwrap();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "t0 t1 t2");

    let sent = server.requests();
    assert_eq!(sent[0].path, "/v1/messages?beta=true");
    assert_eq!(sent[0].header("X-Api-Key"), Some("sk-ant-test"));
    assert_eq!(sent[0].json(), Some(b));
    assert_eq!(sent[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(sent[1].body, bytes);
    assert_eq!(sent[1].method, "POST");
}

#[tokio::test]
async fn models_unknown_paths_and_wrong_methods() {
    let server = server(3).await;
    let client = default_client();
    let models: Value = client
        .get(server.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "mock-model");
    assert_eq!(models["object"], "list");

    let c = caller(Provider::OpenAi);
    let e = c
        .send(client.post(server.url("/v1/embeddings")))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = c
        .send(client.get(server.url("/v1/chat/completions")))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(405));
    let e = c
        .send(
            client
                .post(server.url("/v1/chat/completions"))
                .body("{not json"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn dropping_the_server_closes_its_port_and_its_open_streams() {
    let server = server(10).await;
    let addr = server.addr();
    server.push(Fault::Stall { after: 1 });
    let kind = Provider::OpenAi;
    let client = default_client();
    let response = open_stream(&client, &server, kind).await.unwrap();
    let mut events = decoded(kind, response);
    let mut text = String::new();
    while text.is_empty() {
        if let Some(Ok(StreamEvent::TextDelta { text: t })) = events.next().await {
            text = t;
        }
    }
    drop(server);
    // The stalled stream ends promptly with an error instead of hanging.
    let rest = tokio::time::timeout(Duration::from_secs(5), collect(events))
        .await
        .expect("the stream must end when the server is dropped");
    assert!(rest.error().is_some());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[test]
fn faults_and_config_are_data() {
    let faults = [
        Fault::None,
        Fault::rate_limited(Duration::from_millis(2500)),
        Fault::ResetBeforeResponse,
        Fault::Delay(Duration::from_millis(40)),
        Fault::CutAfter { chunks: 3 },
        Fault::EndAfter { chunks: 3 },
        Fault::Malformed { after: 1 },
        Fault::SlowDrip {
            per_chunk: Duration::from_millis(5),
        },
        Fault::InBandError { after: 2 },
        Fault::Stall { after: 0 },
    ];
    let json = serde_json::to_string(&faults).unwrap();
    let back: Vec<Fault> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, faults);
    assert_eq!(faults[1].retry_after_header(), Some("3"));
    let config = ServerConfig {
        default_fault: Fault::overloaded(),
        ..ServerConfig::default()
    };
    let back: ServerConfig =
        serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
    assert_eq!(back, config);
}
