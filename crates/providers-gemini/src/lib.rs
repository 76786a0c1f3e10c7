//! The Google Gemini API as a steadfast [`ChatProvider`](steadfast_providers_core::ChatProvider).
//!
//! [`GeminiProvider`] translates a provider-neutral
//! [`ChatRequest`](steadfast_providers_core::ChatRequest) into
//! `POST /v1beta/models/{model}:generateContent` (or `:streamGenerateContent?alt=sse`):
//! `contents` with `user` / `model` roles, `systemInstruction`, `generationConfig`
//! (temperature, topP, maxOutputTokens, stopSequences, JSON output from `response_format`),
//! tools as `functionDeclarations`, tool calls and results as `functionCall` /
//! `functionResponse` parts, images as `inlineData` or `fileData`, and `extra` merged last
//! (details on [`GeminiProvider`]). Answers are decoded by `steadfast-streaming`'s `gemini`
//! decoder, and every failure — a status error, a 429 with its `RetryInfo.retryDelay`, a
//! blocked prompt inside a 200, a raw error appended to a stream — is classified by
//! `steadfast-errors` through [`Caller`](steadfast_providers_core::http::Caller) and
//! labelled with the instance id and model.
//!
//! # The key stays in a header
//!
//! The key design decision: the API key is sent only as `x-goog-api-key`, never as the
//! `?key=` query parameter many Gemini examples use. URLs end up in proxy logs, redirects,
//! `reqwest` error messages and tracing spans; headers marked sensitive do not.
//!
//! # Resume is best effort
//!
//! Gemini has no prefill contract: [`continuation`](steadfast_providers_core::ChatProvider::continuation)
//! ends the conversation with the delivered text as a `model` turn where the model accepts
//! one (most continue it, but may restate a few words), and with an extra user turn asking
//! to continue where the model refuses a trailing `model` turn. `Capabilities::prefill` is
//! `false`. The [`resume`] module has the evidence and the model list.
//!
//! # Example
//!
//! ```
//! use steadfast_errors::ErrorKind;
//! use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
//! use steadfast_providers_gemini::{GeminiConfig, GeminiProvider};
//! use wiremock::matchers::{header, method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! #[tokio::main]
//! async fn main() {
//!     // A stand-in for generativelanguage.googleapis.com.
//!     let server = MockServer::start().await;
//!     Mock::given(method("POST"))
//!         .and(path("/v1beta/models/gemini-2.5-flash:generateContent"))
//!         .and(header("x-goog-api-key", "AIza-test"))
//!         .respond_with(ResponseTemplate::new(200).set_body_raw(
//!             r#"{"candidates": [{"content": {"parts": [{"text": "Paris."}], "role": "model"},
//!                 "finishReason": "STOP"}],
//!                 "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 2}}"#,
//!             "application/json",
//!         ))
//!         .mount(&server)
//!         .await;
//!     Mock::given(method("POST"))
//!         .and(path("/v1beta/models/gemini-2.5-pro:generateContent"))
//!         .respond_with(ResponseTemplate::new(429).set_body_raw(
//!             r#"{"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED",
//!                 "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]}}"#,
//!             "application/json",
//!         ))
//!         .mount(&server)
//!         .await;
//!
//!     let gemini = GeminiProvider::new(GeminiConfig {
//!         base_url: server.uri(),
//!         api_key: Some(ApiKey::new("AIza-test")),
//!         ..GeminiConfig::from_env()
//!     });
//!     let question = vec![Message::user("Capital of France?")];
//!     let answer = gemini
//!         .chat(&ChatRequest::new("gemini-2.5-flash", question.clone()))
//!         .await
//!         .unwrap();
//!     assert_eq!(answer.text, "Paris.");
//!
//!     let err = gemini
//!         .chat(&ChatRequest::new("gemini-2.5-pro", question))
//!         .await
//!         .unwrap_err();
//!     assert_eq!(err.kind(), ErrorKind::RateLimited);
//!     assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(17)));
//!     assert_eq!((err.provider(), err.model()), ("gemini", Some("gemini-2.5-pro")));
//! }
//! ```

pub mod resume;

mod config;
mod provider;
mod wire;

pub use config::{
    API_KEY_VARS, DEFAULT_API_VERSION, DEFAULT_BASE_URL, DEFAULT_TIMEOUT, GeminiConfig,
    SKIP_THOUGHT_SIGNATURE,
};
pub use provider::GeminiProvider;
pub use resume::{ContinueStyle, accepts_model_turn};
#[doc(no_inline)]
pub use steadfast_providers_core::resume::CONTINUE_PROMPT;
