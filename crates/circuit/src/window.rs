//! Sliding windows of call outcomes: the last N calls, or the calls of the last T in buckets.
//!
//! Both keep running totals, so recording and reading are O(1) (a time window clears at most
//! one bucket per elapsed bucket width, and never more than all of them). Neither knows about
//! clocks: time is passed in as nanoseconds since the breaker was created.

use std::time::Duration;

use crate::config::Window;

/// One recorded call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A success, slow or not.
    Success {
        /// Longer than the slow-call threshold.
        slow: bool,
    },
    /// A failure that counts against health.
    Failure,
}

/// Totals over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        self.calls += 1;
        match outcome {
            Outcome::Failure => self.failures += 1,
            Outcome::Success { slow: true } => self.slow += 1,
            Outcome::Success { slow: false } => {}
        }
    }

    fn remove(&mut self, other: Counts) {
        self.calls -= other.calls;
        self.failures -= other.failures;
        self.slow -= other.slow;
    }

    /// Failed calls over all calls; zero for an empty window.
    pub(crate) fn failure_rate(&self) -> f64 {
        rate(self.failures, self.calls)
    }

    /// Slow calls over all calls; zero for an empty window.
    pub(crate) fn slow_rate(&self) -> f64 {
        rate(self.slow, self.calls)
    }
}

fn rate(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

/// A count or time window, as configured.
#[derive(Debug)]
pub(crate) enum SlidingWindow {
    Count(CountWindow),
    Time(TimeWindow),
}

impl SlidingWindow {
    /// An empty window of the configured shape (the config must be valid).
    pub(crate) fn new(window: Window) -> Self {
        match window {
            Window::Count { calls } => SlidingWindow::Count(CountWindow::new(calls)),
            Window::Time { duration, buckets } => {
                SlidingWindow::Time(TimeWindow::new(duration, buckets))
            }
        }
    }

    /// Records one call made at `now` (nanoseconds since the breaker's origin).
    pub(crate) fn record(&mut self, now: u64, outcome: Outcome) {
        match self {
            SlidingWindow::Count(w) => w.record(outcome),
            SlidingWindow::Time(w) => w.record(now, outcome),
        }
    }

    /// The totals as of `now`.
    pub(crate) fn counts(&mut self, now: u64) -> Counts {
        match self {
            SlidingWindow::Count(w) => w.totals,
            SlidingWindow::Time(w) => {
                w.advance(now);
                w.totals
            }
        }
    }

    /// Forgets every call.
    pub(crate) fn clear(&mut self) {
        match self {
            SlidingWindow::Count(w) => w.clear(),
            SlidingWindow::Time(w) => w.clear(),
        }
    }
}

const FAILED: u8 = 1;
const SLOW: u8 = 2;

/// The last `capacity` calls, in a ring of one byte per call.
#[derive(Debug)]
pub(crate) struct CountWindow {
    ring: Vec<u8>,
    capacity: usize,
    next: usize,
    totals: Counts,
}

impl CountWindow {
    fn new(capacity: u32) -> Self {
        let capacity = capacity.max(1) as usize;
        Self {
            ring: Vec::with_capacity(capacity),
            capacity,
            next: 0,
            totals: Counts::default(),
        }
    }

    fn record(&mut self, outcome: Outcome) {
        let byte = match outcome {
            Outcome::Failure => FAILED,
            Outcome::Success { slow: true } => SLOW,
            Outcome::Success { slow: false } => 0,
        };
        if self.ring.len() < self.capacity {
            self.ring.push(byte);
        } else {
            let old = std::mem::replace(&mut self.ring[self.next], byte);
            self.totals.remove(Counts {
                calls: 1,
                failures: u32::from(old & FAILED != 0),
                slow: u32::from(old & SLOW != 0),
            });
        }
        self.next = (self.next + 1) % self.capacity;
        self.totals.add(outcome);
    }

    fn clear(&mut self) {
        self.ring.clear();
        self.next = 0;
        self.totals = Counts::default();
    }
}

/// The calls of the current bucket and the `buckets - 1` before it.
///
/// Bucket `i` covers `[i * width, (i + 1) * width)` nanoseconds since the origin and lives in
/// slot `i % buckets`. `head` is the newest bucket index seen; moving it forward clears the
/// slots of the buckets that fall out.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    slots: Vec<Counts>,
    width: u64,
    head: u64,
    totals: Counts,
}

impl TimeWindow {
    fn new(duration: Duration, buckets: u32) -> Self {
        let buckets = buckets.max(1);
        let width = (duration / buckets).as_nanos();
        Self {
            slots: vec![Counts::default(); buckets as usize],
            width: u64::try_from(width).unwrap_or(u64::MAX).max(1),
            head: 0,
            totals: Counts::default(),
        }
    }

