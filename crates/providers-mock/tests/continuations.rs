//! The fault server's continuation modes, its fired-fault counters and its connection
//! resets, over real loopback sockets.

use serde_json::{Value, json};
use steadfast_providers_mock::{Continuation, Fault, FaultServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn server(continuation: Continuation) -> FaultServer {
    FaultServer::with_config(ServerConfig {
        answer_tokens: 6,
        continuation,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

/// The text of a non-streamed OpenAI-format answer to `messages`.
async fn answer(server: &FaultServer, messages: Value) -> String {
    let body = json!({"model": "mock-model", "messages": messages});
    let reply: Value = reqwest::Client::new()
        .post(server.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn with_prefix(prefix: &str) -> Value {
    json!([
        {"role": "user", "content": "Count"},
        {"role": "assistant", "content": prefix},
    ])
}

#[tokio::test]
async fn each_continuation_mode_answers_a_prefix_as_documented() {
    let cases = [
        (Continuation::Exact, " t4 t5"),
        (Continuation::RepeatTail { bytes: 6 }, " t2 t3 t4 t5"),
        (Continuation::Restart, "t0 t1 t2 t3 t4 t5"),
        (Continuation::Echo, "t0 t1 t2 t3 t4 t5"),
        (Continuation::Diverge, "t0 t1 t2\nd4 d5"),
    ];
    for (mode, expected) in cases {
        let server = server(mode).await;
        assert_eq!(
            answer(&server, with_prefix("t0 t1 t2 t3")).await,
            expected,
            "{mode:?}"
        );
        assert_eq!(server.continuation_count(), 1, "{mode:?}");
        // Without a prefix every mode answers the whole answer, and nothing is a continuation.
        let plain = json!([{"role": "user", "content": "Count"}]);
        assert_eq!(answer(&server, plain).await, "t0 t1 t2 t3 t4 t5");
        assert_eq!(server.continuation_count(), 1, "{mode:?}");
    }
}

#[tokio::test]
async fn a_prefix_followed_by_a_request_to_continue_is_continued() {
    let server = server(Continuation::Exact).await;
    let messages = json!([
        {"role": "user", "content": "Count"},
        {"role": "assistant", "content": "t0 t1"},
        {"role": "user", "content": "Your previous reply was cut off. Continue it exactly where it stopped."},
    ]);
    assert_eq!(answer(&server, messages).await, " t2 t3 t4 t5");
    // Another question after an answer is a new turn, not a continuation.
    let messages = json!([
        {"role": "user", "content": "Count"},
        {"role": "assistant", "content": "t0 t1"},
        {"role": "user", "content": "And now?"},
    ]);
    assert_eq!(answer(&server, messages).await, "t0 t1 t2 t3 t4 t5");
    assert_eq!(server.continuation_count(), 1);
}

#[tokio::test]
async fn fired_faults_are_counted_by_kind() {
    let server = server(Continuation::Exact).await;
    server.push_all([Fault::status(503), Fault::None, Fault::status(429)]);
    let plain = json!([{"role": "user", "content": "Count"}]);
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let body = json!({"model": "m", "messages": plain});
        let _ = client
            .post(server.url("/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await;
    }
    assert_eq!(server.faults_fired_total(), 2);
    assert_eq!(server.faults_fired().get("status"), Some(&2));
}

#[tokio::test]
async fn a_connection_reset_is_a_reset_not_a_clean_close() {
    let server = server(Continuation::Exact).await;
    server.push(Fault::ResetBeforeResponse);
    let mut sock = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let body = r#"{"model":"m","messages":[{"role":"user","content":"Hi"}]}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let read = sock.read(&mut buf).await;
    match read {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        Ok(n) => panic!("expected a reset, the server closed cleanly after {n} bytes"),
    }
    assert_eq!(server.faults_fired().get("reset_before_response"), Some(&1));
}

#[tokio::test]
async fn only_answers_sent_whole_report_usage() {
    let server = server(Continuation::Exact).await;
    server.push_all([
        Fault::None,
        Fault::CutAfter { chunks: 2 },
        Fault::status(503),
    ]);
    let plain = json!([{"role": "user", "content": "Count"}]);
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let body = json!({"model": "m", "messages": plain, "stream": true, "stream_options": {"include_usage": true}});
        let _ = client
            .post(server.url("/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await;
    }
    assert_eq!(server.reported_usage(), (1, 6));
    // The cut answer reported nothing; what a client may bill for it is bounded by its own
    // count (6) or a token per 4 of its 17 characters (5), whichever is more. A refusal by
    // status is no answer.
    assert_eq!(server.unreported_output_bound(), 6);
}

#[tokio::test]
async fn a_request_offering_tools_ends_with_a_streamed_tool_call() {
    let server = server(Continuation::Exact).await;
    let body = json!({
        "model": "m", "stream": true,
        "messages": [{"role": "user", "content": "Count"}],
        "tools": [{"type": "function", "function": {"name": "count", "parameters": {"type": "object"}}}],
    });
    let text = reqwest::Client::new()
        .post(server.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut args = String::new();
    let mut finish = None;
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let Ok(chunk) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let choice = &chunk["choices"][0];
        if let Some(piece) = choice["delta"]["tool_calls"][0]["function"]["arguments"].as_str() {
            args.push_str(piece);
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        }
    }
    let (name, expected) = FaultServer::tool_call(6);
    assert_eq!(name, "count");
    assert_eq!(args, expected);
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert!(
        text.matches("\"arguments\":").count() > 3,
        "streamed in pieces"
    );
}
