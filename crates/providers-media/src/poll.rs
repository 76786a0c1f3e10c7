//! Polling a media job: create it, then poll with backoff and jitter until it ends or the
//! deadline passes.
//!
//! The mechanism ([`run`]) is separate from what steers it ([`PollConfig`]) and from the
//! provider that is polled: a provider hands it two closures, one that creates the job and
//! returns its id, one that polls the job once and says where it stands ([`JobState`]).
//!
//! # What ends the wait
//!
//! | poll result | outcome |
//! |---|---|
//! | [`JobState::Waiting`] (pending, queued/throttled, running) | wait, poll again |
//! | [`JobState::Succeeded`] | `Ok(output)` |
//! | [`JobState::Failed`] | that error (already classified by the provider) |
//! | [`JobState::Cancelled`] | a `cancelled` error naming the job, at once |
//! | the poll *request* failed with a retryable error (429, 5xx, network, timeout) | wait (the error's `Retry-After` when it gave one, else the backoff), poll again — at most [`PollConfig::max_poll_failures`] times in a row |
//! | the poll request failed with anything else (401, 404, a malformed body) | that error |
//! | the deadline passed | a `timeout` error naming the job id and its last known status |
//!
//! A job that *failed* is never polled again, even when its failure is retryable (Runway's
//! `INTERNAL.*`): the job is over, and trying again means creating a new one, which is the
//! caller's retry policy's decision, not the poller's.
//!
//! Time comes from tokio, so tests run on a paused clock.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_errors::{ErrorKind, Owner, ProviderError};
use steadfast_providers_core::{JobProgress, JobStatus, ProgressFn};
use steadfast_retry::{Backoff, Jitter};
use tokio::time::Instant;

/// How a job is polled.
///
/// Durations are milliseconds or strings such as `"2s"` in config files.
///
/// ```
/// use std::time::Duration;
/// use steadfast_providers_media::poll::PollConfig;
///
/// let config: PollConfig = serde_json::from_str(r#"{
///     "interval": {"initial": "1s", "multiplier": 2, "max": "8s", "jitter": {"type": "full"}},
///     "deadline": "5m"
/// }"#).unwrap();
/// assert_eq!(config.deadline, Duration::from_secs(300));
/// assert_eq!(config.min_interval, Duration::from_secs(1), "unset fields keep their defaults");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollConfig {
    /// The wait before each poll, growing with the poll number. Default 2 s doubling up to
    /// 10 s, with full jitter (uniform in `[0, base]`), floored at `min_interval`.
    pub interval: Backoff,
    /// The shortest wait between two polls, whatever the jitter drew. Default 1 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub min_interval: Duration,
    /// How long the whole job may take, from the create call on. Default 10 minutes (the
    /// official Runway SDK's default).
    #[serde(with = "steadfast_errors::serde_duration")]
    pub deadline: Duration,
    /// How many poll requests in a row may fail with a retryable error before the wait ends
    /// with that error. Default 10; 0 is read as 1.
    pub max_poll_failures: u32,
    /// A seed that makes the jitter deterministic (tests, reproductions). Default none.
    pub seed: Option<u64>,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            interval: Backoff {
                initial: Duration::from_secs(2),
                multiplier: 2.0,
                max: Duration::from_secs(10),
                jitter: Jitter::Full,
            },
            min_interval: Duration::from_secs(1),
            deadline: Duration::from_secs(600),
            max_poll_failures: 10,
            seed: None,
        }
    }
}

impl PollConfig {
    /// Fast polling for tests and examples: a constant `interval`, no floor, and `deadline`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_providers_media::poll::PollConfig;
    ///
    /// let fast = PollConfig::fixed(Duration::from_millis(10), Duration::from_secs(2));
    /// assert_eq!(fast.interval.max, Duration::from_millis(10));
    /// ```
    pub fn fixed(interval: Duration, deadline: Duration) -> PollConfig {
        PollConfig {
            interval: Backoff::constant(interval),
            min_interval: Duration::ZERO,
            deadline,
            ..PollConfig::default()
        }
    }

