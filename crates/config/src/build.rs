//! Turning one [`Deployment`] into a provider through its own crate's config type, and into
//! the router's [`ProviderConfig`].

use crate::steadfast::DeploymentInfo;
use std::ffi::OsString;
use std::sync::Arc;

use steadfast_errors::Provider;
use steadfast_fallback::EntryConfig;
use steadfast_providers_anthropic::{AnthropicConfig, AnthropicProvider};
use steadfast_providers_core::{ApiKey, ChatProvider, ImageProvider, VideoProvider};
use steadfast_providers_gemini::{GeminiConfig, GeminiProvider};
use steadfast_providers_llamacpp::{LlamaCppConfig, LlamaCppProvider};
use steadfast_providers_media::{
    OpenAiImageConfig, OpenAiImageProvider, PollinationsConfig, PollinationsImageProvider,
    RunwayConfig, RunwayProvider, XaiImageConfig, XaiImageProvider, XaiVideoConfig,
    XaiVideoProvider,
};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_providers_ollama::{OllamaConfig, OllamaProvider};
use steadfast_providers_openai::{Auth, OpenAiConfig, OpenAiProvider, Preset};
use steadfast_router::ProviderConfig;
use steadfast_streaming::Timeouts;

use crate::error::ConfigError;
use crate::file::{Deployment, DeploymentTimeouts, Kind, MockStep};

/// Reads an environment variable (the process environment, or a map in tests).
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The Azure OpenAI API version used when a deployment names none.
pub const AZURE_API_VERSION: &str = "2024-10-21";

/// The variables an `azure` deployment's key is read from when it names none.
pub const AZURE_KEY_VARS: &[&str] = &["AZURE_OPENAI_API_KEY", "AZURE_API_KEY"];

/// What a deployment became.
pub(crate) enum Built {
    /// A chat provider, with how it takes part in its groups.
    Chat(Arc<dyn ChatProvider>, Box<ProviderConfig>),
    /// A video job provider.
    Video(Arc<dyn VideoProvider>),
    /// An image provider.
    Image(Arc<dyn ImageProvider>),
}

