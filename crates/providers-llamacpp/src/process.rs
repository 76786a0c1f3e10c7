//! One run of the binary: arguments, the prompt file, and the task that drives the child.
//!
//! The child runs with stdin closed, stdout and stderr piped, and `kill_on_drop(true)`. A
//! task owns it and reads both pipes at once (a full stderr pipe would otherwise block the
//! child), sending answer text into a bounded channel as soon as it is complete UTF-8.
//! Whenever the run ends early — its deadline passes, its output grows past the limit, a
//! stop sequence is found, or the consumer drops the stream — the task kills the child
//! **and waits for it**, so no zombie is left behind and nothing hangs. (`kill_on_drop`
//! remains as the last line of defence should the task itself be dropped, e.g. when the
//! runtime shuts down.) Only the child itself is killed: a wrapper script should `exec` the
//! real binary.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::Stream;
use serde_json::Value;
use steadfast_errors::ProviderError;
use steadfast_providers_core::{ChatRequest, FinishReason, StreamEvent};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use crate::config::LlamaCppConfig;
use crate::error;
use crate::output::{Ending, Output, usage_from_stderr};

/// One decoded item of a run.
pub(crate) type Item = Result<StreamEvent, ProviderError>;

/// Items buffered between the driving task and the consumer.
const CHANNEL: usize = 64;
/// Stderr kept in memory (its end), for error messages and the token counts.
const STDERR_KEEP: usize = 8 * 1024;

/// The command line for `request`: `-m model -f prompt-file`, the completion-mode flags,
/// the sampling options, `extra` as flags, then the configured `args`.
pub(crate) fn build_args(
    config: &LlamaCppConfig,
    request: &ChatRequest,
    prompt_file: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    if !config.model_path.as_os_str().is_empty() {
        args.push("-m".into());
        args.push(config.model_path.clone().into_os_string());
    }
    args.push("-f".into());
    args.push(prompt_file.as_os_str().to_owned());
    args.extend(config.cli_flags.iter().map(OsString::from));
    if let Some(n) = request.max_tokens {
        args.push("-n".into());
        args.push(n.to_string().into());
    }
    if let Some(t) = request.temperature {
        args.push("--temp".into());
        args.push(t.to_string().into());
    }
    if let Some(p) = request.top_p {
        args.push("--top-p".into());
        args.push(p.to_string().into());
    }
    if let Some(schema) = request.response_format.as_ref().and_then(json_schema_of) {
        args.push("--json-schema".into());
        args.push(schema.into());
    }
    for (key, value) in &request.extra {
        let flag = if key.starts_with('-') {
            key.clone()
        } else {
            format!("--{}", key.replace('_', "-"))
        };
        match value {
            Value::Null | Value::Bool(false) => {}
            Value::Bool(true) => args.push(flag.into()),
            Value::Array(items) => {
                for item in items {
                    args.push(flag.clone().into());
                    args.push(scalar(item).into());
                }
            }
            other => {
                args.push(flag.into());
                args.push(scalar(other).into());
            }
        }
    }
    args.extend(config.args.iter().map(OsString::from));
    args
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `--json-schema` argument for a `response_format`: `json_object` (or `"json"`) is any
/// object (`{}`), `json_schema` its schema, a bare schema itself, `text` nothing.
fn json_schema_of(response_format: &Value) -> Option<String> {
    match response_format {
        Value::String(s) if s == "json" => Some("{}".to_owned()),
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("json_object") => Some("{}".to_owned()),
            Some("json_schema") => o
                .get("json_schema")
                .and_then(|js| js.get("schema").or(Some(js)))
                .map(Value::to_string),
            Some("text") => None,
            _ => Some(response_format.to_string()),
        },
        _ => None,
    }
}

/// The prompt, in a private temporary file that is removed when the run ends.
///
/// A file rather than `-p`: one argument is limited to 128 KiB on Linux, and a long
/// conversation exceeds it. The binary drops one trailing newline from a prompt file, so
/// one is added to keep the prompt exact.
#[derive(Debug)]
pub(crate) struct PromptFile {
    path: PathBuf,
}

impl PromptFile {
    pub(crate) fn write(prompt: &str) -> io::Result<PromptFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(
                "steadfast-llamacpp-{}-{nanos}-{n}.prompt",
                std::process::id()
            ));
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(mut file) => {
                    let file_guard = PromptFile { path };
                    file.write_all(prompt.as_bytes())?;
                    file.write_all(b"\n")?;
                    return Ok(file_guard);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PromptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Who a run's errors are about.
#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub(crate) id: String,
    pub(crate) model: String,
}

