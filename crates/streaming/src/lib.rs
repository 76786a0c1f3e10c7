//! Stream decoding for AI providers: framing, one decoder per wire format, timeouts, and
//! resumable streams.
//!
//! # Layers
//!
//! - **Framing** — [`sse`] follows the WHATWG rules exactly (CR/LF/CRLF, a CR and LF split
//!   across chunks, BOM, comments, multi-line data, `id`, `retry`, UTF-8 split across chunks,
//!   a partial event at EOF discarded) with a maximum event size; [`ndjson`] splits lines.
//!   Both are push-based and allocation-light, and refuse an oversized event with a
//!   `protocol` error instead of growing memory.
//! - **Decoding** — one [`Decoder`] per [`WireFormat`] (`openai-chat`, `anthropic-messages`,
//!   Ollama NDJSON, `gemini`), shared by every provider that speaks it, turns frames into
//!   provider-neutral [`StreamEvent`](steadfast_providers_core::StreamEvent)s. Errors inside
//!   an HTTP 200 stream classify through `steadfast-errors` exactly like status errors; a
//!   stream that ends without its terminator is `stream_interrupted`, and everything received
//!   before it is still delivered. [`decode_response`] does the same for whole bodies.
//! - **Accumulating** — [`StreamState`] joins text, reasoning and tool calls, keeps usage,
//!   the finish reason, counts, and the [`CommitPoint`] reached.
//! - **Reliability** — [`Timeouts`] (first byte, idle, total) as a stream adapter, and
//!   [`ResumableStream`], which reopens an interrupted answer and delivers every character
//!   once whatever the continuation does — continue exactly, echo the delivered prefix,
//!   restart, repeat the tail, or restart and diverge (reported as a [`ResumeOutcome`]);
//!   see [`resume`] for what each case guarantees, and how a cut attempt's usage is billed.
//! - **Bounds** — every event, line and whole body has a size limit
//!   ([`sse::DEFAULT_MAX_EVENT_BYTES`], [`MAX_RESPONSE_BYTES`]), an answer at most
//!   [`MAX_TOOL_CALLS`] tool calls, and usage sums saturate: hostile input gets a
//!   `protocol` error, never a panic or unbounded memory.
//!
//! # Example
//!
//! ```
//! use steadfast_errors::{ErrorKind, Provider};
//! use steadfast_streaming::{StreamState, WireFormat};
//!
//! let body = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n\
//!             event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Once upon\"}}\n\n";
//! let mut decoder = WireFormat::AnthropicMessages.decoder(Provider::Anthropic);
//! let mut items = Vec::new();
//! decoder.feed(body.as_bytes(), &mut items);
//! decoder.finish(&mut items); // the connection closed before message_stop
//!
//! let mut state = StreamState::default();
//! for item in &items {
//!     match item {
//!         Ok(event) => state.apply(event),
//!         Err(err) => state.apply_error(err),
//!     }
//! }
//! assert_eq!(state.text(), "Once upon"); // nothing received is lost
//! assert_eq!(state.error().unwrap().kind(), ErrorKind::StreamInterrupted);
//! assert!(!state.is_complete());
//! ```

pub mod ndjson;
pub mod resume;
pub mod sse;

mod decode;
mod decoded;
mod response;
mod response_typed;
mod state;
mod timeout;

pub use decode::{Decoder, Item, WireFormat};
pub use decoded::DecodedStream;
pub use response::{MAX_RESPONSE_BYTES, decode_response};
pub use resume::{
    EventStream, Reopen, ReopenFn, ResumableStream, ResumeConfig, ResumeOutcome, is_resumable,
};
pub use state::{CommitPoint, MAX_TOOL_CALLS, StreamState};
pub use timeout::{TimeoutStream, Timeouts, Timer};
