//! DeepSeek behind a proxy: the prefix-completion (resume) endpoint follows the configured
//! base URL instead of going to the public host.

use futures_util::StreamExt;
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message, StreamEvent};
use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SSE: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" I help?\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: [DONE]\n\n";

fn sse() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(SSE, "text/event-stream")
}

async fn resume_goes_to(base_url: String, expected_path: &str, server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(expected_path))
        .respond_with(sse())
        .expect(1)
        .mount(server)
        .await;
    let provider = OpenAiProvider::new(OpenAiConfig {
        base_url,
        api_key: Some(ApiKey::new("sk-deepseek-test")),
        ..OpenAiConfig::deepseek()
    });
    let request = ChatRequest::new("deepseek-chat", vec![Message::user("Hi")]);
    let next = provider.continuation(&request, "Hello! How can").unwrap();
    let mut stream = provider
        .chat_stream(&next)
        .await
        .expect("the resume request is answered");
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        if let StreamEvent::TextDelta { text: t } = item.expect("no stream error") {
            text.push_str(&t);
        }
    }
    assert_eq!(text, " I help?");
}

#[tokio::test]
async fn a_proxied_deepseek_resumes_through_the_proxy() {
    let server = MockServer::start().await;
    resume_goes_to(
        format!("{}/deepseek", server.uri()),
        "/deepseek/beta/chat/completions",
        &server,
    )
    .await;
}

#[tokio::test]
async fn a_v1_base_url_resumes_at_the_sibling_beta_path() {
    let server = MockServer::start().await;
    resume_goes_to(
        format!("{}/v1", server.uri()),
        "/beta/chat/completions",
        &server,
    )
    .await;
}

#[tokio::test]
async fn an_explicit_prefix_base_url_is_kept() {
    let server = MockServer::start().await;
    let provider_base = format!("{}/deepseek", server.uri());
    Mock::given(method("POST"))
        .and(path("/custom/chat/completions"))
        .respond_with(sse())
        .expect(1)
        .mount(&server)
        .await;
    let provider = OpenAiProvider::new(OpenAiConfig {
        base_url: provider_base,
        prefix_base_url: Some(format!("{}/custom", server.uri())),
        api_key: Some(ApiKey::new("sk-deepseek-test")),
        ..OpenAiConfig::deepseek()
    });
    let request = ChatRequest::new("deepseek-chat", vec![Message::user("Hi")]);
    let next = provider.continuation(&request, "Hello! How can").unwrap();
    let stream = provider.chat_stream(&next).await.unwrap();
    let items: Vec<_> = stream.collect().await;
    assert!(items.iter().all(Result::is_ok));
}

#[test]
fn the_preset_prefix_url_is_derived_from_the_base_url() {
    let c = OpenAiConfig {
        base_url: "https://proxy.internal/deepseek/".into(),
        ..OpenAiConfig::deepseek()
    };
    assert_eq!(
        c.prefix_url().as_deref(),
        Some("https://proxy.internal/deepseek/beta")
    );
    assert_eq!(
        OpenAiConfig::deepseek().prefix_url().as_deref(),
        Some("https://api.deepseek.com/beta")
    );
    assert_eq!(OpenAiConfig::openai().prefix_url(), None);
}
