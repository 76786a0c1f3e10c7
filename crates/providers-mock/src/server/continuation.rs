//! `Continuation`: what the fault server does with an assistant prefix — continue exactly,
//! repeat its tail, restart, echo it, or restart and then say something different.

use serde::{Deserialize, Serialize};

use crate::text::{count_words, rest_after, word_chunks};

/// How the [`FaultServer`](crate::FaultServer) answers a request that ends with an assistant
/// message (a prefix, as a resume sends it). Real providers do each of these; a resume layer
/// must deliver every character once whatever they do.
///
/// The answer is the deterministic [`token_answer`](crate::token_answer) `t0 t1 … t{N-1}`.
/// With the prefix `t0 t1 t2 t3` (4 words) of a 6-token answer:
///
/// | mode | the server sends |
/// |---|---|
/// | `Exact` | ` t4 t5` |
/// | `RepeatTail { bytes: 6 }` | ` t2 t3 t4 t5` (the prefix's last 6 bytes, then the rest) |
/// | `Restart` | `t0 t1 t2 t3 t4 t5` (word by word, the prefix ignored) |
/// | `Echo` | `t0 t1 t2 t3` in one chunk, then ` t4 t5` (llama.cpp's server) |
/// | `Diverge` | `t0 t1 t2` (the prefix's first 3 words), then `\nd4 d5` |
///
/// `Diverge` models a model that starts over and writes a different answer: its first three
/// words repeat the delivered start (8 bytes or more, enough for a resume layer to recognise
/// a restart), then a newline and `d`-tokens numbered on from the prefix's word count. A
/// consumer that drops the repeated start gets `t0 t1 t2 t3\nd4 d5`: every index once, one
/// join between two attempts — honest to audit, and plainly not one answer continued.
/// A prefix of at most three words is repeated whole (an echo), then the `d`-tokens follow.
///
/// A prefix that is not a prefix of the answer gets the whole answer in `Exact` and
/// `RepeatTail` (a model that ignores it), and what the table says in the other modes.
///
/// ```
/// use steadfast_providers_mock::{Continuation, ServerConfig};
///
/// let config: ServerConfig = serde_json::from_str(r#"{"continuation": {"repeat_tail": {"bytes": 9}}}"#).unwrap();
/// assert_eq!(config.continuation, Continuation::RepeatTail { bytes: 9 });
/// assert_eq!(Continuation::Diverge.answer_after("t0 t1 t2 t3", 6), "t0 t1 t2\nd4 d5");
/// assert_eq!(Continuation::Echo.answer_after("t0 t1", 4), "t0 t1 t2 t3");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Continuation {
    /// Continues right after the prefix (a prefill honoured, as Anthropic does).
    #[default]
    Exact,
    /// Repeats the prefix's last `bytes` bytes (the whole prefix if it is shorter), then
    /// continues: a model that restates the end of what it had said.
    RepeatTail {
        /// Bytes of the prefix repeated.
        bytes: usize,
    },
    /// Ignores the prefix and answers from the beginning, word by word.
    Restart,
    /// Sends the whole prefix back first, in one chunk, then continues after it (llama.cpp's
    /// `llama-server` echoes a prefilled assistant message).
    Echo,
    /// Repeats the prefix's first three words, then writes different text (`\nd{n} …`).
    Diverge,
}

/// The words of the prefix a [`Continuation::Diverge`] repeats.
const DIVERGE_REPEAT_WORDS: usize = 3;

impl Continuation {
    /// The text the server sends after `prefix`, for an answer of `tokens` tokens.
    pub fn answer_after(self, prefix: &str, tokens: usize) -> String {
        self.chunks(prefix, tokens).concat()
    }

    /// The content chunks (one word each, except an echo) sent after `prefix`.
    pub(crate) fn chunks(self, prefix: &str, tokens: usize) -> Vec<String> {
        let full = crate::text::token_answer(tokens);
        if prefix.is_empty() {
            return word_chunks(&full);
        }
        match self {
            Continuation::Exact => word_chunks(rest_after(&full, prefix)),
            Continuation::RepeatTail { bytes } => {
                let rest = rest_after(&full, prefix);
                if rest.len() == full.len() {
                    return word_chunks(&full);
                }
                let mut start = prefix.len().saturating_sub(bytes);
                while !prefix.is_char_boundary(start) {
                    start += 1;
                }
                word_chunks(&format!("{}{rest}", &prefix[start..]))
            }
            Continuation::Restart => word_chunks(&full),
            Continuation::Echo => {
                let mut chunks = vec![prefix.to_owned()];
                chunks.extend(word_chunks(rest_after(&full, prefix)));
                chunks
            }
            Continuation::Diverge => {
                let mut chunks: Vec<String> = word_chunks(prefix)
                    .into_iter()
                    .take(DIVERGE_REPEAT_WORDS)
                    .collect();
                let from = count_words(prefix) as usize;
                let mut different = String::new();
                for i in from..tokens {
                    different.push(if i == from { '\n' } else { ' ' });
                    different.push('d');
                    different.push_str(&i.to_string());
                }
                chunks.extend(word_chunks(&different));
                chunks
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_after_a_prefix() {
        let p = "t0 t1 t2 t3";
        assert_eq!(Continuation::Exact.answer_after(p, 6), " t4 t5");
        assert_eq!(
            Continuation::RepeatTail { bytes: 6 }.answer_after(p, 6),
            " t2 t3 t4 t5"
        );
        assert_eq!(
            Continuation::RepeatTail { bytes: 99 }.answer_after(p, 6),
            "t0 t1 t2 t3 t4 t5"
        );
        assert_eq!(
            Continuation::Restart.answer_after(p, 6),
            "t0 t1 t2 t3 t4 t5"
        );
        assert_eq!(
            Continuation::Echo.chunks(p, 6),
            ["t0 t1 t2 t3", " t4", " t5"]
        );
        assert_eq!(Continuation::Diverge.answer_after(p, 6), "t0 t1 t2\nd4 d5");
        assert_eq!(
            Continuation::Diverge.answer_after("t0 t1", 4),
            "t0 t1\nd2 d3"
        );
        // A second divergent resume repeats the same start and numbers on.
        assert_eq!(
            Continuation::Diverge.answer_after("t0 t1 t2 t3\nd4", 6),
            "t0 t1 t2\nd5"
        );
    }

    #[test]
    fn no_prefix_is_the_whole_answer_in_every_mode() {
        for mode in [
            Continuation::Exact,
            Continuation::RepeatTail { bytes: 8 },
            Continuation::Restart,
            Continuation::Echo,
            Continuation::Diverge,
        ] {
            assert_eq!(mode.answer_after("", 3), "t0 t1 t2", "{mode:?}");
        }
    }
}
