//! `OllamaProvider`: the [`ChatProvider`] for Ollama's native `/api/chat`.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use steadfast_errors::{ErrorKind, Provider, ProviderError, Transport};
use steadfast_providers_core::http::{Caller, Endpoint, default_client, join_url};
use steadfast_providers_core::{
    ApiKey, Capabilities, ChatProvider, ChatRequest, ChatResponse, ChatStream, ModelInfo, Usage,
};
use steadfast_streaming::{DecodedStream, WireFormat, decode_response};

use crate::config::OllamaConfig;
use crate::wire;

/// The longest a health check waits, whatever the request timeout.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);

/// An Ollama server, spoken to through its native API.
///
/// Share it behind an `Arc` (a router holds `Arc<dyn ChatProvider>`); several providers can
/// share one connection pool through [`with_client`](Self::with_client).
#[derive(Debug)]
pub struct OllamaProvider {
    config: OllamaConfig,
    client: reqwest::Client,
    chat_url: Endpoint,
    tags_url: Endpoint,
}

impl OllamaProvider {
    /// A provider for `config`, with the shared default HTTP client settings.
    pub fn new(config: OllamaConfig) -> OllamaProvider {
        OllamaProvider::with_client(config, default_client())
    }

    /// A provider for `config` that sends through `client` (share one client between
    /// providers to share its connection pool).
    ///
    /// Build `client` with [`redirect_policy`](steadfast_providers_core::http::redirect_policy)
    /// (as [`default_client`](steadfast_providers_core::http::default_client) is): a client that
    /// follows a redirect to another origin sends the key there before the answer is refused.
    pub fn with_client(config: OllamaConfig, client: reqwest::Client) -> OllamaProvider {
        let chat_url = Endpoint::new(join_url(&config.base_url, "/api/chat"));
        let tags_url = Endpoint::new(join_url(&config.base_url, "/api/tags"));
        OllamaProvider {
            config,
            client,
            chat_url,
            tags_url,
        }
    }

    /// The configuration this provider was built with.
    pub fn config(&self) -> &OllamaConfig {
        &self.config
    }

    fn caller<'a>(&'a self, model: &'a str) -> Caller<'a> {
        Caller {
            kind: Provider::Ollama,
            id: &self.config.id,
            model,
            key: self.config.api_key.as_ref(),
        }
    }

    fn request(&self, method: reqwest::Method, url: &Endpoint) -> reqwest::RequestBuilder {
        let mut rb = url.request(&self.client, method);
        for (name, value) in &self.config.headers {
            rb = rb.header(name, value);
        }
        if let Some(key) = self.config.api_key.as_ref().filter(|k| !k.is_empty()) {
            rb = rb.bearer_auth(key.expose());
        }
        rb
    }

    fn post_chat(&self, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, &self.chat_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }
}

#[async_trait]
impl ChatProvider for OllamaProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        Provider::Ollama
    }

    fn base_url(&self) -> Option<&str> {
        Some(&self.config.base_url)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            streaming: true,
            tools: true,
            vision: true,
            prefill: self.config.assistant_prefill,
            json_mode: true,
            reasoning: true,
        }
    }

    fn models(&self) -> &[ModelInfo] {
        &self.config.models
    }

    /// The configured price when there is one; otherwise zero for a self-hosted server (no
    /// key configured: tokens cost nothing per call), and unknown (`None`) for Ollama cloud
    /// or a keyed proxy.
    fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        match self.pricing(model) {
            Some(pricing) => Some(pricing.cost(usage)),
            None if self.config.api_key.is_none() => Some(0.0),
            None => None,
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let caller = self.caller(&request.model);
        let body = wire::chat_body(request, false).map_err(|e| caller.label(e))?;
        let timeout = request.timeout.unwrap_or(self.config.timeout);
        tracing::debug!(
            provider = %self.config.id,
            model = %request.model,
            stream = false,
            "ollama chat request"
        );
        let response = caller
            .send(self.post_chat(&body).timeout(timeout))
            .await
            .map_err(|e| with_pull_hint(e, &request.model))?;
        let bytes = caller.body(response).await?;
        decode_response(WireFormat::OllamaNdjson, Provider::Ollama, &bytes)
            .map_err(|e| with_pull_hint(caller.label(e), &request.model))
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let caller = self.caller(&request.model);
        let body = wire::chat_body(request, true).map_err(|e| caller.label(e))?;
        let timeout = request.timeout.unwrap_or(self.config.timeout);
        tracing::debug!(
            provider = %self.config.id,
            model = %request.model,
            stream = true,
            "ollama chat request"
        );
        // The request timeout bounds the wait for the response headers only; the body is
        // governed by the stream timers (first byte, idle), so a long answer is not cut.
        let response = match tokio::time::timeout(timeout, caller.send(self.post_chat(&body))).await
        {
            Ok(sent) => sent.map_err(|e| with_pull_hint(e, &request.model))?,
            Err(_) => {
                return Err(caller.label(
                    ProviderError::new(
                        ErrorKind::Timeout,
                        Provider::Ollama.as_str(),
                        format!("no response headers within {timeout:?}"),
                    )
                    .with_transport(Transport::ReadTimeout),
                ));
            }
        };
        let format = WireFormat::for_provider(Provider::Ollama);
        let decoded = DecodedStream::new(
            caller.body_stream(response),
            format.decoder(Provider::Ollama),
        );
        let labeller = Labeller {
            id: self.config.id.clone(),
            model: request.model.clone(),
            key: self.config.api_key.clone(),
        };
        let stream = self
            .config
            .stream
            .wrap(self.config.id.clone(), decoded)
            .map(move |item| item.map_err(|e| labeller.label(e)));
        Ok(Box::pin(stream))
    }

    /// `GET /api/tags`: proves the server answers (and, with a key, that the key is
    /// accepted) without loading a model.
    async fn health_check(&self) -> Result<(), ProviderError> {
        let caller = self.caller("");
        let timeout = self.config.timeout.min(HEALTH_TIMEOUT);
        caller
            .send(
                self.request(reqwest::Method::GET, &self.tags_url)
                    .timeout(timeout),
            )
            .await
            .map(drop)
    }
}

