//! `timeouts.connect`: a deployment whose address takes connections but never completes
//! them fails with a connect timeout, not after the request timeout.

use std::time::Duration;

use steadfast_config::{CallError, ConfigFile, Format, Steadfast};
use steadfast_errors::{ErrorKind, Transport};
use steadfast_providers_core::{ChatRequest, Message};
use steadfast_router::RouterError;
use tokio::net::{TcpSocket, TcpStream};

#[tokio::test]
async fn a_connection_that_never_opens_times_out_at_the_connect_timeout() {
    // A listener with a backlog of one that never accepts: once its queue is full, the
    // kernel drops further SYNs and a new connection hangs in the handshake.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            _ => break,
        }
    }
    assert!(held.len() < 8, "the accept queue never filled");

    let text = format!(
        r#"
[deployments.stuck]
kind = "ollama"
model = "m"
base_url = "http://{addr}"
retry = {{ max_attempts = 1 }}
timeouts = {{ connect = "300ms", request = "60s" }}
"#
    );
    let file = ConfigFile::parse(&text, Format::Toml).unwrap();
    let sf = Steadfast::build(&file, &|_| None).unwrap();
    let request = ChatRequest::new("m", vec![Message::user("hi")]);
    let err = sf
        .chat(None, &request, sf.route_options())
        .await
        .unwrap_err();
    let CallError::Failed {
        source: RouterError::Failed(failed),
        ..
    } = &err
    else {
        panic!("{err}")
    };
    let last = failed.last.as_ref().expect("the deployment was called");
    assert_eq!(last.kind(), ErrorKind::Timeout, "{last}");
    assert_eq!(last.transport(), Some(Transport::ConnectTimeout), "{last}");
    drop(held);
}
