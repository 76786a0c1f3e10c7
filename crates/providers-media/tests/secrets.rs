//! A key that does not look like a key, echoed back by the service in an error that arrives
//! inside a 200 (an image error object, a failed task) or in its request id, never shows in
//! the error — not even as the piece left where a long message is cut to its bound.

use serde_json::json;
use steadfast_errors::{MAX_MESSAGE_LEN, ProviderError};
use steadfast_providers_core::{ApiKey, ImageProvider, ImageRequest};
use steadfast_providers_media::{
    OpenAiImageConfig, OpenAiImageProvider, PollinationsConfig, PollinationsImageProvider,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "quokka-Mango-7731-zebra-Lime";

/// A message whose bound falls six characters into the key.
fn long_message() -> String {
    format!("{}{KEY} was refused", "x".repeat(MAX_MESSAGE_LEN - 6))
}

fn assert_clean(what: &str, err: &ProviderError) {
    let shown = format!("{err} {err:?} {err:#?}");
    for piece in [KEY, "quokka", "zebra-Lime"] {
        assert!(!shown.contains(piece), "{what} shows {piece}: {shown}");
    }
}

fn image() -> ImageRequest {
    ImageRequest {
        prompt: "a lighthouse".into(),
        ..ImageRequest::default()
    }
}

#[tokio::test]
async fn an_in_band_image_error_never_shows_the_key() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", format!("req-{KEY}"))
                .set_body_json(json!({"error": {
                    "message": long_message(),
                    "type": KEY,
                    "code": KEY,
                }})),
        )
        .mount(&server)
        .await;
    let provider = OpenAiImageProvider::new(OpenAiImageConfig {
        base_url: format!("{}/v1", server.uri()),
        api_key: Some(ApiKey::new(KEY)),
        ..OpenAiImageConfig::default()
    });
    let err = provider.generate_image(&image()).await.unwrap_err();
    assert_clean("images", &err);
}

#[tokio::test]
async fn a_pollinations_error_in_a_200_never_shows_the_key() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", format!("req-{KEY}"))
                .set_body_json(json!({"error": {"message": long_message(), "code": KEY}})),
        )
        .mount(&server)
        .await;
    let provider = PollinationsImageProvider::new(PollinationsConfig {
        base_url: format!("{}/image", server.uri()),
        api_key: Some(ApiKey::new(KEY)),
        ..PollinationsConfig::default()
    });
    let err = provider.generate_image(&image()).await.unwrap_err();
    assert_clean("pollinations", &err);
}

#[test]
fn url_and_header_secrets_in_a_config_never_print_or_serialize() {
    use std::collections::BTreeMap;
    use steadfast_providers_media::{RunwayConfig, XaiImageConfig, XaiVideoConfig};

    let base_url = "https://proxy:Pw-Otter-9912@gw.internal/media?token=Qs-Heron-5521".to_owned();
    let headers = BTreeMap::from([("x-gateway-auth".to_owned(), "Hdr-Walrus-3381".to_owned())]);
    let key = Some(ApiKey::new(KEY));
    let shown = [
        {
            let c = RunwayConfig {
                base_url: base_url.clone(),
                headers: headers.clone(),
                api_key: key.clone(),
                ..RunwayConfig::default()
            };
            (format!("{c:?} {c:#?}"), serde_json::to_string(&c).unwrap())
        },
        {
            let c = XaiVideoConfig {
                base_url: base_url.clone(),
                headers: headers.clone(),
                api_key: key.clone(),
                ..XaiVideoConfig::default()
            };
            (format!("{c:?} {c:#?}"), serde_json::to_string(&c).unwrap())
        },
        {
            let c = XaiImageConfig {
                base_url: base_url.clone(),
                headers: headers.clone(),
                api_key: key.clone(),
                ..XaiImageConfig::default()
            };
            (format!("{c:?} {c:#?}"), serde_json::to_string(&c).unwrap())
        },
        {
            let c = OpenAiImageConfig {
                base_url: base_url.clone(),
                headers: headers.clone(),
                api_key: key.clone(),
                ..OpenAiImageConfig::default()
            };
            (format!("{c:?} {c:#?}"), serde_json::to_string(&c).unwrap())
        },
        {
            let c = PollinationsConfig {
                base_url: base_url.clone(),
                headers: headers.clone(),
                api_key: key.clone(),
                ..PollinationsConfig::default()
            };
            (format!("{c:?} {c:#?}"), serde_json::to_string(&c).unwrap())
        },
    ];
    for (debug, json) in shown {
        for text in [&debug, &json] {
            for secret in [
                "Pw-Otter-9912",
                "Qs-Heron-5521",
                "Hdr-Walrus-3381",
                "quokka",
            ] {
                assert!(!text.contains(secret), "shows {secret}: {text}");
            }
            assert!(text.contains("gw.internal"), "{text}");
        }
        assert!(
            debug.contains("x-gateway-auth"),
            "header names stay visible: {debug}"
        );
    }
}
