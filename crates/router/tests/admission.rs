//! Admission under contention: the concurrency cap, `rpm` and `tpm` hold exactly when many
//! calls reach the same provider at once, however long ago they were planned.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use steadfast_errors::{ErrorKind, Owner, Provider, ProviderError};
use steadfast_providers_core::{
    Capabilities, ChatProvider, ChatRequest, ChatResponse, ChatStream, Message, Usage,
};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{ProviderConfig, RouteOptions, Router, RouterError};
use tokio::sync::Semaphore;

const CALLERS: u32 = 64;

/// A provider that holds every call until the test releases it, and records how many it
/// held at once.
#[derive(Debug)]
struct Held {
    release: Semaphore,
    now: AtomicU32,
    max: AtomicU32,
    entered: AtomicU32,
}

impl Default for Held {
    fn default() -> Self {
        Held {
            release: Semaphore::new(0),
            now: AtomicU32::new(0),
            max: AtomicU32::new(0),
            entered: AtomicU32::new(0),
        }
    }
}

#[derive(Debug)]
struct HeldProvider(Arc<Held>);

#[async_trait]
impl ChatProvider for HeldProvider {
    fn id(&self) -> &str {
        "held"
    }

    fn kind(&self) -> Provider {
        Provider::OpenAi
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let held = &self.0;
        held.entered.fetch_add(1, Ordering::SeqCst);
        let now = held.now.fetch_add(1, Ordering::SeqCst) + 1;
        held.max.fetch_max(now, Ordering::SeqCst);
        held.release
            .acquire()
            .await
            .expect("the semaphore is never closed")
            .forget();
        held.now.fetch_sub(1, Ordering::SeqCst);
        Ok(ChatResponse {
            text: "held".into(),
            usage: Some(Usage {
                input_tokens: 1,
                output_tokens: 1,
                ..Usage::default()
            }),
            ..ChatResponse::default()
        })
    }

    async fn chat_stream(&self, _: &ChatRequest) -> Result<ChatStream, ProviderError> {
        Err(ProviderError::new(
            ErrorKind::InvalidRequest,
            "held",
            "no streams here",
        ))
    }

    async fn health_check(&self) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// One attempt per provider, so calls are counted exactly.
fn pc(priority: i32) -> ProviderConfig {
    let mut c = ProviderConfig {
        priority,
        ..ProviderConfig::default()
    };
    c.entry.retry.max_attempts = 1;
    c
}

/// 64 callers, all planned at the same moment while `held` is idle: each first tries a
/// primary that fails after a second, then falls back to `held`, limited by `limits`.
/// Returns what `held` saw and the callers' results.
async fn contend(limits: ProviderConfig) -> (Arc<Held>, Vec<Result<String, RouterError>>) {
    let failing = Arc::new(ScriptedProvider::new(
        ScriptedConfig {
            id: "primary".into(),
            ..ScriptedConfig::default()
        },
        vec![Outcome::delay(
            Duration::from_secs(1),
            Outcome::Error(ErrorKind::Overloaded),
        )],
    ));
    let held = Arc::new(Held::default());
    let router = Router::builder()
        .provider(failing, pc(1))
        .provider(Arc::new(HeldProvider(Arc::clone(&held))), limits)
        .build();
    let request = ChatRequest::new("model", vec![Message::user("Hello there")]);
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (router, request) = (router.clone(), request.clone());
            tokio::spawn(async move {
                router
                    .chat(&request, RouteOptions::default())
                    .await
                    .map(|r| r.provider)
            })
        })
        .collect();
    // Every caller has failed on the primary and reached `held` (or been turned away).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let entered = held.entered.load(Ordering::SeqCst);
    held.release.add_permits(CALLERS as usize);
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(
        held.entered.load(Ordering::SeqCst),
        entered,
        "no late admissions"
    );
    (held, results)
}

/// The callers `held` answered; every other one was refused locally when its attempt on
/// `held` was about to start (`budget_exceeded`, owner local, after the primary's failure).
fn answered(results: &[Result<String, RouterError>]) -> u32 {
    let mut n = 0;
    for r in results {
        match r {
            Ok(provider) => {
                assert_eq!(provider, "held");
                n += 1;
            }
            Err(RouterError::Failed(e)) => {
                let last = e.last.as_ref().expect("an error");
                assert_eq!(last.kind(), ErrorKind::BudgetExceeded, "{e}");
                assert_eq!(last.owner(), Owner::Local, "{e}");
                assert!(last.to_string().contains("when the attempt started"), "{e}");
            }
            Err(e) => panic!("not refused at admission: {e}"),
        }
    }
    n
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_cap_holds_under_64_callers() {
    let mut limits = pc(2);
    limits.max_concurrency = Some(4);
    let (held, results) = contend(limits).await;
    assert_eq!(
        held.max.load(Ordering::SeqCst),
        4,
        "at most the cap in flight"
    );
    assert_eq!(answered(&results), 4);
}

#[tokio::test(start_paused = true)]
async fn rpm_admits_at_most_its_limit_under_64_callers() {
    let mut limits = pc(2);
    limits.rpm = Some(5);
    let (held, results) = contend(limits).await;
    assert_eq!(
        held.entered.load(Ordering::SeqCst),
        5,
        "admitted in the window"
    );
    assert_eq!(answered(&results), 5);
}

#[tokio::test(start_paused = true)]
async fn tpm_reserves_the_estimate_at_admission() {
    // "Hello there" is estimated at 2 tokens: 6 tokens a minute admit 3 calls at once.
    let mut limits = pc(2);
    limits.tpm = Some(6);
    let (held, results) = contend(limits).await;
    assert_eq!(held.max.load(Ordering::SeqCst), 3);
    assert_eq!(answered(&results), 3);
}

#[tokio::test(start_paused = true)]
async fn a_stream_holds_its_slot_until_it_is_dropped() {
    let mock = |id: &str, text: &str| {
        Arc::new(ScriptedProvider::new(
            ScriptedConfig {
                id: id.into(),
                ..ScriptedConfig::default()
            },
            vec![Outcome::text(text)],
        ))
    };
    let mut capped = pc(1);
    capped.max_concurrency = Some(1);
    let router = Router::builder()
        .provider(mock("a", "one two three"), capped)
        .provider(mock("b", "b"), pc(2))
        .build();
    let request = ChatRequest::new("model", vec![Message::user("Hello there")]);
    let stream = router
        .chat_stream(&request, RouteOptions::default())
        .await
        .unwrap();
    assert_eq!(stream.provider, "a");
    assert_eq!(router.stats().providers[0].in_flight, 1);
    let other = router
        .chat(&request, RouteOptions::default())
        .await
        .unwrap();
    assert_eq!(other.provider, "b", "a's slot is held by the open stream");
    drop(stream);
    assert_eq!(router.stats().providers[0].in_flight, 0);
    let again = router
        .chat(&request, RouteOptions::default())
        .await
        .unwrap();
    assert_eq!(again.provider, "a");
}
