//! Secrets in the config besides the key — a base URL's query (`?key=`) or password, extra
//! header values — never print (`{:?}`, `{:#?}`) and never serialize back out.

use std::collections::BTreeMap;

use steadfast_providers_anthropic::{AnthropicConfig, AnthropicProvider};
use steadfast_providers_core::ApiKey;

#[test]
fn url_and_header_secrets_never_print_or_serialize() {
    let config = AnthropicConfig {
        base_url: "https://proxy-user:Pw-Otter-9912@gw.internal/anthropic?key=Qs-Heron-5521".into(),
        api_key: Some(ApiKey::new("quokka-Mango-7731-zebra-Lime")),
        headers: BTreeMap::from([("x-gateway-auth".to_owned(), "Hdr-Walrus-3381".to_owned())]),
        ..AnthropicConfig::default()
    };
    let provider = AnthropicProvider::new(config.clone());
    for (what, text) in [
        ("config Debug", format!("{config:?}")),
        ("config {:#?}", format!("{config:#?}")),
        ("provider {:#?}", format!("{provider:#?}")),
        ("serialized config", serde_json::to_string(&config).unwrap()),
    ] {
        for secret in [
            "Pw-Otter-9912",
            "Qs-Heron-5521",
            "Hdr-Walrus-3381",
            "quokka-Mango",
        ] {
            assert!(!text.contains(secret), "{what} shows {secret}: {text}");
        }
        assert!(text.contains("gw.internal"), "{what}: {text}");
    }
    let read: AnthropicConfig =
        serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
    assert!(
        read.headers.is_empty(),
        "header values are not written back"
    );
}
