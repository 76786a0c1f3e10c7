//! `FallbackStream`: a streamed answer that fails over before its first token and resumes
//! after it — on the same provider first, then on the next eligible one.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use steadfast_circuit::Permit;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ChatProvider, ChatRequest, ChatStream, StreamEvent};
use steadfast_streaming::resume::ReopenFuture;
use steadfast_streaming::{CommitPoint, EventStream, Reopen, ResumableStream, StreamState};
use tokio::time::{Instant, Sleep};

use crate::call::{Op, OpFuture, Won, attempt_event, capped, deadline_error, lock};
use crate::chain::Inner;
use crate::plan::{Constraints, Plan};
use crate::record::{AttemptOutcome, AttemptRecord};

/// One item of a stream: an event, or the error that ends it.
type Item = Result<StreamEvent, ProviderError>;

/// The most events held back while waiting for a stream's first token (keep-alives are not
/// held at all); a stream that sends more without a token is taken as open.
const MAX_PENDING: usize = 64;

/// Whether `event` is the first token: content, or the end of an empty answer.
fn is_token(event: &StreamEvent) -> bool {
    matches!(
        event,
        StreamEvent::TextDelta { .. }
            | StreamEvent::ReasoningDelta { .. }
            | StreamEvent::RefusalDelta { .. }
            | StreamEvent::ToolCallDelta(_)
            | StreamEvent::Finish { .. }
            | StreamEvent::Done
    )
}

/// A stream that reached its first token, with the events before it.
pub(crate) struct Opened {
    pending: VecDeque<Item>,
    stream: ChatStream,
    first_token: Duration,
}

/// Opens a stream and waits for its first token, so that a failure before it is an ordinary
/// failed attempt (retried, fallen back from).
#[derive(Debug)]
pub(crate) struct OpenOp;

impl Op for OpenOp {
    type Output = Opened;

    const LOGS_SUCCESS_LATER: bool = true;

    fn call<'a>(
        &'a self,
        provider: &'a dyn ChatProvider,
        request: &'a ChatRequest,
    ) -> OpFuture<'a, Opened> {
        Box::pin(async move {
            let started = Instant::now();
            let mut stream = provider.chat_stream(request).await?;
            let mut pending = VecDeque::new();
            loop {
                match poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
                    Some(Ok(StreamEvent::KeepAlive)) => {}
                    Some(Ok(event)) => {
                        let token = is_token(&event);
                        pending.push_back(Ok(event));
                        if token || pending.len() >= MAX_PENDING {
                            return Ok(Opened {
                                pending,
                                stream,
                                first_token: started.elapsed(),
                            });
                        }
                    }
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(ProviderError::new(
                            ErrorKind::StreamInterrupted,
                            provider.id().to_owned(),
                            "the stream ended before its first token",
                        )
                        .with_model(request.model.clone())
                        .with_first_byte_received(!pending.is_empty()));
                    }
                }
            }
        })
    }
}

/// What the stream, its parts and its reopens share.
struct Shared {
    chain: Arc<Inner>,
    request: ChatRequest,
    plan: Plan,
    progress: Mutex<Progress>,
}

struct Progress {
    /// The plan position of the provider streaming now.
    position: usize,
    /// The record of the part streaming now.
    record: usize,
    attempts: Vec<AttemptRecord>,
    constraints: Constraints,
    /// An error that ends the stream now, without further resumes.
    fatal: Option<ProviderError>,
    /// Parts in a row that failed on the provider streaming now.
    failures_here: u32,
}

impl Shared {
    fn push(&self, record: AttemptRecord) -> usize {
        let mut p = lock(&self.progress);
        p.attempts.push(record);
        p.attempts.len() - 1
    }

    fn fatal(&self, err: ProviderError) -> ProviderError {
        lock(&self.progress).fatal = Some(err.clone());
        err
    }

