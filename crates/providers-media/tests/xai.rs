//! `XaiVideoProvider` and `XaiImageProvider` against wiremock, with xAI's wire shapes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{
    ApiKey, ImageProvider, ImageRequest, JobProgress, JobStatus, ProgressFn, VideoProvider,
    VideoRequest,
};
use steadfast_providers_media::poll::PollConfig;
use steadfast_providers_media::{
    ImageFormat, XaiImageConfig, XaiImageProvider, XaiVideoConfig, XaiVideoProvider,
};
use steadfast_test_kit::http::{mount_in_order, received};
use steadfast_test_kit::{assert_hidden, shown};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "xai-Zq3vTn8PLkW2mR7yB4cX9dF1gH6jK0sA5eU";
const REQ: &str = "9f2b8b6a-1b8c-4a0c-9a1a-2d3c4e5f6a7b";

fn video(server: &MockServer) -> XaiVideoProvider {
    XaiVideoProvider::new(XaiVideoConfig {
        id: "grok".into(),
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        poll: PollConfig::fixed(Duration::from_millis(5), Duration::from_secs(5)),
        ..XaiVideoConfig::default()
    })
}

fn image(server: &MockServer) -> XaiImageProvider {
    XaiImageProvider::new(XaiImageConfig {
        id: "grok-images".into(),
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        ..XaiImageConfig::default()
    })
}

async fn mount_created(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/videos/generations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "request_id": REQ })))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_polls(server: &MockServer, responses: Vec<ResponseTemplate>) {
    let poll = || Mock::given(method("GET")).and(path(format!("/v1/videos/{REQ}")));
    mount_in_order(server, poll, responses).await;
}

fn done() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "status": "done",
        "video": {
            "url": "https://vidgen.x.ai/xai-vidgen-bucket/xai-video-f532feb6-49a9-4f9a-9a37-6e64ef725e8f.mp4",
            "duration": 6,
            "respect_moderation": true
        },
        "model": "grok-imagine-video"
    }))
}

fn request() -> VideoRequest {
    VideoRequest {
        prompt: "A cat playing with a ball of yarn".into(),
        duration_secs: Some(6),
        ratio: Some("16:9".into()),
        ..VideoRequest::default()
    }
}

#[tokio::test]
async fn video_create_and_poll_send_the_exact_headers_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/videos/generations"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "grok-imagine-video",
            "prompt": "A cat playing with a ball of yarn",
            "duration": 6,
            "aspect_ratio": "16:9",
            "image": {"url": "https://example.com/cat.jpg"},
            "resolution": "720p"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "request_id": REQ })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/videos/{REQ}")))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(done())
        .expect(1)
        .mount(&server)
        .await;
    let mut request = request();
    request.image_url = Some("https://example.com/cat.jpg".into());
    request.extra.insert("resolution".into(), json!("720p"));
    let video = video(&server).generate_video(&request, None).await.unwrap();
    assert_eq!(video.job_id, REQ);
    assert_eq!(
        video.urls,
        [
            "https://vidgen.x.ai/xai-vidgen-bucket/xai-video-f532feb6-49a9-4f9a-9a37-6e64ef725e8f.mp4"
        ]
    );
    assert_eq!(video.model.as_deref(), Some("grok-imagine-video"));
}

#[tokio::test]
async fn pending_then_done_reports_progress() {
    let server = MockServer::start().await;
    mount_created(&server).await;
    mount_polls(
        &server,
        vec![
            ResponseTemplate::new(202).set_body_json(json!({"request_id": REQ})),
            ResponseTemplate::new(200).set_body_json(json!({"status": "pending", "progress": 40})),
            ResponseTemplate::new(200).set_body_json(json!({"status": "processing"})),
            done(),
        ],
    )
    .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let progress: ProgressFn =
        Arc::new(move |p: &JobProgress| sink.lock().unwrap().push((p.status, p.progress)));
    video(&server)
        .generate_video(&request(), Some(progress))
        .await
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (JobStatus::Pending, None),
            (JobStatus::Pending, Some(0.4)),
            (JobStatus::Running, None),
            (JobStatus::Succeeded, Some(1.0)),
        ]
    );
}

