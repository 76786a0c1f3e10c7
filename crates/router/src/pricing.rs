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
use std::sync::{LazyLock, Mutex, PoisonError, RwLock};

use steadfast_catalog::Resolved;
use steadfast_providers_core::{ChatProvider, ModelInfo, Pricing, Usage};

use crate::config::ProviderConfig;
use crate::stats::lock;

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

/// One provider's catalog row for the last model it was asked about, so that the catalog
/// (a scan of every row) is read once per (provider, model) rather than several times per
/// call. The catalog is static: a row found once stays the answer.
#[derive(Debug, Default)]
pub(crate) struct CatalogCache {
    last: Mutex<Option<Cached>>,
}

/// A provider's last model, what the catalog says of it, and whether its missing price
/// was already warned of (see [`warn_unpriced`]).
#[derive(Debug)]
struct Cached {
    model: Box<str>,
    found: Resolved,
    warned: bool,
}

impl CatalogCache {
    /// `f` of what the catalog says of `model` on `provider`, looked up when it is not the
    /// model last asked about.
    fn with<R>(
        &self,
        provider: &dyn ChatProvider,
        model: &str,
        f: impl FnOnce(&mut Cached) -> R,
    ) -> R {
        let mut last = lock(&self.last);
        let cached = match &mut *last {
            Some(c) if *c.model == *model => c,
            slot => slot.insert(Cached {
                model: model.into(),
                found: steadfast_catalog::resolve(provider.kind(), model),
                warned: false,
            }),
        };
        f(cached)
    }
}

/// The prices of `model` (for the cheapest strategy), when known.
pub(crate) fn pricing(
    config: &ProviderConfig,
    provider: &dyn ChatProvider,
    catalog: &CatalogCache,
    model: &str,
) -> Option<Pricing> {
    config
        .pricing
        .or_else(|| provider.pricing(model))
        .or_else(|| catalog.with(provider, model, |c| c.found.pricing()))
}

/// The cost of `usage` on `model` in USD, when known.
pub(crate) fn known_cost(
    config: &ProviderConfig,
    provider: &dyn ChatProvider,
    catalog: &CatalogCache,
    model: &str,
    usage: &Usage,
) -> Option<f64> {
    priced(config, provider, catalog, model, usage, |_| {})
}

/// The cost of `usage` on `model` in USD as billed: 0 (and a warning, once) when unknown.
pub(crate) fn cost(
    config: &ProviderConfig,
    provider: &dyn ChatProvider,
    catalog: &CatalogCache,
    model: &str,
    usage: &Usage,
) -> f64 {
    let warn = |c: &mut Cached| {
        if !c.warned {
            warn_unpriced(provider.id(), model);
            c.warned = true;
        }
    };
    priced(config, provider, catalog, model, usage, warn).unwrap_or(0.0)
}

/// The cost from the config's pricing, else the provider's, else the catalog's; `unknown`
/// sees the catalog's entry when none of them knows it.
fn priced(
    config: &ProviderConfig,
    provider: &dyn ChatProvider,
    catalog: &CatalogCache,
    model: &str,
    usage: &Usage,
    unknown: impl FnOnce(&mut Cached),
) -> Option<f64> {
    if let Some(p) = config.pricing {
        return Some(p.cost(usage));
    }
    if let Some(c) = provider.cost(model, usage) {
        return Some(c);
    }
    catalog.with(provider, model, |c| {
        let cost = c.found.cost(usage);
        if cost.is_none() {
            unknown(c);
        }
        cost
    })
}

/// The context window of `model`, when known.
pub(crate) fn context_window(
    config: &ProviderConfig,
    provider: &dyn ChatProvider,
    catalog: &CatalogCache,
    model: &str,
) -> Option<u32> {
    config
        .entry
        .context_window
        .or_else(|| ModelInfo::find(provider.models(), model).and_then(|m| m.context_window))
        .or_else(|| catalog.with(provider, model, |c| c.found.context_window()))
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
