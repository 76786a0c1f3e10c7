//! What one attempt on one provider is made of: the operation (`Op`: chat, or open a
//! stream), the request capped at the deadline, the deadline's error, the per-attempt
//! `tracing` events, and what a winning provider hands back (`Won`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use steadfast_circuit::Permit;
use steadfast_errors::observe::{Event, Observers};
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::http::server_of;
use steadfast_providers_core::{ChatProvider, ChatRequest, ChatResponse};
use tracing::Span;
use tracing::field::Empty;

use crate::record::{AttemptOutcome, AttemptRecord};

/// The future of one operation on one provider.
pub(crate) type OpFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// What is done with a provider on each attempt: `chat`, or open a stream.
pub(crate) trait Op: Sync {
    type Output: Send;

    /// Whether a success is logged later, when the result is complete (a stream at its end),
    /// rather than when the attempt returns.
    const LOGS_SUCCESS_LATER: bool = false;

    fn call<'a>(
        &'a self,
        provider: &'a dyn ChatProvider,
        request: &'a ChatRequest,
    ) -> OpFuture<'a, Self::Output>;
}

/// A whole answer.
#[derive(Debug)]
pub(crate) struct ChatOp;

impl Op for ChatOp {
    type Output = ChatResponse;

    fn call<'a>(
        &'a self,
        provider: &'a dyn ChatProvider,
        request: &'a ChatRequest,
    ) -> OpFuture<'a, ChatResponse> {
        provider.chat(request)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The error of an attempt the call's deadline cut short.
pub(crate) fn deadline_error(provider: &str, model: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Timeout,
        provider.to_owned(),
        "the call's deadline passed",
    )
    .with_model(model.to_owned())
}

/// `request` with its own timeout, if it has one, capped at `left`. A request without one
/// keeps none, so that the provider's configured timeout applies: replacing it with the
/// time left would let one slow provider eat the whole deadline (the attempt is cut at the
/// deadline separately). `None` when that is `request` as it is (no timeout of its own,
/// or one within `left`): no copy is made.
pub(crate) fn capped(request: &ChatRequest, left: Duration) -> Option<Box<ChatRequest>> {
    let timeout = request.timeout.filter(|t| *t > left)?;
    let mut capped = Box::new(request.clone());
    capped.timeout = Some(timeout.min(left));
    Some(capped)
}

/// Who an attempt was made on, and where it stands in the call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tried<'a> {
    pub(crate) provider: &'a str,
    pub(crate) model: &'a str,
    /// 1 for the first attempt of the turn (for a resume: the resume's number).
    pub(crate) attempt: u32,
    /// Whether another provider was tried before this one.
    pub(crate) fallback: bool,
    /// Whether the attempt reopened an interrupted stream.
    pub(crate) resume: bool,
    /// The attempt's span, told the error type when it fails.
    pub(crate) span: Option<&'a Span>,
}

/// The span of one attempt, a child of whatever span is current (a router's call span):
/// named and attributed per the OpenTelemetry GenAI conventions. Nothing is formatted
/// unless a subscriber wants the span.
pub(crate) fn attempt_span(
    provider: &dyn ChatProvider,
    model: &str,
    attempt: u32,
    resume: bool,
) -> Span {
    let span = tracing::info_span!(
        target: "steadfast_fallback",
        "attempt",
        otel.name = %format_args!("chat {model}"),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = provider.kind().as_str(),
        gen_ai.request.model = model,
        error.type = Empty,
        server.address = Empty,
        server.port = Empty,
        steadfast.provider = provider.id(),
        steadfast.attempt = attempt,
        steadfast.resume = resume,
    );
    // Parsed only when a subscriber wants the span.
    if !span.is_disabled()
        && let Some((host, port)) = provider.base_url().and_then(server_of)
    {
        span.record("server.address", host.as_str());
        span.record("server.port", port);
    }
    span
}

/// One structured event per attempt (DESIGN §8, seed 000), and the same attempt reported to
/// the chain's observers.
pub(crate) fn attempt_event(
    observers: &Observers,
    tried: &Tried<'_>,
    elapsed: Duration,
    error: Option<&ProviderError>,
) {
    let Tried {
        provider,
        model,
        attempt,
        fallback,
        resume,
        span,
    } = *tried;
    if let (Some(span), Some(e)) = (span, error) {
        span.record("error.type", e.kind().as_str());
        span.record("otel.status_code", "ERROR");
    }
    if !observers.is_empty() {
        observers.emit(&Event::Attempt {
            provider,
            model,
            attempt,
            duration: elapsed,
            error,
            fallback,
            resume,
        });
    }
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let retry_count = attempt.saturating_sub(1);
    match error {
        None => tracing::info!(
            target: "steadfast_fallback",
            provider,
            model,
            duration_ms,
            success = true,
            attempt,
            retry_count,
            fallback,
            resume,
            "attempt succeeded"
        ),
        Some(e) => tracing::warn!(
            target: "steadfast_fallback",
            provider,
            model,
            duration_ms,
            success = false,
            error_kind = e.kind().as_str(),
            category5 = e.category5().as_str(),
            status = e.status(),
            attempt,
            retry_count,
            fallback,
            resume,
            error = %e,
            "attempt failed"
        ),
    }
}

/// The event of a provider skipped without being called.
pub(crate) fn skip_event(provider: &str, model: &str, outcome: AttemptOutcome) {
    tracing::debug!(
        target: "steadfast_fallback",
        provider,
        model,
        outcome = outcome.as_str(),
        "provider skipped"
    );
}

/// The provider that answered, with what the caller needs to finish the call.
pub(crate) struct Won<T> {
    pub(crate) value: T,
    pub(crate) permit: Permit,
    /// Its position in the plan's order.
    pub(crate) position: usize,
    /// Its index among the chain's entries.
    pub(crate) entry: usize,
    pub(crate) model: String,
    /// Every turn so far; the last is the winner's.
    pub(crate) attempts: Vec<AttemptRecord>,
}
