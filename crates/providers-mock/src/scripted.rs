//! `ScriptedProvider`: a [`ChatProvider`] whose every answer is scripted, with a record of
//! every request it received.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use futures_util::StreamExt;
use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::{
    Capabilities, ChatProvider, ChatRequest, ChatResponse, ChatStream, ModelInfo, Pricing, Role,
    StreamEvent, Usage,
};
use steadfast_streaming::StreamState;

use crate::config::{ScriptedConfig, WhenExhausted};
use crate::outcome::{Outcome, StreamEnd};
use crate::plan::{self, Plan, Tail};
use crate::text::{rest_after, word_chunks};

type ScriptFn = Arc<dyn Fn(&ChatRequest, u32) -> Outcome + Send + Sync>;

#[derive(Default)]
struct Script {
    queue: VecDeque<Outcome>,
    func: Option<ScriptFn>,
    last: Option<Outcome>,
}

/// A chat provider that does what it is told, call by call, and remembers what it was asked.
///
/// Each call (to `chat` or `chat_stream`) takes its [`Outcome`] from, in order: the queue of
/// scripted outcomes; else the closure, if one is set (it sees the request and the call
/// number, 1 for the first call); else the last outcome again, or an error, as
/// [`ScriptedConfig::when_exhausted`] says. Every request is recorded for assertions.
///
/// ```
/// use std::sync::Arc;
/// use steadfast_errors::ErrorKind;
/// use steadfast_providers_core::{ChatProvider, ChatRequest, Message};
/// use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let provider = ScriptedProvider::new(
///     ScriptedConfig::default(),
///     [Outcome::Error(ErrorKind::Overloaded), Outcome::text("Hello there!")],
/// );
/// let request = ChatRequest::new("any-model", vec![Message::user("Hi")]);
///
/// let err = provider.chat(&request).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Overloaded);
/// assert_eq!(provider.chat(&request).await.unwrap().text, "Hello there!");
/// assert_eq!(provider.chat(&request).await.unwrap().text, "Hello there!"); // the last repeats
/// assert_eq!(provider.calls(), 3);
/// assert_eq!(provider.requests()[0].model, "any-model");
/// # }
/// ```
pub struct ScriptedProvider {
    config: ScriptedConfig,
    script: Mutex<Script>,
    requests: Mutex<Vec<ChatRequest>>,
    calls: AtomicU32,
    health: Mutex<Option<ErrorKind>>,
    health_checks: AtomicU32,
}

