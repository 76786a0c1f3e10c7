//! `FallbackChain` and its `ChainBuilder`: providers in priority order, each with its own
//! retry policy, circuit breaker and health, added and removed at run time. The façade: the
//! call loop, the stream and the per-call types live in modules of their own.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use steadfast_circuit::{CircuitBreaker, State};
use steadfast_errors::observe::{Observer, Observers};
use steadfast_providers_core::{ChatProvider, ChatRequest, ChatResponse};

use crate::attempt::ChatOp;
use crate::call::drive;
use crate::config::{ChainConfig, EntryConfig};
use crate::constraints::Constraints;
use crate::entry::{Entry, Inner};
use crate::error::FallbackError;
use crate::health::{Health, ProviderStatus};
use crate::options::{Answered, CallOptions};
use crate::plan::Plan;
use crate::stream::{FallbackStream, OpenOp};

/// Providers tried in order, each behind its own retry policy and circuit breaker; see the
/// [crate docs](crate) for the rules.
///
/// Cheap to clone (an [`Arc`]); clones share breakers, retry budgets, health and the enabled
/// flags, so one chain serves every task of a service.
///
/// # Changes at run time
///
/// [`add`](Self::add), [`insert`](Self::insert) and [`remove`](Self::remove) change the
/// providers while calls run, and keep every other provider's breaker, retry budget, health
/// and enabled flag as they were. Each call reads the providers once, when it starts (one
/// atomic load, no lock): a provider added later is tried from the next call on; a
/// provider removed is skipped (as [`AttemptOutcome::SkippedRemoved`](crate::AttemptOutcome))
/// by every call that has not reached it yet, even one that started before the removal,
/// and an attempt already running on it finishes (its retries included) and reports as
/// usual. A provider added again under a removed one's id starts afresh: nothing of the
/// old one's state carries over.
///
/// ```
/// use std::sync::Arc;
/// use steadfast_errors::ErrorKind;
/// use steadfast_fallback::{EntryConfig, FallbackChain, Health};
/// use steadfast_providers_core::{ChatRequest, Message};
/// use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let config = |id: &str| ScriptedConfig { id: id.into(), ..ScriptedConfig::default() };
/// let chain = FallbackChain::builder()
///     .provider(Arc::new(ScriptedProvider::new(config("a"), [Outcome::Error(ErrorKind::Auth)])), EntryConfig::default())
///     .provider(Arc::new(ScriptedProvider::new(config("b"), [Outcome::text("hi")])), EntryConfig::default())
///     .build();
/// let request = ChatRequest::new("m", vec![Message::user("Hello")]);
/// for _ in 0..2 {
///     assert_eq!(chain.chat(&request).await.unwrap().provider, "b");
/// }
/// let status = chain.status();
/// assert_eq!(status[0].health, Health::Degraded); // two bad keys in a row
/// assert!(chain.set_enabled("a", false));
/// assert_eq!(chain.chat(&request).await.unwrap().attempts.len(), 2); // skipped, then b
/// # }
/// ```
#[derive(Clone)]
pub struct FallbackChain {
    inner: Arc<Roster>,
}

/// The chain's current providers, and what a new one is built with.
struct Roster {
    /// The snapshot calls start from.
    current: ArcSwap<Inner>,
    /// Serialises changes, so that two at once cannot lose one another.
    change: Mutex<()>,
    /// The chain's configuration (each snapshot holds a copy).
    config: ChainConfig,
    /// Every observer, as one, for the breakers and retry policies of new entries.
    all: Option<Arc<dyn Observer>>,
}

impl Roster {
    /// Publishes a copy of the current snapshot with its entries changed by `edit`, unless
    /// `edit` refuses.
    fn change<E>(&self, edit: impl FnOnce(&mut Vec<Arc<Entry>>) -> Result<(), E>) -> Result<(), E> {
        let _one = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        let now = self.current.load();
        let mut entries = now.entries.clone();
        edit(&mut entries)?;
        self.current.store(Arc::new(Inner {
            entries,
            config: now.config.clone(),
            observers: now.observers.clone(),
        }));
        Ok(())
    }
}

/// The chain's providers as one snapshot holds them, for reading each one's health and
/// breaker state without copying (see [`FallbackChain::states`]). Hold it briefly: it keeps
/// that snapshot alive.
pub struct ChainStates {
    inner: arc_swap::Guard<Arc<Inner>>,
}

impl ChainStates {
    /// The health and breaker state of the provider with this id, which sits at `index` of
    /// the priority order unless the chain changed meanwhile; `None` when the chain holds
    /// no provider with this id.
    pub fn get(&self, index: usize, id: &str) -> Option<(Health, State)> {
        let entries = &self.inner.entries;
        let e = entries
            .get(index)
            .filter(|e| e.id() == id)
            .or_else(|| entries.iter().find(|e| e.id() == id))?;
        Some((e.health.health(), e.breaker.state()))
    }
}

