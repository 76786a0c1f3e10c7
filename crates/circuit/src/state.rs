//! The three states, and the `Transition` (from, to, reason) reported when the breaker moves.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where a breaker is.
///
/// Serialized as `"closed"`, `"open"`, `"half_open"`; displayed as `closed`, `open`,
/// `half-open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum State {
    /// Calls flow; outcomes are recorded and judged.
    Closed,
    /// Calls are refused until the open duration has passed.
    Open,
    /// A few probe calls are let through to decide between closing and opening again.
    HalfOpen,
}

impl From<State> for steadfast_errors::observe::BreakerState {
    fn from(state: State) -> Self {
        use steadfast_errors::observe::BreakerState;
        match state {
            State::Closed => BreakerState::Closed,
            State::Open => BreakerState::Open,
            State::HalfOpen => BreakerState::HalfOpen,
        }
    }
}

impl State {
    pub(crate) const fn to_bits(self) -> u64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        }
    }

    pub(crate) const fn from_bits(bits: u64) -> Self {
        match bits & 0b11 {
            0 => State::Closed,
            1 => State::Open,
            _ => State::HalfOpen,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
        })
    }
}

/// Why the breaker changed state.
///
/// Serialized with a `"reason"` tag, e.g. `{"reason":"failure_rate","rate":0.5,"calls":10}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Closed → open: this many failures in a row.
    ConsecutiveFailures {
        /// The run of failures that tripped the breaker.
        count: u32,
    },
    /// Closed → open: the failure rate over the window reached the threshold.
    FailureRate {
        /// The failure rate measured (`0.0..=1.0`).
        rate: f64,
        /// The calls in the window when it was measured.
        calls: u32,
    },
    /// Closed → open: the slow-call rate over the window reached the threshold.
    SlowCallRate {
        /// The slow-call rate measured (`0.0..=1.0`).
        rate: f64,
        /// The calls in the window when it was measured.
        calls: u32,
    },
    /// Open → half-open: the open duration has passed and a call asked to be admitted.
    OpenElapsed,
    /// Half-open → closed: enough probes succeeded.
    ProbesSucceeded {
        /// The probes that succeeded.
        successes: u32,
    },
    /// Half-open → open: a probe failed (with a failure that counts against health).
    ProbeFailed,
    /// Half-open → open: a probe succeeded, but slowly (only with a slow-call rule).
    ProbeSlow,
    /// Half-open → open: the probes gave no verdict within
    /// [`Config::half_open_max_wait`](crate::Config::half_open_max_wait).
    HalfOpenTimedOut,
    /// Anything → closed: [`CircuitBreaker::reset`](crate::CircuitBreaker::reset) was called.
    Reset,
    /// Anything → open:
    /// [`CircuitBreaker::force_open`](crate::CircuitBreaker::force_open) was called (for
    /// example because another instance's breaker for the same target tripped).
    Forced,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ConsecutiveFailures { count } => write!(f, "{count} consecutive failures"),
            Reason::FailureRate { rate, calls } => {
                write!(f, "failure rate {:.0}% over {calls} calls", rate * 100.0)
            }
            Reason::SlowCallRate { rate, calls } => {
                write!(f, "slow-call rate {:.0}% over {calls} calls", rate * 100.0)
            }
            Reason::OpenElapsed => f.write_str("open duration elapsed"),
            Reason::ProbesSucceeded { successes } => write!(f, "{successes} probes succeeded"),
            Reason::ProbeFailed => f.write_str("a probe failed"),
            Reason::ProbeSlow => f.write_str("a probe was slow"),
            Reason::HalfOpenTimedOut => f.write_str("half-open past its maximum wait"),
            Reason::Reset => f.write_str("reset"),
            Reason::Forced => f.write_str("forced open"),
        }
    }
}

/// One change of state, as passed to the callbacks registered with
/// [`CircuitBreaker::on_transition`](crate::CircuitBreaker::on_transition).
///
/// [`reset`](crate::CircuitBreaker::reset) always reports a transition to closed, even from
/// closed, so resets can be counted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// When entering [`State::Open`]: how long the breaker will stay open.
    #[serde(default, with = "steadfast_errors::serde_duration::option")]
    pub open_for: Option<Duration>,
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {} ({})", self.from, self.to, self.reason)?;
        if let Some(d) = self.open_for {
            write!(f, " for {}", steadfast_errors::serde_duration::format(d))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        for s in [State::Closed, State::Open, State::HalfOpen] {
            assert_eq!(State::from_bits(s.to_bits() | (7 << 2)), s);
        }
    }

    #[test]
    fn names() {
        assert_eq!(State::HalfOpen.to_string(), "half-open");
        assert_eq!(
            serde_json::to_string(&State::HalfOpen).unwrap(),
            r#""half_open""#
        );
        let t = Transition {
            from: State::Closed,
            to: State::Open,
            reason: Reason::FailureRate {
                rate: 0.5,
                calls: 10,
            },
            open_for: Some(Duration::from_secs(30)),
        };
        assert_eq!(
            t.to_string(),
            "closed -> open (failure rate 50% over 10 calls) for 30s"
        );
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"from":"closed","to":"open","reason":{"reason":"failure_rate","rate":0.5,"calls":10},"open_for":"30s"}"#
        );
        assert_eq!(serde_json::from_str::<Transition>(&json).unwrap(), t);
    }
}
