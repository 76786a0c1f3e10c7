//! The SSE body of a streamed answer: `chat.completion.chunk` events ending in
//! `data: [DONE]`, or in an in-band error chunk (and no `[DONE]`) when the answer cannot be
//! finished.

use std::collections::VecDeque;
use std::convert::Infallible;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use serde_json::json;
use steadfast_providers_core::{StreamEvent, Usage};
use steadfast_router::RouterStream;
use tokio::sync::watch;

use crate::response::{ChunkHead, finish_str, sse, stream_error, tool_delta};
use crate::state::InFlight;

const DONE: &[u8] = b"data: [DONE]\n\n";
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

struct Sse {
    inner: RouterStream,
    head: ChunkHead,
    include_usage: bool,
    finish: Option<&'static str>,
    saw_tools: bool,
    usage: Usage,
    pending: VecDeque<Bytes>,
    done: bool,
    expired: watch::Receiver<bool>,
    _guard: InFlight,
}

enum Next {
    Expired,
    Event(Option<Result<StreamEvent, steadfast_errors::ProviderError>>),
}

/// The body: a role chunk at once, then one chunk per event.
pub(crate) fn body(
    inner: RouterStream,
    head: ChunkHead,
    include_usage: bool,
    expired: watch::Receiver<bool>,
    guard: InFlight,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let mut pending = VecDeque::new();
    pending.push_back(sse(
        &head.delta(json!({"role": "assistant", "content": ""}), None)
    ));
    let state = Sse {
        inner,
        head,
        include_usage,
        finish: None,
        saw_tools: false,
        usage: Usage::default(),
        pending,
        done: false,
        expired,
        _guard: guard,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(b) = st.pending.pop_front() {
                return Some((Ok(b), st));
            }
            if st.done {
                return None;
            }
            let expired = &mut st.expired;
            let next = tokio::select! {
                biased;
                () = wait_expired(expired) => Next::Expired,
                ev = st.inner.next() => Next::Event(ev),
            };
            st.step(next);
        }
    })
}

async fn wait_expired(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|v| *v).await.is_err() {
        // The gateway is gone without expiring: nothing will end this stream early.
        std::future::pending::<()>().await;
    }
}

impl Sse {
    fn step(&mut self, next: Next) {
        match next {
            Next::Expired => {
                self.fail(
                    "the gateway shut down before the answer was finished",
                    "shutting_down",
                );
            }
            Next::Event(None) => self.end(),
            Next::Event(Some(Err(e))) => {
                let message = format!(
                    "the answer could not be finished: {} ({} deployment(s) tried)",
                    e.kind(),
                    self.inner.inner().attempts().len().max(1)
                );
                self.fail(&message, e.kind().as_str());
            }
            Next::Event(Some(Ok(ev))) => self.event(ev),
        }
    }

    fn event(&mut self, ev: StreamEvent) {
        let delta = match ev {
            StreamEvent::TextDelta { text } => json!({ "content": text }),
            StreamEvent::ReasoningDelta { text } => json!({ "reasoning_content": text }),
            StreamEvent::RefusalDelta { text } => json!({ "refusal": text }),
            StreamEvent::ToolCallDelta(d) => {
                self.saw_tools = true;
                tool_delta(&d)
            }
            StreamEvent::Usage(u) => {
                self.usage = u;
                return;
            }
            StreamEvent::Finish { reason, .. } => {
                self.finish = Some(finish_str(reason));
                return;
            }
            StreamEvent::KeepAlive => {
                self.pending.push_back(Bytes::from_static(KEEP_ALIVE));
                return;
            }
            _ => return,
        };
        self.pending.push_back(sse(&self.head.delta(delta, None)));
    }

    /// The clean end: the finish chunk, the usage chunk when asked for, `[DONE]`.
    fn end(&mut self) {
        let finish = self
            .finish
            .unwrap_or(if self.saw_tools { "tool_calls" } else { "stop" });
        self.pending
            .push_back(sse(&self.head.delta(json!({}), Some(finish))));
        if self.include_usage {
            let billed = self.inner.usage();
            let usage = if billed.total() > 0 {
                billed
            } else {
                self.usage
            };
            self.pending.push_back(sse(&self.head.usage(&usage)));
        }
        self.pending.push_back(Bytes::from_static(DONE));
        self.done = true;
    }

    /// The unfinished end: an error chunk and no `[DONE]`.
    fn fail(&mut self, message: &str, code: &str) {
        tracing::warn!(target: "steadfast_gateway", code, "stream ended with an in-band error");
        self.pending
            .push_back(sse(&stream_error(message, "api_error", code)));
        self.done = true;
    }
}
