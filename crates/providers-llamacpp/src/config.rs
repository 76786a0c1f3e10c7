//! `LlamaCppConfig`: which binary, which model, which flags, and the limits of one run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use steadfast_providers_core::ModelInfo;
use steadfast_streaming::Timeouts;

use crate::template::{PromptFormatter, PromptTemplate};

/// The environment variable naming the binary.
pub const BIN_VAR: &str = "LLAMA_CPP_BIN";

/// The environment variable naming the GGUF model file.
pub const MODEL_VAR: &str = "LLAMA_CPP_MODEL";

/// The binary run when none is configured.
pub const DEFAULT_BINARY: &str = "llama-cli";

/// The binaries [`LlamaCppConfig::from_env`] looks for on `PATH`, in order: the scripted
/// completion tool first (`llama-completion`, split out of `llama-cli` when `llama-cli`
/// became an interactive chat), then `llama-cli` for older builds.
pub const PATH_CANDIDATES: [&str; 2] = ["llama-completion", DEFAULT_BINARY];

/// The flags that put the binary in plain completion mode, passed unless replaced in
/// [`LlamaCppConfig::cli_flags`]: no conversation mode (steadfast renders the chat itself),
/// no echo of the prompt on stdout, and no processing of `\n`-style escapes in the prompt
/// (which would alter user text that contains backslashes).
pub const DEFAULT_CLI_FLAGS: [&str; 3] = ["-no-cnv", "--no-display-prompt", "--no-escape"];

/// How to run llama.cpp locally for one model.
///
/// Defaults are documented per field; durations in files are milliseconds or strings:
///
/// ```
/// use std::time::Duration;
/// use steadfast_providers_llamacpp::{LlamaCppConfig, PromptTemplate};
///
/// let config: LlamaCppConfig = serde_json::from_str(r#"{
///     "binary": "/opt/llama.cpp/build/bin/llama-completion",
///     "model_path": "/models/qwen2.5-7b-instruct-q4_k_m.gguf",
///     "template": "chatml",
///     "args": ["-ngl", "99", "-c", "8192"],
///     "timeout": "2m"
/// }"#).unwrap();
/// assert_eq!(config.template, PromptTemplate::ChatMl);
/// assert_eq!(config.timeout, Duration::from_secs(120));
/// assert_eq!(config.cli_flags, ["-no-cnv", "--no-display-prompt", "--no-escape"]);
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlamaCppConfig {
    /// The instance id shown in errors and metrics. Default `"llamacpp"`.
    pub id: String,
    /// The executable: a path, or a name looked up on `PATH` when the process starts.
    /// Default [`DEFAULT_BINARY`] (`llama-cli`); [`from_env`](Self::from_env) reads
    /// `LLAMA_CPP_BIN` or finds `llama-completion` / `llama-cli` on `PATH`.
    ///
    /// On llama.cpp builds where `llama-cli` is the interactive chat (late 2025 on), point
    /// this at `llama-completion`: the new `llama-cli` ignores `-no-cnv` and waits for a
    /// next turn, which this provider meets with its timeout.
    pub binary: PathBuf,
    /// The GGUF model file, passed as `-m`. Default empty: no `-m` (for `args` such as
    /// `-hf repo`); [`from_env`](Self::from_env) reads `LLAMA_CPP_MODEL`.
    pub model_path: PathBuf,
    /// How the conversation becomes a prompt. Default [`PromptTemplate::ChatMl`].
    pub template: PromptTemplate,
    /// A custom formatter that replaces [`template`](Self::template) (code only, not read
    /// from files). Default none.
    #[serde(skip)]
    pub formatter: Option<Arc<dyn PromptFormatter>>,
    /// The completion-mode flags; default [`DEFAULT_CLI_FLAGS`]. Replace them for a build
    /// that does not know one of them.
    pub cli_flags: Vec<String>,
    /// Extra arguments appended last (GPU layers, context size, threads…), e.g.
    /// `["-ngl", "99", "-c", "8192"]`. Default none.
    pub args: Vec<String>,
    /// The longest one run may take, model loading included; the process is killed when it
    /// is exceeded. [`ChatRequest::timeout`] overrides it per request. Default 300 s.
    ///
    /// [`ChatRequest::timeout`]: steadfast_providers_core::ChatRequest::timeout
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// Timers for streamed answers: first output (model load included) and the gap between
    /// outputs. Default first byte 120 s, idle 60 s.
    pub stream: Timeouts,
    /// The most stdout bytes one run may write; beyond it the process is killed and the
    /// answer ends with a `protocol` error. Default 2 MiB.
    pub max_output_bytes: usize,
    /// How long `health_check` waits for `<binary> --version`. Default 10 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub health_timeout: Duration,
    /// The models this instance serves, with optional prices. Default empty.
    pub models: Vec<ModelInfo>,
}

