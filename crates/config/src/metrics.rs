//! `AttemptMetric`: seed 000's per-attempt record (provider, duration, success, error
//! category, retry count), one JSON object per provider turn.

use serde::Serialize;
use steadfast_fallback::{AttemptOutcome, AttemptRecord};

/// One provider turn as a flat, serializable record — what `steadfast --log-metrics`
/// prints, one JSON line each.
///
/// ```
/// use steadfast_config::AttemptMetric;
/// use steadfast_fallback::{AttemptOutcome, AttemptRecord};
/// use steadfast_errors::ErrorKind;
///
/// let record = AttemptRecord {
///     provider: "grok".into(),
///     model: "grok-4".into(),
///     outcome: AttemptOutcome::Failed,
///     kind: Some(ErrorKind::RateLimited),
///     status: Some(429),
///     retries: 2,
///     duration: std::time::Duration::from_millis(2450),
///     error: None,
/// };
/// let json = serde_json::to_value(AttemptMetric::from(&record)).unwrap();
/// assert_eq!(json["provider"], "grok");
/// assert_eq!(json["success"], false);
/// assert_eq!(json["error_category"], "throttled");
/// assert_eq!(json["retry_count"], 2);
/// assert_eq!(json["duration_ms"], 2450.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AttemptMetric {
    /// The deployment.
    pub provider: String,
    /// The model asked for.
    pub model: String,
    /// Time spent on this turn, retries included, in milliseconds.
    pub duration_ms: f64,
    /// Whether it answered.
    pub success: bool,
    /// How the turn ended (`succeeded`, `failed`, `skipped_breaker_open`, …).
    pub outcome: &'static str,
    /// Whether it was skipped without a call (breaker open, disabled, …).
    pub skipped: bool,
    /// The error kind, when it failed.
    pub error_kind: Option<&'static str>,
    /// Seed 000's category of the error (`auth`, `throttled`, `transient`, `permanent`,
    /// `unknown`).
    pub error_category: Option<&'static str>,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
    /// Retries on this deployment (the first try not counted).
    pub retry_count: u32,
}

impl From<&AttemptRecord> for AttemptMetric {
    fn from(r: &AttemptRecord) -> AttemptMetric {
        AttemptMetric {
            provider: r.provider.clone(),
            model: r.model.clone(),
            duration_ms: r.duration.as_secs_f64() * 1000.0,
            success: matches!(
                r.outcome,
                AttemptOutcome::Succeeded | AttemptOutcome::Resumed
            ),
            outcome: r.outcome.as_str(),
            skipped: r.outcome.is_skipped(),
            error_kind: r.kind.map(|k| k.as_str()),
            error_category: r.kind.map(|k| k.category5().as_str()),
            status: r.status,
            retry_count: r.retries,
        }
    }
}
