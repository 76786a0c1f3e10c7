//! Entries added and removed while a `FallbackChain` runs: the others keep their breaker
//! and health, a removed entry is skipped even by a call or stream that planned it, and
//! ids stay unique.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use steadfast_circuit::State;
use steadfast_errors::ErrorKind;
use steadfast_fallback::{AttemptOutcome, EntryConfig, FallbackChain};
use steadfast_providers_core::{ChatRequest, Message, StreamEvent};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};

fn mock(id: &str, script: impl IntoIterator<Item = Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, script))
}

/// One attempt, and a breaker that opens on the first failure.
fn fragile() -> EntryConfig {
    let mut e = EntryConfig::default();
    e.retry.max_attempts = 1;
    e.breaker.consecutive_failures = Some(1);
    e.breaker.open_duration = Duration::from_secs(60);
    e
}

fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("hi")])
}

fn ids(chain: &FallbackChain) -> Vec<String> {
    chain.status().into_iter().map(|s| s.id).collect()
}

#[tokio::test(start_paused = true)]
async fn adding_and_removing_keeps_the_other_entries_state() {
    let chain = FallbackChain::builder()
        .provider(mock("a", [Outcome::Error(ErrorKind::Server)]), fragile())
        .provider(mock("c", [Outcome::text("from c")]), fragile())
        .build();
    assert_eq!(chain.chat(&request()).await.unwrap().provider, "c");
    chain
        .insert(1, mock("b", [Outcome::text("from b")]), fragile())
        .unwrap();
    chain
        .add(mock("d", [Outcome::text("from d")]), fragile())
        .unwrap();
    assert_eq!(ids(&chain), ["a", "b", "c", "d"]);
    assert!(chain.remove("c"));
    assert!(!chain.remove("c"));
    assert_eq!(ids(&chain), ["a", "b", "d"]);
    let a = &chain.status()[0];
    assert_eq!((a.breaker, a.failures), (State::Open, 1));

    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(answer.provider, "b", "the added entry takes its place");
    assert_eq!(
        answer.attempts[0].outcome,
        AttemptOutcome::SkippedBreakerOpen
    );

    let taken = chain.add(mock("b", []), fragile()).unwrap_err();
    assert_eq!(taken.id(), "b");
    assert_eq!(chain.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_removed_entry_is_skipped_by_a_call_that_planned_it() {
    let b = mock("b", [Outcome::text("from b")]);
    let chain = FallbackChain::builder()
        .provider(
            mock(
                "a",
                [Outcome::delay(
                    Duration::from_secs(5),
                    Outcome::Error(ErrorKind::Server),
                )],
            ),
            fragile(),
        )
        .provider(b.clone(), fragile())
        .build();
    let call = tokio::spawn({
        let chain = chain.clone();
        async move { chain.chat(&request()).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(chain.remove("b"));
    let e = call.await.unwrap().unwrap_err();
    let outcomes: Vec<_> = e.attempts.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [AttemptOutcome::Failed, AttemptOutcome::SkippedRemoved]
    );
    assert_eq!(b.calls(), 0);
    assert_eq!(e.attempts[1].to_string(), "b/m (skipped: removed)");
}

#[tokio::test(start_paused = true)]
async fn a_stream_does_not_resume_on_a_removed_entry() {
    let chain = FallbackChain::builder()
        .provider(
            mock("a", [Outcome::cut(["One", " two"])]),
            EntryConfig::default(),
        )
        .provider(
            mock("b", [Outcome::continue_from("One two three")]),
            EntryConfig::default(),
        )
        .build();
    let mut stream = chain.chat_stream(&request()).await.unwrap();
    let mut text = String::new();
    let mut removed = false;
    while let Some(event) = stream.next().await {
        if let StreamEvent::TextDelta { text: t } = event.unwrap() {
            text.push_str(&t);
            if !removed {
                // Cut after " two": the resume would try a first, were it still there.
                assert!(chain.remove("a"));
                removed = true;
            }
        }
    }
    assert_eq!(text, "One two three");
    assert_eq!(stream.provider(), "b");
    let attempts = stream.attempts();
    assert!(
        attempts
            .iter()
            .any(|r| r.provider == "a" && r.outcome == AttemptOutcome::SkippedRemoved),
        "{attempts:?}"
    );
}
