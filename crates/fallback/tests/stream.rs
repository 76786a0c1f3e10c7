//! Streamed answers through a `FallbackChain` on a paused clock: failover before the first
//! token, resume after it (same provider first, then the next), every token exactly once,
//! usage summed, and the breaker permit held for the whole stream.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use steadfast_circuit::State;
use steadfast_errors::ErrorKind;
use steadfast_fallback::{
    AttemptOutcome, AttemptRecord, CallOptions, ChainConfig, EntryConfig, FallbackChain,
    FallbackStream, ResumeSettings, StopReason,
};
use steadfast_providers_core::{ChatRequest, Message, Role, StreamEvent, Usage};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider, StreamEnd};
use steadfast_retry::{Backoff, RetryConfig};

const ANSWER: &str = "t0 t1 t2 t3 t4 t5 t6 t7";

fn mock(id: &str, script: impl IntoIterator<Item = Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, script))
}

fn entry() -> EntryConfig {
    EntryConfig {
        retry: RetryConfig {
            max_attempts: 2,
            backoff: Backoff::constant(Duration::from_secs(1)),
            budget: None,
            ..RetryConfig::default()
        },
        ..EntryConfig::default()
    }
}

fn chain_of(providers: &[&Arc<ScriptedProvider>], resume: ResumeSettings) -> FallbackChain {
    providers
        .iter()
        .fold(FallbackChain::builder(), |b, p| {
            b.provider(Arc::clone(p) as _, entry())
        })
        .config(ChainConfig {
            resume,
            ..ChainConfig::default()
        })
        .build()
}

fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("count")])
}

/// Reads the stream to its end: the text, whether `Done` came, and the error it ended with.
async fn drain(stream: &mut FallbackStream) -> (String, bool, Option<ErrorKind>) {
    let mut text = String::new();
    let mut done = false;
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(StreamEvent::TextDelta { text: t }) => text.push_str(&t),
            Ok(StreamEvent::Done) => done = true,
            Ok(_) => {}
            Err(e) => error = Some(e.kind()),
        }
    }
    (text, done, error)
}

fn outcomes(attempts: &[AttemptRecord]) -> Vec<(&str, AttemptOutcome, Option<ErrorKind>)> {
    attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.outcome, a.kind))
        .collect()
}

/// The assistant prefix a continuation request ends with.
fn prefix(request: &ChatRequest) -> Option<String> {
    request
        .messages
        .last()
        .filter(|m| m.role == Role::Assistant)
        .map(Message::joined_text)
}

