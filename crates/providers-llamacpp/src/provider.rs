//! `LlamaCppProvider`: the [`ChatProvider`] that runs a llama.cpp binary per request.

use std::path::Path;

use async_trait::async_trait;
use futures_util::StreamExt;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::{
    Capabilities, ChatProvider, ChatRequest, ChatResponse, ChatStream, ContentPart, ModelInfo,
    ToolChoice, Usage,
};
use steadfast_streaming::StreamState;

use crate::config::LlamaCppConfig;
use crate::error;
use crate::process::{self, Job, Label, PromptFile};

/// A local llama.cpp binary and model, run once per request.
///
/// Each call renders the conversation (see [`PromptTemplate`](crate::PromptTemplate)),
/// starts the binary in completion mode with the prompt in a private temporary file, and
/// streams its stdout. The process is killed and reaped when the call times out, writes too
/// much, hits a stop sequence or is dropped.
#[derive(Debug)]
pub struct LlamaCppProvider {
    config: LlamaCppConfig,
}

impl LlamaCppProvider {
    /// A provider for `config`.
    pub fn new(config: LlamaCppConfig) -> LlamaCppProvider {
        LlamaCppProvider { config }
    }

    /// The configuration this provider was built with.
    pub fn config(&self) -> &LlamaCppConfig {
        &self.config
    }

    /// The name errors carry for `request`: its model, else the model file's name.
    fn label(&self, request: &ChatRequest) -> Label {
        let model = if request.model.is_empty() {
            self.config
                .model_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            request.model.clone()
        };
        Label {
            id: self.config.id.clone(),
            model,
        }
    }

    /// Checks the request and the model file, writes the prompt, and starts the process.
    fn run(&self, request: &ChatRequest) -> Result<process::Items, ProviderError> {
        let label = self.label(request);
        let refuse = |err: ProviderError| label.apply(err);
        let has_image = request
            .messages
            .iter()
            .flat_map(|m| &m.content)
            .any(|p| matches!(p, ContentPart::Image { .. }));
        if has_image {
            return Err(refuse(error::unsupported("images")));
        }
        let tools_off = matches!(request.tool_choice, Some(ToolChoice::None));
        if !request.tools.is_empty() && !tools_off {
            return Err(refuse(error::unsupported("tools")));
        }
        let model = &self.config.model_path;
        if !model.as_os_str().is_empty() && !model.is_file() {
            return Err(refuse(error::model_missing(model)));
        }

        let formatter = self.config.formatter();
        let prompt = formatter.render(request);
        let mut stops = formatter.stop_sequences();
        stops.extend(request.stop.iter().cloned());
        let prompt = PromptFile::write(&prompt).map_err(|e| {
            refuse(
                ProviderError::new(
                    ErrorKind::Server,
                    error::NAME,
                    format!("the prompt file could not be written: {e}"),
                )
                .with_source(e),
            )
        })?;
        let args = process::build_args(&self.config, request, prompt.path());
        tracing::debug!(
            provider = %label.id,
            model = %label.model,
            binary = %self.config.binary.display(),
            "llama.cpp run"
        );
        process::start(Job {
            binary: self.config.binary.clone(),
            args,
            prompt,
            timeout: request.timeout.unwrap_or(self.config.timeout),
            max_output_bytes: self.config.max_output_bytes,
            stops,
            max_tokens_set: request.max_tokens.is_some(),
            label,
        })
    }
}

#[async_trait]
impl ChatProvider for LlamaCppProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        Provider::LlamaCpp
    }

    /// Streaming, structured output (`--json-schema`) and exact prefill; no tools, no
    /// images (the completion binary takes text only).
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            streaming: true,
            tools: false,
            vision: false,
            prefill: true,
            json_mode: true,
            reasoning: false,
        }
    }

    fn models(&self) -> &[ModelInfo] {
        &self.config.models
    }

    /// A local run costs nothing per token unless prices are configured.
    fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        Some(self.pricing(model).map_or(0.0, |p| p.cost(usage)))
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let mut items = self.run(request)?;
        let mut state = StreamState::default();
        while let Some(item) = items.next().await {
            state.apply(&item?);
        }
        Ok(ChatResponse {
            id: None,
            model: state.model().map(str::to_owned),
            text: state.text().to_owned(),
            finish_reason: state.finish_reason(),
            finish_raw: state.finish_raw().map(str::to_owned),
            usage: state.usage(),
            ..ChatResponse::default()
        })
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let items = self.run(request)?;
        let label = self.label(request);
        let stream = self
            .config
            .stream
            .wrap(self.config.id.clone(), items)
            .map(move |item| item.map_err(|e| label.apply(e)));
        Ok(Box::pin(stream))
    }

    /// Runs `<binary> --version` (fast: no model is loaded), then checks that the model
    /// file exists.
    async fn health_check(&self) -> Result<(), ProviderError> {
        let label = Label {
            id: self.config.id.clone(),
            model: String::new(),
        };
        let version = process::version(&self.config.binary, self.config.health_timeout)
            .await
            .map_err(|e| label.apply(e))?;
        tracing::debug!(provider = %self.config.id, version = %version, "llama.cpp health check");
        let model: &Path = &self.config.model_path;
        if !model.as_os_str().is_empty() && !model.is_file() {
            return Err(label.apply(error::model_missing(model)));
        }
        Ok(())
    }
}
