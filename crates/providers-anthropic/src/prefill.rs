//! Prefill: which models continue a trailing assistant message, and the whitespace rule.
//!
//! # Exact resume by prefill
//!
//! Anthropic continues a conversation whose last message is an assistant message from
//! exactly where that message ends ("prefilling Claude's response"), and returns only the
//! continuation. [`continuation`](steadfast_providers_core::ChatProvider::continuation) uses
//! it to resume an interrupted answer: the text already delivered becomes the prefill, and
//! the new answer is what follows it — nothing repeated, nothing lost.
//!
//! Two limits, both verified against Anthropic's documentation and real 400 responses:
//!
//! - **Trailing whitespace.** The API refuses a final assistant message that ends in
//!   whitespace (`400 invalid_request_error: messages: final assistant content cannot end
//!   with trailing whitespace`). So the request carries the prefill *trimmed*, while the
//!   consumer already holds the trimmed whitespace. The model continues the trimmed text and
//!   usually starts with that same whitespace (`"Hello"` → `" world"`); the provider drops
//!   from the start of the answer the part that repeats what was trimmed (`"world"`), and
//!   keeps any whitespace beyond it. The consumer therefore sees every character once. The
//!   one imperfect case is a model that starts with *different* whitespace than was trimmed
//!   (trimmed `"\n\n"`, model writes `"\nNext"`): the consumer keeps both, since delivered
//!   text cannot be taken back.
//! - **Models without prefill.** Claude 4.6 and later (`claude-opus-4-6`, `claude-sonnet-4-6`,
//!   `claude-opus-4-7`, …) answer a trailing assistant message with `400 This model does not
//!   support assistant message prefill. The conversation must end with a user message.`, and
//!   prefill is incompatible with extended thinking on every model. For these the
//!   continuation is a **best effort**: the delivered text is sent as an assistant turn
//!   followed by a user turn asking to continue without repeating; the resume layer's
//!   overlap detection then drops a repeated tail. [`PrefillMode::Auto`] tells the two apart
//!   by the model id ([`accepts_prefill`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use steadfast_providers_core::{ChatRequest, ChatResponse, StreamEvent};

/// Whether interrupted answers are continued by prefill (exact) or by asking (best effort).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrefillMode {
    /// Prefill where the model accepts it ([`accepts_prefill`]) and extended thinking is off;
    /// best effort elsewhere. The default.
    #[default]
    Auto,
    /// Always prefill (for model ids [`accepts_prefill`] does not know, e.g. behind a gateway).
    Always,
    /// Never prefill: continuations are always best effort.
    Never,
}

/// Whether `model` accepts an assistant prefill: every Claude model before 4.6 does, Claude
/// 4.6 and later do not. Unknown ids answer `false`, so that a resume never risks a 400 (use
/// [`PrefillMode::Always`] to override).
///
/// ```
/// use steadfast_providers_anthropic::accepts_prefill;
///
/// assert!(accepts_prefill("claude-sonnet-4-5-20250929"));
/// assert!(accepts_prefill("claude-opus-4-20250514"));
/// assert!(accepts_prefill("claude-3-7-sonnet-latest"));
/// assert!(accepts_prefill("claude-haiku-4-5"));
/// assert!(!accepts_prefill("claude-opus-4-6"));
/// assert!(!accepts_prefill("claude-sonnet-4-6"));
/// assert!(!accepts_prefill("claude-opus-5"));
/// assert!(!accepts_prefill("my-gateway-alias"));
/// ```
pub fn accepts_prefill(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    let Some(at) = model.find("claude-") else {
        return false;
    };
    let rest = &model[at + "claude-".len()..];
    if rest.starts_with("instant") {
        return true;
    }
    let mut tokens = rest.split(['-', '.', '@']);
    // `claude-3-5-sonnet…`, `claude-2.1`: the old naming puts the version first.
    let first = tokens.next().unwrap_or("");
    let major_token = if first.chars().all(|c| c.is_ascii_digit()) && !first.is_empty() {
        first
    } else {
        tokens.next().unwrap_or("")
    };
    let Ok(major) = major_token.parse::<u32>() else {
        return false;
    };
    // A minor version is one or two digits; eight digits are a date (`claude-opus-4-20250514`).
    let minor = tokens
        .next()
        .filter(|t| (1..=2).contains(&t.len()))
        .and_then(|t| t.parse::<u32>().ok())
        .unwrap_or(0);
    (major, minor) < (4, 6)
}

/// Whether the request turns extended thinking on (`extra.thinking.type` other than
/// `disabled`), which rules prefill out.
pub(crate) fn thinking_enabled(request: &ChatRequest) -> bool {
    match request.extra.get("thinking") {
        Some(Value::Object(t)) => t.get("type").and_then(Value::as_str) != Some("disabled"),
        Some(Value::Null) | None => false,
        Some(_) => true,
    }
}

/// Drops, from the start of an answer, the whitespace that was trimmed from the prefill and
/// that the consumer therefore already has.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrimmedWhitespace {
    pending: String,
}

