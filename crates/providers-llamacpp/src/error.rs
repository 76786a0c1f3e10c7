//! The errors of a local run: spawn failures, exits classified by their stderr, and the
//! stderr tail kept as the error's source.

use std::io;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use steadfast_errors::{ErrorKind, MAX_MESSAGE_LEN, ProviderError};

use crate::config::{BIN_VAR, MODEL_VAR};

/// The provider name errors carry until they are labelled with the instance id.
pub(crate) const NAME: &str = "llamacpp";

/// How much of the end of stderr a failed run keeps as its error's source.
pub const STDERR_TAIL_BYTES: usize = 2 * 1024;

/// The last bytes a failed process wrote to stderr, kept as the [`ProviderError`]'s
/// [`source`](std::error::Error::source) (the message itself is bounded to
/// [`MAX_MESSAGE_LEN`] and shows as much of the end as fits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stderr tail: {text}")]
pub struct StderrTail {
    text: String,
}

impl StderrTail {
    /// The tail of `stderr`: at most [`STDERR_TAIL_BYTES`] bytes, cut at a character
    /// boundary.
    pub fn new(stderr: &str) -> StderrTail {
        StderrTail {
            text: tail(stderr, STDERR_TAIL_BYTES).to_owned(),
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The last `max` bytes of `s` (fewer, to start on a character boundary).
pub(crate) fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The file name of the binary, for messages.
pub(crate) fn binary_name(binary: &Path) -> String {
    binary
        .file_name()
        .unwrap_or(binary.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// The binary could not be started.
pub(crate) fn spawn_failed(binary: &Path, err: io::Error) -> ProviderError {
    let shown = binary.display();
    let (kind, message) = match err.kind() {
        io::ErrorKind::NotFound => (
            ErrorKind::NotFound,
            format!(
                "llama.cpp binary `{shown}` not found: install llama.cpp, or set {BIN_VAR} \
                 (or LlamaCppConfig::binary) to the llama-completion or llama-cli executable"
            ),
        ),
        io::ErrorKind::PermissionDenied => (
            ErrorKind::Permission,
            format!("llama.cpp binary `{shown}` cannot be executed (permission denied)"),
        ),
        _ => (
            ErrorKind::Server,
            format!("llama.cpp binary `{shown}` could not be started: {err}"),
        ),
    };
    ProviderError::new(kind, NAME, message).with_source(err)
}

/// The model file is missing.
pub(crate) fn model_missing(model: &Path) -> ProviderError {
    ProviderError::new(
        ErrorKind::NotFound,
        NAME,
        format!(
            "model file `{}` not found: set {MODEL_VAR} (or LlamaCppConfig::model_path) to a GGUF file",
            model.display()
        ),
    )
}

/// A feature this provider does not have; another provider may (so not `invalid_request`).
pub(crate) fn unsupported(what: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::NotFound,
        NAME,
        format!(
            "the llama.cpp subprocess provider does not support {what}; use the llama.cpp \
             server through steadfast-providers-openai"
        ),
    )
}

/// The run exceeded its time and was killed.
pub(crate) fn timed_out(binary: &Path, after: Duration, first_byte: bool) -> ProviderError {
    ProviderError::new(
        ErrorKind::Timeout,
        NAME,
        format!(
            "{} did not finish within {after:?}; the process was killed",
            binary_name(binary)
        ),
    )
    .with_first_byte_received(first_byte)
}

/// The run wrote more than allowed and was killed.
pub(crate) fn too_much_output(binary: &Path, limit: usize) -> ProviderError {
    ProviderError::new(
        ErrorKind::Protocol,
        NAME,
        format!(
            "{} wrote more than max_output_bytes ({limit} bytes); the process was killed",
            binary_name(binary)
        ),
    )
    .with_first_byte_received(true)
}

/// Reading or waiting on the process failed.
pub(crate) fn io_failed(binary: &Path, what: &str, err: io::Error) -> ProviderError {
    ProviderError::new(
        ErrorKind::Server,
        NAME,
        format!("{what} {} failed: {err}", binary_name(binary)),
    )
    .with_source(err)
}

/// A non-zero exit (or a death by signal), classified by what stderr ends with.
///
/// - the model file cannot be opened → `not_found`
/// - the model file cannot be loaded (not GGUF, corrupt, truncated: "invalid magic",
///   "gguf_init…", "failed to load model", "model is corrupted") → `not_found`, so it is
///   not retried (each retry would fail alike) but may fall back — unless the load ran out
///   of memory ("out of memory", "failed to allocate"), which is `server` (retryable)
/// - the prompt does not fit the context → `context_length`
/// - the command line is rejected → `invalid_request`
/// - anything else (a crash, out of memory, a signal) → `server`
///
/// The message ends with as much of the stderr tail as fits; the last
/// [`STDERR_TAIL_BYTES`] are the source.
pub(crate) fn exited(
    binary: &Path,
    status: ExitStatus,
    stderr: &str,
    first_byte: bool,
) -> ProviderError {
    let kind = classify_stderr(stderr);
    let how = match status.code() {
        Some(code) => format!("exit status {code}"),
        None => signal_of(status),
    };
    let head = format!("{} failed ({how})", binary_name(binary));
    let trimmed = stderr.trim_end();
    let room = MAX_MESSAGE_LEN.saturating_sub(head.len() + 8);
    let shown = tail(trimmed, room);
    let message = if shown.is_empty() {
        format!("{head} with nothing on stderr")
    } else if shown.len() < trimmed.len() {
        format!("{head}: …{shown}")
    } else {
        format!("{head}: {shown}")
    };
    let err = ProviderError::new(kind, NAME, message).with_first_byte_received(first_byte);
    if trimmed.is_empty() {
        err
    } else {
        err.with_source(StderrTail::new(trimmed))
    }
}

#[cfg(unix)]
fn signal_of(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(signal) => format!("killed by signal {signal}"),
        None => status.to_string(),
    }
}

#[cfg(not(unix))]
fn signal_of(status: ExitStatus) -> String {
    status.to_string()
}

/// The kind a failed run's stderr points to.
pub(crate) fn classify_stderr(stderr: &str) -> ErrorKind {
    // The end of stderr is where the reason is; earlier lines are load logs.
    let lower = tail(stderr, 4 * STDERR_TAIL_BYTES).to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if any(&[
        "failed to open gguf file",
        "no such file or directory",
        "model file not found",
    ]) {
        ErrorKind::NotFound
    } else if any(&["out of memory", "failed to allocate", "unable to allocate"]) {
        // Memory may be free on the next try (another process let go of the GPU).
        ErrorKind::Server
    } else if any(&[
        "invalid magic",
        "gguf_init",
        "failed to load model",
        "model is corrupted",
    ]) {
        // The file is there but is not a model llama.cpp can load: every retry fails the
        // same way, so this is permanent here (another provider may still serve the call).
        ErrorKind::NotFound
    } else if any(&[
        "prompt is too long",
        "exceeds the available context",
        "context size exceeded",
        "failed to fit the prompt",
    ]) {
        ErrorKind::ContextLength
    } else if any(&[
        "error: invalid argument",
        "error: unknown argument",
        "error while handling argument",
        "invalid value for",
        "error: failed to parse",
    ]) {
        ErrorKind::InvalidRequest
    } else {
        ErrorKind::Server
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tails_classify() {
        let cases = [
            (
                "gguf_init_from_file: failed to open GGUF file 'x.gguf' (No such file or directory)\nmain: error: unable to load model",
                ErrorKind::NotFound,
            ),
            (
                "main: prompt is too long (9000 tokens, max 4092)",
                ErrorKind::ContextLength,
            ),
            (
                "error: invalid argument: --bogus",
                ErrorKind::InvalidRequest,
            ),
            (
                "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 8192.00 MiB on device 0: cudaMalloc failed: out of memory",
                ErrorKind::Server,
            ),
            ("", ErrorKind::Server),
            (
                "gguf_init_from_file_impl: invalid magic characters: 'PK', expected 'GGUF'",
                ErrorKind::NotFound,
            ),
            (
                "llama_model_load_from_file_impl: failed to load model",
                ErrorKind::NotFound,
            ),
            (
                "llama_model_load: error loading model: unable to allocate CUDA0 buffer\nmain: error: unable to load model",
                ErrorKind::Server,
            ),
        ];
        for (stderr, kind) in cases {
            assert_eq!(classify_stderr(stderr), kind, "{stderr}");
        }
    }

    #[test]
    fn tails_cut_on_character_boundaries() {
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
        let t = StderrTail::new(&"é".repeat(3000));
        assert!(t.text().len() <= STDERR_TAIL_BYTES);
        assert!(t.text().len() >= STDERR_TAIL_BYTES - 1);
    }
}
