//! Every byte read from the server is under a timer: a stream request answered with a whole
//! JSON body that stalls half way ends with a `timeout` instead of hanging, and streams have
//! a total deadline by default.

use std::time::Duration;

use steadfast_errors::ErrorKind;
use steadfast_providers_core::http::DEFAULT_STREAM_TOTAL;
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider, Preset};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that answers every connection with `200 application/json`, `content-length:
/// 100`, one byte of body, then silence (the connection stays open until the test ends).
async fn stalling_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
                )
                .await;
            held.push(socket);
        }
    });
    format!("http://{addr}/v1")
}

fn provider(base_url: String) -> OpenAiProvider {
    OpenAiProvider::new(OpenAiConfig {
        base_url,
        api_key: Some(ApiKey::new("sk-timer-test")),
        timeout: Duration::from_millis(300),
        ..OpenAiConfig::openai()
    })
}

fn hi() -> ChatRequest {
    ChatRequest::new("gpt-4o", vec![Message::user("Hi")])
}

#[tokio::test]
async fn a_stream_request_answered_by_a_stalled_json_body_times_out() {
    let p = provider(stalling_server().await);
    // The guard only keeps a regression from hanging the suite; the provider's own timer
    // (300 ms) must end the call long before it.
    let result = tokio::time::timeout(Duration::from_secs(30), p.chat_stream(&hi()))
        .await
        .expect("the call hung: the body read is under no timer");
    let Err(err) = result else {
        panic!("a stalled body cannot be a stream")
    };
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[tokio::test]
async fn a_whole_answer_with_a_stalled_body_times_out() {
    let p = provider(stalling_server().await);
    let result = tokio::time::timeout(Duration::from_secs(30), p.chat(&hi()))
        .await
        .expect("the call hung");
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Timeout);
}

#[test]
fn every_preset_bounds_a_stream_by_a_total_deadline() {
    for preset in Preset::ALL {
        let total = OpenAiConfig::preset(preset).stream_timeouts.total;
        assert_eq!(total, Some(DEFAULT_STREAM_TOTAL), "{preset}");
    }
}
