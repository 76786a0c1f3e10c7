//! What the router reports of each call to its observers: the call's start and end, its
//! refusal, a stream's first token — and, for a stream, the end reported when the stream
//! ends rather than when it opens.

#[cfg(feature = "metrics")]
pub(crate) mod metrics;
pub(crate) mod spans;

use std::sync::Arc;
use std::time::Duration;

use steadfast_errors::ErrorKind;
use steadfast_errors::observe::{Event, Observers, Refusal};
use tokio::time::Instant;

use crate::error::RouterError;
use crate::metered::CallTotals;

/// A router's observers and the model group its events are labelled with.
#[derive(Debug, Clone)]
pub(crate) struct Telemetry {
    pub(crate) observers: Arc<Observers>,
    pub(crate) group: Arc<str>,
}

/// How a call ended, as its [`Event::CallFinished`] says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ending<'a> {
    pub(crate) provider: Option<&'a str>,
    pub(crate) response_model: Option<&'a str>,
    pub(crate) error: Option<ErrorKind>,
    pub(crate) totals: CallTotals,
    pub(crate) stream: bool,
}

impl Telemetry {
    pub(crate) fn started(&self, request_model: &str, stream: bool) {
        if self.observers.is_empty() {
            return;
        }
        self.observers.emit(&Event::CallStarted {
            group: &self.group,
            request_model,
            stream,
        });
    }

    pub(crate) fn first_token(&self, provider: &str, after: Duration) {
        if self.observers.is_empty() {
            return;
        }
        self.observers.emit(&Event::FirstToken {
            group: &self.group,
            provider,
            after,
        });
    }

    /// The call was refused before any provider was called: a refusal, then its end.
    pub(crate) fn refused(
        &self,
        request_model: &str,
        stream: bool,
        started: Instant,
        e: &RouterError,
    ) {
        if self.observers.is_empty() {
            return;
        }
        let kind = e.kind();
        let reason = match (e, kind) {
            (RouterError::Refused(_), Some(ErrorKind::BudgetExceeded)) => Refusal::Budget,
            (RouterError::Refused(_), _) => Refusal::RateLimit,
            _ => Refusal::NoProvider,
        };
        self.observers.emit(&Event::Rejected {
            provider: "",
            reason,
        });
        self.finished(
            request_model,
            started.elapsed(),
            &Ending {
                provider: None,
                response_model: None,
                error: kind.or(Some(ErrorKind::Unknown)),
                totals: CallTotals::default(),
                stream,
            },
        );
    }

    /// The call's end, `duration` after it started.
    pub(crate) fn finished(&self, request_model: &str, duration: Duration, ending: &Ending<'_>) {
        if self.observers.is_empty() {
            return;
        }
        let usage = ending.totals.usage;
        self.observers.emit(&Event::CallFinished {
            group: &self.group,
            request_model,
            provider: ending.provider,
            response_model: ending.response_model,
            duration,
            error: ending.error,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost_usd: ending.totals.cost_usd,
            stream: ending.stream,
        });
    }
}

/// What a [`RouterStream`](crate::RouterStream) needs to report its call's end.
#[derive(Debug)]
pub(crate) struct StreamEnd {
    pub(crate) telemetry: Telemetry,
    pub(crate) request_model: String,
    pub(crate) started: Instant,
    /// Whether the answer's `Done` was read.
    pub(crate) done: bool,
    /// The error the stream ended with, if one was read.
    pub(crate) error: Option<ErrorKind>,
    /// The call's span, kept open until the stream ends.
    pub(crate) span: tracing::Span,
    /// The GenAI names of the router's providers, by id (for the span).
    pub(crate) provider_names: Arc<[(String, &'static str)]>,
}
