//! `Provider`: which provider's wire dialect (and so which error table) a response speaks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The providers whose error dialects steadfast knows.
///
/// A provider selects the error table used by [`classify`](crate::classify). Any
/// OpenAI-compatible endpoint that is not listed here (a self-hosted vLLM, a corporate
/// gateway) classifies well as [`Provider::OpenAi`]; the name shown in errors can be
/// changed with [`ProviderError::with_provider`](crate::ProviderError::with_provider).
///
/// ```
/// use steadfast_errors::Provider;
///
/// let p: Provider = "xai".parse().unwrap();
/// assert_eq!(p, Provider::Xai);
/// assert_eq!(p.to_string(), "xai");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// OpenAI (`api.openai.com`), and the default dialect for OpenAI-compatible servers.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages API.
    Anthropic,
    /// OpenRouter.
    #[serde(rename = "openrouter")]
    OpenRouter,
    /// Ollama (native `/api` and `/v1`).
    Ollama,
    /// llama.cpp server (and the local binary).
    #[serde(rename = "llamacpp")]
    LlamaCpp,
    /// xAI (Grok).
    Xai,
    /// DeepSeek.
    #[serde(rename = "deepseek")]
    DeepSeek,
    /// Google Gemini API.
    Gemini,
    /// Runway (video tasks).
    Runway,
    /// Pollinations.
    Pollinations,
}

impl Provider {
    /// Every known provider.
    pub const ALL: [Provider; 10] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::OpenRouter,
        Provider::Ollama,
        Provider::LlamaCpp,
        Provider::Xai,
        Provider::DeepSeek,
        Provider::Gemini,
        Provider::Runway,
        Provider::Pollinations,
    ];

    /// The lowercase id used in fixtures, config files and error messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::OpenRouter => "openrouter",
            Provider::Ollama => "ollama",
            Provider::LlamaCpp => "llamacpp",
            Provider::Xai => "xai",
            Provider::DeepSeek => "deepseek",
            Provider::Gemini => "gemini",
            Provider::Runway => "runway",
            Provider::Pollinations => "pollinations",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no known [`Provider`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider `{0}`")]
pub struct ParseProviderError(String);

impl FromStr for Provider {
    type Err = ParseProviderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseProviderError(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), p);
        }
        assert!("grok".parse::<Provider>().is_err());
    }
}
