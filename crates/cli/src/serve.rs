//! `steadfast serve`: the OpenAI-compatible gateway over the config, until SIGTERM or
//! SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusBuilder;
use steadfast_config::{ConfigFile, GatewaySettings, Steadfast};
use steadfast_gateway::{Gateway, GatewayConfig};

use crate::args::ServeArgs;
use crate::exit::{CONFIG, Failure, OTHER, USAGE};

/// Where the gateway listens when neither `--listen` nor `[gateway] listen` says.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:4000";

/// Serves `sf` with the `[gateway]` settings of the config file at `path` (defaults without
/// a file).
pub(crate) async fn run(
    sf: Steadfast,
    path: Option<&std::path::Path>,
    args: ServeArgs,
) -> Result<(), Failure> {
    let settings = match path {
        Some(p) => ConfigFile::read(p)?.gateway,
        None => GatewaySettings::default(),
    };
    let keys = settings.resolve_keys(&|v| std::env::var(v).ok())?;
    let listen = args
        .listen
        .clone()
        .or_else(|| settings.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let addr: SocketAddr = listen.parse().map_err(|_| {
        Failure::new(
            USAGE,
            format!("cannot listen on `{listen}`: expected an address such as {DEFAULT_LISTEN}"),
        )
    })?;
    check_exposure(addr, keys.is_empty(), args.allow_unauthenticated_remote)?;
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| Failure::new(OTHER, format!("cannot install the metrics recorder: {e}")))?;
    let config = GatewayConfig::from_settings(&settings, keys).with_prometheus(handle);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::new(OTHER, format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().unwrap_or(addr);
    let _ = writeln!(
        std::io::stderr(),
        "steadfast: serving groups {} on http://{bound}/v1 ({})",
        sf.groups().collect::<Vec<_>>().join(", "),
        if config.keys.is_empty() {
            "no gateway key"
        } else {
            "gateway key required"
        }
    );
    let gateway = Gateway::new(Arc::new(sf), config);
    gateway
        .serve(listener, shutdown_signal())
        .await
        .map_err(|e| Failure::new(OTHER, format!("server error: {e}")))
}

/// Without gateway keys, only a loopback address unless the user said otherwise.
fn check_exposure(addr: SocketAddr, no_keys: bool, allowed: bool) -> Result<(), Failure> {
    if no_keys && !addr.ip().is_loopback() && !allowed {
        return Err(Failure::new(
            CONFIG,
            format!(
                "refusing to listen on {addr} without a gateway key: set `[gateway] keys = \
                 [\"env:STEADFAST_GATEWAY_KEY\"]`, listen on 127.0.0.1, or pass \
                 --allow-unauthenticated-remote"
            ),
        ));
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    let _ = writeln!(std::io::stderr(), "steadfast: shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_keys_only_loopback_unless_allowed() {
        let lo: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        assert!(check_exposure(lo, true, false).is_ok());
        assert!(check_exposure(any, true, false).is_err());
        assert!(check_exposure(any, true, true).is_ok());
        assert!(check_exposure(any, false, false).is_ok());
    }
}
