//! The log_metrics switch: a router with a `JsonLinesObserver` writes one seed-000 JSON line
//! per attempt, as it happens, to a writer the test holds — no tracing subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use steadfast_config::JsonLinesObserver;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, RouteOptions, Router};

/// A writer whose bytes the test reads while the observer still holds it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn mock(id: &str, outcomes: Vec<Outcome>) -> Arc<ScriptedProvider> {
    let config = ScriptedConfig {
        id: id.into(),
        ..ScriptedConfig::default()
    };
    Arc::new(ScriptedProvider::new(config, outcomes))
}

#[tokio::test(start_paused = true)]
async fn one_json_line_per_attempt_retries_and_fallback_included() {
    let buffer = Shared::default();
    let mut primary = ProviderConfig {
        priority: 1,
        ..ProviderConfig::default()
    };
    primary.entry.retry.max_attempts = 2;
    primary.entry.retry.budget = None;
    let router = Router::builder()
        .provider(
            mock(
                "primary",
                vec![
                    Outcome::Error(ErrorKind::RateLimited),
                    Outcome::Error(ErrorKind::Server),
                ],
            ),
            primary,
        )
        .provider(
            mock("backup", vec![Outcome::text("hi")]),
            ProviderConfig {
                priority: 2,
                ..ProviderConfig::default()
            },
        )
        .observer(Arc::new(JsonLinesObserver::new(buffer.clone())))
        .build();
    let answer = router
        .chat(
            &ChatRequest::new("model", vec![Message::user("secret prompt")]),
            RouteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(answer.provider, "backup");
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("secret prompt"));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l["provider"].as_str().unwrap(),
                l["success"].as_bool().unwrap(),
                l["error_category"].as_str(),
                l["status"].as_u64(),
                l["retry_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("primary", false, Some("throttled"), Some(429), 0),
            ("primary", false, Some("transient"), Some(500), 1),
            ("backup", true, None, None, 0),
        ]
    );
    assert!(lines.iter().all(|l| l["duration_ms"].is_number()));
}