impl fmt::Debug for ChainStates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainStates")
            .field("providers", &self.inner.entries.len())
            .finish()
    }
}

/// A provider could not be added: the chain already has one with this id (ids name
/// providers in options, status and breakers, so they must stay unique).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the chain already has a provider with id `{id}`")]
pub struct DuplicateProvider {
    id: String,
}

impl DuplicateProvider {
    /// A refusal of `id`.
    pub fn new(id: impl Into<String>) -> Self {
        DuplicateProvider { id: id.into() }
    }

    /// The id that is taken.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Builds a [`FallbackChain`]; providers are added in priority order.
#[derive(Debug, Default)]
pub struct ChainBuilder {
    entries: Vec<(Arc<dyn ChatProvider>, EntryConfig)>,
    config: ChainConfig,
    observers: Observers,
}

impl fmt::Debug for FallbackChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Providers<'a>(&'a [Arc<Entry>]);
        impl fmt::Debug for Providers<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.iter().map(|e| {
                        (
                            e.id(),
                            e.enabled.load(Ordering::Relaxed),
                            e.breaker.state(),
                            e.health.health(),
                        )
                    }))
                    .finish()
            }
        }
        let inner = self.inner.current.load();
        f.debug_struct("FallbackChain")
            .field("providers", &Providers(&inner.entries))
            .field("config", &self.inner.config)
            .finish()
    }
}

impl FallbackChain {
    /// A builder with no providers and the default [`ChainConfig`].
    pub fn builder() -> ChainBuilder {
        ChainBuilder::default()
    }

    /// Answers `request` whole, with the default [`CallOptions`].
    pub async fn chat(
        &self,
        request: &ChatRequest,
    ) -> Result<Answered<ChatResponse>, FallbackError> {
        self.chat_with(request, CallOptions::default()).await
    }

    /// Answers `request` whole: each eligible provider in turn, under its retry policy and
    /// breaker, until one answers or the rules say stop.
    pub async fn chat_with(
        &self,
        request: &ChatRequest,
        options: CallOptions,
    ) -> Result<Answered<ChatResponse>, FallbackError> {
        let inner = self.inner.current.load_full();
        let plan = Plan::new(&inner, &options);
        let mut constraints = Constraints::default();
        let won = drive(&inner, request, &plan, &mut constraints, &ChatOp).await?;
        let entry = &inner.entries[won.entry];
        won.permit.success();
        entry.health.success();
        Ok(Answered {
            value: won.value,
            provider: entry.id().to_owned(),
            model: won.model,
            attempts: won.attempts,
        })
    }

