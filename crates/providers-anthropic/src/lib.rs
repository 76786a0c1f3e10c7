//! The Anthropic Messages API as a steadfast [`ChatProvider`](steadfast_providers_core::ChatProvider).
//!
//! [`AnthropicProvider`] translates a provider-neutral
//! [`ChatRequest`](steadfast_providers_core::ChatRequest) into `POST /v1/messages` (headers
//! `x-api-key`, `anthropic-version: 2023-06-01`, `content-type: application/json`): the
//! system prompt as the top-level `system`, tools as `tools` / `tool_choice`, tool calls and
//! results as `tool_use` / `tool_result` blocks, images as `image` blocks, consecutive turns
//! of one role merged, `max_tokens` defaulted ([`DEFAULT_MAX_TOKENS`]), `response_format`
//! mapped to `output_config.format`, and `extra` merged last (details on
//! [`AnthropicProvider`]). Answers — whole or streamed — are decoded by `steadfast-streaming`,
//! and every failure is classified by `steadfast-errors` through
//! [`Caller`](steadfast_providers_core::http::Caller), labelled with the instance id and
//! model, with the key scrubbed.
//!
//! # Resume: exact by prefill, and why whitespace matters
//!
//! The key design decision is the resume hook. Anthropic continues a trailing assistant
//! message exactly, so [`continuation`](steadfast_providers_core::ChatProvider::continuation)
//! sends the delivered text as that message (`Capabilities::prefill` is `true`). The API
//! refuses a prefill ending in whitespace, so the request carries it trimmed and the answer
//! skips the whitespace the consumer already has — every character arrives exactly once.
//! Claude 4.6 and later refuse prefill altogether, as does extended thinking; for those the
//! continuation is an honest best effort. The [`prefill`] module has the details.
//!
//! # Example
//!
//! ```
//! use futures_util::StreamExt;
//! use steadfast_providers_anthropic::{AnthropicProvider, AnthropicConfig};
//! use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message, StreamEvent};
//! use wiremock::matchers::{header, method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! #[tokio::main]
//! async fn main() {
//!     // A stand-in for api.anthropic.com.
//!     let server = MockServer::start().await;
//!     Mock::given(method("POST"))
//!         .and(path("/v1/messages"))
//!         .and(header("x-api-key", "sk-ant-test"))
//!         .and(header("anthropic-version", "2023-06-01"))
//!         .respond_with(ResponseTemplate::new(200).set_body_raw(
//!             "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n\
//!              event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Ahoy!\"}}\n\n\
//!              event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n\
//!              event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
//!             "text/event-stream",
//!         ))
//!         .mount(&server)
//!         .await;
//!
//!     let claude = AnthropicProvider::new(AnthropicConfig {
//!         base_url: server.uri(),
//!         api_key: Some(ApiKey::new("sk-ant-test")),
//!         ..AnthropicConfig::from_env()
//!     });
//!     let request = ChatRequest::new("claude-sonnet-4-5", vec![Message::user("Greet me")])
//!         .with_system("You are a pirate.");
//!     let mut stream = claude.chat_stream(&request).await.unwrap();
//!     let mut text = String::new();
//!     while let Some(event) = stream.next().await {
//!         if let StreamEvent::TextDelta { text: t } = event.unwrap() {
//!             text.push_str(&t);
//!         }
//!     }
//!     assert_eq!(text, "Ahoy!");
//!
//!     // Resuming "Ahoy, " is exact: the prefill is sent as "Ahoy," and the leading space of
//!     // the continuation is skipped.
//!     let next = claude.continuation(&request, "Ahoy, ").unwrap();
//!     assert_eq!(next.messages.last().unwrap().joined_text(), "Ahoy, ");
//! }
//! ```

pub mod prefill;

mod config;
mod provider;
mod wire;

pub use config::{
    API_KEY_VARS, AnthropicConfig, BASE_URL_VAR, DEFAULT_API_VERSION, DEFAULT_BASE_URL,
    DEFAULT_MAX_TOKENS, DEFAULT_TIMEOUT,
};
pub use prefill::{PrefillMode, accepts_prefill};
pub use provider::AnthropicProvider;
#[doc(no_inline)]
pub use steadfast_providers_core::resume::CONTINUE_PROMPT;
