//! The SSE body of a streamed answer, whatever its wire format: the loop that pulls the
//! router's stream, and the OpenAI encoder (`chat.completion.chunk` events ending in
//! `data: [DONE]`, or in an in-band error chunk and no `[DONE]` when the answer cannot be
//! finished).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{StreamEvent, Usage};
use steadfast_router::RouterStream;
use tokio::sync::watch;

use crate::response::{ChunkHead, DeltaChunks, TextKey, finish_str, sse, stream_error};
use crate::state::InFlight;

const DONE: &[u8] = b"data: [DONE]\n\n";
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// Why a stream ends unfinished.
pub(crate) struct Failure<'a> {
    /// In words, for the client.
    pub(crate) message: &'a str,
    /// A short code: the error kind, or `shutting_down`.
    pub(crate) code: &'a str,
    /// The router's error kind; `None` when the gateway shut down.
    pub(crate) kind: Option<ErrorKind>,
}

/// Writes one wire format's events into `out`.
pub(crate) trait Encode: Send + 'static {
    /// What goes out before the first event.
    fn start(&mut self, out: &mut VecDeque<Bytes>);
    /// One event of the router's stream.
    fn event(&mut self, ev: StreamEvent, out: &mut VecDeque<Bytes>);
    /// The clean end; `billed` is the usage across every attempt (zero when unknown).
    fn end(&mut self, billed: Usage, out: &mut VecDeque<Bytes>);
    /// The unfinished end: an in-band error, and no clean terminator.
    fn fail(&mut self, failure: &Failure<'_>, out: &mut VecDeque<Bytes>);
}

struct Sse<E> {
    inner: RouterStream,
    encoder: E,
    pending: VecDeque<Bytes>,
    done: bool,
    /// Ready once the shutdown grace has passed. Made once per stream: a new wait per
    /// event cost more than relaying the event.
    expired: Pin<Box<dyn Future<Output = ()> + Send>>,
    _guard: InFlight,
}

enum Next {
    Expired,
    Event(Option<Result<StreamEvent, steadfast_errors::ProviderError>>),
}

/// The body: what `encoder` sends at once, then its bytes for each event.
pub(crate) fn body<E: Encode>(
    inner: RouterStream,
    mut encoder: E,
    expired: watch::Receiver<bool>,
    guard: InFlight,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let mut pending = VecDeque::new();
    encoder.start(&mut pending);
    let state = Sse {
        inner,
        encoder,
        pending,
        done: false,
        expired: Box::pin(wait_expired(expired)),
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
            let next = tokio::select! {
                biased;
                () = &mut st.expired => Next::Expired,
                ev = st.inner.next() => Next::Event(ev),
            };
            st.step(next);
        }
    })
}

async fn wait_expired(mut rx: watch::Receiver<bool>) {
    if rx.wait_for(|v| *v).await.is_err() {
        // The gateway is gone without expiring: nothing will end this stream early.
        std::future::pending::<()>().await;
    }
}

impl<E: Encode> Sse<E> {
    fn step(&mut self, next: Next) {
        match next {
            Next::Expired => {
                self.fail(&Failure {
                    message: "the gateway shut down before the answer was finished",
                    code: "shutting_down",
                    kind: None,
                });
            }
            Next::Event(None) => {
                self.encoder.end(self.inner.usage(), &mut self.pending);
                self.done = true;
            }
            Next::Event(Some(Err(e))) => {
                let message = format!(
                    "the answer could not be finished: {} ({} deployment(s) tried)",
                    e.kind(),
                    self.inner.inner().attempts().len().max(1)
                );
                self.fail(&Failure {
                    message: &message,
                    code: e.kind().as_str(),
                    kind: Some(e.kind()),
                });
            }
            Next::Event(Some(Ok(ev))) => self.encoder.event(ev, &mut self.pending),
        }
    }

    fn fail(&mut self, failure: &Failure<'_>) {
        tracing::warn!(target: "steadfast_gateway", code = failure.code, "stream ended with an in-band error");
        self.encoder.fail(failure, &mut self.pending);
        self.done = true;
    }
}

/// OpenAI's chunks: a role chunk at once, then one chunk per event.
pub(crate) struct Chunks {
    /// Every chunk's event, written from the head rendered once.
    deltas: DeltaChunks,
    include_usage: bool,
    finish: Option<&'static str>,
    saw_tools: bool,
    usage: Usage,
}

impl Chunks {
    pub(crate) fn new(head: ChunkHead, include_usage: bool) -> Chunks {
        Chunks {
            deltas: DeltaChunks::new(&head),
            include_usage,
            finish: None,
            saw_tools: false,
            usage: Usage::default(),
        }
    }
}

impl Encode for Chunks {
    fn start(&mut self, out: &mut VecDeque<Bytes>) {
        out.push_back(self.deltas.role());
    }

    fn event(&mut self, ev: StreamEvent, out: &mut VecDeque<Bytes>) {
        match ev {
            StreamEvent::TextDelta { text } => {
                out.push_back(self.deltas.event(TextKey::Content, &text));
            }
            StreamEvent::ReasoningDelta { text } => {
                out.push_back(self.deltas.event(TextKey::Reasoning, &text));
            }
            StreamEvent::RefusalDelta { text } => {
                out.push_back(self.deltas.event(TextKey::Refusal, &text));
            }
            StreamEvent::ToolCallDelta(d) => {
                self.saw_tools = true;
                out.push_back(self.deltas.tool(&d));
            }
            StreamEvent::Usage(u) => self.usage = u,
            StreamEvent::Finish { reason, .. } => self.finish = Some(finish_str(reason)),
            StreamEvent::KeepAlive => out.push_back(Bytes::from_static(KEEP_ALIVE)),
            _ => {}
        }
    }

    /// The finish chunk, the usage chunk when asked for, `[DONE]`.
    fn end(&mut self, billed: Usage, out: &mut VecDeque<Bytes>) {
        let finish = self
            .finish
            .unwrap_or(if self.saw_tools { "tool_calls" } else { "stop" });
        out.push_back(self.deltas.finish(finish));
        if self.include_usage {
            let usage = if billed.total() > 0 {
                billed
            } else {
                self.usage
            };
            out.push_back(self.deltas.usage(&usage));
        }
        out.push_back(Bytes::from_static(DONE));
    }

    /// An error chunk and no `[DONE]`.
    fn fail(&mut self, failure: &Failure<'_>, out: &mut VecDeque<Bytes>) {
        out.push_back(sse(&stream_error(
            failure.message,
            "api_error",
            failure.code,
        )));
    }
}
