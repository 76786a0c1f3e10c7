//! `OllamaConfig`: where the server is, how long to wait, which models, and the optional key.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use steadfast_providers_core::{ApiKey, ModelInfo};
use steadfast_streaming::Timeouts;

/// The server an unconfigured client talks to: Ollama's own default.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:11434";

/// The port Ollama listens on when `OLLAMA_HOST` names none.
pub const DEFAULT_PORT: u16 = 11434;

/// The environment variable naming the server (`host`, `host:port` or a full URL).
pub const HOST_VAR: &str = "OLLAMA_HOST";

/// The environment variables holding a key for Ollama cloud or an authenticating proxy, in
/// the order they are read.
pub const API_KEY_VARS: &[&str] = &["OLLAMA_API_KEY"];

/// How to reach one Ollama server.
///
/// Every field has a default (see [`Default`]); durations in files are milliseconds or
/// strings such as `"90s"`:
///
/// ```
/// use std::time::Duration;
/// use steadfast_providers_ollama::OllamaConfig;
///
/// let config: OllamaConfig = serde_json::from_str(r#"{
///     "id": "ollama-gpu",
///     "base_url": "http://gpu-box:11434",
///     "timeout": "2m",
///     "stream": { "first_byte": "90s", "idle": "30s" }
/// }"#).unwrap();
/// assert_eq!(config.timeout, Duration::from_secs(120));
/// assert!(config.api_key.is_none());
/// assert!(config.assistant_prefill);
/// ```
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OllamaConfig {
    /// The instance id shown in errors and metrics. Default `"ollama"`.
    pub id: String,
    /// The server, without `/api`. Default [`DEFAULT_BASE_URL`]; [`from_env`](Self::from_env)
    /// reads `OLLAMA_HOST`. `Debug` shows it without a password or query values.
    pub base_url: String,
    /// A key sent as `Authorization: Bearer …` (Ollama cloud, or a proxy that wants one).
    /// Default none: a local server needs no key.
    pub api_key: Option<ApiKey>,
    /// The longest a whole non-streamed answer may take, and the longest a stream may take
    /// to send its response headers; [`ChatRequest::timeout`] overrides it per request.
    /// Default 300 s (a local model may need a while to load).
    ///
    /// [`ChatRequest::timeout`]: steadfast_providers_core::ChatRequest::timeout
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// Timers for streamed bodies. Default: first event within 120 s (model load included),
    /// then at most 60 s between events, and at most
    /// [`DEFAULT_STREAM_TOTAL`](steadfast_providers_core::http::DEFAULT_STREAM_TOTAL) (30
    /// minutes) in all.
    pub stream: Timeouts,
    /// The models served, with context windows and optional prices. Default empty (any model
    /// the caller names).
    pub models: Vec<ModelInfo>,
    /// Extra headers sent with every request (e.g. for a proxy). Default none. Their values
    /// are never printed by `Debug`.
    pub headers: BTreeMap<String, String>,
    /// Whether a trailing assistant message is continued exactly (a prefill). True for the
    /// templates and renderers of Ollama's library models, which leave the last assistant
    /// turn open; set it to false for a model whose custom `TEMPLATE` closes every turn.
    /// Reported as [`Capabilities::prefill`](steadfast_providers_core::Capabilities::prefill).
    /// Default true.
    pub assistant_prefill: bool,
}

impl Default for OllamaConfig {
    fn default() -> Self {
        OllamaConfig {
            id: "ollama".to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            timeout: Duration::from_secs(300),
            stream: Timeouts {
                first_byte: Some(Duration::from_secs(120)),
                idle: Some(Duration::from_secs(60)),
                total: Some(steadfast_providers_core::http::DEFAULT_STREAM_TOTAL),
                keep_alive_resets_idle: false,
            },
            models: Vec::new(),
            headers: BTreeMap::new(),
            assistant_prefill: true,
        }
    }
}

impl OllamaConfig {
    /// The defaults, with `OLLAMA_HOST` as the base URL and `OLLAMA_API_KEY` as the key
    /// when they are set. Neither value is ever logged.
    pub fn from_env() -> OllamaConfig {
        OllamaConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup` (for tests and
    /// for configuration systems other than the process environment).
    ///
    /// ```
    /// use steadfast_providers_ollama::OllamaConfig;
    ///
    /// let config = OllamaConfig::from_lookup(|name| match name {
    ///     "OLLAMA_HOST" => Some("gpu-box:11500".to_owned()),
    ///     _ => None,
    /// });
    /// assert_eq!(config.base_url, "http://gpu-box:11500");
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> OllamaConfig {
        let mut config = OllamaConfig::default();
        if let Some(host) = lookup(HOST_VAR).filter(|h| !h.trim().is_empty()) {
            config.base_url = normalize_host(&host);
        }
        config.api_key = API_KEY_VARS
            .iter()
            .filter_map(|name| lookup(name))
            .map(|k| k.trim().to_owned())
            .find(|k| !k.is_empty())
            .map(ApiKey::new);
        config
    }
}

impl fmt::Debug for OllamaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: show their names only.
        let headers: Vec<&str> = self.headers.keys().map(String::as_str).collect();
        f.debug_struct("OllamaConfig")
            .field("id", &self.id)
            .field(
                "base_url",
                &steadfast_providers_core::secret::RedactedUrl(&self.base_url),
            )
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("stream", &self.stream)
            .field("models", &self.models)
            .field("headers", &headers)
            .field("assistant_prefill", &self.assistant_prefill)
            .finish()
    }
}