impl Label {
    pub(crate) fn apply(&self, err: ProviderError) -> ProviderError {
        let err = err.with_provider(self.id.clone());
        if self.model.is_empty() {
            err
        } else {
            err.with_model(self.model.clone())
        }
    }
}

/// Everything one run needs.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) binary: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) prompt: PromptFile,
    pub(crate) timeout: Duration,
    pub(crate) max_output_bytes: usize,
    pub(crate) stops: Vec<String>,
    pub(crate) max_tokens_set: bool,
    pub(crate) label: Label,
}

/// A run's items as a stream.
pub(crate) type Items = Pin<Box<dyn Stream<Item = Item> + Send>>;

/// Starts the binary; the returned stream yields its answer and at most one error.
pub(crate) fn start(job: Job) -> Result<Items, ProviderError> {
    let child = Command::new(&job.binary)
        .args(&job.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| job.label.apply(error::spawn_failed(&job.binary, e)))?;
    tracing::debug!(
        provider = %job.label.id,
        model = %job.label.model,
        pid = child.id(),
        "llama.cpp process started"
    );
    let (tx, rx) = mpsc::channel(CHANNEL);
    let deadline = Instant::now() + job.timeout;
    tokio::spawn(drive(child, tx, job, deadline));
    Ok(Box::pin(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|item| (item, rx))
    })))
}

/// Why the reading loop ended.
enum End {
    /// Both pipes closed: the process is exiting.
    Closed,
    /// A stop sequence ended the answer.
    Stopped,
    /// More output than allowed.
    Overflow,
    /// The deadline passed.
    TimedOut,
    /// The consumer dropped the stream.
    Gone,
    /// Reading stdout failed.
    ReadFailed(io::Error),
}

/// Reads the child until it ends, sends its answer, and always reaps it.
async fn drive(mut child: Child, tx: mpsc::Sender<Item>, mut job: Job, deadline: Instant) {
    let sleep = tokio::time::sleep_until(deadline);
    tokio::pin!(sleep);
    let output = Output::new(std::mem::take(&mut job.stops));
    let mut run = Run {
        tx,
        job,
        output,
        stderr: Vec::new(),
        started: false,
    };

    let end = run.read(&mut child, sleep.as_mut()).await;
    let label = run.job.label.clone();
    let items: Vec<Item> = match end {
        End::Closed => {
            let status = tokio::select! {
                biased;
                () = run.tx.closed() => None,
                () = &mut sleep => Some(Err(End::TimedOut)),
                status = child.wait() => Some(Ok(status)),
            };
            match status {
                None => {
                    reap(&mut child).await;
                    Vec::new()
                }
                Some(Err(_)) => {
                    reap(&mut child).await;
                    vec![Err(run.timed_out())]
                }
                Some(Ok(Ok(status))) => run.exited(status),
                Some(Ok(Err(e))) => {
                    reap(&mut child).await;
                    vec![Err(error::io_failed(&run.job.binary, "waiting for", e))]
                }
            }
        }
        End::Stopped => {
            reap(&mut child).await;
            run.finish_items(Ending::Stop, String::new())
        }
        End::Overflow => {
            reap(&mut child).await;
            vec![Err(error::too_much_output(
                &run.job.binary,
                run.job.max_output_bytes,
            ))]
        }
        End::TimedOut => {
            reap(&mut child).await;
            vec![Err(run.timed_out())]
        }
        End::Gone => {
            reap(&mut child).await;
            Vec::new()
        }
        End::ReadFailed(e) => {
            reap(&mut child).await;
            vec![Err(error::io_failed(&run.job.binary, "reading from", e))]
        }
    };
    tracing::debug!(
        provider = %label.id,
        model = %label.model,
        "llama.cpp process ended"
    );
    for item in items {
        if run.tx.send(item.map_err(|e| label.apply(e))).await.is_err() {
            break;
        }
    }
    // Only now, with the process gone, is the prompt file removed.
    drop(run.job.prompt);
}

