//! Text helpers shared by the scripted provider and the fault server: word chunks, the
//! deterministic token answer, continuing after a prefix.

/// Splits `text` into chunks of one word each, every word with the whitespace before it:
/// `"a bc  d"` gives `"a"`, `" bc"`, `"  d"`. Concatenating the chunks gives `text` back.
pub(crate) fn word_chunks(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut prev_space = true;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && !prev_space && i > start {
            chunks.push(text[start..i].to_owned());
            start = i;
        }
        prev_space = space;
    }
    if start < text.len() {
        chunks.push(text[start..].to_owned());
    }
    chunks
}

/// The deterministic answer of the [`FaultServer`](crate::FaultServer): `n` tokens
/// `t0 t1 t2 …` separated by single spaces.
///
/// ```
/// assert_eq!(steadfast_providers_mock::token_answer(4), "t0 t1 t2 t3");
/// assert_eq!(steadfast_providers_mock::token_answer(0), "");
/// ```
pub fn token_answer(n: usize) -> String {
    let mut out = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push('t');
        out.push_str(&i.to_string());
    }
    out
}

/// How a delivered text compares with the deterministic [`token_answer`] of `expected`
/// tokens: the numbers a failure-injection report needs.
///
/// ```
/// use steadfast_providers_mock::TokenAudit;
///
/// let audit = TokenAudit::of("t0 t1 t1 t3 tx", 4);
/// assert_eq!((audit.delivered, audit.lost, audit.duplicated, audit.garbled), (3, 1, 1, 1));
/// assert!(!audit.exact);
/// assert!(TokenAudit::of("t0 t1 t2", 3).exact);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenAudit {
    /// Tokens in the whole answer.
    pub expected: usize,
    /// Distinct tokens of the answer that arrived.
    pub delivered: usize,
    /// Tokens of the answer that never arrived.
    pub lost: usize,
    /// Extra copies of tokens that arrived more than once.
    pub duplicated: usize,
    /// Words that are no token of the answer (e.g. two tokens spliced together).
    pub garbled: usize,
    /// Whether the text is exactly the answer: every token once, in order, nothing else.
    pub exact: bool,
}

impl TokenAudit {
    /// Audits `text` against the answer of `expected` tokens.
    pub fn of(text: &str, expected: usize) -> TokenAudit {
        let mut seen = vec![0usize; expected];
        let mut garbled = 0;
        for word in text.split_whitespace() {
            match word
                .strip_prefix('t')
                .filter(|n| n.len() == 1 || !n.starts_with('0'))
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&i| i < expected)
            {
                Some(i) => seen[i] += 1,
                None => garbled += 1,
            }
        }
        let delivered = seen.iter().filter(|&&c| c > 0).count();
        TokenAudit {
            expected,
            delivered,
            lost: expected - delivered,
            duplicated: seen.iter().map(|&c| c.saturating_sub(1)).sum(),
            garbled,
            exact: text == token_answer(expected),
        }
    }
}

/// What is left of `answer` after `prefix`; the whole answer when it does not start with
/// `prefix` (a model that ignores the prefix and starts over).
pub(crate) fn rest_after<'a>(answer: &'a str, prefix: &str) -> &'a str {
    answer.strip_prefix(prefix).unwrap_or(answer)
}

/// Whitespace-separated words: the mock's token count.
pub(crate) fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_join_back_to_the_text() {
        for text in [
            "",
            "a",
            " a",
            "a bc  d",
            "t0 t1 t2",
            "1 t2",
            "x\n\ny z ",
            "héllo wörld",
        ] {
            let chunks = word_chunks(text);
            assert_eq!(chunks.concat(), text, "{text:?}");
            assert!(chunks.iter().all(|c| !c.is_empty()));
        }
        assert_eq!(word_chunks("a bc  d"), ["a", " bc", "  d"]);
        assert_eq!(word_chunks("1 t2"), ["1", " t2"]);
    }

    #[test]
    fn the_rest_follows_a_matching_prefix_only() {
        assert_eq!(rest_after("t0 t1 t2", "t0 t"), "1 t2");
        assert_eq!(rest_after("t0 t1 t2", ""), "t0 t1 t2");
        assert_eq!(rest_after("t0 t1 t2", "nope"), "t0 t1 t2");
    }
}