/// Turns an `OLLAMA_HOST` value into a base URL, the way the Ollama CLI reads it.
///
/// A value without a scheme gets `http://`; one without a port gets `:11434` (a value *with*
/// a scheme keeps the scheme's default port, as in Ollama). The unspecified addresses a
/// server binds to (`0.0.0.0`, `::`) become loopback, since a client cannot connect to them
/// everywhere; an empty host is `127.0.0.1`. A trailing slash is dropped.
///
/// ```
/// use steadfast_providers_ollama::normalize_host;
///
/// assert_eq!(normalize_host("127.0.0.1:11434"), "http://127.0.0.1:11434");
/// assert_eq!(normalize_host("gpu-box"), "http://gpu-box:11434");
/// assert_eq!(normalize_host("0.0.0.0"), "http://127.0.0.1:11434");
/// assert_eq!(normalize_host(":8080"), "http://127.0.0.1:8080");
/// assert_eq!(normalize_host("[::1]"), "http://[::1]:11434");
/// assert_eq!(normalize_host("https://ollama.com/"), "https://ollama.com");
/// ```
pub fn normalize_host(value: &str) -> String {
    let value = value.trim();
    if let Some((scheme, rest)) = value.split_once("://") {
        return format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            rest.trim_end_matches('/')
        );
    }
    let (hostport, path) = match value.split_once('/') {
        Some((h, p)) => (h, p.trim_end_matches('/')),
        None => (value, ""),
    };
    let (host, port) = split_host_port(hostport);
    let host = match host.as_str() {
        "" | "0.0.0.0" => "127.0.0.1".to_owned(),
        "[::]" => "[::1]".to_owned(),
        _ => host,
    };
    let port = port.unwrap_or_else(|| DEFAULT_PORT.to_string());
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    format!("http://{host}:{port}{path}")
}

/// Splits `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 address (bracketed in the result)
/// or a bare host.
fn split_host_port(hostport: &str) -> (String, Option<String>) {
    if hostport.starts_with('[') {
        return match hostport.find(']') {
            Some(end) => {
                let port = hostport[end + 1..]
                    .strip_prefix(':')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned);
                (hostport[..=end].to_owned(), port)
            }
            None => (hostport.to_owned(), None),
        };
    }
    match hostport.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address.
        Some((host, _)) if host.contains(':') => (format!("[{hostport}]"), None),
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host.to_owned(), Some(port.to_owned()))
        }
        Some((host, _)) => (host.to_owned(), None),
        None => (hostport.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_has_a_total_deadline_by_default() {
        assert_eq!(
            OllamaConfig::default().stream.total,
            Some(steadfast_providers_core::http::DEFAULT_STREAM_TOTAL)
        );
    }

    #[test]
    fn a_base_url_password_never_prints() {
        let c = OllamaConfig {
            base_url: "http://proxy:Pw-Otter-9912@gpu-box:11434?token=Qs-Heron-5521".into(),
            ..OllamaConfig::default()
        };
        let shown = format!("{c:?} {c:#?}");
        assert!(
            !shown.contains("Pw-Otter-9912") && !shown.contains("Qs-Heron-5521"),
            "{shown}"
        );
        assert!(shown.contains("gpu-box:11434"), "{shown}");
    }

    #[test]
    fn hosts_normalize_like_the_ollama_cli() {
        let cases = [
            ("localhost", "http://localhost:11434"),
            ("localhost:11435", "http://localhost:11435"),
            ("  example.com:1234  ", "http://example.com:1234"),
            ("http://example.com", "http://example.com"),
            ("HTTP://example.com:80/", "http://example.com:80"),
            ("::", "http://[::1]:11434"),
            ("[::]:5000", "http://[::1]:5000"),
            ("[2001:db8::1]:5000", "http://[2001:db8::1]:5000"),
            ("proxy.local/ollama", "http://proxy.local:11434/ollama"),
            ("2001:db8::1", "http://[2001:db8::1]:11434"),
            ("proxy.local:8080/ollama/", "http://proxy.local:8080/ollama"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_host(input), want, "{input}");
        }
    }

    #[test]
    fn env_reads_host_and_key_and_ignores_blanks() {
        let c = OllamaConfig::from_lookup(|n| match n {
            HOST_VAR => Some("   ".to_owned()),
            "OLLAMA_API_KEY" => Some(" sk-ollama-cloud-123 ".to_owned()),
            _ => None,
        });
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(
            c.api_key.as_ref().map(ApiKey::expose),
            Some("sk-ollama-cloud-123")
        );
        assert!(!format!("{c:?}").contains("sk-ollama-cloud-123"));

        let c = OllamaConfig::from_lookup(|_| None);
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(c.api_key.is_none());
    }

    #[test]
    fn debug_hides_header_values() {
        let mut c = OllamaConfig::default();
        c.headers
            .insert("x-proxy-auth".to_owned(), "proxy-secret-value".to_owned());
        let shown = format!("{c:?}");
        assert!(shown.contains("x-proxy-auth"));
        assert!(!shown.contains("proxy-secret-value"));
    }
}
