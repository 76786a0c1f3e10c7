//! The polling loop on a paused clock, with scripted poll functions instead of HTTP.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{JobProgress, JobStatus, ProgressFn};
use steadfast_providers_media::poll::{self, Job, JobState, PollConfig};
use steadfast_retry::{Backoff, Jitter};
use tokio::time::Instant;

const JOB: Job<'static> = Job {
    provider: "runway-test",
    model: "gen4_turbo",
    noun: "task",
};

type Step = Result<JobState<&'static str>, ProviderError>;

/// Runs `poll::run` with a scripted sequence of poll results (the last one repeats), and
/// returns the result, the instants (from the start) of every poll, and the progress reports.
async fn script(
    config: &PollConfig,
    steps: Vec<fn() -> Step>,
) -> (
    Result<&'static str, ProviderError>,
    Vec<Duration>,
    Vec<JobProgress>,
) {
    let start = Instant::now();
    let times = Arc::new(Mutex::new(Vec::new()));
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    let progress: ProgressFn =
        Arc::new(move |p: &JobProgress| sink.lock().unwrap().push(p.clone()));
    let mut steps: VecDeque<fn() -> Step> = steps.into();
    let result = poll::run(
        config,
        JOB,
        || async { Ok("task-42".to_owned()) },
        |id: &str| {
            assert_eq!(id, "task-42");
            times.lock().unwrap().push(start.elapsed());
            let step = if steps.len() > 1 {
                steps.pop_front().unwrap()
            } else {
                steps[0]
            };
            async move { step() }
        },
        Some(&progress),
    )
    .await;
    let times = times.lock().unwrap().clone();
    let reports = reports.lock().unwrap().clone();
    (result, times, reports)
}

fn running() -> Step {
    Ok(JobState::Waiting {
        status: JobStatus::Running,
        progress: Some(0.25),
    })
}

fn pending() -> Step {
    Ok(JobState::waiting(JobStatus::Pending))
}

fn queued() -> Step {
    Ok(JobState::waiting(JobStatus::Queued))
}

fn done() -> Step {
    Ok(JobState::Succeeded("https://example.com/v.mp4"))
}

fn rate_limited() -> Step {
    Err(
        ProviderError::new(ErrorKind::RateLimited, "runway-test", "slow down")
            .with_status(429)
            .with_retry_after(Duration::from_secs(7)),
    )
}

fn bad_gateway() -> Step {
    Err(ProviderError::new(ErrorKind::Server, "runway-test", "bad gateway").with_status(502))
}

fn unauthorized() -> Step {
    Err(ProviderError::new(ErrorKind::Auth, "runway-test", "Invalid API key").with_status(401))
}

fn failed_internal() -> Step {
    Ok(JobState::Failed(
        ProviderError::new(
            ErrorKind::Server,
            "runway-test",
            "An unexpected error occurred.",
        )
        .with_code("INTERNAL.BAD_OUTPUT.CODE01"),
    ))
}

fn cancelled() -> Step {
    Ok(JobState::Cancelled { reason: None })
}