#[tokio::test(start_paused = true)]
async fn a_cut_after_the_first_token_resumes_on_the_same_provider() {
    let a = mock(
        "a",
        [
            Outcome::cut(["t0", " t1", " t2"]),
            Outcome::continue_from(ANSWER),
        ],
    );
    let b = mock("b", [Outcome::continue_from(ANSWER)]);
    let chain = chain_of(&[&a, &b], ResumeSettings::default());
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let (text, done, error) = drain(&mut stream).await;
    assert_eq!((text.as_str(), done, error), (ANSWER, true, None));
    assert_eq!(stream.delivered().text(), ANSWER);
    assert_eq!(stream.resumes(), 1);
    assert_eq!(stream.provider(), "a");
    assert_eq!(b.calls(), 0);
    assert_eq!(prefix(&a.requests()[1]).as_deref(), Some("t0 t1 t2"));
    assert_eq!(
        outcomes(&stream.attempts()),
        [
            (
                "a",
                AttemptOutcome::Failed,
                Some(ErrorKind::StreamInterrupted)
            ),
            ("a", AttemptOutcome::Resumed, None),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_primary_dead_after_the_first_token_resumes_on_the_secondary() {
    let a = mock(
        "a",
        [
            Outcome::cut(["t0", " t1"]),
            Outcome::Error(ErrorKind::Server),
        ],
    );
    let b = mock("b", [Outcome::continue_from(ANSWER)]);
    let chain = chain_of(&[&a, &b], ResumeSettings::default());
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    assert_eq!(stream.provider(), "a");
    let (text, done, error) = drain(&mut stream).await;
    assert_eq!((text.as_str(), done, error), (ANSWER, true, None));
    assert_eq!(stream.provider(), "b");
    assert_eq!(prefix(&b.requests()[0]).as_deref(), Some("t0 t1"));
    assert_eq!(
        outcomes(&stream.attempts()),
        [
            (
                "a",
                AttemptOutcome::Failed,
                Some(ErrorKind::StreamInterrupted)
            ),
            ("a", AttemptOutcome::Failed, Some(ErrorKind::Server)),
            ("b", AttemptOutcome::Resumed, None),
        ]
    );
    let status = chain.status();
    assert_eq!((status[0].failures, status[1].successes), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_keeps_cutting_continuations_gets_one_resume_then_the_fallback() {
    // The primary opens every continuation but cuts it again after a token: it gets one
    // resume, then the answer moves on instead of spending every resume there.
    let a = mock(
        "a",
        [
            Outcome::cut(["t0", " t1"]),
            Outcome::ContinueCut {
                answer: ANSWER.into(),
                after: 1,
            },
            Outcome::ContinueCut {
                answer: ANSWER.into(),
                after: 1,
            },
        ],
    );
    let b = mock("b", [Outcome::continue_from(ANSWER)]);
    let chain = chain_of(&[&a, &b], ResumeSettings::default());
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let (text, done, error) = drain(&mut stream).await;
    assert_eq!((text.as_str(), done, error), (ANSWER, true, None));
    assert_eq!(a.calls(), 2, "the primary got exactly one continuation");
    assert_eq!(b.calls(), 1);
    assert_eq!(stream.provider(), "b");
    assert_eq!(stream.resumes(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failure_before_the_first_token_is_a_plain_failover() {
    let early = Outcome::Events {
        events: vec![StreamEvent::Start {
            id: None,
            model: None,
        }],
        then: StreamEnd::Error(ErrorKind::Overloaded),
    };
    let a = mock("a", [early]);
    let b = mock("b", [Outcome::text("a fresh answer")]);
    let chain = chain_of(&[&a, &b], ResumeSettings::default());
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let (text, done, error) = drain(&mut stream).await;
    assert_eq!((text.as_str(), done, error), ("a fresh answer", true, None));
    assert_eq!(
        stream.resumes(),
        0,
        "nothing was delivered, so nothing is resumed"
    );
    assert_eq!(a.calls(), 2, "retried like any failed attempt");
    assert_eq!(
        prefix(&b.requests()[0]),
        None,
        "the plain request, no prefix"
    );
    let attempts = stream.attempts();
    assert_eq!(
        outcomes(&attempts),
        [
            ("a", AttemptOutcome::Failed, Some(ErrorKind::Overloaded)),
            ("b", AttemptOutcome::Succeeded, None),
        ]
    );
    assert_eq!(attempts[0].retries, 1);
}

#[tokio::test(start_paused = true)]
async fn every_token_once_across_many_cuts_and_providers() {
    let answer: String = (0..40).map(|i| format!("w{i} ")).collect();
    let answer = answer.trim_end();
    // Both drop every stream after four words, yet always make progress; `a` is gone
    // after its first part, so the rest is resumed on `b`.
    let a = mock(
        "a",
        [
            Outcome::continue_cut(answer, 4),
            Outcome::Error(ErrorKind::Server),
        ],
    );
    let b = mock("b", [Outcome::continue_cut(answer, 4)]);
    // Every cut counts against the provider, so its breaker would soon refuse it: this
    // test is about the text, so the breakers are told to look away.
    let lenient = EntryConfig {
        breaker: steadfast_circuit::Config {
            consecutive_failures: None,
            failure_rate: None,
            ..steadfast_circuit::Config::default()
        },
        ..entry()
    };
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&a) as _, lenient.clone())
        .provider(Arc::clone(&b) as _, lenient)
        .config(ChainConfig {
            resume: ResumeSettings {
                max_resumes: 20,
                ..ResumeSettings::default()
            },
            ..ChainConfig::default()
        })
        .build();
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let (text, done, error) = drain(&mut stream).await;
    assert_eq!(error, None);
    assert!(done);
    assert_eq!(text, answer, "nothing lost, nothing repeated");
    assert_eq!(stream.resumes(), 9);
    assert_eq!(stream.provider(), "b");
    assert_eq!((a.calls(), b.calls()), (2, 9));
}

#[tokio::test(start_paused = true)]
async fn usage_is_summed_over_every_part() {
    let first = Outcome::Events {
        events: vec![
            StreamEvent::Start {
                id: None,
                model: None,
            },
            StreamEvent::TextDelta { text: "t0".into() },
            StreamEvent::TextDelta { text: " t1".into() },
            StreamEvent::Usage(Usage {
                input_tokens: 5,
                output_tokens: 2,
                ..Usage::default()
            }),
        ],
        then: StreamEnd::Cut,
    };
    let a = mock("a", [first, Outcome::Error(ErrorKind::Overloaded)]);
    let b = mock("b", [Outcome::continue_from("t0 t1 t2 t3")]);
    let chain = chain_of(&[&a, &b], ResumeSettings::default());
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let (text, _, _) = drain(&mut stream).await;
    assert_eq!(text, "t0 t1 t2 t3");
    // The continuation is billed for the prompt plus the prefix (3 words) and its 2 words.
    let usage = stream.delivered().usage().unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (5 + 3, 2 + 2));
}

#[tokio::test(start_paused = true)]
async fn the_permit_is_held_until_the_stream_ends() {
    let a = mock(
        "a",
        [Outcome::paced(
            Duration::from_millis(100),
            Outcome::text(ANSWER),
        )],
    );
    let strict = EntryConfig {
        breaker: steadfast_circuit::Config {
            half_open_probes: 1,
            open_duration: Duration::from_secs(10),
            consecutive_failures: Some(1),
            ..steadfast_circuit::Config::default()
        },
        ..entry()
    };
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&a) as _, strict)
        .build();
    let breaker = chain.breaker("a").unwrap();

    // Dropped half way: a cancellation, counted neither way.
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let s = &chain.status()[0];
    assert_eq!((s.successes, s.failures), (0, 0));

    // Read to the end: one success, reported at `Done`.
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    assert_eq!(breaker.snapshot().calls, 0, "not reported while streaming");
    let (text, done, _) = drain(&mut stream).await;
    assert_eq!((text.as_str(), done), (ANSWER, true));
    assert_eq!(breaker.snapshot().calls, 1);
    assert_eq!(chain.status()[0].successes, 1);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn without_fallback_a_dead_primary_ends_the_stream() {
    let a = mock(
        "a",
        [Outcome::cut(["t0", " t1"]), Outcome::Error(ErrorKind::Auth)],
    );
    let b = mock("b", [Outcome::continue_from(ANSWER)]);
    let chain = chain_of(&[&a, &b], ResumeSettings::default());
    let alone = CallOptions {
        fallback: false,
        ..CallOptions::default()
    };
    let mut stream = chain.chat_stream_with(&request(), alone).await.unwrap();
    let (text, done, error) = drain(&mut stream).await;
    assert_eq!((text.as_str(), done), ("t0 t1", false));
    assert_eq!(error, Some(ErrorKind::Auth), "an explicit, typed end");
    assert_eq!(b.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn when_no_provider_can_open_the_stream_the_error_lists_them() {
    let a = mock("a", [Outcome::Error(ErrorKind::Overloaded)]);
    let b = mock("b", [Outcome::stall(Vec::<String>::new())]);
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&a) as _, entry())
        .provider(Arc::clone(&b) as _, entry())
        .config(ChainConfig {
            deadline: Some(Duration::from_secs(5)),
            ..ChainConfig::default()
        })
        .build();
    let err = chain.chat_stream(&request()).await.unwrap_err();
    assert_eq!(err.reason, StopReason::DeadlineExceeded);
    assert_eq!(
        err.to_string(),
        "deadline exceeded after 5.0s: a/m (overloaded 503, 2 attempts, 1.0s); b/m (timeout, 1 attempt, 4.0s)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_cannot_continue_is_skipped_for_the_next() {
    let stubborn = Arc::new(ScriptedProvider::new(
        ScriptedConfig {
            id: "a".into(),
            resumable: false,
            ..ScriptedConfig::default()
        },
        [Outcome::cut(["t0", " t1"])],
    ));
    let b = mock("b", [Outcome::continue_from(ANSWER)]);
    let chain = chain_of(&[&stubborn, &b], ResumeSettings::default());
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let (text, done, _) = drain(&mut stream).await;
    assert_eq!((text.as_str(), done), (ANSWER, true));
    assert_eq!(
        outcomes(&stream.attempts()),
        [
            (
                "a",
                AttemptOutcome::Failed,
                Some(ErrorKind::StreamInterrupted)
            ),
            ("a", AttemptOutcome::SkippedCannotResume, None),
            ("b", AttemptOutcome::Resumed, None),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_a_long_stream_explicitly() {
    let a = mock(
        "a",
        [Outcome::paced(
            Duration::from_secs(1),
            Outcome::text(ANSWER),
        )],
    );
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&a) as _, entry())
        .config(ChainConfig {
            deadline: Some(Duration::from_millis(3500)),
            ..ChainConfig::default()
        })
        .build();
    let breaker = chain.breaker("a").unwrap();
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let (text, done, error) = drain(&mut stream).await;
    // Start at 1 s, then a word a second: `t0` at 2 s, `t1` at 3 s, then the deadline.
    assert_eq!(
        (text.as_str(), done, error),
        ("t0 t1", false, Some(ErrorKind::Timeout))
    );
    assert_eq!(
        stream.delivered().error().map(|e| e.kind()),
        Some(ErrorKind::Timeout)
    );
    assert_eq!(
        outcomes(&stream.attempts()),
        [("a", AttemptOutcome::Failed, Some(ErrorKind::Timeout))]
    );
    assert_eq!(
        breaker.snapshot().calls,
        0,
        "the caller's deadline is not the provider's fault"
    );
    assert!(stream.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_keeps_dropping_streams_trips_its_breaker() {
    let answer: String = (0..40).map(|i| format!("w{i} ")).collect();
    let a = mock("a", [Outcome::continue_cut(answer.trim_end(), 2)]);
    let resume = ResumeSettings {
        max_resumes: 20,
        ..ResumeSettings::default()
    };
    let chain = chain_of(&[&a], resume); // trips after 5 failures in a row
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let (text, done, error) = drain(&mut stream).await;
    assert_eq!(text, "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
    assert!(!done);
    assert_eq!(
        error,
        Some(ErrorKind::StreamInterrupted),
        "no provider may continue"
    );
    let attempts = stream.attempts();
    assert_eq!(
        attempts.last().unwrap().outcome,
        AttemptOutcome::SkippedBreakerOpen
    );
    assert_eq!(chain.status()[0].breaker, State::Open);
}

#[test]
fn the_types_can_be_shared_and_sent() {
    fn shared<T: Send + Sync + Clone + std::fmt::Debug>() {}
    fn sent<T: Send + Unpin + futures_util::Stream + std::fmt::Debug>() {}
    fn future<F: std::future::Future + Send>(_: F) {}
    shared::<FallbackChain>();
    sent::<FallbackStream>();
    let chain = FallbackChain::builder().build();
    let req = request();
    future(chain.chat(&req));
    future(chain.chat_stream(&req));
}
