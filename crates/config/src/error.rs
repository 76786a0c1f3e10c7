//! `ConfigError`: why a config file could not be read, parsed, or built — with the line and
//! field, and never a key's value.

use std::path::PathBuf;

/// Why a config could not be used.
///
/// Messages name the place (line and column, the dotted field path) and, for a missing
/// environment variable, the variable and the deployment; they never quote the file, so a
/// key written where a reference belongs is not repeated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a valid config: bad syntax, an unknown field, a wrong type.
    #[error("{}line {line}, column {column}{}: {message}", file_prefix(path.as_ref()), field_suffix(field.as_deref()))]
    Parse {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The dotted path of the field, when known (`deployments.primary.api_key`).
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A deployment's key reference names a variable that is not set.
    #[error(
        "deployment `{deployment}`: environment variable {var} is not set (api_key = \"env:{var}\")"
    )]
    MissingEnv {
        /// The deployment.
        deployment: String,
        /// The variable.
        var: String,
    },
    /// A value is well-formed but not usable (a field for another kind, a missing required
    /// field, a group naming a deployment that does not exist, …).
    #[error("{field}: {message}")]
    Invalid {
        /// The dotted path of the field (`groups.fast.deployments`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn file_prefix(path: Option<&PathBuf>) -> String {
    path.map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

fn field_suffix(field: Option<&str>) -> String {
    field.map(|f| format!(" (`{f}`)")).unwrap_or_default()
}

impl ConfigError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, said to come from `path`.
    pub(crate) fn in_file(self, file: PathBuf) -> ConfigError {
        match self {
            ConfigError::Parse {
                line,
                column,
                field,
                message,
                ..
            } => ConfigError::Parse {
                path: Some(file),
                line,
                column,
                field,
                message,
            },
            other => other,
        }
    }
}
