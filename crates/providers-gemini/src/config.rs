//! `GeminiConfig`: where the Gemini API is, the key, timeouts, models and their prices.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_providers_core::secret::{HeaderNames, RedactedUrl};
use steadfast_providers_core::{ApiKey, ModelInfo};
use steadfast_streaming::Timeouts;

use crate::resume::ContinueStyle;

/// The Gemini API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// The API version path segment used by default.
pub const DEFAULT_API_VERSION: &str = "v1beta";

/// The per-request timeout by default: 5 minutes (thinking models take long over a whole
/// non-streamed answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The environment variables holding the API key, in the order they are read.
pub const API_KEY_VARS: &[&str] = &["GEMINI_API_KEY", "GOOGLE_API_KEY"];

/// The placeholder `thoughtSignature` Google documents for function calls whose real
/// signature was not kept (see [`GeminiConfig::thought_signature_placeholder`]).
pub const SKIP_THOUGHT_SIGNATURE: &str = "skip_thought_signature_validator";

/// How a [`GeminiProvider`](crate::GeminiProvider) reaches the API.
///
/// Every field has a default (shown on the field), so a config file names only what differs.
/// Durations in files are milliseconds or strings such as `"30s"`. The API key is read from
/// files but never written back (it is skipped when serializing) and never printed; it is
/// sent only in the `x-goog-api-key` header, never in a URL.
///
/// ```
/// use steadfast_providers_gemini::{GeminiConfig, ContinueStyle};
/// use steadfast_providers_core::{ModelInfo, Pricing};
///
/// let config = GeminiConfig {
///     id: "gemini-flash".into(),
///     models: vec![ModelInfo {
///         id: "gemini-2.5-flash".into(),
///         context_window: Some(1_048_576),
///         pricing: Some(Pricing {
///             cache_read_per_mtok: Some(0.03),
///             ..Pricing::per_million(0.30, 2.50)
///         }),
///     }],
///     ..GeminiConfig::from_env()
/// };
/// assert_eq!(config.continue_style, ContinueStyle::Auto);
///
/// let from_file: GeminiConfig = serde_json::from_str(r#"{"timeout": 45000}"#).unwrap();
/// assert_eq!(from_file.timeout, std::time::Duration::from_secs(45));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeminiConfig {
    /// This instance's id, shown in every error and log line. Default `"gemini"`.
    pub id: String,
    /// The API's base URL, without the version. Default [`DEFAULT_BASE_URL`].
    /// `Debug` and serde show it without a password or query values.
    #[serde(serialize_with = "steadfast_providers_core::secret::serialize_url")]
    pub base_url: String,
    /// The API key, sent as `x-goog-api-key`. Default none (no key header is sent, for
    /// gateways that add their own).
    #[serde(skip_serializing)]
    pub api_key: Option<ApiKey>,
    /// The version path segment. Default [`DEFAULT_API_VERSION`].
    pub api_version: String,
    /// A non-streamed request's whole duration, or a streamed request's wait for its response
    /// headers (the body is then governed by [`stream`](Self::stream)); a request's own
    /// `timeout` overrides it. Default [`DEFAULT_TIMEOUT`].
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// Timers on streamed bodies. Default: first event within 180 s (a thinking model sends
    /// nothing until it has thought), then at most 120 s between events, and at most
    /// [`DEFAULT_STREAM_TOTAL`](steadfast_providers_core::http::DEFAULT_STREAM_TOTAL) (30
    /// minutes) in all.
    pub stream: Timeouts,
    /// How interrupted answers are continued. Default [`ContinueStyle::Auto`].
    pub continue_style: ContinueStyle,
    /// The `thoughtSignature` put on the first `functionCall` part of each earlier model
    /// turn. Gemini 3 refuses (400 `Function call is missing a thought_signature`) a history
    /// whose function calls lost their signatures, and steadfast's provider-neutral tool
    /// calls do not carry them; Google documents this placeholder for exactly that case.
    /// Default `Some(`[`SKIP_THOUGHT_SIGNATURE`]`)`; `None` sends no signature.
    pub thought_signature_placeholder: Option<String>,
    /// The models served, with context windows and prices (for `cost`). Default empty: any
    /// model the caller names is sent as is, and `cost` is `None`.
    pub models: Vec<ModelInfo>,
    /// Extra headers on every request. Default none. Not for secrets: put the key in
    /// [`api_key`](Self::api_key) (only header *names* are shown by `Debug`).
    /// Values never print and are read from files but never written back.
    #[serde(skip_serializing)]
    pub headers: BTreeMap<String, String>,
}

impl Default for GeminiConfig {
    fn default() -> Self {
        GeminiConfig {
            id: "gemini".to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            stream: Timeouts {
                first_byte: Some(Duration::from_secs(180)),
                idle: Some(Duration::from_secs(120)),
                total: Some(steadfast_providers_core::http::DEFAULT_STREAM_TOTAL),
                keep_alive_resets_idle: false,
            },
            continue_style: ContinueStyle::Auto,
            thought_signature_placeholder: Some(SKIP_THOUGHT_SIGNATURE.to_owned()),
            models: Vec::new(),
            headers: BTreeMap::new(),
        }
    }
}

impl GeminiConfig {
    /// The defaults, with the key from `GEMINI_API_KEY`, or `GOOGLE_API_KEY` when the first
    /// is unset or empty. The value is never logged.
    pub fn from_env() -> GeminiConfig {
        GeminiConfig {
            api_key: ApiKey::from_env(API_KEY_VARS),
            ..GeminiConfig::default()
        }
    }
}

impl fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("id", &self.id)
            .field("base_url", &RedactedUrl(&self.base_url))
            .field("api_key", &self.api_key)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("stream", &self.stream)
            .field("continue_style", &self.continue_style)
            .field(
                "thought_signature_placeholder",
                &self.thought_signature_placeholder,
            )
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
            GeminiConfig::default().stream.total,
            Some(steadfast_providers_core::http::DEFAULT_STREAM_TOTAL)
        );
    }
}
