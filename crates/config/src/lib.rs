//! One config file (TOML, or JSON) that builds a whole router: deployments of every
//! provider kind, model groups over them, and router-wide defaults — the way LiteLLM's
//! `config.yaml` does.
//!
//! The key decisions:
//!
//! - **A group is a router.** A model group (`fast`, `gpt-4o-mini`) is the unit a caller
//!   names; each is one [`Router`](steadfast_router::Router) over its deployments, with its
//!   own strategy, deadline and budget. [`Steadfast`] holds every group and moves a failed
//!   call to the group's fallback groups (plain, context-window and content-policy lists).
//! - **This crate builds, the router routes.** `steadfast-router` sits below the provider
//!   crates and cannot depend on them, so building providers lives here and
//!   `Router::from_config` is the extension trait [`RouterExt`].
//! - **Keys are references.** `api_key = "env:OPENAI_API_KEY"`; a literal key is refused,
//!   and no error quotes the file.
//! - **Strict.** An unknown field, or a field the deployment's kind does not read, is an
//!   error with its line and dotted path ([`ConfigError`]).
//!
//! `docs/config.md` in the repository documents every field.
//!
//! # Example
//!
//! ```
//! use steadfast_config::{ConfigError, Steadfast};
//!
//! let err = Steadfast::from_config(r#"
//! [deployments.gpt]
//! kind = "openai"
//! model = "gpt-4o-mini"
//! api_key = "env:STEADFAST_DOC_UNSET_KEY"
//! "#).unwrap_err();
//! assert!(matches!(&err, ConfigError::MissingEnv { deployment, var }
//!     if deployment == "gpt" && var == "STEADFAST_DOC_UNSET_KEY"));
//! ```

mod build;
mod env;
mod error;
mod ext;
mod file;
mod gateway;
mod metrics;
mod parse;
mod secret;
mod shared;
mod status;
mod steadfast;

pub use build::{AZURE_API_VERSION, AZURE_KEY_VARS};
pub use env::{ENV_ORDER, env_config};
pub use error::ConfigError;
pub use ext::RouterExt;
pub use file::{
    ConfigFile, Deployment, DeploymentTimeouts, GroupConfig, Kind, MockStep, RouterDefaults,
};
pub use gateway::GatewaySettings;
pub use metrics::{AttemptMetric, JsonLinesObserver};
pub use parse::Format;
pub use secret::KeyRef;
pub use shared::SharedSection;
pub use status::{DeploymentStatus, Media, MediaStatus, STATUS_PROBE_TIMEOUT};
pub use steadfast::{CallError, DEFAULT_GROUP, DeploymentInfo, Steadfast};
pub use steadfast_router::media::{MediaError, MediaRouted, MediaStats};
