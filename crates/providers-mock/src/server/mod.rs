//! `FaultServer`: a real local HTTP server that speaks the OpenAI chat, Anthropic Messages,
//! Gemini and Ollama wire formats and does, request by request, what its script says — answer
//! properly, refuse with a status, reset, stall, drip, cut the stream, or break it.

mod continuation;
mod emit;
mod fault;
mod http;
mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub use continuation::Continuation;
pub use fault::Fault;

use emit::{emit, respond_whole};

use crate::text::token_answer;
use wire::{Dialect, Layout};

/// How a [`FaultServer`] answers. Every field has a default; in files, durations are not
/// needed here and faults are written as in [`Fault`].
///
/// ```
/// use steadfast_providers_mock::{Fault, ServerConfig};
///
/// let config: ServerConfig = serde_json::from_str(
///     r#"{"answer_tokens": 100, "tokens_per_chunk": 4, "default_fault": {"cut_after": {"chunks": 5}}}"#,
/// ).unwrap();
/// assert_eq!(config.default_fault, Fault::CutAfter { chunks: 5 });
/// assert_eq!(config.models, ["mock-model"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Tokens in the deterministic answer `t0 t1 t2 …` (see [`token_answer`]). Default 20.
    pub answer_tokens: usize,
    /// Tokens per content chunk (per streamed event). Default 1.
    pub tokens_per_chunk: usize,
    /// The models listed at `GET …/models`. Default `["mock-model"]`.
    pub models: Vec<String>,
    /// The fault for requests when the queue is empty and no script closure is set.
    /// Default [`Fault::None`].
    pub default_fault: Fault,
    /// Whether `…/messages` accepts a final assistant message (a prefill). Default true;
    /// false answers 400 `invalid_request_error` like the Claude models that dropped
    /// prefill ("This model does not support assistant message prefill…"). A prefill
    /// ending in whitespace is always refused with 400, as Anthropic does.
    pub anthropic_prefill: bool,
    /// The largest request body accepted, in bytes. Default 8 MiB.
    pub max_body_bytes: usize,
    /// The address to listen on. Default `127.0.0.1:0` (a free port on loopback).
    pub bind: SocketAddr,
    /// What the answer does after an assistant prefix. Default [`Continuation::Exact`].
    pub continuation: Continuation,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            answer_tokens: 20,
            tokens_per_chunk: 1,
            models: vec!["mock-model".to_owned()],
            default_fault: Fault::None,
            anthropic_prefill: true,
            max_body_bytes: 8 * 1024 * 1024,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            continuation: Continuation::Exact,
        }
    }
}

/// A request the server received, with the fault it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// Its place in arrival order, from 0.
    pub index: u64,
    /// The connection it came on, numbered from 0 in accept order (requests that share a
    /// number reused a kept-alive connection).
    pub connection: u64,
    /// The method (`POST`).
    pub method: String,
    /// The request target, query included (`/v1/chat/completions`).
    pub path: String,
    /// The headers, names in lowercase, as sent (auth headers included: this is a test
    /// server).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The fault it got ([`Fault::None`] while a script closure is still deciding).
    pub fault: Fault,
}

