//! The chain and an open breaker, on a paused clock: no wait is spent on a provider whose
//! breaker will refuse, a refusal inside a retry loop means "fall back", and a lone
//! provider warming up (503 `Loading model`) is waited for rather than given up on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_circuit::CircuitBreaker;
use steadfast_errors::ErrorKind;
use steadfast_fallback::{
    AttemptOutcome, CallOptions, ChainConfig, EntryConfig, FallbackChain, StopReason,
};
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_retry::{Backoff, Jitter, RetryConfig, RetryPolicy};
use tokio::time::Instant;

fn config(id: &str) -> ScriptedConfig {
    ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    }
}

fn mock(id: &str, script: impl IntoIterator<Item = Outcome>) -> Arc<ScriptedProvider> {
    Arc::new(ScriptedProvider::new(config(id), script))
}

/// A provider that answers "ok" and notes when each call began.
fn timed(id: &str) -> (Arc<ScriptedProvider>, Arc<Mutex<Vec<Instant>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let provider = ScriptedProvider::from_fn(config(id), move |_, _| {
        seen.lock().unwrap().push(Instant::now());
        Outcome::text("ok")
    });
    (Arc::new(provider), calls)
}

/// A provider that fails with `overloaded` (a 503) and notes when each call began.
fn failing(id: &str) -> (Arc<ScriptedProvider>, Arc<Mutex<Vec<Instant>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let provider = ScriptedProvider::from_fn(config(id), move |_, _| {
        seen.lock().unwrap().push(Instant::now());
        Outcome::Error(ErrorKind::Overloaded)
    });
    (Arc::new(provider), calls)
}

fn retry(max_attempts: u32, wait: Duration) -> RetryConfig {
    RetryConfig {
        max_attempts,
        backoff: Backoff {
            initial: wait,
            multiplier: 1.0,
            max: wait,
            jitter: Jitter::None,
        },
        budget: None,
        ..RetryConfig::default()
    }
}

fn trips_after(failures: u32, retry: RetryConfig) -> EntryConfig {
    EntryConfig {
        retry,
        breaker: steadfast_circuit::Config {
            consecutive_failures: Some(failures),
            ..steadfast_circuit::Config::default()
        },
        ..EntryConfig::default()
    }
}

fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("hi")])
}

#[tokio::test(start_paused = true)]
async fn the_failure_that_trips_the_breaker_falls_back_without_waiting() {
    let (primary, primary_calls) = failing("primary");
    let (backup, backup_calls) = timed("backup");
    let chain = FallbackChain::builder()
        .provider(primary, trips_after(3, retry(5, Duration::from_secs(1))))
        .provider(backup, EntryConfig::default())
        .build();
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(answer.provider, "backup");
    let primary_calls = primary_calls.lock().unwrap().clone();
    assert_eq!(
        primary_calls.len(),
        3,
        "the third failure tripped the breaker"
    );
    let backup_started = backup_calls.lock().unwrap()[0];
    assert_eq!(
        backup_started, primary_calls[2],
        "no backoff is slept after the failure that opened the breaker"
    );
    assert_eq!(answer.attempts[0].retries, 2);
    assert_eq!(answer.attempts[0].kind, Some(ErrorKind::Overloaded));
}

#[tokio::test(start_paused = true)]
async fn a_failed_half_open_probe_falls_back_without_waiting() {
    let (primary, primary_calls) = failing("primary");
    let (backup, backup_calls) = timed("backup");
    let mut entry = trips_after(1, retry(3, Duration::from_millis(500)));
    entry.breaker.open_duration = Duration::from_secs(10);
    let chain = FallbackChain::builder()
        .provider(primary, entry)
        .provider(backup, EntryConfig::default())
        .build();
    // The first call trips the primary's breaker.
    assert_eq!(chain.chat(&request()).await.unwrap().provider, "backup");
    tokio::time::advance(Duration::from_secs(10)).await;
    // The next is its half-open probe: it fails, and the backup is called at once.
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(answer.provider, "backup");
    let probe = *primary_calls.lock().unwrap().last().unwrap();
    assert_eq!(backup_calls.lock().unwrap()[1], probe);
}

#[tokio::test(start_paused = true)]
async fn a_refusal_inside_a_retry_loop_means_fall_back() {
    let breaker = CircuitBreaker::new(steadfast_circuit::Config {
        consecutive_failures: Some(1),
        ..steadfast_circuit::Config::default()
    });
    let _ = breaker
        .call(|| async { Err::<(), _>(ErrorKind::Overloaded) })
        .await;
    let outcome = RetryPolicy::default()
        .run(|_| breaker.call(|| async { Ok::<_, ErrorKind>("never called") }))
        .await;
    assert_eq!(outcome.attempts.len(), 1, "an open breaker is not retried");
    assert!(
        outcome.should_fall_back(),
        "an open breaker sends the caller to the next target"
    );
}

/// llama-server's start-up: `503 Loading model` eight times, then answers.
fn warming_up() -> Arc<ScriptedProvider> {
    let mut script = vec![Outcome::Error(ErrorKind::Overloaded); 8];
    script.push(Outcome::text("loaded"));
    mock("llama", script)
}

