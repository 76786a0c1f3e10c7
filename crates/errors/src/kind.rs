//! `ErrorKind`: one value per *reason* a call failed, with fixed retry / fallback / health semantics.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a call to a provider failed.
///
/// Every kind has fixed semantics on four axes, so that retry, circuit breaking and fallback
/// never have to look at status codes again:
///
/// | kind | retry same provider | fall back to next | counts against health | owner |
/// |---|---|---|---|---|
/// | `auth` | no | yes | yes | provider |
/// | `permission` | no | yes | yes | provider |
/// | `not_found` | no | yes | no | provider |
/// | `invalid_request` | no | no | no | client |
/// | `context_length` | no | to a larger window | no | client |
/// | `content_filter` | no | to a content-policy list | no | client |
/// | `rate_limited` | yes | yes | yes | provider |
/// | `quota_exhausted` | no | yes | yes | provider |
/// | `overloaded` | yes | yes | yes | provider |
/// | `server` | yes | yes | yes | provider |
/// | `timeout` | yes | yes | yes | provider |
/// | `network` | yes | yes | yes | provider |
/// | `stream_interrupted` | resume | resume on next | yes | provider |
/// | `protocol` | once | yes | yes | provider |
/// | `cancelled` | no | no | no | local |
/// | `budget_exceeded` | no | if another provider fits | no | local |
/// | `unknown` | no | yes | yes | provider |
///
/// The serde and [`Display`](fmt::Display) names are the `snake_case` names above, the ones
/// used by the conformance fixture format.
///
/// ```
/// use steadfast_errors::ErrorKind;
///
/// let kind: ErrorKind = "rate_limited".parse().unwrap();
/// assert!(kind.is_retryable());
/// assert!(kind.counts_against_health());
/// assert_eq!(kind.category5().as_str(), "throttled");
/// assert!(!ErrorKind::QuotaExhausted.is_retryable()); // billing: waiting will not help
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The credentials were refused (401, an invalid key).
    Auth,
    /// The credentials are valid but not allowed to do this (403).
    Permission,
    /// The model or endpoint does not exist here (404).
    NotFound,
    /// The request itself is malformed; it would fail on every provider (400/422).
    InvalidRequest,
    /// The prompt does not fit the model's context window.
    ContextLength,
    /// The provider's safety system refused the request or its output.
    ContentFilter,
    /// Too many requests or tokens per unit of time (429); waiting helps.
    RateLimited,
    /// Out of credits, billing or spending limit reached; waiting does not help.
    QuotaExhausted,
    /// The provider is overloaded (529, 503).
    Overloaded,
    /// Any other server-side failure (5xx).
    Server,
    /// A connect, first-byte, idle or total timeout, or a 408.
    Timeout,
    /// Connection refused or reset, DNS or TLS failure.
    Network,
    /// A stream ended before its terminator.
    StreamInterrupted,
    /// The response could not be understood: malformed body, bad JSON, unexpected content type.
    Protocol,
    /// The caller dropped or cancelled the call.
    Cancelled,
    /// A local cost or rate budget refused the call.
    BudgetExceeded,
    /// Anything that could not be classified.
    Unknown,
}

/// How a kind may be retried against the same provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryRule {
    /// Do not try the same provider again.
    Never,
    /// Retry with backoff (honouring any retry hint).
    Backoff,
    /// Retry at most once: a malformed response is rarely fixed by hammering.
    Once,
    /// Resume the stream from what was already delivered.
    Resume,
}

/// Whether a kind should move the call on to the next provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FallbackRule {
    /// Never: the request would fail on every provider, or the caller gave up.
    Never,
    /// Yes, to the next provider in line.
    Next,
    /// Only to a provider whose context window is larger.
    LargerContext,
    /// Only if a content-policy fallback list is configured.
    ContentPolicy,
    /// Resume the partial stream on the next provider.
    ResumeOnNext,
    /// Only to a provider that still fits the local budget.
    WithinBudget,
}

/// Who is at fault for a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Owner {
    /// The request is at fault (invalid, too long, refused by policy).
    Client,
    /// The upstream provider failed or refused.
    Provider,
    /// steadfast itself refused (a budget, an open breaker, a local rate limit).
    Local,
}

/// The five coarse categories of seed 000: `auth`, `throttled`, `transient`, `permanent`, `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category5 {
    /// Credentials or permissions.
    Auth,
    /// Rate limits, quotas and budgets.
    Throttled,
    /// Network, timeouts, overload and server failures.
    Transient,
    /// The request itself cannot succeed as sent.
    Permanent,
    /// Not classified.
    Unknown,
}

