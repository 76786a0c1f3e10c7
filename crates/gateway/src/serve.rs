//! The accept loop: HTTP/1.1 connections with a header read timeout, and a graceful
//! shutdown that stops accepting, lets streams finish up to a grace deadline, then ends
//! them with the in-band error.

use std::future::Future;
use std::io;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::state::Shared;

struct Connection(Arc<Shared>);

impl Connection {
    fn open(shared: &Arc<Shared>) -> Connection {
        shared.connections().send_modify(|n| *n += 1);
        shared.meters.connections().increment(1.0);
        Connection(Arc::clone(shared))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.0
            .connections()
            .send_modify(|n| *n = n.saturating_sub(1));
        self.0.meters.connections().decrement(1.0);
    }
}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    app: axum::Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.header_read_timeout)
        .keep_alive(true);
    let _upkeep = shared.config.metrics_upkeep.clone().map(|run| {
        Aborted(tokio::spawn(async move {
            let mut every = tokio::time::interval(crate::config::METRICS_UPKEEP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                run();
            }
        }))
    });
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait for the next one.
                    tracing::warn!(target: "steadfast_gateway", error = %e, "accept failed");
                    tokio::task::yield_now().await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        let guard = Connection::open(&shared);
        tokio::spawn(async move {
            let _guard = guard;
            if let Err(e) = conn.await {
                tracing::debug!(target: "steadfast_gateway", error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    shared.start_draining();
    tracing::info!(target: "steadfast_gateway", "shutting down: no new connections");
    let grace = shared.config.shutdown_grace;
    let expire = Arc::clone(&shared);
    let _timer = Aborted(tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        expire.expired.send_replace(true);
    }));
    // Streams end at the grace; a whole answer still waiting on a provider gets a little
    // longer, then the server returns anyway (its connections close with the process).
    let last_call = grace.saturating_add(std::time::Duration::from_secs(5));
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(last_call) => {
            tracing::warn!(target: "steadfast_gateway", "connections still open after the grace; returning");
        }
    }
    Ok(())
}

/// A task that ends with the `serve` that started it, returned or dropped.
struct Aborted(tokio::task::JoinHandle<()>);

impl Drop for Aborted {
    fn drop(&mut self) {
        self.0.abort();
    }
}
