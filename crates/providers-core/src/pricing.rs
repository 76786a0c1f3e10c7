//! `Pricing`: what a model's tokens cost, and the cost of a [`Usage`].

use serde::{Deserialize, Serialize};

use crate::Usage;

/// USD per million tokens.
///
/// ```
/// use steadfast_providers_core::{Pricing, Usage};
///
/// let gpt_4o_mini = Pricing::per_million(0.15, 0.60);
/// let usage = Usage { input_tokens: 15_000, output_tokens: 5_000, ..Usage::default() };
/// assert!((gpt_4o_mini.cost(&usage) - 0.00525).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pricing {
    /// Input tokens.
    pub input_per_mtok: f64,
    /// Output tokens (reasoning included).
    pub output_per_mtok: f64,
    /// Input tokens read from the cache; the input price when absent.
    pub cache_read_per_mtok: Option<f64>,
    /// Input tokens written to the cache; the input price when absent.
    pub cache_write_per_mtok: Option<f64>,
}

impl Pricing {
    /// Input and output prices in USD per million tokens.
    pub const fn per_million(input: f64, output: f64) -> Pricing {
        Pricing {
            input_per_mtok: input,
            output_per_mtok: output,
            cache_read_per_mtok: None,
            cache_write_per_mtok: None,
        }
    }

    /// The cost of `usage` in USD when `input_tokens` *include* cached tokens (OpenAI and
    /// compatibles, Gemini): cached input is priced at the cache-read rate, the rest of the
    /// input at the input rate.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cache_read_tokens.min(usage.input_tokens);
        self.priced(usage.input_tokens - cached, cached, usage)
    }

    /// The cost of `usage` in USD when `input_tokens` *exclude* cache reads and writes
    /// (Anthropic reports them beside the input).
    pub fn cost_cache_separate(&self, usage: &Usage) -> f64 {
        self.priced(usage.input_tokens, usage.cache_read_tokens, usage)
    }

    fn priced(&self, plain_input: u64, cache_read: u64, usage: &Usage) -> f64 {
        let m = 1e-6;
        plain_input as f64 * self.input_per_mtok * m
            + cache_read as f64 * self.cache_read_per_mtok.unwrap_or(self.input_per_mtok) * m
            + usage.cache_write_tokens as f64
                * self.cache_write_per_mtok.unwrap_or(self.input_per_mtok)
                * m
            + usage.output_tokens as f64 * self.output_per_mtok * m
    }
}
