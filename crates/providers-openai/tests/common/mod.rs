//! Shared helpers for the integration tests: a provider pointed at a mock server with the
//! test key. Fixtures, wiremock shapes and stream draining come from `steadfast-test-kit`.
#![allow(dead_code)]

use steadfast_providers_core::ApiKey;
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};

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