/// Builds the deployment `name`.
// `http!` starts from a kind's defaults and sets the shared fields one by one: that is the
// point of it, not a struct literal left half-written.
#[allow(clippy::field_reassign_with_default)]
pub(crate) fn build(name: &str, d: &Deployment, lookup: Lookup<'_>) -> Result<Built, ConfigError> {
    check_fields(name, d)?;
    let key = match &d.api_key {
        Some(r) => Some(r.resolve(lookup).ok_or_else(|| ConfigError::MissingEnv {
            deployment: name.to_owned(),
            var: r.var().to_owned(),
        })?),
        None => None,
    };
    let model = model_of(name, d)?;
    // The settings every HTTP provider's config has under the same names, filled from the
    // deployment: its id, base URL, key (the deployment's, else the first of the kind's
    // variables that is set), request timeout and headers. The rest is set per kind below.
    macro_rules! http {
        ($base:expr, $key_vars:expr) => {{
            let mut c = $base;
            c.id = name.to_owned();
            if let Some(url) = &d.base_url {
                c.base_url = url.trim_end_matches('/').to_owned();
            }
            c.api_key = key.clone().or_else(|| from_vars($key_vars, lookup));
            if let Some(t) = d.timeouts.request {
                c.timeout = t;
            }
            c.headers = d.headers.clone();
            c
        }};
    }
    let chat: Arc<dyn ChatProvider> = match d.kind {
        Kind::OpenAi => openai(name, d, key, lookup, Preset::OpenAi),
        Kind::OpenRouter => openai(name, d, key, lookup, Preset::OpenRouter),
        Kind::Xai => openai(name, d, key, lookup, Preset::Xai),
        Kind::DeepSeek => openai(name, d, key, lookup, Preset::DeepSeek),
        Kind::Pollinations => openai(name, d, key, lookup, Preset::Pollinations),
        Kind::LlamaCppServer => openai(name, d, key, lookup, Preset::LlamaCppServer),
        Kind::OpenAiCompatible => compatible(name, d, key)?,
        Kind::Azure => azure(
            name,
            d,
            key.or_else(|| from_vars(AZURE_KEY_VARS, lookup)),
            &model,
        )?,
        Kind::Anthropic => {
            let mut c = http!(
                AnthropicConfig::default(),
                steadfast_providers_anthropic::API_KEY_VARS
            );
            set(&mut c.api_version, &d.api_version);
            c.stream = stream_timeouts(c.stream, &d.timeouts);
            Arc::new(AnthropicProvider::with_client(c, client(d)))
        }
        Kind::Gemini => {
            let mut c = http!(
                GeminiConfig::default(),
                steadfast_providers_gemini::API_KEY_VARS
            );
            set(&mut c.api_version, &d.api_version);
            c.stream = stream_timeouts(c.stream, &d.timeouts);
            Arc::new(GeminiProvider::with_client(c, client(d)))
        }
        Kind::Ollama => {
            // Ollama's own config reads its key and host variables.
            let base = OllamaConfig::from_lookup(lookup);
            let env_key = base.api_key.clone();
            let mut c = http!(base, &[]);
            c.api_key = c.api_key.or(env_key);
            c.stream = stream_timeouts(c.stream, &d.timeouts);
            Arc::new(OllamaProvider::with_client(c, client(d)))
        }
        Kind::LlamaCppCli => {
            let mut c = LlamaCppConfig::from_lookup(|n| lookup(n).map(OsString::from));
            c.id = name.to_owned();
            set(&mut c.binary, &d.binary);
            set(&mut c.model_path, &d.model_path);
            c.args = d.args.clone();
            if let Some(t) = d.timeouts.request {
                c.timeout = t;
            }
            c.stream = stream_timeouts(c.stream, &d.timeouts);
            Arc::new(LlamaCppProvider::new(c))
        }
        Kind::Mock => {
            let config = ScriptedConfig {
                id: name.to_owned(),
                pricing: d.pricing,
                when_exhausted: d.when_exhausted.unwrap_or_default(),
                timeout: d.timeouts.request,
                stream_timeouts: stream_timeouts(Timeouts::default(), &d.timeouts),
                ..ScriptedConfig::default()
            };
            let script: Vec<Outcome> = if d.script.is_empty() {
                vec![Outcome::text("mock answer")]
            } else {
                d.script.iter().map(outcome).collect()
            };
            Arc::new(ScriptedProvider::new(config, script))
        }
        Kind::Runway => {
            let mut c = http!(
                RunwayConfig::default(),
                steadfast_providers_media::RUNWAY_API_KEY_VARS
            );
            set(&mut c.api_version, &d.api_version);
            set(&mut c.text_model, &d.model);
            set(&mut c.poll, &d.poll);
            let provider = RunwayProvider::with_client(c, client(d));
            return Ok(Built::Video(Arc::new(provider)));
        }
        Kind::XaiVideo => {
            let mut c = http!(
                XaiVideoConfig::default(),
                steadfast_providers_media::XAI_API_KEY_VARS
            );
            set(&mut c.model, &d.model);
            set(&mut c.poll, &d.poll);
            let provider = XaiVideoProvider::with_client(c, client(d));
            return Ok(Built::Video(Arc::new(provider)));
        }
        Kind::OpenAiImage => {
            let mut c = http!(
                OpenAiImageConfig::default(),
                steadfast_providers_media::OPENAI_API_KEY_VARS
            );
            c.model = d.model.clone().or(c.model);
            let provider = OpenAiImageProvider::with_client(c, client(d));
            return Ok(Built::Image(Arc::new(provider)));
        }
        Kind::XaiImage => {
            let mut c = http!(
                XaiImageConfig::default(),
                steadfast_providers_media::XAI_API_KEY_VARS
            );
            set(&mut c.model, &d.model);
            let provider = XaiImageProvider::with_client(c, client(d));
            return Ok(Built::Image(Arc::new(provider)));
        }
        Kind::PollinationsImage => {
            let mut c = http!(
                PollinationsConfig::default(),
                steadfast_providers_media::POLLINATIONS_API_KEY_VARS
            );
            c.model = d.model.clone().or(c.model);
            let provider = PollinationsImageProvider::with_client(c, client(d));
            return Ok(Built::Image(Arc::new(provider)));
        }
    };
    Ok(Built::Chat(chat, Box::new(provider_config(d, model))))
}

/// How the deployment takes part in a router.
pub(crate) fn provider_config(d: &Deployment, model: String) -> ProviderConfig {
    let mut entry = EntryConfig::default();
    if let Some(retry) = &d.retry {
        entry.retry = retry.clone();
    }
    if let Some(breaker) = &d.breaker {
        entry.breaker = breaker.clone();
    }
    entry.enabled = d.enabled;
    entry.context_window = d.context_window;
    entry.content_policy_fallback = d.content_policy_fallback;
    ProviderConfig {
        priority: d.priority,
        weight: d.weight,
        model: Some(model),
        timeout: d.timeouts.request,
        entry,
        rpm: d.rpm,
        tpm: d.tpm,
        max_concurrency: d.max_concurrency,
        pricing: d.pricing,
        tags: d.tags.clone(),
        budget: d.budget,
    }
}

