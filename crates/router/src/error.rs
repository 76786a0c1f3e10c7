//! `RouterError`: a call the router refused itself, or one every provider failed.

use std::time::Duration;

use steadfast_errors::{ErrorKind, Failure, Owner, ProviderError};
use steadfast_fallback::FallbackError;

/// Why a routed call got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// The router refused the call before any provider was called: every provider that
    /// could take it is over its rate limit or concurrency cap (`rate_limited`), or a budget
    /// is spent (`budget_exceeded`). The error's owner is [`Owner::Local`].
    #[error("refused by the router: {0}")]
    Refused(#[source] ProviderError),
    /// No provider may take the request: all disabled, their tags do not match, or their
    /// context windows are too small.
    #[error("no provider may take this request: {reason}")]
    NoProvider {
        /// Why, in words.
        reason: String,
    },
    /// The providers were called and none answered; the error lists every attempt.
    #[error(transparent)]
    Failed(#[from] FallbackError),
}

impl RouterError {
    /// A local refusal of `kind` (`rate_limited` or `budget_exceeded`).
    pub(crate) fn refused(kind: ErrorKind, message: &str) -> RouterError {
        RouterError::Refused(ProviderError::new(kind, "router", message).with_owner(Owner::Local))
    }

    /// The failure's kind: the refusal's, or the fallback error's; `None` for
    /// [`NoProvider`](Self::NoProvider).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            RouterError::Refused(e) => Some(e.kind()),
            RouterError::NoProvider { .. } => None,
            RouterError::Failed(e) => e.kind(),
        }
    }

    /// Who is at fault: [`Owner::Local`] for a refusal, otherwise the kind's owner.
    pub fn owner(&self) -> Option<Owner> {
        match self {
            RouterError::Refused(e) => Some(e.owner()),
            RouterError::NoProvider { .. } => Some(Owner::Local),
            RouterError::Failed(e) => e.kind().map(ErrorKind::owner),
        }
    }
}

impl Failure for RouterError {
    /// Only a rate-limit refusal may succeed if tried again (later); everything else was
    /// already retried and fallen back from, or will be refused again.
    fn is_retryable(&self) -> bool {
        matches!(self, RouterError::Refused(e) if e.kind() == ErrorKind::RateLimited)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            RouterError::Refused(e) => e.retry_after(),
            _ => None,
        }
    }

    fn counts_against_health(&self) -> bool {
        false
    }

    fn kind(&self) -> Option<ErrorKind> {
        RouterError::kind(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_local() {
        let e = RouterError::refused(ErrorKind::BudgetExceeded, "budget spent");
        assert_eq!(e.kind(), Some(ErrorKind::BudgetExceeded));
        assert_eq!(e.owner(), Some(Owner::Local));
        assert!(!e.is_retryable() && !e.counts_against_health());
        assert!(e.to_string().starts_with("refused by the router: "));
        let r = RouterError::refused(ErrorKind::RateLimited, "rpm");
        assert!(r.is_retryable());
        let n = RouterError::NoProvider {
            reason: "all disabled".into(),
        };
        assert_eq!(Failure::kind(&n), None);
    }
}
