//! Shared helpers for the integration tests: a provider pointed at a mock server with the
//! test key, and an error fixture read through both calls. Fixtures, wiremock shapes and stream draining come from `steadfast-test-kit`.
#![allow(dead_code)]

use steadfast_errors::ProviderError;
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use steadfast_test_kit::Fixture;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

/// The test key every provider is given unless a test says otherwise.
pub(crate) const KEY: &str = "sk-proj-TESTKEY-4f1d2c";

/// `config` pointed at `base_url`, with [`KEY`].
pub(crate) fn provider(config: OpenAiConfig, base_url: String) -> OpenAiProvider {
    OpenAiProvider::new(OpenAiConfig {
        base_url,
        api_key: Some(ApiKey::new(KEY)),
        ..config
    })
}

/// `f` served on `POST route` to the provider `make` builds: the error of `chat` and the
/// error of `chat_stream` (a status error refuses the stream before it opens). The mock
/// expects exactly these two requests.
pub(crate) async fn both_errors(
    f: &Fixture,
    route: &str,
    make: impl Fn(&MockServer) -> OpenAiProvider,
    request: &ChatRequest,
) -> [ProviderError; 2] {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(f.template())
        .expect(2)
        .mount(&server)
        .await;
    let p = make(&server);
    let whole = p.chat(request).await.unwrap_err();
    let streamed = match p.chat_stream(request).await {
        Ok(_) => panic!("{}: the stream opened", f.name),
        Err(e) => e,
    };
    [whole, streamed]
}
