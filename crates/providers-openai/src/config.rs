//! `OpenAiConfig`: everything one OpenAI-compatible endpoint needs, with a preset per service.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_errors::Provider;
use steadfast_providers_core::http::DEFAULT_STREAM_TOTAL;
use steadfast_providers_core::secret::{HeaderNames, RedactedUrl};
use steadfast_providers_core::{ApiKey, Capabilities, ModelInfo};
use steadfast_streaming::Timeouts;

use crate::preset::Preset;

/// How the API key is sent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Bearer <key>` — every preset.
    #[default]
    Bearer,
    /// The bare key in a header of this name (e.g. Azure OpenAI's `api-key`).
    Header(String),
}

/// The call [`health_check`](steadfast_providers_core::ChatProvider::health_check) makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthCheck {
    /// `GET {base_url}/{path}` with the key: `models` (OpenAI, xAI, DeepSeek, Ollama,
    /// Pollinations), `key` (OpenRouter, whose model list is public and so proves nothing
    /// about the key).
    Get(String),
    /// llama.cpp server's `GET /health` at the server root (the base URL without a trailing
    /// `/v1`): `200 {"status":"ok"}` once the model is loaded, `503` while it loads.
    LlamaCppHealth,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck::Get("models".to_owned())
    }
}

/// The body field that carries [`ChatRequest::max_tokens`](steadfast_providers_core::ChatRequest::max_tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MaxTokensField {
    /// `max_tokens`: what every compatible server reads.
    #[default]
    MaxTokens,
    /// `max_completion_tokens`: OpenAI's current name; its reasoning models refuse
    /// `max_tokens`.
    MaxCompletionTokens,
}

impl MaxTokensField {
    /// The field name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        }
    }
}

