//! The `[shared]` table: router state shared across instances on Redis (rate windows,
//! budgets, breaker trips), and what builds it.
//!
//! ```toml
//! [shared]
//! redis_url = "env:REDIS_URL"   # a reference, since the URL may hold a password
//! namespace = "my-service"      # default "steadfast"
//! refresh_interval = "50ms"     # default 50 ms
//! timeout = "50ms"              # default 50 ms, per Redis command
//! ```
//!
//! Routers are given the shared state when they are built; its sync task needs a tokio
//! runtime then (a config loaded outside one stays local, with a warning). Needs the
//! default-on `redis` feature.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_router::{SharedConfig, SharedState};

use crate::error::ConfigError;
use crate::secret::KeyRef;

/// The `[shared]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedSection {
    /// Where the Redis URL is, as `env:NAME`. Default `env:REDIS_URL`.
    pub redis_url: KeyRef,
    /// The prefix of every key. Default `steadfast`.
    pub namespace: String,
    /// How often each router reads the cluster view. Default 50 ms.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub refresh_interval: Duration,
    /// The longest one Redis command may take before the router fails open. Default 50 ms.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
}

impl Default for SharedSection {
    fn default() -> Self {
        SharedSection {
            redis_url: KeyRef::env("REDIS_URL"),
            namespace: "steadfast".to_owned(),
            refresh_interval: Duration::from_millis(50),
            timeout: Duration::from_millis(50),
        }
    }
}

/// The shared state and its settings, as every router of a config is given them.
pub(crate) type Shared = (Arc<dyn SharedState>, SharedConfig);

impl SharedSection {
    /// The Redis state this table describes; the URL is read through `lookup`.
    pub(crate) fn build(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Shared, ConfigError> {
        let var = self.redis_url.var();
        let url = lookup(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ConfigError::invalid(
                    "shared.redis_url",
                    format!("environment variable {var} is not set"),
                )
            })?;
        if self.namespace.trim().is_empty() {
            return Err(ConfigError::invalid(
                "shared.namespace",
                "must not be empty",
            ));
        }
        let mut config = SharedConfig::with_refresh_interval(self.refresh_interval);
        config.timeout = self.timeout.max(Duration::from_millis(1));
        connect(&url, self, config)
    }
}

#[cfg(feature = "redis")]
fn connect(
    url: &str,
    section: &SharedSection,
    config: SharedConfig,
) -> Result<Shared, ConfigError> {
    use steadfast_shared_redis::{RedisConfig, RedisState};
    let mut redis = RedisConfig::new(url, section.namespace.clone());
    redis.timeout = config.timeout;
    let state = RedisState::new(redis)
        .map_err(|e| ConfigError::invalid("shared.redis_url", e.to_string()))?;
    Ok((Arc::new(state), config))
}

#[cfg(not(feature = "redis"))]
fn connect(_: &str, _: &SharedSection, _: SharedConfig) -> Result<Shared, ConfigError> {
    Err(ConfigError::invalid(
        "shared",
        "steadfast-config was built without its `redis` feature",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::ConfigFile;

    #[test]
    fn parses_with_defaults_and_never_prints_the_url() {
        let file: ConfigFile = toml::from_str("[shared]\nnamespace = \"svc\"\n").unwrap();
        let shared = file.shared.expect("table");
        assert_eq!(shared.redis_url.var(), "REDIS_URL");
        assert_eq!(shared.refresh_interval, Duration::from_millis(50));
        let lookup =
            |v: &str| (v == "REDIS_URL").then(|| "redis://:hunter2@127.0.0.1:1/".to_owned());
        let (state, config) = shared.build(&lookup).unwrap();
        assert_eq!(config.refresh_interval, Duration::from_millis(50));
        assert!(!format!("{state:?}").contains("hunter2"));
        let err = shared.build(&|_| None).unwrap_err();
        assert!(err.to_string().contains("REDIS_URL"), "{err}");
        let err = toml::from_str::<ConfigFile>("[shared]\nredis_url = \"redis://x\"\n");
        assert!(
            err.is_err(),
            "a literal URL is refused: it may hold a password"
        );
    }
}
