//! The `[gateway]` table: how `steadfast serve` listens, whom it lets in, and its limits.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_providers_core::ApiKey;

use crate::error::ConfigError;
use crate::secret::KeyRef;

/// The `[gateway]` table of a config file, read by the HTTP gateway (`steadfast serve`).
///
/// ```toml
/// [gateway]
/// listen = "127.0.0.1:4000"
/// keys = ["env:STEADFAST_GATEWAY_KEY"]
/// max_body_bytes = 4194304
/// max_concurrency = 1024
/// header_read_timeout = "10s"
/// shutdown_grace = "30s"
/// ```
///
/// ```
/// use std::time::Duration;
/// use steadfast_config::{ConfigFile, Format};
///
/// let file = ConfigFile::parse("[gateway]\nkeys = [\"env:GW_KEY\"]\nshutdown_grace = \"5s\"\n", Format::Toml).unwrap();
/// assert_eq!(file.gateway.keys[0].var(), "GW_KEY");
/// assert_eq!(file.gateway.shutdown_grace, Duration::from_secs(5));
/// assert_eq!(file.gateway.listen, None);
/// let keys = file.gateway.resolve_keys(&|v| (v == "GW_KEY").then(|| "s3cret".to_owned())).unwrap();
/// assert_eq!(keys[0].expose(), "s3cret");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    /// The address to listen on. Default: none here (`steadfast serve` uses
    /// `127.0.0.1:4000`; `--listen` replaces it).
    pub listen: Option<String>,
    /// The gateway keys clients send as `Authorization: Bearer …`, as references
    /// (`env:NAME`). Default none: no key is asked for, and the gateway listens on loopback
    /// only unless told otherwise.
    pub keys: Vec<KeyRef>,
    /// The largest request body accepted, in bytes; a larger one is refused with 413.
    /// Default 4 MiB.
    pub max_body_bytes: usize,
    /// Requests served at once; more are refused with 503 and `Retry-After`. Default 1024.
    pub max_concurrency: usize,
    /// The time a client has to send a request's headers; a slower one is disconnected.
    /// Default 10 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub header_read_timeout: Duration,
    /// On shutdown, how long streams in flight may go on before they are ended with an
    /// in-band error. Default 30 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub shutdown_grace: Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            listen: None,
            keys: Vec::new(),
            max_body_bytes: 4 * 1024 * 1024,
            max_concurrency: 1024,
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl GatewaySettings {
    /// The gateway keys, read through `lookup` (the process environment, or a map in
    /// tests). A referenced variable that is unset or blank is an error naming it (as
    /// [`ConfigError::MissingEnv`] with `deployment` `"[gateway]"`), never a gateway that
    /// silently lets everyone in.
    pub fn resolve_keys(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<ApiKey>, ConfigError> {
        self.keys
            .iter()
            .map(|k| {
                k.resolve(lookup).ok_or_else(|| ConfigError::MissingEnv {
                    deployment: "[gateway]".to_owned(),
                    var: k.var().to_owned(),
                })
            })
            .collect()
    }
}
