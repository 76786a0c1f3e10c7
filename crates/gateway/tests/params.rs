//! OpenAI sampling and user fields reach each provider under its own API's names, and a
//! field a provider's API would refuse is not sent to it.

use std::sync::Arc;

use serde_json::{Value, json};
use steadfast_config::{ConfigFile, Format, Steadfast};
use steadfast_gateway::{Gateway, GatewayConfig};
use steadfast_providers_mock::{Fault, FaultServer};

/// The JSON body of the last request `server` got.
fn last_body(server: &FaultServer) -> Value {
    let requests = server.requests();
    let last = requests.last().expect("the upstream got no request");
    last.json()
        .expect("the upstream got a body that is not JSON")
}

#[tokio::test]
async fn anthropic_and_gemini_get_the_fields_their_apis_have_and_nothing_else() {
    let anthropic = FaultServer::start().await.unwrap();
    let gemini = FaultServer::start().await.unwrap();
    let text = format!(
        r#"
        [router]
        default_group = "chat"

        [deployments.claude]
        kind = "anthropic"
        model = "claude-x"
        base_url = "{}"
        api_key = "env:ANTHROPIC_KEY"
        retry = {{ max_attempts = 1 }}
        priority = 1

        [deployments.gem]
        kind = "gemini"
        model = "gemini-x"
        base_url = "{}"
        api_key = "env:GEMINI_KEY"
        retry = {{ max_attempts = 1 }}
        priority = 2

        [groups.chat]
        deployments = ["claude", "gem"]
        "#,
        anthropic.base_url(),
        gemini.base_url()
    );
    let file = ConfigFile::parse(&text, Format::Toml).unwrap();
    let sf = Steadfast::build(&file, &|_| Some("sk-upstream".to_owned())).unwrap();
    let gateway = Gateway::new(Arc::new(sf), GatewayConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { gateway.serve(listener, std::future::pending()).await });

    let body = json!({
        "model": "chat",
        "messages": [{"role": "user", "content": "count"}],
        "user": "u-1",
        "seed": 7,
        "top_k": 40,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "parallel_tool_calls": false,
        "logit_bias": {"50256": -100},
    });
    let client = reqwest::Client::new();
    let answer = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-steadfast-provider"], "claude");
    let sent = last_body(&anthropic);
    assert_eq!(sent["metadata"], json!({"user_id": "u-1"}));
    assert_eq!(sent["top_k"], 40);
    for absent in [
        "user",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "parallel_tool_calls",
        "logit_bias",
    ] {
        assert!(sent.get(absent).is_none(), "anthropic got {absent}: {sent}");
    }

    // The same request after the first deployment fails: Gemini's names this time.
    anthropic.push(Fault::status(500));
    let answer = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-steadfast-provider"], "gem");
    let sent = last_body(&gemini);
    assert_eq!(
        sent["generationConfig"],
        json!({"topK": 40, "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": 0.25})
    );
    for absent in [
        "user",
        "metadata",
        "seed",
        "logit_bias",
        "parallel_tool_calls",
    ] {
        assert!(sent.get(absent).is_none(), "gemini got {absent}: {sent}");
    }
}