    /// The wait before poll number `poll` (0 for the first), given the previous wait.
    ///
    /// Always within `min(min_interval, interval.max)..=max(min_interval, interval.max)`.
    pub fn wait(&self, poll: u32, previous: Duration, rng: &mut fastrand::Rng) -> Duration {
        self.interval
            .delay(poll, previous, rng)
            .max(self.min_interval)
    }
}

/// Where a job stands after one poll, as the provider read it.
#[derive(Debug)]
#[non_exhaustive]
pub enum JobState<T> {
    /// Not finished: pending, queued (Runway `THROTTLED`) or running.
    Waiting {
        /// Which of the waiting states.
        status: JobStatus,
        /// Fraction done, `0.0..=1.0`, when the provider says.
        progress: Option<f32>,
    },
    /// Finished with this output.
    Succeeded(T),
    /// Finished with this failure (classified by the provider, e.g. Runway's `failureCode`).
    Failed(ProviderError),
    /// Cancelled on the provider's side.
    Cancelled {
        /// The provider's reason, if it gave one.
        reason: Option<String>,
    },
}

impl<T> JobState<T> {
    /// A job waiting in `status` with no progress figure.
    pub fn waiting(status: JobStatus) -> JobState<T> {
        JobState::Waiting {
            status,
            progress: None,
        }
    }

    /// The status to report in a [`JobProgress`].
    pub fn status(&self) -> JobStatus {
        match self {
            JobState::Waiting { status, .. } => *status,
            JobState::Succeeded(_) => JobStatus::Succeeded,
            JobState::Failed(_) => JobStatus::Failed,
            JobState::Cancelled { .. } => JobStatus::Cancelled,
        }
    }

    fn progress(&self) -> Option<f32> {
        match self {
            JobState::Waiting { progress, .. } => *progress,
            JobState::Succeeded(_) => Some(1.0),
            _ => None,
        }
    }
}

/// Who is polling, for errors and logs.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The provider instance's id, shown in errors.
    pub provider: &'a str,
    /// The model, shown in errors when not empty.
    pub model: &'a str,
    /// What the job is called in messages (`task`, `video request`).
    pub noun: &'a str,
}

impl Job<'_> {
    fn error(&self, kind: ErrorKind, message: &str) -> ProviderError {
        let err = ProviderError::new(kind, self.provider.to_owned(), message);
        if self.model.is_empty() {
            err
        } else {
            err.with_model(self.model.to_owned())
        }
    }
}

