//! `AnthropicConfig`: where the Anthropic API is, the key, timeouts, models and their prices.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_providers_core::secret::{HeaderNames, RedactedUrl};
use steadfast_providers_core::{ApiKey, ModelInfo};
use steadfast_streaming::Timeouts;

use crate::prefill::PrefillMode;

/// The Anthropic API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The `anthropic-version` header sent by default.
pub const DEFAULT_API_VERSION: &str = "2023-06-01";

/// `max_tokens` sent when a request sets none (the Messages API requires the field).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The per-request timeout by default: 10 minutes, as Anthropic's own SDKs, because a long
/// non-streamed answer takes minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The environment variables holding the API key, in the order they are read.
pub const API_KEY_VARS: &[&str] = &["ANTHROPIC_API_KEY"];

/// The environment variable that overrides the base URL (as in Anthropic's SDKs).
pub const BASE_URL_VAR: &str = "ANTHROPIC_BASE_URL";

/// How an [`AnthropicProvider`](crate::AnthropicProvider) reaches the API.
///
/// Every field has a default (shown on the field), so a config file names only what differs.
/// Durations in files are milliseconds or strings such as `"30s"`. The API key is read from
/// files but never written back (it is skipped when serializing) and never printed.
///
/// ```
/// use std::time::Duration;
/// use steadfast_providers_anthropic::{AnthropicConfig, PrefillMode};
/// use steadfast_providers_core::{ApiKey, ModelInfo, Pricing};
///
/// let config = AnthropicConfig {
///     id: "anthropic-eu".into(),
///     api_key: Some(ApiKey::new("sk-ant-…")),
///     timeout: Duration::from_secs(120),
///     models: vec![ModelInfo {
///         id: "claude-sonnet-4-5".into(),
///         context_window: Some(200_000),
///         pricing: Some(Pricing {
///             cache_read_per_mtok: Some(0.30),
///             cache_write_per_mtok: Some(3.75),
///             ..Pricing::per_million(3.0, 15.0)
///         }),
///     }],
///     ..AnthropicConfig::default()
/// };
/// assert_eq!(config.prefill, PrefillMode::Auto);
///
/// let from_file: AnthropicConfig = serde_json::from_str(r#"{"id": "claude", "timeout": "90s"}"#).unwrap();
/// assert_eq!(from_file.timeout, Duration::from_secs(90));
/// assert_eq!(from_file.base_url, "https://api.anthropic.com");
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnthropicConfig {
    /// This instance's id, shown in every error and log line. Default `"anthropic"`.
    pub id: String,
    /// The API's base URL, without `/v1`. Default [`DEFAULT_BASE_URL`].
    /// `Debug` and serde show it without a password or query values.
    #[serde(serialize_with = "steadfast_providers_core::secret::serialize_url")]
    pub base_url: String,
    /// The API key, sent as `x-api-key`. Default none (no key header is sent, for gateways
    /// that add their own).
    #[serde(skip_serializing)]
    pub api_key: Option<ApiKey>,
    /// The `anthropic-version` header. Default [`DEFAULT_API_VERSION`].
    pub api_version: String,
    /// A non-streamed request's whole duration, or a streamed request's wait for its response
    /// headers (the body is then governed by [`stream`](Self::stream)); a request's own
    /// `timeout` overrides it. Default [`DEFAULT_TIMEOUT`].
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// Timers on streamed bodies. Default: first event within 60 s, then at most 120 s between
    /// events, and at most
    /// [`DEFAULT_STREAM_TOTAL`](steadfast_providers_core::http::DEFAULT_STREAM_TOTAL) (30
    /// minutes) in all.
    pub stream: Timeouts,
    /// `max_tokens` when the request has none. Default [`DEFAULT_MAX_TOKENS`].
    pub default_max_tokens: u32,
    /// Whether interrupted answers are continued by prefill. Default [`PrefillMode::Auto`].
    pub prefill: PrefillMode,
    /// The models served, with context windows and prices (for `cost`). Default empty: any
    /// model the caller names is sent as is, and `cost` is `None`.
    pub models: Vec<ModelInfo>,
    /// Extra headers on every request, e.g. `anthropic-beta`. Default none. Not for secrets:
    /// put the key in [`api_key`](Self::api_key) (only header *names* are shown by `Debug`).
    /// Values never print and are read from files but never written back.
    #[serde(skip_serializing)]
    pub headers: BTreeMap<String, String>,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        AnthropicConfig {
            id: "anthropic".to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            stream: Timeouts {
                first_byte: Some(Duration::from_secs(60)),
                idle: Some(Duration::from_secs(120)),
                total: Some(steadfast_providers_core::http::DEFAULT_STREAM_TOTAL),
                keep_alive_resets_idle: false,
            },
            default_max_tokens: DEFAULT_MAX_TOKENS,
            prefill: PrefillMode::Auto,
            models: Vec::new(),
            headers: BTreeMap::new(),
        }
    }
}

impl AnthropicConfig {
    /// The defaults, with the key from `ANTHROPIC_API_KEY` and the base URL from
    /// `ANTHROPIC_BASE_URL` when they are set (and not empty). The values are never logged.
    pub fn from_env() -> AnthropicConfig {
        let mut config = AnthropicConfig {
            api_key: ApiKey::from_env(API_KEY_VARS),
            ..AnthropicConfig::default()
        };
        if let Ok(url) = std::env::var(BASE_URL_VAR)
            && !url.trim().is_empty()
        {
            config.base_url = url.trim().to_owned();
        }
        config
    }
}

impl fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("id", &self.id)
            .field("base_url", &RedactedUrl(&self.base_url))
            .field("api_key", &self.api_key)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("stream", &self.stream)
            .field("default_max_tokens", &self.default_max_tokens)
            .field("prefill", &self.prefill)
            .field("models", &self.models)
            .field("headers", &HeaderNames(&self.headers))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_has_a_total_deadline_by_default() {
        assert_eq!(
            AnthropicConfig::default().stream.total,
            Some(steadfast_providers_core::http::DEFAULT_STREAM_TOTAL)
        );
    }
}
