//! Draining a chat stream to its end into the `StreamState` it builds.

use futures_util::{Stream, StreamExt};
use steadfast_errors::ProviderError;
use steadfast_providers_core::StreamEvent;
use steadfast_streaming::StreamState;

/// Reads `stream` to its end: the state its items build (error included) and its events.
pub async fn drain<S>(stream: S) -> (StreamState, Vec<StreamEvent>)
where
    S: Stream<Item = Result<StreamEvent, ProviderError>>,
{
    let (state, items) = drain_items(stream).await;
    (state, items.into_iter().filter_map(Result::ok).collect())
}

/// Reads `stream` to its end: the state its items build and every item, errors in place.
pub async fn drain_items<S>(stream: S) -> (StreamState, Vec<Result<StreamEvent, ProviderError>>)
where
    S: Stream<Item = Result<StreamEvent, ProviderError>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut state = StreamState::default();
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        match &item {
            Ok(event) => state.apply(event),
            Err(err) => state.apply_error(err),
        }
        items.push(item);
    }
    (state, items)
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use steadfast_errors::ErrorKind;

    use super::*;

    fn text(t: &str) -> Result<StreamEvent, ProviderError> {
        Ok(StreamEvent::TextDelta { text: t.into() })
    }

    #[tokio::test]
    async fn items_build_the_state_and_keep_their_order() {
        let cut = ProviderError::new(ErrorKind::StreamInterrupted, "p", "cut");
        let (state, items) = drain_items(stream::iter([text("Hel"), text("lo"), Err(cut)])).await;
        assert_eq!(state.text(), "Hello");
        assert_eq!(state.error().unwrap().kind(), ErrorKind::StreamInterrupted);
        assert!(!state.is_complete());
        assert_eq!(items.len(), 3);
        assert!(items[2].is_err());
    }

    #[tokio::test]
    async fn drain_keeps_the_events_and_leaves_the_error_in_the_state() {
        let err = ProviderError::new(ErrorKind::Server, "p", "boom");
        let (state, events) = drain(stream::iter([text("a"), Err(err), text("b")])).await;
        assert_eq!(
            events,
            [
                StreamEvent::TextDelta { text: "a".into() },
                StreamEvent::TextDelta { text: "b".into() }
            ]
        );
        assert_eq!(state.error().unwrap().kind(), ErrorKind::Server);
    }
}
