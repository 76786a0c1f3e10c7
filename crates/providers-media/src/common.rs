//! Small pieces every provider here shares: auth headers, extra headers, JSON bodies.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::ApiKey;
use steadfast_providers_core::http::Caller;

/// Adds the bearer key (when there is one), the extra headers and the per-request timeout.
pub(crate) fn prepare(
    request: reqwest::RequestBuilder,
    key: Option<&ApiKey>,
    headers: &BTreeMap<String, String>,
    timeout: Duration,
) -> reqwest::RequestBuilder {
    let mut request = request.timeout(timeout);
    if let Some(key) = key.filter(|k| !k.is_empty()) {
        request = request.bearer_auth(key.expose());
    }
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request
}

/// The error for a provider that needs a key and has none; no request is sent.
pub(crate) fn missing_key(caller: &Caller<'_>, vars: &str) -> ProviderError {
    caller.label(ProviderError::new(
        ErrorKind::Auth,
        caller.kind.as_str(),
        format!("no API key configured (set {vars} or the config's api_key)"),
    ))
}

/// A local refusal of a request that cannot succeed as asked; no request is sent.
pub(crate) fn invalid(caller: &Caller<'_>, message: &str) -> ProviderError {
    caller.label(ProviderError::new(
        ErrorKind::InvalidRequest,
        caller.kind.as_str(),
        message,
    ))
}

/// A success body that is not what the API documents.
pub(crate) fn protocol(caller: &Caller<'_>, message: &str) -> ProviderError {
    caller.label(ProviderError::new(
        ErrorKind::Protocol,
        caller.kind.as_str(),
        message,
    ))
}

/// Reads a whole success body as JSON of type `T`.
pub(crate) async fn json<T: DeserializeOwned>(
    caller: &Caller<'_>,
    response: reqwest::Response,
) -> Result<(T, Value), ProviderError> {
    let body = caller.body(response).await?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| protocol(caller, &format!("response is not JSON: {e}")))?;
    let typed = serde_json::from_value(value.clone())
        .map_err(|e| protocol(caller, &format!("unexpected response shape: {e}")))?;
    Ok((typed, value))
}

/// Copies `extra` over `body` (extra wins: it is the caller's explicit wish).
pub(crate) fn merge(body: &mut Map<String, Value>, extra: &Map<String, Value>) {
    for (k, v) in extra {
        body.insert(k.clone(), v.clone());
    }
}

/// Inserts `value` under `key` when it is `Some`.
pub(crate) fn put<V: Into<Value>>(body: &mut Map<String, Value>, key: &str, value: Option<V>) {
    if let Some(v) = value {
        body.insert(key.to_owned(), v.into());
    }
}

/// Debug output for a provider: its id and base URL, nothing from the client or the key.
pub(crate) fn debug_provider(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    id: &str,
    base_url: &str,
    has_key: bool,
) -> std::fmt::Result {
    f.debug_struct(name)
        .field("id", &id)
        .field("base_url", &base_url)
        .field("api_key", &if has_key { "[REDACTED]" } else { "none" })
        .finish_non_exhaustive()
}
