//! The call loop: each provider in the plan's order under its retry policy, each attempt
//! behind the provider's breaker and the call's deadline.

use std::sync::Mutex;
use std::time::Duration;

use steadfast_circuit::{Permit, Rejected};
use steadfast_errors::observe::{Event, Refusal};
use steadfast_errors::{ErrorKind, Failure, ProviderError};
use steadfast_providers_core::ChatRequest;
use steadfast_retry::Admit;
use tokio::time::Instant;
use tracing::Instrument;

use crate::attempt::{
    Op, Tried, Won, attempt_event, attempt_span, capped, deadline_error, lock, skip_event,
};
use crate::constraints::Constraints;
use crate::entry::{Entry, Inner};
use crate::error::{FallbackError, StopReason};
use crate::plan::Plan;
use crate::record::{AttemptOutcome, AttemptRecord};

/// Why one attempt failed, as the retry policy sees it.
#[derive(Debug)]
enum AttemptError {
    /// The provider failed.
    Provider(ProviderError),
    /// The call's deadline cut the attempt short (or left no time to start it).
    Deadline(ProviderError),
    /// The breaker refused the attempt.
    Rejected(Rejected),
}

impl Failure for AttemptError {
    fn is_retryable(&self) -> bool {
        match self {
            AttemptError::Provider(e) => e.is_retryable(),
            AttemptError::Deadline(_) | AttemptError::Rejected(_) => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Provider(e) => e.retry_after(),
            AttemptError::Rejected(r) => r.retry_after(),
            AttemptError::Deadline(_) => None,
        }
    }

    fn counts_against_health(&self) -> bool {
        match self {
            AttemptError::Provider(e) => e.counts_against_health(),
            _ => false,
        }
    }

    fn kind(&self) -> Option<ErrorKind> {
        match self {
            AttemptError::Provider(e) | AttemptError::Deadline(e) => Some(e.kind()),
            AttemptError::Rejected(_) => None,
        }
    }

    fn is_refusal(&self) -> bool {
        matches!(self, AttemptError::Rejected(_))
    }
}

/// How one provider's turn ended.
enum RunEnd<T> {
    Won(T, Permit),
    /// The breaker refused the first attempt.
    Skipped(Rejected),
    Failed(ProviderError),
}

struct Run<T> {
    end: RunEnd<T>,
    retries: u32,
    duration: Duration,
}

/// How a provider's turn stands in the call.
#[derive(Debug, Clone, Copy)]
struct Turn {
    /// Whether another provider was tried (or skipped) before this one.
    fallback: bool,
    /// Whether this is the last provider the call may try and the call has a deadline: its
    /// open breaker is then waited for (within the deadline and the retry policy) instead
    /// of ending the call at once — a local server warming up answers 503 until it is
    /// ready, and failing fast helps no one when there is nowhere else to go.
    lone: bool,
}

/// One provider's turn: its retry policy around attempts, each behind its breaker, each cut
/// at the deadline. Failures are reported to the breaker and health here; a success's
/// permit is handed back to the caller to report when the success is complete.
async fn run_on<O: Op>(
    inner: &Inner,
    entry: &Entry,
    plan: &Plan,
    request: &ChatRequest,
    turn: Turn,
    op: &O,
) -> Run<O::Output> {
    let Turn { fallback, lone } = turn;
    let started = Instant::now();
    let policy = entry.policy_within(plan.remaining());
    let owned = entry.request_for(request);
    let base: &ChatRequest = owned.as_deref().unwrap_or(request);
    let model = base.model.as_str();
    let id = entry.id();
    // The last provider error, for when the breaker refuses a later attempt.
    let last: Mutex<Option<ProviderError>> = Mutex::new(None);
    let last = &last;
    // Asked before every wait between attempts: an open breaker would refuse the attempt
    // after the wait, so the wait is not taken and the chain falls back now — unless this is
    // the last provider that may be tried, which is then waited for (warm-up is not an
    // outage): the retry policy bounds that wait by `max_retry_after` and the deadline.
    let gate = |_wait: Duration| match entry.open_for() {
        Some(left) if lone => Admit::After(left),
        Some(_) => Admit::No,
        None => Admit::Yes,
    };
    let max_wait = policy.config().max_retry_after;
    let wait_fits =
        |wait: Duration| wait <= max_wait && plan.remaining().is_some_and(|left| wait < left);
    let wait_fits = &wait_fits;
    let observers = &inner.observers;
    let outcome = policy
        .run_gated(gate, |ctx| async move {
            let span = attempt_span(&*entry.provider, model, ctx.number, false);
            let tried = Tried {
                provider: id,
                model,
                attempt: ctx.number,
                fallback,
                resume: false,
                span: Some(&span),
            };
            let permit = match entry.breaker.try_acquire() {
                Ok(permit) => permit,
                // Nowhere else to go: wait for the breaker's probe, as the gate does between
                // attempts, if the wait fits (see `lone`).
                Err(rejected) if ctx.number == 1 && lone && wait_fits(rejected.retry_in()) => {
                    tokio::time::sleep(rejected.retry_in()).await;
                    entry
                        .breaker
                        .try_acquire()
                        .map_err(AttemptError::Rejected)?
                }
                Err(rejected) => return Err(AttemptError::Rejected(rejected)),
            };
            let attempt_started = Instant::now();
            let result = match plan.remaining() {
                None => {
                    op.call(&*entry.provider, base)
                        .instrument(span.clone())
                        .await
                }
                Some(left) if left.is_zero() => {
                    drop(permit);
                    return Err(AttemptError::Deadline(deadline_error(id, model)));
                }
                Some(left) => {
                    let req = capped(base, left);
                    let req = req.as_deref().unwrap_or(base);
                    let call = op.call(&*entry.provider, req).instrument(span.clone());
                    match tokio::time::timeout(left, call).await {
                        Ok(result) => result,
                        Err(_) => {
                            // The caller's deadline, not the provider's fault: the permit is
                            // dropped (cancelled) and health is left alone.
                            drop(permit);
                            let e = deadline_error(id, model);
                            attempt_event(observers, &tried, attempt_started.elapsed(), Some(&e));
                            return Err(AttemptError::Deadline(e));
                        }
                    }
                }
            };
            let elapsed = attempt_started.elapsed();
            match result {
                // The provider's own timeout (capped at the time left) firing at the
                // deadline is the deadline's doing, as above.
                Err(e) if e.kind() == ErrorKind::Timeout && plan.expired() => {
                    drop(permit);
                    attempt_event(observers, &tried, elapsed, Some(&e));
                    Err(AttemptError::Deadline(e))
                }
                Ok(value) => {
                    if !O::LOGS_SUCCESS_LATER {
                        attempt_event(observers, &tried, elapsed, None);
                    }
                    Ok((value, permit))
                }
                Err(e) => {
                    permit.failure(&e);
                    entry.health.failure(e.counts_against_health());
                    attempt_event(observers, &tried, elapsed, Some(&e));
                    *lock(last) = Some(e.clone());
                    Err(AttemptError::Provider(e))
                }
            }
        })
        .await;
    let made = u32::try_from(outcome.attempts.len()).unwrap_or(u32::MAX);
    let (end, made) = match outcome.result {
        Ok((value, permit)) => (RunEnd::Won(value, permit), made),
        Err(AttemptError::Provider(e) | AttemptError::Deadline(e)) => (RunEnd::Failed(e), made),
        Err(AttemptError::Rejected(rejected)) => match lock(last).take() {
            Some(e) => (RunEnd::Failed(e), made - 1),
            None => (RunEnd::Skipped(rejected), 0),
        },
    };
    Run {
        end,
        retries: made.saturating_sub(1),
        duration: started.elapsed(),
    }
}

