//! `RunwayProvider`: Runway's video tasks (`/v1/image_to_video`, `/v1/text_to_video`), polled
//! at `/v1/tasks/{id}`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use steadfast_errors::{ErrorKind, Provider, ProviderError, classify};
use steadfast_providers_core::http::{Caller, default_client};
use steadfast_providers_core::secret::{HeaderNames, RedactedUrl};
use steadfast_providers_core::{
    ApiKey, JobStatus, ProgressFn, VideoProvider, VideoRequest, VideoResponse,
};

use crate::common::{self, Service};
use crate::poll::{self, Job, JobState, PollConfig};

/// Runway's API host.
pub const RUNWAY_BASE_URL: &str = "https://api.dev.runwayml.com";
/// The API version sent as `X-Runway-Version`.
pub const RUNWAY_API_VERSION: &str = "2024-11-06";
/// The environment variables read for the key, in order.
pub const RUNWAY_API_KEY_VARS: &[&str] = &["RUNWAY_API_KEY", "RUNWAYML_API_SECRET"];

/// Configuration of a [`RunwayProvider`].
///
/// ```
/// use steadfast_providers_media::RunwayConfig;
///
/// let config: RunwayConfig = serde_json::from_str(r#"{
///     "id": "runway-prod",
///     "image_model": "gen4_turbo",
///     "poll": {"deadline": "15m"}
/// }"#).unwrap();
/// assert_eq!(config.base_url, "https://api.dev.runwayml.com");
/// assert_eq!(config.text_model, "gen4.5");
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunwayConfig {
    /// The instance id shown in errors. Default `runway`.
    pub id: String,
    /// The API host. Default [`RUNWAY_BASE_URL`].
    #[serde(serialize_with = "steadfast_providers_core::secret::serialize_url")]
    pub base_url: String,
    /// The API key (`key_…`), sent as `Authorization: Bearer`. Never serialized.
    #[serde(skip_serializing)]
    pub api_key: Option<ApiKey>,
    /// Sent as `X-Runway-Version`. Default [`RUNWAY_API_VERSION`].
    pub api_version: String,
    /// The timeout of each HTTP request (create, each poll). Default 60 s (the official SDK's).
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// The model when the request has a first frame (`image_url`) and names none.
    /// Default `gen4_turbo`.
    pub image_model: String,
    /// The model when the request has no image and names none. Default `gen4.5`.
    pub text_model: String,
    /// Models that only animate an image; a text-only request for one of them is refused
    /// locally (it would be a 400). Default `gen4_turbo`, `gen3a_turbo`.
    pub image_only_models: Vec<String>,
    /// The resolution when the request gives none. Default `1280:720` (accepted by every
    /// current model).
    pub ratio: String,
    /// The length when the request gives none; `None` leaves it to the model. Default 5
    /// (`gen4.5` requires one; `veo3` only accepts 8).
    pub duration_secs: Option<u32>,
    /// How the task is polled. Default: 2 s → 10 s with full jitter, 10 minutes.
    pub poll: PollConfig,
    /// Extra headers sent with every request. Values never print and are read from
    /// files but never written back.
    #[serde(skip_serializing)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for RunwayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunwayConfig")
            .field("id", &self.id)
            .field("base_url", &RedactedUrl(&self.base_url))
            .field("api_key", &self.api_key)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("image_model", &self.image_model)
            .field("text_model", &self.text_model)
            .field("image_only_models", &self.image_only_models)
            .field("ratio", &self.ratio)
            .field("duration_secs", &self.duration_secs)
            .field("poll", &self.poll)
            .field("headers", &HeaderNames(&self.headers))
            .finish()
    }
}

impl Default for RunwayConfig {
    fn default() -> Self {
        RunwayConfig {
            id: "runway".to_owned(),
            base_url: RUNWAY_BASE_URL.to_owned(),
            api_key: None,
            api_version: RUNWAY_API_VERSION.to_owned(),
            timeout: Duration::from_secs(60),
            image_model: "gen4_turbo".to_owned(),
            text_model: "gen4.5".to_owned(),
            image_only_models: vec!["gen4_turbo".to_owned(), "gen3a_turbo".to_owned()],
            ratio: "1280:720".to_owned(),
            duration_secs: Some(5),
            poll: PollConfig::default(),
            headers: BTreeMap::new(),
        }
    }
}