impl Default for LlamaCppConfig {
    fn default() -> Self {
        LlamaCppConfig {
            id: "llamacpp".to_owned(),
            binary: PathBuf::from(DEFAULT_BINARY),
            model_path: PathBuf::new(),
            template: PromptTemplate::default(),
            formatter: None,
            cli_flags: DEFAULT_CLI_FLAGS.iter().map(|f| (*f).to_owned()).collect(),
            args: Vec::new(),
            timeout: Duration::from_secs(300),
            stream: Timeouts {
                first_byte: Some(Duration::from_secs(120)),
                idle: Some(Duration::from_secs(60)),
                total: None,
                keep_alive_resets_idle: false,
            },
            max_output_bytes: 2 * 1024 * 1024,
            health_timeout: Duration::from_secs(10),
            models: Vec::new(),
        }
    }
}

impl LlamaCppConfig {
    /// The defaults, with the binary from `LLAMA_CPP_BIN` (else the first of
    /// [`PATH_CANDIDATES`] found on `PATH`, else `llama-cli`) and the model from
    /// `LLAMA_CPP_MODEL`.
    pub fn from_env() -> LlamaCppConfig {
        LlamaCppConfig::from_lookup(|name| std::env::var_os(name))
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// ```
    /// use std::path::Path;
    /// use steadfast_providers_llamacpp::LlamaCppConfig;
    ///
    /// let config = LlamaCppConfig::from_lookup(|name| match name {
    ///     "LLAMA_CPP_BIN" => Some("/opt/llama/llama-completion".into()),
    ///     "LLAMA_CPP_MODEL" => Some("/models/phi-3-mini.gguf".into()),
    ///     _ => None,
    /// });
    /// assert_eq!(config.binary, Path::new("/opt/llama/llama-completion"));
    /// assert_eq!(config.model_path, Path::new("/models/phi-3-mini.gguf"));
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> LlamaCppConfig {
        let mut config = LlamaCppConfig::default();
        let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
        config.binary = match set(BIN_VAR) {
            Some(bin) => PathBuf::from(bin),
            None => set("PATH")
                .and_then(|path| find_on_path(&path, &PATH_CANDIDATES))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_BINARY)),
        };
        if let Some(model) = set(MODEL_VAR) {
            config.model_path = PathBuf::from(model);
        }
        config
    }

    /// The formatter in effect: the custom one, else the template.
    pub(crate) fn formatter(&self) -> &dyn PromptFormatter {
        match &self.formatter {
            Some(f) => f.as_ref(),
            None => &self.template,
        }
    }
}

/// The first of `names` that is a file in one of the `PATH` directories.
fn find_on_path(path: &std::ffi::OsStr, names: &[&str]) -> Option<PathBuf> {
    names.iter().find_map(|name| {
        std::env::split_paths(path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_file(candidate))
    })
}

fn is_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_completion_binary_is_preferred_on_path() {
        let dir =
            std::env::temp_dir().join(format!("steadfast-llamacpp-path-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("llama-cli"), b"").unwrap();
        std::fs::write(b.join("llama-completion"), b"").unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();

        let config = LlamaCppConfig::from_lookup(|n| (n == "PATH").then(|| path.clone()));
        assert_eq!(config.binary, b.join("llama-completion"));

        let only_cli = std::env::join_paths([&a]).unwrap();
        let config = LlamaCppConfig::from_lookup(|n| (n == "PATH").then(|| only_cli.clone()));
        assert_eq!(config.binary, a.join("llama-cli"));

        let config = LlamaCppConfig::from_lookup(|_| None);
        assert_eq!(config.binary, Path::new(DEFAULT_BINARY));
        assert!(config.model_path.as_os_str().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
