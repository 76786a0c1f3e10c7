//! `classify::reqwest` against real sockets on loopback: every transport failure the
//! fixture format names, produced for real and classified from the `reqwest::Error` alone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use steadfast_errors::{ErrorKind, Provider, Transport, classify};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// A loopback server that reads one request and then does `then` with the connection.
async fn serve_once<F, Fut>(then: F) -> SocketAddr
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        then(sock).await;
    });
    addr
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn classify_get(client: &reqwest::Client, url: &str) -> steadfast_errors::ProviderError {
    let err = client
        .get(url)
        .send()
        .await
        .expect_err("the request must fail");
    classify::reqwest(Provider::OpenAi, err)
}

#[tokio::test]
async fn connection_refused() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }; // dropped: nothing listens there now
    let e = classify_get(&client(), &format!("http://{addr}/v1/chat/completions")).await;
    assert_eq!(e.transport(), Some(Transport::ConnectRefused), "{e}");
    assert_eq!(e.kind(), ErrorKind::Network);
    assert!(e.is_retryable());
}

#[tokio::test]
async fn connection_closed_before_a_response() {
    let addr = serve_once(|sock| async move { drop(sock) }).await;
    let e = classify_get(&client(), &format!("http://{addr}/")).await;
    assert_eq!(e.transport(), Some(Transport::ConnectionReset), "{e}");
    assert_eq!(e.kind(), ErrorKind::Network);
}

#[tokio::test]
async fn tls_handshake_with_a_plain_http_server() {
    let addr = serve_once(|mut sock| async move {
        let _ = sock
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
    })
    .await;
    let e = classify_get(&client(), &format!("https://{addr}/")).await;
    assert_eq!(e.transport(), Some(Transport::Tls), "{e}");
    assert_eq!(e.kind(), ErrorKind::Network);
}

/// A resolver that knows no names: the same path a failed DNS lookup takes.
struct NoDns;

impl reqwest::dns::Resolve for NoDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            Err::<reqwest::dns::Addrs, _>(Box::new(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("failed to lookup address information: Name or service not known ({host})"),
            ))
                as Box<dyn std::error::Error + Send + Sync>)
        })
    }
}

#[tokio::test]
async fn dns_failure() {
    let client = reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(NoDns))
        .build()
        .unwrap();
    let e = classify_get(&client, "http://api.provider.invalid/v1/models").await;
    assert_eq!(e.transport(), Some(Transport::Dns), "{e}");
    assert_eq!(e.kind(), ErrorKind::Network);
}

#[tokio::test]
async fn read_timeout_while_waiting_for_the_response() {
    let addr = serve_once(|sock| async move {
        // Hold the connection open and say nothing.
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(sock);
    })
    .await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .read_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let e = classify_get(&client, &format!("http://{addr}/")).await;
    assert_eq!(e.transport(), Some(Transport::ReadTimeout), "{e}");
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn connect_timeout_against_a_full_accept_queue() {
    // A listener that never accepts, with the smallest backlog: once its accept queue is
    // full, Linux drops further SYNs and the next connect hangs until its timeout.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let _listener = socket.listen(0).unwrap();
    let mut held = Vec::new();
    let mut full = false;
    for _ in 0..64 {
        match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => held.push(s),
            Ok(Err(e)) => panic!("loopback connect failed: {e}"),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(
        full,
        "the accept queue never filled; cannot provoke a connect timeout"
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let e = classify_get(&client, &format!("http://{addr}/")).await;
    assert_eq!(e.transport(), Some(Transport::ConnectTimeout), "{e}");
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn body_that_is_not_json_is_a_protocol_error() {
    let addr = serve_once(|mut sock| async move {
        let body = "{\"choices\": [ truncated";
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let _ = sock.write_all(head.as_bytes()).await;
        let _ = sock.write_all(body.as_bytes()).await;
    })
    .await;
    let resp = client()
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap();
    let err = resp.json::<serde_json::Value>().await.unwrap_err();
    let e = classify::reqwest(Provider::OpenAi, err);
    assert_eq!(e.transport(), Some(Transport::BodyDecode), "{e}");
    assert_eq!(e.kind(), ErrorKind::Protocol);
}

#[tokio::test]
async fn body_cut_short_is_a_network_failure() {
    let addr = serve_once(|mut sock| async move {
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b")
            .await;
    })
    .await;
    let resp = client()
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap();
    let err = resp.bytes().await.unwrap_err();
    let e = classify::reqwest(Provider::Anthropic, err);
    assert_eq!(e.transport(), Some(Transport::ConnectionReset), "{e}");
    assert_eq!(e.kind(), ErrorKind::Network);
}

#[tokio::test]
async fn status_errors_classify_by_status() {
    let addr = serve_once(|mut sock| async move {
        let _ = sock
            .write_all(b"HTTP/1.1 529 Overloaded\r\ncontent-length: 0\r\n\r\n")
            .await;
    })
    .await;
    let resp = client()
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap();
    let err = resp.error_for_status().unwrap_err();
    let e = classify::reqwest(Provider::Anthropic, err);
    assert_eq!((e.kind(), e.status()), (ErrorKind::Overloaded, Some(529)));
}

#[tokio::test]
async fn a_key_in_the_url_never_reaches_the_error() {
    const KEY: &str = "AIzaSyFAKE_k3y_0123456789abcdefghijklmno";
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{addr}/v1beta/models/gemini-pro:generateContent?key={KEY}");
    let e = classify_get(&client(), &url).await;
    let shown = format!(
        "{e} | {e:?} | {:?}",
        std::error::Error::source(&e).map(|s| s.to_string())
    );
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains("AIzaSy"), "{shown}");
}

/// Regression: hyper's "message head is too large" used to fall through the text checks to
/// `network`; the response is malformed HTTP, a `protocol` failure.
#[tokio::test]
async fn a_header_block_over_100_kib_is_a_protocol_error() {
    let addr = serve_once(|mut sock| async move {
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for n in 0..2_000 {
            head.push_str(&format!("x-filler-{n:04}: {}\r\n", "h".repeat(48)));
        }
        head.push_str("content-length: 0\r\n\r\n");
        assert!(head.len() > 100 * 1024);
        let _ = sock.write_all(head.as_bytes()).await;
    })
    .await;
    let e = classify_get(&client(), &format!("http://{addr}/")).await;
    assert_eq!(e.transport(), Some(Transport::MalformedResponse), "{e}");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.is_retryable(), "protocol is retried once");
}