impl RecordedRequest {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

type FaultFn = Arc<dyn Fn(&RecordedRequest) -> Fault + Send + Sync>;

struct Script {
    queue: VecDeque<Fault>,
    func: Option<FaultFn>,
    default: Fault,
}

struct Shared {
    config: ServerConfig,
    script: Mutex<Script>,
    requests: Mutex<Vec<RecordedRequest>>,
    next_request: AtomicU64,
    connections: AtomicU64,
    /// Faults that took effect, by [`Fault::name`].
    fired: Mutex<BTreeMap<&'static str, u64>>,
    /// Chat requests that carried a prefix to continue.
    continuations: AtomicU64,
    /// Usage reported by answers sent whole: input and output tokens.
    reported_input: AtomicU64,
    reported_output: AtomicU64,
    /// The most output tokens clients can fairly bill for answers that reported none.
    unreported_bound: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Counts `fault` as fired: called when it starts to take effect (before the reset, the
    /// wait, the error status or the broken body), so a fault is counted even when the
    /// client gives up before the server is done with it.
    fn fire(&self, fault: &Fault) {
        if *fault != Fault::None {
            *lock(&self.fired).entry(fault.name()).or_default() += 1;
        }
    }

    fn next_fault(&self, request: &RecordedRequest) -> Fault {
        let func = {
            let mut script = lock(&self.script);
            if let Some(fault) = script.queue.pop_front() {
                return fault;
            }
            match &script.func {
                Some(f) => f.clone(),
                None => return script.default.clone(),
            }
        };
        func(request)
    }
}

/// A local HTTP/1.1 server speaking the `openai-chat`, `anthropic-messages`, `gemini` and
/// Ollama `ndjson` wire formats,
/// with faults injected per request.
///
/// # Endpoints
///
/// - `POST …/chat/completions` — OpenAI chat completions: SSE chunks ending in
///   `data: [DONE]` when the body says `"stream": true` (a usage chunk when
///   `stream_options.include_usage` is set), a `chat.completion` JSON body otherwise.
/// - `POST …/messages` — Anthropic Messages: `message_start` … `message_stop` events, or a
///   `message` JSON body.
/// - `POST …/models/{model}:streamGenerateContent?alt=sse` and `…:generateContent` — Gemini:
///   CRLF-framed SSE chunks whose last carries the `finishReason`, or one JSON body.
/// - `POST …/api/chat` — Ollama: NDJSON lines ending with a `done: true` line (streaming is
///   Ollama's default), or one JSON object with `"stream": false`.
/// - `GET …/models` and `GET …/api/tags` — the configured models, in a shape OpenAI and
///   Anthropic clients read (for health checks).
///
/// Any prefix before those paths is accepted, so both `base_url()` and
/// `format!("{}/v1", base_url())` work as a provider's base URL.
///
/// # The answer
///
/// Every answer is the deterministic [`token_answer`]: `t0 t1 … t{N-1}` with `N` =
/// [`ServerConfig::answer_tokens`], one token (with the space before it) per content chunk.
/// When the request ends with an assistant message (a prefill, as a resume sends; a Gemini
/// `model` turn; or either followed by a user turn asking to continue), the answer continues
/// after it as [`ServerConfig::continuation`] says; by default exactly: the prefix `t0 t1 t` gets `1`, ` t2`, … — so a test can check
/// that a resumed stream delivered every token exactly once. A prefix that is not a prefix
/// of the answer gets the whole answer again. `max_tokens` (or `max_completion_tokens`)
/// shortens the answer, with finish reason `length` / `max_tokens`. Usage counts words:
/// input = words in the messages and system prompt, output = tokens sent.
///
/// # Faults
///
/// Each request takes a [`Fault`]: the next one queued ([`push`](Self::push)), else the
/// script closure's choice ([`set_script`](Self::set_script)), else
/// [`ServerConfig::default_fault`]. Responses without a fault keep the connection alive, so
/// a pooled client reuses it; faults that break the connection close it.
///
/// # Lifetime
///
/// [`start`](Self::start) must run inside a tokio runtime. The server stops — listener and
/// every open connection — when the `FaultServer` is dropped.
///
/// ```
/// use std::time::Duration;
/// use steadfast_providers_mock::{Fault, FaultServer};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = FaultServer::start().await.unwrap();
/// server.push(Fault::rate_limited(Duration::from_secs(2))); // the first request gets a 429
///
/// let url = format!("{}/v1/chat/completions", server.base_url());
/// let body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}]});
/// let client = reqwest::Client::new();
/// let first = client.post(&url).json(&body).send().await.unwrap();
/// assert_eq!(first.status(), 429);
/// assert_eq!(first.headers()["retry-after"], "2");
/// let second: serde_json::Value = client.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
/// assert_eq!(second["choices"][0]["message"]["content"], server.answer());
/// assert_eq!(server.request_count(), 2);
/// assert_eq!(server.connection_count(), 1); // kept alive and reused
/// # }
/// ```
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl fmt::Debug for FaultServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultServer")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .field("requests", &self.request_count())
            .field("connections", &self.connection_count())
            .finish_non_exhaustive()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

impl FaultServer {
    /// Starts a server with the default configuration on a free loopback port.
    pub async fn start() -> io::Result<FaultServer> {
        FaultServer::with_config(ServerConfig::default()).await
    }

    /// Starts a server with `config`.
    pub async fn with_config(config: ServerConfig) -> io::Result<FaultServer> {
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script: Mutex::new(Script {
                queue: VecDeque::new(),
                func: None,
                default: config.default_fault.clone(),
            }),
            config,
            requests: Mutex::new(Vec::new()),
            next_request: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            fired: Mutex::new(BTreeMap::new()),
            continuations: AtomicU64::new(0),
            reported_input: AtomicU64::new(0),
            reported_output: AtomicU64::new(0),
            unreported_bound: AtomicU64::new(0),
        });
        let task = tokio::spawn(serve(listener, shared.clone()));
        Ok(FaultServer { addr, shared, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash or path: Anthropic-style base
    /// URLs take it as is, OpenAI-style ones add `/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url(), path.trim_start_matches('/'))
    }

    /// Its configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// The whole deterministic answer (see [`token_answer`]).
    pub fn answer(&self) -> String {
        token_answer(self.shared.config.answer_tokens)
    }

    /// Queues a fault for the next request that has none queued before it.
    pub fn push(&self, fault: Fault) {
        lock(&self.shared.script).queue.push_back(fault);
    }

    /// Queues faults, one per request, in order.
    pub fn push_all(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.shared.script).queue.extend(faults);
    }