impl fmt::Debug for ScriptedProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let script = lock(&self.script);
        f.debug_struct("ScriptedProvider")
            .field("config", &self.config)
            .field("queued", &script.queue.len())
            .field("closure", &script.func.is_some())
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScriptedProvider {
    /// A provider that plays `outcomes` in order.
    pub fn new(
        config: ScriptedConfig,
        outcomes: impl IntoIterator<Item = Outcome>,
    ) -> ScriptedProvider {
        ScriptedProvider {
            config,
            script: Mutex::new(Script {
                queue: outcomes.into_iter().collect(),
                ..Script::default()
            }),
            requests: Mutex::new(Vec::new()),
            calls: AtomicU32::new(0),
            health: Mutex::new(None),
            health_checks: AtomicU32::new(0),
        }
    }

    /// A provider with the default configuration that plays `outcomes` in order.
    pub fn from_outcomes(outcomes: impl IntoIterator<Item = Outcome>) -> ScriptedProvider {
        ScriptedProvider::new(ScriptedConfig::default(), outcomes)
    }

    /// A provider that asks `script` for every outcome, given the request and the call
    /// number (1 for the first call).
    ///
    /// ```
    /// use steadfast_errors::ErrorKind;
    /// use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
    ///
    /// // Fails every third call.
    /// let flaky = ScriptedProvider::from_fn(ScriptedConfig::default(), |_request, call| {
    ///     if call % 3 == 0 { Outcome::Error(ErrorKind::Server) } else { Outcome::text("ok") }
    /// });
    /// # let _ = flaky;
    /// ```
    pub fn from_fn<F>(config: ScriptedConfig, script: F) -> ScriptedProvider
    where
        F: Fn(&ChatRequest, u32) -> Outcome + Send + Sync + 'static,
    {
        let provider = ScriptedProvider::new(config, []);
        lock(&provider.script).func = Some(Arc::new(script));
        provider
    }

    /// Its configuration.
    pub fn config(&self) -> &ScriptedConfig {
        &self.config
    }

    /// Appends an outcome to the queue.
    pub fn push(&self, outcome: Outcome) {
        lock(&self.script).queue.push_back(outcome);
    }

    /// Appends outcomes to the queue.
    pub fn push_all(&self, outcomes: impl IntoIterator<Item = Outcome>) {
        lock(&self.script).queue.extend(outcomes);
    }

    /// Outcomes still queued.
    pub fn queued(&self) -> usize {
        lock(&self.script).queue.len()
    }

    /// Calls to `chat` and `chat_stream` so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Every request received by `chat` and `chat_stream`, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        lock(&self.requests).clone()
    }

    /// The latest request received.
    pub fn last_request(&self) -> Option<ChatRequest> {
        lock(&self.requests).last().cloned()
    }

    /// Makes `health_check` fail with this kind (`None`: succeed, the default).
    pub fn set_health(&self, failure: Option<ErrorKind>) {
        *lock(&self.health) = failure;
    }

    /// Calls to `health_check` so far (they consume no outcome).
    pub fn health_checks(&self) -> u32 {
        self.health_checks.load(Ordering::SeqCst)
    }

    /// Records the request and takes the outcome of this call.
    fn begin(&self, request: &ChatRequest) -> (u32, Outcome) {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.requests).push(request.clone());
        let func = {
            let mut script = lock(&self.script);
            if let Some(next) = script.queue.pop_front() {
                script.last = Some(next.clone());
                return (call, next);
            }
            script.func.clone()
        };
        if let Some(func) = func {
            return (call, func(request, call));
        }
        let last = match self.config.when_exhausted {
            WhenExhausted::RepeatLast => lock(&self.script).last.clone(),
            WhenExhausted::Fail => None,
        };
        let outcome = last.unwrap_or_else(|| {
            Outcome::ProviderError(self.label(
                ProviderError::new(
                    ErrorKind::Unknown,
                    self.config.id.clone(),
                    format!("the script is exhausted: nothing scripted for call {call}"),
                ),
                request,
            ))
        });
        (call, outcome)
    }

    fn label(&self, err: ProviderError, request: &ChatRequest) -> ProviderError {
        if request.model.is_empty() {
            err
        } else {
            err.with_model(request.model.clone())
        }
    }

    /// The error a provider would return for `kind`.
    fn scripted_error(
        &self,
        kind: ErrorKind,
        request: &ChatRequest,
        in_stream: bool,
    ) -> ProviderError {
        let mut err = ProviderError::new(kind, self.config.id.clone(), format!("scripted {kind}"))
            .with_first_byte_received(in_stream);
        if !in_stream && let Some(status) = status_of(kind, self.config.kind) {
            err = err.with_status(status);
        }
        self.label(err, request)
    }

    /// Sleeps the delays and turns the outcome into a plan, or the error before the stream.
    async fn resolve(
        &self,
        outcome: Outcome,
        request: &ChatRequest,
        call: u32,
    ) -> Result<Plan, ProviderError> {
        let mut outcome = outcome;
        let mut pace = None;
        loop {
            outcome = match outcome {
                Outcome::Delay(delay, then) => {
                    tokio::time::sleep(delay).await;
                    *then
                }
                Outcome::Paced { every, then } => {
                    pace = Some(every);
                    *then
                }
                Outcome::Error(kind) => return Err(self.scripted_error(kind, request, false)),
                Outcome::ProviderError(err) => return Err(err),
                other => {
                    let mut plan = self.plan(other, request, call);
                    plan.pace = pace;
                    return Ok(plan);
                }
            };
        }
    }

    fn plan(&self, outcome: Outcome, request: &ChatRequest, call: u32) -> Plan {
        let start = StreamEvent::Start {
            id: Some(format!("mock-{call}")),
            model: (!request.model.is_empty()).then(|| request.model.clone()),
        };
        let complete = |text: String| ChatResponse {
            text,
            ..ChatResponse::default()
        };
        let response = match outcome {
            Outcome::Text(text) => complete(text),
            Outcome::ContinueFrom(answer) => {
                complete(rest_after(&answer, &assistant_prefix(request)).to_owned())
            }
            Outcome::ContinueCut { answer, after } => {
                let chunks = word_chunks(rest_after(&answer, &assistant_prefix(request)));
                if chunks.len() <= after {
                    complete(chunks.concat())
                } else {
                    return self.chunked(start, &chunks[..after], StreamEnd::Cut, request);
                }
            }
            Outcome::ToolCalls(tool_calls) => ChatResponse {
                tool_calls,
                ..ChatResponse::default()
            },
            Outcome::Response(response) => response,
            Outcome::Stream { chunks, then } => {
                return self.chunked(start, &chunks, then, request);
            }
            Outcome::Events { events, then } => {
                let tail = match then {
                    StreamEnd::Complete => Tail::End,
                    other => self.tail(other, request),
                };
                return Plan {
                    events,
                    tail,
                    pace: None,
                };
            }
            // Resolved before planning.
            Outcome::Delay(..)
            | Outcome::Paced { .. }
            | Outcome::Error(_)
            | Outcome::ProviderError(_) => ChatResponse::default(),
        };
        plan::whole(start, response, request)
    }

    /// The events of text chunks, then the end.
    fn chunked(
        &self,
        start: StreamEvent,
        chunks: &[String],
        then: StreamEnd,
        request: &ChatRequest,
    ) -> Plan {
        let tail = match then {
            StreamEnd::Complete => None,
            other => Some(self.tail(other, request)),
        };
        plan::chunked(start, chunks, tail, request)
    }

    fn tail(&self, end: StreamEnd, request: &ChatRequest) -> Tail {
        match end {
            StreamEnd::Complete => Tail::End,
            StreamEnd::Cut => Tail::Error(
                self.label(
                    ProviderError::new(
                        ErrorKind::StreamInterrupted,
                        self.config.id.clone(),
                        "the stream ended before its terminator (scripted cut)",
                    )
                    .with_first_byte_received(true),
                    request,
                ),
            ),
            StreamEnd::Stall => Tail::Stall,
            StreamEnd::Error(kind) => Tail::Error(self.scripted_error(kind, request, true)),
            StreamEnd::ProviderError(err) => Tail::Error(err),
        }
    }

    /// Runs `fut` under the request's (or the configured) timeout.
    async fn timed<T>(
        &self,
        request: &ChatRequest,
        fut: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        match request.timeout.or(self.config.timeout) {
            None => fut.await,
            Some(limit) => match tokio::time::timeout(limit, fut).await {
                Ok(result) => result,
                Err(_) => Err(self.label(
                    ProviderError::new(
                        ErrorKind::Timeout,
                        self.config.id.clone(),
                        format!("request timed out after {limit:?}"),
                    ),
                    request,
                )),
            },
        }
    }
}

