//! xAI (Grok): `XaiVideoProvider` (deferred video requests, polled) and `XaiImageProvider`
//! (synchronous, OpenAI-shaped image generation).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use steadfast_errors::{ErrorKind, Provider, ProviderError, classify};
use steadfast_providers_core::http::{Caller, default_client};
use steadfast_providers_core::secret::{HeaderNames, RedactedUrl};
use steadfast_providers_core::{
    ApiKey, ImageProvider, ImageRequest, ImageResponse, JobStatus, ProgressFn, VideoProvider,
    VideoRequest, VideoResponse,
};

use crate::common::{self, Service};
use crate::images::{Endpoint, ImageFormat};
use crate::poll::{self, Job, JobState, PollConfig};

/// xAI's API host (paths start with `/v1`).
pub const XAI_BASE_URL: &str = "https://api.x.ai";
/// The environment variables read for the key, in order.
pub const XAI_API_KEY_VARS: &[&str] = &["XAI_API_KEY", "GROK_API_KEY"];

/// Configuration of an [`XaiVideoProvider`].
///
/// ```
/// use steadfast_providers_media::XaiVideoConfig;
///
/// let config: XaiVideoConfig = serde_json::from_str(r#"{"id": "grok", "poll": {"deadline": 300000}}"#).unwrap();
/// assert_eq!(config.model, "grok-imagine-video");
/// assert_eq!(config.poll.deadline.as_secs(), 300);
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XaiVideoConfig {
    /// The instance id shown in errors. Default `xai`.
    pub id: String,
    /// The API host. Default [`XAI_BASE_URL`].
    #[serde(serialize_with = "steadfast_providers_core::secret::serialize_url")]
    pub base_url: String,
    /// Sent as `Authorization: Bearer`. Never serialized.
    #[serde(skip_serializing)]
    pub api_key: Option<ApiKey>,
    /// The timeout of each HTTP request (create, each poll). Default 60 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// The model when the request names none. Default `grok-imagine-video`.
    pub model: String,
    /// How the request is polled. Default: 2 s → 10 s with full jitter, 10 minutes.
    pub poll: PollConfig,
    /// Extra headers sent with every request. Values never print and are read from
    /// files but never written back.
    #[serde(skip_serializing)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for XaiVideoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XaiVideoConfig")
            .field("id", &self.id)
            .field("base_url", &RedactedUrl(&self.base_url))
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("model", &self.model)
            .field("poll", &self.poll)
            .field("headers", &HeaderNames(&self.headers))
            .finish()
    }
}

impl Default for XaiVideoConfig {
    fn default() -> Self {
        XaiVideoConfig {
            id: "xai".to_owned(),
            base_url: XAI_BASE_URL.to_owned(),
            api_key: None,
            timeout: Duration::from_secs(60),
            model: "grok-imagine-video".to_owned(),
            poll: PollConfig::default(),
            headers: BTreeMap::new(),
        }
    }
}

impl XaiVideoConfig {
    /// The defaults, with the key from `XAI_API_KEY` or `GROK_API_KEY`.
    pub fn from_env() -> XaiVideoConfig {
        XaiVideoConfig {
            api_key: ApiKey::from_env(XAI_API_KEY_VARS),
            ..XaiVideoConfig::default()
        }
    }
}

/// xAI video generation, a deferred request:
///
/// - `POST /v1/videos/generations` with `model`, `prompt`, `duration`, `aspect_ratio` (the
///   request's `ratio`), `image: {"url"}` (the request's `image_url`) and `extra`
///   (`resolution`, …) → `{"request_id"}`;
/// - `GET /v1/videos/{request_id}` until `status` is `done` (→ `video.url`), `failed`
///   (→ its `error {code, message}`, classified by xAI's table), or `expired` (→ `timeout`).
///   `pending` is waiting (also `queued`/`processing`, which some gateways report, and a
///   body that carries only the `request_id`). A `done` video whose
///   `respect_moderation` is `false` and has no URL is a `content_filter` failure.
#[derive(Clone)]
pub struct XaiVideoProvider {
    config: XaiVideoConfig,
    client: reqwest::Client,
}

impl fmt::Debug for XaiVideoProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        common::debug_provider(
            f,
            "XaiVideoProvider",
            &self.config.id,
            &self.config.base_url,
            self.config.api_key.is_some(),
        )
    }
}

#[derive(Debug, Deserialize)]
struct Created {
    request_id: String,
}

#[derive(Debug, Deserialize)]
struct Deferred {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    video: Option<Video>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    progress: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Video {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    respect_moderation: Option<bool>,
}

impl XaiVideoProvider {
    /// A provider with its own [`default_client`].
    pub fn new(config: XaiVideoConfig) -> XaiVideoProvider {
        XaiVideoProvider::with_client(config, default_client())
    }