/// Runs the plan: each provider in order until one succeeds or the rules say stop.
pub(crate) async fn drive<O: Op>(
    inner: &Inner,
    request: &ChatRequest,
    plan: &Plan,
    constraints: &mut Constraints,
    op: &O,
) -> Result<Won<O::Output>, FallbackError> {
    // Sized once: a record per provider in the plan at most (resumes come later).
    let mut attempts = Vec::with_capacity(plan.order.len());
    let mut last: Option<ProviderError> = None;
    let mut called = false;
    // The last provider the call gave up on (failed, or refused by its breaker).
    let mut given_up: Option<&str> = None;
    for (position, &index) in plan.order.iter().enumerate() {
        if plan.expired() {
            return Err(FallbackError::new(
                attempts,
                last,
                StopReason::DeadlineExceeded,
            ));
        }
        let entry = &inner.entries[index];
        let model = entry.model_for(request);
        if let Some(skip) = entry.excluded(constraints) {
            skip_event(entry.id(), model, skip);
            attempts.push(entry.record(request, skip));
            continue;
        }
        // Only a call with nowhere else to go waits for an open breaker: when every provider
        // of a larger plan is down, failing fast is the answer the caller needs.
        let others = plan
            .order
            .iter()
            .filter(|&&i| i != index)
            .map(|&i| &inner.entries[i])
            .any(|e| e.excluded(constraints).is_none());
        let turn = Turn {
            fallback: position > 0,
            lone: plan.deadline_at.is_some() && !others,
        };
        if let Some(from) = given_up
            && !inner.observers.is_empty()
        {
            inner.observers.emit(&Event::Fallback {
                from,
                to: entry.id(),
            });
        }
        let run = run_on(inner, entry, plan, request, turn, op).await;
        match run.end {
            RunEnd::Won(value, permit) => {
                let mut record = entry.record(request, AttemptOutcome::Succeeded);
                record.retries = run.retries;
                record.duration = run.duration;
                attempts.push(record);
                return Ok(Won {
                    value,
                    permit,
                    position,
                    entry: index,
                    model: model.to_owned(),
                    attempts,
                });
            }
            RunEnd::Skipped(rejected) => {
                skip_event(entry.id(), model, AttemptOutcome::SkippedBreakerOpen);
                inner.observers.emit(&Event::Rejected {
                    provider: entry.id(),
                    reason: Refusal::Breaker,
                });
                given_up = Some(entry.id());
                attempts.push(AttemptRecord::skipped(
                    entry.id(),
                    model,
                    AttemptOutcome::SkippedBreakerOpen,
                    Some(rejected.to_string()),
                ));
            }
            RunEnd::Failed(err) => {
                called = true;
                given_up = Some(entry.id());
                let mut record = entry.record(request, AttemptOutcome::Failed);
                record.fail(&err);
                record.retries = run.retries;
                record.duration = run.duration;
                attempts.push(record);
                let kind = err.kind();
                if !kind.may_fall_back() {
                    return Err(FallbackError::new(
                        attempts,
                        Some(err),
                        StopReason::NoFallback,
                    ));
                }
                constraints.after_failure(kind, &entry.config);
                last = Some(err);
                if !plan.fallback {
                    return Err(FallbackError::new(
                        attempts,
                        last,
                        StopReason::FallbackDisabled,
                    ));
                }
            }
        }
    }
    let reason = if plan.expired() {
        StopReason::DeadlineExceeded
    } else if called {
        StopReason::AllFailed
    } else {
        StopReason::NoEligibleProvider
    };
    Err(FallbackError::new(attempts, last, reason))
}
