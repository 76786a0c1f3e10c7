//! `fallback::generate_video` with scripted providers on a paused clock.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::{ProgressFn, VideoProvider, VideoRequest, VideoResponse};
use steadfast_providers_media::fallback::{self, VideoFallbackError, VideoStopReason};
use steadfast_retry::{Backoff, RetryConfig, RetryPolicy};

/// A provider that answers from a script (the last answer repeats) and counts its calls.
#[derive(Debug)]
struct Scripted {
    id: &'static str,
    answers: Mutex<VecDeque<Result<(), (ErrorKind, u16)>>>,
    calls: Mutex<u32>,
}

impl Scripted {
    fn new(id: &'static str, answers: Vec<Result<(), (ErrorKind, u16)>>) -> Scripted {
        Scripted {
            id,
            answers: Mutex::new(answers.into()),
            calls: Mutex::new(0),
        }
    }

    fn calls(&self) -> u32 {
        *self.calls.lock().unwrap()
    }
}

#[async_trait]
impl VideoProvider for Scripted {
    fn id(&self) -> &str {
        self.id
    }

    fn kind(&self) -> Provider {
        Provider::Runway
    }

    async fn generate_video(
        &self,
        _request: &VideoRequest,
        _progress: Option<ProgressFn>,
    ) -> Result<VideoResponse, ProviderError> {
        *self.calls.lock().unwrap() += 1;
        let answer = {
            let mut answers = self.answers.lock().unwrap();
            if answers.len() > 1 {
                answers.pop_front().unwrap()
            } else {
                answers[0]
            }
        };
        match answer {
            Ok(()) => Ok(VideoResponse {
                job_id: format!("{}-job", self.id),
                urls: vec![format!("https://{}.example/v.mp4", self.id)],
                model: None,
            }),
            Err((kind, status)) => {
                Err(ProviderError::new(kind, self.id, "scripted failure").with_status(status))
            }
        }
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy::new(RetryConfig {
        max_attempts: 3,
        backoff: Backoff::constant(Duration::from_secs(1)),
        budget: None,
        ..RetryConfig::default()
    })
}

fn request() -> VideoRequest {
    VideoRequest {
        prompt: "a lighthouse".into(),
        ..VideoRequest::default()
    }
}

const OVERLOADED: Result<(), (ErrorKind, u16)> = Err((ErrorKind::Overloaded, 503));

#[tokio::test(start_paused = true)]
async fn the_preferred_provider_goes_first_and_is_retried_before_falling_back() {
    let runway = Scripted::new("runway", vec![Ok(())]);
    let grok = Scripted::new("grok", vec![OVERLOADED]);
    let providers: [&dyn VideoProvider; 2] = [&runway, &grok];
    let out = fallback::generate_video(&providers, &request(), Some("grok"), true, &retry(), None)
        .await
        .unwrap();
    assert_eq!(out.provider, "runway");
    assert_eq!(grok.calls(), 3, "retried per the policy");
    assert_eq!(runway.calls(), 1);
    assert_eq!(out.failed.len(), 1);
    let f = &out.failed[0];
    assert_eq!(
        (f.provider.as_str(), f.kind, f.status, f.attempts),
        ("grok", ErrorKind::Overloaded, Some(503), 3)
    );
    assert_eq!(
        f.elapsed,
        Duration::from_secs(2),
        "two 1 s waits between three attempts"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_preference_the_given_order_holds() {
    let runway = Scripted::new("runway", vec![Ok(())]);
    let grok = Scripted::new("grok", vec![Ok(())]);
    let providers: [&dyn VideoProvider; 2] = [&runway, &grok];
    let out = fallback::generate_video(&providers, &request(), None, true, &retry(), None)
        .await
        .unwrap();
    assert_eq!(out.provider, "runway");
    assert_eq!(grok.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn total_failure_lists_every_attempt() {
    let grok = Scripted::new("grok", vec![OVERLOADED]);
    let runway = Scripted::new("runway", vec![Err((ErrorKind::Auth, 401))]);
    let providers: [&dyn VideoProvider; 2] = [&grok, &runway];
    let err = fallback::generate_video(&providers, &request(), None, true, &retry(), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "video generation failed: grok: overloaded (503) after 3 attempts; runway: auth (401) (every provider tried)"
    );
    assert_eq!(err.failed().len(), 2);
    assert_eq!(err.last_error().unwrap().kind(), ErrorKind::Auth);
    assert!(matches!(
        err,
        VideoFallbackError::Failed {
            stop: VideoStopReason::Exhausted,
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn an_invalid_request_does_not_fall_back() {
    let grok = Scripted::new("grok", vec![Err((ErrorKind::InvalidRequest, 400))]);
    let runway = Scripted::new("runway", vec![Ok(())]);
    let providers: [&dyn VideoProvider; 2] = [&grok, &runway];
    let err = fallback::generate_video(&providers, &request(), None, true, &retry(), None)
        .await
        .unwrap_err();
    assert_eq!(grok.calls(), 1, "not retried either");
    assert_eq!(runway.calls(), 0);
    assert!(matches!(
        err,
        VideoFallbackError::Failed {
            stop: VideoStopReason::NotFallbackable(ErrorKind::InvalidRequest),
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_content_filter_is_not_retried_but_falls_back() {
    let runway = Scripted::new("runway", vec![Err((ErrorKind::ContentFilter, 200))]);
    let grok = Scripted::new("grok", vec![Ok(())]);
    let providers: [&dyn VideoProvider; 2] = [&runway, &grok];
    let out = fallback::generate_video(&providers, &request(), None, true, &retry(), None)
        .await
        .unwrap();
    assert_eq!(runway.calls(), 1);
    assert_eq!(out.provider, "grok");
}

#[tokio::test(start_paused = true)]
async fn fallback_off_stops_after_the_first_provider() {
    let grok = Scripted::new("grok", vec![OVERLOADED, OVERLOADED, Ok(())]);
    let runway = Scripted::new("runway", vec![Ok(())]);
    let providers: [&dyn VideoProvider; 2] = [&grok, &runway];
    let out = fallback::generate_video(&providers, &request(), None, false, &retry(), None)
        .await
        .unwrap();
    assert_eq!(out.provider, "grok", "recovered within its retries");
    let grok = Scripted::new("grok", vec![OVERLOADED]);
    let providers: [&dyn VideoProvider; 2] = [&grok, &runway];
    let err = fallback::generate_video(&providers, &request(), None, false, &retry(), None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        VideoFallbackError::Failed {
            stop: VideoStopReason::FallbackDisabled,
            ..
        }
    ));
    assert_eq!(runway.calls(), 0, "runway was never called");
}

#[tokio::test(start_paused = true)]
async fn unknown_or_missing_providers_are_errors() {
    let runway = Scripted::new("runway", vec![Ok(())]);
    let providers: [&dyn VideoProvider; 1] = [&runway];
    let err = fallback::generate_video(&providers, &request(), Some("sora"), true, &retry(), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "video generation failed: no video provider named `sora`"
    );
    let err = fallback::generate_video(&[], &request(), None, true, &retry(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, VideoFallbackError::NoProvider));
}