    /// Faults still queued.
    pub fn queued(&self) -> usize {
        lock(&self.shared.script).queue.len()
    }

    /// Decides the fault of every request the queue does not cover.
    ///
    /// ```
    /// use steadfast_providers_mock::{Fault, FaultServer};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = FaultServer::start().await.unwrap();
    /// // Every other request is cut after 3 chunks; streamed requests only.
    /// server.set_script(|req| {
    ///     let streamed = req.json().is_some_and(|b| b["stream"] == true);
    ///     if streamed && req.index % 2 == 0 { Fault::CutAfter { chunks: 3 } } else { Fault::None }
    /// });
    /// # }
    /// ```
    pub fn set_script<F>(&self, script: F)
    where
        F: Fn(&RecordedRequest) -> Fault + Send + Sync + 'static,
    {
        lock(&self.shared.script).func = Some(Arc::new(script));
    }

    /// Removes the script closure: requests the queue does not cover get the default fault.
    pub fn clear_script(&self) {
        lock(&self.shared.script).func = None;
    }

    /// Replaces the default fault.
    pub fn set_default_fault(&self, fault: Fault) {
        lock(&self.shared.script).default = fault;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Requests received so far.
    pub fn request_count(&self) -> u64 {
        self.shared.next_request.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connection_count(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Faults that took effect so far (the response they shape was written, the connection
    /// reset or the wait done), by [`Fault::name`]. A scenario checks it to prove that its
    /// faults really fired: a server that stopped injecting would otherwise pass everything.
    pub fn faults_fired(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.shared.fired).clone()
    }

    /// Faults that took effect so far, of every kind.
    pub fn faults_fired_total(&self) -> u64 {
        lock(&self.shared.fired).values().sum()
    }

    /// The usage the server reported so far, `(input, output)` tokens, summed over the chat
    /// answers it sent whole (a usage chunk or field included) and without a delay. Answers
    /// cut, ended early, broken or replaced by an error by their fault report none: what a
    /// client is billed for them is its own estimate.
    pub fn reported_usage(&self) -> (u64, u64) {
        (
            self.shared.reported_input.load(Ordering::SeqCst),
            self.shared.reported_output.load(Ordering::SeqCst),
        )
    }

    /// The most output tokens a client can fairly bill, over every answer that did not
    /// count in [`reported_usage`](Self::reported_usage) (cut, broken, delayed or sent
    /// without usage): for each, its own count or one token per 4 characters of its text
    /// and tool arguments, rounded up, whichever is more. What a router bills in all can
    /// never pass `reported_usage().1 + unreported_output_bound()` without billing a token
    /// twice.
    pub fn unreported_output_bound(&self) -> u64 {
        self.shared.unreported_bound.load(Ordering::SeqCst)
    }

    /// The tool call an answer ends with when a streamed request offers tools: the tool's
    /// name and its whole JSON arguments. OpenAI and Anthropic streams send the arguments in
    /// 8-byte pieces, each a content chunk, so a body fault can cut inside the call; Gemini
    /// and Ollama send the call whole in one chunk, its arguments as a JSON object.
    ///
    /// ```
    /// use steadfast_providers_mock::FaultServer;
    ///
    /// let (name, args) = FaultServer::tool_call(3);
    /// assert_eq!((name, args.as_str()), ("count", r#"{"upto":3,"label":"count from t0 to t2"}"#));
    /// ```
    pub fn tool_call(answer_tokens: usize) -> (&'static str, String) {
        (wire::TOOL_NAME, wire::tool_arguments(answer_tokens))
    }

    /// Chat requests so far that asked to continue a partial answer (they carried an
    /// assistant prefix), answered as [`ServerConfig::continuation`] says.
    pub fn continuation_count(&self) -> u64 {
        self.shared.continuations.load(Ordering::SeqCst)
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => {
                    let id = shared.connections.fetch_add(1, Ordering::SeqCst);
                    let shared = shared.clone();
                    connections.spawn(async move {
                        if let Err(e) = connection(sock, id, &shared).await {
                            tracing::trace!(connection = id, error = %e, "mock connection ended");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, then accept again.
                    tracing::debug!(error = %e, "mock server accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What happens to a connection after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// It stays open for the next request.
    KeepAlive,
    /// It is closed cleanly (FIN).
    Close,
    /// It is reset: `SO_LINGER` 0, so closing sends RST and the peer sees ECONNRESET.
    Reset,
}

async fn connection(mut sock: TcpStream, id: u64, shared: &Shared) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut reader = http::Reader::new(shared.config.max_body_bytes);
    loop {
        let request = match reader.next(&mut sock).await {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let body = wire::error_body(Dialect::OpenAi, 400, Some(&e.to_string()));
                let _ = respond_whole(&mut sock, 400, &[], &body, false).await;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        match respond(&mut sock, request, id, shared).await? {
            Next::KeepAlive => {}
            Next::Close => {
                let _ = sock.shutdown().await;
                return Ok(());
            }
            Next::Reset => {
                // Dropped with a zero linger: the kernel answers with RST, not FIN.
                sock.set_zero_linger()?;
                return Ok(());
            }
        }
    }
}

/// Answers one request; what happens to the connection next.
async fn respond(
    sock: &mut TcpStream,
    request: http::Request,
    connection: u64,
    shared: &Shared,
) -> io::Result<Next> {
    let (index, fault) = fault_for(&request, connection, shared);
    answer(sock, &request, index, &fault, shared).await
}

/// Records `request` and picks its fault.
fn fault_for(request: &http::Request, connection: u64, shared: &Shared) -> (u64, Fault) {
    let index = shared.next_request.fetch_add(1, Ordering::SeqCst);
    let mut record = RecordedRequest {
        index,
        connection,
        method: request.method.clone(),
        path: request.target.clone(),
        headers: request.headers.clone(),
        body: request.body.clone(),
        fault: Fault::None,
    };
    let fault = shared.next_fault(&record);
    record.fault = fault.clone();
    lock(&shared.requests).push(record);
    (index, fault)
}

fn keep(keep_alive: bool) -> Next {
    if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    }
}

/// Writes the response to `request` with `fault` applied.
async fn answer(
    sock: &mut TcpStream,
    request: &http::Request,
    index: u64,
    fault: &Fault,
    shared: &Shared,
) -> io::Result<Next> {
    let path = request.path();
    let dialect = Dialect::of_path(path);
    let id_header = (
        dialect
            .unwrap_or(Dialect::OpenAi)
            .request_id_header()
            .to_owned(),
        format!("req_mock{index:08}"),
    );
    let keep_alive = request.keep_alive;

    match fault {
        Fault::ResetBeforeResponse => {
            shared.fire(fault);
            return Ok(Next::Reset);
        }
        Fault::Delay(delay) => {
            shared.fire(fault);
            tokio::time::sleep(*delay).await;
        }
        Fault::Status {
            status,
            body,
            headers,
        } => {
            shared.fire(fault);
            let body = body.clone().unwrap_or_else(|| {
                wire::error_body(dialect.unwrap_or(Dialect::OpenAi), *status, None)
            });
            let mut headers = headers.clone();
            headers.push(id_header);
            respond_whole(sock, *status, &headers, &body, keep_alive).await?;
            return Ok(keep(keep_alive));
        }
        _ => {}
    }

    let layout = match (request.method.as_str(), dialect) {
        ("POST", Some(dialect)) => {
            match wire::parse_chat(dialect, path, &request.body, &shared.config, index) {
                Ok(call) => {
                    if call.continued {
                        shared.continuations.fetch_add(1, Ordering::SeqCst);
                    }
                    call.layout()
                }
                Err((status, body)) => {
                    respond_whole(sock, status, &[id_header], &body, keep_alive).await?;
                    return Ok(keep(keep_alive));
                }
            }
        }
        ("GET", None) if path.ends_with("/models") || path.ends_with("/api/tags") => {
            let body = wire::models_body(&shared.config.models);
            Layout {
                streamed: false,
                content_type: "application/json",
                preamble: Vec::new(),
                content: vec![body],
                epilogue: Vec::new(),
                in_band_error: wire::error_body(Dialect::OpenAi, 503, None),
                malformed: "<html>".to_owned(),
                usage: None,
                bill_bound: 0,
            }
        }
        (_, Some(dialect)) => {
            let body = wire::error_body(dialect, 405, Some("Method not allowed."));
            respond_whole(sock, 405, &[id_header], &body, keep_alive).await?;
            return Ok(keep(keep_alive));
        }
        (method, None) => {
            let message = format!("Unknown request URL: {method} {path}.");
            let body = wire::error_body(Dialect::OpenAi, 404, Some(&message));
            respond_whole(sock, 404, &[id_header], &body, keep_alive).await?;
            return Ok(keep(keep_alive));
        }
    };
    if !matches!(fault, Fault::Delay(_)) {
        shared.fire(fault);
    }
    let kept = emit(sock, &layout, fault, id_header, keep_alive).await?;
    // Not after a delay: the client may have given up and never read it.
    let whole = matches!(fault, Fault::None | Fault::SlowDrip { .. });
    if let (true, Some((input, output))) = (whole, layout.usage) {
        shared.reported_input.fetch_add(input, Ordering::SeqCst);
        shared.reported_output.fetch_add(output, Ordering::SeqCst);
    } else {
        shared
            .unreported_bound
            .fetch_add(layout.bill_bound, Ordering::SeqCst);
    }
    Ok(keep(kept))
}