    /// A provider sharing `client` with others.
    ///
    /// Build `client` with [`redirect_policy`](steadfast_providers_core::http::redirect_policy)
    /// (as [`default_client`](steadfast_providers_core::http::default_client) is): a client that
    /// follows a redirect to another origin sends the key there before the answer is refused.
    pub fn with_client(config: XaiVideoConfig, client: reqwest::Client) -> XaiVideoProvider {
        XaiVideoProvider { config, client }
    }

    /// Its configuration.
    pub fn config(&self) -> &XaiVideoConfig {
        &self.config
    }

    /// A cheap authenticated call: `GET /v1/models`.
    pub async fn health_check(&self) -> Result<(), ProviderError> {
        let service = self.service();
        service.health_check(&service.url("/v1/models")).await
    }

    fn service(&self) -> Service<'_> {
        Service {
            dialect: Provider::Xai,
            id: &self.config.id,
            base_url: &self.config.base_url,
            key: self.config.api_key.as_ref(),
            key_vars: Some(XAI_API_KEY_VARS),
            headers: &self.config.headers,
            fixed_header: None,
            timeout: self.config.timeout,
            client: &self.client,
        }
    }

    fn body(request: &VideoRequest, model: &str) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("model".into(), model.into());
        body.insert("prompt".into(), request.prompt.as_str().into());
        common::put(&mut body, "duration", request.duration_secs);
        common::put(&mut body, "aspect_ratio", request.ratio.as_deref());
        if let Some(url) = &request.image_url {
            body.insert("image".into(), json!({ "url": url }));
        }
        common::merge(&mut body, &request.extra);
        body
    }

    async fn create(
        &self,
        caller: &Caller<'_>,
        key: Option<&ApiKey>,
        body: &Map<String, Value>,
    ) -> Result<String, ProviderError> {
        let service = self.service();
        let url = service.url("/v1/videos/generations");
        let request = service.request(Method::POST, &url, key);
        let response = caller.send(request.json(body)).await?;
        let (created, _) = common::json::<Created>(caller, response).await?;
        Ok(created.request_id)
    }

    async fn poll(
        &self,
        caller: &Caller<'_>,
        key: Option<&ApiKey>,
        id: &str,
        model: &str,
    ) -> Result<JobState<VideoResponse>, ProviderError> {
        let service = self.service();
        let url = service.url(&format!("/v1/videos/{id}"));
        let response = caller.send(service.request(Method::GET, &url, key)).await?;
        let (deferred, raw) = common::json::<Deferred>(caller, response).await?;
        let progress = deferred.progress.map(|p| {
            let fraction = if p > 1.0 { p / 100.0 } else { p };
            fraction.clamp(0.0, 1.0) as f32
        });
        Ok(match deferred.status.as_deref().unwrap_or("pending") {
            "pending" | "queued" => JobState::Waiting {
                status: if deferred.status.as_deref() == Some("queued") {
                    JobStatus::Queued
                } else {
                    JobStatus::Pending
                },
                progress,
            },
            "processing" | "in_progress" | "running" => JobState::Waiting {
                status: JobStatus::Running,
                progress,
            },
            "done" => {
                let video = deferred.video.unwrap_or(Video {
                    url: None,
                    respect_moderation: None,
                });
                match video.url.filter(|u| !u.is_empty()) {
                    Some(url) => JobState::Succeeded(VideoResponse {
                        job_id: id.to_owned(),
                        urls: vec![url],
                        model: deferred
                            .model
                            .filter(|m| !m.is_empty())
                            .or(Some(model.to_owned())),
                    }),
                    None if video.respect_moderation == Some(false) => JobState::Failed(
                        caller.label(
                            ProviderError::new(
                                ErrorKind::ContentFilter,
                                "xai",
                                format!("video request {id} was withheld by moderation"),
                            )
                            .with_retryable(false),
                        ),
                    ),
                    None => JobState::Failed(common::protocol(
                        caller,
                        &format!("video request {id} is done but has no video url"),
                    )),
                }
            }
            "failed" => JobState::Failed(
                caller.label(
                    classify::in_band_value_with_secret(Provider::Xai, &raw, caller.secret())
                        .unwrap_or_else(|| {
                            ProviderError::new(
                                ErrorKind::Unknown,
                                "xai",
                                format!("video request {id} failed"),
                            )
                        }),
                ),
            ),
            "expired" => JobState::Failed(caller.label(ProviderError::new(
                ErrorKind::Timeout,
                "xai",
                format!("video request {id} expired before it finished"),
            ))),
            other => {
                tracing::debug!(provider = %self.config.id, job_id = id, status = other, "unknown video status");
                JobState::waiting(JobStatus::Pending)
            }
        })
    }
}

