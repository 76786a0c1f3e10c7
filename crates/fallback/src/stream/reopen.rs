//! Reopening a chain's stream after an interruption: a continuation on the current provider
//! first, then on the next eligible ones.

use std::collections::VecDeque;
use std::sync::Arc;

use steadfast_errors::observe::{Event, Refusal};
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_streaming::resume::ReopenFuture;
use steadfast_streaming::{CommitPoint, EventStream, Reopen, StreamState};
use tokio::time::Instant;
use tracing::Instrument;

use super::part::Part;
use super::shared::Shared;
use crate::attempt::{Tried, attempt_event, attempt_span, capped, deadline_error, lock};
use crate::record::{AttemptOutcome, AttemptRecord};

/// The [`Reopen`] of a chain's stream.
pub(super) struct ChainReopen(pub(super) Arc<Shared>);

impl Reopen for ChainReopen {
    fn reopen(&self, delivered: StreamState, attempt: u32) -> ReopenFuture {
        Box::pin(reopen(Arc::clone(&self.0), delivered, attempt))
    }
}

/// Opens a continuation: on the current provider once, then — when a continuation there
/// failed too — on the next eligible ones. A provider that keeps failing mid-stream does not
/// get every resume while a healthy fallback waits.
async fn reopen(
    shared: Arc<Shared>,
    delivered: StreamState,
    resume: u32,
) -> Result<EventStream, ProviderError> {
    let continuing = delivered.commit_point() >= CommitPoint::FirstToken;
    let start = {
        let mut p = lock(&shared.progress);
        p.failures_here += 1;
        let can_move = shared.plan.fallback && p.position + 1 < shared.plan.order.len();
        if p.failures_here >= 2 && can_move {
            p.position + 1
        } else {
            p.position
        }
    };
    let mut last = None;
    for position in start..shared.plan.order.len() {
        if position > start && !shared.plan.fallback {
            break;
        }
        let index = shared.plan.order[position];
        let entry = &shared.chain.entries[index];
        let model = entry.model_for(&shared.request);
        if shared.plan.expired() {
            let e = deadline_error(entry.id(), model).with_first_byte_received(continuing);
            return Err(shared.fatal(e));
        }
        let constraints = lock(&shared.progress).constraints;
        if let Some(skip) = entry.excluded(&constraints) {
            shared.push(entry.record(&shared.request, skip));
            continue;
        }
        let permit = match entry.breaker.try_acquire() {
            Ok(permit) => permit,
            Err(rejected) => {
                shared.chain.observers.emit(&Event::Rejected {
                    provider: entry.id(),
                    reason: Refusal::Breaker,
                });
                shared.push(AttemptRecord::skipped(
                    entry.id(),
                    model,
                    AttemptOutcome::SkippedBreakerOpen,
                    Some(rejected.to_string()),
                ));
                continue;
            }
        };
        let owned = entry.request_for(&shared.request);
        let request = if continuing {
            let base = owned.as_deref().unwrap_or(&shared.request);
            match entry.provider.continuation(base, delivered.text()) {
                Some(request) => request,
                None => {
                    permit.cancel();
                    shared.push(entry.record(&shared.request, AttemptOutcome::SkippedCannotResume));
                    continue;
                }
            }
        } else {
            owned.map_or_else(|| shared.request.clone(), |b| *b)
        };
        let started = Instant::now();
        let span = attempt_span(&*entry.provider, model, resume, true);
        let opened = match shared.plan.remaining() {
            None => Some(
                entry
                    .provider
                    .chat_stream(&request)
                    .instrument(span.clone())
                    .await,
            ),
            Some(left) => {
                let capped = capped(&request, left);
                let open = entry
                    .provider
                    .chat_stream(capped.as_deref().unwrap_or(&request))
                    .instrument(span.clone());
                tokio::time::timeout(left, open).await.ok()
            }
        };
        let fallback = position > 0;
        let tried = Tried {
            provider: entry.id(),
            model,
            attempt: resume,
            fallback,
            resume: true,
            span: Some(&span),
        };
        let observers = &shared.chain.observers;
        let opened = match opened {
            // The provider's own timeout firing at the deadline is the deadline's doing.
            Some(Err(e)) if e.kind() == ErrorKind::Timeout && shared.plan.expired() => None,
            other => other,
        };
        match opened {
            None => {
                permit.cancel();
                let e = deadline_error(entry.id(), model).with_first_byte_received(continuing);
                attempt_event(observers, &tried, started.elapsed(), Some(&e));
                let mut record = entry.record(&shared.request, AttemptOutcome::Failed);
                record.fail(&e);
                record.duration = started.elapsed();
                shared.push(record);
                return Err(shared.fatal(e));
            }
            Some(Ok(stream)) => {
                let mut record = entry.record(&shared.request, AttemptOutcome::Resumed);
                record.duration = started.elapsed();
                let (record, moved_from) = {
                    let mut p = lock(&shared.progress);
                    p.attempts.push(record);
                    let moved_from = (p.position != position).then_some(p.position);
                    if moved_from.is_some() {
                        p.failures_here = 0;
                    }
                    p.position = position;
                    p.record = p.attempts.len() - 1;
                    (p.record, moved_from)
                };
                if !observers.is_empty() {
                    if let Some(from) = moved_from {
                        let from = shared.chain.entries[shared.plan.order[from]].id();
                        observers.emit(&Event::Fallback {
                            from,
                            to: entry.id(),
                        });
                    }
                    observers.emit(&Event::Resume {
                        provider: entry.id(),
                        model,
                        resume,
                    });
                }
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
                    resume: true,
                    shared: Arc::clone(&shared),
                };
                return Ok(Box::pin(part));
            }
            Some(Err(e)) => {
                permit.failure(&e);
                entry.health.failure(e.counts_against_health());
                attempt_event(observers, &tried, started.elapsed(), Some(&e));
                let mut record = entry.record(&shared.request, AttemptOutcome::Failed);
                record.fail(&e);
                record.duration = started.elapsed();
                {
                    let mut p = lock(&shared.progress);
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
            let current = shared.plan.order[start];
            let e = ProviderError::new(
                ErrorKind::StreamInterrupted,
                shared.chain.entries[current].id().to_owned(),
                "no provider may continue the answer; it is incomplete",
            )
            .with_first_byte_received(continuing);
            Err(shared.fatal(e))
        }
    }
}
