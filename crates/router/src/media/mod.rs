//! `MediaRouter`: image and video jobs routed like chat — the preferred deployment first,
//! each behind its own circuit breaker and retry policy, falling back by the error's kind,
//! with per-deployment stats, cost from the catalog's unit prices, and one
//! [`AttemptRecord`] per deployment turn (seed 000's record).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use steadfast_errors::{ErrorKind, Provider, ProviderError};
//! use steadfast_providers_core::{ProgressFn, VideoProvider, VideoRequest, VideoResponse};
//! use steadfast_router::media::{MediaConfig, MediaOptions, MediaRouter};
//!
//! #[derive(Debug)]
//! struct Studio(&'static str, bool);
//!
//! #[async_trait::async_trait]
//! impl VideoProvider for Studio {
//!     fn id(&self) -> &str { self.0 }
//!     fn kind(&self) -> Provider { Provider::Runway }
//!     async fn generate_video(&self, _: &VideoRequest, _: Option<ProgressFn>)
//!         -> Result<VideoResponse, ProviderError> {
//!         if self.1 {
//!             Ok(VideoResponse { job_id: "job-1".into(), urls: vec!["https://cdn/1.mp4".into()], model: None })
//!         } else {
//!             Err(ProviderError::new(ErrorKind::Overloaded, self.0, "busy"))
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let mut priced = MediaConfig::default();
//! priced.retry.max_attempts = 1;
//! priced.usd_per_unit = Some(0.05); // per second of video
//! let busy: Arc<dyn VideoProvider> = Arc::new(Studio("busy", false));
//! let runway: Arc<dyn VideoProvider> = Arc::new(Studio("runway", true));
//! let router = MediaRouter::builder()
//!     .deployment(busy, priced.clone())
//!     .deployment(runway, priced)
//!     .build();
//! let request = VideoRequest { prompt: "a lighthouse".into(), duration_secs: Some(8), ..Default::default() };
//! let done = router.generate(&request, MediaOptions::default()).await.unwrap();
//! assert_eq!(done.provider, "runway");
//! assert_eq!(done.attempts.len(), 2); // busy failed, runway answered
//! assert!((done.cost_usd - 0.40).abs() < 1e-12);
//! assert_eq!(router.stats()[0].failures, 1);
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use steadfast_circuit::{CircuitBreaker, Config as BreakerConfig, Rejected, State};
use steadfast_errors::{ErrorKind, Failure, ProviderError};
use steadfast_fallback::{AttemptOutcome, AttemptRecord};
use steadfast_providers_core::ProgressFn;
use steadfast_retry::{Admit, RetryConfig, RetryPolicy};
use tokio::time::Instant;

use crate::stats::{Reservoir, lock};

mod job;

pub use job::{JobFuture, MediaJob};

/// How one media deployment is run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MediaConfig {
    /// Retries on this deployment before falling back (each retry is a new job).
    pub retry: RetryConfig,
    /// Its circuit breaker.
    pub breaker: BreakerConfig,
    /// USD per unit (second of video, image); `None`: the catalog's unit price for the
    /// model, else 0 with one warning.
    pub usd_per_unit: Option<f64>,
    /// Whether it takes jobs.
    pub enabled: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
            usd_per_unit: None,
            enabled: true,
        }
    }
}

/// Per-job options.
#[derive(Clone)]
#[non_exhaustive]
pub struct MediaOptions {
    /// Try this deployment first.
    pub prefer: Option<String>,
    /// Move on to the next deployment after a failure whose kind may fall back (default on).
    pub fallback: bool,
    /// Sees every poll of a job.
    pub progress: Option<ProgressFn>,
}

impl Default for MediaOptions {
    fn default() -> Self {
        MediaOptions {
            prefer: None,
            fallback: true,
            progress: None,
        }
    }
}

impl MediaOptions {
    /// Options that prefer `prefer` (when given), fall back as `fallback` says and report
    /// progress to `progress`.
    pub fn new(prefer: Option<&str>, fallback: bool, progress: Option<ProgressFn>) -> Self {
        MediaOptions {
            prefer: prefer.map(str::to_owned),
            fallback,
            progress,
        }
    }
}

impl fmt::Debug for MediaOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaOptions")
            .field("prefer", &self.prefer)
            .field("fallback", &self.fallback)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A finished job and how it was reached.
#[derive(Debug)]
#[non_exhaustive]
pub struct MediaRouted<T> {
    /// What the job made.
    pub value: T,
    /// The deployment that made it.
    pub provider: String,
    /// Every deployment turn, the winner's last.
    pub attempts: Vec<AttemptRecord>,
    /// What the job cost, in USD (0 when its price is unknown).
    pub cost_usd: f64,
}

