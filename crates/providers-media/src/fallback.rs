//! `generate_video(prompt, prefer, fallback)` across several video providers: the preferred
//! one first, each retried per a policy, falling back by the error's kind.
//!
//! This is the small, video-only answer to seed 000's `generate_video`; the general
//! machinery (breakers, health, streaming failover) is `steadfast-fallback`'s.
//!
//! # Example
//!
//! Grok answers 503 (overloaded: retried, then fallen back from); Runway makes the video.
//!
//! ```
//! use std::time::Duration;
//! use serde_json::json;
//! use steadfast_providers_core::{ApiKey, VideoProvider, VideoRequest};
//! use steadfast_providers_media::fallback;
//! use steadfast_providers_media::poll::PollConfig;
//! use steadfast_providers_media::{RunwayConfig, RunwayProvider, XaiVideoConfig, XaiVideoProvider};
//! use steadfast_retry::{Backoff, RetryConfig, RetryPolicy};
//! use wiremock::matchers::{method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let grok_server = MockServer::start().await;
//! Mock::given(method("POST")).and(path("/v1/videos/generations"))
//!     .respond_with(ResponseTemplate::new(503).set_body_json(json!({
//!         "code": "The service is currently unavailable", "error": "Service temporarily unavailable"
//!     })))
//!     .mount(&grok_server).await;
//! let runway_server = MockServer::start().await;
//! Mock::given(method("POST")).and(path("/v1/text_to_video"))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "task-1"})))
//!     .mount(&runway_server).await;
//! Mock::given(method("GET")).and(path("/v1/tasks/task-1"))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(json!({
//!         "id": "task-1", "status": "SUCCEEDED", "createdAt": "2026-05-10T16:20:11.412Z",
//!         "output": ["https://dnznrvs05pmza.cloudfront.net/task-1.mp4"]
//!     })))
//!     .mount(&runway_server).await;
//!
//! let fast = PollConfig::fixed(Duration::from_millis(10), Duration::from_secs(5));
//! let grok = XaiVideoProvider::new(XaiVideoConfig {
//!     id: "grok".into(), base_url: grok_server.uri(), api_key: Some(ApiKey::new("xai-test")),
//!     poll: fast.clone(), ..XaiVideoConfig::default()
//! });
//! let runway = RunwayProvider::new(RunwayConfig {
//!     base_url: runway_server.uri(), api_key: Some(ApiKey::new("key_test")),
//!     poll: fast, ..RunwayConfig::default()
//! });
//! let retry = RetryPolicy::new(RetryConfig {
//!     max_attempts: 2, backoff: Backoff::constant(Duration::from_millis(10)), ..RetryConfig::default()
//! });
//! let request = VideoRequest { prompt: "a lighthouse in a storm".into(), ..VideoRequest::default() };
//! let providers: [&dyn VideoProvider; 2] = [&runway, &grok];
//!
//! let out = fallback::generate_video(&providers, &request, Some("grok"), true, &retry, None)
//!     .await
//!     .unwrap();
//! assert_eq!(out.video.urls, ["https://dnznrvs05pmza.cloudfront.net/task-1.mp4"]);
//! assert_eq!(out.provider, "runway");
//! assert_eq!(out.failed[0].provider, "grok");
//! assert_eq!(out.failed[0].attempts, 2, "grok was retried once before falling back");
//!
//! // Without fallback, the one error lists what was tried.
//! let err = fallback::generate_video(&providers, &request, Some("grok"), false, &retry, None)
//!     .await
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "video generation failed: grok: overloaded (503) after 2 attempts (fallback disabled)");
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ProgressFn, VideoProvider, VideoRequest, VideoResponse};
use steadfast_retry::RetryPolicy;
use tokio::time::Instant;

/// One provider that was tried and failed.
#[derive(Debug, Clone)]
pub struct FailedProvider {
    /// The provider's id.
    pub provider: String,
    /// Why its last attempt failed.
    pub kind: ErrorKind,
    /// The HTTP status of its last attempt, if there was one.
    pub status: Option<u16>,
    /// How many attempts it was given (1 + retries).
    pub attempts: u32,
    /// Time spent on it, waits between retries included.
    pub elapsed: Duration,
    /// Its last error.
    pub error: ProviderError,
}

impl fmt::Display for FailedProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.provider, self.kind)?;
        if let Some(status) = self.status {
            write!(f, " ({status})")?;
        }
        match self.attempts {
            1 => Ok(()),
            n => write!(f, " after {n} attempts"),
        }
    }
}

/// Why the chain stopped before trying every provider, or that it tried them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VideoStopReason {
    /// Every provider was tried.
    Exhausted,
    /// The caller turned fallback off.
    FallbackDisabled,
    /// The last error's kind does not allow falling back (e.g. `invalid_request`, which
    /// fails everywhere, or `cancelled`).
    NotFallbackable(ErrorKind),
}

