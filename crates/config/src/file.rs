//! The file format as serde types: [`ConfigFile`] with its router defaults, deployments and
//! model groups. Parsing only; building providers is in `build`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_circuit::Config as BreakerConfig;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::Pricing;
use steadfast_providers_core::secret::{HeaderNames, redact_url};
use steadfast_providers_media::poll::PollConfig;
use steadfast_providers_mock::WhenExhausted;
use steadfast_retry::RetryConfig;
use steadfast_router::{Budget, StrategyKind};

use crate::gateway::GatewaySettings;
use crate::secret::KeyRef;

/// A whole config file: router-wide defaults, the deployments, and the model groups over them.
///
/// Every table may be left out. A file without `[groups]` has one implicit group named
/// `default` over every deployment that answers chat.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// Router-wide defaults.
    pub router: RouterDefaults,
    /// The deployments by name; the name is the provider id in errors, stats and `prefer`.
    pub deployments: BTreeMap<String, Deployment>,
    /// The model groups by name: the alias a caller names (`fast`, `gpt-4o-mini`).
    pub groups: BTreeMap<String, GroupConfig>,
    /// The HTTP gateway's settings (`steadfast serve`).
    pub gateway: GatewaySettings,
    /// State shared with other instances on Redis (see the `shared` module). Default none.
    pub shared: Option<crate::shared::SharedSection>,
}

/// Settings every group takes unless it sets its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterDefaults {
    /// The group used when a caller names none. Default: the only group, else `default`
    /// when it exists, else the first group by name.
    pub default_group: Option<String>,
    /// Whether a call may move on to another deployment (and to the group's fallback
    /// groups). Default true.
    pub fallback: bool,
    /// The time allowed for a whole call. Default none.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub deadline: Option<Duration>,
    /// Hedging delay: start a backup when the first deployment has not answered within it.
    /// Default none.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub hedge_after: Option<Duration>,
    /// The strategy of groups that set none. Default `priority`.
    pub strategy: StrategyKind,
    /// The seed of the random strategies. Default none (random).
    pub seed: Option<u64>,
    /// A spending limit for each group that sets none. Default none.
    pub budget: Option<Budget>,
    /// The retry policy of deployments that set none. Default: the retry crate's
    /// defaults (3 attempts, exponential backoff with jitter).
    pub retry: Option<RetryConfig>,
    /// The circuit breaker of deployments that set none. Default: the breaker's defaults.
    pub breaker: Option<BreakerConfig>,
}

impl Default for RouterDefaults {
    fn default() -> Self {
        RouterDefaults {
            default_group: None,
            fallback: true,
            deadline: None,
            hedge_after: None,
            strategy: StrategyKind::Priority,
            seed: None,
            budget: None,
            retry: None,
            breaker: None,
        }
    }
}

/// The kind of a deployment: which provider crate builds it, with which preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Kind {
    /// OpenAI (`OPENAI_API_KEY`).
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages API (`ANTHROPIC_API_KEY`).
    Anthropic,
    /// Google Gemini (`GEMINI_API_KEY`).
    Gemini,
    /// Ollama's native API (`OLLAMA_HOST`).
    Ollama,
    /// llama.cpp's `llama-server` over its OpenAI-compatible API.
    #[serde(rename = "llamacpp-server")]
    LlamaCppServer,
    /// llama.cpp as a local subprocess (`binary`, `model_path`).
    #[serde(rename = "llamacpp-cli")]
    LlamaCppCli,
    /// OpenRouter (`OPENROUTER_API_KEY`).
    #[serde(rename = "openrouter")]
    OpenRouter,
    /// xAI Grok chat (`XAI_API_KEY`).
    Xai,
    /// DeepSeek (`DEEPSEEK_API_KEY`).
    #[serde(rename = "deepseek")]
    DeepSeek,
    /// Pollinations text (`POLLINATIONS_API_TOKEN`, optional).
    Pollinations,
    /// Any OpenAI-compatible endpoint: `base_url` required, `auth_header` / `auth_scheme`.
    #[serde(rename = "openai-compatible")]
    OpenAiCompatible,
    /// Azure OpenAI: `base_url` is the resource endpoint, `azure_deployment` (default: the
    /// model) and `api_version`; the key goes in the `api-key` header.
    Azure,
    /// Runway video jobs (`RUNWAY_API_KEY`); not a chat deployment.
    Runway,
    /// xAI video jobs (`XAI_API_KEY`); not a chat deployment.
    XaiVideo,
    /// Images from OpenAI or any OpenAI-compatible `images/generations` (`OPENAI_API_KEY`);
    /// not a chat deployment.
    #[serde(rename = "openai-image")]
    OpenAiImage,
    /// xAI images (`XAI_API_KEY`); not a chat deployment.
    XaiImage,
    /// Pollinations images (`POLLINATIONS_API_TOKEN`, optional); not a chat deployment.
    PollinationsImage,
    /// A scripted in-process provider (`script`): no network, no key.
    Mock,
}

