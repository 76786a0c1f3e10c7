//! A server killed mid-stream, over real loopback TCP and reqwest: after a complete event and
//! before the terminator the answer is `stream_interrupted` (resumable), not a plain
//! `network` failure; before any complete event it stays `network`.

use std::net::SocketAddr;

use futures_util::StreamExt;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_streaming::{DecodedStream, Item, WireFormat};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the server goes away after writing its chunks.
#[derive(Clone, Copy, Debug)]
enum Death {
    /// A clean FIN, without the final zero-length chunk.
    Fin,
    /// A TCP reset.
    Reset,
}

/// Serves one chunked SSE response made of `chunks`, then dies.
async fn serve(chunks: Vec<&'static str>, death: Death) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let mut read = 0;
        while !request[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            read += socket.read(&mut request[read..]).await.unwrap();
        }
        let mut out = String::from(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        for c in chunks {
            out.push_str(&format!("{:x}\r\n{c}\r\n", c.len()));
        }
        socket.write_all(out.as_bytes()).await.unwrap();
        socket.flush().await.unwrap();
        match death {
            Death::Fin => socket.shutdown().await.unwrap(),
            Death::Reset => socket.set_zero_linger().unwrap(),
        }
        // Keep reading until the client goes, so a FIN is not turned into a reset.
        let mut sink = [0u8; 64];
        if let Death::Fin = death {
            while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        }
    });
    addr
}

async fn decode(addr: SocketAddr) -> Vec<Item> {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/chat/completions"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let body = response
        .bytes_stream()
        .map(|chunk| chunk.map_err(|e| steadfast_errors::classify::reqwest(Provider::OpenAi, e)));
    let decoder = WireFormat::OpenAiChat.decoder(Provider::OpenAi);
    DecodedStream::new(body, decoder).collect().await
}

fn last_error(items: &[Item]) -> &ProviderError {
    items.last().unwrap().as_ref().unwrap_err()
}

const EVENT: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n";

#[tokio::test]
async fn a_server_killed_after_a_complete_event_is_an_interrupted_stream() {
    for death in [Death::Fin, Death::Reset] {
        for chunks in [vec![EVENT], vec![EVENT, "data: {\"choi"]] {
            let items = decode(serve(chunks.clone(), death).await).await;
            let err = last_error(&items);
            assert_eq!(
                err.kind(),
                ErrorKind::StreamInterrupted,
                "{death:?} after {chunks:?}: {err}"
            );
            assert!(err.first_byte_received());
            assert_eq!(
                err.transport(),
                Some(steadfast_errors::Transport::ConnectionReset),
                "the network cause is kept"
            );
            assert!(
                items
                    .iter()
                    .any(|i| matches!(i, Ok(steadfast_providers_core::StreamEvent::TextDelta { text }) if text == "Hello")),
                "what arrived is delivered"
            );
            assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1);
        }
    }
}

#[tokio::test]
async fn a_server_killed_before_any_complete_event_stays_a_network_failure() {
    for death in [Death::Fin, Death::Reset] {
        let items = decode(serve(vec!["data: {\"choi"], death).await).await;
        let err = last_error(&items);
        assert_eq!(err.kind(), ErrorKind::Network, "{death:?}: {err}");
        assert_eq!(items.len(), 1);
    }
}
