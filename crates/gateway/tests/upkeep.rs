//! The metrics upkeep runs on its period while the gateway serves, and not after: a
//! Prometheus recorder installed with `install_recorder` (as `steadfast serve` does) keeps
//! every histogram sample until it is rendered or kept up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast_config::Steadfast;
use steadfast_gateway::{Gateway, GatewayConfig, METRICS_UPKEEP_EVERY};
use tokio::sync::oneshot;

const CONFIG: &str = r#"
[router]
default_group = "chat"

[deployments.only]
kind = "llamacpp-server"
model = "mock-model"
base_url = "http://127.0.0.1:9/v1"

[groups.chat]
deployments = ["only"]
"#;

/// A gateway whose upkeep counts its runs, and a listener for it.
async fn counting_gateway() -> (Gateway, tokio::net::TcpListener, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let config = GatewayConfig {
        metrics_upkeep: Some(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })),
        ..GatewayConfig::default()
    };
    let gateway = Gateway::new(Arc::new(Steadfast::from_config(CONFIG).unwrap()), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    (gateway, listener, runs)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn metrics_upkeep_runs_every_period_while_serving_and_stops_with_it() {
    let (gateway, listener, runs) = counting_gateway().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        gateway
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    // Not at start: the first run is one period in.
    tokio::time::sleep(METRICS_UPKEEP_EVERY / 2).await;
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    tokio::time::sleep(METRICS_UPKEEP_EVERY * 3).await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let after = runs.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        after,
        "upkeep ran after the server returned"
    );
}

/// A `serve` future dropped before it returned (its task aborted) takes its upkeep with it.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn metrics_upkeep_stops_when_the_serve_future_is_dropped() {
    let (gateway, listener, runs) = counting_gateway().await;
    let task =
        tokio::spawn(async move { gateway.serve(listener, std::future::pending::<()>()).await });
    tokio::time::sleep(METRICS_UPKEEP_EVERY * 2 + METRICS_UPKEEP_EVERY / 2).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "upkeep ran after the serve future was dropped"
    );
}

/// `with_prometheus` wires both: what `/metrics` renders, and the upkeep that drains the
/// histograms between scrapes (a rendered summary still holds what upkeep drained).
#[test]
fn with_prometheus_renders_and_keeps_up_the_recorder() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let config = GatewayConfig::default().with_prometheus(recorder.handle());
    metrics::with_local_recorder(&recorder, || {
        let h = metrics::histogram!("upkeep_probe_seconds");
        for i in 0..1000 {
            h.record(f64::from(i) / 1000.0);
        }
    });
    (config.metrics_upkeep.as_ref().unwrap())();
    let text = (config.metrics.as_ref().unwrap())();
    assert!(text.contains("upkeep_probe_seconds_count 1000"), "{text}");
}
