//! `estimate_tokens`: the size of a request in tokens, as the context-window check, the
//! `tpm` limit and the strategies estimate it.

use steadfast_providers_core::{ChatRequest, ContentPart};

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
/// message's text parts, divided by 4. Counted in place: nothing is joined or copied.
pub(crate) fn prompt_tokens(request: &ChatRequest) -> u64 {
    let chars = request.system.as_deref().map_or(0, |s| s.chars().count())
        + request
            .messages
            .iter()
            .flat_map(|m| &m.content)
            .map(|p| match p {
                ContentPart::Text { text } => text.chars().count(),
                _ => 0,
            })
            .sum::<usize>();
    (chars / 4) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use steadfast_providers_core::Message;

    proptest! {
        /// Counting the parts in place gives what counting the joined text gave.
        #[test]
        fn counting_parts_equals_counting_the_joined_text(
            system in proptest::option::of("[a-zé🙂 ]{0,12}"),
            messages in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![
                        "[a-zé漢🙂 ]{0,20}".prop_map(|text| ContentPart::Text { text }),
                        Just(ContentPart::Image { url: "https://example.com/a.png".into() }),
                    ],
                    0..4,
                ),
                0..5,
            ),
        ) {
            let mut request = ChatRequest::new(
                "m",
                messages
                    .into_iter()
                    .map(|content| Message { content, ..Message::user("") })
                    .collect(),
            );
            request.system = system;
            let joined = request.system.as_deref().map_or(0, |s| s.chars().count())
                + request.messages.iter().map(|m| m.joined_text().chars().count()).sum::<usize>();
            prop_assert_eq!(prompt_tokens(&request), (joined / 4) as u64);
        }
    }
}
