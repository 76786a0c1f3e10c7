//! Finding rows: by (provider, model id) exactly, or by model id alone when only one
//! provider serves it. Never by prefix or similarity: an id the catalog does not list is
//! unknown, not "probably that one".

use steadfast_errors::Provider;
use steadfast_providers_core::{Pricing, Usage};

use crate::generated::{MODELS, PROVIDERS};
use crate::model::{Model, ProviderEntry};

/// Every row of the catalog, grouped by provider in [`Provider::ALL`] order.
///
/// ```
/// assert!(steadfast_catalog::models().len() >= 40);
/// ```
pub fn models() -> &'static [Model] {
    MODELS
}

/// Every provider's entry, in [`Provider::ALL`] order.
pub fn providers() -> &'static [ProviderEntry] {
    PROVIDERS
}

/// The entry of `provider`.
///
/// ```
/// use steadfast_errors::Provider;
///
/// assert!(steadfast_catalog::provider(Provider::Ollama).unwrap().local);
/// assert!(!steadfast_catalog::provider(Provider::OpenAi).unwrap().local);
/// ```
pub fn provider(provider: Provider) -> Option<&'static ProviderEntry> {
    PROVIDERS.iter().find(|p| p.provider == provider)
}

/// The row of `model` on `provider`: its id or one of its declared aliases, exactly.
///
/// ```
/// use steadfast_errors::Provider;
///
/// let m = steadfast_catalog::lookup(Provider::Anthropic, "claude-sonnet-4-5").unwrap();
/// assert_eq!(m.id, "claude-sonnet-4-5-20250929");
/// // No prefix guessing: an unlisted snapshot is unknown.
/// assert!(steadfast_catalog::lookup(Provider::OpenAi, "gpt-4o-mini-2099-01-01").is_none());
/// // The same id on another provider is another row (or none).
/// assert!(steadfast_catalog::lookup(Provider::Xai, "gpt-4o-mini").is_none());
/// ```
pub fn lookup(provider: Provider, model: &str) -> Option<&'static Model> {
    find(MODELS, provider, model)
}

/// The row of `model` when exactly one provider lists it (by id or alias); `None` when no
/// provider or more than one does.
///
/// ```
/// let m = steadfast_catalog::lookup_id("grok-3-mini").unwrap();
/// assert_eq!(m.provider, steadfast_errors::Provider::Xai);
/// assert!(steadfast_catalog::lookup_id("no-such-model").is_none());
/// ```
pub fn lookup_id(model: &str) -> Option<&'static Model> {
    find_unique(MODELS, model)
}

/// What the catalog says of one model on one provider: its row when listed, and whether
/// the provider is local (any model of a local provider costs nothing). Look it up once
/// with [`resolve`] and ask it as often as needed: [`pricing`] and [`cost`] are this.
///
/// ```
/// use steadfast_errors::Provider;
///
/// let r = steadfast_catalog::resolve(Provider::Ollama, "anything:7b");
/// assert!(r.row.is_none() && r.local);
/// assert_eq!(r.pricing(), Some(Default::default()));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The model's row, when the provider lists it.
    pub row: Option<&'static Model>,
    /// The provider runs locally.
    pub local: bool,
}

impl Resolved {
    /// The token prices: the row's, or zero on a local provider; `None` when unknown (and
    /// for models priced per unit).
    pub fn pricing(&self) -> Option<Pricing> {
        match self.row {
            Some(row) => row.pricing,
            None if self.local => Some(Pricing::default()),
            None => None,
        }
    }

    /// The cost of `usage` in USD ([`Model::cost`]); zero on a local provider; `None` when
    /// unknown.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        match self.row {
            Some(row) => row.cost(usage),
            None if self.local => Some(0.0),
            None => None,
        }
    }

    /// The context window, when the row states one.
    pub fn context_window(&self) -> Option<u32> {
        self.row.and_then(|m| m.context_window)
    }
}

/// What the catalog says of `model` on `provider` (see [`Resolved`]).
pub fn resolve(provider: Provider, model: &str) -> Resolved {
    Resolved {
        row: lookup(provider, model),
        local: is_local(provider),
    }
}

/// The token prices of `model` on `provider`: its row's, or zero for any model of a local
/// provider. `None` when unknown (and for models priced per unit).
pub fn pricing(provider: Provider, model: &str) -> Option<Pricing> {
    resolve(provider, model).pricing()
}

/// The cost of `usage` on `model` in USD, in the provider's usage semantics
/// ([`Model::cost`]); zero for any model of a local provider; `None` when unknown.
///
/// ```
/// use steadfast_errors::Provider;
/// use steadfast_providers_core::Usage;
///
/// let usage = Usage { input_tokens: 1_000, output_tokens: 1_000, ..Usage::default() };
/// assert_eq!(steadfast_catalog::cost(Provider::Ollama, "anything:7b", &usage), Some(0.0));
/// assert_eq!(steadfast_catalog::cost(Provider::OpenAi, "not-a-model", &usage), None);
/// ```
pub fn cost(provider: Provider, model: &str, usage: &Usage) -> Option<f64> {
    resolve(provider, model).cost(usage)
}

/// The context window of `model` on `provider`, when its row states one.
pub fn context_window(provider: Provider, model: &str) -> Option<u32> {
    resolve(provider, model).context_window()
}

fn is_local(kind: Provider) -> bool {
    provider(kind).is_some_and(|p| p.local)
}

pub(crate) fn find<'a>(models: &'a [Model], provider: Provider, id: &str) -> Option<&'a Model> {
    models
        .iter()
        .find(|m| m.provider == provider && m.answers_to(id))
}

pub(crate) fn find_unique<'a>(models: &'a [Model], id: &str) -> Option<&'a Model> {
    let mut found = models.iter().filter(|m| m.answers_to(id));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}
