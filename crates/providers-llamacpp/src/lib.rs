//! llama.cpp as a local subprocess: a steadfast [`ChatProvider`] that runs the
//! `llama-completion` (or older `llama-cli`) binary on a GGUF model, one process per request.
//!
//! This crate covers the *binary*. The llama.cpp **server** (`llama-server`, OpenAI-compatible
//! `/v1/chat/completions`) is reached through the llama.cpp preset of
//! `steadfast-providers-openai` — prefer it for throughput (the model stays loaded), tools
//! and images. The subprocess suits batch jobs, machines where no server may run, and a
//! last-resort fallback that needs nothing but a file.
//!
//! # Key decision: the process is owned, bounded, and always reaped
//!
//! A child process is a resource like a socket, with worse failure modes: it can hang,
//! flood its pipes, or outlive its caller as a zombie. Every run is therefore driven by one
//! task that owns the child (stdin closed, stdout and stderr piped, `kill_on_drop`), reads
//! both pipes at once, and on every early end — total timeout, too much output, a stop
//! sequence, the consumer dropping the stream — kills the child **and waits for it**.
//! Failures become classified [`ProviderError`](steadfast_errors::ProviderError)s:
//!
//! | what happened | kind |
//! |---|---|
//! | the binary is missing (message names it and `LLAMA_CPP_BIN`) | `not_found` |
//! | the model file is missing (message names it and `LLAMA_CPP_MODEL`) | `not_found` |
//! | the run exceeded its timeout (the child is killed) | `timeout` |
//! | stdout exceeded `max_output_bytes` (the child is killed) | `protocol` |
//! | non-zero exit, stderr says the model file cannot be opened | `not_found` |
//! | non-zero exit, stderr says the model cannot be loaded (corrupt, truncated, not GGUF: `invalid magic`, `gguf_init…`, `failed to load model`) | `not_found` — permanent: every retry would fail alike, a fallback may still serve |
//! | non-zero exit, stderr says memory ran out (even while loading) | `server` (memory may be free next time) |
//! | non-zero exit, stderr says the prompt is too long | `context_length` |
//! | non-zero exit, stderr rejects the command line | `invalid_request` |
//! | any other non-zero exit or signal | `server` |
//! | the request has tools or images | `not_found` (this provider lacks the feature; another may have it) |
//!
//! A failed exit's message ends with as much of the stderr tail as fits the bounded error
//! message; the last 2 KiB are kept as the error's [`source`](std::error::Error::source)
//! ([`StderrTail`]).
//!
//! # How a request is run
//!
//! - The conversation is rendered with a [`PromptTemplate`] (ChatML by default) or your
//!   [`PromptFormatter`]; see [`template`](crate::PromptTemplate) for the formats and why
//!   the binary's own `--jinja` templates are not used. The prompt goes in a private
//!   temporary file (`-f`), removed after the run.
//! - Flags: `-m <model_path> -f <prompt> -no-cnv --no-display-prompt --no-escape`, then
//!   `-n` (max_tokens), `--temp`, `--top-p`, `--json-schema` (from `response_format`),
//!   each `extra` entry as `--key value` (`true` → `--key`, arrays repeat the flag), and
//!   finally [`LlamaCppConfig::args`].
//! - Stop sequences (the request's and the template's) are applied to the output here, and
//!   the process is killed as soon as one appears.
//! - stdout is streamed as [`TextDelta`](steadfast_providers_core::StreamEvent::TextDelta)s
//!   as bytes arrive (UTF-8 split across reads is joined); the binary's ` [end of text]`
//!   trailer is removed and reported as finish reason `stop` (`eos`). Token counts come from
//!   the performance report on stderr when the binary prints one.
//!
//! # Facts
//!
//! - Env: `LLAMA_CPP_BIN` (else `llama-completion` or `llama-cli` found on `PATH`),
//!   `LLAMA_CPP_MODEL`. No key, no base URL.
//! - Health check: `<binary> --version` (no model load), then the model file must exist.
//! - Cost: zero unless prices are configured.
//! - Resume ([`ChatProvider::continuation`]): the partial answer becomes a trailing
//!   assistant message, which every template leaves open, so the model continues that very
//!   text: **exact** (prefill). Text only — this provider has no tool calls to cut.
//!
//! # Example
//!
//! A stand-in for the binary (the tests use such scripts; point `binary` at the real
//! `llama-completion` in production):
//!
//! ```
//! # #[cfg(unix)]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::os::unix::fs::PermissionsExt;
//! use steadfast_providers_core::{ChatProvider, ChatRequest, Message};
//! use steadfast_providers_llamacpp::{LlamaCppProvider, LlamaCppConfig};
//!
//! let dir = std::env::temp_dir().join(format!("llamacpp-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let fake = dir.join("llama-completion");
//! std::fs::write(&fake, "#!/bin/sh\nprintf 'Paris.'\nprintf ' [end of text]\\n\\n\\n'\n").unwrap();
//! std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
//! let model = dir.join("model.gguf");
//! std::fs::write(&model, b"GGUF").unwrap();
//!
//! let llama = LlamaCppProvider::new(LlamaCppConfig {
//!     binary: fake,
//!     model_path: model,
//!     ..LlamaCppConfig::default()
//! });
//! let answer = llama
//!     .chat(&ChatRequest::new("local", vec![Message::user("Capital of France?")]))
//!     .await
//!     .unwrap();
//! assert_eq!(answer.text, "Paris.");
//! assert_eq!(answer.finish_raw.as_deref(), Some("eos"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # }
//! # #[cfg(not(unix))]
//! # fn main() {}
//! ```
//!
//! [`ChatProvider`]: steadfast_providers_core::ChatProvider
//! [`ChatProvider::continuation`]: steadfast_providers_core::ChatProvider::continuation

mod config;
mod error;
mod output;
mod process;
mod provider;
mod template;

pub use config::{
    BIN_VAR, DEFAULT_BINARY, DEFAULT_CLI_FLAGS, LlamaCppConfig, MODEL_VAR, PATH_CANDIDATES,
};
pub use error::{STDERR_TAIL_BYTES, StderrTail};
pub use provider::LlamaCppProvider;
pub use template::{FormatFn, PromptFormatter, PromptTemplate};
