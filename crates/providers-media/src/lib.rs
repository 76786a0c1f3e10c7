//! Media job providers for steadfast: Runway and xAI video tasks, and image providers.
//!
//! | provider | trait | wire |
//! |---|---|---|
//! | [`RunwayProvider`] | [`VideoProvider`] | `POST /v1/image_to_video` or `/v1/text_to_video`, poll `GET /v1/tasks/{id}` |
//! | [`XaiVideoProvider`] | [`VideoProvider`] | `POST /v1/videos/generations`, poll `GET /v1/videos/{request_id}` |
//! | [`XaiImageProvider`] | [`ImageProvider`] | `POST /v1/images/generations` (synchronous) |
//! | [`OpenAiImageProvider`] | [`ImageProvider`] | `POST {base}/images/generations` on any OpenAI-compatible server |
//! | [`PollinationsImageProvider`] | [`ImageProvider`] | `GET {base}/{prompt}?width&height&model&seed` → image bytes |
//!
//! # The key decision: a job that ended is never polled again
//!
//! Video APIs are jobs: create, then poll. The shared [`poll`] loop separates two kinds of
//! failure that look alike on the wire. A *poll request* that fails with a retryable error
//! (429, 5xx, a reset connection) says nothing about the job, so it is polled again, with
//! backoff, within the deadline. A *job* that failed (Runway `FAILED` with
//! `INTERNAL.BAD_OUTPUT`, xAI `failed`) or was cancelled is over: the wait ends at once with
//! the classified error, even when its kind is retryable, because retrying means creating and
//! paying for a new job — a decision for the caller's retry policy ([`fallback`] shows one),
//! not for the poller. Queued states (Runway `THROTTLED`) are waiting, never failures.
//!
//! Errors are [`ProviderError`]s classified by the provider's error table
//! (`steadfast_errors::classify`), labelled with the instance id and model, with the key
//! scrubbed; keys are [`ApiKey`]s and never appear in logs, errors or `Debug` output.
//!
//! # Example
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use serde_json::json;
//! use steadfast_providers_core::{ApiKey, JobStatus, ProgressFn, VideoProvider, VideoRequest};
//! use steadfast_providers_media::poll::PollConfig;
//! use steadfast_providers_media::{RunwayConfig, RunwayProvider};
//! use wiremock::matchers::{body_partial_json, header, method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let server = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .and(path("/v1/image_to_video"))
//!     .and(header("X-Runway-Version", "2024-11-06"))
//!     .and(body_partial_json(json!({"model": "gen4_turbo", "promptImage": "https://example.com/cat.jpg"})))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "17f20503-6c24-4c16-946b-35dbbce2af2f"})))
//!     .mount(&server)
//!     .await;
//! Mock::given(method("GET"))
//!     .and(path("/v1/tasks/17f20503-6c24-4c16-946b-35dbbce2af2f"))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(json!({
//!         "id": "17f20503-6c24-4c16-946b-35dbbce2af2f",
//!         "createdAt": "2026-05-10T16:20:11.412Z",
//!         "status": "SUCCEEDED",
//!         "output": ["https://dnznrvs05pmza.cloudfront.net/cat.mp4"]
//!     })))
//!     .mount(&server)
//!     .await;
//!
//! let runway = RunwayProvider::new(RunwayConfig {
//!     base_url: server.uri(),
//!     api_key: Some(ApiKey::new("key_0123")),
//!     poll: PollConfig::fixed(Duration::from_millis(10), Duration::from_secs(5)),
//!     ..RunwayConfig::default()
//! });
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! let progress: ProgressFn = Arc::new(move |p| log.lock().unwrap().push(p.status));
//! let request = VideoRequest {
//!     prompt: "the cat yawns".into(),
//!     image_url: Some("https://example.com/cat.jpg".into()),
//!     ..VideoRequest::default()
//! };
//! let video = runway.generate_video(&request, Some(progress)).await.unwrap();
//! assert_eq!(video.urls, ["https://dnznrvs05pmza.cloudfront.net/cat.mp4"]);
//! assert_eq!(*seen.lock().unwrap(), [JobStatus::Succeeded]);
//! # }
//! ```

mod common;
pub mod fallback;
mod images;
pub mod poll;
mod pollinations;
mod runway;
mod xai;

pub use images::{
    ImageFormat, OPENAI_API_KEY_VARS, OPENAI_BASE_URL, OpenAiImageConfig, OpenAiImageProvider,
};
pub use pollinations::{
    POLLINATIONS_API_KEY_VARS, POLLINATIONS_BASE_URL, POLLINATIONS_LEGACY_BASE_URL,
    PollinationsConfig, PollinationsImageProvider,
};
pub use runway::{
    RUNWAY_API_KEY_VARS, RUNWAY_API_VERSION, RUNWAY_BASE_URL, RunwayConfig, RunwayProvider,
};
pub use xai::{
    XAI_API_KEY_VARS, XAI_BASE_URL, XaiImageConfig, XaiImageProvider, XaiVideoConfig,
    XaiVideoProvider,
};

#[doc(no_inline)]
pub use steadfast_errors::ProviderError;
#[doc(no_inline)]
pub use steadfast_providers_core::{
    ApiKey, ImageProvider, ImageRequest, ImageResponse, JobProgress, JobStatus, ProgressFn,
    VideoProvider, VideoRequest, VideoResponse,
};