impl TrimmedWhitespace {
    /// Expects the answer to start by repeating `trimmed`.
    pub(crate) fn new(trimmed: String) -> TrimmedWhitespace {
        TrimmedWhitespace { pending: trimmed }
    }

    /// The part of `text` that is new; the repeat is consumed as it is found, across deltas.
    pub(crate) fn text<'t>(&mut self, text: &'t str) -> &'t str {
        if self.pending.is_empty() {
            return text;
        }
        let mut skipped = 0;
        let mut matched = 0;
        for (expected, got) in self.pending.chars().zip(text.chars()) {
            if expected != got {
                self.pending.clear();
                return &text[skipped..];
            }
            skipped += got.len_utf8();
            matched += expected.len_utf8();
        }
        self.pending.drain(..matched);
        if skipped < text.len() {
            // The answer went on past the repeat: whatever remains of it was not repeated.
            self.pending.clear();
        }
        &text[skipped..]
    }

    /// Applies to one stream event; `None` when nothing of it is left to deliver.
    pub(crate) fn event(&mut self, event: StreamEvent) -> Option<StreamEvent> {
        match event {
            StreamEvent::TextDelta { text } => {
                let rest = self.text(&text);
                if rest.is_empty() {
                    None
                } else if rest.len() == text.len() {
                    Some(StreamEvent::TextDelta { text })
                } else {
                    Some(StreamEvent::TextDelta {
                        text: rest.to_owned(),
                    })
                }
            }
            other @ (StreamEvent::ToolCallDelta(_) | StreamEvent::RefusalDelta { .. }) => {
                self.pending.clear();
                Some(other)
            }
            other => Some(other),
        }
    }

    /// Applies to a whole answer.
    pub(crate) fn response(&mut self, response: &mut ChatResponse) {
        let rest = self.text(&response.text);
        if rest.len() != response.text.len() {
            response.text = rest.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repeated_whitespace_is_dropped_across_deltas() {
        let mut t = TrimmedWhitespace::new("\n\n".into());
        assert_eq!(t.text("\n"), "");
        assert_eq!(t.text("\nNext"), "Next");
        assert_eq!(t.text("\n\nmore"), "\n\nmore");
    }

    #[test]
    fn extra_whitespace_and_other_whitespace_are_kept() {
        let mut t = TrimmedWhitespace::new(" ".into());
        assert_eq!(t.text("  two spaces"), " two spaces");
        let mut t = TrimmedWhitespace::new(" ".into());
        assert_eq!(t.text("\nline"), "\nline");
        let mut t = TrimmedWhitespace::new(" ".into());
        assert_eq!(t.text("word"), "word");
        let mut t = TrimmedWhitespace::new(String::new());
        assert_eq!(t.text(" word"), " word");
    }

    #[test]
    fn empty_deltas_are_dropped_and_tool_calls_end_the_match() {
        use steadfast_providers_core::ToolCallDelta;
        let mut t = TrimmedWhitespace::new(" \n".into());
        assert_eq!(t.event(StreamEvent::TextDelta { text: " ".into() }), None);
        let call = StreamEvent::ToolCallDelta(ToolCallDelta::default());
        assert_eq!(t.event(call.clone()), Some(call));
        assert_eq!(
            t.event(StreamEvent::TextDelta { text: "\nx".into() }),
            Some(StreamEvent::TextDelta { text: "\nx".into() })
        );
    }

    #[test]
    fn model_ids_are_parsed_by_version() {
        for yes in [
            "claude-3-5-sonnet-20241022",
            "claude-3-haiku-20240307",
            "claude-2.1",
            "claude-instant-1.2",
            "claude-opus-4-1",
            "claude-opus-4-1-20250805",
            "claude-sonnet-4-20250514",
            "claude-sonnet-4-5",
            "claude-opus-4-5-20251101",
            "CLAUDE-SONNET-4-5",
        ] {
            assert!(accepts_prefill(yes), "{yes}");
        }
        for no in [
            "claude-opus-4-6",
            "claude-sonnet-4-6",
            "claude-opus-4-7",
            "claude-sonnet-5",
            "claude-opus-10-0",
            "gpt-4o",
            "",
            "claude-",
        ] {
            assert!(!accepts_prefill(no), "{no}");
        }
    }

    #[test]
    fn thinking_rules_prefill_out() {
        let mut req = ChatRequest::default();
        assert!(!thinking_enabled(&req));
        req.extra.insert(
            "thinking".into(),
            serde_json::json!({"type": "enabled", "budget_tokens": 2048}),
        );
        assert!(thinking_enabled(&req));
        req.extra
            .insert("thinking".into(), serde_json::json!({"type": "disabled"}));
        assert!(!thinking_enabled(&req));
        req.extra
            .insert("thinking".into(), serde_json::json!({"type": "adaptive"}));
        assert!(thinking_enabled(&req));
    }
}
