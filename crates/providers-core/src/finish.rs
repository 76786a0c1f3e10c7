//! `FinishReason`: why the model stopped, in provider-neutral terms.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an answer ended.
///
/// The provider's own string is kept next to it where it matters (see
/// [`StreamEvent::Finish`](crate::StreamEvent::Finish)).
///
/// ```
/// use steadfast_providers_core::FinishReason;
///
/// assert_eq!(FinishReason::from_anthropic("end_turn"), FinishReason::Stop);
/// assert_eq!(FinishReason::from_gemini("SAFETY"), FinishReason::ContentFilter);
/// assert_eq!(FinishReason::from_openai("function_call"), FinishReason::ToolCalls);
/// assert_eq!(FinishReason::ToolCalls.as_str(), "tool_calls");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FinishReason {
    /// A natural end or a stop sequence.
    Stop,
    /// The token limit (or the context window) was reached.
    Length,
    /// The model asked for tool calls.
    ToolCalls,
    /// A safety system stopped or refused the answer.
    ContentFilter,
    /// Anything else (paused turns, malformed calls, unknown reasons).
    Other,
}

impl FinishReason {
    /// The `snake_case` name used by the conformance format.
    pub const fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other => "other",
        }
    }

    /// From an OpenAI-compatible `finish_reason`.
    pub fn from_openai(s: &str) -> FinishReason {
        match s {
            "stop" | "eos" | "end_turn" => FinishReason::Stop,
            "length" | "max_tokens" => FinishReason::Length,
            "tool_calls" | "function_call" | "tool_use" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            _ => FinishReason::Other,
        }
    }

    /// From an Anthropic `stop_reason`.
    pub fn from_anthropic(s: &str) -> FinishReason {
        match s {
            "end_turn" | "stop_sequence" => FinishReason::Stop,
            "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
            "tool_use" => FinishReason::ToolCalls,
            "refusal" => FinishReason::ContentFilter,
            _ => FinishReason::Other,
        }
    }

    /// From a Gemini `finishReason`.
    pub fn from_gemini(s: &str) -> FinishReason {
        match s {
            "STOP" => FinishReason::Stop,
            "MAX_TOKENS" => FinishReason::Length,
            "SAFETY" | "RECITATION" | "PROHIBITED_CONTENT" | "BLOCKLIST" | "SPII"
            | "IMAGE_SAFETY" => FinishReason::ContentFilter,
            _ => FinishReason::Other,
        }
    }

    /// From an Ollama `done_reason`.
    pub fn from_ollama(s: &str) -> FinishReason {
        match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            _ => FinishReason::Other,
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
