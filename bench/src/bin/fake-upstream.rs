//! A fake OpenAI-compatible upstream for the out-of-process benchmark: a minimal HTTP/1.1
//! responder (keep-alive, `content-length` request bodies) on 127.0.0.1.
//!
//! It answers every POST with the same small chat completion, or — when the body asks for
//! `"stream":true` (or `"stream": true`) — with a chunked SSE stream of [`STREAM_TOKENS`] chunks and `[DONE]`, one
//! write per chunk. It prints `listening on <addr>` once bound and exits when its standard
//! input closes, so it never outlives the benchmark that started it.
//!
//! `--delay-ms N` makes it wait N milliseconds (a timer, not a busy loop: every connection
//! waits at once) before each answer, as a model's latency would; 0 by default.
#![allow(clippy::print_stdout)]

mod common;

use std::time::Duration;

use common::arg;

use tokio::net::{TcpListener, TcpStream};

/// Chunks in a streamed answer (each one token), before `[DONE]`.
const STREAM_TOKENS: usize = 16;

const ANSWER: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"mock-model","choices":[{"index":0,"message":{"role":"assistant","content":"one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":16,"total_tokens":21}}"#;

const CHUNK: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"mock-model","choices":[{"index":0,"delta":{"content":"token "},"finish_reason":null}]}"#;

const LAST: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"mock-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":16,"total_tokens":21}}"#;

fn main() {
    let port: u16 = arg("--port").unwrap_or(0);
    let delay = Duration::from_millis(arg("--delay-ms").unwrap_or(0));
    common::exit_with_stdin();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("a loopback port");
        common::announce(listener.local_addr().expect("a bound address"));
        loop {
            if let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve(socket, delay));
            }
        }
    });
}

/// Reads into `buf` once; `false` at end of stream or on an error.
async fn read_some(socket: &TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if socket.readable().await.is_err() {
            return false;
        }
        match socket.try_read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return false,
        }
    }
}

async fn write_all(socket: &TcpStream, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        if socket.writable().await.is_err() {
            return false;
        }
        match socket.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return false,
        }
    }
    true
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `content-length` of a request head, 0 when absent.
fn content_length(head: &[u8]) -> usize {
    let head = String::from_utf8_lossy(head);
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn serve(socket: TcpStream, delay: Duration) {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if !read_some(&socket, &mut buf).await {
                return;
            }
        };
        let body_len = content_length(&buf[..head_end]);
        while buf.len() < head_end + body_len {
            if !read_some(&socket, &mut buf).await {
                return;
            }
        }
        let body = &buf[head_end..head_end + body_len];
        // Compact JSON (serde) or with a space after the colon (Python clients).
        let stream =
            find(body, b"\"stream\":true").is_some() || find(body, b"\"stream\": true").is_some();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let ok = if stream {
            answer_stream(&socket).await
        } else {
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
                ANSWER.len()
            );
            write_all(&socket, response.as_bytes()).await
        };
        if !ok {
            return;
        }
        buf.drain(..head_end + body_len);
    }
}

async fn answer_stream(socket: &TcpStream) -> bool {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
    if !write_all(socket, head.as_bytes()).await {
        return false;
    }
    let events = std::iter::repeat_n(CHUNK, STREAM_TOKENS)
        .chain([LAST, "[DONE]"])
        .map(|data| format!("data: {data}\n\n"));
    for event in events {
        let chunk = format!("{:x}\r\n{event}\r\n", event.len());
        if !write_all(socket, chunk.as_bytes()).await {
            return false;
        }
    }
    write_all(socket, b"0\r\n\r\n").await
}
