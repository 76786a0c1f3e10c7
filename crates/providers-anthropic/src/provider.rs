//! `AnthropicProvider`: `ChatProvider` over `POST /v1/messages`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
use steadfast_errors::{ErrorKind, Provider, ProviderError, Transport, classify};
use steadfast_providers_core::http::{Caller, Endpoint, default_client, join_url};
use steadfast_providers_core::resume::{CONTINUE_PROMPT, remaining_max_tokens};
use steadfast_providers_core::{
    ApiKey, Capabilities, ChatProvider, ChatRequest, ChatResponse, ChatStream, Message, ModelInfo,
    Usage,
};
use steadfast_streaming::{DecodedStream, WireFormat, decode_response};

use crate::config::AnthropicConfig;
use crate::prefill::{PrefillMode, TrimmedWhitespace, accepts_prefill, thinking_enabled};
use crate::wire;

const KIND: Provider = Provider::Anthropic;

/// The Anthropic Messages API as a [`ChatProvider`].
///
/// Cheap to clone (the config and the HTTP client are shared). Every error it returns is
/// classified by `steadfast-errors`, names this instance's [`AnthropicConfig::id`] and the model, and
/// never contains the API key.
///
/// The request body, from a [`ChatRequest`]:
/// - system text (`ChatRequest::system`, then any `system` messages) becomes the top-level
///   `system`; consecutive turns of one role are merged; empty text is dropped;
/// - assistant tool calls become `tool_use` blocks with `input` parsed from the arguments
///   (arguments that are not a JSON object are refused as `invalid_request`); tool results
///   become `tool_result` blocks (`tool_use_id`), first in their user turn;
/// - images become `image` blocks with a `url` source, or a `base64` source from a
///   `data:…;base64,` URL;
/// - `max_tokens` (default [`AnthropicConfig::default_max_tokens`]), `temperature`, `top_p`,
///   `stop_sequences`, `tools` (`input_schema` = the parameters), `tool_choice`
///   (`auto` / `none` / `any` / `tool`); `response_format` of type `json_schema` (OpenAI's
///   shape or Anthropic's) becomes `output_config.format` — Anthropic has no schema-less
///   JSON mode, so `json_object` adds nothing; `extra` is merged last, objects one level
///   deep (`extra.output_config` adds to the mapped one);
/// - a final assistant message is a prefill, trimmed of trailing whitespace (see
///   [`prefill`](crate::prefill)).
///
/// The calls:
/// - `chat` / `chat_stream`: `POST {base_url}/v1/messages` (with `"stream": true` for
///   streams, decoded by the shared `anthropic-messages` decoder and wrapped in the configured
///   stream [`Timeouts`](steadfast_streaming::Timeouts)).
/// - `health_check`: `GET {base_url}/v1/models?limit=1` — authenticated, free, no tokens
///   (at most 30 s, or the configured timeout when shorter).
/// - `continuation`: exact by prefill where the model accepts it, best effort elsewhere (see
///   [`prefill`](crate::prefill)).
/// - `cost`: [`Pricing::cost_cache_separate`](steadfast_providers_core::Pricing::cost_cache_separate),
///   since Anthropic reports cache reads and writes beside the input tokens.
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    config: Arc<AnthropicConfig>,
    /// `{base}/v1/messages`, built once.
    messages: Endpoint,
    /// `{base}/v1/models?limit=1` (the health check), built once.
    models: Endpoint,
    client: reqwest::Client,
}

impl AnthropicProvider {
    /// A provider with its own pooled client ([`default_client`]).
    pub fn new(config: AnthropicConfig) -> AnthropicProvider {
        AnthropicProvider::with_client(config, default_client())
    }

