//! `PollinationsImageProvider` against wiremock: a GET whose answer is the image itself.

use std::time::Duration;

use serde_json::json;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ApiKey, ImageProvider, ImageRequest};
use steadfast_providers_media::{PollinationsConfig, PollinationsImageProvider};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "sk_Pq7Wm2Xn9Lr4Tb8Vc1Zd6Hs3";
/// The first bytes of a JPEG file.
const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];

fn provider(server: &MockServer, token: bool) -> PollinationsImageProvider {
    PollinationsImageProvider::new(PollinationsConfig {
        id: "polli".into(),
        base_url: format!("{}/image", server.uri()),
        api_key: token.then(|| ApiKey::new(TOKEN)),
        ..PollinationsConfig::default()
    })
}

fn request() -> ImageRequest {
    ImageRequest {
        prompt: "a red fox / at dawn?".into(),
        size: Some("768x512".into()),
        ..ImageRequest::default()
    }
}

fn jpeg() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "image/jpeg")
        .set_body_bytes(JPEG)
}

#[tokio::test]
async fn the_prompt_is_one_encoded_path_segment_and_the_token_a_bearer_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/image/a%20red%20fox%20%2F%20at%20dawn%3F"))
        .and(query_param("width", "768"))
        .and(query_param("height", "512"))
        .and(query_param("model", "flux"))
        .and(query_param("seed", "42"))
        .and(query_param("nologo", "true"))
        .and(query_param("enhance", "true"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(jpeg())
        .expect(1)
        .mount(&server)
        .await;
    let p = PollinationsImageProvider::new(PollinationsConfig {
        nologo: true,
        ..provider(&server, true).config().clone()
    });
    let mut request = request();
    request.extra.insert("seed".into(), json!(42));
    request.extra.insert("enhance".into(), json!(true));
    let out = p.generate_image(&request).await.unwrap();
    assert_eq!(out.images.len(), 1);
    assert_eq!(out.images[0].b64_json.as_deref(), Some("/9j/4AAQSkZJRg=="));
    let url = out.images[0].url.as_deref().unwrap();
    assert!(
        url.contains("/image/a%20red%20fox%20%2F%20at%20dawn%3F?width=768"),
        "{url}"
    );
    assert!(!url.contains(TOKEN), "the token never travels in the URL");
    assert_eq!(out.model.as_deref(), Some("flux"));
}

#[tokio::test]
async fn without_a_token_no_auth_header_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(jpeg())
        .expect(1)
        .mount(&server)
        .await;
    provider(&server, false)
        .generate_image(&request())
        .await
        .unwrap();
    let received = &server.received_requests().await.unwrap()[0];
    assert!(!received.headers.contains_key("authorization"));
    assert!(received.url.query().unwrap().contains("model=flux"));
    assert!(
        !received.url.query().unwrap().contains("seed="),
        "no seed unless asked or n > 1"
    );
}

#[tokio::test]
async fn url_only_mode_fetches_nothing() {
    let server = MockServer::start().await;
    let p = PollinationsImageProvider::new(PollinationsConfig {
        download: false,
        ..provider(&server, true).config().clone()
    });
    let out = p.generate_image(&request()).await.unwrap();
    assert!(out.images[0].b64_json.is_none());
    assert!(
        out.images[0]
            .url
            .as_deref()
            .unwrap()
            .starts_with(&server.uri())
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn n_images_are_n_requests_with_distinct_seeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(jpeg())
        .expect(3)
        .mount(&server)
        .await;
    let mut request = request();
    request.n = Some(3);
    request.extra.insert("seed".into(), json!(10));
    let out = provider(&server, true)
        .generate_image(&request)
        .await
        .unwrap();
    assert_eq!(out.images.len(), 3);
    let seeds: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "seed")
                .unwrap()
                .1
                .into_owned()
        })
        .collect();
    assert_eq!(seeds, ["10", "11", "12"]);
}

#[tokio::test]
async fn errors_are_classified_by_the_pollinations_table() {
    let cases = [
        (
            ResponseTemplate::new(429).insert_header("retry-after", "12").set_body_json(json!({
                "status": 429, "success": false,
                "error": {"code": "RATE_LIMITED", "message": "Rate limit exceeded. Please wait before making another request.", "timestamp": "2026-05-10T16:20:11.412Z"}
            })),
            ErrorKind::RateLimited,
            Some(Duration::from_secs(12)),
        ),
        (
            ResponseTemplate::new(402).set_body_json(json!({
                "status": 402, "success": false,
                "error": {"code": "UNKNOWN_ERROR", "message": "Insufficient pollen balance"}
            })),
            ErrorKind::QuotaExhausted,
            None,
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({
                "status": 401, "success": false,
                "error": {"code": "UNAUTHORIZED", "message": format!("Invalid API key {TOKEN}")}
            })),
            ErrorKind::Auth,
            None,
        ),
        // A 200 that is JSON, not an image: classified by its body.
        (
            ResponseTemplate::new(200).set_body_json(json!({
                "status": 503, "success": false,
                "error": {"code": "SERVICE_UNAVAILABLE", "message": "All image servers are busy"}
            })),
            ErrorKind::Overloaded,
            None,
        ),
        (
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<html><body>hello</body></html>"),
            ErrorKind::Protocol,
            None,
        ),
    ];
    for (response, kind, hint) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(response)
            .mount(&server)
            .await;
        let err = provider(&server, true)
            .generate_image(&request())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.retry_after(), hint);
        assert_eq!((err.provider(), err.model()), ("polli", Some("flux")));
        assert!(!format!("{err} {err:?}").contains(TOKEN));
    }
}

#[tokio::test]
async fn a_bad_size_is_refused_before_sending() {
    let server = MockServer::start().await;
    let mut request = request();
    request.size = Some("large".into());
    let err = provider(&server, true)
        .generate_image(&request)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn health_check_gets_the_model_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/image/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(["flux", "turbo"])))
        .expect(1)
        .mount(&server)
        .await;
    let p = PollinationsImageProvider::new(PollinationsConfig {
        health_url: format!("{}/image/models", server.uri()),
        ..provider(&server, false).config().clone()
    });
    p.health_check().await.unwrap();
}