/// The status a provider answers a kind with, for kinds that come from a status.
fn status_of(kind: ErrorKind, dialect: Provider) -> Option<u16> {
    Some(match kind {
        ErrorKind::Auth => 401,
        ErrorKind::Permission => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::InvalidRequest | ErrorKind::ContextLength | ErrorKind::ContentFilter => 400,
        ErrorKind::RateLimited | ErrorKind::QuotaExhausted => 429,
        ErrorKind::Overloaded if dialect == Provider::Anthropic => 529,
        ErrorKind::Overloaded => 503,
        ErrorKind::Server => 500,
        _ => return None,
    })
}

/// The text of the assistant message a request ends with (the prefix to continue), or "".
pub(crate) fn assistant_prefix(request: &ChatRequest) -> String {
    match request.messages.last() {
        Some(m) if m.role == Role::Assistant && m.tool_calls.is_empty() => m.joined_text(),
        _ => String::new(),
    }
}

#[async_trait]
impl ChatProvider for ScriptedProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        self.config.kind
    }

    fn capabilities(&self) -> Capabilities {
        self.config.capabilities
    }

    fn models(&self) -> &[ModelInfo] {
        &self.config.models
    }

    /// The model's own price, else the script's one price for every model.
    fn pricing(&self, model: &str) -> Option<Pricing> {
        ModelInfo::find(&self.config.models, model)
            .and_then(|m| m.pricing)
            .or(self.config.pricing)
    }

    fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        let pricing = self.pricing(model)?;
        Some(if self.config.kind == Provider::Anthropic {
            pricing.cost_cache_separate(usage)
        } else {
            pricing.cost(usage)
        })
    }

    /// Plays the call's outcome and returns the answer whole: a stream that would be cut or
    /// end in an error returns that error; one that would stall never returns (the request
    /// timeout can end it).
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let (call, outcome) = self.begin(request);
        self.timed(request, async {
            let plan = self.resolve(outcome, request, call).await?;
            let mut state = StreamState::default();
            for event in &plan.events {
                if let Some(every) = plan.pace {
                    tokio::time::sleep(every).await;
                }
                state.apply(event);
            }
            match plan.tail {
                Tail::End => Ok(plan::response_of(&state)),
                Tail::Error(err) => Err(err),
                Tail::Stall => std::future::pending().await,
            }
        })
        .await
    }

    /// Plays the call's outcome as a stream wrapped in [`ScriptedConfig::stream_timeouts`]; errors
    /// before the stream (and delays) happen before this returns.
    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let (call, outcome) = self.begin(request);
        let plan = self
            .timed(request, self.resolve(outcome, request, call))
            .await?;
        let model = request.model.clone();
        let stream = self
            .config
            .stream_timeouts
            .wrap(self.config.id.clone(), plan::play(plan))
            .map(move |item| {
                item.map_err(|e| match e.model() {
                    None if !model.is_empty() => e.with_model(model.clone()),
                    _ => e,
                })
            });
        Ok(Box::pin(stream))
    }

    /// Succeeds unless [`set_health`](ScriptedProvider::set_health) said otherwise; consumes
    /// no outcome.
    async fn health_check(&self) -> Result<(), ProviderError> {
        self.health_checks.fetch_add(1, Ordering::SeqCst);
        let failure = *lock(&self.health);
        match failure {
            None => Ok(()),
            Some(kind) => Err(self.scripted_error(kind, &ChatRequest::default(), false)),
        }
    }

    /// Exact: the partial answer becomes the assistant prefix, which
    /// [`Outcome::ContinueFrom`] continues exactly. `None` when [`ScriptedConfig::resumable`] is off.
    fn continuation(&self, request: &ChatRequest, partial: &str) -> Option<ChatRequest> {
        self.config
            .resumable
            .then(|| request.continued_from(partial))
    }
}
