//! Opening a stream: wait for its first token, so that a failure before it is an ordinary
//! failed attempt (retried, fallen back from).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::time::Duration;

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ChatProvider, ChatRequest, ChatStream, StreamEvent};
use tokio::time::Instant;

use crate::attempt::{Op, OpFuture};

/// One item of a stream: an event, or the error that ends it.
pub(super) type Item = Result<StreamEvent, ProviderError>;

/// The most events held back while waiting for a stream's first token (keep-alives are not
/// held at all); a stream that sends more without a token is taken as open.
const MAX_PENDING: usize = 64;

/// Whether `event` is the first token: content, or the end of an empty answer.
pub(super) fn is_token(event: &StreamEvent) -> bool {
    matches!(
        event,
        StreamEvent::TextDelta { .. }
            | StreamEvent::ReasoningDelta { .. }
            | StreamEvent::RefusalDelta { .. }
            | StreamEvent::ToolCallDelta(_)
            | StreamEvent::Finish { .. }
            | StreamEvent::Done
    )
}

/// A stream that reached its first token, with the events before it.
pub(crate) struct Opened {
    pub(super) pending: VecDeque<Item>,
    pub(super) stream: ChatStream,
    pub(super) first_token: Duration,
}

/// Opens a stream and waits for its first token, so that a failure before it is an ordinary
/// failed attempt (retried, fallen back from).
#[derive(Debug)]
pub(crate) struct OpenOp;

impl Op for OpenOp {
    type Output = Opened;

    const LOGS_SUCCESS_LATER: bool = true;

    fn call<'a>(
        &'a self,
        provider: &'a dyn ChatProvider,
        request: &'a ChatRequest,
    ) -> OpFuture<'a, Opened> {
        Box::pin(async move {
            let started = Instant::now();
            let mut stream = provider.chat_stream(request).await?;
            let mut pending = VecDeque::new();
            loop {
                match poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
                    Some(Ok(StreamEvent::KeepAlive)) => {}
                    Some(Ok(event)) => {
                        let token = is_token(&event);
                        pending.push_back(Ok(event));
                        if token || pending.len() >= MAX_PENDING {
                            return Ok(Opened {
                                pending,
                                stream,
                                first_token: started.elapsed(),
                            });
                        }
                    }
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(ProviderError::new(
                            ErrorKind::StreamInterrupted,
                            provider.id().to_owned(),
                            "the stream ended before its first token",
                        )
                        .with_model(request.model.clone())
                        .with_first_byte_received(!pending.is_empty()));
                    }
                }
            }
        })
    }
}