/// The configuration of one OpenAI-compatible endpoint.
///
/// Start from a preset ([`openai`](Self::openai), [`openrouter`](Self::openrouter),
/// [`xai`](Self::xai), [`deepseek`](Self::deepseek), [`llamacpp_server`](Self::llamacpp_server),
/// [`ollama_v1`](Self::ollama_v1), [`pollinations`](Self::pollinations)) or from the
/// environment ([`from_env`](Self::from_env), [`preset_from_env`](Self::preset_from_env)), then
/// change the public fields. Presets never read the environment; `from_env` does.
///
/// In files (serde), durations are milliseconds or strings such as `"30s"`; the API key and
/// the extra [`headers`](Self::headers) are read but never written back, and a base URL is
/// written without its password or query values. Missing fields take the OpenAI preset's
/// values. `Debug` shows no secret either.
///
/// ```
/// use std::time::Duration;
/// use steadfast_providers_core::ApiKey;
/// use steadfast_providers_openai::OpenAiConfig;
///
/// let config = OpenAiConfig {
///     id: "openrouter-main".into(),
///     api_key: Some(ApiKey::new("sk-or-v1-example")),
///     app_title: Some("My App".into()),
///     timeout: Duration::from_secs(120),
///     ..OpenAiConfig::openrouter()
/// };
/// assert_eq!(config.base_url, "https://openrouter.ai/api/v1");
/// assert!(!format!("{config:?}").contains("sk-or-v1-example"));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenAiConfig {
    /// This instance's id, shown in every error (`openai`, `openrouter-eu`, …). Default: the
    /// preset's name.
    pub id: String,
    /// The wire dialect: selects the error table (`steadfast_errors::classify`) and the stream
    /// decoder. Default: the preset's.
    pub kind: Provider,
    /// The API root; requests go to `{base_url}/chat/completions`. `Debug` and serde show
    /// it without a password or query values
    /// ([`redact_url`](steadfast_providers_core::secret::redact_url)).
    #[serde(serialize_with = "steadfast_providers_core::secret::serialize_url")]
    pub base_url: String,
    /// The API key; `None` sends no auth header.
    #[serde(skip_serializing)]
    pub api_key: Option<ApiKey>,
    /// Whether a call without a key is refused locally (an `auth` error, no request sent).
    /// Default: true for the hosted services, false for llama.cpp, Ollama and Pollinations.
    pub require_key: bool,
    /// How the key is sent. Default: [`Auth::Bearer`].
    pub auth: Auth,
    /// Extra headers sent with every request. Their values may be secrets (a gateway's
    /// token): they are never logged, `Debug` shows only the names, and serde reads them
    /// from a file but never writes them back (like the key).
    #[serde(skip_serializing)]
    pub headers: BTreeMap<String, String>,
    /// Sent as `HTTP-Referer` when set: OpenRouter's app attribution (its URL).
    pub app_url: Option<String>,
    /// Sent as `X-Title` when set: OpenRouter's app attribution (its name).
    pub app_title: Option<String>,
    /// The per-request timeout, overridden by `ChatRequest::timeout`. For a non-streamed call
    /// it bounds the whole call (connect to last body byte); for a stream it bounds the wait
    /// for the response headers, and [`stream_timeouts`](Self::stream_timeouts) take over
    /// from there. Default: 600 s (as openai-python).
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// Timers of a streamed answer once its headers arrived. Default: first byte 120 s, idle
    /// 60 s, total [`DEFAULT_STREAM_TOTAL`] (30 minutes).
    pub stream_timeouts: Timeouts,
    /// Whether streams ask for a final usage chunk
    /// (`"stream_options": {"include_usage": true}`). Default: true; turn it off for a
    /// server that refuses `stream_options`.
    pub stream_usage: bool,
    /// The body field for the token limit. Default: `max_completion_tokens` for OpenAI,
    /// `max_tokens` for the others.
    pub max_tokens_field: MaxTokensField,
    /// Where a *prefix completion* goes: when set, a request whose last message is an
    /// assistant message (without tool calls) is sent to `{prefix_base_url}/chat/completions`
    /// with `"prefix": true` on that message, and the model continues it exactly. Default:
    /// [`DEEPSEEK_PREFIX_BASE_URL`] for DeepSeek (its beta "chat prefix completion"), `None`
    /// elsewhere. The DeepSeek default follows a changed `base_url` (`{base_url}/beta`, see
    /// [`prefix_url`](Self::prefix_url)); any other value is used as set.
    pub prefix_base_url: Option<String>,
    /// The call `health_check` makes. Default: the preset's (see [`HealthCheck`]).
    pub health: HealthCheck,
    /// What the endpoint can do, as the router sees it. Default: the preset's.
    pub capabilities: Capabilities,
    /// Models with context windows and prices (empty: whatever the request names).
    pub models: Vec<ModelInfo>,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("base_url", &RedactedUrl(&self.base_url))
            .field("api_key", &self.api_key)
            .field("require_key", &self.require_key)
            .field("auth", &self.auth)
            .field("headers", &HeaderNames(&self.headers))
            .field("app_url", &self.app_url)
            .field("app_title", &self.app_title)
            .field("timeout", &self.timeout)
            .field("stream_timeouts", &self.stream_timeouts)
            .field("stream_usage", &self.stream_usage)
            .field("max_tokens_field", &self.max_tokens_field)
            .field(
                "prefix_base_url",
                &self.prefix_base_url.as_deref().map(RedactedUrl),
            )
            .field("health", &self.health)
            .field("capabilities", &self.capabilities)
            .field("models", &self.models)
            .finish()
    }
}

impl Default for OpenAiConfig {
    /// The [`openai`](Self::openai) preset.
    fn default() -> Self {
        OpenAiConfig::openai()
    }
}

/// DeepSeek's documented API root.
const DEEPSEEK_BASE_URL: &str = "https://api.deepseek.com";

/// The DeepSeek preset's [`OpenAiConfig::prefix_base_url`]: its beta "chat prefix completion"
/// root. While a config holds this value, [`OpenAiConfig::prefix_url`] derives the prefix
/// root from the base URL instead, so overriding only `base_url` moves both.
pub const DEEPSEEK_PREFIX_BASE_URL: &str = "https://api.deepseek.com/beta";

/// The defaults every preset shares.
pub(crate) fn base(preset: Preset, base_url: &str) -> OpenAiConfig {
    OpenAiConfig {
        id: preset.as_str().to_owned(),
        kind: preset.kind(),
        base_url: base_url.to_owned(),
        api_key: None,
        require_key: true,
        auth: Auth::Bearer,
        headers: BTreeMap::new(),
        app_url: None,
        app_title: None,
        timeout: Duration::from_secs(600),
        stream_timeouts: Timeouts {
            first_byte: Some(Duration::from_secs(120)),
            idle: Some(Duration::from_secs(60)),
            total: Some(DEFAULT_STREAM_TOTAL),
            keep_alive_resets_idle: false,
        },
        stream_usage: true,
        max_tokens_field: MaxTokensField::MaxTokens,
        prefix_base_url: None,
        health: HealthCheck::default(),
        capabilities: Capabilities {
            streaming: true,
            tools: true,
            vision: true,
            prefill: false,
            json_mode: true,
            reasoning: false,
        },
        models: Vec::new(),
    }
}

