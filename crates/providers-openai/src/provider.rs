//! `OpenAiProvider`: `ChatProvider` over `POST {base}/chat/completions`, whole or streamed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use steadfast_errors::{ErrorKind, Owner, Provider, ProviderError};
use steadfast_providers_core::http::{Caller, Endpoint, default_client, join_url};
use steadfast_providers_core::{
    ApiKey, Capabilities, ChatProvider, ChatRequest, ChatResponse, ChatStream, ModelInfo,
    StreamEvent, ToolCallDelta, Usage,
};
use steadfast_streaming::{DecodedStream, Item, WireFormat, decode_response};

use crate::config::{Auth, HealthCheck, OpenAiConfig};
use crate::wire::{self, BodyOptions};

/// The longest a [`health_check`](ChatProvider::health_check) waits, whatever
/// [`OpenAiConfig::timeout`] says.
pub const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// A chat provider for OpenAI or any OpenAI-compatible endpoint, configured by an
/// [`OpenAiConfig`] (usually one of its presets).
///
/// Cheap to clone: the configuration is shared and the `reqwest::Client` is a handle to one
/// connection pool. See the [crate docs](crate) for what each preset does on the wire.
#[derive(Clone)]
pub struct OpenAiProvider {
    config: Arc<OpenAiConfig>,
    headers: HeaderMap,
    /// `{base}/chat/completions`, built once.
    chat: Endpoint,
    /// The same under the prefix-completion base, when the configuration has one.
    prefix_chat: Option<Endpoint>,
    client: reqwest::Client,
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The header map is left out: it holds the key (marked sensitive, but still).
        f.debug_struct("OpenAiProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// A provider with its own client ([`default_client`]).
    pub fn new(config: OpenAiConfig) -> OpenAiProvider {
        OpenAiProvider::with_client(config, default_client())
    }

    /// A provider sharing `client` (and its connection pool) with others.
    ///
    /// Build `client` with [`redirect_policy`](steadfast_providers_core::http::redirect_policy)
    /// (as [`default_client`](steadfast_providers_core::http::default_client) is): a client that
    /// follows a redirect to another origin sends the key there before the answer is refused.
    ///
    /// Headers that are not valid HTTP (a key or a configured header with a line break) are
    /// left out with a warning naming the header, never its value.
    pub fn with_client(config: OpenAiConfig, client: reqwest::Client) -> OpenAiProvider {
        let headers = build_headers(&config);
        let chat = Endpoint::new(join_url(&config.base_url, "chat/completions"));
        let prefix_chat = config
            .prefix_url()
            .map(|base| Endpoint::new(join_url(&base, "chat/completions")));
        OpenAiProvider {
            config: Arc::new(config),
            headers,
            chat,
            prefix_chat,
            client,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    fn caller<'a>(&'a self, model: &'a str) -> Caller<'a> {
        Caller {
            kind: self.config.kind,
            id: &self.config.id,
            model,
            key: self.config.api_key.as_ref(),
        }
    }

    /// Refuses locally when a key is required and missing.
    fn check_key(&self, caller: &Caller<'_>) -> Result<(), ProviderError> {
        let missing = self.config.api_key.as_ref().is_none_or(ApiKey::is_empty);
        if self.config.require_key && missing {
            return Err(caller.label(
                ProviderError::new(
                    ErrorKind::Auth,
                    self.config.kind.as_str(),
                    "no API key configured for this provider",
                )
                .with_owner(Owner::Local),
            ));
        }
        Ok(())
    }

    /// The chat URL for `request`, and whether it is a prefix completion.
    fn chat_url(&self, request: &ChatRequest) -> (&Endpoint, bool) {
        match &self.prefix_chat {
            Some(prefix) if wire::ends_with_assistant_text(request) => (prefix, true),
            _ => (&self.chat, false),
        }
    }

    /// The POST of `request`, and the timeout that applies to it.
    fn post(&self, request: &ChatRequest, stream: bool) -> (reqwest::RequestBuilder, Duration) {
        let (url, prefix) = self.chat_url(request);
        let body = wire::body_bytes(
            request,
            BodyOptions {
                max_tokens_field: self.config.max_tokens_field,
                stream,
                stream_usage: self.config.stream_usage,
                prefix,
            },
        );
        let timeout = request.timeout.unwrap_or(self.config.timeout);
        tracing::debug!(
            provider = %self.config.id,
            model = %request.model,
            stream,
            prefix,
            messages = request.messages.len(),
            "sending chat completion request"
        );
        let mut builder = url.post(&self.client).headers(self.headers.clone());
        // As `RequestBuilder::json` would: a configured content type is kept.
        if !self.headers.contains_key(CONTENT_TYPE) {
            builder = builder.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        (builder.body(body), timeout)
    }

    fn health_url(&self) -> String {
        match &self.config.health {
            HealthCheck::Get(path) => join_url(&self.config.base_url, path),
            HealthCheck::LlamaCppHealth => {
                let base = self.config.base_url.trim_end_matches('/');
                let root = base.strip_suffix("/v1").unwrap_or(base);
                join_url(root, "health")
            }
        }
    }
}

fn build_headers(config: &OpenAiConfig) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut put = |name: &str, value: &str, sensitive: bool| {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            tracing::warn!(provider = %config.id, header = name, "invalid header name left out");
            return;
        };
        match HeaderValue::from_str(value) {
            Ok(mut v) => {
                v.set_sensitive(sensitive);
                headers.insert(name, v);
            }
            Err(_) => {
                tracing::warn!(provider = %config.id, header = %name, "invalid header value left out");
            }
        }
    };
    for (name, value) in &config.headers {
        put(name, value, false);
    }
    if let Some(url) = &config.app_url {
        put("HTTP-Referer", url, false);
    }
    if let Some(title) = &config.app_title {
        put("X-Title", title, false);
    }
    if let Some(key) = config.api_key.as_ref().filter(|k| !k.is_empty()) {
        match &config.auth {
            Auth::Bearer => put(
                AUTHORIZATION.as_str(),
                &format!("Bearer {}", key.expose()),
                true,
            ),
            Auth::Header(name) => put(name, key.expose(), true),
        }
    }
    headers
}

/// What a stream needs to label its errors after the call returned.
struct Label {
    kind: Provider,
    id: String,
    model: String,
    key: Option<ApiKey>,
}

impl Label {
    fn of(caller: &Caller<'_>) -> Label {
        Label {
            kind: caller.kind,
            id: caller.id.to_owned(),
            model: caller.model.to_owned(),
            key: caller.key.cloned(),
        }
    }

    fn apply(&self, err: ProviderError) -> ProviderError {
        Caller {
            kind: self.kind,
            id: &self.id,
            model: &self.model,
            key: self.key.as_ref(),
        }
        .label(err)
    }
}

/// A whole answer as the events a stream of it would have carried.
fn response_events(r: ChatResponse) -> Vec<Item> {
    let mut out = vec![Ok(StreamEvent::Start {
        id: r.id,
        model: r.model,
    })];
    if !r.reasoning.is_empty() {
        out.push(Ok(StreamEvent::ReasoningDelta { text: r.reasoning }));
    }
    if !r.text.is_empty() {
        out.push(Ok(StreamEvent::TextDelta { text: r.text }));
    }
    if !r.refusal.is_empty() {
        out.push(Ok(StreamEvent::RefusalDelta { text: r.refusal }));
    }
    for (i, tc) in r.tool_calls.into_iter().enumerate() {
        out.push(Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            id: Some(tc.id),
            name: Some(tc.name),
            arguments: tc.arguments,
        })));
    }
    if let Some(usage) = r.usage {
        out.push(Ok(StreamEvent::Usage(usage)));
    }
    if let Some(reason) = r.finish_reason {
        let raw = r.finish_raw.unwrap_or_else(|| reason.as_str().to_owned());
        out.push(Ok(StreamEvent::Finish { reason, raw }));
    }
    out.push(Ok(StreamEvent::Done));
    out
}

fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"))
}

#[async_trait]
impl ChatProvider for OpenAiProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        self.config.kind
    }

    fn base_url(&self) -> Option<&str> {
        Some(&self.config.base_url)
    }

    fn capabilities(&self) -> Capabilities {
        self.config.capabilities
    }

    fn models(&self) -> &[ModelInfo] {
        &self.config.models
    }

    /// OpenAI semantics: `prompt_tokens` include cached tokens, which are priced at the
    /// cache-read rate ([`Pricing::cost`](steadfast_providers_core::Pricing::cost)).
    fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.pricing(model).map(|p| p.cost(usage))
    }

    /// `POST {base}/chat/completions`, the whole call bounded by the request's timeout (or
    /// [`OpenAiConfig::timeout`]). Blank lines before the JSON (DeepSeek under load) are
    /// skipped; an error object inside a 200 (OpenRouter) classifies like its status.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let caller = self.caller(&request.model);
        self.check_key(&caller)?;
        let (builder, timeout) = self.post(request, false);
        let response = caller.send(builder.timeout(timeout)).await?;
        let body = caller.body(response).await?;
        decode_response(WireFormat::OpenAiChat, self.config.kind, &body)
            .map_err(|e| caller.label(e))
    }

    /// `POST {base}/chat/completions` with `"stream": true`. The wait for the response
    /// headers is bounded by the request's timeout (or [`OpenAiConfig::timeout`]); after it,
    /// [`OpenAiConfig::stream_timeouts`] (first byte, idle, total) apply. A server that
    /// answers a stream request with a whole JSON body is accepted and replayed as events;
    /// reading that body is bounded by the request's timeout again.
    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let caller = self.caller(&request.model);
        self.check_key(&caller)?;
        let (builder, timeout) = self.post(request, true);
        let response = match tokio::time::timeout(timeout, caller.send(builder)).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(caller.label(ProviderError::new(
                    ErrorKind::Timeout,
                    self.config.kind.as_str(),
                    format!("no response headers within {timeout:?}"),
                )));
            }
        };
        let label = Label::of(&caller);
        if is_json(&response) {
            // No stream timer covers a whole body: the request's timeout bounds its read.
            let body = caller.body_within(response, timeout).await?;
            let whole = decode_response(WireFormat::OpenAiChat, self.config.kind, &body)
                .map_err(|e| caller.label(e))?;
            return Ok(Box::pin(futures_util::stream::iter(response_events(whole))));
        }
        let decoded = DecodedStream::new(
            caller.body_stream(response),
            WireFormat::OpenAiChat.decoder(self.config.kind),
        );
        let timed = self
            .config
            .stream_timeouts
            .wrap(self.config.id.clone(), decoded);
        Ok(Box::pin(
            timed.map(move |item| item.map_err(|e| label.apply(e))),
        ))
    }

    /// The call named by [`OpenAiConfig::health`], with the key, bounded by the smaller of
    /// [`OpenAiConfig::timeout`] and [`HEALTH_CHECK_TIMEOUT`]; any 2xx is healthy.
    async fn health_check(&self) -> Result<(), ProviderError> {
        let caller = self.caller("");
        self.check_key(&caller)?;
        let timeout = self.config.timeout.min(HEALTH_CHECK_TIMEOUT);
        let builder = self
            .client
            .get(self.health_url())
            .headers(self.headers.clone())
            .timeout(timeout);
        let response = caller.send(builder).await?;
        caller.body(response).await?;
        Ok(())
    }

    /// The request that continues `partial`: `partial` as a trailing assistant message.
    ///
    /// - DeepSeek (any config with [`OpenAiConfig::prefix_base_url`]): **exact** — sent as a
    ///   beta prefix completion (`"prefix": true`), which the model continues.
    /// - llama.cpp server: **exact** on servers that prefill a trailing assistant message
    ///   (the default since 2025; not with `--no-prefill-assistant`, and refused with a 400
    ///   while thinking is enabled); best effort otherwise.
    /// - OpenAI, OpenRouter, xAI, Ollama `/v1`, Pollinations: **best effort** — these APIs
    ///   answer a trailing assistant message with a new message, which may repeat or rephrase
    ///   the end of `partial`; `steadfast_streaming::ResumableStream` drops a repeated tail
    ///   but cannot undo a rephrasing.
    ///
    /// An empty `partial` gives the request unchanged (nothing to continue).
    fn continuation(&self, request: &ChatRequest, partial: &str) -> Option<ChatRequest> {
        if partial.is_empty() {
            return Some(request.clone());
        }
        Some(request.continued_from(partial))
    }
}
