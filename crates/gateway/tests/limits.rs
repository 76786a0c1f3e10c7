//! The server's own limits on real loopback: a slowloris client is cut, a full gateway
//! refuses with 503, and a shutdown ends streams still open after the grace with the
//! in-band error.

mod common;

use std::time::Duration;

use common::{LONG, body, events, start};
use serde_json::Value;
use steadfast_gateway::GatewayConfig;
use steadfast_providers_mock::Fault;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(start_paused = true)]
async fn a_client_sending_headers_slower_than_the_timeout_is_cut() {
    let config = GatewayConfig {
        header_read_timeout: Duration::from_secs(2),
        ..GatewayConfig::default()
    };
    let s = start("", config).await;
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n";
    let mut cut = false;
    for byte in head {
        if conn.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut buf = [0u8; 256];
        // Anything the server says (a 408, or the end of the connection) means it gave up.
        if tokio::time::timeout(Duration::from_millis(1), conn.read(&mut buf))
            .await
            .is_ok()
        {
            cut = true;
            break;
        }
    }
    assert!(cut, "the server waited for the whole slow header");
    let mut connections = s.gateway.connections();
    tokio::time::timeout(LONG, connections.wait_for(|n| *n == 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.primary.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_gateway_refuses_with_503_and_retry_after() {
    let config = GatewayConfig {
        max_concurrency: 1,
        ..GatewayConfig::default()
    };
    let s = start("", config).await;
    s.primary.set_default_fault(Fault::Stall { after: 1 });
    let client = reqwest::Client::new();
    let mut held = client
        .post(s.url("/v1/chat/completions"))
        .json(&body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), 200);
    let _first = held.chunk().await.unwrap();
    let refused = client
        .post(s.url("/v1/chat/completions"))
        .json(&body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["code"], "gateway_busy");
    drop(held);
    let mut in_flight = s.gateway.in_flight();
    tokio::time::timeout(LONG, in_flight.wait_for(|n| *n == 0))
        .await
        .unwrap()
        .unwrap();
    s.primary.set_default_fault(Fault::None);
    let ok = client
        .post(s.url("/v1/chat/completions"))
        .json(&body(false))
        .send()
        .await
        .unwrap();
    let status = ok.status();
    assert_eq!(status, 200, "{}", ok.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_stream_still_open_after_the_grace_with_the_in_band_error() {
    let config = GatewayConfig {
        shutdown_grace: Duration::from_millis(100),
        ..GatewayConfig::default()
    };
    let s = start("", config).await;
    s.primary.set_default_fault(Fault::Stall { after: 2 });
    let client = reqwest::Client::new();
    let mut resp = client
        .post(s.url("/v1/chat/completions"))
        .json(&body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut text = String::new();
    while !text.contains("\"content\":\"t0\"") {
        let chunk = resp.chunk().await.unwrap().expect("the stream ended early");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let addr = s.addr;
    let stopped = tokio::spawn(s.shutdown());
    while let Some(chunk) = tokio::time::timeout(LONG, resp.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let ev = events(&text);
    assert!(!text.contains("[DONE]"), "{text}");
    let last: Value = serde_json::from_str(ev.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "shutting_down");
    tokio::time::timeout(LONG, stopped)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_ends_within_the_grace_ends_cleanly() {
    let config = GatewayConfig {
        shutdown_grace: Duration::from_secs(60),
        ..GatewayConfig::default()
    };
    let s = start("", config).await;
    s.primary.push(Fault::SlowDrip {
        per_chunk: Duration::from_millis(5),
    });
    let client = reqwest::Client::new();
    let mut resp = client
        .post(s.url("/v1/chat/completions"))
        .json(&body(true))
        .send()
        .await
        .unwrap();
    let mut text = String::from_utf8_lossy(&resp.chunk().await.unwrap().unwrap()).into_owned();
    let answer = s.primary.answer();
    let stopped = tokio::spawn(s.shutdown());
    while let Some(chunk) = tokio::time::timeout(LONG, resp.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(common::streamed_text(&text), answer);
    assert_eq!(events(&text).last().unwrap(), "[DONE]");
    tokio::time::timeout(LONG, stopped)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
