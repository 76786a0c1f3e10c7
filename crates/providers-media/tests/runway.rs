//! `RunwayProvider` against wiremock, with Runway's real wire shapes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{
    ApiKey, JobProgress, JobStatus, ProgressFn, VideoProvider, VideoRequest,
};
use steadfast_providers_media::poll::PollConfig;
use steadfast_providers_media::{RunwayConfig, RunwayProvider};
use steadfast_test_kit::http::{mount_in_order, received};
use steadfast_test_kit::{assert_hidden, shown};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "key_6b3216fdaeeb975729fae923d5a4fd12aabfe228f219e9cb0eb53f16947ccf25";
const TASK: &str = "17f20503-6c24-4c16-946b-35dbbce2af2f";

fn provider(server: &MockServer) -> RunwayProvider {
    RunwayProvider::new(RunwayConfig {
        id: "runway-test".into(),
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        poll: PollConfig::fixed(Duration::from_millis(5), Duration::from_secs(5)),
        ..RunwayConfig::default()
    })
}

fn image_request() -> VideoRequest {
    VideoRequest {
        prompt: "A timelapse on a sunny day with clouds flying by".into(),
        image_url: Some("https://example.com/eiffel.jpg".into()),
        ..VideoRequest::default()
    }
}

fn task(status: &str, more: Value) -> ResponseTemplate {
    let mut body = json!({"id": TASK, "createdAt": "2026-05-10T16:20:11.412Z", "status": status});
    body.as_object_mut()
        .unwrap()
        .extend(more.as_object().unwrap().clone());
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json; charset=utf-8")
        .set_body_json(body)
}

fn created() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "id": TASK }))
}

async fn mount_create(server: &MockServer, endpoint: &str) {
    Mock::given(method("POST"))
        .and(path(endpoint))
        .respond_with(created())
        .expect(1)
        .mount(server)
        .await;
}

/// Mounts `responses` for the poll, in order, the last one repeating.
async fn mount_polls(server: &MockServer, responses: Vec<ResponseTemplate>) {
    let poll = || Mock::given(method("GET")).and(path(format!("/v1/tasks/{TASK}")));
    mount_in_order(server, poll, responses).await;
}

fn recorder() -> (ProgressFn, Arc<Mutex<Vec<JobProgress>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let f: ProgressFn = Arc::new(move |p: &JobProgress| sink.lock().unwrap().push(p.clone()));
    (f, seen)
}

async fn polls(server: &MockServer) -> usize {
    received(server, "GET").await
}