/// Owned labelling data for errors raised inside a stream, after the request returned.
struct Labeller {
    id: String,
    model: String,
    key: Option<ApiKey>,
}

impl Labeller {
    fn label(&self, err: ProviderError) -> ProviderError {
        Caller {
            kind: Provider::Ollama,
            id: &self.id,
            model: &self.model,
            key: self.key.as_ref(),
        }
        .label(err)
    }
}

/// A model-not-found error always tells the user how to fix it: Ollama's own message says
/// "try pulling it first" on most paths, but not all (`model 'x' not found`), so the
/// `ollama pull` command is added where the hint is missing. Classification is untouched:
/// the error is rebuilt with every field of the classified one and a longer message.
pub(crate) fn with_pull_hint(err: ProviderError, model: &str) -> ProviderError {
    let lower = err.message().to_ascii_lowercase();
    let about_a_model = lower.contains("model") && lower.contains("not found");
    if err.kind() != ErrorKind::NotFound
        || model.is_empty()
        || !about_a_model
        || lower.contains("pull")
    {
        return err;
    }
    let message = format!("{}; run `ollama pull {model}`", err.message());
    let mut out = ProviderError::new(err.kind(), err.provider().to_owned(), message)
        .with_retryable(err.is_retryable())
        .with_owner(err.owner())
        .with_first_byte_received(err.first_byte_received());
    if let Some(m) = err.model() {
        out = out.with_model(m.to_owned());
    }
    if let Some(status) = err.status() {
        out = out.with_status(status);
    }
    if let Some(code) = err.code() {
        out = out.with_code(code);
    }
    if let Some(t) = err.error_type() {
        out = out.with_error_type(t);
    }
    if let Some(after) = err.retry_after() {
        out = out.with_retry_after(after);
    }
    if let Some(transport) = err.transport() {
        out = out.with_transport(transport);
    }
    if let Some(id) = err.request_id() {
        out = out.with_request_id(id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pull_hint_is_added_only_where_missing() {
        let bare = ProviderError::new(ErrorKind::NotFound, "ollama-a", "model 'llama3' not found")
            .with_status(404)
            .with_model("llama3");
        let hinted = with_pull_hint(bare, "llama3");
        assert_eq!(
            hinted.message(),
            "model 'llama3' not found; run `ollama pull llama3`"
        );
        assert_eq!(
            (
                hinted.kind(),
                hinted.status(),
                hinted.provider(),
                hinted.model()
            ),
            (ErrorKind::NotFound, Some(404), "ollama-a", Some("llama3"))
        );

        let native = ProviderError::new(
            ErrorKind::NotFound,
            "ollama",
            "model 'llama3' not found, try pulling it first",
        );
        let kept = with_pull_hint(native, "llama3");
        assert_eq!(
            kept.message(),
            "model 'llama3' not found, try pulling it first"
        );

        let other = ProviderError::new(ErrorKind::NotFound, "ollama", "404 page not found");
        assert_eq!(
            with_pull_hint(other, "llama3").message(),
            "404 page not found"
        );
        let server = ProviderError::new(ErrorKind::Server, "ollama", "model 'x' not found");
        assert_eq!(with_pull_hint(server, "x").kind(), ErrorKind::Server);
    }
}