/// The seven coarse categories of seed 002: `auth`, `rate_limit`, `not_found`, `invalid`,
/// `server`, `network`, `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category7 {
    /// Credentials or permissions.
    Auth,
    /// Rate limits, quotas and budgets.
    RateLimit,
    /// Missing model or endpoint.
    NotFound,
    /// The request is invalid.
    Invalid,
    /// The server failed.
    Server,
    /// Connection problems and timeouts.
    Network,
    /// Not classified.
    Unknown,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 17] = [
        ErrorKind::Auth,
        ErrorKind::Permission,
        ErrorKind::NotFound,
        ErrorKind::InvalidRequest,
        ErrorKind::ContextLength,
        ErrorKind::ContentFilter,
        ErrorKind::RateLimited,
        ErrorKind::QuotaExhausted,
        ErrorKind::Overloaded,
        ErrorKind::Server,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::StreamInterrupted,
        ErrorKind::Protocol,
        ErrorKind::Cancelled,
        ErrorKind::BudgetExceeded,
        ErrorKind::Unknown,
    ];

    /// The `snake_case` name used in fixtures, serde and Display.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not_found",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::ContextLength => "context_length",
            ErrorKind::ContentFilter => "content_filter",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Network => "network",
            ErrorKind::StreamInterrupted => "stream_interrupted",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::BudgetExceeded => "budget_exceeded",
            ErrorKind::Unknown => "unknown",
        }
    }

    /// How this kind may be retried against the same provider.
    pub const fn retry_rule(self) -> RetryRule {
        match self {
            ErrorKind::RateLimited
            | ErrorKind::Overloaded
            | ErrorKind::Server
            | ErrorKind::Timeout
            | ErrorKind::Network => RetryRule::Backoff,
            ErrorKind::StreamInterrupted => RetryRule::Resume,
            ErrorKind::Protocol => RetryRule::Once,
            ErrorKind::Auth
            | ErrorKind::Permission
            | ErrorKind::NotFound
            | ErrorKind::InvalidRequest
            | ErrorKind::ContextLength
            | ErrorKind::ContentFilter
            | ErrorKind::QuotaExhausted
            | ErrorKind::Cancelled
            | ErrorKind::BudgetExceeded
            | ErrorKind::Unknown => RetryRule::Never,
        }
    }

    /// Whether the same provider may be tried again (by retry or by resume).
    pub const fn is_retryable(self) -> bool {
        !matches!(self.retry_rule(), RetryRule::Never)
    }

    /// Whether, and where, the call should fall back to another provider.
    pub const fn fallback_rule(self) -> FallbackRule {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::Cancelled => FallbackRule::Never,
            ErrorKind::ContextLength => FallbackRule::LargerContext,
            ErrorKind::ContentFilter => FallbackRule::ContentPolicy,
            ErrorKind::StreamInterrupted => FallbackRule::ResumeOnNext,
            ErrorKind::BudgetExceeded => FallbackRule::WithinBudget,
            ErrorKind::Auth
            | ErrorKind::Permission
            | ErrorKind::NotFound
            | ErrorKind::RateLimited
            | ErrorKind::QuotaExhausted
            | ErrorKind::Overloaded
            | ErrorKind::Server
            | ErrorKind::Timeout
            | ErrorKind::Network
            | ErrorKind::Protocol
            | ErrorKind::Unknown => FallbackRule::Next,
        }
    }

    /// Whether falling back to another provider can help at all (any rule but `Never`).
    pub const fn may_fall_back(self) -> bool {
        !matches!(self.fallback_rule(), FallbackRule::Never)
    }

    /// Whether a failure of this kind says something about the provider's health
    /// (and so counts towards tripping a circuit breaker).
    pub const fn counts_against_health(self) -> bool {
        !matches!(
            self,
            ErrorKind::NotFound
                | ErrorKind::InvalidRequest
                | ErrorKind::ContextLength
                | ErrorKind::ContentFilter
                | ErrorKind::Cancelled
                | ErrorKind::BudgetExceeded
        )
    }

    /// Who is at fault for a failure of this kind, unless the error says otherwise.
    pub const fn owner(self) -> Owner {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::ContextLength | ErrorKind::ContentFilter => {
                Owner::Client
            }
            ErrorKind::Cancelled | ErrorKind::BudgetExceeded => Owner::Local,
            _ => Owner::Provider,
        }
    }

    /// The five-category view of seed 000.
    pub const fn category5(self) -> Category5 {
        match self {
            ErrorKind::Auth | ErrorKind::Permission => Category5::Auth,
            ErrorKind::RateLimited | ErrorKind::QuotaExhausted | ErrorKind::BudgetExceeded => {
                Category5::Throttled
            }
            ErrorKind::Overloaded
            | ErrorKind::Server
            | ErrorKind::Timeout
            | ErrorKind::Network
            | ErrorKind::StreamInterrupted
            | ErrorKind::Protocol => Category5::Transient,
            ErrorKind::NotFound
            | ErrorKind::InvalidRequest
            | ErrorKind::ContextLength
            | ErrorKind::ContentFilter
            | ErrorKind::Cancelled => Category5::Permanent,
            ErrorKind::Unknown => Category5::Unknown,
        }
    }

    /// The seven-category view of seed 002.
    pub const fn category7(self) -> Category7 {
        match self {
            ErrorKind::Auth | ErrorKind::Permission => Category7::Auth,
            ErrorKind::RateLimited | ErrorKind::QuotaExhausted | ErrorKind::BudgetExceeded => {
                Category7::RateLimit
            }
            ErrorKind::NotFound => Category7::NotFound,
            ErrorKind::InvalidRequest | ErrorKind::ContextLength | ErrorKind::ContentFilter => {
                Category7::Invalid
            }
            ErrorKind::Overloaded | ErrorKind::Server | ErrorKind::Protocol => Category7::Server,
            ErrorKind::Timeout | ErrorKind::Network | ErrorKind::StreamInterrupted => {
                Category7::Network
            }
            ErrorKind::Cancelled | ErrorKind::Unknown => Category7::Unknown,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no [`ErrorKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error kind `{0}`")]
pub struct ParseKindError(String);

impl FromStr for ErrorKind {
    type Err = ParseKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ParseKindError(s.chars().take(64).collect()))
    }
}

impl Category5 {
    /// The `snake_case` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category5::Auth => "auth",
            Category5::Throttled => "throttled",
            Category5::Transient => "transient",
            Category5::Permanent => "permanent",
            Category5::Unknown => "unknown",
        }
    }
}

impl Category7 {
    /// The `snake_case` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category7::Auth => "auth",
            Category7::RateLimit => "rate_limit",
            Category7::NotFound => "not_found",
            Category7::Invalid => "invalid",
            Category7::Server => "server",
            Category7::Network => "network",
            Category7::Unknown => "unknown",
        }
    }
}

impl Owner {
    /// The `snake_case` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Owner::Client => "client",
            Owner::Provider => "provider",
            Owner::Local => "local",
        }
    }
}

impl fmt::Display for Category5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Category7 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DESIGN.md §2 table, row by row: (kind, retry, fallback, health, owner).
    #[test]
    fn axes_match_the_design_table() {
        use ErrorKind::*;
        let rows: [(ErrorKind, bool, bool, bool, Owner); 17] = [
            (Auth, false, true, true, Owner::Provider),
            (Permission, false, true, true, Owner::Provider),
            (NotFound, false, true, false, Owner::Provider),
            (InvalidRequest, false, false, false, Owner::Client),
            (ContextLength, false, true, false, Owner::Client),
            (ContentFilter, false, true, false, Owner::Client),
            (RateLimited, true, true, true, Owner::Provider),
            (QuotaExhausted, false, true, true, Owner::Provider),
            (Overloaded, true, true, true, Owner::Provider),
            (Server, true, true, true, Owner::Provider),
            (Timeout, true, true, true, Owner::Provider),
            (Network, true, true, true, Owner::Provider),
            (StreamInterrupted, true, true, true, Owner::Provider),
            (Protocol, true, true, true, Owner::Provider),
            (Cancelled, false, false, false, Owner::Local),
            (BudgetExceeded, false, true, false, Owner::Local),
            (Unknown, false, true, true, Owner::Provider),
        ];
        for (kind, retry, fallback, health, owner) in rows {
            assert_eq!(kind.is_retryable(), retry, "{kind} retry");
            assert_eq!(kind.may_fall_back(), fallback, "{kind} fallback");
            assert_eq!(kind.counts_against_health(), health, "{kind} health");
            assert_eq!(kind.owner(), owner, "{kind} owner");
        }
        assert_eq!(StreamInterrupted.retry_rule(), RetryRule::Resume);
        assert_eq!(Protocol.retry_rule(), RetryRule::Once);
        assert_eq!(ContextLength.fallback_rule(), FallbackRule::LargerContext);
    }

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
            let c5 = serde_json::to_string(&kind.category5()).unwrap();
            assert_eq!(c5, format!("\"{}\"", kind.category5().as_str()));
            let c7 = serde_json::to_string(&kind.category7()).unwrap();
            assert_eq!(c7, format!("\"{}\"", kind.category7().as_str()));
        }
        assert!("rate-limited".parse::<ErrorKind>().is_err());
    }

    #[test]
    fn seed_categories_agree_with_retry_where_the_seeds_say_so() {
        // Seed 000: auth and permanent never retry; transient always does.
        for kind in ErrorKind::ALL {
            match kind.category5() {
                Category5::Auth | Category5::Permanent => assert!(!kind.is_retryable(), "{kind}"),
                Category5::Transient => assert!(kind.is_retryable(), "{kind}"),
                _ => {}
            }
        }
    }
}
