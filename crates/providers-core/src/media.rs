//! Media jobs: image generation, and video generation (create a task, then poll it).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use steadfast_errors::{Provider, ProviderError};

/// An image request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageRequest {
    /// What to draw.
    pub prompt: String,
    /// The model, when the provider has several.
    pub model: Option<String>,
    /// Size such as `1024x1024`.
    pub size: Option<String>,
    /// How many images.
    pub n: Option<u32>,
    /// Provider-specific fields, passed through.
    pub extra: Map<String, Value>,
}

/// One generated image: a URL or inline base64 data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneratedImage {
    /// Where to fetch it.
    pub url: Option<String>,
    /// The image itself, base64.
    pub b64_json: Option<String>,
    /// The prompt the provider actually used, if it rewrote it.
    pub revised_prompt: Option<String>,
}

/// The images of one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageResponse {
    /// The images.
    pub images: Vec<GeneratedImage>,
    /// The model that drew them.
    pub model: Option<String>,
}

/// An image provider.
#[async_trait]
pub trait ImageProvider: Send + Sync + fmt::Debug {
    /// This provider instance's id.
    fn id(&self) -> &str;
    /// Its wire dialect.
    fn kind(&self) -> Provider;
    /// Generates images.
    async fn generate_image(&self, request: &ImageRequest) -> Result<ImageResponse, ProviderError>;
}

/// A video request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VideoRequest {
    /// What to film.
    pub prompt: String,
    /// The model, when the provider has several.
    pub model: Option<String>,
    /// Length in seconds.
    pub duration_secs: Option<u32>,
    /// Aspect ratio or resolution, as the provider names it (`16:9`, `1280:720`).
    pub ratio: Option<String>,
    /// A first frame to animate, by URL.
    pub image_url: Option<String>,
    /// Provider-specific fields, passed through.
    pub extra: Map<String, Value>,
}

/// Where a media job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobStatus {
    /// Accepted, not started.
    Pending,
    /// Held back by the provider's capacity (Runway `THROTTLED`): waiting, not failing.
    Queued,
    /// Being generated.
    Running,
    /// Done.
    Succeeded,
    /// Failed.
    Failed,
    /// Cancelled (by the user or the provider): the wait is over.
    Cancelled,
}

impl JobStatus {
    /// Whether the job will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// A progress report while a job is polled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    /// The provider's job id.
    pub job_id: String,
    /// Where it stands.
    pub status: JobStatus,
    /// Fraction done, `0.0..=1.0`, when the provider says.
    pub progress: Option<f32>,
    /// Time since the job was created.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub elapsed: Duration,
}

/// A callback for progress reports.
pub type ProgressFn = Arc<dyn Fn(&JobProgress) + Send + Sync>;

/// A finished video job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VideoResponse {
    /// The provider's job id.
    pub job_id: String,
    /// Where to fetch the result(s).
    pub urls: Vec<String>,
    /// The model that made it.
    pub model: Option<String>,
}

/// A video provider: creates a job and polls it until it succeeds, fails, is cancelled or
/// runs out of time.
#[async_trait]
pub trait VideoProvider: Send + Sync + fmt::Debug {
    /// This provider instance's id.
    fn id(&self) -> &str;
    /// Its wire dialect.
    fn kind(&self) -> Provider;
    /// Generates a video, reporting progress while polling.
    async fn generate_video(
        &self,
        request: &VideoRequest,
        progress: Option<ProgressFn>,
    ) -> Result<VideoResponse, ProviderError>;
}
