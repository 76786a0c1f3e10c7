//! `RateWindow`: a provider's finished attempts and failures over the last 1 and 5 minutes,
//! in a fixed ring of 5 s buckets, for error and request rates.
//!
//! Bucket `n` holds the outcomes recorded between `n × 5 s` and `(n + 1) × 5 s` after the
//! window's origin. A window of `k` buckets read at bucket `n` sums buckets `n - k + 1 ..= n`:
//! so the "1 minute" window covers between 55 and 60 s of the past (the current bucket is
//! partial) and the "5 minute" one between 295 and 300 s. Each bucket remembers its own
//! number, so a bucket left over from an earlier lap of the ring is recognised as stale and
//! never counted: recording is O(1), reading O(buckets), memory fixed. Time is
//! [`tokio::time::Instant`], so a paused clock drives it in tests.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// The width of one bucket.
pub(crate) const BUCKET: Duration = Duration::from_secs(5);
/// Buckets in the ring: five minutes of them.
const RING: usize = 60;
/// Buckets in the one-minute window.
pub(crate) const ONE_MINUTE: u64 = 12;
/// Buckets in the five-minute window.
pub(crate) const FIVE_MINUTES: u64 = RING as u64;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// The bucket's number plus one; 0 for a bucket never written.
    tag: u64,
    attempts: u64,
    failures: u64,
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct RateWindow {
    origin: Instant,
    ring: [Bucket; RING],
}

/// What a window holds, as a [`ProviderStats`](crate::ProviderStats) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowStats {
    /// Attempts that finished (succeeded or failed) in the window.
    pub attempts: u64,
    /// Of those, the ones that failed.
    pub failures: u64,
    /// `failures / attempts`; 0 without attempts.
    pub error_rate: f64,
    /// Finished attempts per minute: `attempts` divided by the window's length in minutes.
    pub per_minute: f64,
}

impl RateWindow {
    pub(crate) fn new(origin: Instant) -> RateWindow {
        RateWindow {
            origin,
            ring: [Bucket::default(); RING],
        }
    }

    /// Records one finished attempt at `now`.
    pub(crate) fn record(&mut self, now: Instant, failed: bool) {
        self.record_at(now.saturating_duration_since(self.origin), failed);
    }

    /// The last `buckets` buckets at `now`.
    pub(crate) fn stats(&self, now: Instant, buckets: u64) -> WindowStats {
        let (attempts, failures) =
            self.counts_at(now.saturating_duration_since(self.origin), buckets);
        let minutes = (buckets * BUCKET.as_secs()) as f64 / 60.0;
        WindowStats {
            attempts,
            failures,
            error_rate: if attempts == 0 {
                0.0
            } else {
                failures as f64 / attempts as f64
            },
            per_minute: attempts as f64 / minutes,
        }
    }

    /// Forgets everything recorded.
    pub(crate) fn clear(&mut self) {
        self.ring = [Bucket::default(); RING];
    }

    fn number(at: Duration) -> u64 {
        u64::try_from(at.as_nanos() / BUCKET.as_nanos()).unwrap_or(u64::MAX - 1)
    }

    fn record_at(&mut self, at: Duration, failed: bool) {
        let n = Self::number(at);
        let b = &mut self.ring[(n % RING as u64) as usize];
        if b.tag != n + 1 {
            *b = Bucket {
                tag: n + 1,
                ..Bucket::default()
            };
        }
        b.attempts = b.attempts.saturating_add(1);
        b.failures = b.failures.saturating_add(u64::from(failed));
    }

