//! `StreamEvent`: one step of a streamed answer, whatever provider sent it.

use serde::{Deserialize, Serialize};

use crate::{FinishReason, Usage};

/// One decoded step of a streamed answer.
///
/// Text and reasoning are kept apart; tool calls arrive as fragments keyed by `index` and are
/// joined by whoever accumulates them (`steadfast_streaming::StreamState`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum StreamEvent {
    /// The answer began (OpenAI's first chunk, Anthropic `message_start`).
    Start {
        /// The provider's id for the answer.
        id: Option<String>,
        /// The model that answers.
        model: Option<String>,
    },
    /// Answer text.
    TextDelta {
        /// The new text.
        text: String,
    },
    /// Reasoning ("thinking") text, never mixed into the answer.
    ReasoningDelta {
        /// The new reasoning text.
        text: String,
    },
    /// An opaque signature that authenticates the reasoning (Anthropic `signature_delta`).
    ReasoningSignature {
        /// The signature fragment.
        signature: String,
    },
    /// A refusal message (OpenAI `delta.refusal`).
    RefusalDelta {
        /// The new refusal text.
        text: String,
    },
    /// A fragment of a tool call.
    ToolCallDelta(ToolCallDelta),
    /// The usage of this stream so far (cumulative: it replaces the previous report).
    Usage(Usage),
    /// Why the answer ended.
    Finish {
        /// In provider-neutral terms.
        reason: FinishReason,
        /// The provider's own string (`end_turn`, `SAFETY`, …).
        raw: String,
    },
    /// A keep-alive (an SSE comment, a `ping` event): no content, but the connection lives.
    KeepAlive,
    /// The stream's proper terminator arrived (`[DONE]`, `message_stop`, `done: true`, the
    /// final Gemini chunk).
    Done,
}

/// A fragment of a tool call: the first fragment of an index usually carries the id and the
/// name, later ones more of the JSON arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which tool call of the answer this fragment belongs to.
    pub index: u32,
    /// The call's id, when this fragment carries it.
    pub id: Option<String>,
    /// The tool's name, when this fragment carries it.
    pub name: Option<String>,
    /// More of the arguments' JSON text.
    pub arguments: String,
}

/// A whole tool call, as assembled at the end of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as the JSON text the model produced.
    pub arguments: String,
}

impl ToolCall {
    /// The arguments parsed as JSON; an error when the model produced invalid JSON.
    pub fn parsed_arguments(&self) -> Result<serde_json::Value, serde_json::Error> {
        if self.arguments.trim().is_empty() {
            return Ok(serde_json::Value::Object(serde_json::Map::new()));
        }
        serde_json::from_str(&self.arguments)
    }

    /// The arguments as the JSON object that APIs taking structured tool input require
    /// (Anthropic's `tool_use.input`, Gemini's `functionCall.args`); empty text is `{}`. The
    /// error, ready for an `invalid_request` refusal before anything is sent, names the call
    /// and says whether the text is not JSON or JSON that is not an object.
    ///
    /// ```
    /// use steadfast_providers_core::ToolCall;
    ///
    /// let call = |arguments: &str| ToolCall { id: "call_1".into(), name: "f".into(), arguments: arguments.into() };
    /// assert_eq!(call(r#"{"city":"Paris"}"#).object_arguments().unwrap()["city"], "Paris");
    /// assert!(call("").object_arguments().unwrap().is_empty());
    /// assert_eq!(call("[1]").object_arguments().unwrap_err(), "the arguments of tool call `call_1` are not a JSON object");
    /// assert!(call("{").object_arguments().unwrap_err().starts_with("the arguments of tool call `call_1` are not JSON: "));
    /// ```
    pub fn object_arguments(&self) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        match self.parsed_arguments() {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err(format!(
                "the arguments of tool call `{}` are not a JSON object",
                self.id
            )),
            Err(e) => Err(format!(
                "the arguments of tool call `{}` are not JSON: {e}",
                self.id
            )),
        }
    }
}
