//! `RetryBudget`: retries as a fraction of recent calls, shared by every caller of a target.
//!
//! # Why budgets and not only max attempts?
//!
//! "Retry 3 times" is harmless when one call in a hundred fails and ruinous when the provider
//! is down: every call becomes four, and the outage is quadrupled by its own clients. A budget
//! bounds retries by what is happening *across* calls: each call deposits, each retry
//! withdraws, and only `retry_percent` of recent calls (plus a small floor of
//! `min_per_sec`, so that a quiet client can still retry) may be retried. Under a total
//! outage, attempts per call converge to `1 + retry_percent`. This is tower's `TpsBudget`
//! idea, measured over a sliding window of `ttl`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

const SLOTS: usize = 10;

/// The budget's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// How long a deposit counts. Default 10 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub ttl: Duration,
    /// Retries always allowed per second, whatever the traffic. Default 10.
    pub min_per_sec: u32,
    /// Retries allowed per call, as a fraction (`0.2` = one retry per five calls). Default 0.2.
    pub retry_percent: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            ttl: Duration::from_secs(10),
            min_per_sec: 10,
            retry_percent: 0.2,
        }
    }
}

/// A retry budget shared across calls; clones share the same account.
///
/// ```
/// use steadfast_retry::{BudgetConfig, RetryBudget};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let budget = RetryBudget::new(BudgetConfig { min_per_sec: 0, retry_percent: 0.5, ..BudgetConfig::default() });
/// for _ in 0..4 { budget.deposit(); }     // four calls…
/// assert!(budget.withdraw());             // …buy two retries
/// assert!(budget.withdraw());
/// assert!(!budget.withdraw());            // and no more
/// # }
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    config: BudgetConfig,
    inner: Arc<Mutex<Window>>,
}

impl std::fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryBudget")
            .field("config", &self.config)
            .field("balance", &self.balance())
            .finish()
    }
}

#[derive(Debug)]
struct Window {
    /// Deposits and withdrawals per slot; `slots[head]` is the current one.
    deposits: [u64; SLOTS],
    withdrawals: [u64; SLOTS],
    head: usize,
    head_started: Instant,
}

impl RetryBudget {
    /// A new, empty budget (only the `min_per_sec` floor is available).
    pub fn new(config: BudgetConfig) -> RetryBudget {
        RetryBudget {
            config,
            inner: Arc::new(Mutex::new(Window {
                deposits: [0; SLOTS],
                withdrawals: [0; SLOTS],
                head: 0,
                head_started: Instant::now(),
            })),
        }
    }

    /// The budget's parameters.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// Records a call (the first attempt of an operation).
    pub fn deposit(&self) {
        let mut w = self.lock();
        w.head_deposits_now(self.slot_len());
    }

    /// Takes one retry from the budget; `false` (and nothing taken) when it is exhausted.
    pub fn withdraw(&self) -> bool {
        let mut w = self.lock();
        w.advance(self.slot_len());
        if self.available(&w) >= 1.0 {
            let head = w.head;
            w.withdrawals[head] += 1;
            true
        } else {
            false
        }
    }

    /// Retries available right now.
    pub fn balance(&self) -> f64 {
        let mut w = self.lock();
        w.advance(self.slot_len());
        self.available(&w)
    }

    fn available(&self, w: &Window) -> f64 {
        let deposits: u64 = w.deposits.iter().sum();
        let withdrawals: u64 = w.withdrawals.iter().sum();
        let percent = if self.config.retry_percent.is_finite() {
            self.config.retry_percent.max(0.0)
        } else {
            0.0
        };
        let reserve = f64::from(self.config.min_per_sec) * self.config.ttl.as_secs_f64();
        reserve + percent * deposits as f64 - withdrawals as f64
    }

    fn slot_len(&self) -> Duration {
        (self.config.ttl / SLOTS as u32).max(Duration::from_millis(1))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        // The window holds plain counters: a panic elsewhere cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget::new(BudgetConfig::default())
    }
}

impl Window {
    fn head_deposits_now(&mut self, slot: Duration) {
        self.advance(slot);
        let head = self.head;
        self.deposits[head] += 1;
    }

    /// Moves the head forward to the slot that contains now, clearing the slots it passes.
    fn advance(&mut self, slot: Duration) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.head_started);
        if elapsed < slot {
            return;
        }
        let steps = elapsed.as_nanos() / slot.as_nanos();
        for _ in 0..steps.min(SLOTS as u128) {
            self.head = (self.head + 1) % SLOTS;
            self.deposits[self.head] = 0;
            self.withdrawals[self.head] = 0;
        }
        // Keep slot boundaries aligned however long the budget sat idle.
        let into_slot = (elapsed.as_nanos() % slot.as_nanos()) as u64;
        self.head_started = now - Duration::from_nanos(into_slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_floor(percent: f64) -> RetryBudget {
        RetryBudget::new(BudgetConfig {
            ttl: Duration::from_secs(10),
            min_per_sec: 0,
            retry_percent: percent,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn withdrawals_are_bounded_by_deposits() {
        let b = no_floor(0.2);
        assert!(
            !b.withdraw(),
            "an empty budget without a floor allows nothing"
        );
        for _ in 0..10 {
            b.deposit();
        }
        assert!(b.withdraw());
        assert!(b.withdraw());
        assert!(!b.withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn deposits_expire_after_the_ttl() {
        let b = no_floor(1.0);
        for _ in 0..5 {
            b.deposit();
        }
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!((b.balance() - 5.0).abs() < 1e-9);
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(
            b.balance(),
            0.0,
            "deposits older than the ttl no longer count"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_floor_allows_a_quiet_client_to_retry() {
        let b = RetryBudget::new(BudgetConfig {
            ttl: Duration::from_secs(1),
            min_per_sec: 3,
            retry_percent: 0.0,
        });
        assert!(b.withdraw() && b.withdraw() && b.withdraw());
        assert!(!b.withdraw());
        tokio::time::advance(Duration::from_millis(1100)).await;
        assert!(b.withdraw(), "withdrawals expire with their slot");
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_account() {
        let a = no_floor(1.0);
        let b = a.clone();
        a.deposit();
        assert!(b.withdraw());
        assert!(!a.withdraw());
    }
}
