//! Changes to a running router: adding and removing a provider, and swapping the strategy,
//! each keeping everything else as it was.
//!
//! # Design
//!
//! The router's providers and strategy sit in one immutable `Roster` behind an
//! [`ArcSwap`](arc_swap::ArcSwap), and the chain's entries the same way: a call reads each
//! once (an atomic load, no lock) and keeps what it read, a change builds a new roster from
//! the same per-provider state and publishes it. So a change resets nothing: every other
//! provider keeps its breaker, retry budget, health, counters, rate windows, budget spend,
//! latency averages and calls in flight, and the router its totals, budget and affinity.
//! Changes are serialised by a lock of their own, which calls never take.
//!
//! A removed provider is flagged in the chain, so that a call planned before the removal
//! skips it when it gets there ([`AttemptOutcome::SkippedRemoved`]); an attempt already
//! running on it finishes and is counted in the removed provider's own state, which leaves
//! [`stats`](Router::stats) with it. A provider added later under the same id starts from
//! zero, and a call planned before the removal never counts into it.
//!
//! [`AttemptOutcome::SkippedRemoved`]: steadfast_fallback::AttemptOutcome::SkippedRemoved

use std::sync::Arc;

use steadfast_fallback::DuplicateProvider;
use steadfast_providers_core::ChatProvider;

use crate::config::ProviderConfig;
use crate::metered::{Metered, ProviderState};
use crate::router::{Roster, Router};
use crate::stats::lock;
use crate::strategy::{Strategy, StrategyKind};

impl Router {
    /// Adds `provider` with `config` at run time, in its place in the priority order (after
    /// the providers of the same priority). It is a candidate from the next call on, with a
    /// fresh breaker, health, counters and limits; every other provider keeps its own (see
    /// [Changes at run time](Router#changes-at-run-time)). With shared state, its windows,
    /// budget and breaker are shared from the next refresh on.
    ///
    /// Refused when the router already has a provider with this id.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use steadfast_providers_core::{ChatRequest, Message};
    /// use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
    /// use steadfast_router::{ProviderConfig, RouteOptions, Router};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let mock = |id: &str| {
    ///     let config = ScriptedConfig { id: id.into(), ..ScriptedConfig::default() };
    ///     Arc::new(ScriptedProvider::new(config, [Outcome::text("hi")]))
    /// };
    /// let router = Router::builder().provider(mock("a"), ProviderConfig::default()).build();
    /// let first = ProviderConfig { priority: -1, ..ProviderConfig::default() };
    /// router.add_provider(mock("b"), first.clone()).unwrap();
    /// assert!(router.add_provider(mock("b"), first).is_err()); // the id is taken
    ///
    /// let request = ChatRequest::new("m", vec![Message::user("hello")]);
    /// let answer = router.chat(&request, RouteOptions::default()).await.unwrap();
    /// assert_eq!(answer.provider, "b");
    /// # }
    /// ```
    pub fn add_provider(
        &self,
        provider: Arc<dyn ChatProvider>,
        config: ProviderConfig,
    ) -> Result<(), DuplicateProvider> {
        let inner = &self.inner;
        let _one = lock(&inner.change);
        let roster = inner.roster.load_full();
        if roster.provider(provider.id()).is_some() {
            return Err(DuplicateProvider::new(provider.id()));
        }
        let state = Arc::new(ProviderState::new(provider, config, inner.latency_samples));
        let index = roster
            .providers
            .iter()
            .position(|p| p.config.priority > state.config.priority)
            .unwrap_or(roster.providers.len());
        let metered = Metered {
            state: Arc::clone(&state),
            shared: Arc::clone(&inner.shared),
        };
        inner
            .chain
            .insert(index, Arc::new(metered), state.config.chain_entry())?;
        if let Some(link) = &inner.shared.link {
            link.follow(Arc::clone(&state), inner.chain.breaker(state.id()));
        }
        let mut providers = roster.providers.clone();
        providers.insert(index, state);
        inner.roster.store(Arc::new(Roster::new(
            providers,
            Arc::clone(&roster.strategy),
        )));
        Ok(())
    }

    /// Removes the provider with this id at run time; `false` when there is none. No call
    /// tries it again, not even one planned before the removal that has not reached it; an
    /// attempt already running on it finishes, and its outcome is counted in the removed
    /// provider's own statistics, which leave [`stats`](Self::stats) with it (see
    /// [Changes at run time](Router#changes-at-run-time)). Every other provider keeps its
    /// state.
    pub fn remove_provider(&self, id: &str) -> bool {
        let inner = &self.inner;
        let _one = lock(&inner.change);
        let roster = inner.roster.load_full();
        if roster.provider(id).is_none() {
            return false;
        }
        let providers = roster
            .providers
            .iter()
            .filter(|p| p.id() != id)
            .cloned()
            .collect();
        inner.roster.store(Arc::new(Roster::new(
            providers,
            Arc::clone(&roster.strategy),
        )));
        inner.chain.remove(id);
        if let Some(link) = &inner.shared.link {
            link.unfollow(id);
        }
        true
    }

    /// Routes with `strategy` from the next call on; every provider keeps its state, and
    /// [`stats`](Self::stats) names the new strategy. A call already planned keeps the order
    /// it was given.
    pub fn set_strategy(&self, strategy: Arc<dyn Strategy>) {
        let inner = &self.inner;
        let _one = lock(&inner.change);
        let roster = inner.roster.load_full();
        inner
            .roster
            .store(Arc::new(Roster::new(roster.providers.clone(), strategy)));
    }

    /// Routes with the built-in strategy `kind` (seeded with [`RouterConfig::seed`]) from
    /// the next call on, as [`set_strategy`](Self::set_strategy) does.
    ///
    /// [`RouterConfig::seed`]: crate::RouterConfig::seed
    pub fn set_strategy_kind(&self, kind: StrategyKind) {
        self.set_strategy(kind.build(self.inner.seed));
    }
}
