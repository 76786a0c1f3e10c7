//! `Failure`: the small trait through which retry and circuit breaking ask an error what to do.
//!
//! `steadfast-retry` and `steadfast-circuit` are generic: they work for any operation whose
//! error implements [`Failure`], not only for calls to AI providers. The trait asks three
//! questions — may I try again, after how long, does this say the target is unhealthy — and
//! optionally names the [`ErrorKind`] so that policies can be tuned per kind.

use std::time::Duration;

use crate::error::ProviderError;
use crate::kind::ErrorKind;

/// What a retry or circuit-breaker layer needs to know about a failure.
///
/// Implemented for [`ProviderError`], for [`ErrorKind`] itself, and for [`std::io::Error`];
/// implement it for your own error types to use the retry and circuit crates with them.
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::Failure;
///
/// #[derive(Debug)]
/// enum DbError { Deadlock, Syntax, Busy { wait_ms: u64 } }
///
/// impl Failure for DbError {
///     fn is_retryable(&self) -> bool {
///         !matches!(self, DbError::Syntax)
///     }
///     fn retry_after(&self) -> Option<Duration> {
///         match self {
///             DbError::Busy { wait_ms } => Some(Duration::from_millis(*wait_ms)),
///             _ => None,
///         }
///     }
///     fn counts_against_health(&self) -> bool {
///         !matches!(self, DbError::Syntax) // the caller's fault, not the database's
///     }
/// }
///
/// assert!(DbError::Deadlock.is_retryable());
/// assert_eq!(DbError::Busy { wait_ms: 5 }.retry_after(), Some(Duration::from_millis(5)));
/// ```
pub trait Failure {
    /// May the same operation be tried again against the same target?
    fn is_retryable(&self) -> bool;

    /// The target's own request to wait at least this long before the next attempt.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// Does this failure say the target is unhealthy (and so count towards tripping a
    /// circuit breaker)? Defaults to `true`.
    fn counts_against_health(&self) -> bool {
        true
    }

    /// The kind of failure, when the error knows it; lets a policy treat kinds differently.
    fn kind(&self) -> Option<ErrorKind> {
        None
    }

    /// Is this a refusal by a guard in front of the target (an open circuit breaker, a full
    /// bulkhead) rather than a failure of the target itself? The target was never called, so
    /// retrying here is pointless and the caller should move on to another target at once.
    /// Defaults to `false`.
    fn is_refusal(&self) -> bool {
        false
    }
}

impl Failure for ProviderError {
    fn is_retryable(&self) -> bool {
        ProviderError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        ProviderError::retry_after(self)
    }

    fn counts_against_health(&self) -> bool {
        ProviderError::counts_against_health(self)
    }

    fn kind(&self) -> Option<ErrorKind> {
        Some(ProviderError::kind(self))
    }
}

impl Failure for ErrorKind {
    fn is_retryable(&self) -> bool {
        ErrorKind::is_retryable(*self)
    }

    fn counts_against_health(&self) -> bool {
        ErrorKind::counts_against_health(*self)
    }

    fn kind(&self) -> Option<ErrorKind> {
        Some(*self)
    }
}

/// I/O errors: timeouts and dropped connections are retryable, everything else is not.
impl Failure for std::io::Error {
    fn is_retryable(&self) -> bool {
        Failure::kind(self).is_some_and(ErrorKind::is_retryable)
    }

    fn counts_against_health(&self) -> bool {
        Failure::kind(self).is_none_or(ErrorKind::counts_against_health)
    }

    fn kind(&self) -> Option<ErrorKind> {
        use std::io::ErrorKind as Io;
        match self.kind() {
            Io::TimedOut => Some(ErrorKind::Timeout),
            Io::ConnectionRefused
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::NotConnected
            | Io::BrokenPipe
            | Io::UnexpectedEof
            | Io::AddrNotAvailable => Some(ErrorKind::Network),
            Io::InvalidData => Some(ErrorKind::Protocol),
            Io::InvalidInput => Some(ErrorKind::InvalidRequest),
            Io::PermissionDenied => Some(ErrorKind::Permission),
            Io::NotFound => Some(ErrorKind::NotFound),
            Io::Interrupted => Some(ErrorKind::Cancelled),
            _ => None,
        }
    }
}

impl<T: Failure + ?Sized> Failure for &T {
    fn is_retryable(&self) -> bool {
        (**self).is_retryable()
    }

    fn retry_after(&self) -> Option<Duration> {
        (**self).retry_after()
    }

    fn counts_against_health(&self) -> bool {
        (**self).counts_against_health()
    }

    fn kind(&self) -> Option<ErrorKind> {
        (**self).kind()
    }
}

impl<T: Failure + ?Sized> Failure for Box<T> {
    fn is_retryable(&self) -> bool {
        (**self).is_retryable()
    }

    fn retry_after(&self) -> Option<Duration> {
        (**self).retry_after()
    }

    fn counts_against_health(&self) -> bool {
        (**self).counts_against_health()
    }

    fn kind(&self) -> Option<ErrorKind> {
        (**self).kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_error_answers_from_its_overrides() {
        let e = ProviderError::new(ErrorKind::Server, "openai", "x")
            .with_retryable(false)
            .with_retry_after(Duration::from_secs(2));
        let f: &dyn Failure = &e;
        assert!(!f.is_retryable());
        assert_eq!(f.retry_after(), Some(Duration::from_secs(2)));
        assert!(f.counts_against_health());
        assert_eq!(f.kind(), Some(ErrorKind::Server));
    }

    #[test]
    fn io_errors_classify_by_kind() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let other = std::io::Error::other("?");
        assert!(reset.is_retryable());
        assert!(!denied.is_retryable());
        assert!(!other.is_retryable());
        assert!(other.counts_against_health());
        assert!(!Failure::counts_against_health(&ErrorKind::InvalidRequest));
    }
}
