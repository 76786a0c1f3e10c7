//! `MediaJob`: what the media router needs of a kind of job, implemented for video and
//! image providers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use steadfast_errors::{Provider, ProviderError};
use steadfast_providers_core::{
    ImageProvider, ImageRequest, ImageResponse, ProgressFn, VideoProvider, VideoRequest,
    VideoResponse,
};

/// The future of one media job.
pub type JobFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// A kind of media job a [`MediaRouter`](super::MediaRouter) can run: implemented for `dyn VideoProvider` and
/// `dyn ImageProvider`.
pub trait MediaJob: Send + Sync + fmt::Debug {
    /// What is asked.
    type Request: Send + Sync;
    /// What a finished job gives.
    type Response: Send;
    /// The unit the catalog prices this kind of job in (`second`, `image`).
    const UNIT: &'static str;

    /// The deployment's id.
    fn id(&self) -> &str;
    /// Its provider.
    fn kind(&self) -> Provider;
    /// Runs one job.
    fn run<'a>(
        &'a self,
        request: &'a Self::Request,
        progress: Option<ProgressFn>,
    ) -> JobFuture<'a, Self::Response>;
    /// The model asked for, if the request names one.
    fn requested_model(request: &Self::Request) -> Option<&str>;
    /// The model that made it, if the answer says.
    fn answered_model(response: &Self::Response) -> Option<&str>;
    /// How many units the job is billed: seconds of video, images.
    fn units(request: &Self::Request, response: &Self::Response) -> Option<f64>;
}

impl MediaJob for dyn VideoProvider {
    type Request = VideoRequest;
    type Response = VideoResponse;
    const UNIT: &'static str = "second";

    fn id(&self) -> &str {
        VideoProvider::id(self)
    }
    fn kind(&self) -> Provider {
        VideoProvider::kind(self)
    }
    fn run<'a>(
        &'a self,
        request: &'a VideoRequest,
        progress: Option<ProgressFn>,
    ) -> JobFuture<'a, VideoResponse> {
        self.generate_video(request, progress)
    }
    fn requested_model(request: &VideoRequest) -> Option<&str> {
        request.model.as_deref()
    }
    fn answered_model(response: &VideoResponse) -> Option<&str> {
        response.model.as_deref()
    }
    fn units(request: &VideoRequest, _: &VideoResponse) -> Option<f64> {
        request.duration_secs.map(f64::from)
    }
}

impl MediaJob for dyn ImageProvider {
    type Request = ImageRequest;
    type Response = ImageResponse;
    const UNIT: &'static str = "image";

    fn id(&self) -> &str {
        ImageProvider::id(self)
    }
    fn kind(&self) -> Provider {
        ImageProvider::kind(self)
    }
    fn run<'a>(
        &'a self,
        request: &'a ImageRequest,
        _progress: Option<ProgressFn>,
    ) -> JobFuture<'a, ImageResponse> {
        self.generate_image(request)
    }
    fn requested_model(request: &ImageRequest) -> Option<&str> {
        request.model.as_deref()
    }
    fn answered_model(response: &ImageResponse) -> Option<&str> {
        response.model.as_deref()
    }
    fn units(_: &ImageRequest, response: &ImageResponse) -> Option<f64> {
        Some(response.images.len() as f64)
    }
}
