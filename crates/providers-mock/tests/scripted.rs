//! `ScriptedProvider`: every outcome, on a paused clock, and resumed streams that deliver
//! every character exactly once.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::{
    ChatProvider, ChatRequest, ChatResponse, ChatStream, FinishReason, Message, ModelInfo, Pricing,
    StreamEvent, ToolCall, Usage,
};
use steadfast_providers_mock::{
    ContinueOn, Outcome, ScriptedConfig, ScriptedProvider, StreamEnd, WhenExhausted,
};
use steadfast_streaming::{ResumeConfig, StreamState, Timeouts};
use tokio::time::Instant;

fn request() -> ChatRequest {
    ChatRequest::new("mock-model", vec![Message::user("Say three words")])
}

/// Everything a stream yields: its events and its error, if any.
async fn drain(mut stream: ChatStream) -> (Vec<StreamEvent>, Option<ProviderError>) {
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(err) => {
                assert!(stream.next().await.is_none(), "nothing may follow an error");
                return (events, Some(err));
            }
        }
    }
    (events, None)
}

fn texts(events: &[StreamEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn exact() -> ResumeConfig {
    ResumeConfig {
        overlap_window: 0,
        ..ResumeConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn text_answers_whole_and_streams_one_chunk_per_word() {
    let p = ScriptedProvider::from_outcomes([Outcome::text("Hello brave world")]);
    let whole = p.chat(&request()).await.unwrap();
    assert_eq!(whole.text, "Hello brave world");
    assert_eq!(whole.finish_reason, Some(FinishReason::Stop));
    assert_eq!(whole.model.as_deref(), Some("mock-model"));
    let usage = whole.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (3, 3));

    let (events, err) = drain(p.chat_stream(&request()).await.unwrap()).await;
    assert!(err.is_none());
    assert!(matches!(events[0], StreamEvent::Start { .. }));
    assert_eq!(texts(&events), ["Hello", " brave", " world"]);
    assert_eq!(events.last(), Some(&StreamEvent::Done));
    assert!(events.contains(&StreamEvent::Finish {
        reason: FinishReason::Stop,
        raw: "stop".into()
    }));
}

#[tokio::test(start_paused = true)]
async fn error_outcomes_fail_before_the_stream_labelled_like_a_provider() {
    let p = ScriptedProvider::new(
        ScriptedConfig {
            id: "mock-eu".into(),
            kind: Provider::Anthropic,
            ..ScriptedConfig::default()
        },
        [
            Outcome::Error(ErrorKind::RateLimited),
            Outcome::Error(ErrorKind::Overloaded),
            Outcome::ProviderError(
                ProviderError::new(ErrorKind::RateLimited, "mock-eu", "slow down")
                    .with_retry_after(Duration::from_secs(7)),
            ),
        ],
    );
    let e = p.chat(&request()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.status(), Some(429));
    assert_eq!((e.provider(), e.model()), ("mock-eu", Some("mock-model")));
    assert!(!e.first_byte_received());

    let e = p.chat_stream(&request()).await.err().expect("refused");
    assert_eq!((e.kind(), e.status()), (ErrorKind::Overloaded, Some(529)));

    let e = p.chat_stream(&request()).await.err().expect("refused");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(e.message(), "slow down");
}

#[tokio::test(start_paused = true)]
async fn delay_sleeps_on_the_tokio_clock_and_the_request_timeout_covers_it() {
    let p = ScriptedProvider::new(
        ScriptedConfig {
            timeout: Some(Duration::from_secs(10)),
            ..ScriptedConfig::default()
        },
        [Outcome::delay(
            Duration::from_secs(5),
            Outcome::text("late"),
        )],
    );
    let started = Instant::now();
    assert_eq!(p.chat(&request()).await.unwrap().text, "late");
    assert_eq!(started.elapsed(), Duration::from_secs(5));

    // The request's own timeout overrides the configured one.
    let started = Instant::now();
    let hurried = request().with_timeout(Duration::from_secs(2));
    let e = p.chat(&hurried).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.model(), Some("mock-model"));
    assert_eq!(started.elapsed(), Duration::from_secs(2));

    let e = p.chat_stream(&hurried).await.err().expect("timed out");
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

#[tokio::test(start_paused = true)]
async fn a_cut_stream_delivers_its_chunks_then_stream_interrupted() {
    let p = ScriptedProvider::from_outcomes([Outcome::cut(["t0", " t1"])]);
    let (events, err) = drain(p.chat_stream(&request()).await.unwrap()).await;
    assert_eq!(texts(&events), ["t0", " t1"]);
    let err = err.unwrap();
    assert_eq!(err.kind(), ErrorKind::StreamInterrupted);
    assert!(err.first_byte_received());
    assert_eq!(err.model(), Some("mock-model"));
    // Whole, the same outcome is the same error.
    let e = p.chat(&request()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StreamInterrupted);
}

#[tokio::test(start_paused = true)]
async fn a_stall_trips_the_idle_timeout_after_the_chunks() {
    let p = ScriptedProvider::new(
        ScriptedConfig {
            stream_timeouts: Timeouts {
                idle: Some(Duration::from_secs(3)),
                ..Timeouts::default()
            },
            ..ScriptedConfig::default()
        },
        [Outcome::stall(["t0", " t1"])],
    );
    let started = Instant::now();
    let (events, err) = drain(p.chat_stream(&request()).await.unwrap()).await;
    assert_eq!(texts(&events), ["t0", " t1"]);
    let err = err.unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("idle"), "{err}");
    assert!(err.first_byte_received());
    assert_eq!((err.provider(), err.model()), ("mock", Some("mock-model")));
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn silence_before_any_event_trips_the_first_byte_timeout() {
    let p = ScriptedProvider::new(
        ScriptedConfig {
            stream_timeouts: Timeouts {
                first_byte: Some(Duration::from_secs(4)),
                ..Timeouts::default()
            },
            ..ScriptedConfig::default()
        },
        [Outcome::Events {
            events: vec![],
            then: StreamEnd::Stall,
        }],
    );
    let started = Instant::now();
    let (events, err) = drain(p.chat_stream(&request()).await.unwrap()).await;
    assert!(events.is_empty());
    let err = err.unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("first-byte"), "{err}");
    assert!(!err.first_byte_received());
    assert_eq!(started.elapsed(), Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn a_stall_in_chat_is_ended_by_the_request_timeout() {
    let p = ScriptedProvider::from_outcomes([Outcome::stall(["t0"])]);
    let started = Instant::now();
    let e = p
        .chat(&request().with_timeout(Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(started.elapsed(), Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn an_in_band_error_follows_the_chunks() {
    let p = ScriptedProvider::from_outcomes([Outcome::Stream {
        chunks: vec!["Here is".into(), " the first".into()],
        then: StreamEnd::Error(ErrorKind::Overloaded),
    }]);
    let (events, err) = drain(p.chat_stream(&request()).await.unwrap()).await;
    assert_eq!(texts(&events).concat(), "Here is the first");
    let err = err.unwrap();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert!(err.first_byte_received());
    assert_eq!(
        err.status(),
        None,
        "an in-band error has no status of its own"
    );
}

#[tokio::test(start_paused = true)]
async fn tool_calls_stream_as_fragments_and_assemble_whole() {
    let call = ToolCall {
        id: "call_1".into(),
        name: "get_weather".into(),
        arguments: r#"{"city":"Paris","unit":"c"}"#.into(),
    };
    let p = ScriptedProvider::from_outcomes([Outcome::ToolCalls(vec![call.clone()])]);
    let whole = p.chat(&request()).await.unwrap();
    assert_eq!(whole.tool_calls, std::slice::from_ref(&call));
    assert_eq!(whole.finish_reason, Some(FinishReason::ToolCalls));

    let (events, _) = drain(p.chat_stream(&request()).await.unwrap()).await;
    let fragments = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCallDelta(_)))
        .count();
    assert_eq!(fragments, 2);
    let mut state = StreamState::default();
    events.iter().for_each(|e| state.apply(e));
    assert_eq!(state.tool_calls(), [call]);
}

#[tokio::test(start_paused = true)]
async fn a_scripted_response_keeps_reasoning_usage_and_finish_as_given() {
    let usage = Usage {
        input_tokens: 100,
        output_tokens: 40,
        cache_read_tokens: 60,
        ..Usage::default()
    };
    let response = ChatResponse {
        text: "The answer is 4.".into(),
        reasoning: "2 plus 2".into(),
        finish_reason: Some(FinishReason::Length),
        finish_raw: Some("max_tokens".into()),
        usage: Some(usage),
        ..ChatResponse::default()
    };
    let p = ScriptedProvider::from_outcomes([Outcome::Response(response)]);
    let whole = p.chat(&request()).await.unwrap();
    assert_eq!(whole.text, "The answer is 4.");
    assert_eq!(whole.reasoning, "2 plus 2");
    assert_eq!(whole.usage, Some(usage));
    assert_eq!(whole.finish_raw.as_deref(), Some("max_tokens"));
    let (events, _) = drain(p.chat_stream(&request()).await.unwrap()).await;
    assert!(events.contains(&StreamEvent::ReasoningDelta { text: "2".into() }));
    assert!(events.contains(&StreamEvent::Usage(usage)));
}

#[tokio::test(start_paused = true)]
async fn events_are_played_verbatim() {
    let events = vec![
        StreamEvent::KeepAlive,
        StreamEvent::TextDelta { text: "x".into() },
    ];
    let p = ScriptedProvider::from_outcomes([Outcome::Events {
        events: events.clone(),
        then: StreamEnd::Complete,
    }]);
    let (got, err) = drain(p.chat_stream(&request()).await.unwrap()).await;
    assert_eq!(got, events);
    assert!(err.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_paced_stream_is_slow_but_alive() {
    let p = ScriptedProvider::new(
        ScriptedConfig {
            stream_timeouts: Timeouts {
                idle: Some(Duration::from_secs(2)),
                ..Timeouts::default()
            },
            ..ScriptedConfig::default()
        },
        [Outcome::paced(
            Duration::from_secs(1),
            Outcome::text("one two three"),
        )],
    );
    let started = Instant::now();
    let (events, err) = drain(p.chat_stream(&request()).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    // Start, three words, usage, finish, done: one second before each.
    assert_eq!(events.len(), 7);
    assert_eq!(started.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn continue_from_streams_what_follows_the_assistant_prefix() {
    let p = ScriptedProvider::from_outcomes([Outcome::continue_from("t0 t1 t2 t3")]);
    let resumed = request().continued_from("t0 t1 t");
    let (events, _) = drain(p.chat_stream(&resumed).await.unwrap()).await;
    assert_eq!(texts(&events), ["2", " t3"]);
    // Without a prefix, the whole answer.
    assert_eq!(p.chat(&request()).await.unwrap().text, "t0 t1 t2 t3");
    // With a prefix the answer does not start with, the whole answer too.
    let other = request().continued_from("something else");
    assert_eq!(p.chat(&other).await.unwrap().text, "t0 t1 t2 t3");
}

#[tokio::test(start_paused = true)]
async fn a_resumable_stream_over_the_scripted_provider_is_exact_across_a_cut() {
    let answer = "The quick brown fox jumps over the lazy dog.";
    for config in [exact(), ResumeConfig::default()] {
        let p = Arc::new(ScriptedProvider::from_outcomes([
            Outcome::cut(["The", " quick", " brown", " fo"]),
            Outcome::continue_from(answer),
        ]));
        let mut stream = ContinueOn::new(p.clone(), request())
            .open(config)
            .await
            .unwrap();
        let mut text = String::new();
        while let Some(item) = stream.next().await {
            if let StreamEvent::TextDelta { text: t } = item.unwrap() {
                text.push_str(&t);
            }
        }
        assert_eq!(text, answer);
        assert_eq!(stream.resumes(), 1);
        assert!(stream.delivered().is_complete());
        let sent = p.requests();
        assert_eq!(sent.len(), 2);
        let prefix = sent[1].messages.last().unwrap();
        assert_eq!(prefix.joined_text(), "The quick brown fo");
        assert_eq!(sent[1].messages.len(), 2, "the user turn and the prefix");
    }
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_drops_every_stream_still_delivers_everything_once() {
    let answer: String = (0..40).map(|i| format!("w{i} ")).collect();
    let answer = answer.trim_end().to_owned();
    let script = answer.clone();
    let p = Arc::new(ScriptedProvider::from_fn(
        ScriptedConfig::default(),
        move |_, _| Outcome::continue_cut(script.clone(), 3),
    ));
    let config = ResumeConfig {
        max_resumes: 20,
        ..exact()
    };
    let mut stream = ContinueOn::new(p.clone(), request())
        .open(config)
        .await
        .unwrap();
    while let Some(item) = stream.next().await {
        item.unwrap();
    }
    assert_eq!(stream.delivered().text(), answer);
    assert_eq!(stream.resumes(), 13); // 40 words, 3 per attempt
    assert_eq!(p.calls(), 14);
}

#[tokio::test(start_paused = true)]
async fn no_continuation_ends_the_answer_as_incomplete() {
    let p = Arc::new(ScriptedProvider::new(
        ScriptedConfig {
            resumable: false,
            ..ScriptedConfig::default()
        },
        [Outcome::cut(["t0"]), Outcome::text("never asked")],
    ));
    assert!(p.continuation(&request(), "t0").is_none());
    let mut stream = ContinueOn::new(p.clone(), request())
        .open(exact())
        .await
        .unwrap();
    let mut last = None;
    while let Some(item) = stream.next().await {
        last = Some(item);
    }
    let err = last.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unknown);
    assert_eq!(stream.delivered().text(), "t0");
    assert_eq!(p.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_last_outcome_repeats_or_the_script_runs_out() {
    let repeat = ScriptedProvider::from_outcomes([Outcome::Error(ErrorKind::Server), "ok".into()]);
    let answers: Vec<bool> = futures_util::future::join_all(
        (0..4).map(|_| async { repeat.chat(&request()).await.is_ok() }),
    )
    .await;
    assert_eq!(answers, [false, true, true, true]);

    let strict = ScriptedProvider::new(
        ScriptedConfig {
            when_exhausted: WhenExhausted::Fail,
            ..ScriptedConfig::default()
        },
        ["ok".into()],
    );
    assert!(strict.chat(&request()).await.is_ok());
    let e = strict.chat(&request()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unknown);
    assert!(e.message().contains("exhausted"), "{e}");
    strict.push(Outcome::text("more"));
    assert_eq!(strict.queued(), 1);
    assert_eq!(strict.chat(&request()).await.unwrap().text, "more");

    let empty = ScriptedProvider::from_outcomes([]);
    assert!(empty.chat(&request()).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_closure_sees_each_request_and_call_number_after_the_queue() {
    let p = ScriptedProvider::from_fn(ScriptedConfig::default(), |req, call| {
        Outcome::text(format!("{} #{call}", req.model))
    });
    p.push(Outcome::text("queued first"));
    assert_eq!(p.chat(&request()).await.unwrap().text, "queued first");
    assert_eq!(p.chat(&request()).await.unwrap().text, "mock-model #2");
    let other = ChatRequest::new("other", vec![Message::user("hi")]);
    assert_eq!(p.chat(&other).await.unwrap().text, "other #3");
}

#[tokio::test(start_paused = true)]
async fn every_request_is_recorded_and_counted() {
    // Object-safe: usable as `Arc<dyn ChatProvider>`, as routers hold providers.
    let p: Arc<dyn ChatProvider> = Arc::new(ScriptedProvider::from_outcomes(["ok".into()]));
    let first = request().with_system("Be brief.").with_max_tokens(5);
    p.chat(&first).await.unwrap();
    drain(p.chat_stream(&request()).await.unwrap()).await;
    p.health_check().await.unwrap();

    let concrete = ScriptedProvider::from_outcomes(["ok".into()]);
    concrete.chat(&first).await.unwrap();
    assert_eq!(concrete.calls(), 1);
    assert_eq!(concrete.requests(), std::slice::from_ref(&first));
    assert_eq!(concrete.last_request(), Some(first));
    assert!(format!("{concrete:?}").contains("calls: 1"));
}

#[tokio::test(start_paused = true)]
async fn health_checks_are_scripted_apart_from_calls() {
    let p = ScriptedProvider::from_outcomes([Outcome::text("ok")]);
    p.health_check().await.unwrap();
    p.set_health(Some(ErrorKind::Auth));
    let e = p.health_check().await.unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Auth, Some(401)));
    p.set_health(None);
    p.health_check().await.unwrap();
    assert_eq!((p.health_checks(), p.calls(), p.queued()), (3, 0, 1));
}

#[test]
fn identity_capabilities_models_and_cost_come_from_the_config() {
    let mut config = ScriptedConfig {
        id: "mock-a".into(),
        kind: Provider::Anthropic,
        models: vec![ModelInfo {
            id: "big".into(),
            context_window: Some(200_000),
            pricing: Some(Pricing::per_million(3.0, 15.0)),
        }],
        pricing: Some(Pricing::per_million(1.0, 1.0)),
        ..ScriptedConfig::default()
    };
    let p = ScriptedProvider::new(config.clone(), []);
    assert_eq!((p.id(), p.kind()), ("mock-a", Provider::Anthropic));
    let caps = p.capabilities();
    assert!(caps.prefill && caps.streaming && caps.tools);
    assert_eq!(p.models().len(), 1);
    let usage = Usage {
        input_tokens: 1_000_000,
        cache_read_tokens: 1_000_000,
        ..Usage::default()
    };
    // Anthropic semantics: cache reads are billed beside the input.
    assert_eq!(p.cost("big", &usage), Some(6.0));
    assert_eq!(p.cost("anything-else", &usage), Some(2.0));
    config.kind = Provider::OpenAi;
    config.pricing = None;
    let p = ScriptedProvider::new(config, []);
    assert_eq!(p.cost("big", &usage), Some(3.0));
    assert_eq!(p.cost("unpriced", &usage), None);
}

#[test]
fn the_config_round_trips_through_serde() {
    let config = ScriptedConfig {
        id: "x".into(),
        timeout: Some(Duration::from_millis(1500)),
        when_exhausted: WhenExhausted::Fail,
        ..ScriptedConfig::default()
    };
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains("\"1500ms\""), "{json}");
    let back: ScriptedConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, config);
    assert!(serde_json::from_str::<ScriptedConfig>(r#"{"api_key": "x"}"#).is_err());
}
