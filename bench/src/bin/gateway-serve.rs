//! The gateway under benchmark, in its own process: what `steadfast serve --config FILE`
//! runs (the config loaded by `steadfast-config`, a multi-thread runtime, mimalloc, the
//! Prometheus recorder installed, logs at the CLI's default level), on `127.0.0.1:0`.
//!
//! It prints `listening on <addr>` once bound and exits when its standard input closes, so it
//! never outlives the benchmark that started it. The benchmark builds this binary with the
//! rest of its crate instead of the `steadfast` CLI, so a stale CLI binary can never be the
//! one measured.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusBuilder;
use steadfast_config::{ConfigFile, Steadfast};
use steadfast_gateway::{Gateway, GatewayConfig};
use tracing_subscriber::filter::LevelFilter;

/// The allocator `steadfast serve` runs with (crates/cli/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let Some(path) = common::arg::<String>("--config") else {
        eprintln!("usage: gateway-serve --config FILE");
        std::process::exit(2);
    };
    common::exit_with_stdin();
    // As `steadfast serve` without -v: errors only, to stderr.
    tracing_subscriber::fmt()
        .with_max_level(LevelFilter::ERROR)
        .with_writer(std::io::stderr)
        .init();
    let sf = Steadfast::from_path(&path).unwrap_or_else(|e| {
        eprintln!("gateway-serve: {e}");
        std::process::exit(1);
    });
    let settings = ConfigFile::read(std::path::Path::new(&path))
        .map(|f| f.gateway)
        .unwrap_or_default();
    let keys = settings
        .resolve_keys(&|v| std::env::var(v).ok())
        .unwrap_or_else(|e| {
            eprintln!("gateway-serve: {e}");
            std::process::exit(1);
        });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .expect("the metrics recorder");
        let config = GatewayConfig::from_settings(&settings, keys).with_prometheus(handle);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        common::announce(listener.local_addr().expect("a bound address"));
        let gateway = Gateway::new(Arc::new(sf), config);
        if let Err(e) = gateway.serve(listener, std::future::pending()).await {
            eprintln!("gateway-serve: {e}");
        }
    });
}
