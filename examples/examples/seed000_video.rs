//! Seed 000, "Provider Router Hardening": `generate_video(prompt, prefer, fallback)` over
//! Grok (xAI) and Runway video jobs, each retried three times with exponential backoff, one
//! metrics record per attempt, and a detailed report when every attempt failed.
//!
//! Both providers are the real `steadfast-providers-media` clients, pointed at local
//! wiremock servers that speak their wire formats: Grok answers 429 once and then 503
//! (overloaded), Runway creates a task that is polled from `PENDING` through `RUNNING` to
//! `SUCCEEDED`. No key, no network beyond loopback.
//!
//! ```sh
//! cargo run --example seed000_video
//! cargo run --example seed000_video -- "A cat playing piano" --duration 8
//! ```
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use steadfast_errors::{Category5, Provider, ProviderError};
use steadfast_providers_core::{
    ApiKey, JobStatus, ProgressFn, VideoProvider, VideoRequest, VideoResponse,
};
use steadfast_providers_media::fallback::{self, VideoFallbackError};
use steadfast_providers_media::poll::PollConfig;
use steadfast_providers_media::{RunwayConfig, RunwayProvider, XaiVideoConfig, XaiVideoProvider};
use steadfast_retry::{Backoff, RetryConfig, RetryPolicy, presets};
use tokio::time::Instant;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One generation attempt, as seed 000 logs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AttemptMetrics {
    /// The provider's id (`grok`, `runway`).
    pub(crate) provider: String,
    /// How long the attempt took (create + polls), in milliseconds.
    pub(crate) duration_ms: f64,
    /// Whether it made the video.
    pub(crate) success: bool,
    /// The seed's five-way category of its error, if it failed.
    pub(crate) error_category: Option<Category5>,
    /// Retries of this provider before this attempt, within the call.
    pub(crate) retry_count: u32,
}

/// What the run showed (read by the test that runs this example).
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) struct Summary {
    /// Who made the video of the auto-selected call (Grok first, Runway as fallback).
    pub(crate) auto_provider: String,
    /// The attempts of the auto-selected call, in order.
    pub(crate) auto_attempts: Vec<AttemptMetrics>,
    /// The job states Runway reported while the auto-selected call waited.
    pub(crate) progress: Vec<JobStatus>,
    /// Who made the video with `prefer = "runway"`, and the attempts it took.
    pub(crate) preferred_provider: String,
    /// The attempts of the preferred call.
    pub(crate) preferred_attempts: Vec<AttemptMetrics>,
    /// The report of `prefer = "grok", fallback = false`, which fails.
    pub(crate) no_fallback_error: String,
    /// The attempts of that call.
    pub(crate) no_fallback_attempts: Vec<AttemptMetrics>,
    /// The `duration` Runway was asked for.
    pub(crate) requested_duration: Option<u32>,
}

/// A video provider that writes one [`AttemptMetrics`] per `generate_video` call.
#[derive(Debug)]
struct Metered<P> {
    inner: P,
    log: Arc<Mutex<Vec<AttemptMetrics>>>,
}

#[async_trait::async_trait]
impl<P: VideoProvider> VideoProvider for Metered<P> {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn kind(&self) -> Provider {
        self.inner.kind()
    }

    async fn generate_video(
        &self,
        request: &VideoRequest,
        progress: Option<ProgressFn>,
    ) -> Result<VideoResponse, ProviderError> {
        let started = Instant::now();
        let result = self.inner.generate_video(request, progress).await;
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let retry_count = log.iter().filter(|a| a.provider == self.id()).count();
        log.push(AttemptMetrics {
            provider: self.id().to_owned(),
            duration_ms: (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
            success: result.is_ok(),
            error_category: result.as_ref().err().map(ProviderError::category5),
            retry_count: u32::try_from(retry_count).unwrap_or(u32::MAX),
        });
        result
    }
}

/// Grok's video API, down: one 429 with a 30 ms Retry-After, then 503 on every create.
async fn grok_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/videos/generations"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", "30")
                .set_body_json(
                    json!({"code": "Too many requests", "error": "Rate limit exceeded"}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/videos/generations"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "code": "The service is currently unavailable",
            "error": "Service temporarily unavailable"
        })))
        .mount(&server)
        .await;
    server
}

