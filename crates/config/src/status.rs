//! `DeploymentStatus`: one probe round over every chat deployment, timed, joined with what
//! the routers know (breaker state, health, error rate), and `MediaStatus`: the image and
//! video deployments' counters — what `steadfast status` shows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use steadfast_circuit::State;
use steadfast_errors::ErrorKind;
use steadfast_fallback::Health;
use steadfast_providers_core::ChatProvider;
use steadfast_router::media::MediaStats;
use tokio::time::Instant;

use crate::file::Kind;
use crate::steadfast::Steadfast;

/// The longest one health check may take in [`Steadfast::status`].
pub const STATUS_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// One deployment's state after a probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DeploymentStatus {
    /// The deployment.
    pub name: String,
    /// Its kind in the config; `None` for a provider added in code at run time.
    pub kind: Option<Kind>,
    /// The model it asks for.
    pub model: String,
    /// Whether it takes traffic.
    pub enabled: bool,
    /// Health as the fallback chain tracks it.
    pub health: Health,
    /// Its circuit breaker's state.
    pub breaker: State,
    /// Calls routed to it since the router was built.
    pub requests: u64,
    /// The share of those calls that failed (0 with no calls).
    pub error_rate: f64,
    /// The share of its attempts that failed in the last minute (0 with none); see
    /// `ProviderStats::window_1m`.
    pub error_rate_1m: f64,
    /// Its failed attempts since the last successful one (the longest run over its groups).
    pub consecutive_failures: u32,
    /// Whether the health check passed.
    pub check_ok: bool,
    /// Why it failed, when it did (never a key).
    pub check_error: Option<String>,
    /// How long the check took, in milliseconds.
    pub check_latency_ms: f64,
    /// When the check ran, in milliseconds since the Unix epoch.
    pub checked_at_unix_ms: u64,
}

/// What a media deployment makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Media {
    /// Images (`openai-image`, `xai-image`, `pollinations-image`).
    Image,
    /// Videos (`runway`, `xai-video`).
    Video,
}

impl Media {
    /// `image` or `video`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Media::Image => "image",
            Media::Video => "video",
        }
    }
}

/// One media deployment's state: its counters since it was built (not probed: a media
/// check would start a paid job).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MediaStatus {
    /// The deployment.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// What it makes.
    pub media: Media,
    /// The model it asks for (empty when the kind has a fixed one).
    pub model: String,
    /// Whether it takes jobs.
    pub enabled: bool,
    /// Its circuit breaker's state.
    pub breaker: State,
    /// Jobs it finished.
    pub calls: u64,
    /// Jobs it started, retries included.
    pub attempts: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Failures over attempts (0 without attempts).
    pub error_rate: f64,
    /// The last failure's kind.
    pub last_error: Option<ErrorKind>,
    /// What its jobs cost, in USD.
    pub cost_usd: f64,
}

impl Steadfast {
    /// Every media deployment's state, video first then images, each in the order its
    /// router tries them (from [`video_router`](Self::video_router) and
    /// [`image_router`](Self::image_router), as [`media_stats`](Self::media_stats)).
    pub fn media_status(&self) -> Vec<MediaStatus> {
        let infos = self.deployments();
        let video = self
            .video_router()
            .stats()
            .into_iter()
            .map(|s| (Media::Video, s));
        let images = self
            .image_router()
            .stats()
            .into_iter()
            .map(|s| (Media::Image, s));
        video
            .chain(images)
            .filter_map(|(media, s): (Media, MediaStats)| {
                let info = infos.iter().find(|d| d.name == s.id)?;
                Some(MediaStatus {
                    name: s.id,
                    kind: info.kind?,
                    media,
                    model: info.model.clone(),
                    enabled: s.enabled,
                    breaker: s.breaker,
                    calls: s.calls,
                    attempts: s.attempts,
                    failures: s.failures,
                    error_rate: s.error_rate,
                    last_error: s.last_error,
                    cost_usd: s.cost_usd,
                })
            })
            .collect()
    }

    /// Runs every chat deployment's health check once (each under
    /// [`STATUS_PROBE_TIMEOUT`], all at once), and reports each with its breaker, health
    /// and error rate. Routing state is not changed.
    pub async fn status(&self) -> Vec<DeploymentStatus> {
        let members: BTreeMap<String, Arc<dyn ChatProvider>> = self.chat_members();
        let stats = self.stats();
        let checks = members.iter().map(|(name, provider)| async move {
            let checked_at_unix_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let started = Instant::now();
            let result = tokio::time::timeout(STATUS_PROBE_TIMEOUT, provider.health_check()).await;
            let latency = started.elapsed();
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!("timeout after {}s", STATUS_PROBE_TIMEOUT.as_secs())),
            };
            (name.clone(), error, latency, checked_at_unix_ms)
        });
        let results = futures_util::future::join_all(checks).await;
        let infos = self.deployments();
        results
            .into_iter()
            .filter_map(|(name, error, latency, at)| {
                let info = infos.iter().find(|d| d.name == name)?;
                let p = stats
                    .values()
                    .flat_map(|s| s.providers.iter())
                    .find(|p| p.id == name)?;
                let requests: u64 = stats
                    .values()
                    .flat_map(|s| s.providers.iter())
                    .filter(|p| p.id == name)
                    .map(|p| p.requests)
                    .sum();
                let failures: u64 = stats
                    .values()
                    .flat_map(|s| s.providers.iter())
                    .filter(|p| p.id == name)
                    .map(|p| p.failures)
                    .sum();
                let (attempts_1m, failures_1m, consecutive_failures) = stats
                    .values()
                    .flat_map(|s| s.providers.iter())
                    .filter(|p| p.id == name)
                    .fold((0u64, 0u64, 0u32), |(a, f, c), p| {
                        (
                            a + p.window_1m.attempts,
                            f + p.window_1m.failures,
                            c.max(p.consecutive_failures),
                        )
                    });
                Some(DeploymentStatus {
                    name: name.clone(),
                    kind: info.kind,
                    model: info.model.clone(),
                    enabled: p.enabled,
                    health: p.health,
                    breaker: p.breaker,
                    requests,
                    error_rate: if requests == 0 {
                        0.0
                    } else {
                        failures as f64 / requests as f64
                    },
                    error_rate_1m: if attempts_1m == 0 {
                        0.0
                    } else {
                        failures_1m as f64 / attempts_1m as f64
                    },
                    consecutive_failures,
                    check_ok: error.is_none(),
                    check_error: error,
                    check_latency_ms: latency.as_secs_f64() * 1000.0,
                    checked_at_unix_ms: at,
                })
            })
            .collect()
    }
}
