//! `estimate_tokens`: the size of a request in tokens, as the context-window check, the
//! `tpm` limit and the strategies estimate it.

use steadfast_providers_core::ChatRequest;

/// The estimated size of `request` in tokens, as the context-window check and the `tpm`
/// limit use it: the characters of the system prompt and every message, divided by 4, plus
/// `max_tokens` (0 when unset).
///
/// ```
/// use steadfast_providers_core::{ChatRequest, Message};
///
/// let request = ChatRequest::new("m", vec![Message::user("x".repeat(400))]).with_max_tokens(50);
/// assert_eq!(steadfast_router::estimate_tokens(&request), 150);
/// ```
pub fn estimate_tokens(request: &ChatRequest) -> u64 {
    prompt_tokens(request).saturating_add(request.max_tokens.map_or(0, u64::from))
}

/// The prompt's estimated size in tokens: the characters of the system prompt and every
/// message, divided by 4.
pub(crate) fn prompt_tokens(request: &ChatRequest) -> u64 {
    let chars = request.system.as_deref().map_or(0, |s| s.chars().count())
        + request
            .messages
            .iter()
            .map(|m| m.joined_text().chars().count())
            .sum::<usize>();
    (chars / 4) as u64
}
