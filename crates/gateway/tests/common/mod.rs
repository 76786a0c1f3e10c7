//! Shared set-up: two fault servers as upstreams and a gateway over them on loopback.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use steadfast_config::Steadfast;
use steadfast_gateway::{Gateway, GatewayConfig};
use steadfast_providers_core::ApiKey;
use steadfast_providers_mock::{FaultServer, ServerConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Two upstreams (the primary goes first) and a gateway over them.
pub struct Setup {
    pub primary: FaultServer,
    pub secondary: FaultServer,
    pub gateway: Gateway,
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
    pub client: reqwest::Client,
}

/// A client (one per test: a pool's connections belong to the runtime that opened them).
pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

impl Setup {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `POST path` with `body` as JSON and the request's `headers`.
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// `POST /v1/chat/completions` without a key.
    pub async fn chat(&self, body: &serde_json::Value) -> reqwest::Response {
        self.post("/v1/chat/completions", &[], body).await
    }

    /// `POST /v1/chat/completions` with `Authorization: Bearer <key>`.
    pub async fn chat_as(&self, key: &str, body: &serde_json::Value) -> reqwest::Response {
        let auth = format!("Bearer {key}");
        self.post("/v1/chat/completions", &[("authorization", &auth)], body)
            .await
    }

    /// `POST /v1/messages` (Anthropic's format) without a key.
    pub async fn messages(&self, body: &serde_json::Value) -> reqwest::Response {
        self.post("/v1/messages", &[], body).await
    }

    /// `GET path` without a key.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Stops accepting and waits for the server to return.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.expect("the server task panicked")
    }
}

/// The config text over `primary` and `secondary`, with `extra` lines added to the
/// primary deployment.
pub fn config_text(primary: &FaultServer, secondary: &FaultServer, primary_extra: &str) -> String {
    format!(
        r#"
[router]
default_group = "chat"

[deployments.primary]
kind = "llamacpp-server"
model = "mock-model"
base_url = "{}/v1"
retry = {{ max_attempts = 1 }}
timeouts = {{ idle = "10m", first_byte = "10m", request = "10m" }}
priority = 1
{primary_extra}

[deployments.secondary]
kind = "llamacpp-server"
model = "mock-model"
base_url = "{}/v1"
retry = {{ max_attempts = 1 }}
timeouts = {{ idle = "10m", first_byte = "10m", request = "10m" }}
priority = 2

[groups.chat]
deployments = ["primary", "secondary"]
"#,
        primary.base_url(),
        secondary.base_url()
    )
}

pub async fn upstream(answer_tokens: usize) -> FaultServer {
    FaultServer::with_config(ServerConfig {
        answer_tokens,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

pub async fn start(primary_extra: &str, config: GatewayConfig) -> Setup {
    let primary = upstream(20).await;
    let secondary = upstream(20).await;
    start_with(primary, secondary, primary_extra, config).await
}

pub async fn start_with(
    primary: FaultServer,
    secondary: FaultServer,
    primary_extra: &str,
    config: GatewayConfig,
) -> Setup {
    let text = config_text(&primary, &secondary, primary_extra);
    start_text(primary, secondary, &text, config).await
}

/// A gateway over `text` (a config naming `primary` and `secondary`).
pub async fn start_text(
    primary: FaultServer,
    secondary: FaultServer,
    text: &str,
    config: GatewayConfig,
) -> Setup {
    let sf = Arc::new(Steadfast::from_config(text).unwrap());
    let gateway = Gateway::new(sf, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let g = gateway.clone();
    let task = tokio::spawn(async move {
        g.serve(listener, async {
            let _ = rx.await;
        })
        .await
    });
    Setup {
        primary,
        secondary,
        gateway,
        addr,
        stop: Some(tx),
        task,
        client: client(),
    }
}

pub fn keyed(keys: &[&str]) -> GatewayConfig {
    GatewayConfig {
        keys: keys.iter().map(|k| ApiKey::new(*k)).collect(),
        ..GatewayConfig::default()
    }
}

pub fn body(stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": "chat",
        "messages": [{"role": "user", "content": "count"}],
        "stream": stream,
    })
}

/// The `data:` payloads of an SSE body, in order.
pub fn events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

/// The text the chunks of an SSE body carry.
pub fn streamed_text(text: &str) -> String {
    events(text)
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// A Messages request for the `chat` group.
pub fn messages_body(stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": "chat",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "count"}],
        "stream": stream,
    })
}

/// The `(event, data)` pairs of an Anthropic SSE body, in order; the `data` parsed.
pub fn named_events(text: &str) -> Vec<(String, serde_json::Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = serde_json::Value::Null;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d)
                        .unwrap_or_else(|err| panic!("bad data `{d}`: {err}"));
                }
            }
            (name, data)
        })
        .collect()
}

/// The text the `text_delta` events of an Anthropic SSE body carry.
pub fn messages_text(text: &str) -> String {
    named_events(text)
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "text_delta")
        .filter_map(|(_, d)| d["delta"]["text"].as_str().map(str::to_owned))
        .collect()
}

pub const LONG: Duration = Duration::from_secs(30);

/// A gateway whose two deployments each allow one request a minute.
pub async fn start_limited(config: GatewayConfig) -> Setup {
    let primary = upstream(20).await;
    let secondary = upstream(20).await;
    let text = config_text(&primary, &secondary, "rpm = 1")
        .replace("priority = 2", "priority = 2\nrpm = 1");
    start_text(primary, secondary, &text, config).await
}
