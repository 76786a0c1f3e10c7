//! `ScriptedConfig`: what a [`ScriptedProvider`](crate::ScriptedProvider) claims to be and
//! how it behaves when its script runs out.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_errors::Provider;
use steadfast_providers_core::{Capabilities, ModelInfo, Pricing};
use steadfast_streaming::Timeouts;

/// What a [`ScriptedProvider`](crate::ScriptedProvider) does when its queue is empty and no closure is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WhenExhausted {
    /// The last outcome is done again (default): a script of one outcome answers forever.
    #[default]
    RepeatLast,
    /// The call fails with an `unknown` error saying the script is exhausted, so a test
    /// notices a call it did not expect.
    Fail,
}

/// The configuration of a [`ScriptedProvider`](crate::ScriptedProvider). It has no API key, base URL or environment
/// variables: nothing leaves the process.
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::Provider;
/// use steadfast_providers_mock::ScriptedConfig;
///
/// let config: ScriptedConfig = serde_json::from_str(
///     r#"{"id": "anthropic-mock", "kind": "anthropic", "timeout": "30s",
///         "stream_timeouts": {"idle": 5000}}"#,
/// ).unwrap();
/// assert_eq!(config.kind, Provider::Anthropic);
/// assert_eq!(config.timeout, Some(Duration::from_secs(30)));
/// assert!(config.capabilities.prefill); // resume is exact by default
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptedConfig {
    /// The instance id shown in errors and stats. Default `"mock"`.
    pub id: String,
    /// The dialect it claims to speak (selects the cost semantics: Anthropic prices cache
    /// reads apart). Default [`Provider::OpenAi`].
    pub kind: Provider,
    /// What it claims to support. Default: everything, `prefill` included, so that resumed
    /// streams are exact.
    pub capabilities: Capabilities,
    /// The models it lists, with their prices. Default none (any model name is answered).
    pub models: Vec<ModelInfo>,
    /// The price of any model not in `models`. Default none.
    pub pricing: Option<Pricing>,
    /// What happens once the script is used up. Default [`WhenExhausted::RepeatLast`].
    pub when_exhausted: WhenExhausted,
    /// Whether [`continuation`](steadfast_providers_core::ChatProvider::continuation) offers a way to continue (the
    /// partial answer as an assistant prefix). Default true.
    pub resumable: bool,
    /// The per-call timeout (a `timeout` error), overridden by [`ChatRequest::timeout`](steadfast_providers_core::ChatRequest::timeout). It
    /// covers the whole of `chat`, and in `chat_stream` the wait before the stream opens.
    /// Durations in files are milliseconds or strings like `"30s"`. Default none.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub timeout: Option<Duration>,
    /// The timers every stream is wrapped in (first byte, idle, total). Default none.
    pub stream_timeouts: Timeouts,
}

impl Default for ScriptedConfig {
    fn default() -> Self {
        ScriptedConfig {
            id: "mock".to_owned(),
            kind: Provider::OpenAi,
            capabilities: Capabilities {
                streaming: true,
                tools: true,
                vision: true,
                prefill: true,
                json_mode: true,
                reasoning: true,
            },
            models: Vec::new(),
            pricing: None,
            when_exhausted: WhenExhausted::RepeatLast,
            resumable: true,
            timeout: None,
            stream_timeouts: Timeouts::default(),
        }
    }
}
