//! `ChatResponse`: a whole (non-streamed) answer in provider-neutral terms.

use serde::{Deserialize, Serialize};

use crate::{FinishReason, ToolCall, Usage};

/// A complete answer, whether it arrived whole or was assembled from a stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatResponse {
    /// The provider's id for the answer.
    pub id: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// The answer text.
    pub text: String,
    /// Reasoning text, kept apart from the answer.
    pub reasoning: String,
    /// A refusal message, kept apart from the answer.
    pub refusal: String,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why the answer ended.
    pub finish_reason: Option<FinishReason>,
    /// The provider's own finish string.
    pub finish_raw: Option<String>,
    /// Token counts.
    pub usage: Option<Usage>,
}
