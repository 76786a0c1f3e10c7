//! `KeyRef`: an API key written in a file as a reference to where it lives, never the key.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use steadfast_providers_core::ApiKey;

/// Where an API key comes from: `env:NAME` (or LiteLLM's `os.environ/NAME`) reads the
/// environment variable `NAME` when the config is built.
///
/// A literal key is refused when the file is read, so keys stay out of files that get
/// committed, and the error never repeats what was written.
///
/// ```
/// use steadfast_config::KeyRef;
///
/// let key: KeyRef = "env:OPENAI_API_KEY".parse().unwrap();
/// assert_eq!(key.var(), "OPENAI_API_KEY");
/// let litellm: KeyRef = "os.environ/OPENAI_API_KEY".parse().unwrap();
/// assert_eq!(litellm, key);
/// let err = "sk-live-1234".parse::<KeyRef>().unwrap_err();
/// assert!(!err.contains("sk-live-1234"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyRef {
    var: String,
}

impl KeyRef {
    /// A reference to the environment variable `var`.
    pub fn env(var: impl Into<String>) -> KeyRef {
        KeyRef { var: var.into() }
    }

    /// The environment variable it names.
    pub fn var(&self) -> &str {
        &self.var
    }

    /// The key, read through `lookup`; `None` when the variable is unset or blank.
    pub(crate) fn resolve(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<ApiKey> {
        lookup(&self.var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(ApiKey::new)
    }
}

fn valid_var(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl std::str::FromStr for KeyRef {
    type Err = String;

    fn from_str(s: &str) -> Result<KeyRef, String> {
        let var = s
            .strip_prefix("env:")
            .or_else(|| s.strip_prefix("os.environ/"))
            .ok_or_else(|| {
                "an API key must be a reference such as \"env:OPENAI_API_KEY\", not the key itself"
                    .to_owned()
            })?;
        if !valid_var(var) {
            return Err(format!(
                "`{var}` is not an environment variable name (letters, digits and `_`)"
            ));
        }
        Ok(KeyRef::env(var))
    }
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRef(env:{})", self.var)
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "env:{}", self.var)
    }
}

impl Serialize for KeyRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyRef, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_and_literals_are_refused() {
        let k: KeyRef = "env:MY_KEY".parse().unwrap();
        let lookup = |n: &str| (n == "MY_KEY").then(|| " secret ".to_owned());
        assert_eq!(k.resolve(&lookup).unwrap().expose(), "secret");
        let blank = |_: &str| Some("  ".to_owned());
        assert!(k.resolve(&blank).is_none());
        assert!("env:".parse::<KeyRef>().is_err());
        assert!("env:BAD-NAME".parse::<KeyRef>().is_err());
        assert!("sk-123".parse::<KeyRef>().is_err());
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"env:MY_KEY\"");
    }
}
