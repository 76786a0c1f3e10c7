//! `GatewayConfig`: the gateway's keys, limits and timers, in force for one run.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use steadfast_config::GatewaySettings;
use steadfast_providers_core::ApiKey;

/// Renders the process's metrics as Prometheus text for `GET /metrics` (for example a
/// `metrics-exporter-prometheus` handle's `render`).
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// Maintenance of the process's metrics, run every [`METRICS_UPKEEP_EVERY`] while the
/// gateway serves (for example a `metrics-exporter-prometheus` handle's `run_upkeep`).
pub type MetricsUpkeep = Arc<dyn Fn() + Send + Sync>;

/// How often [`GatewayConfig::metrics_upkeep`] runs: `metrics-exporter-prometheus`'s own
/// upkeep period.
pub const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// How a [`Gateway`](crate::Gateway) runs. Build it from a config file's `[gateway]` table
/// with [`from_settings`](Self::from_settings), or field by field from
/// [`default`](Self::default).
#[derive(Clone)]
pub struct GatewayConfig {
    /// The keys clients must send as `Authorization: Bearer …`; none: no key is asked for.
    pub keys: Vec<ApiKey>,
    /// The largest request body, in bytes (413 above it). Default 4 MiB.
    pub max_body_bytes: usize,
    /// Requests served at once (503 and `Retry-After: 1` above it). Default 1024.
    pub max_concurrency: usize,
    /// The time a client has to send a request's headers. Default 10 s.
    pub header_read_timeout: Duration,
    /// On shutdown, how long streams in flight may go on before they end with an in-band
    /// error. Default 30 s.
    pub shutdown_grace: Duration,
    /// What `GET /metrics` answers; `None`: an empty text.
    pub metrics: Option<MetricsRender>,
    /// Run every [`METRICS_UPKEEP_EVERY`] while serving. A Prometheus recorder installed
    /// with `install_recorder` keeps every histogram sample until it is rendered or kept
    /// up: without a scrape of `/metrics`, or this, its memory grows with every request.
    /// [`with_prometheus`](Self::with_prometheus) sets both.
    pub metrics_upkeep: Option<MetricsUpkeep>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig::from_settings(&GatewaySettings::default(), Vec::new())
    }
}

impl GatewayConfig {
    /// The config of a file's `[gateway]` table, with its keys already read
    /// ([`GatewaySettings::resolve_keys`]).
    pub fn from_settings(settings: &GatewaySettings, keys: Vec<ApiKey>) -> GatewayConfig {
        GatewayConfig {
            keys,
            max_body_bytes: settings.max_body_bytes,
            max_concurrency: settings.max_concurrency.max(1),
            header_read_timeout: settings.header_read_timeout,
            shutdown_grace: settings.shutdown_grace,
            metrics: None,
            metrics_upkeep: None,
        }
    }

    /// `GET /metrics` rendered by `handle`, and its upkeep run while serving.
    ///
    /// ```
    /// use metrics_exporter_prometheus::PrometheusBuilder;
    /// use steadfast_gateway::GatewayConfig;
    ///
    /// let recorder = PrometheusBuilder::new().build_recorder();
    /// let config = GatewayConfig::default().with_prometheus(recorder.handle());
    /// assert!(config.metrics.is_some() && config.metrics_upkeep.is_some());
    /// ```
    #[must_use]
    pub fn with_prometheus(mut self, handle: PrometheusHandle) -> GatewayConfig {
        let upkeep = handle.clone();
        self.metrics = Some(Arc::new(move || handle.render()));
        self.metrics_upkeep = Some(Arc::new(move || upkeep.run_upkeep()));
        self
    }
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("keys", &self.keys.len())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_concurrency", &self.max_concurrency)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("metrics", &self.metrics.is_some())
            .field("metrics_upkeep", &self.metrics_upkeep.is_some())
            .finish()
    }
}
