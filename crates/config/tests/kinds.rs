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
        .into_iter()
        .find(|d| d.kind == Some(Kind::LlamaCppCli))
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

/// The settings every HTTP kind shares (base URL, key from its variable, headers, request
/// timeout) and the kind's own (`api_version`) reach the wire, for each native format.
#[tokio::test]
async fn each_native_kind_sends_its_base_url_key_version_and_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", "sk-test-key"))
        .and(header("anthropic-version", "2099-01-01"))
        .and(header("x-team", "blue"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "from anthropic"}],
            "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 2}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v9/models/m:generateContent"))
        .and(header("x-goog-api-key", "sk-test-key"))
        .and(header("x-team", "green"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "from gemini"}]},
                            "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(header("authorization", "Bearer sk-test-key"))
        .and(header("x-team", "red"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "m", "message": {"role": "assistant", "content": "from ollama"},
            "done": true, "done_reason": "stop", "prompt_eval_count": 1, "eval_count": 2
        })))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let sf = build(&format!(
        r#"
        [deployments.a]
        kind = "anthropic"
        model = "m"
        base_url = "{uri}/"
        api_key = "env:A_KEY"
        api_version = "2099-01-01"
        headers = {{ "x-team" = "blue" }}
        timeouts = {{ request = "5s" }}

        [deployments.g]
        kind = "gemini"
        model = "m"
        base_url = "{uri}"
        api_key = "env:G_KEY"
        api_version = "v9"
        headers = {{ "x-team" = "green" }}

        [deployments.o]
        kind = "ollama"
        model = "m"
        base_url = "{uri}"
        api_key = "env:O_KEY"
        headers = {{ "x-team" = "red" }}

        [groups.a]
        deployments = ["a"]
        [groups.g]
        deployments = ["g"]
        [groups.o]
        deployments = ["o"]
        "#
    ));
    for (group, text) in [
        ("a", "from anthropic"),
        ("g", "from gemini"),
        ("o", "from ollama"),
    ] {
        let request = ChatRequest::new(group, vec![Message::user("ping")]);
        let answer = sf.chat(Some(group), &request, sf.route_options()).await;
        let answer = answer.unwrap_or_else(|e| panic!("group {group}: {e}"));
        assert_eq!(answer.value.text, text);
        assert_eq!(answer.provider, group);
    }
}
