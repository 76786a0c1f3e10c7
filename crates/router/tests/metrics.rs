//! The router's metrics scraped as Prometheus text after a scripted outage: the primary
//! fails until its breaker opens, the fallback answers. In its own test binary so the
//! recorder is this test's alone.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusBuilder;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, RouteOptions, Router};

fn mock(id: &str, outcomes: Vec<Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, outcomes))
}

/// One attempt per call; the breaker opens after two failures in a row.
fn pc(priority: i32) -> ProviderConfig {
    let mut c = ProviderConfig {
        priority,
        ..ProviderConfig::default()
    };
    c.entry.retry.max_attempts = 1;
    c.entry.breaker.consecutive_failures = Some(2);
    c
}

fn request() -> ChatRequest {
    ChatRequest::new("model", vec![Message::user("Hello there")])
}

/// The sample lines of `text` that start with `prefix`, sorted. Only series that moved are
/// rendered (the breaker and in-flight gauges are set when the router is built).
fn samples<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.starts_with(prefix))
        .collect();
    lines.sort_unstable();
    lines
}

#[test]
fn an_outage_shows_the_trip_the_fallbacks_and_the_error_kind() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let router = Router::builder()
                .name("chat-group")
                .provider(
                    mock("primary", vec![Outcome::Error(ErrorKind::Server)]),
                    pc(1),
                )
                .provider(mock("backup", vec![Outcome::text("hi")]), pc(2))
                .build();
            for _ in 0..3 {
                let answer = router
                    .chat(&request(), RouteOptions::default())
                    .await
                    .unwrap();
                assert_eq!(answer.provider, "backup");
            }
            router.set_enabled("backup", false);
            router.set_enabled("primary", false);
            // No provider left: refused before any call.
            router
                .chat(&request(), RouteOptions::default())
                .await
                .unwrap_err();
        });
    });
    let text = handle.render();
    let g = "model_group=\"chat-group\"";
    assert_eq!(
        samples(&text, "steadfast_breaker_transitions{"),
        [format!(
            "steadfast_breaker_transitions{{{g},provider=\"primary\",from=\"closed\",to=\"open\"}} 1"
        )],
        "{text}"
    );
    assert_eq!(
        samples(&text, "steadfast_breaker_state{"),
        [
            format!("steadfast_breaker_state{{{g},provider=\"backup\"}} 0"),
            format!("steadfast_breaker_state{{{g},provider=\"primary\"}} 2"),
        ],
        "{text}"
    );
    // Two calls reached the primary and failed with `server`; the third was refused by its
    // open breaker. Every call moved on from it.
    let attempts = samples(&text, "steadfast_attempts{");
    assert_eq!(
        attempts,
        [
            format!("steadfast_attempts{{{g},provider=\"backup\",outcome=\"success\"}} 3"),
            format!("steadfast_attempts{{{g},provider=\"primary\",outcome=\"server\"}} 2"),
        ],
        "{text}"
    );
    assert_eq!(
        samples(&text, "steadfast_fallbacks{"),
        [format!("steadfast_fallbacks{{{g},provider=\"primary\"}} 3")],
        "{text}"
    );
    let rejected = samples(&text, "steadfast_rejected{");
    assert_eq!(
        rejected,
        [
            format!("steadfast_rejected{{{g},reason=\"breaker\"}} 1"),
            format!("steadfast_rejected{{{g},reason=\"no_provider\"}} 1"),
        ],
        "{text}"
    );
    let requests = samples(&text, "steadfast_requests{");
    assert_eq!(
        requests,
        [
            format!("steadfast_requests{{{g},outcome=\"success\"}} 3"),
            format!("steadfast_requests{{{g},outcome=\"unknown\"}} 1"),
        ],
        "{text}"
    );
    assert_eq!(
        samples(&text, "steadfast_in_flight{"),
        [format!("steadfast_in_flight{{{g}}} 0")],
        "{text}"
    );
    // Four calls timed; the answered three with their tokens (2 in, 1 out each).
    assert!(
        text.contains(&format!(
            "gen_ai_client_operation_duration_count{{gen_ai_operation_name=\"chat\",{g}}} 3"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "gen_ai_client_token_usage_sum{{gen_ai_operation_name=\"chat\",{g},gen_ai_token_type=\"input\"}} 6"
        )),
        "{text}"
    );
    // No label carries the prompt.
    assert!(!text.contains("Hello"), "{text}");
}
