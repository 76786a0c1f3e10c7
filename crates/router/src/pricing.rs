//! What an attempt costs and how large a model's context window is, in one order: the
//! provider's config ([`ProviderConfig::pricing`], [`EntryConfig::context_window`]), then
//! the provider itself ([`ChatProvider::cost`], its [`ModelInfo`]), then the built-in model
//! catalog ([`steadfast_catalog`], looked up by the provider's [`kind`](ChatProvider::kind)
//! and the model id). A model none of them prices is billed 0, with one warning per
//! (provider, model) for the life of the process.
//!
//! [`EntryConfig::context_window`]: steadfast_fallback::EntryConfig::context_window
//! [`ModelInfo`]: steadfast_providers_core::ModelInfo

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, PoisonError, RwLock};

use steadfast_providers_core::{ChatProvider, ModelInfo, Pricing, Usage};

use crate::config::ProviderConfig;

/// The most distinct (provider, model) pairs remembered as warned; past it no more warnings
/// are logged, so a stream of made-up model names cannot grow memory without bound.
const MAX_WARNED: usize = 1024;

/// The models warned of, by provider: looked up by borrowed names, so a call to a model
/// already warned of takes a shared read lock and allocates nothing.
static WARNED: LazyLock<RwLock<Warned>> = LazyLock::new(RwLock::default);

#[derive(Default)]
struct Warned {
    by_provider: HashMap<String, HashSet<String>>,
    count: usize,
}

/// The prices of `model` (for the cheapest strategy), when known.
pub(crate) fn pricing(
    config: &ProviderConfig,
    provider: &dyn ChatProvider,
    model: &str,
) -> Option<Pricing> {
    config
        .pricing
        .or_else(|| provider.pricing(model))
        .or_else(|| steadfast_catalog::pricing(provider.kind(), model))
}

/// The cost of `usage` on `model` in USD, when known.
pub(crate) fn known_cost(
    config: &ProviderConfig,
    provider: &dyn ChatProvider,
    model: &str,
    usage: &Usage,
) -> Option<f64> {
    match config.pricing {
        Some(p) => Some(p.cost(usage)),
        None => provider
            .cost(model, usage)
            .or_else(|| steadfast_catalog::cost(provider.kind(), model, usage)),
    }
}

/// The cost of `usage` on `model` in USD as billed: 0 (and a warning, once) when unknown.
pub(crate) fn cost(
    config: &ProviderConfig,
    provider: &dyn ChatProvider,
    model: &str,
    usage: &Usage,
) -> f64 {
    known_cost(config, provider, model, usage).unwrap_or_else(|| {
        warn_unpriced(provider.id(), model);
        0.0
    })
}

/// The context window of `model`, when known.
pub(crate) fn context_window(
    config: &ProviderConfig,
    provider: &dyn ChatProvider,
    model: &str,
) -> Option<u32> {
    config
        .entry
        .context_window
        .or_else(|| ModelInfo::find(provider.models(), model).and_then(|m| m.context_window))
        .or_else(|| steadfast_catalog::context_window(provider.kind(), model))
}

/// Logs, once per (`provider`, `model`), that `model` has no known price and is billed at 0.
fn warn_unpriced(provider: &str, model: &str) {
    let seen = |w: &Warned| {
        w.count >= MAX_WARNED
            || w.by_provider
                .get(provider)
                .is_some_and(|m| m.contains(model))
    };
    if seen(&WARNED.read().unwrap_or_else(PoisonError::into_inner)) {
        return;
    }
    let mut warned = WARNED.write().unwrap_or_else(PoisonError::into_inner);
    if seen(&warned) {
        return;
    }
    warned
        .by_provider
        .entry(provider.to_owned())
        .or_default()
        .insert(model.to_owned());
    warned.count += 1;
    drop(warned);
    tracing::warn!(
        provider,
        model,
        "no price known for this model (no `pricing` in its config, none from the provider, \
         not in the model catalog): its usage is billed at 0"
    );
}
