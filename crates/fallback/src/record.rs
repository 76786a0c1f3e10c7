//! The attempt log: one [`AttemptRecord`] per provider tried, skipped, or resumed on.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};
use steadfast_errors::{ErrorKind, ProviderError};

/// How one provider's turn in a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// It answered (for a stream: it reached its first token, and has not failed since).
    Succeeded,
    /// It failed, after its retries; the record says why.
    Failed,
    /// Not called: its circuit breaker refused.
    SkippedBreakerOpen,
    /// Not called: it is disabled.
    SkippedDisabled,
    /// Not called: after a `context_length` failure, its context window is not known to be
    /// larger.
    SkippedContextTooSmall,
    /// Not called: after a `content_filter` refusal, it is not a content-policy fallback.
    SkippedNotContentPolicy,
    /// Not called: a stream had to be continued and it offers no way to continue an answer.
    SkippedCannotResume,
    /// Not called: it was removed from the chain at run time after the call was planned.
    SkippedRemoved,
    /// An interrupted stream was reopened on it (and this part has not failed since).
    Resumed,
}

impl AttemptOutcome {
    /// The `snake_case` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::SkippedBreakerOpen => "skipped_breaker_open",
            AttemptOutcome::SkippedDisabled => "skipped_disabled",
            AttemptOutcome::SkippedContextTooSmall => "skipped_context_too_small",
            AttemptOutcome::SkippedNotContentPolicy => "skipped_not_content_policy",
            AttemptOutcome::SkippedCannotResume => "skipped_cannot_resume",
            AttemptOutcome::SkippedRemoved => "skipped_removed",
            AttemptOutcome::Resumed => "resumed",
        }
    }

    /// Whether the provider was not called at all.
    pub const fn is_skipped(self) -> bool {
        matches!(
            self,
            AttemptOutcome::SkippedBreakerOpen
                | AttemptOutcome::SkippedDisabled
                | AttemptOutcome::SkippedContextTooSmall
                | AttemptOutcome::SkippedNotContentPolicy
                | AttemptOutcome::SkippedCannotResume
                | AttemptOutcome::SkippedRemoved
        )
    }

    /// Why a skipped provider was skipped, in words.
    const fn skip_reason(self) -> &'static str {
        match self {
            AttemptOutcome::SkippedBreakerOpen => "circuit open",
            AttemptOutcome::SkippedDisabled => "disabled",
            AttemptOutcome::SkippedContextTooSmall => "context window not larger",
            AttemptOutcome::SkippedNotContentPolicy => "not a content-policy fallback",
            AttemptOutcome::SkippedCannotResume => "cannot continue an answer",
            AttemptOutcome::SkippedRemoved => "removed",
            _ => "",
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One provider's turn in a call: the per-attempt metrics record of seed 000.
///
/// Serialized with the duration as `duration_ms` (a number of milliseconds, fractions
/// included), ready for a log line or a metrics pipeline:
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::ErrorKind;
/// use steadfast_fallback::{AttemptOutcome, AttemptRecord};
///
/// let record = AttemptRecord {
///     provider: "openai".into(),
///     model: "gpt-4o".into(),
///     outcome: AttemptOutcome::Failed,
///     kind: Some(ErrorKind::RateLimited),
///     status: Some(429),
///     retries: 2,
///     duration: Duration::from_millis(2100),
///     error: Some("openai/gpt-4o: rate_limited (429): slow down".into()),
/// };
/// assert_eq!(record.to_string(), "openai/gpt-4o (rate_limited 429, 3 attempts, 2.1s)");
/// let json = serde_json::to_value(&record).unwrap();
/// assert_eq!(json["duration_ms"], 2100.0);
/// assert_eq!(json["outcome"], "failed");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    /// The provider's id.
    pub provider: String,
    /// The model asked for.
    pub model: String,
    /// How the turn ended.
    pub outcome: AttemptOutcome,
    /// The last failure's kind, when it failed.
    pub kind: Option<ErrorKind>,
    /// The last failure's HTTP status, when there was one.
    pub status: Option<u16>,
    /// Retries made on this provider after its first attempt.
    pub retries: u32,
    /// Time spent on this provider: attempts and the waits between them (for a stream,
    /// until the stream ended or failed).
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
    /// The last failure (its `Display`), or why the provider was skipped.
    pub error: Option<String>,
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl AttemptRecord {
    /// Attempts made on the provider: `retries + 1`, or 0 when it was skipped.
    pub fn attempts(&self) -> u32 {
        if self.outcome.is_skipped() {
            0
        } else {
            self.retries.saturating_add(1)
        }
    }

    pub(crate) fn new(provider: &str, model: &str, outcome: AttemptOutcome) -> AttemptRecord {
        AttemptRecord {
            provider: provider.to_owned(),
            model: model.to_owned(),
            outcome,
            kind: None,
            status: None,
            retries: 0,
            duration: Duration::ZERO,
            error: None,
        }
    }

    pub(crate) fn skipped(
        provider: &str,
        model: &str,
        outcome: AttemptOutcome,
        why: Option<String>,
    ) -> AttemptRecord {
        AttemptRecord {
            error: why,
            ..AttemptRecord::new(provider, model, outcome)
        }
    }

    /// Marks the record failed with `err`.
    pub(crate) fn fail(&mut self, err: &ProviderError) {
        self.outcome = AttemptOutcome::Failed;
        self.kind = Some(err.kind());
        self.status = err.status();
        self.error = Some(err.to_string());
    }
}

/// Whole seconds with one decimal, as in `2.1s`.
pub(crate) struct Secs(pub(crate) Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}s", self.0.as_secs_f64())
    }
}

impl fmt::Display for AttemptRecord {
    /// `provider/model (kind status, N attempts, 1.2s)`, or `provider/model (skipped: why)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.provider)?;
        if !self.model.is_empty() {
            write!(f, "/{}", self.model)?;
        }
        if self.outcome.is_skipped() {
            return write!(f, " (skipped: {})", self.outcome.skip_reason());
        }
        f.write_str(" (")?;
        match (self.outcome, self.kind) {
            (AttemptOutcome::Failed, Some(kind)) => write!(f, "{kind}")?,
            (outcome, _) => write!(f, "{outcome}")?,
        }
        if let (AttemptOutcome::Failed, Some(status)) = (self.outcome, self.status) {
            write!(f, " {status}")?;
        }
        let n = self.attempts();
        let plural = if n == 1 { "" } else { "s" };
        write!(f, ", {n} attempt{plural}, {})", Secs(self.duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_by_outcome() {
        let mut r = AttemptRecord::new("anthropic", "claude", AttemptOutcome::Succeeded);
        r.duration = Duration::from_millis(260);
        assert_eq!(
            r.to_string(),
            "anthropic/claude (succeeded, 1 attempt, 0.3s)"
        );
        r.fail(
            &ProviderError::new(ErrorKind::Network, "anthropic", "reset")
                .with_model("claude".to_owned()),
        );
        r.retries = 1;
        assert_eq!(
            r.to_string(),
            "anthropic/claude (network, 2 attempts, 0.3s)"
        );
        let s = AttemptRecord::skipped("x", "", AttemptOutcome::SkippedBreakerOpen, None);
        assert_eq!(s.to_string(), "x (skipped: circuit open)");
        assert_eq!(s.attempts(), 0);
    }
}