impl Kind {
    /// Every kind, in the order documented.
    pub const ALL: [Kind; 18] = [
        Kind::OpenAi,
        Kind::Anthropic,
        Kind::Gemini,
        Kind::Ollama,
        Kind::LlamaCppServer,
        Kind::LlamaCppCli,
        Kind::OpenRouter,
        Kind::Xai,
        Kind::DeepSeek,
        Kind::Pollinations,
        Kind::OpenAiCompatible,
        Kind::Azure,
        Kind::Runway,
        Kind::XaiVideo,
        Kind::OpenAiImage,
        Kind::XaiImage,
        Kind::PollinationsImage,
        Kind::Mock,
    ];

    /// Its name in files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::OpenAi => "openai",
            Kind::Anthropic => "anthropic",
            Kind::Gemini => "gemini",
            Kind::Ollama => "ollama",
            Kind::LlamaCppServer => "llamacpp-server",
            Kind::LlamaCppCli => "llamacpp-cli",
            Kind::OpenRouter => "openrouter",
            Kind::Xai => "xai",
            Kind::DeepSeek => "deepseek",
            Kind::Pollinations => "pollinations",
            Kind::OpenAiCompatible => "openai-compatible",
            Kind::Azure => "azure",
            Kind::Runway => "runway",
            Kind::XaiVideo => "xai-video",
            Kind::OpenAiImage => "openai-image",
            Kind::XaiImage => "xai-image",
            Kind::PollinationsImage => "pollinations-image",
            Kind::Mock => "mock",
        }
    }

    /// Whether it answers chat (and so may be in a group); video and image kinds do not.
    pub const fn is_chat(self) -> bool {
        !matches!(
            self,
            Kind::Runway
                | Kind::XaiVideo
                | Kind::OpenAiImage
                | Kind::XaiImage
                | Kind::PollinationsImage
        )
    }
}

/// Timers of one deployment. Durations are milliseconds or strings such as `"30s"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploymentTimeouts {
    /// Opening a connection (TCP and TLS). Default: 10 s.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub connect: Option<Duration>,
    /// A whole non-streamed call, or a stream's wait for its response headers; also the
    /// router's bound on one attempt. Default: the provider's own.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub request: Option<Duration>,
    /// A stream's wait for its first byte after the headers. Default: the provider's own.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub first_byte: Option<Duration>,
    /// The longest gap between two stream chunks. Default: the provider's own.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub idle: Option<Duration>,
    /// A whole stream, first byte to last. Default: the provider's own.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub total: Option<Duration>,
}

/// One step of a `mock` deployment's script.
///
/// ```toml
/// script = [{ error = "server" }, { text = "Hello" }, { cut = ["Hel", "lo"] }]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum MockStep {
    /// Answer with this text (streamed one word per chunk).
    Text(String),
    /// Fail with a scripted error of this kind (`server`, `rate_limited`, `auth`, …).
    Error(ErrorKind),
    /// Stream these chunks, then cut the stream (`stream_interrupted`).
    Cut(Vec<String>),
    /// Continue this answer after any assistant prefix the request ends with (what a
    /// resumed stream sends).
    ContinueFrom(String),
}