#[tokio::test(start_paused = true)]
async fn waits_stay_within_the_backoff_bounds_and_grow_to_the_cap() {
    for seed in 0..20 {
        let config = PollConfig {
            seed: Some(seed),
            ..PollConfig::default()
        };
        let mut steps: Vec<fn() -> Step> = vec![running; 12];
        steps.push(done);
        let (result, times, _) = script(&config, steps).await;
        assert_eq!(result.unwrap(), "https://example.com/v.mp4");
        assert_eq!(times.len(), 13);
        let mut previous = Duration::ZERO;
        for (n, &t) in times.iter().enumerate() {
            let gap = t - previous;
            previous = t;
            // Full jitter under base(n) = min(2 s × 2^n, 10 s), floored at 1 s.
            let base = Duration::from_secs(2u64.saturating_mul(1 << n.min(10)).min(10));
            assert!(
                gap >= Duration::from_secs(1),
                "seed {seed} poll {n}: {gap:?} under the floor"
            );
            assert!(
                gap <= base,
                "seed {seed} poll {n}: {gap:?} over the base {base:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn without_jitter_the_waits_are_exactly_the_exponential_sequence() {
    let config = PollConfig {
        interval: Backoff {
            jitter: Jitter::None,
            ..PollConfig::default().interval
        },
        ..PollConfig::default()
    };
    let (_, times, _) = script(
        &config,
        vec![pending, pending, pending, pending, pending, done],
    )
    .await;
    let secs: Vec<u64> = times.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [2, 6, 14, 24, 34, 44], "2, 4, 8, 10, 10, 10 s apart");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_the_wait_with_a_timeout_naming_the_job() {
    let config = PollConfig {
        deadline: Duration::from_secs(60),
        seed: Some(1),
        ..PollConfig::default()
    };
    let start = Instant::now();
    let (result, times, reports) = script(&config, vec![queued, running]).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_retryable());
    assert_eq!(
        (err.provider(), err.model()),
        ("runway-test", Some("gen4_turbo"))
    );
    assert!(
        err.message()
            .contains("task task-42 did not finish within 60s (last status running, 25% done)"),
        "{err}"
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(60),
        "no wait runs past the deadline"
    );
    assert_eq!(
        *times.last().unwrap(),
        Duration::from_secs(60),
        "the last poll is at the deadline"
    );
    assert_eq!(reports.len(), times.len(), "one progress report per poll");
    assert_eq!(reports[0].status, JobStatus::Queued);
    assert!(reports[1..].iter().all(|r| r.status == JobStatus::Running));
    assert_eq!(reports.last().unwrap().elapsed, Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_throttled_job_is_waiting_not_failing() {
    let config = PollConfig::fixed(Duration::from_secs(5), Duration::from_secs(600));
    let (result, _, reports) = script(&config, vec![queued, queued, queued, running, done]).await;
    assert!(result.is_ok());
    let statuses: Vec<JobStatus> = reports.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            JobStatus::Queued,
            JobStatus::Queued,
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Succeeded
        ]
    );
    assert_eq!(reports[3].progress, Some(0.25));
    assert_eq!(reports[4].progress, Some(1.0));
    assert_eq!(reports[4].elapsed, Duration::from_secs(25));
}

#[tokio::test(start_paused = true)]
async fn retryable_poll_failures_are_polled_again_after_their_hint() {
    let config = PollConfig::fixed(Duration::from_secs(2), Duration::from_secs(600));
    let (result, times, reports) =
        script(&config, vec![rate_limited, bad_gateway, running, done]).await;
    assert!(result.is_ok());
    let secs: Vec<u64> = times.iter().map(Duration::as_secs).collect();
    // 2 s, then the 429's Retry-After (7 s), then the backoff again after the 502.
    assert_eq!(secs, [2, 9, 11, 13]);
    assert_eq!(reports.len(), 2, "failed polls report no status");
}

#[tokio::test(start_paused = true)]
async fn a_hint_longer_than_the_time_left_is_cut_to_the_deadline() {
    let config = PollConfig::fixed(Duration::from_secs(2), Duration::from_secs(5));
    let (result, times, _) = script(&config, vec![rate_limited, running]).await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Timeout);
    let secs: Vec<u64> = times.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [2, 5]);
}

#[tokio::test(start_paused = true)]
async fn too_many_failed_polls_in_a_row_end_the_wait_with_the_last_error() {
    let config = PollConfig {
        max_poll_failures: 3,
        ..PollConfig::fixed(Duration::from_secs(1), Duration::from_secs(600))
    };
    let (result, times, _) = script(&config, vec![bad_gateway]).await;
    let err = result.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Server, Some(502)));
    assert_eq!(times.len(), 3);
    // A success in between resets the count.
    let (result, times, _) = script(
        &config,
        vec![
            bad_gateway,
            bad_gateway,
            running,
            bad_gateway,
            bad_gateway,
            done,
        ],
    )
    .await;
    assert!(result.is_ok());
    assert_eq!(times.len(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_poll_failure_ends_the_wait_at_once() {
    let config = PollConfig::fixed(Duration::from_secs(1), Duration::from_secs(600));
    let (result, times, _) = script(&config, vec![running, unauthorized, done]).await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Auth);
    assert_eq!(times.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_job_is_not_polled_again_even_when_its_kind_is_retryable() {
    let config = PollConfig::fixed(Duration::from_secs(1), Duration::from_secs(600));
    let (result, times, reports) = script(&config, vec![running, failed_internal, done]).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(err.is_retryable(), "the caller may create a new job");
    assert_eq!(times.len(), 2);
    assert_eq!(reports.last().unwrap().status, JobStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_job_ends_the_wait_at_once() {
    let config = PollConfig::fixed(Duration::from_secs(1), Duration::from_secs(600));
    let (result, times, reports) = script(&config, vec![running, cancelled, done]).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(!err.is_retryable());
    assert_eq!(err.owner(), steadfast_errors::Owner::Provider);
    assert!(
        err.message().contains("task task-42 was cancelled"),
        "{err}"
    );
    assert_eq!(times.len(), 2);
    assert_eq!(reports.last().unwrap().status, JobStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn a_failed_create_is_returned_without_polling() {
    let start = Instant::now();
    let result: Result<(), ProviderError> = poll::run(
        &PollConfig::default(),
        JOB,
        || async {
            Err(ProviderError::new(
                ErrorKind::Auth,
                "runway-test",
                "Invalid API key",
            ))
        },
        |_id: &str| async { panic!("polled after a failed create") },
        None,
    )
    .await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Auth);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[test]
fn the_config_round_trips_through_serde() {
    let config = PollConfig {
        seed: Some(9),
        ..PollConfig::default()
    };
    let text = serde_json::to_string(&config).unwrap();
    assert!(text.contains(r#""deadline":"600s""#), "{text}");
    let back: PollConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back, config);
    assert!(
        serde_json::from_str::<PollConfig>(r#"{"deadlne": 5}"#).is_err(),
        "typos are refused"
    );
}
