//! A redirect to another origin is never followed, so the key (`x-api-key`) never reaches the
//! other host — on chat, stream and health calls. A redirect within the same origin is.

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_anthropic::{AnthropicConfig, AnthropicProvider};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "redirect-canary-key-0001";

fn assert_refused(what: &str, err: &ProviderError) {
    assert_eq!(err.kind(), ErrorKind::Protocol, "{what}: {err}");
    assert!(err.message().contains("another origin"), "{what}: {err}");
    assert!(!err.is_retryable(), "{what}");
    assert!(!format!("{err:?}").contains(KEY), "{what}: {err:?}");
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_refused_and_the_key_stays_home() {
    let (api, other) = (MockServer::start().await, MockServer::start().await);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&other)
        .await;
    for status in [301, 302, 303, 307, 308] {
        api.reset().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("location", format!("{}/stolen", other.uri())),
            )
            .mount(&api)
            .await;
        let provider = AnthropicProvider::new(AnthropicConfig {
            base_url: api.uri(),
            api_key: Some(ApiKey::new(KEY)),
            ..AnthropicConfig::default()
        });
        let request = ChatRequest::new("some-model", vec![Message::user("Hi")]);
        assert_refused(
            &format!("{status} chat"),
            &provider.chat(&request).await.unwrap_err(),
        );
        match provider.chat_stream(&request).await {
            Err(err) => assert_refused(&format!("{status} stream"), &err),
            Ok(_) => panic!("{status}: the stream followed the redirect"),
        }
        assert_refused(
            &format!("{status} health"),
            &provider.health_check().await.unwrap_err(),
        );
    }
    let seen = other.received_requests().await.unwrap();
    assert!(
        seen.is_empty(),
        "the other origin got {} requests",
        seen.len()
    );
}