#[tokio::test]
async fn a_failed_video_is_classified_from_its_error_object() {
    let server = MockServer::start().await;
    mount_created(&server).await;
    mount_polls(
        &server,
        vec![ResponseTemplate::new(200).set_body_json(json!({
            "status": "failed",
            "video": {"duration": 0, "respect_moderation": true},
            "model": "",
            "error": {"code": "internal_error", "message": "Video generation failed due to an internal error."}
        }))],
    )
    .await;
    let err = video(&server)
        .generate_video(&request(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("internal_error"));
    assert!(err.message().contains("internal error"), "{err}");
    assert_eq!(
        (err.provider(), err.model()),
        ("grok", Some("grok-imagine-video"))
    );
    assert_eq!((err.kind(), err.is_retryable()), (ErrorKind::Server, true));
    let gets = received(&server, "GET").await;
    assert_eq!(gets, 1, "a failed video is not polled again");
}

#[tokio::test]
async fn an_expired_request_is_a_timeout_and_a_withheld_video_a_content_filter() {
    let server = MockServer::start().await;
    mount_created(&server).await;
    mount_polls(
        &server,
        vec![ResponseTemplate::new(200).set_body_json(json!({"status": "expired"}))],
    )
    .await;
    let err = video(&server)
        .generate_video(&request(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.message()
            .contains(&format!("video request {REQ} expired")),
        "{err}"
    );

    let server = MockServer::start().await;
    mount_created(&server).await;
    mount_polls(
        &server,
        vec![ResponseTemplate::new(200).set_body_json(json!({
            "status": "done", "video": {"duration": 6, "respect_moderation": false}, "model": "grok-imagine-video"
        }))],
    )
    .await;
    let err = video(&server)
        .generate_video(&request(), None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.is_retryable()),
        (ErrorKind::ContentFilter, false)
    );
}

#[tokio::test]
async fn create_errors_use_the_xai_table() {
    let cases = [
        (
            400,
            json!({"code": "Client specified an invalid argument", "error": format!("Incorrect API key provided: {KEY}. You can obtain an API key from https://console.x.ai.")}),
            ErrorKind::Auth,
        ),
        (
            429,
            json!({"code": "Some resource has been exhausted", "error": "Your team has either used all available credits or reached its monthly spending limit."}),
            ErrorKind::QuotaExhausted,
        ),
        (
            503,
            json!({"code": "The service is currently unavailable", "error": "Service temporarily unavailable"}),
            ErrorKind::Overloaded,
        ),
    ];
    for (status, body, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/videos/generations"))
            .respond_with(ResponseTemplate::new(status).set_body_json(&body))
            .mount(&server)
            .await;
        let err = video(&server)
            .generate_video(&request(), None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{status} {body}");
        assert_eq!(err.provider(), "grok");
        assert_hidden("the error", &shown(&err), &[KEY]);
    }
}

#[tokio::test]
async fn a_video_that_never_finishes_times_out() {
    let server = MockServer::start().await;
    mount_created(&server).await;
    mount_polls(
        &server,
        vec![ResponseTemplate::new(200).set_body_json(json!({"status": "pending"}))],
    )
    .await;
    let p = XaiVideoProvider::new(XaiVideoConfig {
        poll: PollConfig::fixed(Duration::from_millis(20), Duration::from_millis(200)),
        ..video(&server).config().clone()
    });
    let err = p.generate_video(&request(), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains(REQ), "{err}");
}

#[tokio::test]
async fn images_are_openai_shaped_without_size_and_data_urls_are_unwrapped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "grok-imagine-image",
            "prompt": "A cat in a tree",
            "n": 2,
            "response_format": "b64_json",
            "aspect_ratio": "16:9"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"b64_json": "data:image/png;base64,iVBORw0KGgo=", "revised_prompt": "A gray cat perched on a branch"},
                {"b64_json": "/9j/4AAQSkZJRg==", "revised_prompt": ""}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let p = XaiImageProvider::new(XaiImageConfig {
        response_format: Some(ImageFormat::B64Json),
        ..image(&server).config().clone()
    });
    let mut request = ImageRequest {
        prompt: "A cat in a tree".into(),
        n: Some(2),
        size: Some("1024x1024".into()),
        ..ImageRequest::default()
    };
    request.extra.insert("aspect_ratio".into(), json!("16:9"));
    let out = p.generate_image(&request).await.unwrap();
    assert_eq!(out.images.len(), 2);
    assert_eq!(out.images[0].b64_json.as_deref(), Some("iVBORw0KGgo="));
    assert_eq!(
        out.images[0].revised_prompt.as_deref(),
        Some("A gray cat perched on a branch")
    );
    assert_eq!(out.model.as_deref(), Some("grok-imagine-image"));
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert!(sent.get("size").is_none(), "xAI takes no size: {sent}");
}

#[tokio::test]
async fn image_errors_are_classified_and_a_missing_key_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3")
                .set_body_json(json!({
                    "code": "Some resource has been exhausted",
                    "error": "Too many requests: rate limit of 5 requests per second exceeded"
                })),
        )
        .mount(&server)
        .await;
    let request = ImageRequest {
        prompt: "A cat".into(),
        ..ImageRequest::default()
    };
    let err = image(&server).generate_image(&request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(
        (err.provider(), err.model()),
        ("grok-images", Some("grok-imagine-image"))
    );

    let server = MockServer::start().await;
    let p = XaiImageProvider::new(XaiImageConfig {
        api_key: None,
        ..image(&server).config().clone()
    });
    assert_eq!(
        p.generate_image(&request).await.unwrap_err().kind(),
        ErrorKind::Auth
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn health_checks_list_the_models() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": []})),
        )
        .expect(2)
        .mount(&server)
        .await;
    video(&server).health_check().await.unwrap();
    image(&server).health_check().await.unwrap();
}