/// Why a job was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// `prefer` names no deployment of this kind.
    #[error("no {unit} deployment is named `{name}`")]
    UnknownProvider {
        /// The name asked for.
        name: String,
        /// The kind of job (`second`: video, `image`).
        unit: &'static str,
    },
    /// There is no enabled deployment for this kind of job.
    #[error("no enabled deployment makes this kind of job")]
    NoDeployment,
    /// Every deployment tried failed or refused.
    #[error("{}", failed_message(.attempts, *.fallback))]
    Failed {
        /// Every turn, in order.
        attempts: Vec<AttemptRecord>,
        /// Whether falling back was allowed.
        fallback: bool,
        /// The last provider error, if any deployment was called.
        last: Option<ProviderError>,
    },
}

impl MediaError {
    /// The last failure's kind, when a deployment was called.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            MediaError::Failed { last, .. } => last.as_ref().map(ProviderError::kind),
            _ => None,
        }
    }
}

fn failed_message(attempts: &[AttemptRecord], fallback: bool) -> String {
    let turns: Vec<String> = attempts
        .iter()
        .map(|a| match (a.outcome, a.kind) {
            (AttemptOutcome::Failed, Some(kind)) => {
                let status = a.status.map(|s| format!(" ({s})")).unwrap_or_default();
                format!(
                    "{}: {}{status} after {} attempt{}",
                    a.provider,
                    kind.as_str(),
                    a.retries + 1,
                    if a.retries == 0 { "" } else { "s" }
                )
            }
            (outcome, _) => format!("{}: {}", a.provider, outcome.as_str()),
        })
        .collect();
    let tail = if fallback { "" } else { " (fallback disabled)" };
    format!("media job failed: {}{tail}", turns.join("; "))
}

/// One deployment's counters, as [`MediaRouter::stats`] reports them.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct MediaStats {
    /// The deployment.
    pub id: String,
    /// Its provider (`runway`, `xai`, …).
    pub provider: &'static str,
    /// Jobs it finished.
    pub calls: u64,
    /// Jobs it started, retries included.
    pub attempts: u64,
    /// Attempts that succeeded.
    pub successes: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Failed attempts since its last success.
    pub consecutive_failures: u64,
    /// Failures over attempts (0 without attempts).
    pub error_rate: f64,
    /// The last failure's kind.
    pub last_error: Option<ErrorKind>,
    /// Its breaker's state.
    pub breaker: State,
    /// Whether it takes jobs.
    pub enabled: bool,
    /// What its jobs cost, in USD.
    pub cost_usd: f64,
    /// Median job latency (retries included), in milliseconds.
    pub latency_p50_ms: f64,
}

#[derive(Debug)]
struct Counters {
    calls: u64,
    attempts: u64,
    successes: u64,
    failures: u64,
    consecutive_failures: u64,
    last_error: Option<ErrorKind>,
    cost_usd: f64,
    latency: Reservoir,
}

impl Counters {
    fn new() -> Counters {
        Counters {
            calls: 0,
            attempts: 0,
            successes: 0,
            failures: 0,
            consecutive_failures: 0,
            last_error: None,
            cost_usd: 0.0,
            latency: Reservoir::new(256),
        }
    }
}

struct Deployed<P: ?Sized> {
    provider: Arc<P>,
    breaker: CircuitBreaker,
    retry: RetryPolicy,
    usd_per_unit: Option<f64>,
    enabled: AtomicBool,
    counters: Mutex<Counters>,
    warned_unpriced: AtomicBool,
}

/// Why one attempt on one deployment failed, as the retry policy sees it.
#[derive(Debug)]
enum AttemptError {
    Provider(ProviderError),
    Rejected(Rejected),
}

impl Failure for AttemptError {
    fn is_retryable(&self) -> bool {
        matches!(self, AttemptError::Provider(e) if e.is_retryable())
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Provider(e) => e.retry_after(),
            AttemptError::Rejected(r) => r.retry_after(),
        }
    }
    fn counts_against_health(&self) -> bool {
        matches!(self, AttemptError::Provider(e) if e.counts_against_health())
    }
    fn kind(&self) -> Option<ErrorKind> {
        match self {
            AttemptError::Provider(e) => Some(e.kind()),
            AttemptError::Rejected(_) => None,
        }
    }
    fn is_refusal(&self) -> bool {
        matches!(self, AttemptError::Rejected(_))
    }
}

/// Builds a [`MediaRouter`].
#[derive(Debug)]
pub struct MediaRouterBuilder<P: ?Sized + MediaJob> {
    deployments: Vec<(Arc<P>, MediaConfig)>,
}

impl<P: ?Sized + MediaJob> MediaRouterBuilder<P> {
    /// Adds a deployment; they are tried in the order added (`prefer` first).
    pub fn deployment(mut self, provider: Arc<P>, config: MediaConfig) -> Self {
        self.deployments.push((provider, config));
        self
    }

