//! `GeminiProvider`: `ChatProvider` over `generateContent` / `streamGenerateContent`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
use steadfast_errors::{ErrorKind, Provider, ProviderError, Transport, classify};
use steadfast_providers_core::http::{Caller, default_client, join_url};
use steadfast_providers_core::resume::CONTINUE_PROMPT;
use steadfast_providers_core::{
    Capabilities, ChatProvider, ChatRequest, ChatResponse, ChatStream, Message, ModelInfo, Usage,
};
use steadfast_streaming::{DecodedStream, WireFormat, decode_response};

use crate::config::GeminiConfig;
use crate::resume::{ContinueStyle, accepts_model_turn};
use crate::wire;

const KIND: Provider = Provider::Gemini;

/// The Gemini API as a [`ChatProvider`].
///
/// Cheap to clone (the config and the HTTP client are shared). Every error it returns is
/// classified by `steadfast-errors`, names this instance's [`GeminiConfig::id`] and the model, and
/// never contains the API key — which travels only in the `x-goog-api-key` header, never in
/// a URL, so that no proxy log, redirect or error message can echo it.
///
/// The request body, from a [`ChatRequest`]:
/// - `contents` with roles `user` / `model` (consecutive turns of one role merged, empty
///   text dropped); system text (`ChatRequest::system`, then any `system` messages) becomes
///   `systemInstruction`;
/// - assistant tool calls become `functionCall` parts (`args` parsed from the arguments; the
///   first of each turn carries
///   [`GeminiConfig::thought_signature_placeholder`]); tool results become `functionResponse`
///   parts named after the call they answer (`response` is the result's JSON object, or
///   `{"result": …}`);
/// - images become `inlineData` (from `data:…;base64,` URLs) or `fileData` (other URLs);
/// - `generationConfig`: `temperature`, `topP`, `maxOutputTokens`, `stopSequences`, and from
///   `response_format` `responseMimeType` plus `responseJsonSchema` (or Gemini's own keys as
///   given); tools as `functionDeclarations` (`parametersJsonSchema`), `tool_choice` as
///   `toolConfig.functionCallingConfig`; `extra` merged last, objects one level deep.
///
/// The calls:
/// - `chat`: `POST {base_url}/v1beta/models/{model}:generateContent`;
/// - `chat_stream`: `POST …:streamGenerateContent?alt=sse`, decoded by the shared `gemini`
///   decoder (no `[DONE]`: a `finishReason` completes the stream; a raw JSON error appended
///   after the events classifies like its status) and wrapped in the stream timers;
/// - `health_check`: `GET {base_url}/v1beta/models?pageSize=1` — authenticated, free (at
///   most 30 s, or the configured timeout when shorter);
/// - safety: a blocked prompt (`promptFeedback.blockReason`, HTTP 200) is a `content_filter`
///   error; a `SAFETY` (or `PROHIBITED_CONTENT`, `BLOCKLIST`, `SPII`, `RECITATION`) finish
///   ends the answer with `FinishReason::ContentFilter`, keeping the text before it;
/// - `continuation`: best effort, never exact (see [`resume`](crate::resume));
/// - `cost`: [`Pricing::cost`](steadfast_providers_core::Pricing::cost), since Gemini's
///   `promptTokenCount` includes cached tokens.
#[derive(Debug, Clone)]
pub struct GeminiProvider {
    config: Arc<GeminiConfig>,
    client: reqwest::Client,
}

impl GeminiProvider {
    /// A provider with its own pooled client ([`default_client`]).
    pub fn new(config: GeminiConfig) -> GeminiProvider {
        GeminiProvider::with_client(config, default_client())
    }

