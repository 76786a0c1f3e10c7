//! `MediaRouter`: video and image jobs with fallback, breakers, retries, stats and cost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use steadfast_circuit::State;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_fallback::AttemptOutcome;
use steadfast_providers_core::{
    GeneratedImage, ImageProvider, ImageRequest, ImageResponse, ProgressFn, VideoProvider,
    VideoRequest, VideoResponse,
};
use steadfast_router::media::{MediaConfig, MediaError, MediaOptions, MediaRouter};

/// A video deployment that fails with `fail` (when set) and counts its calls.
#[derive(Debug)]
struct Studio {
    id: &'static str,
    fail: Option<ErrorKind>,
    calls: AtomicU32,
}

impl Studio {
    fn new(id: &'static str, fail: Option<ErrorKind>) -> Arc<Studio> {
        Arc::new(Studio {
            id,
            fail,
            calls: AtomicU32::new(0),
        })
    }
}

#[async_trait::async_trait]
impl VideoProvider for Studio {
    fn id(&self) -> &str {
        self.id
    }
    fn kind(&self) -> Provider {
        Provider::Runway
    }
    async fn generate_video(
        &self,
        request: &VideoRequest,
        _: Option<ProgressFn>,
    ) -> Result<VideoResponse, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.fail {
            Some(kind) => Err(ProviderError::new(kind, self.id, "refused").with_status(503)),
            None => Ok(VideoResponse {
                job_id: format!("{}-job", self.id),
                urls: vec![format!("https://cdn.example/{}.mp4", self.id)],
                model: request.model.clone(),
            }),
        }
    }
}

fn config(attempts: u32) -> MediaConfig {
    let mut c = MediaConfig::default();
    c.retry.max_attempts = attempts;
    c
}

fn video(seconds: u32) -> VideoRequest {
    VideoRequest {
        prompt: "a lighthouse in a storm".into(),
        duration_secs: Some(seconds),
        ..VideoRequest::default()
    }
}

