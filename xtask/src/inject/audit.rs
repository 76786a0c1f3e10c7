//! The audit of one answer: what "lost" and "duplicated" mean for each promise.
//!
//! Every answer the fault servers give is numbered: `t0 t1 … t{N-1}`, and a continuation that
//! restarts and says something different writes `d{n} d{n+1} …` numbered on from what it was
//! given. So whatever the continuation mode, each *index* 0..N must reach the consumer
//! exactly once and in order:
//!
//! - **lost**: an index that never arrived (counted for complete and incomplete answers);
//! - **duplicated**: every extra copy of an index (a repeated seam shows up here);
//! - **garbled**: a word that is no token of the answer (two tokens spliced together).
//!
//! An answer is *exact* under [`Promise::ExactlyOnce`] when it is byte for byte
//! `t0 t1 … t{N-1}`; under [`Promise::Joined`] when its indices run 0..N once in order, every
//! `t` comes before every `d`, and a `d` run starts after a newline (the seam the divergent
//! continuation writes) — *joined* when it holds a `d` at all.

use steadfast_providers_mock::token_answer;

use super::scenario::Promise;

/// What one answer's text shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TextAudit {
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    pub(crate) garbled: u64,
    /// The text is a whole answer as the promise defines it.
    pub(crate) exact: bool,
    /// The text joins two different attempts (it holds divergent `d` tokens).
    pub(crate) joined: bool,
}

/// Audits `text` against an answer of `tokens` tokens under `promise`.
pub(crate) fn audit(text: &str, tokens: usize, promise: Promise) -> TextAudit {
    let mut seen = vec![0u64; tokens];
    let mut garbled = 0;
    let mut in_order = true;
    let mut next = 0usize;
    let mut joined = false;
    for word in text.split_whitespace() {
        let Some((letter, index)) = parse(word).filter(|&(_, i)| i < tokens) else {
            garbled += 1;
            in_order = false;
            continue;
        };
        seen[index] += 1;
        if letter == 'd' {
            joined = true;
        } else if joined {
            in_order = false; // a `t` after a `d`: the old answer came back
        }
        in_order &= index == next;
        next = index + 1;
    }
    let lost = seen.iter().filter(|&&c| c == 0).count() as u64;
    let duplicated = seen.iter().map(|&c| c.saturating_sub(1)).sum();
    let exact = match promise {
        Promise::ExactlyOnce | Promise::WholeToolCalls | Promise::FailsFast => {
            text == token_answer(tokens)
        }
        Promise::Joined => {
            in_order && lost == 0 && garbled == 0 && seams_are_clean(text) && next == tokens
        }
    };
    TextAudit {
        lost,
        duplicated,
        garbled,
        exact,
        joined,
    }
}

/// `t3` → `('t', 3)`; `d12` → `('d', 12)`; no leading zeros.
fn parse(word: &str) -> Option<(char, usize)> {
    let letter = word.chars().next().filter(|c| matches!(c, 't' | 'd'))?;
    let digits = &word[1..];
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    Some((letter, digits.parse().ok()?))
}

/// Single spaces between words, except a newline before a `d` that starts a seam.
fn seams_are_clean(text: &str) -> bool {
    let mut rest = text;
    let mut first = true;
    while !rest.is_empty() {
        let sep_len = rest.len() - rest.trim_start().len();
        let (sep, after) = rest.split_at(sep_len);
        let word_len = after.find(char::is_whitespace).unwrap_or(after.len());
        let ok = match sep {
            "" => first,
            " " => !first,
            "\n" => !first && after.starts_with('d'),
            _ => false,
        };
        if !ok {
            return false;
        }
        first = false;
        rest = &after[word_len..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_once_is_byte_for_byte() {
        let a = audit("t0 t1 t2", 3, Promise::ExactlyOnce);
        assert!(a.exact && !a.joined);
        let a = audit("t0 t1 t1 t2", 3, Promise::ExactlyOnce);
        assert_eq!((a.duplicated, a.lost, a.exact), (1, 0, false));
        let a = audit("t0 t1t2", 3, Promise::ExactlyOnce);
        assert_eq!((a.garbled, a.lost, a.exact), (1, 2, false));
    }

    #[test]
    fn a_joined_answer_has_every_index_once_and_a_clean_seam() {
        let a = audit("t0 t1 t2 t3\nd4 d5", 6, Promise::Joined);
        assert!(a.exact && a.joined, "{a:?}");
        assert!(audit("t0 t1 t2 t3\nd4\nd5", 6, Promise::Joined).exact);
        assert!(audit("t0 t1 t2 t3 t4 t5", 6, Promise::Joined).exact);
        // The repeated start left in: a duplicated seam.
        let a = audit("t0 t1 t2 t3t0 t1 t2\nd4 d5", 6, Promise::Joined);
        assert!(!a.exact);
        let a = audit("t0 t1 t2 t3 t0 t1 t2\nd4 d5", 6, Promise::Joined);
        assert_eq!((a.duplicated, a.exact), (3, false));
        // Spliced without the newline, an index missing, the old answer after the new one.
        assert!(!audit("t0 t1 t2 t3d4 d5", 6, Promise::Joined).exact);
        assert!(!audit("t0 t1 t2 t3\nd5", 6, Promise::Joined).exact);
        assert!(!audit("t0 t1\nd2 t3 d4 d5", 6, Promise::Joined).exact);
        assert!(!audit("t0 t1 t2", 6, Promise::Joined).exact);
    }
}