impl fmt::Display for VideoStopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VideoStopReason::Exhausted => f.write_str("every provider tried"),
            VideoStopReason::FallbackDisabled => f.write_str("fallback disabled"),
            VideoStopReason::NotFallbackable(kind) => write!(f, "{kind} does not fall back"),
        }
    }
}

/// The one error of a failed [`generate_video`]: every attempt, in order.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum VideoFallbackError {
    /// The provider list was empty.
    #[error("video generation failed: no video provider to try")]
    NoProvider,
    /// The preferred provider is not in the list.
    #[error("video generation failed: no video provider named `{0}`")]
    UnknownProvider(String),
    /// Every provider tried failed.
    #[error("video generation failed: {} ({stop})", list(failed))]
    Failed {
        /// The providers tried, in order.
        failed: Vec<FailedProvider>,
        /// Why no further provider was tried.
        stop: VideoStopReason,
    },
}

fn list(failed: &[FailedProvider]) -> String {
    failed
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl VideoFallbackError {
    /// The providers tried, in order (empty when none was).
    pub fn failed(&self) -> &[FailedProvider] {
        match self {
            VideoFallbackError::Failed { failed, .. } => failed,
            _ => &[],
        }
    }

    /// The last provider error, if any provider was tried.
    pub fn last_error(&self) -> Option<&ProviderError> {
        self.failed().last().map(|f| &f.error)
    }
}

/// A video made by one of the providers.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The video.
    pub video: VideoResponse,
    /// The id of the provider that made it.
    pub provider: String,
    /// The providers that failed before it, in order.
    pub failed: Vec<FailedProvider>,
}

/// Generates a video with the first provider that succeeds.
///
/// The order is `providers` as given, with the one whose id is `prefer` moved to the front.
/// Each provider is run under `retry` (a retried provider creates a new job). After a
/// provider fails, the next one is tried only if `fallback` is on and the error's kind may
/// fall back ([`ErrorKind::may_fall_back`]: not `invalid_request`, not `cancelled`).
/// `progress` receives every provider's poll reports.
///
/// A job that ran out of its poll deadline fails as `timeout`, which the default policy
/// retries, creating (and paying for) a new job; turn that off per kind if unwanted
/// (`per_kind: {"timeout": {"retry": false}}` in the [`RetryConfig`](steadfast_retry::RetryConfig)).
/// Each provider's own [`PollConfig`](crate::poll::PollConfig) deadline bounds one attempt;
/// the policy's `deadline` bounds the retries.
pub async fn generate_video(
    providers: &[&dyn VideoProvider],
    request: &VideoRequest,
    prefer: Option<&str>,
    fallback: bool,
    retry: &RetryPolicy,
    progress: Option<ProgressFn>,
) -> Result<Generated, VideoFallbackError> {
    let mut order: Vec<&dyn VideoProvider> = providers.to_vec();
    if let Some(name) = prefer {
        let at = order
            .iter()
            .position(|p| p.id() == name)
            .ok_or_else(|| VideoFallbackError::UnknownProvider(name.to_owned()))?;
        let preferred = order.remove(at);
        order.insert(0, preferred);
    }
    if order.is_empty() {
        return Err(VideoFallbackError::NoProvider);
    }
    let mut failed = Vec::new();
    let count = order.len();
    for (i, provider) in order.into_iter().enumerate() {
        let started = Instant::now();
        let outcome = retry
            .run(|_| provider.generate_video(request, progress.clone()))
            .await;
        let attempts = u32::try_from(outcome.attempts.len()).unwrap_or(u32::MAX);
        let error = match outcome.result {
            Ok(video) => {
                return Ok(Generated {
                    video,
                    provider: provider.id().to_owned(),
                    failed,
                });
            }
            Err(e) => e,
        };
        tracing::debug!(
            provider = provider.id(),
            kind = %error.kind(),
            attempts,
            "video provider failed"
        );
        let kind = error.kind();
        failed.push(FailedProvider {
            provider: provider.id().to_owned(),
            kind,
            status: error.status(),
            attempts,
            elapsed: started.elapsed(),
            error,
        });
        let stop = if !fallback {
            Some(VideoStopReason::FallbackDisabled)
        } else if !kind.may_fall_back() {
            Some(VideoStopReason::NotFallbackable(kind))
        } else if i + 1 == count {
            Some(VideoStopReason::Exhausted)
        } else {
            None
        };
        if let Some(stop) = stop {
            return Err(VideoFallbackError::Failed { failed, stop });
        }
    }
    Err(VideoFallbackError::NoProvider)
}
