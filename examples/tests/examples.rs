//! Runs every example against its local servers and checks what it claims to show, so that
//! an example cannot rot: each `run` returns a summary of what happened, and the assertions
//! here fail when a fallback, a retry, a resume, a breaker trip or a reset did not happen.

#[allow(dead_code)]
#[path = "../examples/seed000_video.rs"]
mod seed000_video;

#[allow(dead_code)]
#[path = "../examples/seed001_cost_chain.rs"]
mod seed001_cost_chain;

#[allow(dead_code)]
#[path = "../examples/seed002_provider_manager.rs"]
mod seed002_provider_manager;

#[allow(dead_code)]
#[path = "../examples/seed003_reliability.rs"]
mod seed003_reliability;

#[allow(dead_code)]
#[path = "../examples/seed004_failover.rs"]
mod seed004_failover;

use steadfast_circuit::State;
use steadfast_errors::Category5;
use steadfast_fallback::Health;
use steadfast_providers_core::JobStatus;

/// Runs an example's `run` and returns its summary and what it printed.
macro_rules! run {
    ($example:ident) => {{
        let mut out = Vec::new();
        let summary = $example::run(&mut out).await.expect("the example runs");
        let printed = String::from_utf8(out).expect("the example prints UTF-8");
        assert!(!printed.is_empty(), "the example printed nothing");
        (summary, printed)
    }};
}

#[tokio::test]
async fn seed000_video_falls_back_to_runway_and_records_every_attempt() {
    let (s, printed) = run!(seed000_video);

    assert_eq!(s.auto_provider, "runway");
    let providers: Vec<&str> = s
        .auto_attempts
        .iter()
        .map(|a| a.provider.as_str())
        .collect();
    assert_eq!(
        providers,
        ["grok", "grok", "grok", "runway"],
        "grok retried 3 times, then runway"
    );
    let retry_counts: Vec<u32> = s.auto_attempts.iter().map(|a| a.retry_count).collect();
    assert_eq!(retry_counts, [0, 1, 2, 0]);
    let categories: Vec<Option<Category5>> =
        s.auto_attempts.iter().map(|a| a.error_category).collect();
    assert_eq!(
        categories,
        [
            Some(Category5::Throttled),
            Some(Category5::Transient),
            Some(Category5::Transient),
            None
        ]
    );
    assert!(s.auto_attempts[3].success && !s.auto_attempts[0].success);
    assert_eq!(s.progress.last(), Some(&JobStatus::Succeeded));
    assert!(s.progress.contains(&JobStatus::Running));
    assert_eq!(s.requested_duration, Some(8), "the duration reached Runway");

    assert_eq!(s.preferred_provider, "runway");
    assert_eq!(
        s.preferred_attempts.len(),
        1,
        "prefer=runway never calls grok"
    );

    assert_eq!(
        s.no_fallback_error,
        "video generation failed: grok: overloaded (503) after 3 attempts (fallback disabled)"
    );
    assert!(s.no_fallback_attempts.iter().all(|a| a.provider == "grok"));
    assert_eq!(s.no_fallback_attempts.len(), 3);
    assert!(printed.contains("\"provider\":\"grok\""), "{printed}");
    assert!(!printed.contains("xai-local-example") && !printed.contains("key_local_example"));
}

#[tokio::test]
async fn seed001_cost_chain_tracks_cost_across_fallbacks_and_resets() {
    let (s, printed) = run!(seed001_cost_chain);

    assert_eq!(
        s.transient,
        ("anthropic".to_owned(), 2),
        "a 429 is retried, no fallback"
    );
    assert_eq!(
        s.fallback_provider, "deepseek",
        "the cheapest provider takes over"
    );
    assert!(s.fallback_cost > 0.0);
    assert!(
        s.all_failed.starts_with("all providers failed"),
        "{}",
        s.all_failed
    );
    assert_eq!(
        s.all_failed_order,
        ["anthropic", "deepseek", "gpt-mini", "grok-fast"],
        "the primary, then cheapest first"
    );

    let stats = &s.stats;
    assert!(stats.fallback_attempts >= 1);
    assert_eq!(stats.total_tokens, stats.input_tokens + stats.output_tokens);
    assert!(stats.total_tokens > 0);
    assert!(stats.cost > s.fallback_cost, "both answers are billed");
    assert!((stats.cost - s.provider_cost_sum).abs() < 1e-12);
    for id in ["anthropic", "deepseek", "gpt-mini", "grok-fast"] {
        assert!(
            stats.failed_providers.iter().any(|p| p == id),
            "{id} failed in scenario 3"
        );
    }

    let reset = &s.after_reset;
    assert_eq!(
        (reset.input_tokens, reset.output_tokens, reset.total_tokens),
        (0, 0, 0)
    );
    assert_eq!(reset.cost, 0.0);
    assert_eq!(reset.fallback_attempts, 0);
    assert!(reset.failed_providers.is_empty());
    assert!(printed.contains("get_stats()"));
    assert!(!printed.contains("sk-local-example"));
}

