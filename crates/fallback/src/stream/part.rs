//! `Part`: one provider's part of a streamed answer, holding its breaker permit until the
//! part ends.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use steadfast_circuit::Permit;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ChatStream, StreamEvent};
use tokio::time::Instant;

use super::open::{Item, is_token};
use super::shared::Shared;
use crate::attempt::{Tried, attempt_event, lock};

/// One provider's part of the answer. It holds the provider's breaker permit until the part
/// ends: success at `Done` (with the time to first token as latency), failure on an error or
/// an end without terminator, cancellation when dropped unfinished.
pub(super) struct Part {
    pub(super) pending: VecDeque<Item>,
    pub(super) stream: ChatStream,
    pub(super) entry: usize,
    pub(super) record: usize,
    pub(super) model: String,
    /// When the attempt that opened this part began.
    pub(super) started: Instant,
    /// When the part was handed over.
    pub(super) opened: Instant,
    pub(super) first_token: Option<Duration>,
    pub(super) permit: Option<Permit>,
    pub(super) attempt: u32,
    pub(super) fallback: bool,
    /// Whether a reopen opened it (a resume).
    pub(super) resume: bool,
    pub(super) shared: Arc<Shared>,
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
        let tried = Tried {
            provider: entry.id(),
            model: &self.model,
            attempt: self.attempt,
            fallback: self.fallback,
            resume: self.resume,
            span: None,
        };
        attempt_event(
            &self.shared.chain.observers,
            &tried,
            self.started.elapsed(),
            error,
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