#[async_trait]
impl VideoProvider for XaiVideoProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        Provider::Xai
    }

    async fn generate_video(
        &self,
        request: &VideoRequest,
        progress: Option<ProgressFn>,
    ) -> Result<VideoResponse, ProviderError> {
        let model = request.model.as_deref().unwrap_or(&self.config.model);
        let service = self.service();
        let caller = service.caller(model);
        let key = service.key(&caller)?;
        if request.prompt.trim().is_empty() {
            return Err(common::invalid(&caller, "a video request needs a prompt"));
        }
        let body = Self::body(request, model);
        let job = Job {
            provider: &self.config.id,
            model,
            noun: "video request",
        };
        poll::run(
            &self.config.poll,
            job,
            || self.create(&caller, key, &body),
            |id: &str| {
                let id = id.to_owned();
                async move { self.poll(&caller, key, &id, model).await }
            },
            progress.as_ref(),
        )
        .await
    }
}

/// Configuration of an [`XaiImageProvider`].
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XaiImageConfig {
    /// The instance id shown in errors. Default `xai`.
    pub id: String,
    /// The API host. Default [`XAI_BASE_URL`].
    #[serde(serialize_with = "steadfast_providers_core::secret::serialize_url")]
    pub base_url: String,
    /// Sent as `Authorization: Bearer`. Never serialized.
    #[serde(skip_serializing)]
    pub api_key: Option<ApiKey>,
    /// The timeout of the request. Default 120 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// The model when the request names none. Default `grok-imagine-image`.
    pub model: String,
    /// `response_format` to ask for; `None` leaves it to xAI (a URL). Default none.
    pub response_format: Option<ImageFormat>,
    /// Extra headers sent with every request. Values never print and are read from
    /// files but never written back.
    #[serde(skip_serializing)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for XaiImageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XaiImageConfig")
            .field("id", &self.id)
            .field("base_url", &RedactedUrl(&self.base_url))
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("model", &self.model)
            .field("response_format", &self.response_format)
            .field("headers", &HeaderNames(&self.headers))
            .finish()
    }
}

impl Default for XaiImageConfig {
    fn default() -> Self {
        XaiImageConfig {
            id: "xai".to_owned(),
            base_url: XAI_BASE_URL.to_owned(),
            api_key: None,
            timeout: Duration::from_secs(120),
            model: "grok-imagine-image".to_owned(),
            response_format: None,
            headers: BTreeMap::new(),
        }
    }
}

impl XaiImageConfig {
    /// The defaults, with the key from `XAI_API_KEY` or `GROK_API_KEY`.
    pub fn from_env() -> XaiImageConfig {
        XaiImageConfig {
            api_key: ApiKey::from_env(XAI_API_KEY_VARS),
            ..XaiImageConfig::default()
        }
    }
}

/// xAI image generation: synchronous `POST /v1/images/generations` (`model`, `prompt`, `n`,
/// `response_format`, and `extra` such as `aspect_ratio` or `resolution`), answered like
/// OpenAI (`data[].url | b64_json`, `revised_prompt`). xAI does not accept `size`: a size in
/// the request is not sent (use `extra.aspect_ratio`).
#[derive(Clone)]
pub struct XaiImageProvider {
    config: XaiImageConfig,
    client: reqwest::Client,
}

impl fmt::Debug for XaiImageProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        common::debug_provider(
            f,
            "XaiImageProvider",
            &self.config.id,
            &self.config.base_url,
            self.config.api_key.is_some(),
        )
    }
}

impl XaiImageProvider {
    /// A provider with its own [`default_client`].
    pub fn new(config: XaiImageConfig) -> XaiImageProvider {
        XaiImageProvider::with_client(config, default_client())
    }

    /// A provider sharing `client` with others.
    ///
    /// Build `client` with [`redirect_policy`](steadfast_providers_core::http::redirect_policy)
    /// (as [`default_client`](steadfast_providers_core::http::default_client) is): a client that
    /// follows a redirect to another origin sends the key there before the answer is refused.
    pub fn with_client(config: XaiImageConfig, client: reqwest::Client) -> XaiImageProvider {
        XaiImageProvider { config, client }
    }

    /// Its configuration.
    pub fn config(&self) -> &XaiImageConfig {
        &self.config
    }

    /// A cheap authenticated call: `GET /v1/models`.
    pub async fn health_check(&self) -> Result<(), ProviderError> {
        let service = self.endpoint().service;
        service.health_check(&service.url("/v1/models")).await
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            service: Service {
                dialect: Provider::Xai,
                id: &self.config.id,
                base_url: &self.config.base_url,
                key: self.config.api_key.as_ref(),
                key_vars: Some(XAI_API_KEY_VARS),
                headers: &self.config.headers,
                fixed_header: None,
                timeout: self.config.timeout,
                client: &self.client,
            },
            path: "/v1/images/generations",
            model: Some(&self.config.model),
            response_format: self.config.response_format,
            send_size: false,
        }
    }
}

#[async_trait]
impl ImageProvider for XaiImageProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        Provider::Xai
    }

    async fn generate_image(&self, request: &ImageRequest) -> Result<ImageResponse, ProviderError> {
        self.endpoint().generate(request).await
    }
}
