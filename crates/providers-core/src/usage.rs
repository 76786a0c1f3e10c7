//! `Usage`: token counts of one answer, or summed over every attempt of a call.

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// Token counts, in provider-neutral names.
///
/// Within one stream a decoder reports the usage *so far* (providers send it cumulatively);
/// across retries, resumes and fallbacks the counts are *added*, because every attempt is
/// billed.
///
/// ```
/// use steadfast_providers_core::Usage;
///
/// let first = Usage { input_tokens: 100, output_tokens: 40, ..Usage::default() };
/// let resumed = Usage { input_tokens: 140, output_tokens: 60, ..Usage::default() };
/// let billed = first + resumed;
/// assert_eq!((billed.input_tokens, billed.output_tokens), (240, 100));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Prompt tokens as the provider counts them: OpenAI-style providers and Gemini include
    /// cached tokens here, Anthropic reports cache reads and writes beside them (see
    /// [`Pricing::cost`](crate::Pricing::cost) and
    /// [`Pricing::cost_cache_separate`](crate::Pricing::cost_cache_separate)).
    pub input_tokens: u64,
    /// Completion tokens, reasoning included.
    pub output_tokens: u64,
    /// Prompt tokens read from the provider's cache.
    pub cache_read_tokens: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_tokens: u64,
    /// Completion tokens spent on reasoning (part of `output_tokens`).
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Input plus output tokens.
    pub fn total(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }
}

impl Add for Usage {
    type Output = Usage;

    fn add(self, o: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_add(o.input_tokens),
            output_tokens: self.output_tokens.saturating_add(o.output_tokens),
            cache_read_tokens: self.cache_read_tokens.saturating_add(o.cache_read_tokens),
            cache_write_tokens: self.cache_write_tokens.saturating_add(o.cache_write_tokens),
            reasoning_tokens: self.reasoning_tokens.saturating_add(o.reasoning_tokens),
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        *self = *self + o;
    }
}
