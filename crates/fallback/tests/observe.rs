//! The chain's observers see every attempt, retry, breaker transition, fallback, refusal
//! and resume, in order, named after the provider.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use steadfast_errors::ErrorKind;
use steadfast_errors::observe::{Event, Observer};
use steadfast_fallback::{EntryConfig, FallbackChain};
use steadfast_providers_core::{ChatRequest, Message, StreamEvent};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_retry::{Backoff, Jitter, RetryConfig};

/// Each event as one line.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Observer for Log {
    fn on_event(&self, event: &Event<'_>) {
        let line = match event {
            Event::Attempt {
                provider,
                attempt,
                error,
                fallback,
                resume,
                ..
            } => format!(
                "attempt {provider} #{attempt} {} fallback={fallback} resume={resume}",
                error.map_or("ok", |e| e.kind().as_str())
            ),
            Event::Retry {
                operation,
                attempt,
                delay,
                ..
            } => format!("retry {operation} after #{attempt} in {delay:?}"),
            Event::BreakerTransition { breaker, from, to } => {
                format!("breaker {breaker} {} -> {}", from.as_str(), to.as_str())
            }
            Event::Fallback { from, to } => format!("fallback {from} -> {to}"),
            Event::Rejected { provider, reason } => {
                format!("rejected {provider} {}", reason.as_str())
            }
            Event::Resume {
                provider, resume, ..
            } => format!("resume {provider} #{resume}"),
            other => format!("{other:?}"),
        };
        self.0.lock().unwrap().push(line);
    }
}

fn mock(id: &str, script: impl IntoIterator<Item = Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, script))
}

fn entry(attempts: u32, trip_after: u32) -> EntryConfig {
    let mut entry = EntryConfig {
        retry: retry(attempts),
        ..EntryConfig::default()
    };
    entry.breaker.consecutive_failures = Some(trip_after);
    entry
}

fn retry(attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts: attempts,
        backoff: Backoff {
            initial: Duration::from_millis(100),
            multiplier: 1.0,
            max: Duration::from_millis(100),
            jitter: Jitter::None,
        },
        budget: None,
        ..RetryConfig::default()
    }
}

fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("Hello")])
}

#[tokio::test(start_paused = true)]
async fn a_whole_call_reports_retries_the_trip_the_fallback_and_then_the_refusal() {
    let log = Arc::new(Log::default());
    let a = mock(
        "a",
        std::iter::repeat_n(Outcome::Error(ErrorKind::Server), 9),
    );
    let b = mock("b", std::iter::repeat_n(Outcome::text("hi"), 9));
    let chain = FallbackChain::builder()
        .provider(a, entry(2, 2))
        .provider(b, entry(1, 5))
        .observer(log.clone())
        .build();
    assert_eq!(chain.chat(&request()).await.unwrap().provider, "b");
    assert_eq!(
        log.take(),
        [
            "attempt a #1 server fallback=false resume=false",
            "retry a after #1 in 100ms",
            "breaker a closed -> open",
            "attempt a #2 server fallback=false resume=false",
            "fallback a -> b",
            "attempt b #1 ok fallback=true resume=false",
        ]
    );
    // The open breaker now refuses a without an attempt.
    assert_eq!(chain.chat(&request()).await.unwrap().provider, "b");
    assert_eq!(
        log.take(),
        [
            "rejected a breaker",
            "fallback a -> b",
            "attempt b #1 ok fallback=true resume=false",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_cut_stream_reports_its_resume_and_the_parts_as_attempts() {
    const ANSWER: &str = "t0 t1 t2 t3";
    let log = Arc::new(Log::default());
    let a = mock(
        "a",
        [Outcome::cut(["t0", " t1"]), Outcome::continue_from(ANSWER)],
    );
    let chain = FallbackChain::builder()
        .provider(a, entry(1, 5))
        .observer(log.clone())
        .build();
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        if let Ok(StreamEvent::TextDelta { text: t }) = item {
            text.push_str(&t);
        }
    }
    assert_eq!(text, ANSWER);
    assert_eq!(
        log.take(),
        [
            "attempt a #1 stream_interrupted fallback=false resume=false",
            "resume a #1",
            "attempt a #1 ok fallback=false resume=true",
        ]
    );
}
