//! A redirect to another origin is never followed, so the key never reaches the other host:
//! for OpenAI and every preset, on chat, stream and health calls. A redirect within the same
//! origin is followed.

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_providers_openai::{Auth, OpenAiConfig, OpenAiProvider, Preset};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-redirect-canary-0001";

const ANSWER: &str = r#"{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}]}"#;

/// `api` sends every request on to `other` with a 307; `other` answers 200 to anything.
async fn servers() -> (MockServer, MockServer) {
    let (api, other) = (MockServer::start().await, MockServer::start().await);
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_raw(ANSWER, "application/json"))
        .mount(&other)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/v1/chat/completions", other.uri())),
        )
        .mount(&api)
        .await;
    (api, other)
}

fn hi() -> ChatRequest {
    ChatRequest::new("m", vec![Message::user("Hi")])
}

fn assert_refused(what: &str, err: &ProviderError) {
    assert_eq!(err.kind(), ErrorKind::Protocol, "{what}: {err}");
    assert!(err.message().contains("another origin"), "{what}: {err}");
    assert!(!err.is_retryable(), "{what}: the redirect would come again");
    assert!(!format!("{err:?}").contains(KEY), "{what}: {err:?}");
}

async fn assert_never_followed(provider: &OpenAiProvider, what: &str) {
    assert_refused(
        &format!("{what} chat"),
        &provider.chat(&hi()).await.unwrap_err(),
    );
    match provider.chat_stream(&hi()).await {
        Err(err) => assert_refused(&format!("{what} stream"), &err),
        Ok(_) => panic!("{what}: the stream followed the redirect"),
    }
    assert_refused(
        &format!("{what} health"),
        &provider.health_check().await.unwrap_err(),
    );
}

#[tokio::test]
async fn every_preset_refuses_a_redirect_to_another_origin() {
    for preset in Preset::ALL {
        let (api, other) = servers().await;
        let provider = OpenAiProvider::new(OpenAiConfig {
            base_url: format!("{}/v1", api.uri()),
            prefix_base_url: None,
            api_key: Some(ApiKey::new(KEY)),
            ..OpenAiConfig::preset(preset)
        });
        assert_never_followed(&provider, preset.as_str()).await;
        let seen = other.received_requests().await.unwrap();
        assert!(
            seen.is_empty(),
            "{preset}: the other origin got {} requests",
            seen.len()
        );
    }
}

#[tokio::test]
async fn a_key_in_a_custom_header_is_not_sent_to_another_origin() {
    let (api, other) = servers().await;
    let provider = OpenAiProvider::new(OpenAiConfig {
        base_url: api.uri(),
        api_key: Some(ApiKey::new(KEY)),
        auth: Auth::Header("api-key".into()),
        ..OpenAiConfig::openai()
    });
    assert_never_followed(&provider, "api-key header").await;
    assert!(other.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_deepseek_resume_endpoint_refuses_it_too() {
    let (api, other) = servers().await;
    let provider = OpenAiProvider::new(OpenAiConfig {
        base_url: api.uri(),
        api_key: Some(ApiKey::new(KEY)),
        ..OpenAiConfig::deepseek()
    });
    let next = provider.continuation(&hi(), "Hello! How").unwrap();
    match provider.chat_stream(&next).await {
        Err(err) => assert_refused("deepseek resume", &err),
        Ok(_) => panic!("the resume followed the redirect"),
    }
    assert!(other.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_redirect_within_the_same_origin_is_followed() {
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/old/chat/completions"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/v1/chat/completions", api.uri())),
        )
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(ANSWER, "application/json"))
        .expect(1)
        .mount(&api)
        .await;
    let provider = OpenAiProvider::new(OpenAiConfig {
        base_url: format!("{}/old", api.uri()),
        api_key: Some(ApiKey::new(KEY)),
        ..OpenAiConfig::openai()
    });
    assert_eq!(provider.chat(&hi()).await.unwrap().text, "Hello!");
}

#[tokio::test]
async fn an_own_client_that_follows_it_still_gets_no_answer_from_the_other_origin() {
    let (api, _other) = servers().await;
    let provider = OpenAiProvider::with_client(
        OpenAiConfig {
            base_url: api.uri(),
            api_key: Some(ApiKey::new(KEY)),
            ..OpenAiConfig::openai()
        },
        reqwest::Client::new(),
    );
    assert_refused("own client", &provider.chat(&hi()).await.unwrap_err());
}