#[tokio::test]
async fn image_to_video_sends_the_exact_headers_and_body_and_returns_the_output() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/image_to_video"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("x-runway-version", "2024-11-06"))
        .and(body_partial_json(json!({
            "model": "gen4_turbo",
            "promptImage": "https://example.com/eiffel.jpg",
            "promptText": "A timelapse on a sunny day with clouds flying by",
            "ratio": "1280:720",
            "duration": 5,
            "seed": 42
        })))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/tasks/{TASK}")))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("x-runway-version", "2024-11-06"))
        .respond_with(task(
            "SUCCEEDED",
            json!({"output": ["https://dnznrvs05pmza.cloudfront.net/a.mp4", "https://dnznrvs05pmza.cloudfront.net/b.mp4"]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut request = image_request();
    request.extra.insert("seed".into(), json!(42));
    let video = provider(&server)
        .generate_video(&request, None)
        .await
        .unwrap();
    assert_eq!(video.job_id, TASK);
    assert_eq!(video.urls.len(), 2);
    assert_eq!(video.model.as_deref(), Some("gen4_turbo"));
}

#[tokio::test]
async fn a_text_request_goes_to_text_to_video_with_the_text_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/text_to_video"))
        .and(body_partial_json(json!({
            "model": "veo3.1",
            "promptText": "a lighthouse in a storm",
            "ratio": "1920:1080",
            "duration": 8
        })))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    mount_polls(
        &server,
        vec![task("SUCCEEDED", json!({"output": ["https://x/v.mp4"]}))],
    )
    .await;
    let request = VideoRequest {
        prompt: "a lighthouse in a storm".into(),
        model: Some("veo3.1".into()),
        ratio: Some("1920:1080".into()),
        duration_secs: Some(8),
        ..VideoRequest::default()
    };
    let video = provider(&server)
        .generate_video(&request, None)
        .await
        .unwrap();
    assert_eq!(video.urls, ["https://x/v.mp4"]);

    // Without a model, text goes to the configured text model.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/text_to_video"))
        .and(body_partial_json(json!({"model": "gen4.5"})))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    mount_polls(
        &server,
        vec![task("SUCCEEDED", json!({"output": ["https://x/v.mp4"]}))],
    )
    .await;
    let request = VideoRequest {
        prompt: "a lighthouse".into(),
        ..VideoRequest::default()
    };
    provider(&server)
        .generate_video(&request, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_image_only_model_without_an_image_is_refused_before_sending() {
    let server = MockServer::start().await;
    let request = VideoRequest {
        prompt: "a lighthouse".into(),
        model: Some("gen4_turbo".into()),
        ..VideoRequest::default()
    };
    let err = provider(&server)
        .generate_video(&request, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(
        (err.provider(), err.model()),
        ("runway-test", Some("gen4_turbo"))
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn throttled_then_running_then_succeeded_reports_every_poll() {
    let server = MockServer::start().await;
    mount_create(&server, "/v1/image_to_video").await;
    mount_polls(
        &server,
        vec![
            task("PENDING", json!({})),
            task("THROTTLED", json!({})),
            task("RUNNING", json!({"progress": 0.12})),
            task("RUNNING", json!({"progress": 0.87})),
            task(
                "SUCCEEDED",
                json!({"output": ["https://dnznrvs05pmza.cloudfront.net/v.mp4"]}),
            ),
        ],
    )
    .await;
    let (progress, seen) = recorder();
    let video = provider(&server)
        .generate_video(&image_request(), Some(progress))
        .await
        .unwrap();
    assert_eq!(video.urls, ["https://dnznrvs05pmza.cloudfront.net/v.mp4"]);
    let seen = seen.lock().unwrap();
    let statuses: Vec<(JobStatus, Option<f32>)> =
        seen.iter().map(|p| (p.status, p.progress)).collect();
    assert_eq!(
        statuses,
        [
            (JobStatus::Pending, None),
            (JobStatus::Queued, None),
            (JobStatus::Running, Some(0.12)),
            (JobStatus::Running, Some(0.87)),
            (JobStatus::Succeeded, Some(1.0)),
        ]
    );
    assert!(seen.iter().all(|p| p.job_id == TASK));
    assert!(seen.windows(2).all(|w| w[0].elapsed <= w[1].elapsed));
}

#[tokio::test]
async fn a_task_that_never_finishes_times_out_naming_the_task() {
    let server = MockServer::start().await;
    mount_create(&server, "/v1/image_to_video").await;
    mount_polls(&server, vec![task("PENDING", json!({}))]).await;
    let p = RunwayProvider::new(RunwayConfig {
        poll: PollConfig::fixed(Duration::from_millis(20), Duration::from_millis(250)),
        ..provider(&server).config().clone()
    });
    let err = p.generate_video(&image_request(), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.message()
            .contains(&format!("task {TASK} did not finish within 250ms")),
        "{err}"
    );
    assert!(err.message().contains("last status pending"), "{err}");
    assert!(polls(&server).await >= 3);
}

#[tokio::test]
async fn create_errors_are_classified_labelled_and_scrubbed() {
    let cases = [
        (401, format!(r#"{{"error":"Invalid API key: Bearer {KEY}"}}"#), ErrorKind::Auth, false),
        (429, r#"{"error":"Your daily task limit has been reached."}"#.to_owned(), ErrorKind::QuotaExhausted, false),
        (429, r#"{"error":"Too many requests. Please slow down."}"#.to_owned(), ErrorKind::RateLimited, true),
        (400, r#"{"error":"Invalid asset aspect ratio. width / height ratio must be between 0.5 and 2.","issues":[]}"#.to_owned(), ErrorKind::InvalidRequest, false),
        (503, String::new(), ErrorKind::Overloaded, true),
    ];
    for (status, body, kind, retryable) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/image_to_video"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("content-type", "application/json; charset=utf-8")
                    .set_body_string(body.clone()),
            )
            .mount(&server)
            .await;
        let err = provider(&server)
            .generate_video(&image_request(), None)
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.is_retryable()),
            (kind, retryable),
            "{status} {body}"
        );
        assert_eq!(err.status(), Some(status));
        assert_eq!(
            (err.provider(), err.model()),
            ("runway-test", Some("gen4_turbo"))
        );
        assert_hidden("the error", &shown(&err), &[KEY]);
        assert_eq!(polls(&server).await, 0);
    }
}

#[tokio::test]
async fn without_a_key_nothing_is_sent() {
    let server = MockServer::start().await;
    let p = RunwayProvider::new(RunwayConfig {
        api_key: None,
        ..provider(&server).config().clone()
    });
    let err = p.generate_video(&image_request(), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.message().contains("RUNWAY_API_KEY"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn health_check_reads_the_organization() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/organization"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("x-runway-version", "2024-11-06"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"creditBalance": 1200, "tier": {"maxMonthlyCreditSpend": 10000}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    provider(&server).health_check().await.unwrap();
}

/// A created task whose polls answer `polls` in order (the last repeating), and how the wait
/// must end: every named field is checked; `None` fields are not.
struct Polled {
    polls: Vec<ResponseTemplate>,
    /// `Ok(url)`: the video arrives with this one URL. `Err(kind)`: the wait fails so.
    ends: Result<&'static str, ErrorKind>,
    retryable: Option<bool>,
    /// Whether the error counts against the provider's health.
    counts: Option<bool>,
    code: Option<&'static str>,
    status: Option<u16>,
    message: Option<String>,
    /// How many polls the wait makes.
    polled: Option<usize>,
    /// The status of the last progress report.
    last: Option<JobStatus>,
}

impl Default for Polled {
    fn default() -> Self {
        Polled {
            polls: Vec::new(),
            ends: Ok(""),
            retryable: None,
            counts: None,
            code: None,
            status: None,
            message: None,
            polled: None,
            last: None,
        }
    }
}

impl Polled {
    async fn run(self) {
        let server = MockServer::start().await;
        mount_create(&server, "/v1/image_to_video").await;
        mount_polls(&server, self.polls).await;
        // Progress is recorded only where a row checks it, as the calls without a callback.
        let (progress, seen) = recorder();
        let progress = self.last.map(|_| progress);
        let result = provider(&server)
            .generate_video(&image_request(), progress)
            .await;
        match self.ends {
            Ok(url) => assert_eq!(result.unwrap().urls, [url]),
            Err(kind) => {
                let err = result.unwrap_err();
                assert_eq!(err.kind(), kind, "{err}");
                assert_eq!(
                    (err.provider(), err.model()),
                    ("runway-test", Some("gen4_turbo"))
                );
                if let Some(retryable) = self.retryable {
                    assert_eq!(err.is_retryable(), retryable);
                }
                if let Some(counts) = self.counts {
                    assert_eq!(err.kind().counts_against_health(), counts);
                }
                if let Some(code) = self.code {
                    assert_eq!(err.code(), Some(code));
                }
                if let Some(status) = self.status {
                    assert_eq!(err.status(), Some(status));
                }
                if let Some(message) = self.message {
                    assert!(err.message().contains(&message), "{err}");
                }
            }
        }
        if let Some(polled) = self.polled {
            assert_eq!(polls(&server).await, polled, "polls");
        }
        if let Some(last) = self.last {
            assert_eq!(seen.lock().unwrap().last().unwrap().status, last);
        }
    }
}

steadfast_test_kit::cases! {
    /// A failed task is not polled again.
    failed_with_safety_input_is_a_content_filter_that_is_not_retried: Polled {
        polls: vec![
            task("RUNNING", json!({"progress": 0.1})),
            task(
                "FAILED",
                json!({"failure": "Prompt was flagged by content moderation.", "failureCode": "SAFETY.INPUT.TEXT"}),
            ),
        ],
        ends: Err(ErrorKind::ContentFilter),
        retryable: Some(false),
        counts: Some(false),
        code: Some("SAFETY.INPUT.TEXT"),
        message: Some("flagged by content moderation".into()),
        polled: Some(2),
        last: Some(JobStatus::Failed),
        ..Polled::default()
    };
    failed_with_an_internal_code_is_a_retryable_server_error_but_the_wait_ends: Polled {
        polls: vec![task(
            "FAILED",
            json!({"failure": "An unexpected error occurred.", "failureCode": "INTERNAL.BAD_OUTPUT.CODE01"}),
        )],
        ends: Err(ErrorKind::Server),
        retryable: Some(true),
        polled: Some(1),
        ..Polled::default()
    };
    cancelled_ends_the_wait_at_once: Polled {
        polls: vec![
            task("RUNNING", json!({"progress": 0.3})),
            task("CANCELLED", json!({})),
        ],
        ends: Err(ErrorKind::Cancelled),
        message: Some(format!("task {TASK} was cancelled")),
        polled: Some(2),
        ..Polled::default()
    };
    a_429_on_poll_is_retried: Polled {
        polls: vec![
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", "10")
                .set_body_json(json!({"error": "Too many requests. Please slow down."})),
            ResponseTemplate::new(502)
                .set_body_string("<html><head><title>502 Bad Gateway</title></head></html>"),
            task("SUCCEEDED", json!({"output": ["https://x/v.mp4"]})),
        ],
        ends: Ok("https://x/v.mp4"),
        polled: Some(3),
        ..Polled::default()
    };
    a_401_on_poll_is_not_retried: Polled {
        polls: vec![ResponseTemplate::new(401).set_body_json(json!({"error": "Invalid API key"}))],
        ends: Err(ErrorKind::Auth),
        status: Some(401),
        polled: Some(1),
        ..Polled::default()
    };
    a_malformed_task_body_is_a_protocol_error: Polled {
        polls: vec![ResponseTemplate::new(200).set_body_string("{\"id\": \"x\", \"stat")],
        ends: Err(ErrorKind::Protocol),
        ..Polled::default()
    };
}
