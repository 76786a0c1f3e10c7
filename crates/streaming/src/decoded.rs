//! `DecodedStream`: an async byte stream (an HTTP body) decoded into events.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::StreamEvent;

use crate::decode::{Decoder, Item};

pin_project_lite::pin_project! {
    /// Decodes a body stream with a [`Decoder`], yielding events and at most one error.
    ///
    /// The body's own errors (already classified, e.g. with
    /// `steadfast_errors::classify::reqwest`) end the stream like a decoder error; they are
    /// marked as happening after the first byte when any byte had arrived. A connection that
    /// goes away (`network`: a reset, a FIN inside a chunked body) after at least one
    /// complete event and before the format's terminator is a stream cut half way, so it is
    /// reported as `stream_interrupted` (first byte received, the network error as its
    /// source) and can be resumed; before any complete event it stays `network`.
    #[derive(Debug)]
    pub struct DecodedStream<S> {
        #[pin]
        body: S,
        decoder: Decoder,
        pending: VecDeque<Item>,
        scratch: Vec<Item>,
        bytes: u64,
        // Content events decoded (keep-alives aside).
        events: u64,
        finished: bool,
    }
}

impl<S> DecodedStream<S>
where
    S: Stream<Item = Result<Bytes, ProviderError>>,
{
    /// Decodes `body` with `decoder`.
    pub fn new(body: S, decoder: Decoder) -> Self {
        DecodedStream {
            body,
            decoder,
            pending: VecDeque::new(),
            scratch: Vec::new(),
            bytes: 0,
            events: 0,
            finished: false,
        }
    }

    /// Body bytes received so far.
    pub fn bytes_received(&self) -> u64 {
        self.bytes
    }
}

impl<S> Stream for DecodedStream<S>
where
    S: Stream<Item = Result<Bytes, ProviderError>>,
{
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let mut this = self.project();
        loop {
            if let Some(item) = this.pending.pop_front() {
                return Poll::Ready(Some(item));
            }
            if *this.finished || this.decoder.is_ended() {
                return Poll::Ready(None);
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    *this.bytes += chunk.len() as u64;
                    this.decoder.feed(&chunk, this.scratch);
                    let content = this
                        .scratch
                        .iter()
                        .filter(|i| matches!(i, Ok(e) if *e != StreamEvent::KeepAlive))
                        .count();
                    *this.events += content as u64;
                }
                Poll::Ready(Some(Err(e))) => {
                    *this.finished = true;
                    let e = if *this.events > 0 && e.kind() == ErrorKind::Network {
                        cut_by_the_network(e)
                    } else if *this.bytes > 0 {
                        e.with_first_byte_received(true)
                    } else {
                        e
                    };
                    this.scratch.push(Err(e));
                }
                Poll::Ready(None) => {
                    *this.finished = true;
                    this.decoder.finish(this.scratch);
                }
            }
            this.pending.extend(this.scratch.drain(..));
        }
    }
}

/// A connection lost after complete events: the stream was cut, keeping what identifies it.
fn cut_by_the_network(e: ProviderError) -> ProviderError {
    let message = format!(
        "the connection closed before the stream's terminator: {}",
        e.message()
    );
    let mut cut = ProviderError::new(
        ErrorKind::StreamInterrupted,
        e.provider().to_owned(),
        message,
    )
    .with_first_byte_received(true);
    if let Some(model) = e.model() {
        cut = cut.with_model(model);
    }
    if let Some(transport) = e.transport() {
        cut = cut.with_transport(transport);
    }
    if let Some(id) = e.request_id() {
        cut = cut.with_request_id(id);
    }
    cut.with_source(e)
}