/// Creates a job with `create` (which returns the job's id), then polls it with `poll` until
/// it ends, reporting progress after every poll that returned a status.
///
/// Waits come before each poll (a job is never done the instant it is created). The deadline
/// counts from the call to `create`; the last poll happens at the deadline itself, so a job
/// that finishes just in time is not lost. A single poll request is bounded by its own HTTP
/// timeout, not by the deadline.
///
/// ```
/// use std::time::Duration;
/// use steadfast_providers_core::JobStatus;
/// use steadfast_providers_media::poll::{self, Job, JobState, PollConfig};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let job = Job { provider: "runway", model: "gen4_turbo", noun: "task" };
/// let mut polls = 0;
/// let url = poll::run(
///     &PollConfig::default(),
///     job,
///     || async { Ok("task-1".to_owned()) },
///     |_id: &str| {
///         polls += 1;
///         let n = polls;
///         async move {
///             Ok(if n < 3 {
///                 JobState::Waiting { status: JobStatus::Running, progress: Some(n as f32 / 3.0) }
///             } else {
///                 JobState::Succeeded("https://example.com/video.mp4")
///             })
///         }
///     },
///     None,
/// )
/// .await
/// .unwrap();
/// assert_eq!(url, "https://example.com/video.mp4");
/// # }
/// ```
pub async fn run<T, C, CFut, P, PFut>(
    config: &PollConfig,
    job: Job<'_>,
    create: C,
    mut poll: P,
    progress: Option<&ProgressFn>,
) -> Result<T, ProviderError>
where
    C: FnOnce() -> CFut,
    CFut: Future<Output = Result<String, ProviderError>>,
    P: FnMut(&str) -> PFut,
    PFut: Future<Output = Result<JobState<T>, ProviderError>>,
{
    let start = Instant::now();
    let id = create().await?;
    tracing::debug!(provider = job.provider, model = job.model, job_id = %id, "{} created", job.noun);
    let mut rng = config
        .seed
        .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
    let mut last = Last::default();
    let mut previous = Duration::ZERO;
    let mut failures = 0u32;
    let mut number = 0u32;
    loop {
        let remaining = config.deadline.saturating_sub(start.elapsed());
        if remaining.is_zero() {
            return Err(job.error(
                ErrorKind::Timeout,
                &format!(
                    "{} {id} did not finish within {} ({last})",
                    job.noun,
                    steadfast_errors::serde_duration::format(config.deadline)
                ),
            ));
        }
        let wait = match &last.error_hint {
            Some(hint) => *hint,
            None => config.wait(number, previous, &mut rng),
        };
        previous = wait;
        tokio::time::sleep(wait.min(remaining)).await;
        number = number.saturating_add(1);
        match poll(&id).await {
            Ok(state) => {
                failures = 0;
                last.error_hint = None;
                last.status = Some(state.status());
                last.progress = state.progress().or(last.progress);
                tracing::debug!(
                    provider = job.provider,
                    job_id = %id,
                    poll = number,
                    status = ?state.status(),
                    progress = state.progress(),
                    "{} polled", job.noun
                );
                if let Some(report) = progress {
                    report(&JobProgress {
                        job_id: id.clone(),
                        status: state.status(),
                        progress: state.progress(),
                        elapsed: start.elapsed(),
                    });
                }
                match state {
                    JobState::Waiting { .. } => {}
                    JobState::Succeeded(output) => return Ok(output),
                    JobState::Failed(err) => return Err(err),
                    JobState::Cancelled { reason } => {
                        let reason = reason.map(|r| format!(": {r}")).unwrap_or_default();
                        return Err(job
                            .error(
                                ErrorKind::Cancelled,
                                &format!(
                                    "{} {id} was cancelled on the provider's side{reason}",
                                    job.noun
                                ),
                            )
                            .with_owner(Owner::Provider));
                    }
                }
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                let retry = err.is_retryable() && failures < config.max_poll_failures.max(1);
                tracing::debug!(
                    provider = job.provider,
                    job_id = %id,
                    poll = number,
                    kind = %err.kind(),
                    retry,
                    "{} poll failed", job.noun
                );
                if !retry {
                    return Err(err);
                }
                last.error_hint = err.retry_after().filter(|h| !h.is_zero());
            }
        }
    }
}

/// What the last successful poll said, for the timeout message.
#[derive(Debug, Default)]
struct Last {
    status: Option<JobStatus>,
    progress: Option<f32>,
    error_hint: Option<Duration>,
}

impl fmt::Display for Last {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            None => f.write_str("never polled successfully"),
            Some(status) => {
                let name = serde_json::to_value(status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("{status:?}"));
                write!(f, "last status {name}")?;
                match self.progress {
                    Some(p) => write!(f, ", {:.0}% done", p * 100.0),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_two_to_ten_seconds_with_full_jitter_over_ten_minutes() {
        let c = PollConfig::default();
        assert_eq!(c.interval.initial, Duration::from_secs(2));
        assert_eq!(c.interval.max, Duration::from_secs(10));
        assert_eq!(c.interval.jitter, Jitter::Full);
        assert_eq!(c.deadline, Duration::from_secs(600));
        let mut rng = fastrand::Rng::with_seed(3);
        for n in 0..50 {
            let w = c.wait(n, Duration::ZERO, &mut rng);
            assert!(
                w >= Duration::from_secs(1) && w <= Duration::from_secs(10),
                "{w:?}"
            );
        }
    }

    #[test]
    fn the_timeout_message_names_the_last_status() {
        let last = Last {
            status: Some(JobStatus::Running),
            progress: Some(0.4),
            error_hint: None,
        };
        assert_eq!(last.to_string(), "last status running, 40% done");
        assert_eq!(Last::default().to_string(), "never polled successfully");
    }
}