/// One deployment: a provider instance serving one model.
///
/// Fields that only some kinds read (`script`, `binary`, `azure_deployment`, …) are refused
/// on the others, so a typo or a misplaced field never goes unnoticed.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Which provider builds it.
    pub kind: Kind,
    /// The model asked for (sent on the wire). Required except for `mock` (default
    /// `mock-model`) and `llamacpp-cli` (default: the file name of `model_path`).
    #[serde(default)]
    pub model: Option<String>,
    /// The API root. Default: the kind's (required for `openai-compatible` and `azure`).
    /// A password or query value in it never prints, and is redacted when written back.
    #[serde(default, serialize_with = "serialize_base_url")]
    pub base_url: Option<String>,
    /// The API key, as a reference: `env:NAME` (or LiteLLM's `os.environ/NAME`). Default:
    /// the kind's conventional variables, when set; a literal key is refused.
    #[serde(default)]
    pub api_key: Option<KeyRef>,
    /// `openai-compatible`: the header that carries the key. Default `Authorization`.
    #[serde(default)]
    pub auth_header: Option<String>,
    /// `openai-compatible`: the scheme before the key in `Authorization` (only `Bearer`
    /// is sent); with another `auth_header`, leave it out and the bare key is sent.
    #[serde(default)]
    pub auth_scheme: Option<String>,
    /// `anthropic`, `gemini`, `azure`: the API version. Default: the provider's (Azure:
    /// `2024-10-21`).
    #[serde(default)]
    pub api_version: Option<String>,
    /// `azure`: the deployment name in the URL. Default: `model`.
    #[serde(default)]
    pub azure_deployment: Option<String>,
    /// Extra headers sent with every request. Their values may be secrets: they are read
    /// from the file but never printed (Debug shows the names) nor written back out.
    #[serde(default, skip_serializing)]
    pub headers: BTreeMap<String, String>,
    /// Timers.
    #[serde(default)]
    pub timeouts: DeploymentTimeouts,
    /// Retry policy on this deployment. Default: `router.retry`.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
    /// Circuit breaker. Default: `router.breaker`.
    #[serde(default)]
    pub breaker: Option<BreakerConfig>,
    /// Requests per minute. Default none.
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Tokens per minute. Default none.
    #[serde(default)]
    pub tpm: Option<u64>,
    /// Attempts in flight at once. Default none.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Prices replacing the provider's own (USD per million tokens). Default none.
    #[serde(default)]
    pub pricing: Option<Pricing>,
    /// `runway`, `xai-video`, the image kinds: USD per second of video or per image.
    /// Default: the catalog's price for the model, else 0 with one warning.
    pub usd_per_unit: Option<f64>,
    /// The model's context window in tokens, for pre-call checks and context-length
    /// fallback. Default: the provider's model info.
    #[serde(default)]
    pub context_window: Option<u32>,
    /// Whether this deployment takes requests another refused with `content_filter`.
    /// Default false.
    #[serde(default)]
    pub content_policy_fallback: bool,
    /// Conditional routing: it takes only requests carrying one of these tags. Default none.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Share of traffic under weighted round robin. Default 1.
    #[serde(default = "one")]
    pub weight: u32,
    /// Lower goes first (priority strategy and fallback order). Default 0; ties keep the
    /// order of the group's `deployments` list.
    #[serde(default)]
    pub priority: i32,
    /// Whether it takes traffic. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Its own spending limit. Default none.
    #[serde(default)]
    pub budget: Option<Budget>,
    /// `mock`: what each call does, in order. Default: answers `mock answer`.
    #[serde(default)]
    pub script: Vec<MockStep>,
    /// `mock`: what happens once the script is used up. Default: repeat the last step.
    #[serde(default)]
    pub when_exhausted: Option<WhenExhausted>,
    /// `llamacpp-cli`: the binary. Default: `LLAMA_CPP_BIN`, else found on `PATH`.
    #[serde(default)]
    pub binary: Option<PathBuf>,
    /// `llamacpp-cli`: the GGUF model file. Default: `LLAMA_CPP_MODEL`.
    #[serde(default)]
    pub model_path: Option<PathBuf>,
    /// `llamacpp-cli`: extra arguments. Default none.
    #[serde(default)]
    pub args: Vec<String>,
    /// `runway`, `xai-video`: how the job is polled (interval backoff, `min_interval`,
    /// `deadline`). Default: the provider's (2 s doubling to 10 s, 10 minutes).
    #[serde(default)]
    pub poll: Option<PollConfig>,
}

