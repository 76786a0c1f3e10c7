//! A redirect to another origin is never followed, so the key never reaches the other host:
//! Runway and xAI video, xAI and OpenAI images, Pollinations — creating, polling, health.

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ApiKey, ImageProvider, ImageRequest, VideoProvider, VideoRequest};
use steadfast_providers_media::{
    OpenAiImageConfig, OpenAiImageProvider, PollinationsConfig, PollinationsImageProvider,
    RunwayConfig, RunwayProvider, XaiImageConfig, XaiImageProvider, XaiVideoConfig,
    XaiVideoProvider,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "key_redirect_canary_0001";

async fn servers() -> (MockServer, MockServer) {
    let (api, other) = (MockServer::start().await, MockServer::start().await);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&other)
        .await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/landing", other.uri())),
        )
        .mount(&api)
        .await;
    (api, other)
}

fn assert_refused(what: &str, result: Result<String, ProviderError>) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::Protocol, "{what}: {err}");
    assert!(err.message().contains("another origin"), "{what}: {err}");
    assert!(!format!("{err:?}").contains(KEY), "{what}: {err:?}");
}

fn debug<T: std::fmt::Debug>(result: Result<T, ProviderError>) -> Result<String, ProviderError> {
    result.map(|v| format!("{v:?}"))
}

#[tokio::test]
async fn no_media_provider_follows_a_redirect_to_another_origin() {
    let (api, other) = servers().await;
    let key = Some(ApiKey::new(KEY));
    let video = VideoRequest {
        prompt: "a lighthouse".into(),
        ..VideoRequest::default()
    };
    let image = ImageRequest {
        prompt: "a lighthouse".into(),
        ..ImageRequest::default()
    };
    let runway = RunwayProvider::new(RunwayConfig {
        base_url: api.uri(),
        api_key: key.clone(),
        ..RunwayConfig::default()
    });
    let xai_video = XaiVideoProvider::new(XaiVideoConfig {
        base_url: api.uri(),
        api_key: key.clone(),
        ..XaiVideoConfig::default()
    });
    let xai_image = XaiImageProvider::new(XaiImageConfig {
        base_url: api.uri(),
        api_key: key.clone(),
        ..XaiImageConfig::default()
    });
    let openai = OpenAiImageProvider::new(OpenAiImageConfig {
        base_url: format!("{}/v1", api.uri()),
        api_key: key.clone(),
        ..OpenAiImageConfig::default()
    });
    let pollinations = PollinationsImageProvider::new(PollinationsConfig {
        base_url: format!("{}/image", api.uri()),
        health_url: format!("{}/models", api.uri()),
        api_key: key.clone(),
        ..PollinationsConfig::default()
    });
    assert_refused("runway", debug(runway.generate_video(&video, None).await));
    assert_refused("runway health", debug(runway.health_check().await));
    assert_refused(
        "xai video",
        debug(xai_video.generate_video(&video, None).await),
    );
    assert_refused("xai video health", debug(xai_video.health_check().await));
    assert_refused("xai image", debug(xai_image.generate_image(&image).await));
    assert_refused("openai image", debug(openai.generate_image(&image).await));
    assert_refused("openai image health", debug(openai.health_check().await));
    assert_refused(
        "pollinations",
        debug(pollinations.generate_image(&image).await),
    );
    assert_refused(
        "pollinations health",
        debug(pollinations.health_check().await),
    );
    let seen = other.received_requests().await.unwrap();
    assert!(
        seen.is_empty(),
        "the other origin got {} requests",
        seen.len()
    );
}