    /// A provider sharing `client` (and its connection pool) with others.
    ///
    /// Build `client` with [`redirect_policy`](steadfast_providers_core::http::redirect_policy)
    /// (as [`default_client`](steadfast_providers_core::http::default_client) is): a client that
    /// follows a redirect to another origin sends the key there before the answer is refused.
    pub fn with_client(config: AnthropicConfig, client: reqwest::Client) -> AnthropicProvider {
        AnthropicProvider {
            messages: Endpoint::new(join_url(&config.base_url, "/v1/messages")),
            models: Endpoint::new(join_url(&config.base_url, "/v1/models?limit=1")),
            config: Arc::new(config),
            client,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &AnthropicConfig {
        &self.config
    }

    /// Whether [`continuation`](ChatProvider::continuation) of `request` is exact (a prefill):
    /// the mode allows it, the model accepts prefill, and extended thinking is off.
    pub fn continues_exactly(&self, request: &ChatRequest) -> bool {
        match self.config.prefill {
            PrefillMode::Never => false,
            PrefillMode::Always => !thinking_enabled(request),
            _ => accepts_prefill(&request.model) && !thinking_enabled(request),
        }
    }

    fn caller<'a>(&'a self, model: &'a str) -> Caller<'a> {
        Caller {
            kind: KIND,
            id: &self.config.id,
            model,
            key: self.config.api_key.as_ref(),
        }
    }

    fn request(
        &self,
        caller: &Caller<'_>,
        method: reqwest::Method,
        url: &Endpoint,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let mut builder = url.request(&self.client, method);
        for (name, value) in &self.config.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(key) = &self.config.api_key {
            builder = builder.header("x-api-key", caller.key_header(key)?);
        }
        Ok(builder.header("anthropic-version", self.config.api_version.as_str()))
    }

    /// Builds and sends a messages request; the trimmed prefill whitespace comes back with
    /// the response.
    async fn send(
        &self,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<(reqwest::Response, String), ProviderError> {
        let caller = self.caller(&request.model);
        let wire = wire::build(request, &self.config, stream).map_err(|message| {
            caller.label(ProviderError::new(
                ErrorKind::InvalidRequest,
                KIND.as_str(),
                message,
            ))
        })?;
        let body = serde_json::to_vec(&wire.body).map_err(|e| {
            caller.label(ProviderError::new(
                ErrorKind::InvalidRequest,
                KIND.as_str(),
                format!("the request could not be serialized: {e}"),
            ))
        })?;
        let timeout = request.timeout.unwrap_or(self.config.timeout);
        let builder = self
            .request(&caller, reqwest::Method::POST, &self.messages)?
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        tracing::debug!(
            provider = %self.config.id,
            model = %request.model,
            stream,
            "sending an anthropic messages request"
        );
        let response = if stream {
            // The body is governed by the stream timers; only the headers wait `timeout`.
            send_within(&caller, builder, timeout).await?
        } else {
            caller.send(builder.timeout(timeout)).await?
        };
        Ok((response, wire.trimmed))
    }
}

/// Sends, waiting at most `timeout` for the response headers.
async fn send_within(
    caller: &Caller<'_>,
    builder: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<reqwest::Response, ProviderError> {
    match tokio::time::timeout(timeout, caller.send(builder)).await {
        Ok(result) => result,
        Err(_) => Err(caller.label(classify::transport(KIND, Transport::ReadTimeout))),
    }
}

/// An owned [`Caller`], for labelling errors inside a stream that outlives the call.
#[derive(Debug, Clone)]
pub(crate) struct Labeller {
    pub(crate) kind: Provider,
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) key: Option<ApiKey>,
}

impl Labeller {
    pub(crate) fn label(&self, err: ProviderError) -> ProviderError {
        Caller {
            kind: self.kind,
            id: &self.id,
            model: &self.model,
            key: self.key.as_ref(),
        }
        .label(err)
    }
}

#[async_trait]
impl ChatProvider for AnthropicProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        KIND
    }

    fn base_url(&self) -> Option<&str> {
        Some(&self.config.base_url)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            streaming: true,
            tools: true,
            vision: true,
            prefill: self.config.prefill != PrefillMode::Never,
            json_mode: true,
            reasoning: true,
        }
    }

    fn models(&self) -> &[ModelInfo] {
        &self.config.models
    }

    fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.pricing(model).map(|p| p.cost_cache_separate(usage))
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let (response, trimmed) = self.send(request, false).await?;
        let caller = self.caller(&request.model);
        let body = caller.body(response).await?;
        let mut answer = decode_response(WireFormat::AnthropicMessages, KIND, &body)
            .map_err(|e| caller.label(e))?;
        TrimmedWhitespace::new(trimmed).response(&mut answer);
        Ok(answer)
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let (response, trimmed) = self.send(request, true).await?;
        let caller = self.caller(&request.model);
        let decoder = WireFormat::AnthropicMessages.decoder(KIND);
        let events = DecodedStream::new(caller.body_stream(response), decoder);
        let timed = self.config.stream.wrap(self.config.id.clone(), events);
        let labeller = Labeller {
            kind: KIND,
            id: self.config.id.clone(),
            model: request.model.clone(),
            key: self.config.api_key.clone(),
        };
        let mut skip = TrimmedWhitespace::new(trimmed);
        let stream = timed.filter_map(move |item| {
            let item = match item {
                Ok(event) => skip.event(event).map(Ok),
                Err(e) => Some(Err(labeller.label(e))),
            };
            std::future::ready(item)
        });
        Ok(Box::pin(stream))
    }

    async fn health_check(&self) -> Result<(), ProviderError> {
        let caller = self.caller("");
        let builder = self
            .request(&caller, reqwest::Method::GET, &self.models)?
            .timeout(self.config.timeout.min(Duration::from_secs(30)));
        caller.send(builder).await.map(drop)
    }

    /// Exact (a prefill of `partial`) where [`continues_exactly`](Self::continues_exactly);
    /// otherwise a best effort: `partial` as an assistant turn, then a user turn asking to
    /// continue without repeating ([`CONTINUE_PROMPT`]).
    ///
    /// Either way `max_tokens` (the request's, or
    /// [`default_max_tokens`](AnthropicConfig::default_max_tokens) when it sets none) is
    /// reduced by an estimate of the tokens in `partial`, as
    /// [`ChatRequest::continued_from`] documents, so the whole answer stays within it.
    fn continuation(&self, request: &ChatRequest, partial: &str) -> Option<ChatRequest> {
        if partial.is_empty() {
            return Some(request.clone());
        }
        let mut next = request.continued_from(partial);
        if request.max_tokens.is_none() {
            next.max_tokens = Some(remaining_max_tokens(
                self.config.default_max_tokens,
                partial,
            ));
        }
        if !self.continues_exactly(request) {
            next.messages.push(Message::user(CONTINUE_PROMPT));
        }
        Some(next)
    }
}
