//! The floor under any gateway built on these crates, for the gateway benchmark: a hyper
//! HTTP/1.1 server that forwards each request's bytes to an upstream with a reqwest client
//! and passes the answer's bytes back (streamed as they come), with nothing else — no
//! parsing, no routing, no keys, no metrics. What `steadfast serve` adds over this is what
//! its own work costs; what this adds over calling the upstream directly is the cost of a
//! second HTTP hop (a server and a client in one more process).
//!
//! `bare-proxy --upstream ADDR --delayed ADDR`: paths under `/delayed/` go to the delayed
//! upstream (the prefix dropped), the others to the immediate one. Multi-thread runtime and
//! mimalloc, as `gateway-serve`. It prints `listening on <addr>` once bound and exits when
//! its standard input closes.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use common::arg;

/// The gateway's allocator, so the two differ only in their work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Body = BoxBody<Bytes, reqwest::Error>;

struct Upstreams {
    client: reqwest::Client,
    immediate: String,
    delayed: String,
}

fn main() {
    let (Some(immediate), Some(delayed)) =
        (arg::<String>("--upstream"), arg::<String>("--delayed"))
    else {
        eprintln!("usage: bare-proxy --upstream ADDR --delayed ADDR");
        std::process::exit(2);
    };
    common::exit_with_stdin();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let upstreams = Arc::new(Upstreams {
            client,
            immediate: format!("http://{immediate}"),
            delayed: format!("http://{delayed}"),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        common::announce(listener.local_addr().expect("a bound address"));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let upstreams = Arc::clone(&upstreams);
            tokio::spawn(async move {
                let service = service_fn(move |req| forward(Arc::clone(&upstreams), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

async fn forward(up: Arc<Upstreams>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path();
    let url = match path.strip_prefix("/delayed") {
        Some(rest) => format!("{}{rest}", up.delayed),
        None => format!("{}{path}", up.immediate),
    };
    let content_type = req.headers().get(hyper::header::CONTENT_TYPE).cloned();
    let fail = |why: String| {
        let body = Full::new(Bytes::from(why)).map_err(|never| match never {});
        let mut r = Response::new(BoxBody::new(body));
        *r.status_mut() = StatusCode::BAD_GATEWAY;
        Ok(r)
    };
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return fail(e.to_string()),
    };
    let mut outbound = up.client.post(url).body(body);
    if let Some(ct) = content_type {
        outbound = outbound.header(hyper::header::CONTENT_TYPE, ct);
    }
    let answer = match outbound.send().await {
        Ok(a) => a,
        Err(e) => return fail(e.to_string()),
    };
    let mut response = Response::builder().status(answer.status());
    for name in [hyper::header::CONTENT_TYPE, hyper::header::CONTENT_LENGTH] {
        if let Some(v) = answer.headers().get(&name) {
            response = response.header(name, v);
        }
    }
    let frames = answer.bytes_stream().map_ok(Frame::data);
    Ok(response
        .body(BoxBody::new(StreamBody::new(frames)))
        .unwrap_or_else(|_| {
            Response::new(BoxBody::new(
                Full::new(Bytes::new()).map_err(|n| match n {}),
            ))
        }))
}
