//! The policy reports each retry it decides on to its observers, named.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_errors::ErrorKind;
use steadfast_errors::observe::{Event, Observer};
use steadfast_retry::{Backoff, Jitter, RetryConfig, RetryPolicy};

/// One retry as reported: operation, attempt, kind, delay.
type Retry = (String, u32, Option<ErrorKind>, Duration);

#[derive(Default)]
struct Seen(Mutex<Vec<Retry>>);

impl Observer for Seen {
    fn on_event(&self, event: &Event<'_>) {
        if let Event::Retry {
            operation,
            attempt,
            kind,
            delay,
        } = event
        {
            let entry = ((*operation).to_owned(), *attempt, *kind, *delay);
            self.0.lock().unwrap().push(entry);
        }
    }
}

fn config() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        backoff: Backoff {
            initial: Duration::from_millis(100),
            multiplier: 2.0,
            max: Duration::from_secs(10),
            jitter: Jitter::None,
        },
        budget: None,
        ..RetryConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn each_retry_is_reported_with_its_delay_and_the_last_failure_is_not() {
    let seen = Arc::new(Seen::default());
    let policy = RetryPolicy::new(config()).observe("primary", seen.clone());
    let outcome = policy
        .run(|_| async { Err::<(), _>(ErrorKind::Overloaded) })
        .await;
    assert_eq!(outcome.attempts.len(), 3);
    let o = Some(ErrorKind::Overloaded);
    assert_eq!(
        *seen.0.lock().unwrap(),
        [
            ("primary".to_owned(), 1, o, Duration::from_millis(100)),
            ("primary".to_owned(), 2, o, Duration::from_millis(200)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn with_config_keeps_the_observers() {
    let seen = Arc::new(Seen::default());
    let policy = RetryPolicy::new(config()).observe("p", seen.clone());
    let bounded = policy.with_config(RetryConfig {
        max_attempts: 2,
        ..config()
    });
    bounded
        .run(|_| async { Err::<(), _>(ErrorKind::Server) })
        .await;
    assert_eq!(seen.0.lock().unwrap().len(), 1);
}