/// Many attempts 1 s apart, and the default breaker (open after 5 failures in a row) with a
/// 5 s open duration.
fn patient() -> EntryConfig {
    let mut entry = EntryConfig {
        retry: retry(20, Duration::from_secs(1)),
        ..EntryConfig::default()
    };
    entry.breaker.open_duration = Duration::from_secs(5);
    entry
}

fn deadline(secs: u64) -> ChainConfig {
    ChainConfig {
        deadline: Some(Duration::from_secs(secs)),
        ..ChainConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_lone_provider_warming_up_is_waited_for_until_the_deadline() {
    let llama = warming_up();
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&llama) as _, patient())
        .config(deadline(60))
        .build();
    let started = Instant::now();
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(answer.value.text, "loaded");
    assert_eq!(llama.calls(), 9);
    // Five failures 1 s apart trip the breaker at 4 s; its probes follow every 5 s.
    assert_eq!(started.elapsed(), Duration::from_secs(24));
}

#[tokio::test(start_paused = true)]
async fn a_lone_provider_with_the_default_breaker_gets_its_probe() {
    // The default breaker opens after 5 failures for 30 s: the sixth attempt is its probe.
    let mut script = vec![Outcome::Error(ErrorKind::Overloaded); 6];
    script.push(Outcome::text("loaded"));
    let llama = mock("llama", script);
    let entry = EntryConfig {
        retry: RetryConfig {
            max_attempts: 20,
            ..RetryConfig::default()
        },
        ..EntryConfig::default()
    };
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&llama) as _, entry)
        .config(deadline(120))
        .build();
    assert_eq!(chain.chat(&request()).await.unwrap().value.text, "loaded");
    assert_eq!(llama.calls(), 7);
}

#[tokio::test(start_paused = true)]
async fn a_lone_provider_is_not_waited_for_past_the_deadline() {
    let llama = warming_up();
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&llama) as _, patient())
        .config(deadline(12))
        .build();
    let started = Instant::now();
    let err = chain.chat(&request()).await.unwrap_err();
    assert!(started.elapsed() <= Duration::from_secs(12));
    assert_eq!(err.kind(), Some(ErrorKind::Overloaded));
    assert!(llama.calls() < 9);
}

#[tokio::test(start_paused = true)]
async fn with_somewhere_else_to_go_an_open_breaker_still_falls_back_at_once() {
    let llama = warming_up();
    let (backup, backup_calls) = timed("backup");
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&llama) as _, patient())
        .provider(backup, EntryConfig::default())
        .config(deadline(60))
        .build();
    let started = Instant::now();
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(answer.provider, "backup");
    assert_eq!(
        llama.calls(),
        5,
        "the default breaker opens after 5 failures"
    );
    let backup_started = backup_calls.lock().unwrap()[0];
    assert!(backup_started - started < Duration::from_secs(10));
    // The next call skips the open breaker without waiting for it.
    let next = chain.chat(&request()).await.unwrap();
    assert_eq!(next.attempts[0].outcome, AttemptOutcome::SkippedBreakerOpen);
    assert_eq!(backup_calls.lock().unwrap()[1], backup_started);
}

#[tokio::test(start_paused = true)]
async fn a_lone_provider_already_open_is_waited_for_within_the_deadline() {
    let llama = warming_up();
    let mut entry = patient();
    entry.retry.max_attempts = 6;
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&llama) as _, entry)
        .build();
    // Without a deadline the chain does not wait: the breaker trips and the call fails.
    let err = chain.chat(&request()).await.unwrap_err();
    assert_eq!(err.reason, StopReason::AllFailed);
    assert_eq!(llama.calls(), 5);
    // A call with a deadline waits for the open breaker's probe, and for the next ones.
    let patient = CallOptions {
        deadline: Some(Duration::from_secs(60)),
        ..CallOptions::default()
    };
    let answer = chain.chat_with(&request(), patient).await.unwrap();
    assert_eq!(answer.value.text, "loaded");
    assert_eq!(llama.calls(), 9);
}

#[tokio::test(start_paused = true)]
async fn when_every_provider_is_down_the_call_fails_fast_even_with_a_deadline() {
    // Both providers fail; once their breakers are open the chain has nowhere to go, but it
    // has more than one provider, so it must not sit waiting for a probe.
    let (primary, _) = failing("primary");
    let (backup, backup_calls) = failing("backup");
    let chain = FallbackChain::builder()
        .provider(primary, patient())
        .provider(backup, patient())
        .config(deadline(60))
        .build();
    let started = Instant::now();
    let err = chain.chat(&request()).await.unwrap_err();
    assert_eq!(err.reason, StopReason::AllFailed);
    // Each provider: five failures 1 s apart (4 s of backoff), then its breaker opens (5 s).
    assert!(
        Instant::now() - started <= Duration::from_secs(8),
        "waited {:?} for an open breaker although two providers were configured",
        Instant::now() - started
    );
    assert_eq!(backup_calls.lock().unwrap().len(), 5);
}
