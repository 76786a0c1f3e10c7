//! Planning a call: which providers are candidates for a request, and the order the
//! strategy, the affinity key and `prefer` put them in.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use steadfast_errors::ErrorKind;
use steadfast_fallback::{CallOptions, FallbackChain};
use steadfast_providers_core::ChatRequest;
use tokio::time::Instant;

use crate::error::RouterError;
use crate::estimate::prompt_tokens;
use crate::limits::Limited;
use crate::metered::{ProviderState, Shared};
use crate::options::RouteOptions;
use crate::stats::lock;
use crate::strategy::{Candidate, RouteContext, Strategy};

/// Why a provider is not a candidate (other than limits and budgets).
#[derive(Debug, Clone, Copy)]
enum Skip {
    Disabled,
    Tags,
    Context(u32),
}

/// What a plan is made from: the router's providers and the state that steers them.
pub(crate) struct Planner<'a> {
    pub(crate) chain: &'a FallbackChain,
    /// In priority order, the same order as the chain's entries.
    pub(crate) providers: &'a [Arc<ProviderState>],
    pub(crate) strategy: &'a dyn Strategy,
    pub(crate) shared: &'a Shared,
    /// The provider that last answered the call's affinity key.
    pub(crate) sticky: Option<String>,
    /// When the call started.
    pub(crate) now: Instant,
}

/// A planned call: its options, the request's estimated tokens, and the provider it tries
/// first.
pub(crate) struct Planned<'a> {
    pub(crate) call: CallOptions,
    pub(crate) estimated: u64,
    /// The id of the provider the call tries first.
    pub(crate) first: &'a str,
}

impl<'a> Planner<'a> {
    /// The candidates for `request` and the call options that try them in the strategy's
    /// order, with the request's estimated tokens; or why there are none.
    pub(crate) fn plan(
        self,
        request: &ChatRequest,
        options: &RouteOptions,
    ) -> Result<Planned<'a>, RouterError> {
        let now = self.now;
        if self.shared.budget_spent(now) {
            return Err(RouterError::refused(
                ErrorKind::BudgetExceeded,
                "the router's budget is spent for this window",
            ));
        }
        let prompt = prompt_tokens(request);
        let estimated = prompt.saturating_add(request.max_tokens.map_or(0, u64::from));
        let states = self.chain.states();
        let mut candidates = Vec::with_capacity(self.providers.len());
        let (mut rate, mut budget, mut other) = (0, 0, Vec::new());
        for (i, p) in self.providers.iter().enumerate() {
            let Some((health, breaker)) = states.get(i, p.id()) else {
                continue;
            };
            if !p.enabled.load(Ordering::Relaxed) {
                other.push((p.id(), Skip::Disabled));
                continue;
            }
            if !p.config.tags.is_empty() && !p.config.tags.iter().any(|t| options.tags.contains(t))
            {
                other.push((p.id(), Skip::Tags));
                continue;
            }
            let model = p.model_for(request);
            if let Some(window) = p.context_window(model)
                && estimated > u64::from(window)
            {
                other.push((p.id(), Skip::Context(window)));
                continue;
            }
            match p.limits.limited(now, estimated) {
                Some(Limited::Rate) => rate += 1,
                Some(Limited::Budget) => budget += 1,
                None => {
                    // Priced before the counters are locked: the lookup takes the
                    // provider's catalog cache.
                    let pricing = p.pricing(model);
                    let c = lock(&p.counters);
                    candidates.push(Candidate {
                        id: p.id().to_owned(),
                        priority: p.config.priority,
                        weight: p.config.weight,
                        in_flight: p.limits.in_flight(),
                        latency: c
                            .ewma_ms
                            .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok()),
                        success_rate: c.success_rate(),
                        pricing,
                        health,
                        breaker,
                    });
                }
            }
        }
        drop(states);
        if candidates.is_empty() {
            return Err(if budget > 0 {
                RouterError::refused(
                    ErrorKind::BudgetExceeded,
                    "every eligible provider's budget is spent",
                )
            } else if rate > 0 {
                RouterError::refused(
                    ErrorKind::RateLimited,
                    "every eligible provider is at its rate limit or concurrency cap",
                )
            } else if other.is_empty() {
                RouterError::NoProvider {
                    reason: "the router has no provider".into(),
                }
            } else {
                let reasons: Vec<String> = other
                    .iter()
                    .map(|(id, skip)| match skip {
                        Skip::Disabled => format!("{id} is disabled"),
                        Skip::Tags => format!("{id} takes other tags"),
                        Skip::Context(w) => {
                            format!("{id} has a context window of {w} < {estimated} tokens")
                        }
                    })
                    .collect();
                RouterError::NoProvider {
                    reason: reasons.join(", "),
                }
            });
        }
        let ctx = RouteContext {
            request,
            prompt_tokens: prompt,
            estimated_tokens: estimated,
            tags: &options.tags,
            affinity_key: options.affinity_key.as_deref(),
        };
        // The ids move from the candidates into the order: a candidate whose id moved is
        // marked seen.
        let n = candidates.len();
        let mut seen = vec![false; n];
        let mut order: Vec<String> = Vec::with_capacity(n);
        for i in self.strategy.order(&candidates, &ctx) {
            if i < n && !std::mem::replace(&mut seen[i], true) {
                order.push(std::mem::take(&mut candidates[i].id));
            }
        }
        if order.is_empty() {
            for (i, c) in candidates.iter_mut().enumerate() {
                seen[i] = true;
                order.push(std::mem::take(&mut c.id));
            }
        }
        for first in [self.sticky, options.prefer.clone()].into_iter().flatten() {
            if let Some(pos) = order.iter().position(|id| *id == first) {
                let id = order.remove(pos);
                order.insert(0, id);
            } else if candidates
                .iter()
                .enumerate()
                .any(|(i, c)| !seen[i] && c.id == first)
            {
                order.insert(0, first);
            } else if options.prefer.as_deref() == Some(first.as_str()) && !options.fallback {
                return Err(RouterError::NoProvider {
                    reason: format!(
                        "the preferred provider {first} may not take it, and fallback is off"
                    ),
                });
            }
        }
        // Every id in the order is a candidate's, so one of the providers'.
        let first = self
            .providers
            .iter()
            .map(|p| p.id())
            .find(|id| order.first().is_some_and(|f| f == id))
            .unwrap_or_default();
        let call = CallOptions {
            prefer: None,
            fallback: options.fallback,
            deadline: options.deadline.or(self.chain.config().deadline),
            order: Some(order),
        };
        Ok(Planned {
            call,
            estimated,
            first,
        })
    }
}
