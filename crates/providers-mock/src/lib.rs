//! Test doubles for steadfast: a scripted in-process provider and a fault-injecting HTTP
//! server.
//!
//! # Two doubles, two levels
//!
//! - [`ScriptedProvider`] is a [`ChatProvider`](steadfast_providers_core::ChatProvider) in
//!   the process. Each call plays the next scripted [`Outcome`] — an answer, an error, a
//!   delay, a stream cut or stalled or failing after some chunks, tool calls — and every
//!   request is recorded. Nothing touches a socket, so tests run on a paused tokio clock:
//!   retry backoff, breaker windows, stream timeouts and resumes are tested in microseconds
//!   and deterministically. Use it to test everything *above* a provider (retry, circuit,
//!   fallback, router).
//! - [`FaultServer`] is a real HTTP/1.1 server on loopback that speaks the `openai-chat`,
//!   `anthropic-messages`, `gemini` and Ollama `ndjson` wire formats byte for byte, continues
//!   a prefix as a chosen [`Continuation`] (exact, repeated tail, restart, echo, divergent
//!   restart), counts the faults that fired, and injects a [`Fault`] per request:
//!   error statuses with `retry-after`, connection resets, delays, a stream cut after N
//!   chunks, malformed chunks, slow drips, in-band error events, stalls. Use it to test a
//!   provider crate's HTTP path, and the whole stack end to end (`cargo xtask
//!   inject-failures` runs the real router against it).
//!
//! # The key decision: answers that prove exactly-once delivery
//!
//! Both doubles can continue an answer from an assistant prefix, the way a resume asks for
//! it. The server always answers the deterministic [`token_answer`] (`t0 t1 t2 …`), and
//! after a prefix it sends exactly the tokens that follow; [`Outcome::ContinueFrom`] does the
//! same for any text. So a test that cuts a stream, resumes it and compares the delivered
//! text with the whole answer proves that no token was lost and none repeated — the
//! property [`ResumableStream`](steadfast_streaming::ResumableStream) promises.
//!
//! The server is written by hand over `tokio::net` rather than with a framework: faults such
//! as "half of the next event, then close" or "headers, then silence" need control of every
//! byte and of the connection, which higher-level servers (wiremock included) hide. It
//! keeps connections alive between requests, so client connection pools work as in
//! production.
//!
//! # Example
//!
//! A stream cut after three chunks, resumed through the provider's continuation hook:
//!
//! ```
//! use std::sync::Arc;
//! use futures_util::StreamExt;
//! use steadfast_providers_core::{ChatRequest, Message};
//! use steadfast_providers_mock::{ContinueOn, Outcome, ScriptedProvider};
//! use steadfast_streaming::ResumeConfig;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let answer = "t0 t1 t2 t3 t4 t5";
//! let provider = Arc::new(ScriptedProvider::from_outcomes([
//!     Outcome::cut(["t0", " t1", " t2"]),
//!     Outcome::continue_from(answer),
//! ]));
//! let request = ChatRequest::new("mock-model", vec![Message::user("Count to six")]);
//! let exact = ResumeConfig { overlap_window: 0, ..ResumeConfig::default() };
//! let mut stream = ContinueOn::new(provider.clone(), request).open(exact).await.unwrap();
//! while let Some(item) = stream.next().await {
//!     item.unwrap();
//! }
//! assert_eq!(stream.delivered().text(), answer); // every token once
//! let resumed = &provider.requests()[1];
//! assert_eq!(resumed.messages.last().unwrap().joined_text(), "t0 t1 t2"); // the prefix sent
//! # }
//! ```
//!
//! And the server, read by the shared decoder exactly as a provider crate reads it:
//!
//! ```
//! use futures_util::StreamExt;
//! use steadfast_errors::{ErrorKind, Provider};
//! use steadfast_providers_core::http::{Caller, default_client};
//! use steadfast_providers_mock::{Fault, FaultServer};
//! use steadfast_streaming::{DecodedStream, StreamState, WireFormat};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let server = FaultServer::start().await.unwrap();
//! server.push(Fault::CutAfter { chunks: 3 });
//!
//! let caller = Caller { kind: Provider::Anthropic, id: "anthropic", model: "mock-model", key: None };
//! let body = serde_json::json!({
//!     "model": "mock-model", "max_tokens": 100, "stream": true,
//!     "messages": [{"role": "user", "content": "Count"}],
//! });
//! let request = default_client().post(server.url("/v1/messages")).json(&body);
//! let response = caller.send(request).await.unwrap();
//! let decoder = WireFormat::AnthropicMessages.decoder(Provider::Anthropic);
//! let mut events = DecodedStream::new(caller.body_stream(response), decoder);
//! let mut state = StreamState::default();
//! while let Some(item) = events.next().await {
//!     match item {
//!         Ok(event) => state.apply(&event),
//!         Err(err) => state.apply_error(&err),
//!     }
//! }
//! assert_eq!(state.text(), "t0 t1 t2"); // what came before the cut is delivered
//! assert_eq!(state.error().unwrap().kind(), ErrorKind::StreamInterrupted);
//! # }
//! ```

mod config;
mod outcome;
mod plan;
mod reopen;
mod scripted;
mod server;
mod text;

pub use config::{ScriptedConfig, WhenExhausted};
pub use outcome::{Outcome, StreamEnd};
pub use reopen::ContinueOn;
pub use scripted::ScriptedProvider;
pub use server::{Continuation, Fault, FaultServer, RecordedRequest, ServerConfig};
pub use text::{TokenAudit, token_answer};
