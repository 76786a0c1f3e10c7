//! Hedging: a call's first provider alone, and after a delay without an answer the rest of
//! its order as a backup; the first answer wins.

use std::future::Future;
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
    pub(crate) fn plain(result: Result<T, FallbackError>, hedged: bool) -> Hedged<T> {
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

/// When `call` is to be hedged: after `after`, if fallback is on and its order has several
/// providers; `None` runs it as is.
pub(crate) fn hedging(call: &CallOptions, after: Option<Duration>) -> Option<Duration> {
    let several = call.order.as_ref().is_some_and(|o| o.len() > 1);
    after.filter(|_| call.fallback && several)
}

/// Runs `call` hedged: its first provider alone, and when that has not answered within
/// `after` (or failed in a way that may fall back), the rest of the order as a backup, under
/// what is left of the deadline; the first answer wins and the other leg is dropped
/// (cancelled). For a call [`hedging`] says to hedge: its order has several providers.
pub(crate) async fn hedged<T, Fut>(
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
