//! A thousand streams held open through the gateway at once, then released: the in-flight
//! gauge and the open connections go back to zero.

mod common;

use common::{LONG, body, start};
use steadfast_gateway::GatewayConfig;
use steadfast_providers_mock::Fault;

const STREAMS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_streams_are_held_and_released() {
    let config = GatewayConfig {
        max_concurrency: 2 * STREAMS,
        ..GatewayConfig::default()
    };
    let s = start("", config).await;
    // Every upstream answer sends one token and then holds the stream open.
    s.primary.set_default_fault(Fault::Stall { after: 1 });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut opened = Vec::with_capacity(STREAMS);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..STREAMS {
        let client = client.clone();
        let url = s.url("/v1/chat/completions");
        tasks.spawn(async move {
            let mut resp = client.post(url).json(&body(true)).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let first = resp.chunk().await.unwrap().unwrap();
            assert!(first.starts_with(b"data: "));
            resp
        });
    }
    while let Some(resp) = tasks.join_next().await {
        opened.push(resp.unwrap());
    }
    assert_eq!(opened.len(), STREAMS);
    assert_eq!(*s.gateway.in_flight().borrow(), STREAMS);
    assert_eq!(*s.gateway.connections().borrow(), STREAMS);
    drop(opened);
    let mut in_flight = s.gateway.in_flight();
    tokio::time::timeout(LONG, in_flight.wait_for(|n| *n == 0))
        .await
        .unwrap()
        .unwrap();
    let mut connections = s.gateway.connections();
    tokio::time::timeout(LONG, connections.wait_for(|n| *n == 0))
        .await
        .unwrap()
        .unwrap();
}
