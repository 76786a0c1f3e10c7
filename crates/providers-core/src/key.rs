//! `ApiKey`: a credential that never shows itself in Debug, Display, logs or errors.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// An API key. Its `Debug` and `Display` print `[REDACTED]`; the secret is only reachable
/// through [`expose`](ApiKey::expose), at the one place a request header is built.
///
/// ```
/// use steadfast_providers_core::ApiKey;
///
/// let key = ApiKey::new("sk-proj-verysecret123456");
/// assert_eq!(format!("{key:?} {key}"), "ApiKey([REDACTED]) [REDACTED]");
/// assert_eq!(key.expose(), "sk-proj-verysecret123456");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The first of `vars` that is set and not empty.
    pub fn from_env(vars: &[&str]) -> Option<ApiKey> {
        vars.iter()
            .filter_map(|v| std::env::var(v).ok())
            .map(|k| k.trim().to_owned())
            .find(|k| !k.is_empty())
            .map(ApiKey)
    }

    /// The secret itself, for building the auth header. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> Deserialize<'de> for ApiKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ApiKey)
    }
}