#[tokio::test]
async fn seed002_provider_manager_streams_through_a_cut_and_reports_health() {
    let (s, printed) = run!(seed002_provider_manager);

    assert_eq!(s.execute.0, "claude");
    assert_eq!(s.execute.1, ["openai: auth"]);

    let (provider, text, resumes) = &s.stream;
    assert_eq!(provider, "claude");
    assert_eq!(text, &s.expected, "every token once across the cut");
    assert_eq!(*resumes, 1);
    assert_eq!(s.lost_duplicated, (0, 0));

    let openai = &s.status_after_two_calls[0];
    assert_eq!(
        (openai.id.as_str(), openai.health),
        ("openai", Health::Degraded)
    );
    assert_eq!(s.status_after_two_calls[1].health, Health::Healthy);
    let openai = &s.status_at_end[0];
    assert_eq!(openai.health, Health::Unhealthy);
    assert_eq!(openai.breaker, State::Open);
    assert!(s.status_at_end[1].successes >= 5, "claude took every call");
    assert!(printed.contains("'health': 'unhealthy'"), "{printed}");
}

#[tokio::test]
async fn seed003_reliability_retries_trips_and_resumes_with_metrics() {
    let (s, _) = run!(seed003_reliability);

    assert_eq!((s.retry_attempts, s.retry_answered), (3, true));
    let m = &s.metrics;
    assert_eq!(m.retries.len(), 2);
    assert_eq!(m.retries[0].error_type, "rate_limited");
    assert!(
        m.retries[0].honoured_retry_after,
        "the 429's Retry-After was honoured"
    );
    assert_eq!(m.retries[0].delay_ms, 40);
    assert_eq!(m.retries[1].error_type, "server");

    assert_eq!(
        s.breaker_calls,
        ["failed", "failed", "failed", "rejected", "answered"]
    );
    assert_eq!(
        s.requests_while_open, 0,
        "an open breaker keeps calls off the server"
    );
    assert_eq!(s.breaker_state, State::Closed);
    assert!(m.breaker_states.starts_with(&[
        "xai: closed -> open".to_owned(),
        "xai: open -> half-open".to_owned(),
        "xai: half-open -> closed".to_owned(),
    ]));
    assert!(
        (s.xai_error_rate - 0.75).abs() < 1e-9,
        "3 of 4 calls failed"
    );

    assert_eq!(s.stream_text, s.expected);
    assert_eq!(s.resumes, 2, "resumed after the cut and after the stall");
    assert_eq!(s.lost_duplicated, (0, 0));
}

#[tokio::test]
async fn seed004_failover_balances_fails_over_and_returns_to_the_primary() {
    let (s, printed) = run!(seed004_failover);

    let count = |answered: &[String], id: &str| answered.iter().filter(|p| *p == id).count();
    for (kind, answered) in &s.strategies {
        assert_eq!(answered.len(), 6, "{kind:?}");
    }
    let by = |i: usize| &s.strategies[i].1;
    assert_eq!(
        count(by(0), "pollinations"),
        6,
        "priority: always the primary"
    );
    assert_eq!(
        count(by(1), "pollinations"),
        3,
        "round robin: every other call"
    );
    assert_eq!(count(by(2), "pollinations"), 4, "weighted 2:1");

    assert_eq!(s.preferred, "openrouter");
    assert_eq!(s.outage.len(), 3);
    assert!(
        s.outage
            .iter()
            .all(|(p, fell_back)| p == "openrouter" && *fell_back)
    );
    assert_eq!(s.breaker_during_outage, "open");
    assert_eq!(
        s.after_recovery, "pollinations",
        "traffic returned to the primary"
    );

    let m = &s.monitor;
    assert!(m.first.contains(&("pollinations".to_owned(), false)));
    assert_eq!(
        m.while_down, "openrouter",
        "the monitor took the primary out"
    );
    assert!(m.second.contains(&("pollinations".to_owned(), true)));
    assert_eq!(m.after, "pollinations", "and put it back");
    assert_eq!(
        s.disabled_enabled,
        ("openrouter".to_owned(), "pollinations".to_owned())
    );

    assert_eq!(s.image.0, 2, "the 502 was retried");
    assert!(s.image.1 > 0, "an image came back");

    assert!(s.stats.requests > 0 && s.stats.failovers >= 3);
    assert_eq!(s.after_reset.requests, 0);
    assert_eq!(s.after_reset.failovers, 0);
    assert!(s.after_reset.providers.iter().all(|p| p.requests == 0));
    assert!(printed.contains("get_provider_status()"));
}