impl OpenAiConfig {
    /// The root of the prefix-completion endpoint, if this endpoint has one: the
    /// [`prefix_base_url`](Self::prefix_base_url) as set, except that the DeepSeek preset's
    /// value ([`DEEPSEEK_PREFIX_BASE_URL`]) follows a changed [`base_url`](Self::base_url) —
    /// it becomes `{base_url}/beta` (a trailing `/v1` replaced), so a DeepSeek behind a proxy
    /// resumes through the proxy too.
    ///
    /// ```
    /// use steadfast_providers_openai::OpenAiConfig;
    ///
    /// let proxied = OpenAiConfig { base_url: "https://gw.internal/deepseek".into(), ..OpenAiConfig::deepseek() };
    /// assert_eq!(proxied.prefix_url().as_deref(), Some("https://gw.internal/deepseek/beta"));
    /// assert_eq!(OpenAiConfig::deepseek().prefix_url().as_deref(), Some("https://api.deepseek.com/beta"));
    /// ```
    pub fn prefix_url(&self) -> Option<String> {
        let set = self.prefix_base_url.as_deref()?;
        let base = self.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        if set != DEEPSEEK_PREFIX_BASE_URL || base == DEEPSEEK_BASE_URL {
            return Some(set.to_owned());
        }
        Some(format!("{base}/beta"))
    }

    /// OpenAI: `https://api.openai.com/v1`, `Authorization: Bearer`, key required,
    /// `max_completion_tokens`, health `GET /models`. No prefill (see the crate docs on
    /// resume).
    pub fn openai() -> OpenAiConfig {
        OpenAiConfig {
            max_tokens_field: MaxTokensField::MaxCompletionTokens,
            ..base(Preset::OpenAi, "https://api.openai.com/v1")
        }
    }

    /// OpenRouter: `https://openrouter.ai/api/v1`, `Authorization: Bearer`, key required,
    /// optional `HTTP-Referer` / `X-Title` from [`app_url`](Self::app_url) /
    /// [`app_title`](Self::app_title), health `GET /key` (the model list is public).
    pub fn openrouter() -> OpenAiConfig {
        let mut c = base(Preset::OpenRouter, "https://openrouter.ai/api/v1");
        c.health = HealthCheck::Get("key".to_owned());
        c.capabilities.reasoning = true;
        c
    }

    /// xAI (Grok): `https://api.x.ai/v1`, `Authorization: Bearer`, key required, health
    /// `GET /models`; reasoning arrives in `reasoning_content`.
    pub fn xai() -> OpenAiConfig {
        let mut c = base(Preset::Xai, "https://api.x.ai/v1");
        c.capabilities.reasoning = true;
        c
    }

    /// DeepSeek: `https://api.deepseek.com` (the documented base; `/v1` is accepted for
    /// compatibility), `Authorization: Bearer`, key required, health `GET /models`, no
    /// images. Prefix completion through `https://api.deepseek.com/beta` makes resume exact.
    /// While a request waits for capacity DeepSeek sends only `: keep-alive` comments, so here
    /// keep-alives reset the idle timer (a total stream deadline of 30 minutes still bounds
    /// the wait).
    pub fn deepseek() -> OpenAiConfig {
        let mut c = base(Preset::DeepSeek, DEEPSEEK_BASE_URL);
        c.stream_timeouts.keep_alive_resets_idle = true;
        c.prefix_base_url = Some(DEEPSEEK_PREFIX_BASE_URL.to_owned());
        c.capabilities.vision = false;
        c.capabilities.reasoning = true;
        c.capabilities.prefill = true;
        c
    }

