//! `OpenAiImageProvider` against wiremock, with OpenAI's images wire shapes.

use std::time::Duration;

use serde_json::json;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::{ApiKey, ImageProvider, ImageRequest};
use steadfast_providers_media::{ImageFormat, OpenAiImageConfig, OpenAiImageProvider};
use steadfast_test_kit::{assert_hidden, shown};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-proj-Hx81QpLm4Tz0vWcN7rYb2KdE9fGs3aJu";

fn provider(server: &MockServer) -> OpenAiImageProvider {
    OpenAiImageProvider::new(OpenAiImageConfig {
        id: "openai-images".into(),
        base_url: format!("{}/v1", server.uri()),
        api_key: Some(ApiKey::new(KEY)),
        ..OpenAiImageConfig::default()
    })
}

fn request() -> ImageRequest {
    ImageRequest {
        prompt: "a white siamese cat".into(),
        size: Some("1024x1024".into()),
        n: Some(1),
        ..ImageRequest::default()
    }
}

/// The error of an image request answered with `reply`.
async fn image_error(reply: ResponseTemplate) -> ProviderError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(reply)
        .mount(&server)
        .await;
    provider(&server)
        .generate_image(&request())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn gpt_image_sends_model_prompt_size_n_and_no_response_format() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "gpt-image-1",
            "prompt": "a white siamese cat",
            "size": "1024x1024",
            "n": 1,
            "quality": "low"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1713833628,
            "data": [{"b64_json": "iVBORw0KGgoAAAANSUhEUg=="}],
            "usage": {"total_tokens": 100, "input_tokens": 50, "output_tokens": 50,
                      "input_tokens_details": {"text_tokens": 10, "image_tokens": 40}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let p = OpenAiImageProvider::new(OpenAiImageConfig {
        response_format: Some(ImageFormat::Url),
        ..provider(&server).config().clone()
    });
    let mut request = request();
    request.extra.insert("quality".into(), json!("low"));
    let out = p.generate_image(&request).await.unwrap();
    assert_eq!(
        out.images[0].b64_json.as_deref(),
        Some("iVBORw0KGgoAAAANSUhEUg==")
    );
    assert_eq!(out.model.as_deref(), Some("gpt-image-1"));
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert!(
        sent.get("response_format").is_none(),
        "gpt-image-* rejects it: {sent}"
    );
}

#[tokio::test]
async fn dall_e_gets_its_response_format_and_urls_come_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .and(body_partial_json(
            json!({"model": "dall-e-3", "response_format": "url"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1589478378,
            "data": [{
                "url": "https://oaidalleapiprodscus.blob.core.windows.net/private/img-abc.png",
                "revised_prompt": "A photograph of a white Siamese cat sitting upright."
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let p = OpenAiImageProvider::new(OpenAiImageConfig {
        model: Some("dall-e-3".into()),
        response_format: Some(ImageFormat::Url),
        ..provider(&server).config().clone()
    });
    let out = p.generate_image(&request()).await.unwrap();
    assert!(
        out.images[0]
            .url
            .as_deref()
            .unwrap()
            .ends_with("img-abc.png")
    );
    assert!(out.images[0].revised_prompt.is_some());
}

#[tokio::test]
async fn errors_are_classified_by_the_configured_dialect_and_scrubbed() {
    let cases = [
        (
            400,
            json!({"error": {"code": "content_policy_violation", "message": "Your request was rejected as a result of our safety system.", "param": null, "type": "invalid_request_error"}}),
            ErrorKind::ContentFilter,
        ),
        (
            401,
            json!({"error": {"message": format!("Incorrect API key provided: {KEY}."), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
            ErrorKind::Auth,
        ),
        (
            429,
            json!({"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
            ErrorKind::QuotaExhausted,
        ),
    ];
    for (status, body, kind) in cases {
        let err = image_error(ResponseTemplate::new(status).set_body_json(&body)).await;
        assert_eq!(err.kind(), kind, "{status} {body}");
        assert_eq!(
            (err.provider(), err.model()),
            ("openai-images", Some("gpt-image-1"))
        );
        assert_hidden("the error", &shown(&err), &[KEY]);
    }
}

#[tokio::test]
async fn a_rate_limit_keeps_its_retry_hint() {
    let err = image_error(ResponseTemplate::new(429).insert_header("retry-after", "20").set_body_json(json!({
            "error": {"message": "Rate limit reached for images per minute.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}
        }))).await;
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(20)));
}

#[tokio::test]
async fn a_compatible_server_without_a_key_gets_no_auth_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"url": "http://127.0.0.1/1.png"}]})),
        )
        .mount(&server)
        .await;
    let p = OpenAiImageProvider::new(OpenAiImageConfig {
        api_key: None,
        dialect: Provider::LlamaCpp,
        model: None,
        ..provider(&server).config().clone()
    });
    assert_eq!(ImageProvider::kind(&p), Provider::LlamaCpp);
    let out = p.generate_image(&request()).await.unwrap();
    assert_eq!(out.images[0].url.as_deref(), Some("http://127.0.0.1/1.png"));
    let received = &server.received_requests().await.unwrap()[0];
    assert!(!received.headers.contains_key("authorization"));
    let sent: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
    assert!(sent.get("model").is_none());
}

#[tokio::test]
async fn an_empty_answer_or_an_error_inside_a_200_is_not_a_success() {
    let err =
        image_error(ResponseTemplate::new(200).set_body_json(json!({"created": 1, "data": []})))
            .await;
    assert_eq!(err.kind(), ErrorKind::Protocol);

    let err = image_error(ResponseTemplate::new(200).set_body_json(json!({
            "error": {"message": "The server is overloaded.", "type": "server_error", "code": "server_is_overloaded"}
        }))).await;
    assert_eq!(err.kind(), ErrorKind::Overloaded);
}

#[tokio::test]
async fn health_check_lists_the_models() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    provider(&server).health_check().await.unwrap();
}
