//! The redirect check every provider shares: a redirect to another origin is refused on chat,
//! stream and health calls, and the other origin never sees a request (so never the key).

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ChatProvider, ChatRequest, Message};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Points a provider built by `provider(base_url)` at a server that answers every request
/// with a redirect (301, 302, 303, 307 and 308 in turn) to a second server, and checks that
/// its chat, stream and health calls each fail with a non-retryable `protocol` error about
/// "another origin" whose Debug does not hold `key`, and that the second server received
/// nothing.
///
/// # Panics
///
/// When any of that does not hold.
pub async fn assert_cross_origin_redirect_refused<P, F>(key: &str, provider: F)
where
    P: ChatProvider,
    F: Fn(String) -> P,
{
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
        let provider = provider(api.uri());
        let request = ChatRequest::new("some-model", vec![Message::user("Hi")]);
        refused(
            key,
            &format!("{status} chat"),
            &provider.chat(&request).await.unwrap_err(),
        );
        match provider.chat_stream(&request).await {
            Err(err) => refused(key, &format!("{status} stream"), &err),
            Ok(_) => panic!("{status}: the stream followed the redirect"),
        }
        refused(
            key,
            &format!("{status} health"),
            &provider.health_check().await.unwrap_err(),
        );
    }
    let seen = other.received_requests().await.unwrap_or_default();
    assert!(
        seen.is_empty(),
        "the other origin got {} requests",
        seen.len()
    );
}

#[track_caller]
fn refused(key: &str, what: &str, err: &ProviderError) {
    assert_eq!(err.kind(), ErrorKind::Protocol, "{what}: {err}");
    assert!(err.message().contains("another origin"), "{what}: {err}");
    assert!(!err.is_retryable(), "{what}");
    assert!(!format!("{err:?}").contains(key), "{what}: {err:?}");
}