    /// Opens a continuation: on the current provider once, then — when a continuation there
    /// failed too — on the next eligible ones. A provider that keeps failing mid-stream does not
    /// get every resume while a healthy fallback waits.
    async fn reopen(
        self: Arc<Self>,
        delivered: StreamState,
        resume: u32,
    ) -> Result<EventStream, ProviderError> {
        let continuing = delivered.commit_point() >= CommitPoint::FirstToken;
        let start = {
            let mut p = lock(&self.progress);
            p.failures_here += 1;
            let can_move = self.plan.fallback && p.position + 1 < self.plan.order.len();
            if p.failures_here >= 2 && can_move {
                p.position + 1
            } else {
                p.position
            }
        };
        let mut last = None;
        for position in start..self.plan.order.len() {
            if position > start && !self.plan.fallback {
                break;
            }
            let index = self.plan.order[position];
            let entry = &self.chain.entries[index];
            let model = entry.model_for(&self.request);
            if self.plan.expired() {
                let e = deadline_error(entry.id(), model).with_first_byte_received(continuing);
                return Err(self.fatal(e));
            }
            let constraints = lock(&self.progress).constraints;
            if let Some(skip) = entry.excluded(&constraints) {
                self.push(entry.record(&self.request, skip));
                continue;
            }
            let permit = match entry.breaker.try_acquire() {
                Ok(permit) => permit,
                Err(rejected) => {
                    self.push(AttemptRecord::skipped(
                        entry.id(),
                        model,
                        AttemptOutcome::SkippedBreakerOpen,
                        Some(rejected.to_string()),
                    ));
                    continue;
                }
            };
            let base = entry.request_for(&self.request);
            let request = if continuing {
                match entry.provider.continuation(&base, delivered.text()) {
                    Some(request) => request,
                    None => {
                        permit.cancel();
                        self.push(entry.record(&self.request, AttemptOutcome::SkippedCannotResume));
                        continue;
                    }
                }
            } else {
                base.into_owned()
            };
            let started = Instant::now();
            let opened = match self.plan.remaining() {
                None => Some(entry.provider.chat_stream(&request).await),
                Some(left) => {
                    let request = capped(&request, left);
                    tokio::time::timeout(left, entry.provider.chat_stream(&request))
                        .await
                        .ok()
                }
            };
            let fallback = position > 0;
            let opened = match opened {
                // The provider's own timeout firing at the deadline is the deadline's doing.
                Some(Err(e)) if e.kind() == ErrorKind::Timeout && self.plan.expired() => None,
                other => other,
            };
            match opened {
                None => {
                    permit.cancel();
                    let e = deadline_error(entry.id(), model).with_first_byte_received(continuing);
                    attempt_event(
                        entry.id(),
                        model,
                        started.elapsed(),
                        Some(&e),
                        resume,
                        fallback,
                    );
                    let mut record = entry.record(&self.request, AttemptOutcome::Failed);
                    record.fail(&e);
                    record.duration = started.elapsed();
                    self.push(record);
                    return Err(self.fatal(e));
                }
                Some(Ok(stream)) => {
                    let mut record = entry.record(&self.request, AttemptOutcome::Resumed);
                    record.duration = started.elapsed();
                    let record = {
                        let mut p = lock(&self.progress);
                        p.attempts.push(record);
                        if p.position != position {
                            p.failures_here = 0;
                        }
                        p.position = position;
                        p.record = p.attempts.len() - 1;
                        p.record
                    };
                    let part = Part {
                        pending: VecDeque::new(),
                        stream,
                        entry: index,
                        record,
                        model: model.to_owned(),
                        started,
                        opened: Instant::now(),
                        first_token: None,
                        permit: Some(permit),
                        attempt: resume,
                        fallback,
                        shared: Arc::clone(&self),
                    };
                    return Ok(Box::pin(part));
                }
                Some(Err(e)) => {
                    permit.failure(&e);
                    entry.health.failure(e.counts_against_health());
                    attempt_event(
                        entry.id(),
                        model,
                        started.elapsed(),
                        Some(&e),
                        resume,
                        fallback,
                    );
                    let mut record = entry.record(&self.request, AttemptOutcome::Failed);
                    record.fail(&e);
                    record.duration = started.elapsed();
                    {
                        let mut p = lock(&self.progress);
                        p.attempts.push(record);
                        p.constraints.after_failure(e.kind(), &entry.config);
                    }
                    if !e.kind().may_fall_back() {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        match last {
            // A provider failed: the resumable stream may try again after its backoff, as
            // long as it has resumes left and the error may be resumed.
            Some(e) => Err(e),
            None => {
                let current = self.plan.order[start];
                let e = ProviderError::new(
                    ErrorKind::StreamInterrupted,
                    self.chain.entries[current].id().to_owned(),
                    "no provider may continue the answer; it is incomplete",
                )
                .with_first_byte_received(continuing);
                Err(self.fatal(e))
            }
        }
    }
}

/// One provider's part of the answer. It holds the provider's breaker permit until the part
/// ends: success at `Done` (with the time to first token as latency), failure on an error or
/// an end without terminator, cancellation when dropped unfinished.
struct Part {
    pending: VecDeque<Item>,
    stream: ChatStream,
    entry: usize,
    record: usize,
    model: String,
    /// When the attempt that opened this part began.
    started: Instant,
    /// When the part was handed over.
    opened: Instant,
    first_token: Option<Duration>,
    permit: Option<Permit>,
    attempt: u32,
    fallback: bool,
    shared: Arc<Shared>,
}

impl Part {
    fn finish(&mut self, error: Option<&ProviderError>) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let entry = &self.shared.chain.entries[self.entry];
        match error {
            None => {
                let latency = self.first_token.unwrap_or_else(|| self.started.elapsed());
                permit.success_with_latency(latency);
                entry.health.success();
            }
            Some(e) => {
                permit.failure(e);
                entry.health.failure(e.counts_against_health());
            }
        }
        {
            let mut p = lock(&self.shared.progress);
            if let Some(record) = p.attempts.get_mut(self.record) {
                record.duration += self.opened.elapsed();
                if let Some(e) = error {
                    record.fail(e);
                }
            }
            if let Some(e) = error {
                p.constraints.after_failure(e.kind(), &entry.config);
            }
        }
        attempt_event(
            entry.id(),
            &self.model,
            self.started.elapsed(),
            error,
            self.attempt,
            self.fallback,
        );
    }
}

impl Stream for Part {
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let this = self.get_mut();
        let item = match this.pending.pop_front() {
            Some(item) => Some(item),
            None => ready!(this.stream.as_mut().poll_next(cx)),
        };
        if this.permit.is_some() {
            match &item {
                Some(Ok(event)) => {
                    if this.first_token.is_none() && is_token(event) {
                        this.first_token = Some(this.started.elapsed());
                    }
                    if matches!(event, StreamEvent::Done) {
                        this.finish(None);
                    }
                }
                Some(Err(e)) => this.finish(Some(e)),
                None => {
                    let id = this.shared.chain.entries[this.entry].id().to_owned();
                    let e = ProviderError::new(
                        ErrorKind::StreamInterrupted,
                        id,
                        "the stream ended without its terminator",
                    )
                    .with_model(this.model.clone())
                    .with_first_byte_received(true);
                    this.finish(Some(&e));
                }
            }
        }
        Poll::Ready(item)
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if self.permit.is_some() {
            // Abandoned unfinished: the permit's drop records a cancellation.
            let mut p = lock(&self.shared.progress);
            if let Some(record) = p.attempts.get_mut(self.record) {
                record.duration += self.opened.elapsed();
            }
        }
    }
}

/// The [`Reopen`] of a chain's stream.
struct ChainReopen(Arc<Shared>);

impl Reopen for ChainReopen {
    fn reopen(&self, delivered: StreamState, attempt: u32) -> ReopenFuture {
        Box::pin(Arc::clone(&self.0).reopen(delivered, attempt))
    }
}

/// A streamed answer from a [`FallbackChain`](crate::FallbackChain).
///
/// It is a [`ResumableStream`] whose reopen walks the chain:
///
/// - The stream was handed over at its first token; failures before it were retried and
///   fallen back from like any failed call.
/// - After an interruption (a cut, an idle timeout, a retryable in-band error such as
///   `overloaded`) the answer is continued from what was delivered
///   ([`ChatProvider::continuation`]): on the same provider first, unless it is disabled or
///   its breaker refuses; if it cannot continue or the reopen fails with an error that
///   falls back, on the next eligible provider (the same constraints as for whole answers
///   apply, and none but the current one when fallback is off). A reopen is one attempt per
///   provider; the resume backoff and [`ResumeSettings::max_resumes`] bound how often it
///   happens.
/// - Every character is delivered once: see [`steadfast_streaming::resume`] for the
///   guarantee and its limits (a cut inside a tool call, overlap detection). Usage is summed
///   over every part, since every part is billed.
/// - Each part holds its provider's breaker permit until it ends: success at `Done` with the
///   time to first token as latency, failure on an error, cancellation when dropped.
/// - It ends with an error when an error may not be resumed, resumes are exhausted, no
///   provider may continue, or the call's deadline passes (the deadline bounds the whole
///   answer: when it passes mid-stream, the stream ends with a `timeout` error and the
///   current part's permit is cancelled, not failed).
///
/// Every part is in [`attempts`](Self::attempts): the first as `Succeeded` (or `Failed` once
/// cut), each reopen as `Resumed`, `Failed` or skipped.
///
/// [`ChatProvider::continuation`]: steadfast_providers_core::ChatProvider::continuation
/// [`ResumeSettings::max_resumes`]: crate::ResumeSettings::max_resumes
pub struct FallbackStream {
    body: Body,
    deadline: Option<Pin<Box<Sleep>>>,
    shared: Arc<Shared>,
    ended: bool,
}

impl FallbackStream {
    pub(crate) fn start(
        chain: Arc<Inner>,
        request: ChatRequest,
        plan: Plan,
        constraints: Constraints,
        won: Won<Opened>,
    ) -> FallbackStream {
        let record = won.attempts.len() - 1;
        let attempt = won.attempts[record].retries.saturating_add(1);
        let resume = chain.config.resume.into();
        let deadline = plan
            .deadline_at
            .map(|at| Box::pin(tokio::time::sleep_until(at)));
        let shared = Arc::new(Shared {
            chain,
            request,
            plan,
            progress: Mutex::new(Progress {
                position: won.position,
                record,
                attempts: won.attempts,
                constraints,
                fatal: None,
                failures_here: 0,
            }),
        });
        let now = Instant::now();
        let first = Part {
            pending: won.value.pending,
            stream: won.value.stream,
            entry: won.entry,
            record,
            model: won.model,
            started: now.checked_sub(won.value.first_token).unwrap_or(now),
            opened: now,
            first_token: Some(won.value.first_token),
            permit: Some(won.permit),
            attempt,
            fallback: won.position > 0,
            shared: Arc::clone(&shared),
        };
        let reopen = Arc::new(ChainReopen(Arc::clone(&shared)));
        FallbackStream {
            body: Body::Live(Box::new(ResumableStream::new(
                Box::pin(first),
                reopen,
                resume,
            ))),
            deadline,
            shared,
            ended: false,
        }
    }

    /// The id of the provider streaming now (the last one a part was opened on).
    pub fn provider(&self) -> String {
        let position = lock(&self.shared.progress).position;
        let index = self.shared.plan.order[position];
        self.shared.chain.entries[index].id().to_owned()
    }

    /// The model asked of the provider streaming now.
    pub fn model(&self) -> String {
        let position = lock(&self.shared.progress).position;
        let index = self.shared.plan.order[position];
        self.shared.chain.entries[index]
            .model_for(&self.shared.request)
            .to_owned()
    }

    /// Every provider's turn so far, in order.
    pub fn attempts(&self) -> Vec<AttemptRecord> {
        lock(&self.shared.progress).attempts.clone()
    }

    /// Everything delivered to the consumer so far: text, reasoning, tool calls, usage
    /// summed over every part, and the error the stream ended with.
    pub fn delivered(&self) -> &StreamState {
        match &self.body {
            Body::Live(inner) => inner.delivered(),
            Body::Over { delivered, .. } => delivered,
        }
    }

    /// How many continuations were opened.
    pub fn resumes(&self) -> u32 {
        match &self.body {
            Body::Live(inner) => inner.resumes(),
            Body::Over { resumes, .. } => *resumes,
        }
    }

    /// Ends the stream now with `err`: the current part is dropped (its permit cancelled),
    /// what was delivered is kept.
    fn end_early(&mut self, err: ProviderError) -> Poll<Option<Item>> {
        if let Body::Live(inner) = &self.body {
            let mut delivered = inner.delivered().clone();
            delivered.apply_error(&err);
            let resumes = inner.resumes();
            // Dropping the live stream drops the current part and cancels its permit.
            self.body = Body::Over {
                delivered: Box::new(delivered),
                resumes,
            };
        }
        {
            let mut p = lock(&self.shared.progress);
            let current = p.record;
            if let Some(record) = p.attempts.get_mut(current)
                && record.outcome != AttemptOutcome::Failed
            {
                record.fail(&err);
            }
        }
        self.ended = true;
        Poll::Ready(Some(Err(err)))
    }
}

/// The live stream, or what is left of it once ended early.
enum Body {
    Live(Box<ResumableStream>),
    Over {
        delivered: Box<StreamState>,
        resumes: u32,
    },
}

impl Stream for FallbackStream {
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            this.deadline = None;
            let e = deadline_error(&this.provider(), &this.model()).with_first_byte_received(true);
            return this.end_early(e);
        }
        let Body::Live(inner) = &mut this.body else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_next(cx) {
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Pending => {
                let fatal = lock(&this.shared.progress).fatal.take();
                match fatal {
                    Some(e) => this.end_early(e),
                    None => Poll::Pending,
                }
            }
        }
    }
}

impl fmt::Debug for FallbackStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackStream")
            .field("provider", &self.provider())
            .field("resumes", &self.resumes())
            .field("delivered", self.delivered())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
