//! Secrets besides the key: configured header values and a base URL's password or query
//! never print (config or provider Debug, `{:#?}` too) and never serialize back out; and a
//! key that does not look like a key, echoed back by the server in any field or in an
//! in-band stream error, never shows in an error.

use futures_util::StreamExt;
use std::collections::BTreeMap;
use steadfast_errors::ProviderError;
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider, Preset};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A key with no known prefix: only its exact value can find it.
const KEY: &str = "quokka-Mango-7731-zebra-Lime";

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

#[test]
fn header_values_and_url_secrets_never_print_or_serialize() {
    for preset in Preset::ALL {
        let config = OpenAiConfig {
            base_url: "https://gw-user:Pw-Otter-9912@gateway.internal/v1?token=Qs-Heron-5521"
                .into(),
            api_key: Some(ApiKey::new(KEY)),
            headers: BTreeMap::from([("x-gateway-auth".to_owned(), "Hdr-Walrus-3381".to_owned())]),
            ..OpenAiConfig::preset(preset)
        };
        let secrets = ["Pw-Otter-9912", "Qs-Heron-5521", "Hdr-Walrus-3381", KEY];
        let provider = OpenAiProvider::new(config.clone());
        for (what, text) in [
            ("config Debug", format!("{config:?}")),
            ("config {:#?}", format!("{config:#?}")),
            ("provider Debug", format!("{provider:?}")),
            ("provider {:#?}", format!("{provider:#?}")),
            ("serialized config", serde_json::to_string(&config).unwrap()),
        ] {
            assert_hidden(&format!("{preset} {what}"), &text, &secrets);
        }
        let debug = format!("{config:?}");
        assert!(
            debug.contains("x-gateway-auth"),
            "names stay visible: {debug}"
        );
        assert!(debug.contains("gateway.internal"), "{debug}");
    }
}

#[test]
fn serialized_headers_are_left_out_and_read_back_as_none() {
    let config = OpenAiConfig {
        headers: BTreeMap::from([("x-gateway-auth".to_owned(), "Hdr-Walrus-3381".to_owned())]),
        ..OpenAiConfig::openai()
    };
    let written = serde_json::to_string(&config).unwrap();
    let read: OpenAiConfig = serde_json::from_str(&written).unwrap();
    assert!(read.headers.is_empty(), "{written}");
    // A file still sets them.
    let from_file: OpenAiConfig =
        serde_json::from_str(r#"{"headers": {"x-gateway-auth": "v"}}"#).unwrap();
    assert_eq!(from_file.headers["x-gateway-auth"], "v");
}

fn provider(server: &MockServer) -> OpenAiProvider {
    OpenAiProvider::new(OpenAiConfig {
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        ..OpenAiConfig::openai()
    })
}

fn hi() -> ChatRequest {
    ChatRequest::new("gpt-4o", vec![Message::user("Hi")])
}

fn assert_clean(err: &ProviderError) {
    let shown = format!("{err} {err:?} {err:#?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(
        !shown.contains("quokka-Mango"),
        "a piece of the key: {shown}"
    );
    assert!(!shown.contains("zebra-Lime"), "a piece of the key: {shown}");
}

#[tokio::test]
async fn a_key_echoed_in_code_type_and_request_id_never_shows() {
    let server = MockServer::start().await;
    let body =
        format!(r#"{{"error":{{"message":"no such key {KEY}","type":"{KEY}","code":"{KEY}"}}}}"#);
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("x-request-id", format!("req-{KEY}"))
                .set_body_raw(body, "application/json"),
        )
        .mount(&server)
        .await;
    let p = provider(&server);
    assert_clean(&p.chat(&hi()).await.unwrap_err());
    let Err(err) = p.chat_stream(&hi()).await else {
        panic!("a 401 fails the stream call")
    };
    assert_clean(&err);
}

#[tokio::test]
async fn a_key_echoed_in_an_in_band_stream_error_never_shows() {
    let server = MockServer::start().await;
    let sse = format!(
        "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"Hi\"}}}}]}}\n\n\
         data: {{\"error\":{{\"message\":\"key {KEY} revoked\",\"type\":\"{KEY}\",\"code\":\"{KEY}\"}}}}\n\n"
    );
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
        .mount(&server)
        .await;
    let mut stream = provider(&server).chat_stream(&hi()).await.unwrap();
    let mut errors = Vec::new();
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            errors.push(e);
        }
    }
    assert!(!errors.is_empty(), "the in-band error arrives");
    for err in &errors {
        assert_clean(err);
    }
}