fn router(deployments: &[(&Arc<Studio>, MediaConfig)]) -> MediaRouter<dyn VideoProvider> {
    deployments
        .iter()
        .fold(MediaRouter::builder(), |b, (s, c)| {
            let p: Arc<dyn VideoProvider> = Arc::<Studio>::clone(s);
            b.deployment(p, c.clone())
        })
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_failing_deployment_is_retried_then_fallen_back_from_and_counted() {
    let grok = Studio::new("grok", Some(ErrorKind::Overloaded));
    let runway = Studio::new("runway", None);
    let mut priced = config(1);
    priced.usd_per_unit = Some(0.05);
    let router = router(&[(&grok, config(3)), (&runway, priced)]);
    let done = router
        .generate(&video(8), MediaOptions::default())
        .await
        .unwrap();
    assert_eq!(done.provider, "runway");
    assert_eq!(done.value.urls, ["https://cdn.example/runway.mp4"]);
    assert_eq!(grok.calls.load(Ordering::SeqCst), 3, "retried twice");
    let [first, second] = &done.attempts[..] else {
        panic!("{:?}", done.attempts)
    };
    assert_eq!(
        (
            first.provider.as_str(),
            first.outcome,
            first.kind,
            first.status
        ),
        (
            "grok",
            AttemptOutcome::Failed,
            Some(ErrorKind::Overloaded),
            Some(503)
        )
    );
    assert_eq!(first.retries, 2);
    assert_eq!(second.outcome, AttemptOutcome::Succeeded);
    assert!((done.cost_usd - 0.40).abs() < 1e-12, "{}", done.cost_usd);

    let stats = router.stats();
    assert_eq!(
        (stats[0].attempts, stats[0].failures, stats[0].calls),
        (3, 3, 0)
    );
    assert_eq!(stats[0].consecutive_failures, 3);
    assert_eq!(stats[0].last_error, Some(ErrorKind::Overloaded));
    assert!((stats[0].error_rate - 1.0).abs() < 1e-12);
    assert_eq!(
        (stats[1].attempts, stats[1].successes, stats[1].calls),
        (1, 1, 1)
    );
    assert!((stats[1].cost_usd - 0.40).abs() < 1e-12);
    router.reset_stats();
    assert_eq!(router.stats()[0].attempts, 0);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_skips_its_deployment_without_a_call() {
    let grok = Studio::new("grok", Some(ErrorKind::Server));
    let runway = Studio::new("runway", None);
    let mut tripping = config(1);
    tripping.breaker.consecutive_failures = Some(2);
    let router = router(&[(&grok, tripping), (&runway, config(1))]);
    for _ in 0..2 {
        router
            .generate(&video(4), MediaOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(router.stats()[0].breaker, State::Open);
    let done = router
        .generate(&video(4), MediaOptions::default())
        .await
        .unwrap();
    assert_eq!(
        grok.calls.load(Ordering::SeqCst),
        2,
        "not called while open"
    );
    assert_eq!(done.attempts[0].outcome, AttemptOutcome::SkippedBreakerOpen);
    assert_eq!(done.provider, "runway");
}

#[tokio::test(start_paused = true)]
async fn prefer_goes_first_and_without_fallback_its_failure_is_the_answer() {
    let grok = Studio::new("grok", Some(ErrorKind::Overloaded));
    let runway = Studio::new("runway", None);
    let router = router(&[(&runway, config(1)), (&grok, config(2))]);
    let err = router
        .generate(&video(5), MediaOptions::new(Some("grok"), false, None))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "media job failed: grok: overloaded (503) after 2 attempts (fallback disabled)"
    );
    assert_eq!(err.kind(), Some(ErrorKind::Overloaded));
    assert_eq!(runway.calls.load(Ordering::SeqCst), 0);
    let done = router
        .generate(&video(5), MediaOptions::new(Some("grok"), true, None))
        .await
        .unwrap();
    assert_eq!(done.provider, "runway");

    let unknown = router
        .generate(&video(5), MediaOptions::new(Some("sora"), true, None))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, MediaError::UnknownProvider { .. }),
        "{unknown}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failure_that_will_fail_everywhere_does_not_fall_back() {
    let bad = Studio::new("grok", Some(ErrorKind::InvalidRequest));
    let runway = Studio::new("runway", None);
    let router = router(&[(&bad, config(3)), (&runway, config(1))]);
    let err = router
        .generate(&video(5), MediaOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::InvalidRequest));
    assert_eq!(bad.calls.load(Ordering::SeqCst), 1, "not retried");
    assert_eq!(runway.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn disabled_deployments_are_passed_over() {
    let grok = Studio::new("grok", None);
    let runway = Studio::new("runway", None);
    let router = router(&[(&grok, config(1)), (&runway, config(1))]);
    assert!(router.set_enabled("grok", false));
    assert!(!router.set_enabled("sora", false));
    let done = router
        .generate(&video(5), MediaOptions::default())
        .await
        .unwrap();
    assert_eq!(done.provider, "runway");
    router.set_enabled("runway", false);
    let err = router
        .generate(&video(5), MediaOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, MediaError::NoDeployment), "{err}");
    assert_eq!(grok.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn the_catalog_prices_a_known_model_and_an_unknown_one_costs_nothing() {
    let runway = Studio::new("runway", None);
    let router = router(&[(&runway, config(1))]);
    let mut request = video(10);
    request.model = Some("gen4_turbo".into());
    let priced = steadfast_catalog::lookup(Provider::Runway, "gen4_turbo")
        .and_then(|m| m.unit_price)
        .unwrap();
    assert_eq!(priced.unit, "second");
    let done = router
        .generate(&request, MediaOptions::default())
        .await
        .unwrap();
    assert!((done.cost_usd - 10.0 * priced.usd_per_unit).abs() < 1e-12);
    request.model = Some("no-such-model".into());
    let done = router
        .generate(&request, MediaOptions::default())
        .await
        .unwrap();
    assert_eq!(done.cost_usd, 0.0);
}

#[derive(Debug)]
struct Painter;

#[async_trait::async_trait]
impl ImageProvider for Painter {
    fn id(&self) -> &str {
        "painter"
    }
    fn kind(&self) -> Provider {
        Provider::OpenAi
    }
    async fn generate_image(&self, request: &ImageRequest) -> Result<ImageResponse, ProviderError> {
        let image = GeneratedImage {
            url: Some("https://cdn.example/1.png".into()),
            b64_json: None,
            revised_prompt: None,
        };
        Ok(ImageResponse {
            images: vec![image; request.n.unwrap_or(1) as usize],
            model: None,
        })
    }
}

#[tokio::test(start_paused = true)]
async fn images_are_billed_per_image() {
    let mut priced = config(1);
    priced.usd_per_unit = Some(0.04);
    let painter: Arc<dyn ImageProvider> = Arc::new(Painter);
    let router = MediaRouter::builder().deployment(painter, priced).build();
    let request = ImageRequest {
        prompt: "a red bicycle".into(),
        n: Some(3),
        ..ImageRequest::default()
    };
    let done = router
        .generate(&request, MediaOptions::default())
        .await
        .unwrap();
    assert_eq!(done.value.images.len(), 3);
    assert!((done.cost_usd - 0.12).abs() < 1e-12);
    assert_eq!(router.stats()[0].provider, "openai");
}
