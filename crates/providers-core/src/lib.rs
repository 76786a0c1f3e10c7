//! Provider-neutral types for steadfast: what every provider's answer becomes.
//!
//! Every wire format (OpenAI chat, Anthropic messages, Ollama NDJSON, Gemini) is decoded into
//! the same small vocabulary, so that retry, resume, fallback and cost tracking never look at
//! a provider's JSON: a stream is a sequence of [`StreamEvent`]s, token counts are a
//! [`Usage`], and every way an answer can end is a [`FinishReason`].
//!
//! The request types and provider traits join these as the provider crates land.

mod finish;
mod response;
mod stream;
mod usage;

pub use finish::FinishReason;
pub use response::ChatResponse;
pub use stream::{StreamEvent, ToolCall, ToolCallDelta};
pub use usage::Usage;
