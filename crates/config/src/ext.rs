//! `RouterExt`: `Router::from_config`, `from_path` and `from_env`, for callers who want one
//! router rather than every group.

use std::path::Path;

use steadfast_router::Router;

use crate::error::ConfigError;
use crate::steadfast::Steadfast;

/// Builds a [`Router`] from a config: the router of the file's default group.
///
/// It is an extension trait because the router crate sits below the provider crates and
/// cannot build providers itself; bring it into scope and call `Router::from_config(…)`.
///
/// ```
/// use steadfast_config::RouterExt;
/// use steadfast_router::Router;
///
/// let router = Router::from_config("[deployments.m]\nkind = \"mock\"\n").unwrap();
/// assert_eq!(router.stats().providers[0].id, "m");
/// ```
pub trait RouterExt: Sized {
    /// The default group's router of a config text (TOML, or JSON when it starts with `{`).
    fn from_config(text: &str) -> Result<Self, ConfigError>;
    /// The default group's router of the file at `path`.
    fn from_path(path: impl AsRef<Path>) -> Result<Self, ConfigError>;
    /// A router over every provider whose key is set (see [`Steadfast::from_env`]).
    fn from_env() -> Result<Self, ConfigError>;
}

fn default_router(sf: &Steadfast) -> Result<Router, ConfigError> {
    sf.router(None)
        .ok_or_else(|| ConfigError::invalid("groups", "the config declares no chat deployment"))
}

impl RouterExt for Router {
    fn from_config(text: &str) -> Result<Router, ConfigError> {
        default_router(&Steadfast::from_config(text)?)
    }

    fn from_path(path: impl AsRef<Path>) -> Result<Router, ConfigError> {
        default_router(&Steadfast::from_path(path)?)
    }

    fn from_env() -> Result<Router, ConfigError> {
        default_router(&Steadfast::from_env()?)
    }
}
