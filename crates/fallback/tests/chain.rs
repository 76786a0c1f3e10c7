//! Whole answers through a `FallbackChain` on a paused clock: order, retries, breakers, the
//! fallback rules, the deadline, health, and the report of a failed call.

use std::sync::Arc;
use std::time::Duration;

use steadfast_circuit::State;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_fallback::{
    AttemptOutcome, CallOptions, ChainConfig, EntryConfig, FallbackChain, Health, StopReason,
};
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_retry::{Backoff, Jitter, RetryConfig};
use tokio::time::Instant;

fn mock(id: &str, script: impl IntoIterator<Item = Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, script))
}

/// `max_attempts` in all, waiting 1 s, 2 s, 4 s … between them (no jitter, no budget).
fn retry(max_attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts,
        backoff: Backoff {
            initial: Duration::from_secs(1),
            multiplier: 2.0,
            max: Duration::from_secs(10),
            jitter: Jitter::None,
        },
        budget: None,
        ..RetryConfig::default()
    }
}

fn entry() -> EntryConfig {
    EntryConfig {
        retry: retry(3),
        ..EntryConfig::default()
    }
}

fn request() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("hi")])
}

fn chain(providers: &[(&Arc<ScriptedProvider>, EntryConfig)]) -> FallbackChain {
    providers
        .iter()
        .fold(FallbackChain::builder(), |b, (p, e)| {
            b.provider(Arc::clone(p) as _, e.clone())
        })
        .build()
}

fn outcomes(attempts: &[steadfast_fallback::AttemptRecord]) -> Vec<(&str, AttemptOutcome)> {
    attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.outcome))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn primary_succeeds() {
    let a = mock("a", [Outcome::text("from a")]);
    let b = mock("b", [Outcome::text("from b")]);
    let chain = chain(&[(&a, entry()), (&b, entry())]);
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(answer.value.text, "from a");
    assert_eq!(
        (answer.provider.as_str(), answer.model.as_str()),
        ("a", "m")
    );
    assert_eq!(
        outcomes(&answer.attempts),
        [("a", AttemptOutcome::Succeeded)]
    );
    assert!(!answer.fell_back());
    assert_eq!(b.calls(), 0);
    let status = chain.status();
    assert_eq!(
        (status[0].successes, status[0].health),
        (1, Health::Healthy)
    );
}

#[tokio::test(start_paused = true)]
async fn primary_503_then_fallback_with_the_attempt_log() {
    let a = mock("a", [Outcome::Error(ErrorKind::Overloaded)]);
    let b = mock("b", [Outcome::text("from b")]);
    let model_b = EntryConfig {
        model: Some("big".into()),
        ..entry()
    };
    let chain = chain(&[(&a, entry()), (&b, model_b)]);
    let started = Instant::now();
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(3)); // waits of 1 s and 2 s
    assert_eq!(
        (answer.provider.as_str(), answer.model.as_str()),
        ("b", "big")
    );
    assert_eq!(
        b.requests()[0].model,
        "big",
        "the entry's model replaces the request's"
    );
    assert_eq!(a.calls(), 3);
    let first = &answer.attempts[0];
    assert_eq!(first.outcome, AttemptOutcome::Failed);
    assert_eq!(first.kind, Some(ErrorKind::Overloaded));
    assert_eq!(first.status, Some(503));
    assert_eq!(first.retries, 2);
    assert_eq!(first.duration, Duration::from_secs(3));
    assert_eq!(first.to_string(), "a/m (overloaded 503, 3 attempts, 3.0s)");
    let second = &answer.attempts[1];
    assert_eq!(
        (second.outcome, second.retries, second.duration),
        (AttemptOutcome::Succeeded, 0, Duration::ZERO)
    );
    assert!(answer.fell_back());
    assert_eq!(answer.retries(), 2);
}