/// Kills the child if it still runs, and waits for it so that it is reaped.
async fn reap(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// The state of one run while its pipes are read.
struct Run {
    tx: mpsc::Sender<Item>,
    job: Job,
    output: Output,
    stderr: Vec<u8>,
    started: bool,
}

impl Run {
    async fn read(&mut self, child: &mut Child, mut sleep: Pin<&mut Sleep>) -> End {
        let (Some(mut stdout), mut stderr) = (child.stdout.take(), child.stderr.take()) else {
            return End::ReadFailed(io::Error::other("stdout was not piped"));
        };
        let mut out_open = true;
        let mut err_open = stderr.is_some();
        let mut buf = vec![0u8; 8 * 1024];
        let mut ebuf = vec![0u8; 4 * 1024];
        let mut total = 0usize;
        while out_open || err_open {
            tokio::select! {
                biased;
                () = self.tx.closed() => return End::Gone,
                () = &mut sleep => return End::TimedOut,
                read = stdout.read(&mut buf), if out_open => match read {
                    Ok(0) => out_open = false,
                    Ok(n) => {
                        let take = n.min(self.job.max_output_bytes.saturating_sub(total));
                        total += take;
                        let (text, stopped) = self.output.push_bytes(&buf[..take]);
                        if let Err(end) = self.emit_text(text, sleep.as_mut()).await {
                            return end;
                        }
                        if stopped {
                            return End::Stopped;
                        }
                        if take < n {
                            return End::Overflow;
                        }
                    }
                    Err(e) => return End::ReadFailed(e),
                },
                read = read_some(&mut stderr, &mut ebuf), if err_open => match read {
                    Ok(0) | Err(_) => err_open = false,
                    Ok(n) => self.keep_stderr(&ebuf[..n]),
                },
            }
        }
        End::Closed
    }

    fn keep_stderr(&mut self, bytes: &[u8]) {
        self.stderr.extend_from_slice(bytes);
        if self.stderr.len() > STDERR_KEEP {
            let excess = self.stderr.len() - STDERR_KEEP;
            self.stderr.drain(..excess);
        }
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Sends `Start` (once, with the first output) and the text, giving up when the
    /// consumer is gone or the deadline passes.
    async fn emit_text(&mut self, text: String, mut sleep: Pin<&mut Sleep>) -> Result<(), End> {
        if !self.started {
            self.started = true;
            let start = StreamEvent::Start {
                id: None,
                model: Some(self.job.label.model.clone()).filter(|m| !m.is_empty()),
            };
            self.send(Ok(start), sleep.as_mut()).await?;
        }
        if text.is_empty() {
            return Ok(());
        }
        self.send(Ok(StreamEvent::TextDelta { text }), sleep).await
    }

    async fn send(&self, item: Item, sleep: Pin<&mut Sleep>) -> Result<(), End> {
        tokio::select! {
            biased;
            sent = self.tx.send(item) => sent.map_err(|_| End::Gone),
            () = sleep => Err(End::TimedOut),
        }
    }

    fn timed_out(&self) -> ProviderError {
        error::timed_out(&self.job.binary, self.job.timeout, self.started)
    }

    /// The items after the process exited on its own.
    fn exited(&mut self, status: ExitStatus) -> Vec<Item> {
        if !status.success() {
            return vec![Err(error::exited(
                &self.job.binary,
                status,
                &self.stderr_text(),
                self.started,
            ))];
        }
        let (rest, ending) = self.output.finish();
        self.finish_items(ending, rest)
    }

    /// The last text, usage, finish reason and `Done` of a successful answer.
    fn finish_items(&mut self, ending: Ending, rest: String) -> Vec<Item> {
        let mut items = Vec::new();
        if !self.started {
            self.started = true;
            items.push(Ok(StreamEvent::Start {
                id: None,
                model: Some(self.job.label.model.clone()).filter(|m| !m.is_empty()),
            }));
        }
        if !rest.is_empty() {
            items.push(Ok(StreamEvent::TextDelta { text: rest }));
        }
        // Present when the process exited on its own and printed its performance report.
        if let Some(usage) = usage_from_stderr(&self.stderr_text()) {
            items.push(Ok(StreamEvent::Usage(usage)));
        }
        let (reason, raw) = match ending {
            Ending::Stop => (FinishReason::Stop, "stop"),
            Ending::Eos => (FinishReason::Stop, "eos"),
            Ending::Exit if self.job.max_tokens_set => (FinishReason::Length, "length"),
            Ending::Exit => (FinishReason::Other, "exit"),
        };
        items.push(Ok(StreamEvent::Finish {
            reason,
            raw: raw.to_owned(),
        }));
        items.push(Ok(StreamEvent::Done));
        items
    }
}

async fn read_some<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> io::Result<usize> {
    match pipe {
        Some(pipe) => pipe.read(buf).await,
        None => Ok(0),
    }
}

/// Runs `<binary> --version` and waits at most `timeout`; the child is killed and reaped
/// if it takes longer.
pub(crate) async fn version(binary: &Path, timeout: Duration) -> Result<String, ProviderError> {
    let mut child = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| error::spawn_failed(binary, e))?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let collect = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.take(64 * 1024).read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(64 * 1024).read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        (out, err)
    };
    let waited = tokio::time::timeout(timeout, async {
        let (out, err) = collect.await;
        (child.wait().await, out, err)
    })
    .await;
    match waited {
        Err(_) => {
            reap(&mut child).await;
            Err(error::timed_out(binary, timeout, false))
        }
        Ok((Err(e), _, _)) => Err(error::io_failed(binary, "waiting for", e)),
        Ok((Ok(status), out, err)) => {
            let stderr = String::from_utf8_lossy(&err).into_owned();
            if status.success() {
                let stdout = String::from_utf8_lossy(&out);
                let text = if stdout.trim().is_empty() {
                    stderr
                } else {
                    stdout.into_owned()
                };
                Ok(text.trim().to_owned())
            } else {
                Err(error::exited(binary, status, &stderr, false))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use steadfast_providers_core::Message;

    #[test]
    fn arguments_carry_the_model_prompt_sampling_extra_and_user_args() {
        let config = LlamaCppConfig {
            model_path: "/models/q.gguf".into(),
            args: vec!["-ngl".into(), "99".into()],
            ..LlamaCppConfig::default()
        };
        let mut req = ChatRequest::new("q", vec![Message::user("hi")]).with_max_tokens(32);
        req.temperature = Some(0.25);
        req.top_p = Some(0.5);
        req.response_format = Some(
            json!({"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}),
        );
        req.extra.insert("seed".into(), json!(42));
        req.extra.insert("no_warmup".into(), json!(true));
        req.extra.insert("skipped".into(), json!(false));
        req.extra.insert("-ot".into(), json!(["a=CPU", "b=CPU"]));
        let args = build_args(&config, &req, Path::new("/tmp/p.prompt"));
        let args: Vec<String> = args.into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(
            args[..15],
            [
                "-m",
                "/models/q.gguf",
                "-f",
                "/tmp/p.prompt",
                "-no-cnv",
                "--no-display-prompt",
                "--no-escape",
                "-n",
                "32",
                "--temp",
                "0.25",
                "--top-p",
                "0.5",
                "--json-schema",
                "{\"type\":\"object\"}",
            ]
        );
        assert_eq!(args[args.len() - 2..], ["-ngl", "99"]);
        // `extra`, in whatever order the map keeps it.
        let mut extra: Vec<&[String]> = Vec::new();
        let mut rest = &args[15..args.len() - 2];
        while let Some(flag) = rest.first() {
            let n = if flag == "--no-warmup" { 1 } else { 2 };
            extra.push(&rest[..n]);
            rest = &rest[n..];
        }
        extra.sort();
        assert_eq!(
            extra,
            [
                &["--no-warmup".to_owned()][..],
                &["--seed".to_owned(), "42".to_owned()],
                &["-ot".to_owned(), "a=CPU".to_owned()],
                &["-ot".to_owned(), "b=CPU".to_owned()],
            ]
        );
    }

    #[test]
    fn response_formats_become_json_schemas() {
        assert_eq!(
            json_schema_of(&json!({"type":"json_object"})).as_deref(),
            Some("{}")
        );
        assert_eq!(json_schema_of(&json!("json")).as_deref(), Some("{}"));
        assert_eq!(json_schema_of(&json!({"type":"text"})), None);
        let schema = json!({"type":"object","required":["a"]});
        let arg = json_schema_of(&schema).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&arg).unwrap(), schema);
    }

    #[test]
    fn the_prompt_file_is_exact_private_and_removed() {
        let file = PromptFile::write("<|im_start|>assistant\n").unwrap();
        let path = file.path().to_owned();
        let on_disk = std::fs::read_to_string(&path).unwrap();
        // The binary drops one trailing newline: what it reads is the prompt exactly.
        assert_eq!(on_disk.strip_suffix('\n'), Some("<|im_start|>assistant\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
        }
        drop(file);
        assert!(!path.exists());
    }
}