impl fmt::Debug for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deployment")
            .field("kind", &self.kind)
            .field("model", &self.model)
            .field("base_url", &self.base_url.as_deref().map(redact_url))
            .field("api_key", &self.api_key)
            .field("auth_header", &self.auth_header)
            .field("auth_scheme", &self.auth_scheme)
            .field("api_version", &self.api_version)
            .field("azure_deployment", &self.azure_deployment)
            .field("headers", &HeaderNames(&self.headers))
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker)
            .field("rpm", &self.rpm)
            .field("tpm", &self.tpm)
            .field("max_concurrency", &self.max_concurrency)
            .field("pricing", &self.pricing)
            .field("context_window", &self.context_window)
            .field("content_policy_fallback", &self.content_policy_fallback)
            .field("tags", &self.tags)
            .field("weight", &self.weight)
            .field("priority", &self.priority)
            .field("enabled", &self.enabled)
            .field("budget", &self.budget)
            .field("script", &self.script)
            .field("when_exhausted", &self.when_exhausted)
            .field("binary", &self.binary)
            .field("model_path", &self.model_path)
            .field("args", &self.args)
            .field("poll", &self.poll)
            .finish()
    }
}

fn serialize_base_url<S: serde::Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => serializer.serialize_some(&redact_url(url)),
        None => serializer.serialize_none(),
    }
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// A model group: the alias a caller names, served by several deployments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupConfig {
    /// The deployments serving it, by name.
    pub deployments: Vec<String>,
    /// How it orders them. Default: `router.strategy`.
    pub strategy: Option<StrategyKind>,
    /// Other groups tried, in order, when every deployment here failed in a way that may
    /// fall back. Default none.
    pub fallbacks: Vec<String>,
    /// Groups tried when the request is too long for this one (`context_length`).
    pub context_window_fallbacks: Vec<String>,
    /// Groups tried when this one refused the request (`content_filter`).
    pub content_policy_fallbacks: Vec<String>,
    /// The time allowed for a whole call. Default: `router.deadline`.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub deadline: Option<Duration>,
    /// Hedging delay. Default: `router.hedge_after`.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub hedge_after: Option<Duration>,
    /// A spending limit for the group. Default: `router.budget`.
    pub budget: Option<Budget>,
}

impl Deployment {
    /// A deployment of `kind` with every other field at its default.
    pub fn of_kind(kind: Kind) -> Deployment {
        Deployment {
            kind,
            model: None,
            base_url: None,
            api_key: None,
            auth_header: None,
            auth_scheme: None,
            api_version: None,
            azure_deployment: None,
            headers: BTreeMap::new(),
            timeouts: DeploymentTimeouts::default(),
            retry: None,
            breaker: None,
            rpm: None,
            tpm: None,
            max_concurrency: None,
            pricing: None,
            usd_per_unit: None,
            context_window: None,
            content_policy_fallback: false,
            tags: Vec::new(),
            weight: 1,
            priority: 0,
            enabled: true,
            budget: None,
            script: Vec::new(),
            when_exhausted: None,
            binary: None,
            model_path: None,
            args: Vec::new(),
            poll: None,
        }
    }
}