#[tokio::test(start_paused = true)]
async fn invalid_request_stops_at_once() {
    let a = mock("a", [Outcome::Error(ErrorKind::InvalidRequest)]);
    let b = mock("b", [Outcome::text("from b")]);
    let chain = chain(&[(&a, entry()), (&b, entry())]);
    let err = chain.chat(&request()).await.unwrap_err();
    assert_eq!(err.reason, StopReason::NoFallback);
    assert_eq!((a.calls(), b.calls()), (1, 0));
    assert_eq!(err.kind(), Some(ErrorKind::InvalidRequest));
    assert!(
        err.to_string().starts_with(
            "not retried elsewhere: invalid_request: a/m (invalid_request 400, 1 attempt, 0.0s)"
        ),
        "{err}"
    );
    // The caller's fault says nothing about the provider.
    assert_eq!(chain.status()[0].error_score, 0);
    assert_eq!(chain.status()[0].failures, 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_cap_falls_back_now() {
    let limited = ProviderError::new(ErrorKind::RateLimited, "a", "slow down")
        .with_status(429)
        .with_retry_after(Duration::from_secs(120));
    let a = mock("a", [Outcome::ProviderError(limited)]);
    let b = mock("b", [Outcome::text("from b")]);
    let chain = chain(&[(&a, entry()), (&b, entry())]); // max_retry_after: 60 s
    let started = Instant::now();
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO, "no wait at all");
    assert_eq!(answer.provider, "b");
    assert_eq!(a.calls(), 1);
    assert_eq!(
        answer.attempts[0].to_string(),
        "a/m (rate_limited 429, 1 attempt, 0.0s)"
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_is_skipped_until_its_open_time_passes() {
    let a = mock(
        "a",
        [
            Outcome::Error(ErrorKind::Server),
            Outcome::Error(ErrorKind::Server),
            Outcome::Error(ErrorKind::Server),
            Outcome::text("a is back"),
        ],
    );
    let b = mock("b", [Outcome::text("from b")]);
    let breaker = EntryConfig {
        retry: retry(1),
        breaker: steadfast_circuit::Config {
            consecutive_failures: Some(3),
            open_duration: Duration::from_secs(30),
            ..steadfast_circuit::Config::default()
        },
        ..EntryConfig::default()
    };
    let chain = chain(&[(&a, breaker), (&b, entry())]);
    for _ in 0..3 {
        assert_eq!(chain.chat(&request()).await.unwrap().provider, "b");
    }
    assert_eq!(chain.status()[0].breaker, State::Open);
    for _ in 0..2 {
        let answer = chain.chat(&request()).await.unwrap();
        assert_eq!(
            outcomes(&answer.attempts),
            [
                ("a", AttemptOutcome::SkippedBreakerOpen),
                ("b", AttemptOutcome::Succeeded)
            ]
        );
        let why = answer.attempts[0].error.as_deref().unwrap();
        assert!(why.starts_with("circuit open: retry in"), "{why}");
        assert_eq!(
            answer.attempts[0].to_string(),
            "a/m (skipped: circuit open)"
        );
    }
    assert_eq!(a.calls(), 3, "an open breaker is not called");
    tokio::time::advance(Duration::from_secs(30)).await;
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(answer.value.text, "a is back");
    assert_eq!(chain.status()[0].breaker, State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_breaker_that_opens_during_retries_ends_the_turn_with_the_real_error() {
    let a = mock("a", [Outcome::Error(ErrorKind::Overloaded)]);
    let b = mock("b", [Outcome::text("from b")]);
    let breaker = EntryConfig {
        breaker: steadfast_circuit::Config {
            consecutive_failures: Some(2),
            ..steadfast_circuit::Config::default()
        },
        ..entry()
    };
    let chain = chain(&[(&a, breaker), (&b, entry())]);
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(a.calls(), 2);
    let first = &answer.attempts[0];
    assert_eq!(
        (first.outcome, first.kind, first.retries),
        (AttemptOutcome::Failed, Some(ErrorKind::Overloaded), 1)
    );
}

#[tokio::test(start_paused = true)]
async fn disabled_providers_are_skipped_and_can_come_back() {
    let a = mock("a", [Outcome::text("from a")]);
    let b = mock("b", [Outcome::text("from b")]);
    let off = EntryConfig {
        enabled: false,
        ..entry()
    };
    let chain = chain(&[(&a, off), (&b, entry())]);
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(
        outcomes(&answer.attempts),
        [
            ("a", AttemptOutcome::SkippedDisabled),
            ("b", AttemptOutcome::Succeeded)
        ]
    );
    assert!(!chain.status()[0].enabled);
    assert!(chain.set_enabled("a", true));
    assert!(!chain.set_enabled("nobody", true));
    assert_eq!(chain.chat(&request()).await.unwrap().provider, "a");
    assert!(chain.set_enabled("a", false) && chain.set_enabled("b", false));
    let err = chain.chat(&request()).await.unwrap_err();
    assert_eq!(err.reason, StopReason::NoEligibleProvider);
    assert_eq!(
        err.to_string(),
        "no provider may take this request: a/m (skipped: disabled); b/m (skipped: disabled)"
    );
}

#[tokio::test(start_paused = true)]
async fn prefer_and_no_fallback() {
    let a = mock("a", [Outcome::Error(ErrorKind::Server)]);
    let b = mock("b", [Outcome::text("from b")]);
    let c = mock("c", [Outcome::text("from c")]);
    let one = EntryConfig {
        retry: retry(1),
        ..EntryConfig::default()
    };
    let chain = chain(&[(&a, one.clone()), (&b, one.clone()), (&c, one)]);

    let prefer_c = CallOptions {
        prefer: Some("c".into()),
        ..CallOptions::default()
    };
    let answer = chain.chat_with(&request(), prefer_c).await.unwrap();
    assert_eq!(
        outcomes(&answer.attempts),
        [("c", AttemptOutcome::Succeeded)]
    );

    let unknown = CallOptions {
        prefer: Some("zzz".into()),
        ..CallOptions::default()
    };
    assert_eq!(
        chain.chat_with(&request(), unknown).await.unwrap().provider,
        "b"
    );

    let alone = CallOptions {
        fallback: false,
        ..CallOptions::default()
    };
    let err = chain.chat_with(&request(), alone).await.unwrap_err();
    assert_eq!(err.reason, StopReason::FallbackDisabled);
    assert_eq!(outcomes(&err.attempts), [("a", AttemptOutcome::Failed)]);
    assert_eq!(
        err.to_string(),
        "failed, and fallback is off: a/m (server 500, 1 attempt, 0.0s)"
    );

    // Pinned to a disabled provider: nothing else is tried.
    chain.set_enabled("c", false);
    let pinned = CallOptions {
        prefer: Some("c".into()),
        fallback: false,
        ..CallOptions::default()
    };
    let err = chain.chat_with(&request(), pinned).await.unwrap_err();
    assert_eq!(err.reason, StopReason::NoEligibleProvider);
    assert_eq!(b.calls(), 1);
    assert_eq!(c.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn context_length_moves_only_to_a_larger_window() {
    let window = |n: Option<u32>| EntryConfig {
        context_window: n,
        ..entry()
    };
    let a = mock("a", [Outcome::Error(ErrorKind::ContextLength)]);
    let same = mock("same", [Outcome::text("same")]);
    let unknown = mock("unknown", [Outcome::text("unknown")]);
    let large = mock("large", [Outcome::text("large")]);
    let chain = chain(&[
        (&a, window(Some(8_000))),
        (&same, window(Some(8_000))),
        (&unknown, window(None)),
        (&large, window(Some(128_000))),
    ]);
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(answer.value.text, "large");
    assert_eq!(
        outcomes(&answer.attempts),
        [
            ("a", AttemptOutcome::Failed),
            ("same", AttemptOutcome::SkippedContextTooSmall),
            ("unknown", AttemptOutcome::SkippedContextTooSmall),
            ("large", AttemptOutcome::Succeeded),
        ]
    );
    assert_eq!(a.calls(), 1, "context_length is not retried");
    assert_eq!((same.calls(), unknown.calls()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn content_filter_moves_only_to_content_policy_entries() {
    let a = mock("a", [Outcome::Error(ErrorKind::ContentFilter)]);
    let b = mock("b", [Outcome::text("from b")]);
    let lenient = mock("lenient", [Outcome::text("lenient")]);
    let policy = EntryConfig {
        content_policy_fallback: true,
        ..entry()
    };
    let chain_with = chain(&[(&a, entry()), (&b, entry()), (&lenient, policy)]);
    let answer = chain_with.chat(&request()).await.unwrap();
    assert_eq!(
        outcomes(&answer.attempts),
        [
            ("a", AttemptOutcome::Failed),
            ("b", AttemptOutcome::SkippedNotContentPolicy),
            ("lenient", AttemptOutcome::Succeeded),
        ]
    );

    let chain_without = chain(&[(&a, entry()), (&b, entry())]);
    let err = chain_without.chat(&request()).await.unwrap_err();
    assert_eq!(err.reason, StopReason::AllFailed);
    assert_eq!(
        err.to_string(),
        "all providers failed: a/m (content_filter 400, 1 attempt, 0.0s); b/m (skipped: not a content-policy fallback)"
    );
    assert_eq!(b.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_the_attempt_and_starts_no_other() {
    let a = mock(
        "a",
        [Outcome::delay(
            Duration::from_secs(10),
            Outcome::text("late"),
        )],
    );
    let b = mock("b", [Outcome::text("from b")]);
    let chain = FallbackChain::builder()
        .provider(Arc::clone(&a) as _, entry())
        .provider(Arc::clone(&b) as _, entry())
        .config(ChainConfig {
            deadline: Some(Duration::from_secs(5)),
            ..ChainConfig::default()
        })
        .build();
    let started = Instant::now();
    let err = chain.chat(&request()).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(err.reason, StopReason::DeadlineExceeded);
    assert_eq!(err.kind(), Some(ErrorKind::Timeout));
    assert_eq!(
        (a.calls(), b.calls()),
        (1, 0),
        "no attempt after the deadline"
    );
    // The request had no timeout of its own: the provider's configured one applies (the
    // attempt is cut at the deadline by the chain).
    assert_eq!(a.requests()[0].timeout, None);
    assert_eq!(
        err.to_string(),
        "deadline exceeded after 5.0s: a/m (timeout, 1 attempt, 5.0s)"
    );
    // Cut by the caller's deadline: neither the breaker nor health blames the provider.
    let status = &chain.status()[0];
    assert_eq!((status.error_score, status.failures), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_would_pass_the_deadline_falls_back_instead() {
    let a = mock("a", [Outcome::Error(ErrorKind::Overloaded)]);
    let b = mock("b", [Outcome::text("from b")]);
    let chain = chain(&[(&a, entry()), (&b, entry())]);
    let options = CallOptions {
        deadline: Some(Duration::from_millis(2500)),
        ..CallOptions::default()
    };
    let started = Instant::now();
    let answer = chain.chat_with(&request(), options).await.unwrap();
    // Attempts at 0 s and 1 s; the next wait (2 s) would end after 2.5 s.
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(answer.provider, "b");
    assert_eq!(a.calls(), 2);
    assert_eq!(b.requests()[0].timeout, None);
}

#[tokio::test(start_paused = true)]
async fn a_request_timeout_is_capped_at_the_time_left() {
    let a = mock("a", [Outcome::text("hi")]);
    let chain = chain(&[(&a, entry())]);
    let options = CallOptions {
        deadline: Some(Duration::from_secs(5)),
        ..CallOptions::default()
    };
    let req = request().with_timeout(Duration::from_secs(30));
    chain.chat_with(&req, options).await.unwrap();
    assert_eq!(a.requests()[0].timeout, Some(Duration::from_secs(5)));
}

#[tokio::test(start_paused = true)]
async fn health_goes_degraded_then_unhealthy_and_recovers() {
    let mut script = vec![Outcome::Error(ErrorKind::Server); 5];
    script.push(Outcome::text("a is fine"));
    let a = mock("a", script);
    let b = mock("b", [Outcome::text("from b")]);
    let never_trips = EntryConfig {
        retry: retry(1),
        breaker: steadfast_circuit::Config {
            consecutive_failures: None,
            failure_rate: None,
            ..steadfast_circuit::Config::default()
        },
        ..EntryConfig::default()
    };
    let chain = chain(&[(&a, never_trips), (&b, entry())]);
    let mut seen = Vec::new();
    for _ in 0..5 {
        chain.chat(&request()).await.unwrap();
        seen.push(chain.status()[0].health);
    }
    assert_eq!(
        seen,
        [
            Health::Healthy,
            Health::Degraded,
            Health::Degraded,
            Health::Degraded,
            Health::Unhealthy
        ]
    );
    assert_eq!(chain.status()[0].consecutive_failures, 5);
    let mut seen = Vec::new();
    for _ in 0..5 {
        assert_eq!(chain.chat(&request()).await.unwrap().provider, "a");
        seen.push(chain.status()[0].health);
    }
    assert_eq!(
        seen,
        [
            Health::Degraded,
            Health::Degraded,
            Health::Degraded,
            Health::Healthy,
            Health::Healthy
        ]
    );
    let status = &chain.status()[0];
    assert_eq!(
        (
            status.successes,
            status.failures,
            status.consecutive_failures
        ),
        (5, 5, 0)
    );
    assert_eq!(chain.status()[1].health, Health::Healthy);
}

#[tokio::test(start_paused = true)]
async fn the_report_lists_every_attempt() {
    let a = mock("a", [Outcome::Error(ErrorKind::Overloaded)]);
    let b = mock("b", [Outcome::Error(ErrorKind::RateLimited)]);
    let c = mock("c", [Outcome::text("never")]);
    let two = EntryConfig {
        retry: retry(2),
        ..EntryConfig::default()
    };
    let off = EntryConfig {
        enabled: false,
        ..entry()
    };
    let chain = chain(&[(&a, two.clone()), (&b, two), (&c, off)]);
    let err = chain.chat(&request()).await.unwrap_err();
    assert_eq!(err.reason, StopReason::AllFailed);
    assert_eq!(
        err.to_string(),
        "all providers failed: a/m (overloaded 503, 2 attempts, 1.0s); \
         b/m (rate_limited 429, 2 attempts, 1.0s); c/m (skipped: disabled)"
    );
    assert_eq!(
        err.last.as_ref().map(ProviderError::kind),
        Some(ErrorKind::RateLimited)
    );
    assert_eq!(err.elapsed(), Duration::from_secs(2));
    let json = serde_json::to_value(&err.attempts).unwrap();
    assert_eq!(json[0]["provider"], "a");
    assert_eq!(json[0]["kind"], "overloaded");
    assert_eq!(json[0]["status"], 503);
    assert_eq!(json[0]["retries"], 1);
    assert_eq!(json[0]["duration_ms"], 1000.0);
    assert_eq!(json[2]["outcome"], "skipped_disabled");
}

#[tokio::test(start_paused = true)]
async fn an_empty_chain_says_so() {
    let chain = FallbackChain::builder().build();
    assert!(chain.is_empty());
    let err = chain.chat(&request()).await.unwrap_err();
    assert_eq!(err.reason, StopReason::NoEligibleProvider);
    assert!(err.attempts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_share_one_chain() {
    // The primary fails every other call; the chain must answer every one of them.
    let a = Arc::new(ScriptedProvider::from_fn(
        ScriptedConfig {
            id: "a".into(),
            ..ScriptedConfig::default()
        },
        |_req, call| {
            if call % 2 == 0 {
                Outcome::Error(ErrorKind::Server)
            } else {
                Outcome::text("from a")
            }
        },
    ));
    let b = mock("b", [Outcome::text("from b")]);
    let once = EntryConfig {
        retry: retry(1),
        breaker: steadfast_circuit::Config {
            consecutive_failures: None,
            failure_rate: None,
            ..steadfast_circuit::Config::default()
        },
        ..EntryConfig::default()
    };
    let chain = chain(&[(&a, once.clone()), (&b, once)]);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let chain = chain.clone();
            tokio::spawn(async move { chain.chat(&request()).await.map(|a| a.provider) })
        })
        .collect();
    let mut from_b = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == "b" {
            from_b += 1;
        }
    }
    assert_eq!(from_b, 100);
    let status = chain.status();
    assert_eq!(
        status[0].successes + status[0].failures,
        u64::from(a.calls())
    );
    assert_eq!((status[0].successes, status[1].successes), (100, 100));
}

#[tokio::test(start_paused = true)]
async fn an_explicit_order_steers_the_chain() {
    let a = mock("a", [Outcome::Error(ErrorKind::Server)]);
    let b = mock("b", [Outcome::Error(ErrorKind::Overloaded)]);
    let c = mock("c", [Outcome::text("from c")]);
    let chain = chain(&[(&a, entry()), (&b, entry()), (&c, entry())]);
    let options = CallOptions {
        order: Some(vec!["c".into(), "b".into(), "c".into(), "nope".into()]),
        ..CallOptions::default()
    };
    let answer = chain.chat_with(&request(), options).await.unwrap();
    assert_eq!(answer.provider, "c");
    assert_eq!((a.calls(), b.calls(), c.calls()), (0, 0, 1));
    // Providers left out of the order are never tried.
    let options = CallOptions {
        order: Some(vec!["b".into()]),
        ..CallOptions::default()
    };
    let err = chain.chat_with(&request(), options).await.unwrap_err();
    assert_eq!(a.calls(), 0);
    assert!(err.attempts.iter().all(|r| r.provider == "b"), "{err}");
}
