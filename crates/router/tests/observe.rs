//! A router's observers: a call's start and end, a stream's first token, and a stream's
//! end reported when the stream ends (not when it opens), with the group name.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use steadfast_errors::ErrorKind;
use steadfast_errors::observe::{Event, Observer};
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, RouteOptions, Router};

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Observer for Log {
    fn on_event(&self, event: &Event<'_>) {
        let line = match *event {
            Event::CallStarted { group, stream, .. } => format!("start {group} stream={stream}"),
            Event::FirstToken {
                group, provider, ..
            } => format!("first token {group} {provider}"),
            Event::CallFinished {
                group,
                provider,
                error,
                input_tokens,
                output_tokens,
                ..
            } => format!(
                "end {group} {} {} tokens={input_tokens}+{output_tokens}",
                provider.unwrap_or("-"),
                error.map_or("ok", ErrorKind::as_str)
            ),
            Event::Resume { provider, .. } => format!("resume {provider}"),
            Event::Attempt {
                provider, error, ..
            } => format!(
                "attempt {provider} {}",
                error.map_or("ok", |e| e.kind().as_str())
            ),
            _ => return,
        };
        self.0.lock().unwrap().push(line);
    }
}

fn mock(id: &str, outcomes: Vec<Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, outcomes))
}

fn pc(priority: i32) -> ProviderConfig {
    let mut c = ProviderConfig {
        priority,
        ..ProviderConfig::default()
    };
    c.entry.retry.max_attempts = 1;
    c
}

fn request() -> ChatRequest {
    ChatRequest::new("model", vec![Message::user("Hello there")])
}

#[tokio::test(start_paused = true)]
async fn a_stream_reports_its_end_when_it_ends_after_its_resume() {
    const ANSWER: &str = "t0 t1 t2 t3";
    let log = Arc::new(Log::default());
    let router = Router::builder()
        .name("writers")
        .provider(
            mock(
                "a",
                vec![Outcome::cut(["t0", " t1"]), Outcome::continue_from(ANSWER)],
            ),
            pc(1),
        )
        .observer(log.clone())
        .build();
    let mut stream = router
        .chat_stream(&request(), RouteOptions::default())
        .await
        .unwrap()
        .value;
    assert_eq!(
        log.take(),
        ["start writers stream=true", "first token writers a"]
    );
    while stream.next().await.is_some() {}
    let tokens = stream.usage();
    let end = format!(
        "end writers a ok tokens={}+{}",
        tokens.input_tokens, tokens.output_tokens
    );
    assert_eq!(
        log.take(),
        [
            "attempt a stream_interrupted",
            "resume a",
            "attempt a ok",
            end.as_str()
        ]
    );
    drop(stream);
    assert_eq!(log.take(), Vec::<String>::new(), "the end is reported once");
}

#[tokio::test(start_paused = true)]
async fn a_stream_dropped_unfinished_ends_cancelled_and_a_whole_call_at_once() {
    let log = Arc::new(Log::default());
    let router = Router::builder()
        .provider(mock("a", vec![Outcome::text("one two three")]), pc(1))
        .observer(log.clone())
        .build();
    let stream = router
        .chat_stream(&request(), RouteOptions::default())
        .await
        .unwrap();
    drop(stream);
    let lines = log.take();
    assert_eq!(
        lines.first().map(String::as_str),
        Some("start default stream=true")
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("end default a cancelled")),
        "{lines:?}"
    );
    router
        .chat(&request(), RouteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        log.take(),
        [
            "start default stream=false",
            "attempt a ok",
            "end default a ok tokens=2+3"
        ]
    );
}