fn task(id: &str, status: &str) -> ResponseTemplate {
    let mut body = json!({"id": id, "status": status, "createdAt": "2026-05-10T16:20:11.412Z"});
    if status == "RUNNING" {
        body["progress"] = json!(0.5);
    }
    if status == "SUCCEEDED" {
        body["output"] = json!([format!("https://cdn.example.com/{id}.mp4")]);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// Runway, healthy: every text-to-video job is `PENDING`, then `RUNNING`, then `SUCCEEDED`.
async fn runway_server(duration: u32) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/text_to_video"))
        .and(body_partial_json(json!({"duration": duration})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "task-1"})))
        .mount(&server)
        .await;
    for (n, status) in [(1, "PENDING"), (1, "RUNNING")] {
        Mock::given(method("GET"))
            .and(path("/v1/tasks/task-1"))
            .respond_with(task("task-1", status))
            .up_to_n_times(n)
            .with_priority(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v1/tasks/task-1"))
        .respond_with(task("task-1", "SUCCEEDED"))
        .mount(&server)
        .await;
    server
}

fn print_attempts(out: &mut impl Write, attempts: &[AttemptMetrics]) -> Result<(), Box<dyn Error>> {
    for a in attempts {
        writeln!(out, "  {}", serde_json::to_string(a)?)?;
    }
    Ok(())
}

fn take(log: &Mutex<Vec<AttemptMetrics>>) -> Vec<AttemptMetrics> {
    std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Runs the three calls of the seed's "Usage" section with the default prompt.
pub(crate) async fn run(out: &mut impl Write) -> Result<Summary, Box<dyn Error>> {
    run_with(out, "A cat playing piano", 8).await
}

/// Runs the three calls of the seed's "Usage" section for `prompt`.
pub(crate) async fn run_with(
    out: &mut impl Write,
    prompt: &str,
    duration: u32,
) -> Result<Summary, Box<dyn Error>> {
    let grok_server = grok_server().await;
    let runway_server = runway_server(duration).await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let poll = PollConfig::fixed(Duration::from_millis(5), Duration::from_secs(5));
    let grok = Metered {
        inner: XaiVideoProvider::new(XaiVideoConfig {
            id: "grok".into(),
            base_url: grok_server.uri(),
            api_key: Some(ApiKey::new("xai-local-example")),
            poll: poll.clone(),
            ..XaiVideoConfig::default()
        }),
        log: log.clone(),
    };
    let runway = Metered {
        inner: RunwayProvider::new(RunwayConfig {
            base_url: runway_server.uri(),
            api_key: Some(ApiKey::new("key_local_example")),
            poll,
            ..RunwayConfig::default()
        }),
        log: log.clone(),
    };
    // The seed's schedule (3 attempts, 1 s doubling up to 10 s), scaled down a hundredfold
    // so that the example runs in a blink.
    let seed = presets::router_hardening();
    let retry = RetryPolicy::new(RetryConfig {
        backoff: Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
            ..seed.backoff
        },
        ..seed
    });
    let providers: [&dyn VideoProvider; 2] = [&grok, &runway];
    let request = VideoRequest {
        prompt: prompt.to_owned(),
        duration_secs: Some(duration),
        ..VideoRequest::default()
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let progress: ProgressFn = {
        let seen = seen.clone();
        Arc::new(move |p| {
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(p.status);
        })
    };

    writeln!(
        out,
        "generate_video({prompt:?}, duration={duration})  # auto-select"
    )?;
    let auto =
        fallback::generate_video(&providers, &request, None, true, &retry, Some(progress)).await?;
    let auto_attempts = take(&log);
    print_attempts(out, &auto_attempts)?;
    let progress = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    writeln!(out, "  runway job states: {progress:?}")?;
    writeln!(
        out,
        "  -> {} made {:?}; before it: {}",
        auto.provider,
        auto.video.urls,
        auto.failed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )?;

    writeln!(out, "\ngenerate_video({prompt:?}, prefer=\"runway\")")?;
    let preferred =
        fallback::generate_video(&providers, &request, Some("runway"), true, &retry, None).await?;
    let preferred_attempts = take(&log);
    print_attempts(out, &preferred_attempts)?;
    writeln!(
        out,
        "  -> {} made {:?}",
        preferred.provider, preferred.video.urls
    )?;

    writeln!(
        out,
        "\ngenerate_video({prompt:?}, prefer=\"grok\", fallback=False)"
    )?;
    let failed =
        fallback::generate_video(&providers, &request, Some("grok"), false, &retry, None).await;
    let no_fallback_attempts = take(&log);
    print_attempts(out, &no_fallback_attempts)?;
    let no_fallback_error = match failed {
        Ok(v) => return Err(format!("expected grok to fail, {} answered", v.provider).into()),
        Err(e) => e,
    };
    writeln!(out, "  -> RuntimeError: {no_fallback_error}")?;
    if let VideoFallbackError::Failed { failed, .. } = &no_fallback_error {
        for f in failed {
            writeln!(
                out,
                "     [{}] {}: {}",
                f.kind.category5(),
                f.provider,
                f.error
            )?;
        }
    }

    let requested_duration = runway_server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .and_then(|b| b["duration"].as_u64())
        .and_then(|d| u32::try_from(d).ok());
    Ok(Summary {
        auto_provider: auto.provider,
        auto_attempts,
        progress,
        preferred_provider: preferred.provider,
        preferred_attempts,
        no_fallback_error: no_fallback_error.to_string(),
        no_fallback_attempts,
        requested_duration,
    })
}

/// `seed000_video ["prompt"] [--duration N]`, as the seed's `tools/grok_video.py`.
#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut out = std::io::stdout().lock();
    if std::env::args().len() == 1 {
        run(&mut out).await?;
        return Ok(());
    }
    let mut prompt = None;
    let mut duration = 8;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--duration" {
            let value = args.next().ok_or("--duration needs a number of seconds")?;
            duration = value
                .parse()
                .map_err(|_| format!("bad --duration {value:?}"))?;
        } else {
            prompt = Some(arg);
        }
    }
    let prompt = prompt.unwrap_or_else(|| "A cat playing piano".to_owned());
    run_with(&mut out, &prompt, duration).await?;
    Ok(())
}
