//! `AttemptMetric`: seed 000's per-attempt record (provider, duration, success, error
//! category, retry count), one JSON object per provider turn — and `JsonLinesObserver`,
//! which writes one per attempt as it happens to any writer, without a tracing subscriber.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;
use steadfast_errors::observe::{Event, Observer};
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

impl AttemptMetric {
    /// The record of one attempt as an [`Event::Attempt`] reports it; `None` for any other
    /// event. Its `retry_count` is the attempts before it on the same provider (for a resume:
    /// the resumes before it).
    pub fn from_event(event: &Event<'_>) -> Option<AttemptMetric> {
        let Event::Attempt {
            provider,
            model,
            attempt,
            duration,
            error,
            ..
        } = *event
        else {
            return None;
        };
        let kind = error.map(|e| e.kind());
        Some(AttemptMetric {
            provider: provider.to_owned(),
            model: model.to_owned(),
            duration_ms: duration.as_secs_f64() * 1000.0,
            success: error.is_none(),
            outcome: if error.is_none() {
                AttemptOutcome::Succeeded.as_str()
            } else {
                AttemptOutcome::Failed.as_str()
            },
            skipped: false,
            error_kind: kind.map(|k| k.as_str()),
            error_category: kind.map(|k| k.category5().as_str()),
            status: error.and_then(|e| e.status()),
            retry_count: attempt.saturating_sub(1),
        })
    }
}

/// The `log_metrics` switch: an [`Observer`] that writes one [`AttemptMetric`] JSON line
/// per attempt, as each attempt ends, to a writer of your choice (a file, stderr, a
/// buffer) — no tracing subscriber needed. Install it with
/// [`RouterBuilder::observer`](steadfast_router::RouterBuilder::observer) or
/// [`ChainBuilder::observer`](steadfast_fallback::ChainBuilder::observer).
///
/// A failed write is dropped (metrics never fail a call); the writer is behind a lock, so
/// give it a buffered writer if attempts are many.
///
/// ```
/// use std::sync::Arc;
/// use steadfast_config::JsonLinesObserver;
/// use steadfast_errors::observe::{Event, Observer};
///
/// let log = JsonLinesObserver::new(Vec::new());
/// log.on_event(&Event::Attempt {
///     provider: "grok",
///     model: "grok-4",
///     attempt: 2,
///     duration: std::time::Duration::from_millis(120),
///     error: None,
///     fallback: false,
///     resume: false,
/// });
/// let text = String::from_utf8(log.into_inner()).unwrap();
/// let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
/// assert_eq!(line["provider"], "grok");
/// assert_eq!(line["retry_count"], 1);
/// assert_eq!(line["success"], true);
/// ```
pub struct JsonLinesObserver<W> {
    writer: Mutex<W>,
}

impl<W: Write + Send> JsonLinesObserver<W> {
    /// Writes to `writer`.
    pub fn new(writer: W) -> Self {
        JsonLinesObserver {
            writer: Mutex::new(writer),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.writer
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<W> fmt::Debug for JsonLinesObserver<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesObserver").finish_non_exhaustive()
    }
}

impl<W: Write + Send> Observer for JsonLinesObserver<W> {
    fn on_event(&self, event: &Event<'_>) {
        let Some(record) = AttemptMetric::from_event(event) else {
            return;
        };
        let Ok(mut line) = serde_json::to_vec(&record) else {
            return;
        };
        line.push(b'\n');
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writer.write_all(&line);
        let _ = writer.flush();
    }
}