/// The model a deployment asks for.
fn model_of(name: &str, d: &Deployment) -> Result<String, ConfigError> {
    if let Some(m) = d.model.as_deref().filter(|m| !m.trim().is_empty()) {
        return Ok(m.to_owned());
    }
    match d.kind {
        Kind::Mock => Ok("mock-model".to_owned()),
        k if !k.is_chat() => Ok(String::new()),
        Kind::LlamaCppCli => Ok(d
            .model_path
            .as_ref()
            .and_then(|p| p.file_stem())
            .map_or_else(
                || "llamacpp".to_owned(),
                |s| s.to_string_lossy().into_owned(),
            )),
        _ => Err(ConfigError::invalid(
            format!("deployments.{name}.model"),
            format!("a deployment of kind `{}` needs a model", d.kind.as_str()),
        )),
    }
}

/// Refuses fields the deployment's kind does not read.
fn check_fields(name: &str, d: &Deployment) -> Result<(), ConfigError> {
    let k = d.kind;
    let only = |field: &str, set: bool, kinds: &[Kind]| {
        if set && !kinds.contains(&k) {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            return Err(ConfigError::invalid(
                format!("deployments.{name}.{field}"),
                format!(
                    "only read for kind {}, not `{}`",
                    names.join(" / "),
                    k.as_str()
                ),
            ));
        }
        Ok(())
    };
    only("script", !d.script.is_empty(), &[Kind::Mock])?;
    only("when_exhausted", d.when_exhausted.is_some(), &[Kind::Mock])?;
    only("binary", d.binary.is_some(), &[Kind::LlamaCppCli])?;
    only("model_path", d.model_path.is_some(), &[Kind::LlamaCppCli])?;
    only("args", !d.args.is_empty(), &[Kind::LlamaCppCli])?;
    only(
        "azure_deployment",
        d.azure_deployment.is_some(),
        &[Kind::Azure],
    )?;
    only(
        "auth_header",
        d.auth_header.is_some(),
        &[Kind::OpenAiCompatible],
    )?;
    only(
        "auth_scheme",
        d.auth_scheme.is_some(),
        &[Kind::OpenAiCompatible],
    )?;
    only(
        "api_version",
        d.api_version.is_some(),
        &[Kind::Anthropic, Kind::Gemini, Kind::Azure, Kind::Runway],
    )?;
    only(
        "usd_per_unit",
        d.usd_per_unit.is_some(),
        &[
            Kind::Runway,
            Kind::XaiVideo,
            Kind::OpenAiImage,
            Kind::XaiImage,
            Kind::PollinationsImage,
        ],
    )?;
    if let Some(price) = d.usd_per_unit
        && !(price.is_finite() && price >= 0.0)
    {
        return Err(ConfigError::invalid(
            format!("deployments.{name}.usd_per_unit"),
            "must be a price in USD, 0 or more",
        ));
    }
    let no_network = [Kind::Mock, Kind::LlamaCppCli];
    if no_network.contains(&k) {
        let field = if d.base_url.is_some() {
            Some("base_url")
        } else if d.api_key.is_some() {
            Some("api_key")
        } else if !d.headers.is_empty() {
            Some("headers")
        } else {
            None
        };
        if let Some(field) = field {
            return Err(ConfigError::invalid(
                format!("deployments.{name}.{field}"),
                format!("kind `{}` makes no HTTP calls", k.as_str()),
            ));
        }
    }
    if let Some(url) = &d.base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(ConfigError::invalid(
            format!("deployments.{name}.base_url"),
            "must start with http:// or https://",
        ));
    }
    Ok(())
}

/// Replaces `field` with the deployment's value when it set one.
fn set<T: Clone>(field: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *field = v.clone();
    }
}

fn from_vars(vars: &[&str], lookup: Lookup<'_>) -> Option<ApiKey> {
    vars.iter()
        .filter_map(|v| lookup(v))
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
        .map(ApiKey::new)
}

fn stream_timeouts(mut base: Timeouts, t: &DeploymentTimeouts) -> Timeouts {
    if t.first_byte.is_some() {
        base.first_byte = t.first_byte;
    }
    if t.idle.is_some() {
        base.idle = t.idle;
    }
    if t.total.is_some() {
        base.total = t.total;
    }
    base
}

fn outcome(step: &MockStep) -> Outcome {
    match step {
        MockStep::Text(t) => Outcome::text(t.clone()),
        MockStep::Error(kind) => Outcome::Error(*kind),
        MockStep::Cut(chunks) => Outcome::cut(chunks.clone()),
        MockStep::ContinueFrom(answer) => Outcome::ContinueFrom(answer.clone()),
    }
}