    /// A provider sharing `client` (and its connection pool) with others.
    ///
    /// Build `client` with [`redirect_policy`](steadfast_providers_core::http::redirect_policy)
    /// (as [`default_client`](steadfast_providers_core::http::default_client) is): a client that
    /// follows a redirect to another origin sends the key there before the answer is refused.
    pub fn with_client(config: GeminiConfig, client: reqwest::Client) -> GeminiProvider {
        GeminiProvider {
            config: Arc::new(config),
            client,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &GeminiConfig {
        &self.config
    }

    /// Whether [`continuation`](ChatProvider::continuation) of `request` ends with a `model`
    /// turn (rather than a user turn asking to continue).
    pub fn continues_in_model_turn(&self, request: &ChatRequest) -> bool {
        match self.config.continue_style {
            ContinueStyle::ModelTurn => true,
            ContinueStyle::UserTurn => false,
            _ => accepts_model_turn(&request.model),
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

    fn url(&self, path: &str) -> String {
        join_url(
            &self.config.base_url,
            &format!("{}/{}", self.config.api_version.trim_matches('/'), path),
        )
    }

    fn request(
        &self,
        caller: &Caller<'_>,
        method: reqwest::Method,
        url: String,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let mut builder = self.client.request(method, url);
        for (name, value) in &self.config.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(key) = &self.config.api_key {
            builder = builder.header("x-goog-api-key", caller.key_header(key)?);
        }
        Ok(builder)
    }

    async fn send(
        &self,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        let caller = self.caller(&request.model);
        let invalid = |message: String| {
            caller.label(ProviderError::new(
                ErrorKind::InvalidRequest,
                KIND.as_str(),
                message,
            ))
        };
        let model = wire::model_path(&request.model).map_err(invalid)?;
        let body = wire::build(request, &self.config).map_err(invalid)?;
        let body = serde_json::to_vec(&body)
            .map_err(|e| invalid(format!("the request could not be serialized: {e}")))?;
        let url = if stream {
            self.url(&format!("{model}:streamGenerateContent?alt=sse"))
        } else {
            self.url(&format!("{model}:generateContent"))
        };
        let timeout = request.timeout.unwrap_or(self.config.timeout);
        let builder = self
            .request(&caller, reqwest::Method::POST, url)?
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        tracing::debug!(
            provider = %self.config.id,
            model = %request.model,
            stream,
            "sending a gemini generateContent request"
        );
        if stream {
            // The body is governed by the stream timers; only the headers wait `timeout`.
            match tokio::time::timeout(timeout, caller.send(builder)).await {
                Ok(result) => result,
                Err(_) => Err(caller.label(classify::transport(KIND, Transport::ReadTimeout))),
            }
        } else {
            caller.send(builder.timeout(timeout)).await
        }
    }
}

#[async_trait]
impl ChatProvider for GeminiProvider {
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
            prefill: false,
            json_mode: true,
            reasoning: true,
        }
    }

    fn models(&self) -> &[ModelInfo] {
        &self.config.models
    }

    fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.pricing(model).map(|p| p.cost(usage))
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let response = self.send(request, false).await?;
        let caller = self.caller(&request.model);
        let body = caller.body(response).await?;
        decode_response(WireFormat::Gemini, KIND, &body).map_err(|e| caller.label(e))
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let response = self.send(request, true).await?;
        let caller = self.caller(&request.model);
        let decoder = WireFormat::Gemini.decoder(KIND);
        let events = DecodedStream::new(caller.body_stream(response), decoder);
        let timed = self.config.stream.wrap(self.config.id.clone(), events);
        let (id, model, key) = (
            self.config.id.clone(),
            request.model.clone(),
            self.config.api_key.clone(),
        );
        let stream = timed.map(move |item| {
            item.map_err(|e| {
                Caller {
                    kind: KIND,
                    id: &id,
                    model: &model,
                    key: key.as_ref(),
                }
                .label(e)
            })
        });
        Ok(Box::pin(stream))
    }

    async fn health_check(&self) -> Result<(), ProviderError> {
        let caller = self.caller("");
        let builder = self
            .request(&caller, reqwest::Method::GET, self.url("models?pageSize=1"))?
            .timeout(self.config.timeout.min(Duration::from_secs(30)));
        caller.send(builder).await.map(drop)
    }

    /// Best effort: `partial` as a trailing `model` turn where
    /// [`continues_in_model_turn`](Self::continues_in_model_turn), otherwise followed by a user
    /// turn asking to continue ([`CONTINUE_PROMPT`]). Gemini may restate a few words, so the
    /// resume layer keeps overlap detection on.
    fn continuation(&self, request: &ChatRequest, partial: &str) -> Option<ChatRequest> {
        if partial.is_empty() {
            return Some(request.clone());
        }
        let mut next = request.continued_from(partial);
        if !self.continues_in_model_turn(request) {
            next.messages.push(Message::user(CONTINUE_PROMPT));
        }
        Some(next)
    }
}
