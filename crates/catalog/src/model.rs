//! The catalog's rows: [`Model`] (one model of one provider) and [`ProviderEntry`].

use serde::Serialize;
use steadfast_errors::Provider;
use steadfast_providers_core::{Pricing, Usage};

/// What a model can do, as its source states it. `None` means the source does not say:
/// unknown, not "no".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ModelCapabilities {
    /// Tool (function) calling.
    pub tools: Option<bool>,
    /// Images in the input.
    pub vision: Option<bool>,
    /// Streamed answers.
    pub streaming: Option<bool>,
    /// An assistant prefix is continued exactly (prefill, chat prefix completion).
    pub prefill: Option<bool>,
}

/// A price per unit other than tokens: media models billed per second of video, per image…
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UnitPrice {
    /// The unit billed (`second`, `image`, …).
    pub unit: &'static str,
    /// USD per unit.
    pub usd_per_unit: f64,
}

/// One model of one provider, with where its numbers come from.
///
/// ```
/// use steadfast_errors::Provider;
///
/// let m = steadfast_catalog::lookup(Provider::OpenAi, "gpt-4o-mini").unwrap();
/// assert_eq!(m.context_window, Some(128_000));
/// assert!(m.source.starts_with("https://"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Model {
    /// The provider whose API serves the model under [`id`](Self::id).
    pub provider: Provider,
    /// The model id sent to the provider.
    pub id: &'static str,
    /// Other exact ids of the same model (an undated alias of a dated snapshot).
    pub aliases: &'static [&'static str],
    /// A human name.
    pub name: &'static str,
    /// Token prices in USD per million tokens; `None` for models billed per [`unit`](Self::unit_price).
    pub pricing: Option<Pricing>,
    /// A non-token price (media models).
    pub unit_price: Option<UnitPrice>,
    /// The context window in tokens, when the source states it.
    pub context_window: Option<u32>,
    /// The most output tokens per answer, when the source states it.
    pub max_output_tokens: Option<u32>,
    /// What it can do.
    pub capabilities: ModelCapabilities,
    /// The page the numbers were read from.
    pub source: &'static str,
    /// The date of that page, or the day it was read when it carries none (`YYYY-MM-DD`).
    pub checked: &'static str,
    /// Caveats: tiers not modelled, the copy of the page that was read, …
    pub note: Option<&'static str>,
}

impl Model {
    /// Whether `id` names this model: its id or one of its aliases, exactly.
    pub fn answers_to(&self, id: &str) -> bool {
        self.id == id || self.aliases.contains(&id)
    }

    /// The cost of `usage` in USD in this provider's usage semantics (Anthropic reports cache
    /// reads and writes beside the input, everyone else inside it), or `None` for a model
    /// without token prices.
    ///
    /// ```
    /// use steadfast_errors::Provider;
    /// use steadfast_providers_core::Usage;
    ///
    /// let m = steadfast_catalog::lookup(Provider::DeepSeek, "deepseek-chat").unwrap();
    /// let usage = Usage { input_tokens: 1_000_000, output_tokens: 1_000_000, ..Usage::default() };
    /// assert!((m.cost(&usage).unwrap() - (0.56 + 1.68)).abs() < 1e-9);
    /// ```
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        let pricing = self.pricing?;
        Some(if self.provider == Provider::Anthropic {
            pricing.cost_cache_separate(usage)
        } else {
            pricing.cost(usage)
        })
    }
}

/// One provider's entry: where its prices are published and whether it runs locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProviderEntry {
    /// The provider.
    pub provider: Provider,
    /// A human name.
    pub title: &'static str,
    /// Its pricing page.
    pub pricing_page: &'static str,
    /// Local inference (Ollama, llama.cpp): every model costs 0, listed or not.
    pub local: bool,
    /// Caveats about the provider's rows (or their absence).
    pub note: Option<&'static str>,
}
