//! `GET /metrics` renders the process's Prometheus recorder, with the gateway's own
//! request counter and duration histogram in it.

mod common;

use std::sync::Arc;

use common::{body, start};
use metrics_exporter_prometheus::PrometheusBuilder;
use steadfast_gateway::GatewayConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_requests_by_route_and_status() {
    let handle = PrometheusBuilder::new().install_recorder().unwrap();
    let config = GatewayConfig {
        metrics: Some(Arc::new(move || handle.render())),
        ..common::keyed(&["metrics-key"])
    };
    let s = start("", config).await;
    let client = reqwest::Client::new();
    let ok = client
        .post(s.url("/v1/chat/completions"))
        .bearer_auth("metrics-key")
        .json(&body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let denied = client
        .post(s.url("/v1/chat/completions"))
        .json(&body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let resp = client
        .get(s.url("/metrics"))
        .bearer_auth("metrics-key")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(r#"steadfast_gateway_requests{route="/v1/chat/completions",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"steadfast_gateway_requests{route="/v1/chat/completions",status="401"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("steadfast_gateway_request_duration"),
        "{text}"
    );
    assert!(!text.contains("metrics-key"));
}