/// The OpenAI-compatible settings every kind built on `OpenAiConfig` shares.
fn apply_common(mut c: OpenAiConfig, name: &str, d: &Deployment) -> OpenAiConfig {
    c.id = name.to_owned();
    if let Some(url) = &d.base_url {
        c.base_url = url.trim_end_matches('/').to_owned();
    }
    if let Some(t) = d.timeouts.request {
        c.timeout = t;
    }
    c.stream_timeouts = stream_timeouts(c.stream_timeouts, &d.timeouts);
    c.headers = d.headers.clone();
    c
}

/// The HTTP client of a deployment: the shared settings, with its `timeouts.connect`.
fn client(d: &Deployment) -> reqwest::Client {
    steadfast_providers_core::http::client_with_connect_timeout(
        d.timeouts
            .connect
            .unwrap_or(steadfast_providers_core::http::DEFAULT_CONNECT_TIMEOUT),
    )
}

fn openai(
    name: &str,
    d: &Deployment,
    key: Option<ApiKey>,
    lookup: Lookup<'_>,
    preset: Preset,
) -> Arc<dyn ChatProvider> {
    let mut c = apply_common(OpenAiConfig::preset_from_lookup(preset, lookup), name, d);
    if key.is_some() {
        c.api_key = key;
    }
    Arc::new(OpenAiProvider::with_client(c, client(d)))
}

fn compatible(
    name: &str,
    d: &Deployment,
    key: Option<ApiKey>,
) -> Result<Arc<dyn ChatProvider>, ConfigError> {
    if d.base_url.is_none() {
        return Err(ConfigError::invalid(
            format!("deployments.{name}.base_url"),
            "kind `openai-compatible` needs a base_url",
        ));
    }
    let header = d.auth_header.as_deref().unwrap_or("Authorization");
    let scheme = d.auth_scheme.as_deref();
    let auth = if header.eq_ignore_ascii_case("authorization") {
        match scheme {
            None => Auth::Bearer,
            Some(s) if s.eq_ignore_ascii_case("bearer") => Auth::Bearer,
            Some(_) => {
                return Err(ConfigError::invalid(
                    format!("deployments.{name}.auth_scheme"),
                    "only `Bearer` is supported in the Authorization header",
                ));
            }
        }
    } else if scheme.is_some() {
        return Err(ConfigError::invalid(
            format!("deployments.{name}.auth_scheme"),
            "a scheme is only sent in the Authorization header; leave it out to send the bare key",
        ));
    } else {
        Auth::Header(header.to_owned())
    };
    let mut c = apply_common(OpenAiConfig::openai(), name, d);
    c.kind = Provider::OpenAi;
    c.require_key = key.is_some();
    c.api_key = key;
    c.auth = auth;
    c.max_tokens_field = steadfast_providers_openai::MaxTokensField::MaxTokens;
    Ok(Arc::new(OpenAiProvider::with_client(c, client(d))))
}

fn azure(
    name: &str,
    d: &Deployment,
    key: Option<ApiKey>,
    model: &str,
) -> Result<Arc<dyn ChatProvider>, ConfigError> {
    let Some(endpoint) = &d.base_url else {
        return Err(ConfigError::invalid(
            format!("deployments.{name}.base_url"),
            "kind `azure` needs base_url, the resource endpoint (https://NAME.openai.azure.com)",
        ));
    };
    let deployment = d.azure_deployment.as_deref().unwrap_or(model);
    let version = d.api_version.as_deref().unwrap_or(AZURE_API_VERSION);
    let mut c = apply_common(OpenAiConfig::openai(), name, d);
    c.base_url = format!(
        "{}/openai/deployments/{deployment}?api-version={version}",
        endpoint.trim_end_matches('/')
    );
    c.kind = Provider::OpenAi;
    c.require_key = true;
    c.api_key = key;
    c.auth = Auth::Header("api-key".to_owned());
    Ok(Arc::new(OpenAiProvider::with_client(c, client(d))))
}

/// The listing of chat deployment `name` (no groups yet): prices from the config, else the
/// provider's for the model, else the catalog's; the context window likewise.
pub(crate) fn chat_info(
    name: &str,
    kind: Option<Kind>,
    provider: &dyn ChatProvider,
    config: &ProviderConfig,
    context_window: Option<u32>,
) -> DeploymentInfo {
    let model = config.model.clone().unwrap_or_default();
    let listed = provider.models().iter().find(|m| m.id == model);
    let catalog = steadfast_catalog::lookup(provider.kind(), &model);
    DeploymentInfo {
        name: name.to_owned(),
        kind,
        pricing: config
            .pricing
            .or_else(|| listed.and_then(|m| m.pricing))
            .or_else(|| catalog.and_then(|m| m.pricing)),
        context_window: context_window
            .or_else(|| listed.and_then(|m| m.context_window))
            .or_else(|| catalog.and_then(|m| m.context_window)),
        model,
        groups: Vec::new(),
    }
}
