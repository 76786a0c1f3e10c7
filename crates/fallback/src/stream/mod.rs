//! `FallbackStream`: a streamed answer that fails over before its first token and resumes
//! after it — on the same provider first, then on the next eligible one.
//!
//! `open` waits for a stream's first token (the operation of the call loop), `part` is one
//! provider's part of the answer, `reopen` opens the next part after an interruption, and
//! `shared` is the state they share.

mod open;
mod part;
mod reopen;
mod shared;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_core::Stream;
use steadfast_errors::ProviderError;
use steadfast_providers_core::ChatRequest;
use steadfast_streaming::{ResumableStream, StreamState};
use tokio::time::{Instant, Sleep};

pub(crate) use open::OpenOp;
use open::{Item, Opened};
use part::Part;
use reopen::ChainReopen;
use shared::{Progress, Shared};

use crate::attempt::{Won, deadline_error, lock};
use crate::constraints::Constraints;
use crate::entry::Inner;
use crate::plan::Plan;
use crate::record::{AttemptOutcome, AttemptRecord};

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
            resume: false,
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

    /// Whether the delivered text is one answer continued exactly: false once a
    /// continuation restarted and then wrote something different (see
    /// [`ResumableStream::continuation_exact`]).
    pub fn continuation_exact(&self) -> bool {
        match &self.body {
            Body::Live(inner) => inner.continuation_exact(),
            Body::Over { exact, .. } => *exact,
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
            let exact = inner.continuation_exact();
            self.body = Body::Over {
                delivered: Box::new(delivered),
                resumes,
                exact,
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
        exact: bool,
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
