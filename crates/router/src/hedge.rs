//! Hedging: a call's first provider alone, and after a delay without an answer the rest of
//! its order as a backup; the first answer wins.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use steadfast_fallback::{AttemptRecord, CallOptions, FallbackError, StopReason};
use tokio::time::Instant;

/// What a hedged run produced.
pub(crate) struct Hedged<T> {
    pub(crate) result: Result<T, FallbackError>,
    /// Turns of the other leg that failed, to put before the winner's.
    pub(crate) earlier: Vec<AttemptRecord>,
    /// Whether a backup was started.
    pub(crate) hedged: bool,
}

impl<T> Hedged<T> {
    fn plain(result: Result<T, FallbackError>, hedged: bool) -> Hedged<T> {
        Hedged {
            result,
            earlier: Vec::new(),
            hedged,
        }
    }

    /// `failed` happened first, then `later`.
    fn after(failed: FallbackError, later: Result<T, FallbackError>, hedged: bool) -> Hedged<T> {
        match later {
            Ok(value) => Hedged {
                result: Ok(value),
                earlier: failed.attempts,
                hedged,
            },
            Err(mut e) => {
                let mut attempts = failed.attempts;
                attempts.append(&mut e.attempts);
                e.attempts = attempts;
                if e.last.is_none() {
                    e.last = failed.last;
                }
                Hedged::plain(Err(e), hedged)
            }
        }
    }
}

/// A call's run: the chain's future alone, or the hedged run; boxed, so that the scope and
/// the span wrapped around it move a pointer rather than the chain's future (KiBs, which
/// holds the provider's).
pub(crate) enum Leg<P, H> {
    Plain(Pin<Box<P>>),
    Hedged(Pin<Box<H>>),
}

impl<T, P, H> Future for Leg<P, H>
where
    P: Future<Output = Result<T, FallbackError>>,
    H: Future<Output = Hedged<T>>,
{
    type Output = Hedged<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Hedged<T>> {
        match self.get_mut() {
            Leg::Plain(run) => run.as_mut().poll(cx).map(|r| Hedged::plain(r, false)),
            Leg::Hedged(run) => run.as_mut().poll(cx),
        }
    }
}

/// Runs `call` hedged: its first provider alone, and when that has not answered within
/// `after` (or failed in a way that may fall back), the rest of the order as a backup, under
/// what is left of the deadline; the first answer wins and the other leg is dropped
/// (cancelled). Without `after`, with fallback off or a single provider, `call` runs as is,
/// its future boxed directly (no layer in between, so it is moved once).
pub(crate) fn hedge<T, Fut>(
    call: CallOptions,
    after: Option<Duration>,
    run: impl Fn(CallOptions) -> Fut,
) -> Leg<Fut, impl Future<Output = Hedged<T>>>
where
    Fut: Future<Output = Result<T, FallbackError>>,
{
    let several = call.order.as_ref().is_some_and(|o| o.len() > 1);
    match after.filter(|_| call.fallback && several) {
        None => Leg::Plain(Box::pin(run(call))),
        Some(after) => Leg::Hedged(Box::pin(hedged(call, after, run))),
    }
}

/// The hedged run of [`hedge`]: `call`'s order has several providers.
async fn hedged<T, Fut>(
    call: CallOptions,
    after: Duration,
    run: impl Fn(CallOptions) -> Fut,
) -> Hedged<T>
where
    Fut: Future<Output = Result<T, FallbackError>>,
{
    let order = call.order.clone().unwrap_or_default();
    let t0 = Instant::now();
    let primary = CallOptions {
        order: Some(order[..1].to_vec()),
        fallback: false,
        ..call.clone()
    };
    let backup = |call: CallOptions| CallOptions {
        order: Some(order[1..].to_vec()),
        deadline: call.deadline.map(|d| d.saturating_sub(t0.elapsed())),
        ..call
    };
    let first = run(primary);
    tokio::pin!(first);
    let early = tokio::select! {
        r = &mut first => Some(r),
        () = tokio::time::sleep(after) => None,
    };
    match early {
        Some(Ok(value)) => return Hedged::plain(Ok(value), false),
        // Failed (or was skipped) early in a way that may fall back: the rest now.
        Some(Err(e))
            if matches!(
                e.reason,
                StopReason::FallbackDisabled | StopReason::NoEligibleProvider
            ) =>
        {
            let later = run(backup(call)).await;
            return Hedged::after(e, later, false);
        }
        Some(Err(e)) => return Hedged::plain(Err(e), false),
        None => {}
    }
    tracing::debug!(target: "steadfast_router", provider = order[0].as_str(), after_ms = after.as_secs_f64() * 1000.0, "no answer yet, starting a backup");
    let second = run(backup(call));
    tokio::pin!(second);
    tokio::select! {
        r = &mut first => match r {
            Ok(value) => Hedged::plain(Ok(value), true),
            Err(e) => Hedged::after(e, second.await, true),
        },
        r = &mut second => match r {
            Ok(value) => Hedged::plain(Ok(value), true),
            Err(e) => Hedged::after(e, first.await, true),
        },
    }
}
