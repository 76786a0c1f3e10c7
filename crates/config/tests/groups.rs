//! Calls through model groups: fallback inside a group, to fallback groups by error kind,
//! and the changes a manager makes at run time.

use std::sync::Arc;

use steadfast_config::{CallError, ConfigFile, Format, Steadfast};
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, StrategyKind};

fn build(text: &str) -> Steadfast {
    let file = ConfigFile::parse(text, Format::Toml).unwrap_or_else(|e| panic!("{e}"));
    Steadfast::build(&file, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

fn request(group: &str) -> ChatRequest {
    ChatRequest::new(group, vec![Message::user("hi")])
}

const GROUPS: &str = r#"
[deployments.small]
kind = "mock"
script = [{ error = "context_length" }]
retry = { max_attempts = 1 }

[deployments.long]
kind = "mock"
script = [{ text = "from long" }]

[deployments.flaky]
kind = "mock"
script = [{ error = "server" }]
retry = { max_attempts = 1 }

[deployments.steady]
kind = "mock"
model = "steady-model"
script = [{ text = "from steady" }]

[deployments.picky]
kind = "mock"
script = [{ error = "invalid_request" }]
retry = { max_attempts = 1 }

[groups.short]
deployments = ["small"]
context_window_fallbacks = ["long"]
fallbacks = ["backup"]

[groups.long]
deployments = ["long"]

[groups.fast]
deployments = ["flaky"]
fallbacks = ["backup"]

[groups.backup]
deployments = ["steady"]

[groups.strict]
deployments = ["picky"]
fallbacks = ["backup"]
"#;

#[tokio::test(start_paused = true)]
async fn a_failed_group_falls_back_to_its_fallback_group() {
    let sf = build(GROUPS);
    let answer = sf
        .chat(Some("fast"), &request("fast"), sf.route_options())
        .await
        .unwrap();
    assert_eq!(
        (answer.provider.as_str(), answer.model.as_str()),
        ("steady", "steady-model")
    );
    assert_eq!(answer.value.text, "from steady");
}

#[tokio::test(start_paused = true)]
async fn context_length_uses_the_context_window_fallbacks() {
    let sf = build(GROUPS);
    let answer = sf
        .chat(Some("short"), &request("short"), sf.route_options())
        .await
        .unwrap();
    assert_eq!(answer.provider, "long");
}

#[tokio::test(start_paused = true)]
async fn a_request_that_fails_everywhere_does_not_move_group() {
    let sf = build(GROUPS);
    let err = sf
        .chat(Some("strict"), &request("strict"), sf.route_options())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Failed { group, .. } if group == "strict"),
        "{err}"
    );
    assert_eq!(err.kind(), Some(ErrorKind::InvalidRequest));
}

#[tokio::test(start_paused = true)]
async fn without_fallback_only_the_named_group_is_tried() {
    let sf = build(GROUPS);
    sf.set_fallback_default(false);
    let err = sf
        .chat(Some("fast"), &request("fast"), sf.route_options())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Failed { group, .. } if group == "fast"),
        "{err}"
    );
    sf.set_fallback_default(true);
    assert!(
        sf.chat(Some("fast"), &request("fast"), sf.route_options())
            .await
            .is_ok()
    );
    let unknown = sf
        .chat(Some("nope"), &request("nope"), sf.route_options())
        .await
        .unwrap_err();
    assert!(matches!(unknown, CallError::UnknownGroup(g) if g == "nope"));
}

#[tokio::test(start_paused = true)]
async fn streams_fall_back_across_groups_too() {
    use futures_util::StreamExt;
    let sf = build(GROUPS);
    let mut answer = sf
        .chat_stream(Some("fast"), &request("fast"), sf.route_options())
        .await
        .unwrap();
    assert_eq!(answer.provider, "steady");
    let mut text = String::new();
    while let Some(event) = answer.value.next().await {
        if let steadfast_providers_core::StreamEvent::TextDelta { text: t } = event.unwrap() {
            text.push_str(&t);
        }
    }
    assert_eq!(text, "from steady");
}

#[tokio::test(start_paused = true)]
async fn a_router_wide_fallback_off_in_the_file_is_the_default() {
    let sf = build(&format!(
        "[router]\nfallback = false\ndefault_group = \"fast\"\n{GROUPS}"
    ));
    assert!(!sf.route_options().fallback);
    assert_eq!(sf.default_group(), "fast");
    assert!(
        sf.chat(None, &request("fast"), sf.route_options())
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn deployments_and_strategies_change_at_run_time() {
    let sf = build(GROUPS);
    let extra = Arc::new(ScriptedProvider::new(
        ScriptedConfig {
            id: "extra".into(),
            ..ScriptedConfig::default()
        },
        vec![Outcome::text("from extra")],
    ));
    let first = ProviderConfig {
        priority: -1,
        ..ProviderConfig::default()
    };
    assert!(sf.add_deployment("fast", extra.clone(), first.clone()));
    assert!(
        !sf.add_deployment("fast", extra, first),
        "an id is added once"
    );
    let answer = sf
        .chat(Some("fast"), &request("fast"), sf.route_options())
        .await
        .unwrap();
    assert_eq!(answer.provider, "extra");

    assert!(sf.set_strategy("fast", StrategyKind::RoundRobin));
    assert!(!sf.set_strategy("nope", StrategyKind::RoundRobin));

    assert!(sf.remove_deployment("fast", "extra"));
    assert!(!sf.remove_deployment("fast", "extra"));
    let answer = sf
        .chat(Some("fast"), &request("fast"), sf.route_options())
        .await
        .unwrap();
    assert_eq!(answer.provider, "steady", "back to the fallback group");

    assert!(sf.set_enabled("steady", false));
    assert!(
        sf.chat(Some("backup"), &request("backup"), sf.route_options())
            .await
            .is_err()
    );
    assert!(!sf.set_enabled("nobody", false));
}

#[tokio::test(start_paused = true)]
async fn health_is_probed_once_per_deployment() {
    let sf = build(GROUPS);
    let probed = sf.probe_health().await;
    let names: Vec<&str> = probed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(names, ["flaky", "long", "picky", "small", "steady"]);
    assert!(probed.iter().all(|c| c.passed));
    assert_eq!(sf.stats().len(), 5);
}
