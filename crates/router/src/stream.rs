//! `RouterStream`: a streamed answer from a [`Router`](crate::Router), billed as its parts
//! end.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use steadfast_errors::ProviderError;
use steadfast_fallback::FallbackStream;
use steadfast_providers_core::{StreamEvent, Usage};
use steadfast_streaming::StreamState;

use crate::metered::{CALL, CallCtx};

/// A streamed answer from a [`Router`](crate::Router): the [`FallbackStream`] underneath,
/// with the call's cost and usage billed as its parts end.
pub struct RouterStream {
    inner: FallbackStream,
    ctx: Arc<CallCtx>,
}

impl RouterStream {
    pub(crate) fn new(inner: FallbackStream, ctx: Arc<CallCtx>) -> RouterStream {
        RouterStream { inner, ctx }
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
        // Reopens run inside this poll: the scope bills them to this call.
        CALL.sync_scope(ctx, || Pin::new(&mut this.inner).poll_next(cx))
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
