//! `RouterStream`: a streamed answer from a [`Router`](crate::Router), billed as its parts
//! end.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_fallback::FallbackStream;
use steadfast_providers_core::{StreamEvent, Usage};
use steadfast_streaming::StreamState;

use crate::metered::{CALL, CallCtx, Shared};
use crate::stats::lock;
use crate::telemetry::{Ending, StreamEnd, spans};

/// A streamed answer from a [`Router`](crate::Router): the [`FallbackStream`] underneath,
/// with the call's cost and usage billed as its parts end.
///
/// When a resume moves the answer to another provider than the one it opened on, the call
/// counts as a failover ([`StatsSnapshot::failovers`](crate::StatsSnapshot::failovers)) at
/// that moment, once per call, and [`fell_back`](Self::fell_back) turns true.
pub struct RouterStream {
    inner: FallbackStream,
    ctx: Arc<CallCtx>,
    /// Where the router's counters are.
    shared: Arc<Shared>,
    /// The provider the stream opened on.
    opened_on: String,
    /// The resumes already looked at for a move.
    seen_resumes: u32,
    /// Whether the answer moved to another provider after it opened.
    moved: bool,
    /// Whether the call is counted as a failover already.
    counted: bool,
    /// How to report the call's end to the router's observers; `None` once reported.
    end: Option<StreamEnd>,
}

impl RouterStream {
    /// `inner`, opened on `opened_on`; `counted` when the call already failed over before
    /// the stream opened.
    pub(crate) fn new(
        inner: FallbackStream,
        ctx: Arc<CallCtx>,
        shared: Arc<Shared>,
        opened_on: String,
        counted: bool,
        end: Option<StreamEnd>,
    ) -> RouterStream {
        RouterStream {
            seen_resumes: inner.resumes(),
            inner,
            ctx,
            shared,
            opened_on,
            moved: false,
            counted,
            end,
        }
    }

    /// Reports the call's end once: answered when `Done` was read and no error after it,
    /// otherwise the error read, or `cancelled` when the consumer dropped it unfinished.
    fn report_end(&mut self) {
        let Some(end) = self.end.take() else {
            return;
        };
        let error = match (end.error, end.done) {
            (Some(kind), _) => Some(kind),
            (None, true) => None,
            (None, false) => Some(ErrorKind::Cancelled),
        };
        let provider = self.inner.provider();
        let model = self.inner.model();
        let totals = self.ctx.totals();
        let name = end
            .provider_names
            .iter()
            .find(|(p, _)| *p == provider)
            .map_or("", |(_, name)| name);
        spans::record_end(&end.span, Some((&provider, name, &model)), &totals, error);
        end.telemetry.finished(
            &end.request_model,
            end.started.elapsed(),
            &Ending {
                provider: Some(&provider),
                response_model: Some(&model),
                error,
                totals,
                stream: true,
            },
        );
    }

    /// Looks for a move after a resume: counts the call as a failover the first time the
    /// answer is on another provider than the one it opened on.
    fn check_moved(&mut self) {
        if self.moved {
            return;
        }
        let resumes = self.inner.resumes();
        if resumes == self.seen_resumes {
            return;
        }
        self.seen_resumes = resumes;
        let now_on = self.inner.provider();
        if now_on == self.opened_on {
            return;
        }
        self.moved = true;
        tracing::debug!(target: "steadfast_router", from = self.opened_on.as_str(), to = now_on.as_str(), "stream continued on another provider");
        if !std::mem::replace(&mut self.counted, true) {
            let mut c = lock(&self.shared.counters);
            c.failovers = c.failovers.saturating_add(1);
        }
    }

    /// The cost billed so far for this call, in USD: every part that ended (including parts
    /// cut off and resumed elsewhere), priced on the provider that served it.
    pub fn cost_usd(&self) -> f64 {
        self.ctx.totals().cost_usd
    }

    /// The usage billed so far for this call, summed over its parts.
    pub fn usage(&self) -> Usage {
        self.ctx.totals().usage
    }

    /// Everything delivered so far (see [`FallbackStream::delivered`]).
    pub fn delivered(&self) -> &StreamState {
        self.inner.delivered()
    }

    /// Whether the answer moved to another provider after the stream opened (a resume
    /// continued it elsewhere), as seen by the events read so far.
    pub fn fell_back(&self) -> bool {
        self.moved
    }

    /// The stream underneath.
    pub fn inner(&self) -> &FallbackStream {
        &self.inner
    }
}

impl Stream for RouterStream {
    type Item = Result<StreamEvent, ProviderError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let ctx = Arc::clone(&this.ctx);
        // Reopens run inside this poll: the scope bills them to this call, and the call's
        // span is their parent.
        let span = this.end.as_ref().map(|e| e.span.clone());
        let _entered = span.as_ref().map(tracing::Span::enter);
        let item = CALL.sync_scope(ctx, || Pin::new(&mut this.inner).poll_next(cx));
        if item.is_ready() {
            this.check_moved();
        }
        if let Some(end) = &mut this.end {
            match &item {
                Poll::Ready(Some(Ok(StreamEvent::Done))) => end.done = true,
                Poll::Ready(Some(Err(e))) => end.error = Some(e.kind()),
                _ => {}
            }
        }
        if matches!(item, Poll::Ready(None)) {
            this.report_end();
        }
        item
    }
}

impl Drop for RouterStream {
    fn drop(&mut self) {
        // A continuation opened elsewhere but not read from yet is a move too.
        self.check_moved();
        self.report_end();
    }
}

impl fmt::Debug for RouterStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterStream")
            .field("inner", &self.inner)
            .field("cost_usd", &self.cost_usd())
            .finish()
    }
}
