//! Continuing an interrupted answer: the prompt that asks for the rest, and the token budget
//! left for it.
//!
//! # How much is still owed
//!
//! A continuation is a new request, and the provider holds it to its own `max_tokens`. Sent
//! with the original limit, a resumed answer could run to the limit *again* and end longer
//! than the caller asked. So a continuation asks only for what is still owed: the original
//! limit less an estimate of the tokens already delivered ([`remaining_max_tokens`]). No
//! tokenizer is at hand for every provider, so the estimate is the usual rule of thumb of
//! four characters a token, rounded up ([`estimate_tokens`]); it errs towards a slightly
//! shorter continuation on English text. At least one token is always asked for, so that a
//! continuation is never a request the provider refuses for a zero limit.

/// The user turn that asks a model without an exact prefill to go on with a cut answer,
/// sent after the delivered text.
pub const CONTINUE_PROMPT: &str = "Your previous reply was cut off. Continue it exactly where \
it stopped: do not repeat anything already written, and add no preamble.";

/// An estimate of the tokens in `text`: its characters divided by four, rounded up (`""` is
/// 0 tokens, `"abcde"` is 2).
///
/// ```
/// use steadfast_providers_core::resume::estimate_tokens;
///
/// assert_eq!(estimate_tokens(""), 0);
/// assert_eq!(estimate_tokens("abcd"), 1);
/// assert_eq!(estimate_tokens("abcde"), 2);
/// assert_eq!(estimate_tokens("éééé"), 1);
/// ```
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// The `max_tokens` of a continuation: `max_tokens` less the [`estimate_tokens`] of what was
/// `delivered`, and at least 1.
///
/// ```
/// use steadfast_providers_core::resume::remaining_max_tokens;
///
/// assert_eq!(remaining_max_tokens(100, "The answer is 42"), 96);
/// assert_eq!(remaining_max_tokens(100, ""), 100);
/// assert_eq!(remaining_max_tokens(3, "far more than three tokens"), 1);
/// ```
pub fn remaining_max_tokens(max_tokens: u32, delivered: &str) -> u32 {
    max_tokens.saturating_sub(estimate_tokens(delivered)).max(1)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn the_remainder_is_bounded_and_never_zero(max in 0u32..=u32::MAX, text in ".{0,64}") {
            let left = remaining_max_tokens(max, &text);
            prop_assert!(left >= 1);
            prop_assert!(left <= max.max(1));
            let chars = text.chars().count() as u64;
            prop_assert!(u64::from(estimate_tokens(&text)) * 4 >= chars);
            prop_assert!(u64::from(estimate_tokens(&text)) * 4 < chars + 4);
            if u64::from(max) > u64::from(estimate_tokens(&text)) {
                prop_assert_eq!(left, max - estimate_tokens(&text));
            }
        }

        #[test]
        fn more_delivered_never_leaves_more(max in 1u32..100_000, a in ".{0,40}", b in ".{0,40}") {
            let longer = format!("{a}{b}");
            prop_assert!(remaining_max_tokens(max, &longer) <= remaining_max_tokens(max, &a));
        }
    }
}
