//! Small pieces every provider here shares: the service a provider talks to (caller, key,
//! prepared requests, health check), and JSON body helpers.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::ApiKey;
use steadfast_providers_core::http::{Caller, join_url};

/// The HTTP service one provider instance talks to, borrowed from its config: every media
/// provider builds its callers, checks its key and prepares its requests through this.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Service<'a> {
    /// The error dialect.
    pub(crate) dialect: Provider,
    /// The instance id shown in errors.
    pub(crate) id: &'a str,
    /// The base URL paths are joined to.
    pub(crate) base_url: &'a str,
    /// The configured key, if any.
    pub(crate) key: Option<&'a ApiKey>,
    /// The variables that hold the key, named when it is required and missing; `None` when
    /// the service works without a key.
    pub(crate) key_vars: Option<&'static [&'static str]>,
    /// Extra headers sent with every request.
    pub(crate) headers: &'a BTreeMap<String, String>,
    /// One header every request carries (Runway's `X-Runway-Version`).
    pub(crate) fixed_header: Option<(&'static str, &'a str)>,
    /// The timeout of each request.
    pub(crate) timeout: Duration,
    pub(crate) client: &'a reqwest::Client,
}

impl<'a> Service<'a> {
    /// Who is calling, for errors about `model` (empty: no model).
    pub(crate) fn caller<'m>(&self, model: &'m str) -> Caller<'m>
    where
        'a: 'm,
    {
        Caller {
            kind: self.dialect,
            id: self.id,
            model,
            key: self.key,
        }
    }

    /// The key to send: an `auth` error, before anything is sent, when the service needs one
    /// and none (or an empty one) is configured.
    pub(crate) fn key(&self, caller: &Caller<'_>) -> Result<Option<&'a ApiKey>, ProviderError> {
        let key = self.key.filter(|k| !k.is_empty());
        match self.key_vars {
            Some(vars) if key.is_none() => Err(missing_key(caller, vars)),
            _ => Ok(key),
        }
    }

    /// `path` joined to the base URL.
    pub(crate) fn url(&self, path: &str) -> String {
        join_url(self.base_url, path)
    }

    /// A request to `url` with the bearer key (when there is one), the fixed and extra
    /// headers and the per-request timeout.
    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        key: Option<&ApiKey>,
    ) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method, url).timeout(self.timeout);
        if let Some(key) = key.filter(|k| !k.is_empty()) {
            request = request.bearer_auth(key.expose());
        }
        if let Some((name, value)) = self.fixed_header {
            request = request.header(name, value);
        }
        for (name, value) in self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request
    }

    /// A cheap call that proves the service answers (with the key, where one is needed):
    /// `GET url`.
    pub(crate) async fn health_check(&self, url: &str) -> Result<(), ProviderError> {
        let caller = self.caller("");
        let key = self.key(&caller)?;
        caller
            .send(self.request(reqwest::Method::GET, url, key))
            .await?;
        Ok(())
    }
}

/// The error for a provider that needs a key and has none; no request is sent. It names the
/// first of `vars`, the conventional one.
fn missing_key(caller: &Caller<'_>, vars: &[&str]) -> ProviderError {
    let var = vars.first().copied().unwrap_or("the API key variable");
    caller.label(ProviderError::new(
        ErrorKind::Auth,
        caller.kind.as_str(),
        format!("no API key configured (set {var} or the config's api_key)"),
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