    /// `(attempts, failures)` in buckets `n - buckets + 1 ..= n`, `n` the bucket of `at`.
    fn counts_at(&self, at: Duration, buckets: u64) -> (u64, u64) {
        let n = Self::number(at);
        let buckets = buckets.min(RING as u64);
        self.ring
            .iter()
            .filter(|b| b.tag != 0 && b.tag - 1 <= n && n - (b.tag - 1) < buckets)
            .fold((0, 0), |(a, f), b| {
                (a.saturating_add(b.attempts), f.saturating_add(b.failures))
            })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The definition, counted the slow way over every event.
    fn naive(events: &[(Duration, bool)], at: Duration, buckets: u64) -> (u64, u64) {
        let n = RateWindow::number(at);
        events
            .iter()
            .filter(|(t, _)| {
                let m = RateWindow::number(*t);
                m <= n && n - m < buckets
            })
            .fold((0, 0), |(a, f), (_, failed)| {
                (a + 1, f + u64::from(*failed))
            })
    }

    proptest! {
        #[test]
        fn matches_the_definition(
            steps in prop::collection::vec((0u64..40_000, any::<bool>()), 0..300),
            read_after in 0u64..400_000,
        ) {
            let mut w = RateWindow::new(Instant::now());
            let mut events = Vec::new();
            let mut t = Duration::ZERO;
            for (gap_ms, failed) in steps {
                t += Duration::from_millis(gap_ms);
                w.record_at(t, failed);
                events.push((t, failed));
                for k in [ONE_MINUTE, FIVE_MINUTES] {
                    prop_assert_eq!(w.counts_at(t, k), naive(&events, t, k));
                }
            }
            let later = t + Duration::from_millis(read_after);
            for k in [ONE_MINUTE, FIVE_MINUTES] {
                let (attempts, failures) = w.counts_at(later, k);
                prop_assert_eq!((attempts, failures), naive(&events, later, k));
                prop_assert!(failures <= attempts);
            }
        }

        #[test]
        fn counts_the_recent_and_never_the_old(
            ages_ms in prop::collection::vec(0u64..600_000, 1..100),
        ) {
            // Every event at most 55 s old is in the 1-minute window; none over 60 s is.
            let now = Duration::from_secs(10_000);
            let mut w = RateWindow::new(Instant::now());
            let mut sorted = ages_ms.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            for age in &sorted {
                w.record_at(now - Duration::from_millis(*age), false);
            }
            let (attempts, _) = w.counts_at(now, ONE_MINUTE);
            let surely_in = sorted.iter().filter(|a| **a <= 55_000).count() as u64;
            let maybe_in = sorted.iter().filter(|a| **a < 60_000).count() as u64;
            prop_assert!(attempts >= surely_in && attempts <= maybe_in);
            let (attempts, _) = w.counts_at(now, FIVE_MINUTES);
            let surely_in = sorted.iter().filter(|a| **a <= 295_000).count() as u64;
            let maybe_in = sorted.iter().filter(|a| **a < 300_000).count() as u64;
            prop_assert!(attempts >= surely_in && attempts <= maybe_in);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn windows_fill_and_expire_on_the_clock() {
        let mut w = RateWindow::new(Instant::now());
        w.record(Instant::now(), true);
        w.record(Instant::now(), false);
        let s = w.stats(Instant::now(), ONE_MINUTE);
        assert_eq!((s.attempts, s.failures, s.error_rate), (2, 1, 0.5));
        assert_eq!(s.per_minute, 2.0);
        assert_eq!(w.stats(Instant::now(), FIVE_MINUTES).per_minute, 0.4);

        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(w.stats(Instant::now(), ONE_MINUTE).attempts, 0, "expired");
        assert_eq!(
            w.stats(Instant::now(), FIVE_MINUTES).attempts,
            2,
            "still in 5 min"
        );

        tokio::time::advance(Duration::from_secs(240)).await;
        assert_eq!(w.stats(Instant::now(), FIVE_MINUTES).attempts, 0, "expired");

        // A full lap of the ring later, the old buckets are not counted again.
        w.record(Instant::now(), false);
        tokio::time::advance(Duration::from_secs(300)).await;
        w.record(Instant::now(), true);
        let s = w.stats(Instant::now(), FIVE_MINUTES);
        assert_eq!((s.attempts, s.failures), (1, 1));
        w.clear();
        assert_eq!(w.stats(Instant::now(), FIVE_MINUTES).attempts, 0);
    }
}
