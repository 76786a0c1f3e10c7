//! No provider here lets its key reach a log line, an error or a `Debug` output, on success or
//! failure, with TRACE logging on for every crate.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use steadfast_providers_core::{
    ApiKey, ImageProvider, ImageRequest, ProgressFn, VideoProvider, VideoRequest,
};
use steadfast_providers_media::poll::PollConfig;
use steadfast_providers_media::{
    OpenAiImageConfig, OpenAiImageProvider, PollinationsConfig, PollinationsImageProvider,
    RunwayConfig, RunwayProvider, XaiImageConfig, XaiImageProvider, XaiVideoConfig,
    XaiVideoProvider,
};
use steadfast_test_kit::{LogCapture, assert_hidden};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "key_LEAKCANARY_7f3a9c2e1b8d4f6a0e5c3b9d7a1f2e4c";

/// Answers everything: successes on `/ok`, failures that echo the key on `/bad`.
async fn server(ok: bool) -> MockServer {
    let server = MockServer::start().await;
    let echo = format!("Invalid API key: Bearer {KEY}");
    if ok {
        Mock::given(method("POST"))
            .and(path_regex("/v1/(image_to_video|text_to_video)$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "t1"})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/tasks/t1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"id": "t1", "status": "SUCCEEDED", "output": ["https://x/v.mp4"]}),
            ))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/videos/generations"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"request_id": "r1"})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/videos/r1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"status": "done", "video": {"url": "https://x/v.mp4", "respect_moderation": true}}),
            ))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/images/generations"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": [{"url": "https://x/i.png"}]})),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/v1/(organization|models)$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/image/"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/jpeg")
                    .set_body_bytes(vec![0xFF, 0xD8, 0xFF]),
            )
            .mount(&server)
            .await;
    } else {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": echo})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401).set_body_json(
                json!({"status": 401, "success": false, "error": {"code": "UNAUTHORIZED", "message": echo}}),
            ))
            .mount(&server)
            .await;
    }
    server
}

#[tokio::test]
async fn the_key_appears_in_no_log_error_or_debug_output() {
    let logs = LogCapture::new();
    let guard = logs.set_default();

    let key = Some(ApiKey::new(KEY));
    let poll = PollConfig::fixed(Duration::from_millis(5), Duration::from_secs(5));
    let progress: ProgressFn = Arc::new(|p| tracing::info!(?p, "progress"));
    let mut shown = Vec::new();
    for ok in [true, false] {
        let server = server(ok).await;
        let runway = RunwayProvider::new(RunwayConfig {
            base_url: server.uri(),
            api_key: key.clone(),
            poll: poll.clone(),
            ..RunwayConfig::default()
        });
        let xai_video = XaiVideoProvider::new(XaiVideoConfig {
            base_url: server.uri(),
            api_key: key.clone(),
            poll: poll.clone(),
            ..XaiVideoConfig::default()
        });
        let xai_image = XaiImageProvider::new(XaiImageConfig {
            base_url: server.uri(),
            api_key: key.clone(),
            ..XaiImageConfig::default()
        });
        let openai = OpenAiImageProvider::new(OpenAiImageConfig {
            base_url: format!("{}/v1", server.uri()),
            api_key: key.clone(),
            ..OpenAiImageConfig::default()
        });
        let pollinations = PollinationsImageProvider::new(PollinationsConfig {
            base_url: format!("{}/image", server.uri()),
            api_key: key.clone(),
            ..PollinationsConfig::default()
        });
        let video = VideoRequest {
            prompt: "a lighthouse".into(),
            ..VideoRequest::default()
        };
        let image = ImageRequest {
            prompt: "a lighthouse".into(),
            ..ImageRequest::default()
        };
        let results = [
            runway
                .generate_video(&video, Some(progress.clone()))
                .await
                .map(|v| format!("{v:?}")),
            xai_video
                .generate_video(&video, Some(progress.clone()))
                .await
                .map(|v| format!("{v:?}")),
            xai_image
                .generate_image(&image)
                .await
                .map(|v| format!("{v:?}")),
            openai
                .generate_image(&image)
                .await
                .map(|v| format!("{v:?}")),
            pollinations
                .generate_image(&image)
                .await
                .map(|v| format!("{v:?}")),
            runway.health_check().await.map(|()| String::new()),
            xai_video.health_check().await.map(|()| String::new()),
            openai.health_check().await.map(|()| String::new()),
        ];
        for result in results {
            match result {
                Ok(debug) => {
                    assert!(ok, "a call succeeded against the failing server: {debug}");
                    shown.push(debug);
                }
                Err(err) => {
                    assert!(!ok, "a call failed against the succeeding server: {err}");
                    tracing::error!(error = %err, debug = ?err, "call failed");
                    shown.push(format!("{err} {err:?}"));
                }
            }
        }
        shown.push(format!(
            "{runway:?} {xai_video:?} {xai_image:?} {openai:?} {pollinations:?}"
        ));
        shown.push(format!(
            "{:?} {:?} {:?} {:?} {:?}",
            runway.config(),
            xai_video.config(),
            xai_image.config(),
            openai.config(),
            pollinations.config()
        ));
        shown.push(serde_json::to_string(runway.config()).unwrap());
    }
    drop(guard);

    let logs = logs.text();
    assert!(
        logs.contains("task created"),
        "the subscriber saw the calls: {logs}"
    );
    assert!(logs.contains("call failed"));
    assert!(
        logs.contains("response headers received"),
        "Caller events were captured"
    );
    assert_hidden("the logs", &logs, &[KEY, "LEAKCANARY"]);
    for text in shown {
        assert_hidden("a shown value", &text, &["LEAKCANARY"]);
    }
}
