//! `ChatProvider`: what every chat provider offers, type-erasable for routers.

use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use futures_core::Stream;
use serde::{Deserialize, Serialize};
use steadfast_errors::{Provider, ProviderError};

use crate::{ChatRequest, ChatResponse, Pricing, StreamEvent, Usage};

/// A streamed answer: events, then at most one error (a classified [`ProviderError`]).
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// What a provider can do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// Streamed answers.
    pub streaming: bool,
    /// Tool (function) calling.
    pub tools: bool,
    /// Images in messages.
    pub vision: bool,
    /// An assistant prefix is continued exactly (Anthropic prefill): resume is exact.
    pub prefill: bool,
    /// Structured output (`response_format`).
    pub json_mode: bool,
    /// Reasoning output kept apart from text.
    pub reasoning: bool,
}

/// A model a provider serves, with what a router needs to know before calling it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The provider's model id.
    pub id: String,
    /// The context window in tokens, when known (for pre-call checks).
    pub context_window: Option<u32>,
    /// Its prices.
    pub pricing: Option<Pricing>,
}

impl ModelInfo {
    /// The entry for the model `id` in `models`, if there is one.
    ///
    /// ```
    /// use steadfast_providers_core::{ModelInfo, Pricing};
    ///
    /// let models = [ModelInfo { id: "m".into(), context_window: Some(8192), pricing: Some(Pricing::per_million(1.0, 2.0)) }];
    /// assert_eq!(ModelInfo::find(&models, "m").and_then(|m| m.context_window), Some(8192));
    /// assert!(ModelInfo::find(&models, "other").is_none());
    /// ```
    pub fn find<'a>(models: &'a [ModelInfo], id: &str) -> Option<&'a ModelInfo> {
        models.iter().find(|m| m.id == id)
    }
}

/// A chat provider: OpenAI, Anthropic, Ollama, Gemini, a mock…
///
/// Object-safe (`Arc<dyn ChatProvider>`) so that routers hold providers of every kind side
/// by side. Errors are always classified [`ProviderError`]s, with the provider's id as their
/// `provider` and the API key redacted.
#[async_trait]
pub trait ChatProvider: Send + Sync + fmt::Debug {
    /// This provider instance's id (`openai`, `openrouter-eu`, …).
    fn id(&self) -> &str;

    /// The wire dialect it speaks (selects the error table and stream decoder).
    fn kind(&self) -> Provider;

    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// The base URL it calls, for an HTTP provider: telemetry reads only its host and port
    /// (`server.address`, `server.port`, see [`http::server_of`](crate::http::server_of)),
    /// never the whole URL, which may carry a secret. `None` by default.
    fn base_url(&self) -> Option<&str> {
        None
    }

    /// The models it is configured with (empty: whatever the caller names). Borrowed, so
    /// that a router may consult it on every call without copying.
    fn models(&self) -> &[ModelInfo] {
        &[]
    }

    /// The prices of `model`, when known: by default those of its [`models`](Self::models)
    /// entry.
    fn pricing(&self, model: &str) -> Option<Pricing> {
        ModelInfo::find(self.models(), model).and_then(|m| m.pricing)
    }

    /// The cost of `usage` on `model` in USD, in this provider's usage semantics.
    fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.pricing(model).map(|p| p.cost(usage))
    }

    /// Answers `request` whole.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError>;

    /// Answers `request` as a stream. Fails before returning when the request is refused;
    /// failures after that arrive inside the stream.
    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, ProviderError>;

    /// A cheap call that proves the provider answers with these credentials.
    async fn health_check(&self) -> Result<(), ProviderError>;

    /// The resume hook: the request that continues `partial` (the answer text delivered so
    /// far), or `None` when this API offers no way to continue. The default sends `partial`
    /// as an assistant prefix, which is exact where [`Capabilities::prefill`] is set and a
    /// best effort elsewhere.
    fn continuation(&self, request: &ChatRequest, partial: &str) -> Option<ChatRequest> {
        Some(request.continued_from(partial))
    }
}