    /// llama.cpp server: `http://127.0.0.1:8080/v1`, optional `Authorization: Bearer` (the
    /// server's `--api-key`), health `GET /health` at the server root. The server continues a
    /// trailing assistant message by default, so `prefill` is set.
    pub fn llamacpp_server() -> OpenAiConfig {
        let mut c = base(Preset::LlamaCppServer, "http://127.0.0.1:8080/v1");
        c.require_key = false;
        c.health = HealthCheck::LlamaCppHealth;
        c.capabilities.reasoning = true;
        c.capabilities.prefill = true;
        c
    }

    /// Ollama's OpenAI-compatible API: `http://127.0.0.1:11434/v1`, no key, health
    /// `GET /v1/models`. ([`preset_from_env`](Self::preset_from_env) reads `OLLAMA_HOST`.)
    pub fn ollama_v1() -> OpenAiConfig {
        let mut c = base(Preset::OllamaV1, "http://127.0.0.1:11434/v1");
        c.require_key = false;
        c.capabilities.reasoning = true;
        c
    }

    /// Pollinations: `https://gen.pollinations.ai/v1` (the current gateway; the legacy
    /// `https://text.pollinations.ai/openai` is in maintenance mode), optional
    /// `Authorization: Bearer`, health `GET /models`.
    pub fn pollinations() -> OpenAiConfig {
        let mut c = base(Preset::Pollinations, "https://gen.pollinations.ai/v1");
        c.require_key = false;
        c
    }

    /// The configuration of `preset`, without reading the environment.
    pub fn preset(preset: Preset) -> OpenAiConfig {
        match preset {
            Preset::OpenAi => OpenAiConfig::openai(),
            Preset::OpenRouter => OpenAiConfig::openrouter(),
            Preset::Xai => OpenAiConfig::xai(),
            Preset::DeepSeek => OpenAiConfig::deepseek(),
            Preset::LlamaCppServer => OpenAiConfig::llamacpp_server(),
            Preset::OllamaV1 => OpenAiConfig::ollama_v1(),
            Preset::Pollinations => OpenAiConfig::pollinations(),
        }
    }

    /// The OpenAI preset with `OPENAI_API_KEY` (and `OPENAI_BASE_URL`, when set) from the
    /// environment.
    pub fn from_env() -> OpenAiConfig {
        OpenAiConfig::preset_from_env(Preset::OpenAi)
    }

    /// `preset` with its key (and base URL where the service has a convention) from the
    /// environment; see [`Preset::api_key_vars`] and [`Preset::base_url_var`]. Values are never
    /// logged.
    pub fn preset_from_env(preset: Preset) -> OpenAiConfig {
        OpenAiConfig::preset_from_lookup(preset, |name| std::env::var(name).ok())
    }

    /// As [`preset_from_env`](Self::preset_from_env), reading variables through `lookup`
    /// (for tests and for configuration systems other than the process environment).
    ///
    /// ```
    /// use steadfast_providers_openai::{OpenAiConfig, Preset};
    ///
    /// let env = |name: &str| match name {
    ///     "GROK_API_KEY" => Some("xai-from-grok-var".to_owned()),
    ///     _ => None,
    /// };
    /// let xai = OpenAiConfig::preset_from_lookup(Preset::Xai, env);
    /// assert_eq!(xai.api_key.unwrap().expose(), "xai-from-grok-var");
    ///
    /// let ollama = OpenAiConfig::preset_from_lookup(Preset::OllamaV1, |name| {
    ///     (name == "OLLAMA_HOST").then(|| "gpu-box:11500".to_owned())
    /// });
    /// assert_eq!(ollama.base_url, "http://gpu-box:11500/v1");
    /// ```
    pub fn preset_from_lookup(
        preset: Preset,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> OpenAiConfig {
        let mut config = OpenAiConfig::preset(preset);
        config.api_key = preset
            .api_key_vars()
            .iter()
            .filter_map(|name| lookup(name))
            .map(|v| v.trim().to_owned())
            .find(|v| !v.is_empty())
            .map(ApiKey::new);
        if let Some(var) = preset.base_url_var()
            && let Some(value) = lookup(var).map(|v| v.trim().to_owned())
            && !value.is_empty()
        {
            config.base_url = match preset {
                Preset::OllamaV1 => format!("{}/v1", crate::preset::ollama_host_url(&value)),
                _ => value.trim_end_matches('/').to_owned(),
            };
        }
        config
    }
}