impl RunwayConfig {
    /// The defaults, with the key from `RUNWAY_API_KEY` or `RUNWAYML_API_SECRET` (the
    /// official SDKs' variable).
    pub fn from_env() -> RunwayConfig {
        RunwayConfig {
            api_key: ApiKey::from_env(RUNWAY_API_KEY_VARS),
            ..RunwayConfig::default()
        }
    }
}

/// Runway video generation: creates a task, then polls it until it succeeds, fails, is
/// cancelled or the deadline passes.
///
/// - A request with `image_url` goes to `POST /v1/image_to_video` (`promptImage`,
///   `promptText`, `model`, `ratio`, `duration`); one without goes to
///   `POST /v1/text_to_video`, refused locally for image-only models.
/// - `GET /v1/tasks/{id}`: `PENDING` and `THROTTLED` are waiting (`THROTTLED` is reported as
///   [`JobStatus::Queued`], never as a failure), `RUNNING` reports its `progress`,
///   `SUCCEEDED` returns the `output` URLs (they expire within 24–48 hours), `FAILED` is
///   classified from its `failureCode` (`SAFETY.*` → `content_filter`, not retried;
///   `INTERNAL.*` → `server`, retryable by creating a new task), and `CANCELLED` ends the
///   wait at once with a `cancelled` error (the official Python SDK's sync client keeps
///   polling a cancelled task until its timeout).
/// - HTTP errors on create and poll are classified by Runway's error table; a failed poll
///   that is retryable (429, 5xx, network) is polled again within the deadline.
///
/// A status this version does not know is treated as waiting (the deadline bounds it). A
/// task left running at the deadline is not cancelled on Runway's side.
#[derive(Clone)]
pub struct RunwayProvider {
    config: RunwayConfig,
    client: reqwest::Client,
}

impl fmt::Debug for RunwayProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        common::debug_provider(
            f,
            "RunwayProvider",
            &self.config.id,
            &self.config.base_url,
            self.config.api_key.is_some(),
        )
    }
}

/// A task as `GET /v1/tasks/{id}` returns it.
#[derive(Debug, Deserialize)]
struct Task {
    status: String,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    output: Option<Vec<String>>,
    #[serde(default)]
    failure: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

impl RunwayProvider {
    /// A provider with its own [`default_client`].
    pub fn new(config: RunwayConfig) -> RunwayProvider {
        RunwayProvider::with_client(config, default_client())
    }

    /// A provider sharing `client` with others.
    ///
    /// Build `client` with [`redirect_policy`](steadfast_providers_core::http::redirect_policy)
    /// (as [`default_client`](steadfast_providers_core::http::default_client) is): a client that
    /// follows a redirect to another origin sends the key there before the answer is refused.
    pub fn with_client(config: RunwayConfig, client: reqwest::Client) -> RunwayProvider {
        RunwayProvider { config, client }
    }

    /// Its configuration.
    pub fn config(&self) -> &RunwayConfig {
        &self.config
    }

    /// A cheap authenticated call: `GET /v1/organization` (credit balance and tier).
    pub async fn health_check(&self) -> Result<(), ProviderError> {
        let service = self.service();
        service.health_check(&service.url("/v1/organization")).await
    }

    fn service(&self) -> Service<'_> {
        Service {
            dialect: Provider::Runway,
            id: &self.config.id,
            base_url: &self.config.base_url,
            key: self.config.api_key.as_ref(),
            key_vars: Some(RUNWAY_API_KEY_VARS),
            headers: &self.config.headers,
            fixed_header: Some(("X-Runway-Version", &self.config.api_version)),
            timeout: self.config.timeout,
            client: &self.client,
        }
    }

