//! Ollama's native `/api/chat` API as a steadfast [`ChatProvider`].
//!
//! This crate speaks Ollama's own API, not its OpenAI-compatible `/v1` (that one is a preset
//! of `steadfast-providers-openai`). The native API is the one that exposes everything Ollama
//! can do: NDJSON streaming (`application/x-ndjson`, decoded by the shared
//! [`WireFormat::OllamaNdjson`](steadfast_streaming::WireFormat::OllamaNdjson) decoder),
//! images as base64, tool calls whose arguments are JSON objects, `format` for JSON mode and
//! JSON schemas, `think`, `keep_alive` and every model option.
//!
//! # Key decision: classify once, then help
//!
//! Failures are classified by `steadfast-errors` only (through
//! [`Caller`](steadfast_providers_core::http::Caller)), with the Ollama table: a 404
//! `model 'x' not found` is `not_found`, an in-band `{"error":…}` line inside a 200 stream
//! classifies exactly like the same message with a status code, Ollama cloud's weekly limit
//! is `quota_exhausted`. The provider adds one thing on top: a model-not-found error always
//! carries the fix, `ollama pull <model>`, when Ollama's message lacks it.
//!
//! # Facts
//!
//! - Base URL: `OLLAMA_HOST` (`host`, `host:port` or a URL; see [`normalize_host`]), else
//!   `http://127.0.0.1:11434`.
//! - Auth: none by default; with `OLLAMA_API_KEY` (Ollama cloud, or a proxy)
//!   `Authorization: Bearer <key>`.
//! - Health check: `GET /api/tags` — answers without loading a model.
//! - Cost: zero for a self-hosted server unless prices are configured in
//!   [`OllamaConfig::models`]; unknown for a keyed (cloud) server without prices.
//! - Resume ([`ChatProvider::continuation`]): the partial answer is sent as a trailing
//!   assistant message. Ollama's library templates (`{{ if not $last }}…`) and its built-in
//!   renderers leave that last assistant turn open, so the model continues it and the
//!   response holds only the new text: **exact** (a prefill) for those models. A model with
//!   a custom `TEMPLATE` that closes every turn answers afresh instead; set
//!   [`OllamaConfig::assistant_prefill`] to false for it and resume becomes best effort.
//!
//! # Example
//!
//! ```
//! use steadfast_providers_core::{ChatProvider, ChatRequest, Message};
//! use steadfast_providers_ollama::{OllamaProvider, OllamaConfig};
//! use wiremock::matchers::{method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .and(path("/api/chat"))
//!     .respond_with(ResponseTemplate::new(200).set_body_raw(
//!         r#"{"model":"llama3.2","message":{"role":"assistant","content":"Hello!"},"done_reason":"stop","done":true,"prompt_eval_count":26,"eval_count":3}"#,
//!         "application/json",
//!     ))
//!     .mount(&server)
//!     .await;
//!
//! let ollama = OllamaProvider::new(OllamaConfig { base_url: server.uri(), ..OllamaConfig::default() });
//! let answer = ollama
//!     .chat(&ChatRequest::new("llama3.2", vec![Message::user("Hi")]))
//!     .await
//!     .unwrap();
//! assert_eq!(answer.text, "Hello!");
//! assert_eq!(answer.usage.unwrap().output_tokens, 3);
//! assert_eq!(ollama.cost("llama3.2", &answer.usage.unwrap()), Some(0.0));
//! # }
//! ```
//!
//! [`ChatProvider`]: steadfast_providers_core::ChatProvider
//! [`ChatProvider::continuation`]: steadfast_providers_core::ChatProvider::continuation

mod config;
mod provider;
mod wire;

pub use config::{
    API_KEY_VARS, DEFAULT_BASE_URL, DEFAULT_PORT, HOST_VAR, OllamaConfig, normalize_host,
};
pub use provider::OllamaProvider;
