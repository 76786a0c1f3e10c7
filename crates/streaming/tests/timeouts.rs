//! Stream timeouts on a paused clock: first byte, idle, total, and keep-alives.

use std::time::Duration;

use futures_util::StreamExt;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::StreamEvent;
use steadfast_streaming::{Item, Timeouts};
use tokio::sync::mpsc;
use tokio::time::{Instant, advance};

fn text() -> Item {
    Ok(StreamEvent::TextDelta { text: "x".into() })
}

/// A stream fed by hand, so that tests decide exactly when each item arrives.
fn channel() -> (
    mpsc::UnboundedSender<Item>,
    impl futures_core::Stream<Item = Item>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    (tx, async_stream(move |cx| rx.poll_recv(cx)))
}

fn async_stream<F>(f: F) -> impl futures_core::Stream<Item = Item>
where
    F: FnMut(&mut std::task::Context<'_>) -> std::task::Poll<Option<Item>>,
{
    futures_util::stream::poll_fn(f)
}

#[tokio::test(start_paused = true)]
async fn first_byte_timeout_names_its_timer() {
    let (_tx, rx) = channel();
    let t = Timeouts {
        first_byte: Some(Duration::from_secs(10)),
        idle: Some(Duration::from_secs(1)),
        ..Timeouts::default()
    };
    let begun = Instant::now();
    let mut s = Box::pin(t.wrap("anthropic", rx));
    let err = s.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_retryable());
    assert!(
        err.message().contains("first-byte timeout after 10s"),
        "{err}"
    );
    assert!(!err.first_byte_received());
    assert_eq!(
        begun.elapsed(),
        Duration::from_secs(10),
        "idle does not run before the first event"
    );
    assert!(
        s.next().await.is_none(),
        "the stream ends after the timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn idle_timer_restarts_with_every_event_but_not_with_keep_alives() {
    let (tx, rx) = channel();
    let t = Timeouts {
        idle: Some(Duration::from_secs(5)),
        ..Timeouts::default()
    };
    let mut s = Box::pin(t.wrap("deepseek", rx));
    let begun = Instant::now();
    for _ in 0..3 {
        tx.send(text()).unwrap();
        assert!(s.next().await.unwrap().is_ok());
        advance(Duration::from_secs(4)).await; // under the idle limit each time
    }
    // Keep-alives only: the idle timer keeps running from the last real event.
    tx.send(Ok(StreamEvent::KeepAlive)).unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), StreamEvent::KeepAlive);
    let err = s.next().await.unwrap().unwrap_err();
    assert!(err.message().contains("idle timeout after 5s"), "{err}");
    assert!(err.first_byte_received());
    assert_eq!(begun.elapsed(), Duration::from_secs(13));
}

#[tokio::test(start_paused = true)]
async fn keep_alives_reset_idle_when_configured() {
    let (tx, rx) = channel();
    let t = Timeouts {
        idle: Some(Duration::from_secs(5)),
        keep_alive_resets_idle: true,
        ..Timeouts::default()
    };
    let mut s = Box::pin(t.wrap("openrouter", rx));
    tx.send(text()).unwrap();
    s.next().await.unwrap().unwrap();
    for _ in 0..4 {
        advance(Duration::from_secs(4)).await;
        tx.send(Ok(StreamEvent::KeepAlive)).unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), StreamEvent::KeepAlive);
    }
    tx.send(Ok(StreamEvent::Done)).unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), StreamEvent::Done);
}

#[tokio::test(start_paused = true)]
async fn total_deadline_fires_even_while_events_flow() {
    let (tx, rx) = channel();
    let t = Timeouts {
        total: Some(Duration::from_secs(30)),
        idle: Some(Duration::from_secs(5)),
        ..Timeouts::default()
    };
    let mut s = Box::pin(t.wrap("openai", rx));
    let begun = Instant::now();
    let err = loop {
        tx.send(text()).unwrap();
        match s.next().await.unwrap() {
            Ok(_) => advance(Duration::from_secs(3)).await,
            Err(e) => break e,
        }
        if begun.elapsed() >= Duration::from_secs(30) {
            break s.next().await.unwrap().unwrap_err();
        }
    };
    assert!(err.message().contains("total timeout after 30s"), "{err}");
    assert!(begun.elapsed() <= Duration::from_secs(31));
}

#[tokio::test(start_paused = true)]
async fn a_timely_stream_passes_through_untouched() {
    let items: Vec<Item> = vec![text(), text(), Ok(StreamEvent::Done)];
    let t = Timeouts {
        first_byte: Some(Duration::from_secs(1)),
        idle: Some(Duration::from_secs(1)),
        total: Some(Duration::from_secs(5)),
        ..Timeouts::default()
    };
    let out: Vec<Item> = t
        .wrap("openai", futures_util::stream::iter(items.clone()))
        .collect()
        .await;
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(Result::is_ok));
}