    /// The endpoint and body for `request`.
    fn body(
        &self,
        request: &VideoRequest,
        caller: &Caller<'_>,
        model: &str,
    ) -> Result<(&'static str, Map<String, Value>), ProviderError> {
        let mut body = Map::new();
        body.insert("model".into(), model.into());
        let path = match &request.image_url {
            Some(image) => {
                body.insert("promptImage".into(), image.as_str().into());
                "/v1/image_to_video"
            }
            None => {
                if self.config.image_only_models.iter().any(|m| m == model) {
                    return Err(common::invalid(
                        caller,
                        &format!(
                            "{model} only animates an image: give the request an image_url, or a text-to-video model such as {}",
                            self.config.text_model
                        ),
                    ));
                }
                if request.prompt.trim().is_empty() {
                    return Err(common::invalid(caller, "text-to-video needs a prompt"));
                }
                "/v1/text_to_video"
            }
        };
        if !request.prompt.is_empty() {
            body.insert("promptText".into(), request.prompt.as_str().into());
        }
        let ratio = request.ratio.as_deref().unwrap_or(&self.config.ratio);
        body.insert("ratio".into(), ratio.into());
        common::put(
            &mut body,
            "duration",
            request.duration_secs.or(self.config.duration_secs),
        );
        common::merge(&mut body, &request.extra);
        Ok((path, body))
    }

    async fn create(
        &self,
        caller: &Caller<'_>,
        key: Option<&ApiKey>,
        path: &str,
        body: &Map<String, Value>,
    ) -> Result<String, ProviderError> {
        let service = self.service();
        let request = service.request(Method::POST, &service.url(path), key);
        let response = caller.send(request.json(body)).await?;
        let (created, _) = common::json::<Created>(caller, response).await?;
        Ok(created.id)
    }

    async fn poll(
        &self,
        caller: &Caller<'_>,
        key: Option<&ApiKey>,
        id: &str,
        model: &str,
    ) -> Result<JobState<VideoResponse>, ProviderError> {
        let service = self.service();
        let url = service.url(&format!("/v1/tasks/{id}"));
        let response = caller.send(service.request(Method::GET, &url, key)).await?;
        let (task, raw) = common::json::<Task>(caller, response).await?;
        Ok(match task.status.as_str() {
            "PENDING" => JobState::waiting(JobStatus::Pending),
            "THROTTLED" => JobState::waiting(JobStatus::Queued),
            "RUNNING" => JobState::Waiting {
                status: JobStatus::Running,
                progress: task.progress.map(|p| p.clamp(0.0, 1.0) as f32),
            },
            "SUCCEEDED" => match task.output {
                Some(urls) if !urls.is_empty() => JobState::Succeeded(VideoResponse {
                    job_id: id.to_owned(),
                    urls,
                    model: Some(model.to_owned()),
                }),
                _ => JobState::Failed(common::protocol(
                    caller,
                    &format!("task {id} succeeded without any output"),
                )),
            },
            "FAILED" => JobState::Failed(
                caller.label(
                    classify::in_band_value_with_secret(Provider::Runway, &raw, caller.secret())
                        .unwrap_or_else(|| {
                            ProviderError::new(
                                ErrorKind::Unknown,
                                "runway",
                                task.failure.as_deref().unwrap_or("task failed"),
                            )
                        }),
                ),
            ),
            "CANCELLED" => JobState::Cancelled {
                reason: task.failure,
            },
            other => {
                // A status this version does not know: keep waiting, the deadline bounds it.
                tracing::debug!(provider = %self.config.id, job_id = id, status = other, "unknown task status");
                JobState::waiting(JobStatus::Pending)
            }
        })
    }
}

#[async_trait]
impl VideoProvider for RunwayProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        Provider::Runway
    }

    async fn generate_video(
        &self,
        request: &VideoRequest,
        progress: Option<ProgressFn>,
    ) -> Result<VideoResponse, ProviderError> {
        let model = request.model.as_deref().unwrap_or(match request.image_url {
            Some(_) => &self.config.image_model,
            None => &self.config.text_model,
        });
        let service = self.service();
        let caller = service.caller(model);
        let key = service.key(&caller)?;
        let (path, body) = self.body(request, &caller, model)?;
        let job = Job {
            provider: &self.config.id,
            model,
            noun: "task",
        };
        poll::run(
            &self.config.poll,
            job,
            || self.create(&caller, key, path, &body),
            |id: &str| {
                let id = id.to_owned();
                async move { self.poll(&caller, key, &id, model).await }
            },
            progress.as_ref(),
        )
        .await
    }
}
