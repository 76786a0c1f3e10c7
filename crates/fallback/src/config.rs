//! Configuration as data: [`EntryConfig`] per provider, [`ChainConfig`] for the chain, and
//! [`ResumeSettings`] for streams.
//!
//! Everything here is `serde` so a chain can come from a config file. Every field may be left
//! out and takes its documented default; durations are whole milliseconds or strings such as
//! `"1.5s"` (see [`steadfast_errors::serde_duration`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_retry::{Backoff, RetryConfig};
use steadfast_streaming::ResumeConfig;

/// How one provider takes part in a [`FallbackChain`](crate::FallbackChain).
///
/// ```
/// use std::time::Duration;
/// use steadfast_fallback::EntryConfig;
///
/// let entry: EntryConfig = serde_json::from_str(r#"{
///     "model": "gpt-4o-mini",
///     "retry": {"max_attempts": 2, "max_retry_after": "10s"},
///     "breaker": {"consecutive_failures": 3, "open_duration": "1m"},
///     "context_window": 128000
/// }"#).unwrap();
/// assert_eq!(entry.retry.max_attempts, 2);
/// assert_eq!(entry.breaker.open_duration, Duration::from_secs(60));
/// assert!(entry.enabled, "entries are enabled unless the file says otherwise");
/// assert!(!entry.content_policy_fallback);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntryConfig {
    /// The model to ask this provider for, replacing [`ChatRequest::model`] for it.
    /// Default `None`: the request's own model.
    ///
    /// [`ChatRequest::model`]: steadfast_providers_core::ChatRequest::model
    pub model: Option<String>,
    /// How calls to this provider are retried before the chain moves on. One policy (and one
    /// retry budget) per entry, shared by every call. Default [`RetryConfig::default`]
    /// (3 attempts, 500 ms doubling backoff with full jitter, Retry-After honoured up to 60 s).
    pub retry: RetryConfig,
    /// This provider's circuit breaker. Default [`steadfast_circuit::Config::default`]
    /// (5 failures in a row or 50 % of the last 20 calls trip it for 30 s).
    pub breaker: steadfast_circuit::Config,
    /// Whether the provider is tried at all; [`FallbackChain::set_enabled`] changes it at
    /// run time. Default `true`.
    ///
    /// [`FallbackChain::set_enabled`]: crate::FallbackChain::set_enabled
    pub enabled: bool,
    /// The model's context window in tokens, when known. After a `context_length` failure
    /// only entries whose window is known and larger than every window that proved too small
    /// are tried. Default `None` (never a context-length fallback).
    pub context_window: Option<u32>,
    /// Whether this entry may take over after another provider's `content_filter` refusal.
    /// Default `false`.
    pub content_policy_fallback: bool,
}

impl Default for EntryConfig {
    fn default() -> Self {
        EntryConfig {
            model: None,
            retry: RetryConfig::default(),
            breaker: steadfast_circuit::Config::default(),
            enabled: true,
            context_window: None,
            content_policy_fallback: false,
        }
    }
}

/// Settings of the whole chain.
///
/// ```
/// use std::time::Duration;
/// use steadfast_fallback::ChainConfig;
///
/// let config: ChainConfig = serde_json::from_str(r#"{"deadline": "20s", "resume": {"max_resumes": 5}}"#).unwrap();
/// assert_eq!(config.deadline, Some(Duration::from_secs(20)));
/// assert_eq!(config.resume.max_resumes, 5);
/// assert_eq!(config.resume.overlap_window, 1024); // the default
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// The time allowed for a whole call, across every provider, retry and wait; no attempt
    /// starts after it and none runs past it. [`CallOptions::deadline`] replaces it for one
    /// call. Default `None` (each provider's own timeouts and retry limits bound the call).
    ///
    /// [`CallOptions::deadline`]: crate::CallOptions::deadline
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub deadline: Option<Duration>,
    /// How interrupted streams are resumed.
    pub resume: ResumeSettings,
}

/// How a [`FallbackStream`](crate::FallbackStream) resumes after an interruption; passed to
/// [`steadfast_streaming::ResumableStream`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResumeSettings {
    /// Continuations opened at most per stream (on the same provider or another). Default 3.
    pub max_resumes: u32,
    /// The longest repeated tail a continuation may start with, in bytes; 0 turns off only
    /// the tail-overlap check. A continuation that echoes or restarts the whole delivered text
    /// is recognised at any length whatever this is (see `steadfast_streaming::resume`).
    /// Default 1024.
    pub overlap_window: usize,
    /// The shortest repeat taken for an overlap, in bytes. Default 8.
    pub min_overlap: usize,
    /// The wait before each reopen. Default 250 ms doubling to 4 s, full jitter.
    pub backoff: Backoff,
}

impl Default for ResumeSettings {
    fn default() -> Self {
        let d = ResumeConfig::default();
        ResumeSettings {
            max_resumes: d.max_resumes,
            overlap_window: d.overlap_window,
            min_overlap: d.min_overlap,
            backoff: d.backoff,
        }
    }
}

impl From<ResumeSettings> for ResumeConfig {
    fn from(s: ResumeSettings) -> ResumeConfig {
        ResumeConfig {
            max_resumes: s.max_resumes,
            backoff: s.backoff,
            overlap_window: s.overlap_window,
            min_overlap: s.min_overlap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_match_the_docs() {
        let entry: EntryConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(entry, EntryConfig::default());
        assert!(entry.enabled);
        let json = serde_json::to_string(&entry).unwrap();
        assert_eq!(serde_json::from_str::<EntryConfig>(&json).unwrap(), entry);

        let chain: ChainConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(chain, ChainConfig::default());
        assert_eq!(chain.resume.max_resumes, 3);
        assert_eq!(chain.resume.overlap_window, 1024);
        assert_eq!(chain.resume.min_overlap, 8);
        let json = serde_json::to_string(&chain).unwrap();
        assert_eq!(serde_json::from_str::<ChainConfig>(&json).unwrap(), chain);
        assert_eq!(ResumeConfig::from(chain.resume), ResumeConfig::default());
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<EntryConfig>(r#"{"enable": false}"#).is_err());
        assert!(serde_json::from_str::<ChainConfig>(r#"{"deadlin": 5}"#).is_err());
    }
}
