//! Stream timeouts as an adapter: first byte, idle between events, and a total deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use serde::{Deserialize, Serialize};
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::StreamEvent;
use tokio::time::{Instant, Sleep, sleep_until};

use crate::decode::Item;

/// The timers of a stream. Durations in files are milliseconds or strings like `"30s"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Until the first event (of any kind, keep-alives included) arrives.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub first_byte: Option<Duration>,
    /// Between one event and the next, once the first has arrived.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub idle: Option<Duration>,
    /// For the whole stream.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub total: Option<Duration>,
    /// Whether keep-alives (SSE comments, Anthropic pings) reset the idle timer. Default
    /// false: a server that only says "still here" is not making progress.
    pub keep_alive_resets_idle: bool,
}

impl Timeouts {
    /// Wraps `stream` with these timers.
    pub fn wrap<S>(self, provider: impl Into<String>, stream: S) -> TimeoutStream<S> {
        TimeoutStream::new(stream, self, provider.into())
    }
}

/// Which timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timer {
    /// [`Timeouts::first_byte`].
    FirstByte,
    /// [`Timeouts::idle`].
    Idle,
    /// [`Timeouts::total`].
    Total,
}

impl Timer {
    /// The timer's name as used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Timer::FirstByte => "first-byte",
            Timer::Idle => "idle",
            Timer::Total => "total",
        }
    }
}

pin_project_lite::pin_project! {
    /// A stream of decoded items with timers; when one fires the stream yields a `timeout`
    /// error naming it, then ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_errors::ErrorKind;
    /// use steadfast_streaming::Timeouts;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use futures_util::StreamExt;
    /// let silent = futures_util::stream::pending::<steadfast_streaming::Item>();
    /// let timeouts = Timeouts { first_byte: Some(Duration::from_secs(10)), ..Timeouts::default() };
    /// let mut s = Box::pin(timeouts.wrap("openai", silent));
    /// let err = s.next().await.unwrap().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// assert!(err.message().contains("first-byte"));
    /// assert!(s.next().await.is_none());
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct TimeoutStream<S> {
        #[pin]
        inner: S,
        #[pin]
        timer: Sleep,
        config: Timeouts,
        provider: String,
        started: Instant,
        last: Instant,
        seen_first: bool,
        armed: Option<Timer>,
        ended: bool,
    }
}

impl<S> TimeoutStream<S> {
    fn new(inner: S, config: Timeouts, provider: String) -> Self {
        let started = Instant::now();
        let (deadline, armed) = next_deadline(&config, started, started, false);
        TimeoutStream {
            inner,
            timer: sleep_until(deadline.unwrap_or_else(far_future)),
            config,
            provider,
            started,
            last: started,
            seen_first: false,
            armed: deadline.and(armed),
            ended: false,
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// The earliest pending deadline and which timer it belongs to.
fn next_deadline(
    config: &Timeouts,
    started: Instant,
    last: Instant,
    seen_first: bool,
) -> (Option<Instant>, Option<Timer>) {
    let candidates = [
        (!seen_first)
            .then_some(config.first_byte)
            .flatten()
            .map(|d| (started + d, Timer::FirstByte)),
        seen_first
            .then_some(config.idle)
            .flatten()
            .map(|d| (last + d, Timer::Idle)),
        config.total.map(|d| (started + d, Timer::Total)),
    ];
    match candidates.into_iter().flatten().min_by_key(|(at, _)| *at) {
        Some((at, timer)) => (Some(at), Some(timer)),
        None => (None, None),
    }
}

impl<S> Stream for TimeoutStream<S>
where
    S: Stream<Item = Item>,
{
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let mut this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                let resets = match &item {
                    Ok(StreamEvent::KeepAlive) => {
                        !*this.seen_first || this.config.keep_alive_resets_idle
                    }
                    _ => true,
                };
                if item.is_err() {
                    *this.ended = true;
                }
                if resets {
                    // Only the time is recorded here; the timer is moved lazily when it
                    // fires (re-arming a timer on every token costs more than the token).
                    *this.last = Instant::now();
                    if !*this.seen_first {
                        *this.seen_first = true;
                        let (deadline, armed) =
                            next_deadline(this.config, *this.started, *this.last, true);
                        *this.armed = deadline.and(armed);
                        this.timer
                            .as_mut()
                            .reset(deadline.unwrap_or_else(far_future));
                    }
                }
                return Poll::Ready(Some(item));
            }
            Poll::Ready(None) => {
                *this.ended = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        loop {
            if this.armed.is_none() || this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The timer fired; the deadline may have moved since it was set.
            let (deadline, armed) =
                next_deadline(this.config, *this.started, *this.last, *this.seen_first);
            let (Some(deadline), Some(timer)) = (deadline, armed) else {
                *this.armed = None;
                return Poll::Pending;
            };
            if Instant::now() < deadline {
                *this.armed = Some(timer);
                this.timer.as_mut().reset(deadline);
                continue; // poll the re-armed timer so it wakes us
            }
            *this.ended = true;
            let limit = match timer {
                Timer::FirstByte => this.config.first_byte,
                Timer::Idle => this.config.idle,
                Timer::Total => this.config.total,
            }
            .unwrap_or_default();
            let err = ProviderError::new(
                ErrorKind::Timeout,
                this.provider.clone(),
                format!("{} timeout after {:?}", timer.as_str(), limit),
            )
            .with_first_byte_received(*this.seen_first);
            return Poll::Ready(Some(Err(err)));
        }
    }
}