    fn advance(&mut self, now: u64) {
        let index = now / self.width;
        if index <= self.head {
            return;
        }
        let n = self.slots.len() as u64;
        if index - self.head >= n {
            self.slots.fill(Counts::default());
            self.totals = Counts::default();
        } else {
            for i in self.head + 1..=index {
                let slot = &mut self.slots[(i % n) as usize];
                self.totals.remove(*slot);
                *slot = Counts::default();
            }
        }
        self.head = index;
    }

    fn record(&mut self, now: u64, outcome: Outcome) {
        self.advance(now);
        let n = self.slots.len() as u64;
        // A time before `head` cannot come from a monotonic clock; count it in the head bucket.
        let index = (now / self.width).max(self.head);
        self.slots[(index % n) as usize].add(outcome);
        self.totals.add(outcome);
    }

    fn clear(&mut self) {
        self.slots.fill(Counts::default());
        self.totals = Counts::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OK: Outcome = Outcome::Success { slow: false };
    const SLOWOK: Outcome = Outcome::Success { slow: true };
    const FAIL: Outcome = Outcome::Failure;

    fn counts(calls: u32, failures: u32, slow: u32) -> Counts {
        Counts {
            calls,
            failures,
            slow,
        }
    }

    #[test]
    fn count_window_keeps_the_last_n() {
        let mut w = SlidingWindow::new(Window::Count { calls: 3 });
        for o in [FAIL, FAIL, SLOWOK] {
            w.record(0, o);
        }
        assert_eq!(w.counts(0), counts(3, 2, 1));
        w.record(0, OK); // evicts the first FAIL
        assert_eq!(w.counts(0), counts(3, 1, 1));
        assert!((w.counts(0).failure_rate() - 1.0 / 3.0).abs() < 1e-12);
        w.record(0, OK);
        w.record(0, OK); // evicts SLOWOK
        assert_eq!(w.counts(u64::MAX), counts(3, 0, 0));
        w.clear();
        assert_eq!(w.counts(0), Counts::default());
        assert_eq!(w.counts(0).failure_rate(), 0.0);
    }

    #[test]
    fn time_window_expires_whole_buckets() {
        // 1 s in 4 buckets of 250 ms.
        let ms = 1_000_000;
        let mut w = SlidingWindow::new(Window::Time {
            duration: Duration::from_secs(1),
            buckets: 4,
        });
        w.record(10 * ms, FAIL); // bucket 0
        w.record(260 * ms, OK); // bucket 1
        w.record(999 * ms, SLOWOK); // bucket 3
        assert_eq!(w.counts(999 * ms), counts(3, 1, 1));
        // At 1000 ms bucket 4 begins and bucket 0 falls out.
        assert_eq!(w.counts(1000 * ms), counts(2, 0, 1));
        // At 1249 ms bucket 1 is still in (buckets 1..=4).
        assert_eq!(w.counts(1249 * ms), counts(2, 0, 1));
        assert_eq!(w.counts(1250 * ms), counts(1, 0, 1));
        // A long silence clears everything.
        assert_eq!(w.counts(60_000 * ms), Counts::default());
        w.record(60_001 * ms, FAIL);
        assert_eq!(w.counts(60_001 * ms), counts(1, 1, 0));
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![Just(OK), Just(SLOWOK), Just(FAIL)]
    }

    proptest! {
        /// The ring agrees with "the last n outcomes of the list".
        #[test]
        fn count_window_matches_a_list(cap in 1u32..12, outcomes in proptest::collection::vec(outcome(), 0..60)) {
            let mut w = SlidingWindow::new(Window::Count { calls: cap });
            for (i, &o) in outcomes.iter().enumerate() {
                w.record(0, o);
                let start = (i + 1).saturating_sub(cap as usize);
                let mut expected = Counts::default();
                for &o in &outcomes[start..=i] {
                    expected.add(o);
                }
                prop_assert_eq!(w.counts(0), expected);
                prop_assert_eq!(w.counts(0).failure_rate(), f64::from(expected.failures) / f64::from(expected.calls));
            }
        }

        /// The buckets agree with "every call whose bucket index is within n of now's".
        #[test]
        fn time_window_matches_a_list(
            width_ms in 1u64..50,
            buckets in 1u32..6,
            steps in proptest::collection::vec((0u64..120, outcome(), any::<bool>()), 0..60),
        ) {
            let ms = 1_000_000;
            let mut w = SlidingWindow::new(Window::Time {
                duration: Duration::from_millis(width_ms * u64::from(buckets)),
                buckets,
            });
            let mut now = 0;
            let mut log: Vec<(u64, Outcome)> = Vec::new();
            for (gap, o, record) in steps {
                now += gap * ms / 4;
                if record {
                    w.record(now, o);
                    log.push((now, o));
                }
                let current = now / (width_ms * ms);
                let mut expected = Counts::default();
                for &(t, o) in &log {
                    if t / (width_ms * ms) + u64::from(buckets) > current {
                        expected.add(o);
                    }
                }
                prop_assert_eq!(w.counts(now), expected);
            }
        }
    }
}
