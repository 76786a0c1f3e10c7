//! Resuming an interrupted answer: a trailing `model` turn where the model accepts one.
//!
//! # Best effort, never exact
//!
//! Gemini has no documented prefill. Most models accept a `contents` array that ends with a
//! `model` turn and, in practice, continue that turn's text (verified publicly on the 2.x,
//! 3, 3.1 and 3.5 Flash models: "The answer is" → " 7, because…"). Nothing guarantees that
//! the continuation starts exactly where the text stopped — the model may restate a few
//! words — so [`Capabilities::prefill`](steadfast_providers_core::Capabilities) is `false`
//! and the resume layer must keep its overlap detection on.
//!
//! Newer models refuse a trailing model turn outright (`400 INVALID_ARGUMENT: Requests ending
//! with a model turn are not supported.` — observed on `gemini-3.5-flash-lite` and
//! `gemini-3.6-flash`). For those the continuation sends the delivered text as a model turn
//! followed by a user turn asking to go on
//! ([`CONTINUE_PROMPT`](steadfast_providers_core::resume::CONTINUE_PROMPT)). [`ContinueStyle::Auto`]
//! picks by model id ([`accepts_model_turn`]), and treats unknown ids as refusing, so that a
//! resume never fails on a 400.

use serde::{Deserialize, Serialize};

/// How an interrupted answer is continued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContinueStyle {
    /// A trailing model turn where [`accepts_model_turn`] says the model takes one, a
    /// trailing user turn elsewhere. The default.
    #[default]
    Auto,
    /// Always a trailing model turn holding the delivered text.
    ModelTurn,
    /// Always the delivered text as a model turn, then a user turn asking to continue.
    UserTurn,
}

/// Whether `model` accepts (and continues) a request ending with a `model` turn: the 1.x,
/// 2.x, 3, 3.1 and 3.5 Flash families do; 3.5 Flash-Lite, 3.6 and unknown ids (including the
/// moving `-latest` aliases) are treated as refusing.
///
/// ```
/// use steadfast_providers_gemini::accepts_model_turn;
///
/// assert!(accepts_model_turn("gemini-2.5-flash"));
/// assert!(accepts_model_turn("models/gemini-3-pro-preview"));
/// assert!(accepts_model_turn("gemini-3.5-flash"));
/// assert!(!accepts_model_turn("gemini-3.5-flash-lite"));
/// assert!(!accepts_model_turn("gemini-3.6-flash"));
/// assert!(!accepts_model_turn("gemini-flash-latest"));
/// ```
pub fn accepts_model_turn(model: &str) -> bool {
    let model = model.trim().to_ascii_lowercase();
    let model = model.strip_prefix("models/").unwrap_or(&model);
    if [
        "gemini-1.",
        "gemini-2.",
        "gemini-3-",
        "gemini-3.0-",
        "gemini-3.1-",
    ]
    .iter()
    .any(|p| model.starts_with(p))
    {
        return true;
    }
    model
        .strip_prefix("gemini-3.5-flash")
        .is_some_and(|rest| !rest.contains("lite"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        for yes in [
            "gemini-1.5-pro",
            "gemini-2.0-flash",
            "gemini-2.5-pro",
            "gemini-2.5-flash-lite",
            "gemini-3-flash-preview",
            "gemini-3.1-pro-preview",
            "gemini-3.5-flash",
            "gemini-3.5-flash-001",
        ] {
            assert!(accepts_model_turn(yes), "{yes}");
        }
        for no in [
            "gemini-3.5-flash-lite",
            "gemini-3.5-flash-lite-preview",
            "gemini-3.6-flash",
            "gemini-4-argon",
            "gemini-pro-latest",
            "gemma-3-27b-it",
            "",
        ] {
            assert!(!accepts_model_turn(no), "{no}");
        }
    }
}
