//! A redirect to another origin is never followed, so the key (`x-goog-api-key`) never reaches the
//! other host — on chat, stream and health calls.

use steadfast_providers_core::ApiKey;
use steadfast_providers_gemini::{GeminiConfig, GeminiProvider};
use steadfast_test_kit::redirect::assert_cross_origin_redirect_refused;

const KEY: &str = "redirect-canary-key-0001";

#[tokio::test]
async fn a_redirect_to_another_origin_is_refused_and_the_key_stays_home() {
    assert_cross_origin_redirect_refused(KEY, |base_url| {
        GeminiProvider::new(GeminiConfig {
            base_url,
            api_key: Some(ApiKey::new(KEY)),
            ..GeminiConfig::default()
        })
    })
    .await;
}
