//! `FallbackError`: the one error a failed call returns, listing every attempt.

use std::fmt;
use std::time::Duration;

use steadfast_errors::{ErrorKind, Failure, ProviderError};

use crate::record::{AttemptRecord, Secs};

/// Why the chain stopped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// Every provider that could be tried was tried and failed.
    AllFailed,
    /// The last failure's kind never falls back (`invalid_request`, `cancelled`): it would
    /// fail everywhere, or the caller gave up.
    NoFallback,
    /// No provider could be called: all disabled, breakers open, or excluded by an earlier
    /// failure (context window, content policy), or the chain is empty.
    NoEligibleProvider,
    /// The call's deadline passed.
    DeadlineExceeded,
    /// The call asked for no fallback ([`CallOptions::fallback`] `false`) and the one
    /// provider it allows failed.
    ///
    /// [`CallOptions::fallback`]: crate::CallOptions::fallback
    FallbackDisabled,
}

impl StopReason {
    /// The `snake_case` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            StopReason::AllFailed => "all_failed",
            StopReason::NoFallback => "no_fallback",
            StopReason::NoEligibleProvider => "no_eligible_provider",
            StopReason::DeadlineExceeded => "deadline_exceeded",
            StopReason::FallbackDisabled => "fallback_disabled",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call that got no answer from any provider: why, the last provider error, and every
/// attempt made (or skipped) on the way.
///
/// Its `Display` is the "all attempts failed" report of seed 000, one entry per provider:
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::ErrorKind;
/// use steadfast_fallback::{AttemptOutcome, AttemptRecord, FallbackError, StopReason};
///
/// let record = |provider: &str, model: &str, kind, status, retries, ms| AttemptRecord {
///     provider: provider.into(),
///     model: model.into(),
///     outcome: AttemptOutcome::Failed,
///     kind: Some(kind),
///     status: Some(status),
///     retries,
///     duration: Duration::from_millis(ms),
///     error: None,
/// };
/// let err = FallbackError {
///     attempts: vec![
///         record("openai", "gpt-4o", ErrorKind::RateLimited, 429, 2, 2100),
///         record("anthropic", "claude", ErrorKind::Overloaded, 529, 1, 1000),
///     ],
///     last: None,
///     reason: StopReason::AllFailed,
/// };
/// assert_eq!(
///     err.to_string(),
///     "all providers failed: openai/gpt-4o (rate_limited 429, 3 attempts, 2.1s); \
///      anthropic/claude (overloaded 529, 2 attempts, 1.0s)"
/// );
/// ```
///
/// As a [`Failure`] it is final: not retryable (the chain already retried and fell back)
/// and not counted against anyone's health (each provider's failures were counted already).
#[derive(Debug, thiserror::Error)]
#[error("{}", Report(self))]
pub struct FallbackError {
    /// Every provider's turn, in order.
    pub attempts: Vec<AttemptRecord>,
    /// The last error a provider returned, if any was called.
    #[source]
    pub last: Option<ProviderError>,
    /// Why the chain stopped.
    pub reason: StopReason,
}

impl FallbackError {
    pub(crate) fn new(
        attempts: Vec<AttemptRecord>,
        last: Option<ProviderError>,
        reason: StopReason,
    ) -> FallbackError {
        FallbackError {
            attempts,
            last,
            reason,
        }
    }

    /// The kind of the failure: `timeout` when the deadline passed, otherwise the last
    /// provider error's kind (none when no provider was called).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self.reason {
            StopReason::DeadlineExceeded => Some(ErrorKind::Timeout),
            _ => self.last.as_ref().map(ProviderError::kind),
        }
    }

    /// The time spent on every provider, in all.
    pub fn elapsed(&self) -> Duration {
        self.attempts.iter().map(|a| a.duration).sum()
    }
}

impl Failure for FallbackError {
    fn is_retryable(&self) -> bool {
        false
    }

    fn counts_against_health(&self) -> bool {
        false
    }

    fn kind(&self) -> Option<ErrorKind> {
        FallbackError::kind(self)
    }
}

struct Report<'a>(&'a FallbackError);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        match e.reason {
            StopReason::AllFailed => f.write_str("all providers failed")?,
            StopReason::NoEligibleProvider => f.write_str("no provider may take this request")?,
            StopReason::DeadlineExceeded => {
                write!(f, "deadline exceeded after {}", Secs(e.elapsed()))?;
            }
            StopReason::FallbackDisabled => f.write_str("failed, and fallback is off")?,
            StopReason::NoFallback => {
                f.write_str("not retried elsewhere")?;
                if let Some(last) = &e.last {
                    write!(f, ": {}", last.kind())?;
                }
            }
        }
        if e.attempts.is_empty() {
            return f.write_str(": the chain has no provider to try");
        }
        for (i, attempt) in e.attempts.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{attempt}")?;
        }
        if e.reason == StopReason::NoFallback
            && let Some(last) = &e.last
            && !last.message().is_empty()
        {
            write!(f, " — {}", last.message())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AttemptOutcome;

    #[test]
    fn each_reason_reads_well() {
        let err = ProviderError::new(ErrorKind::InvalidRequest, "openai", "max_tokens too large")
            .with_model("gpt-4o")
            .with_status(400);
        let mut record = AttemptRecord::new("openai", "gpt-4o", AttemptOutcome::Succeeded);
        record.fail(&err);
        let e = FallbackError::new(vec![record], Some(err), StopReason::NoFallback);
        assert_eq!(
            e.to_string(),
            "not retried elsewhere: invalid_request: openai/gpt-4o (invalid_request 400, 1 attempt, 0.0s) — max_tokens too large"
        );
        assert_eq!(Failure::kind(&e), Some(ErrorKind::InvalidRequest));
        assert!(!e.is_retryable() && !e.counts_against_health());
        assert!(std::error::Error::source(&e).is_some());

        let empty = FallbackError::new(Vec::new(), None, StopReason::NoEligibleProvider);
        assert_eq!(
            empty.to_string(),
            "no provider may take this request: the chain has no provider to try"
        );
        assert_eq!(empty.kind(), None);
        let late = FallbackError::new(Vec::new(), None, StopReason::DeadlineExceeded);
        assert_eq!(late.kind(), Some(ErrorKind::Timeout));
    }
}
