//! OpenAI chat completions and every OpenAI-compatible endpoint, as presets of one provider.
//!
//! [`OpenAiProvider`] speaks `POST {base_url}/chat/completions`, whole or streamed, and
//! implements [`ChatProvider`](steadfast_providers_core::ChatProvider). Everything that
//! differs between OpenAI, OpenRouter, xAI, DeepSeek, llama.cpp's server, Ollama's `/v1` and
//! Pollinations is *data* in an [`OpenAiConfig`] — the error dialect, base URL, auth header,
//! key variables, token-limit field, health call, prefix-completion endpoint, capabilities —
//! built by one constructor per [`Preset`].
//!
//! # Key design decision: one provider, presets as data
//!
//! These services share one wire format, so they share one implementation: one request
//! builder, the shared `openai-chat` decoder of `steadfast-streaming` (for whole bodies and
//! streams alike), and `steadfast_errors::classify` through
//! [`Caller`](steadfast_providers_core::http::Caller) for every failure. What a preset changes
//! is only what the services really do differently, and a user can change any of it — a
//! self-hosted vLLM or a corporate gateway is `OpenAiConfig { base_url, ..OpenAiConfig::openai() }`.
//! The dialect ([`OpenAiConfig::kind`]) only selects the error table: xAI's bad key arrives as
//! a 400, OpenRouter's credits as a 402, llama.cpp's "Loading model" as a 503, and each
//! classifies right.
//!
//! # Presets
//!
//! | preset | base URL | key (env) | auth | health check | resume |
//! |---|---|---|---|---|---|
//! | [`openai`](OpenAiConfig::openai) | `https://api.openai.com/v1` (`OPENAI_BASE_URL`) | `OPENAI_API_KEY`, required | Bearer | `GET /models` | best effort |
//! | [`openrouter`](OpenAiConfig::openrouter) | `https://openrouter.ai/api/v1` | `OPENROUTER_API_KEY`, required | Bearer, + `HTTP-Referer` / `X-Title` when configured | `GET /key` | best effort |
//! | [`xai`](OpenAiConfig::xai) | `https://api.x.ai/v1` | `XAI_API_KEY` or `GROK_API_KEY`, required | Bearer | `GET /models` | best effort |
//! | [`deepseek`](OpenAiConfig::deepseek) | `https://api.deepseek.com` | `DEEPSEEK_API_KEY`, required | Bearer | `GET /models` | exact (prefix completion, `https://api.deepseek.com/beta`) |
//! | [`llamacpp_server`](OpenAiConfig::llamacpp_server) | `http://127.0.0.1:8080/v1` | `LLAMA_API_KEY`, optional | Bearer | `GET /health` (server root) | exact where the server prefills (its default) |
//! | [`ollama_v1`](OpenAiConfig::ollama_v1) | `http://127.0.0.1:11434/v1` (`OLLAMA_HOST`) | none | — | `GET /v1/models` | best effort |
//! | [`pollinations`](OpenAiConfig::pollinations) | `https://gen.pollinations.ai/v1` | `POLLINATIONS_API_TOKEN`, optional | Bearer | `GET /models` | best effort |
//!
//! Streams send `"stream_options": {"include_usage": true}` so the last chunk carries usage;
//! [`OpenAiConfig::stream_usage`] turns it off for a server that refuses it. OpenAI gets
//! `max_completion_tokens` (its reasoning models refuse `max_tokens`); the others
//! `max_tokens` ([`OpenAiConfig::max_tokens_field`]).
//!
//! # Resume
//!
//! [`continuation`](steadfast_providers_core::ChatProvider::continuation) sends the partial
//! answer back as a trailing assistant message. Whether the model then continues *exactly*
//! depends on the service, and [`Capabilities::prefill`](steadfast_providers_core::Capabilities::prefill)
//! says so:
//!
//! - **DeepSeek — exact.** A request ending in an assistant message goes to
//!   [`OpenAiConfig::prefix_url`] (`https://api.deepseek.com/beta`, or `{base_url}/beta` when
//!   the base URL is changed) with `"prefix": true`
//!   on that message: DeepSeek's "chat prefix completion" (beta), whose answer is the rest of
//!   the message.
//! - **llama.cpp server — exact where enabled.** `llama-server` prefills a trailing assistant
//!   message by default (since April 2025); a server started with `--no-prefill-assistant`
//!   treats it as a finished turn, and one with thinking enabled refuses it with a 400.
//! - **OpenAI, OpenRouter, xAI, Ollama `/v1`, Pollinations — best effort.** Chat completions
//!   answers a trailing assistant message with a *new* message: it may repeat the end of the
//!   partial answer (which `ResumableStream` detects and drops) or rephrase it (which nobody
//!   can detect). `prefill` is false for them, so a router can prefer an exact resume.
//!
//! # Example
//!
//! ```
//! use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
//! use steadfast_providers_openai::{OpenAiConfig, OpenAiProvider};
//! use wiremock::matchers::{header, method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! #[tokio::main]
//! async fn main() {
//!     let server = MockServer::start().await;
//!     Mock::given(method("POST"))
//!         .and(path("/v1/chat/completions"))
//!         .and(header("authorization", "Bearer sk-test"))
//!         .respond_with(ResponseTemplate::new(200).set_body_raw(
//!             r#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini",
//!                 "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},
//!                 "finish_reason":"stop"}],
//!                 "usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#,
//!             "application/json",
//!         ))
//!         .mount(&server)
//!         .await;
//!
//!     let provider = OpenAiProvider::new(OpenAiConfig {
//!         base_url: format!("{}/v1", server.uri()),
//!         api_key: Some(ApiKey::new("sk-test")),
//!         ..OpenAiConfig::openai()
//!     });
//!     let request = ChatRequest::new("gpt-4o-mini", vec![Message::user("Hi")]);
//!     let answer = provider.chat(&request).await.unwrap();
//!     assert_eq!(answer.text, "Hello!");
//!     assert_eq!(answer.usage.unwrap().output_tokens, 2);
//! }
//! ```

mod config;
mod preset;
mod provider;
mod wire;

pub use config::{Auth, DEEPSEEK_PREFIX_BASE_URL, HealthCheck, MaxTokensField, OpenAiConfig};
pub use preset::{API_KEY_VARS, BASE_URL_VAR, ParsePresetError, Preset};
pub use provider::{HEALTH_CHECK_TIMEOUT, OpenAiProvider};