    /// The router.
    pub fn build(self) -> MediaRouter<P> {
        let deployments = self
            .deployments
            .into_iter()
            .map(|(provider, config)| Deployed {
                breaker: CircuitBreaker::new(config.breaker),
                retry: RetryPolicy::new(config.retry),
                usd_per_unit: config.usd_per_unit,
                enabled: AtomicBool::new(config.enabled),
                counters: Mutex::new(Counters::new()),
                warned_unpriced: AtomicBool::new(false),
                provider,
            })
            .collect();
        MediaRouter {
            deployments: Arc::new(deployments),
        }
    }
}

/// Image or video jobs over several deployments: see the [module docs](self).
pub struct MediaRouter<P: ?Sized + MediaJob> {
    deployments: Arc<Vec<Deployed<P>>>,
}

impl<P: ?Sized + MediaJob> Clone for MediaRouter<P> {
    fn clone(&self) -> Self {
        MediaRouter {
            deployments: Arc::clone(&self.deployments),
        }
    }
}

impl<P: ?Sized + MediaJob> fmt::Debug for MediaRouter<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.deployments.iter().map(|d| d.provider.id()).collect();
        f.debug_struct("MediaRouter")
            .field("deployments", &ids)
            .finish()
    }
}

impl<P: ?Sized + MediaJob> MediaRouter<P> {
    /// A builder without deployments.
    pub fn builder() -> MediaRouterBuilder<P> {
        MediaRouterBuilder {
            deployments: Vec::new(),
        }
    }

