//! Every deployment kind builds through its own crate; the HTTP ones send what their kind
//! promises (path, auth header) to a local server.

use serde_json::json;
use steadfast_config::{ConfigFile, Format, Kind, Steadfast};
use steadfast_providers_core::{ChatRequest, Message};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn env(name: &str) -> Option<String> {
    name.ends_with("_KEY").then(|| "sk-test-key".to_owned())
}

fn build(text: &str) -> Steadfast {
    let file = ConfigFile::parse(text, Format::Toml).unwrap_or_else(|e| panic!("{e}"));
    Steadfast::build(&file, &env).unwrap_or_else(|e| panic!("{e}"))
}

fn completion() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "c1", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    }))
}

#[test]
fn every_kind_builds() {
    let mut text = String::new();
    for kind in Kind::ALL {
        let name = kind.as_str();
        text.push_str(&format!("[deployments.{name}]\nkind = \"{name}\"\n"));
        match kind {
            k if !k.is_chat() => {}
            Kind::Mock => {}
            Kind::LlamaCppCli => text.push_str("model_path = \"/models/tiny.gguf\"\n"),
            Kind::OpenAiCompatible | Kind::Azure => {
                text.push_str("model = \"m\"\nbase_url = \"http://127.0.0.1:9\"\n");
            }
            _ => text.push_str("model = \"m\"\n"),
        }
    }
    let sf = build(&text);
    assert_eq!(sf.deployments().len(), Kind::ALL.len());
    let router = sf.router(None).unwrap();
    let ids: Vec<String> = router.stats().providers.into_iter().map(|p| p.id).collect();
    let chat: Vec<&str> = Kind::ALL
        .iter()
        .filter(|k| k.is_chat())
        .map(|k| k.as_str())
        .collect();
    assert_eq!(ids.len(), chat.len());
    for name in chat {
        assert!(ids.iter().any(|i| i == name), "{name} missing from {ids:?}");
    }
    let video: Vec<&str> = sf.video_providers().map(|v| v.id()).collect();
    assert_eq!(video, ["runway", "xai-video"]);
    let images: Vec<&str> = sf.image_providers().map(|v| v.id()).collect();
    assert_eq!(images, ["openai-image", "pollinations-image", "xai-image"]);
    let cli = sf
        .deployments()
        .iter()
        .find(|d| d.kind == Kind::LlamaCppCli)
        .unwrap();
    assert_eq!(cli.model, "tiny");
    assert_eq!(cli.groups, ["default"]);
}

#[tokio::test]
async fn an_openai_compatible_endpoint_sends_the_key_in_its_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("x-api-key", "sk-test-key"))
        .respond_with(completion())
        .expect(1)
        .mount(&server)
        .await;
    let sf = build(&format!(
        "[deployments.local]\nkind = \"openai-compatible\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\napi_key = \"env:LOCAL_KEY\"\nauth_header = \"x-api-key\"\n",
        server.uri()
    ));
    let request = ChatRequest::new("default", vec![Message::user("ping")]);
    let answer = sf.chat(None, &request, sf.route_options()).await.unwrap();
    assert_eq!(answer.value.text, "pong");
    assert_eq!(answer.model, "m");
}

#[tokio::test]
async fn azure_calls_its_deployment_url_with_the_api_version_and_api_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/gpt4o-prod/chat/completions"))
        .and(query_param("api-version", "2024-10-21"))
        .and(header("api-key", "sk-test-key"))
        .respond_with(completion())
        .expect(1)
        .mount(&server)
        .await;
    let sf = build(&format!(
        "[deployments.az]\nkind = \"azure\"\nmodel = \"gpt-4o\"\nazure_deployment = \"gpt4o-prod\"\nbase_url = \"{}\"\napi_key = \"env:AZURE_KEY\"\n",
        server.uri()
    ));
    let request = ChatRequest::new("default", vec![Message::user("ping")]);
    let answer = sf.chat(None, &request, sf.route_options()).await;
    assert_eq!(answer.unwrap().value.text, "pong");
}
