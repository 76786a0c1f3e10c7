//! Provider-neutral types for steadfast: what every provider is asked and answers.
//!
//! Every wire format (OpenAI chat, Anthropic messages, Ollama NDJSON, Gemini) is decoded into
//! the same small vocabulary, so that retry, resume, fallback and cost tracking never look at
//! a provider's JSON: a request is a [`ChatRequest`], a stream is a sequence of
//! [`StreamEvent`]s, a whole answer a [`ChatResponse`], token counts a [`Usage`], and every
//! way an answer can end a [`FinishReason`].
//!
//! Providers implement [`ChatProvider`] (and [`ImageProvider`] / [`VideoProvider`] for media
//! jobs); it is object-safe so routers hold `Arc<dyn ChatProvider>` of every kind. Keys are
//! [`ApiKey`]s, which never print themselves, and [`http::Caller`] is the one place where
//! an HTTP response or transport failure becomes a classified, labelled, key-free
//! `ProviderError`.

pub mod http;
pub mod resume;
pub mod secret;

mod finish;
mod key;
mod media;
mod pricing;
mod provider;
mod request;
mod response;
mod stream;
mod usage;

pub use finish::FinishReason;
pub use key::ApiKey;
pub use media::{
    GeneratedImage, ImageProvider, ImageRequest, ImageResponse, JobProgress, JobStatus, ProgressFn,
    VideoProvider, VideoRequest, VideoResponse,
};
pub use pricing::Pricing;
pub use provider::{Capabilities, ChatProvider, ChatStream, ModelInfo};
pub use request::{
    ChatRequest, ContentPart, Message, Role, Tool, ToolChoice, json_float, merge_extra,
    parse_data_url,
};
pub use response::ChatResponse;
pub use stream::{StreamEvent, ToolCall, ToolCallDelta};
pub use usage::Usage;