    /// The deployments, in the order they are tried.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<P>> {
        self.deployments.iter().map(|d| &d.provider)
    }

    /// Whether there is no deployment at all.
    pub fn is_empty(&self) -> bool {
        self.deployments.is_empty()
    }

    /// Runs one job: the preferred deployment first, then the others in order; each under
    /// its retry policy and behind its breaker (an open breaker skips it without a call);
    /// after a failure, on to the next when `fallback` is on and the kind may fall back.
    pub async fn generate(
        &self,
        request: &P::Request,
        options: MediaOptions,
    ) -> Result<MediaRouted<P::Response>, MediaError> {
        let mut order: Vec<&Deployed<P>> = self.deployments.iter().collect();
        if let Some(name) = &options.prefer {
            let at = order
                .iter()
                .position(|d| d.provider.id() == name)
                .ok_or_else(|| MediaError::UnknownProvider {
                    name: name.clone(),
                    unit: P::UNIT,
                })?;
            let preferred = order.remove(at);
            order.insert(0, preferred);
        }
        let mut attempts = Vec::new();
        let mut last = None;
        let mut any = false;
        for d in order {
            let model = P::requested_model(request).unwrap_or("").to_owned();
            if !d.enabled.load(Ordering::Relaxed) {
                continue;
            }
            any = true;
            match self.turn(d, request, &options, &model).await {
                Ok((value, record, cost_usd)) => {
                    attempts.push(record);
                    return Ok(MediaRouted {
                        value,
                        provider: d.provider.id().to_owned(),
                        attempts,
                        cost_usd,
                    });
                }
                Err((record, error)) => {
                    let skipped = record.outcome != AttemptOutcome::Failed;
                    attempts.push(record);
                    let may_move = error.as_ref().is_none_or(|e| e.kind().may_fall_back());
                    if error.is_some() {
                        last = error;
                    }
                    if !options.fallback && !skipped || !may_move {
                        break;
                    }
                }
            }
        }
        if !any {
            return Err(MediaError::NoDeployment);
        }
        Err(MediaError::Failed {
            attempts,
            fallback: options.fallback,
            last,
        })
    }

    /// One deployment's turn: its attempts under its retry policy and breaker.
    async fn turn(
        &self,
        d: &Deployed<P>,
        request: &P::Request,
        options: &MediaOptions,
        model: &str,
    ) -> Result<(P::Response, AttemptRecord, f64), (AttemptRecord, Option<ProviderError>)> {
        let id = d.provider.id();
        let started = Instant::now();
        let gate = |_wait: Duration| {
            if d.breaker.state() == State::Open {
                Admit::No
            } else {
                Admit::Yes
            }
        };
        let outcome = d
            .retry
            .run_gated(gate, |_ctx| async {
                let permit = d.breaker.try_acquire().map_err(AttemptError::Rejected)?;
                lock(&d.counters).attempts += 1;
                let attempt_started = Instant::now();
                let result = d.provider.run(request, options.progress.clone()).await;
                let elapsed = attempt_started.elapsed();
                let mut c = lock(&d.counters);
                match result {
                    Ok(value) => {
                        permit.success_with_latency(elapsed);
                        c.successes += 1;
                        c.consecutive_failures = 0;
                        Ok(value)
                    }
                    Err(e) => {
                        permit.failure(&e);
                        c.failures += 1;
                        c.consecutive_failures += 1;
                        c.last_error = Some(e.kind());
                        tracing::warn!(
                            target: "steadfast_router::media",
                            provider = id,
                            model,
                            duration_ms = elapsed.as_secs_f64() * 1000.0,
                            success = false,
                            error_kind = e.kind().as_str(),
                            category5 = e.category5().as_str(),
                            status = e.status(),
                            "media attempt failed"
                        );
                        Err(AttemptError::Provider(e))
                    }
                }
            })
            .await;
        let retries = outcome.retries();
        let duration = started.elapsed();
        let mut record = AttemptRecord {
            provider: id.to_owned(),
            model: model.to_owned(),
            outcome: AttemptOutcome::Succeeded,
            kind: None,
            status: None,
            retries,
            duration,
            error: None,
        };
        match outcome.result {
            Ok(value) => {
                let cost = self.cost(d, request, &value);
                let mut c = lock(&d.counters);
                c.calls += 1;
                c.cost_usd += cost;
                c.latency.push(duration.as_secs_f64() * 1000.0);
                drop(c);
                tracing::info!(
                    target: "steadfast_router::media",
                    provider = id,
                    model = P::answered_model(&value).unwrap_or(model),
                    duration_ms = duration.as_secs_f64() * 1000.0,
                    success = true,
                    retry_count = retries,
                    cost_usd = cost,
                    "media job made"
                );
                Ok((value, record, cost))
            }
            Err(AttemptError::Rejected(r)) if outcome.attempts.len() == 1 => {
                record.outcome = AttemptOutcome::SkippedBreakerOpen;
                record.error = Some(r.to_string());
                Err((record, None))
            }
            Err(AttemptError::Rejected(_)) => {
                // Refused after failed attempts: the turn failed with the last of them.
                record.outcome = AttemptOutcome::Failed;
                record.kind = lock(&d.counters).last_error;
                Err((record, None))
            }
            Err(AttemptError::Provider(e)) => {
                record.outcome = AttemptOutcome::Failed;
                record.kind = Some(e.kind());
                record.status = e.status();
                record.error = Some(e.to_string());
                Err((record, Some(e)))
            }
        }
    }

    /// What a finished job cost: its units at the configured price, else the catalog's
    /// unit price for the model; 0, with one warning per deployment, when either is unknown.
    fn cost(&self, d: &Deployed<P>, request: &P::Request, response: &P::Response) -> f64 {
        let model = P::answered_model(response)
            .or_else(|| P::requested_model(request))
            .unwrap_or("");
        let price = d.usd_per_unit.or_else(|| {
            steadfast_catalog::lookup(d.provider.kind(), model)
                .and_then(|m| m.unit_price)
                .filter(|p| p.unit == P::UNIT)
                .map(|p| p.usd_per_unit)
        });
        match (price, P::units(request, response)) {
            (Some(price), Some(units)) => price * units,
            _ => {
                if !d.warned_unpriced.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "steadfast_router::media",
                        provider = d.provider.id(),
                        model,
                        unit = P::UNIT,
                        "no price per {} for this media model (or no length asked): billed 0; set `usd_per_unit`",
                        P::UNIT
                    );
                }
                0.0
            }
        }
    }

    /// Each deployment's counters, breaker state and whether it is enabled.
    pub fn stats(&self) -> Vec<MediaStats> {
        self.deployments
            .iter()
            .map(|d| {
                let c = lock(&d.counters);
                let [p50] = c.latency.percentiles([50.0]);
                MediaStats {
                    id: d.provider.id().to_owned(),
                    provider: d.provider.kind().as_str(),
                    calls: c.calls,
                    attempts: c.attempts,
                    successes: c.successes,
                    failures: c.failures,
                    consecutive_failures: c.consecutive_failures,
                    error_rate: if c.attempts == 0 {
                        0.0
                    } else {
                        c.failures as f64 / c.attempts as f64
                    },
                    last_error: c.last_error,
                    breaker: d.breaker.state(),
                    enabled: d.enabled.load(Ordering::Relaxed),
                    cost_usd: c.cost_usd,
                    latency_p50_ms: p50,
                }
            })
            .collect()
    }

    /// Zeroes every counter (breakers keep their state).
    pub fn reset_stats(&self) {
        for d in self.deployments.iter() {
            *lock(&d.counters) = Counters::new();
        }
    }

    /// Enables or disables deployment `id`; false when there is none.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> bool {
        match self.deployments.iter().find(|d| d.provider.id() == id) {
            Some(d) => {
                d.enabled.store(enabled, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}
