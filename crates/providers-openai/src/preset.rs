//! `Preset`: the OpenAI-compatible services this crate knows, with their env conventions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use steadfast_errors::Provider;

/// The environment variables holding the OpenAI key, in the order they are read (every
/// preset's own list is [`Preset::api_key_vars`]).
pub const API_KEY_VARS: &[&str] = &["OPENAI_API_KEY"];

/// The environment variable that moves OpenAI's base URL (as openai-python reads it).
pub const BASE_URL_VAR: &str = "OPENAI_BASE_URL";

/// An OpenAI-compatible service with known defaults (see
/// [`OpenAiConfig::preset`](crate::OpenAiConfig::preset)).
///
/// ```
/// use steadfast_errors::Provider;
/// use steadfast_providers_openai::Preset;
///
/// let p: Preset = "deepseek".parse().unwrap();
/// assert_eq!(p.kind(), Provider::DeepSeek);
/// assert_eq!(p.api_key_vars(), &["DEEPSEEK_API_KEY"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Preset {
    /// OpenAI (`api.openai.com`).
    #[serde(rename = "openai")]
    OpenAi,
    /// OpenRouter.
    #[serde(rename = "openrouter")]
    OpenRouter,
    /// xAI (Grok).
    Xai,
    /// DeepSeek.
    #[serde(rename = "deepseek")]
    DeepSeek,
    /// llama.cpp's `llama-server`.
    #[serde(rename = "llamacpp")]
    LlamaCppServer,
    /// Ollama's `/v1` OpenAI-compatible API.
    #[serde(rename = "ollama")]
    OllamaV1,
    /// Pollinations text generation.
    Pollinations,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 7] = [
        Preset::OpenAi,
        Preset::OpenRouter,
        Preset::Xai,
        Preset::DeepSeek,
        Preset::LlamaCppServer,
        Preset::OllamaV1,
        Preset::Pollinations,
    ];

    /// The preset's name, also the default instance id.
    pub const fn as_str(self) -> &'static str {
        match self {
            Preset::OpenAi => "openai",
            Preset::OpenRouter => "openrouter",
            Preset::Xai => "xai",
            Preset::DeepSeek => "deepseek",
            Preset::LlamaCppServer => "llamacpp",
            Preset::OllamaV1 => "ollama",
            Preset::Pollinations => "pollinations",
        }
    }

    /// The error dialect its servers speak.
    pub const fn kind(self) -> Provider {
        match self {
            Preset::OpenAi => Provider::OpenAi,
            Preset::OpenRouter => Provider::OpenRouter,
            Preset::Xai => Provider::Xai,
            Preset::DeepSeek => Provider::DeepSeek,
            Preset::LlamaCppServer => Provider::LlamaCpp,
            Preset::OllamaV1 => Provider::Ollama,
            Preset::Pollinations => Provider::Pollinations,
        }
    }

    /// The environment variables holding its key, in order of preference.
    pub const fn api_key_vars(self) -> &'static [&'static str] {
        match self {
            Preset::OpenAi => API_KEY_VARS,
            Preset::OpenRouter => &["OPENROUTER_API_KEY"],
            Preset::Xai => &["XAI_API_KEY", "GROK_API_KEY"],
            Preset::DeepSeek => &["DEEPSEEK_API_KEY"],
            Preset::LlamaCppServer => &["LLAMA_API_KEY"],
            Preset::OllamaV1 => &[],
            Preset::Pollinations => &["POLLINATIONS_API_TOKEN", "POLLINATIONS_API_KEY"],
        }
    }

    /// The environment variable that moves its base URL, where the service has one:
    /// `OPENAI_BASE_URL` (as openai-python reads it) and `OLLAMA_HOST` (`host:port` or a URL,
    /// as the Ollama CLI reads it; `/v1` is appended).
    pub const fn base_url_var(self) -> Option<&'static str> {
        match self {
            Preset::OpenAi => Some(BASE_URL_VAR),
            Preset::OllamaV1 => Some("OLLAMA_HOST"),
            _ => None,
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no [`Preset`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown preset `{0}`")]
pub struct ParsePresetError(String);

impl FromStr for Preset {
    type Err = ParsePresetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParsePresetError(s.chars().take(64).collect()))
    }
}

/// The server URL an `OLLAMA_HOST` value names, read the way the Ollama CLI reads it: the
/// scheme defaults to `http`, the host to `127.0.0.1`, the port to 11434 (80 or 443 when a
/// scheme is given without one).
pub(crate) fn ollama_host_url(value: &str) -> String {
    let value = value.trim();
    let (scheme, rest, default_port) = match value.split_once("://") {
        None => ("http", value, "11434"),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (scheme, rest, "443"),
        Some((scheme, rest)) => (scheme, rest, "80"),
    };
    let (hostport, path) = match rest.split_once('/') {
        Some((hp, path)) => (hp, path.trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(hostport);
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let port = port.unwrap_or(default_port);
    let mut url = format!("{scheme}://{host}:{port}");
    if !path.is_empty() {
        url.push('/');
        url.push_str(path);
    }
    url
}

/// `host:port`, `[v6]:port`, `host` or `[v6]`.
fn split_host_port(hostport: &str) -> (&str, Option<&str>) {
    if hostport.starts_with('[') {
        return match hostport.find(']') {
            Some(end) => {
                let host = &hostport[..=end];
                let port = hostport[end + 1..]
                    .strip_prefix(':')
                    .filter(|p| !p.is_empty());
                (host, port)
            }
            None => (hostport, None),
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && !port.is_empty() => (host, Some(port)),
        _ => (hostport, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ollama_host_is_read_like_the_ollama_cli() {
        let cases = [
            ("", "http://127.0.0.1:11434"),
            ("0.0.0.0", "http://0.0.0.0:11434"),
            ("gpu-box:11500", "http://gpu-box:11500"),
            ("http://gpu-box", "http://gpu-box:80"),
            (
                "https://ollama.example.com",
                "https://ollama.example.com:443",
            ),
            (
                "https://ollama.example.com/proxy/",
                "https://ollama.example.com:443/proxy",
            ),
            ("[::1]:9000", "http://[::1]:9000"),
            ("  localhost:11434  ", "http://localhost:11434"),
        ];
        for (input, want) in cases {
            assert_eq!(ollama_host_url(input), want, "OLLAMA_HOST={input:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for p in Preset::ALL {
            assert_eq!(p.as_str().parse::<Preset>(), Ok(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        assert!("grok".parse::<Preset>().is_err());
    }
}