    /// Answers `request` as a stream, with the default [`CallOptions`].
    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
    ) -> Result<FallbackStream, FallbackError> {
        self.chat_stream_with(request, CallOptions::default()).await
    }

    /// Answers `request` as a stream.
    ///
    /// Returns once a provider's stream has produced its first token (text, reasoning, a
    /// refusal, a tool call, or the end of an empty answer): until then a failure is an
    /// ordinary failed attempt, retried and fallen back from exactly as in
    /// [`chat_with`](Self::chat_with). After it, interruptions are resumed — on the same
    /// provider first, then on the next eligible one — and every token reaches the consumer
    /// once. See [`FallbackStream`].
    pub async fn chat_stream_with(
        &self,
        request: &ChatRequest,
        options: CallOptions,
    ) -> Result<FallbackStream, FallbackError> {
        let inner = self.inner.current.load_full();
        let plan = Plan::new(&inner, &options);
        let mut constraints = Constraints::default();
        let won = drive(&inner, request, &plan, &mut constraints, &OpenOp).await?;
        Ok(FallbackStream::start(
            inner,
            request.clone(),
            plan,
            constraints,
            won,
        ))
    }

    /// Every provider's state, in priority order.
    pub fn status(&self) -> Vec<ProviderStatus> {
        self.inner
            .current
            .load()
            .entries
            .iter()
            .map(|e| ProviderStatus {
                id: e.id().to_owned(),
                model: e.config.model.clone(),
                enabled: e.enabled.load(Ordering::Relaxed),
                health: e.health.health(),
                breaker: e.breaker.state(),
                successes: e.health.successes(),
                failures: e.health.failures(),
                error_score: e.health.score(),
                consecutive_failures: e.health.consecutive(),
            })
            .collect()
    }

    /// The providers' health and breaker states, read in place on demand: what a router
    /// asks of each provider on every call, without building the whole
    /// [`status`](Self::status).
    pub fn states(&self) -> ChainStates {
        ChainStates {
            inner: self.inner.current.load(),
        }
    }

    /// Enables or disables every provider with this id, at run time; `false` when there is
    /// none. Calls in flight are not interrupted.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> bool {
        let mut found = false;
        for e in self
            .inner
            .current
            .load()
            .entries
            .iter()
            .filter(|e| e.id() == id)
        {
            e.enabled.store(enabled, Ordering::Relaxed);
            found = true;
        }
        found
    }

    /// The circuit breaker of the first provider with this id (to observe its transitions or
    /// reset it).
    pub fn breaker(&self, id: &str) -> Option<CircuitBreaker> {
        self.inner
            .current
            .load()
            .entries
            .iter()
            .find(|e| e.id() == id)
            .map(|e| e.breaker.clone())
    }

    /// The chain's configuration.
    pub fn config(&self) -> &ChainConfig {
        &self.inner.config
    }

    /// How many providers the chain holds.
    pub fn len(&self) -> usize {
        self.inner.current.load().entries.len()
    }

    /// Whether the chain holds no provider (every call then fails with
    /// [`StopReason::NoEligibleProvider`](crate::StopReason::NoEligibleProvider)).
    pub fn is_empty(&self) -> bool {
        self.inner.current.load().entries.is_empty()
    }

    /// Adds `provider` after every provider the chain holds, at run time, with a fresh
    /// retry policy, breaker and health; the others keep theirs (see [Changes at run
    /// time](Self#changes-at-run-time)). Refused when the chain already has a provider with
    /// its id.
    pub fn add(
        &self,
        provider: Arc<dyn ChatProvider>,
        entry: EntryConfig,
    ) -> Result<(), DuplicateProvider> {
        self.insert(usize::MAX, provider, entry)
    }

    /// Adds `provider` at position `index` of the priority order (after every provider
    /// when `index` is past the end), at run time, as [`add`](Self::add) does.
    pub fn insert(
        &self,
        index: usize,
        provider: Arc<dyn ChatProvider>,
        entry: EntryConfig,
    ) -> Result<(), DuplicateProvider> {
        self.inner.change(|entries| {
            if entries.iter().any(|e| e.id() == provider.id()) {
                return Err(DuplicateProvider::new(provider.id()));
            }
            let entry = Entry::new(provider, entry, self.inner.all.as_ref());
            entries.insert(index.min(entries.len()), Arc::new(entry));
            Ok(())
        })
    }

    /// Removes every provider with this id at run time; `false` when there is none. No
    /// call tries it again, not even one already running that has not reached it yet; an
    /// attempt already under way on it finishes (see [Changes at run
    /// time](Self#changes-at-run-time)).
    pub fn remove(&self, id: &str) -> bool {
        self.inner
            .change(|entries| {
                let before = entries.len();
                entries.retain(|e| {
                    let keep = e.id() != id;
                    if !keep {
                        e.removed.store(true, Ordering::Release);
                    }
                    keep
                });
                if entries.len() == before {
                    Err(())
                } else {
                    Ok(())
                }
            })
            .is_ok()
    }
}

impl ChainBuilder {
    /// Adds `provider` after those already added, configured by `entry`.
    #[must_use]
    pub fn provider(mut self, provider: Arc<dyn ChatProvider>, entry: EntryConfig) -> Self {
        self.entries.push((provider, entry));
        self
    }

    /// Sets the chain's configuration.
    #[must_use]
    pub fn config(mut self, config: ChainConfig) -> Self {
        self.config = config;
        self
    }

    /// Adds an observer, told of every attempt, retry, breaker transition, fallback, resume
    /// and breaker refusal of every call (see [`steadfast_errors::observe::Event`]); breakers
    /// and retry policies are named after their provider's id. Several may be added.
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Builds the chain: one retry policy (with its budget) and one circuit breaker per
    /// entry, shared by every call. Invalid breaker settings are repaired as
    /// [`steadfast_circuit::Config::clamped`] describes.
    pub fn build(self) -> FallbackChain {
        let observers = self.observers;
        let all: Option<Arc<dyn Observer>> =
            (!observers.is_empty()).then(|| Arc::new(observers.clone()) as Arc<dyn Observer>);
        let entries = self
            .entries
            .into_iter()
            .map(|(provider, config)| Arc::new(Entry::new(provider, config, all.as_ref())))
            .collect();
        FallbackChain {
            inner: Arc::new(Roster {
                current: ArcSwap::from_pointee(Inner {
                    entries,
                    config: self.config.clone(),
                    observers,
                }),
                change: Mutex::new(()),
                config: self.config,
                all,
            }),
        }
    }
}
