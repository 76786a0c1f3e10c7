//! `StreamState`: everything a stream has delivered so far, and how far it got.

use std::collections::BTreeMap;

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{FinishReason, StreamEvent, ToolCall, Usage};

/// The most tool calls one answer may open: 128. A stream that opens more (distinct
/// indices) is refused with a `protocol` error by the decoders; [`StreamState`] keeps the
/// first 128, ignores the rest and records the same error, so memory never grows with the
/// number of indices a server invents.
pub const MAX_TOOL_CALLS: usize = 128;

/// The `protocol` error for an answer that opens more than [`MAX_TOOL_CALLS`] tool calls.
pub(crate) fn too_many_tool_calls(provider: &'static str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Protocol,
        provider,
        format!("the stream opened more than {MAX_TOOL_CALLS} tool calls"),
    )
    .with_first_byte_received(true)
}

/// How far a stream got: after the first token a failure can no longer be a silent retry —
/// the answer must be resumed or end as explicitly incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CommitPoint {
    /// Nothing received yet.
    None,
    /// The response headers arrived (set by the transport layer).
    Headers,
    /// Some bytes of the body arrived.
    FirstByte,
    /// Some content (text, reasoning, refusal or a tool call) arrived.
    FirstToken,
}

/// Accumulates a stream's events: final text, reasoning, tool calls (arguments joined), usage,
/// finish reason, counts, and the commit point reached.
///
/// ```
/// use steadfast_providers_core::{StreamEvent, ToolCallDelta};
/// use steadfast_streaming::{CommitPoint, StreamState};
///
/// let mut state = StreamState::default();
/// state.apply(&StreamEvent::TextDelta { text: "Hel".into() });
/// state.apply(&StreamEvent::TextDelta { text: "lo".into() });
/// state.apply(&StreamEvent::ToolCallDelta(ToolCallDelta { index: 0, id: Some("c1".into()), name: Some("f".into()), arguments: "{\"a\":".into() }));
/// state.apply(&StreamEvent::ToolCallDelta(ToolCallDelta { index: 0, id: None, name: None, arguments: "1}".into() }));
/// assert_eq!(state.text(), "Hello");
/// assert_eq!(state.tool_calls()[0].arguments, "{\"a\":1}");
/// assert_eq!(state.commit_point(), CommitPoint::FirstToken);
/// ```
#[derive(Debug, Clone)]
pub struct StreamState {
    text: String,
    reasoning: String,
    reasoning_signature: String,
    refusal: String,
    tools: BTreeMap<u32, ToolBuilder>,
    usage: Option<Usage>,
    finish: Option<(FinishReason, String)>,
    id: Option<String>,
    model: Option<String>,
    events: u64,
    bytes: u64,
    commit: CommitPoint,
    complete: bool,
    error: Option<ProviderError>,
}

#[derive(Debug, Clone, Default)]
struct ToolBuilder {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
}

impl Default for StreamState {
    fn default() -> Self {
        StreamState {
            text: String::new(),
            reasoning: String::new(),
            reasoning_signature: String::new(),
            refusal: String::new(),
            tools: BTreeMap::new(),
            usage: None,
            finish: None,
            id: None,
            model: None,
            events: 0,
            bytes: 0,
            commit: CommitPoint::None,
            complete: false,
            error: None,
        }
    }
}

impl StreamState {
    /// Applies one event.
    pub fn apply(&mut self, event: &StreamEvent) {
        self.events = self.events.saturating_add(1);
        self.reach(CommitPoint::FirstByte);
        match event {
            StreamEvent::Start { id, model } => {
                if self.id.is_none() {
                    self.id.clone_from(id);
                }
                if self.model.is_none() {
                    self.model.clone_from(model);
                }
            }
            StreamEvent::TextDelta { text } => {
                self.text.push_str(text);
                self.reach(CommitPoint::FirstToken);
            }
            StreamEvent::ReasoningDelta { text } => {
                self.reasoning.push_str(text);
                self.reach(CommitPoint::FirstToken);
            }
            StreamEvent::ReasoningSignature { signature } => {
                self.reasoning_signature.push_str(signature)
            }
            StreamEvent::RefusalDelta { text } => {
                self.refusal.push_str(text);
                self.reach(CommitPoint::FirstToken);
            }
            StreamEvent::ToolCallDelta(d) => {
                if !self.tools.contains_key(&d.index) && self.tools.len() >= MAX_TOOL_CALLS {
                    if self.error.is_none() {
                        self.error = Some(too_many_tool_calls("stream"));
                    }
                    return;
                }
                let t = self.tools.entry(d.index).or_default();
                if t.id.is_none() {
                    t.id.clone_from(&d.id);
                }
                if t.name.is_none() {
                    t.name.clone_from(&d.name);
                }
                t.arguments.push_str(&d.arguments);
                self.reach(CommitPoint::FirstToken);
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Finish { reason, raw } => self.finish = Some((*reason, raw.clone())),
            StreamEvent::Done => self.complete = true,
            // KeepAlive and event kinds added later carry no content.
            _ => {}
        }
    }

    /// Records the error that ended the stream. A tool call past [`MAX_TOOL_CALLS`] records a
    /// `protocol` error here by itself and is not kept.
    pub fn apply_error(&mut self, error: &ProviderError) {
        self.error = Some(error.clone());
    }

    /// Records body bytes received (for counts; also marks the first byte).
    pub fn add_bytes(&mut self, n: u64) {
        self.bytes = self.bytes.saturating_add(n);
        if n > 0 {
            self.reach(CommitPoint::FirstByte);
        }
    }

    /// Marks a commit point reached outside the events (e.g. headers).
    pub fn reach(&mut self, point: CommitPoint) {
        self.commit = self.commit.max(point);
    }

    /// The answer text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The reasoning text so far, kept apart from the answer.
    pub fn reasoning(&self) -> &str {
        &self.reasoning
    }

    /// The reasoning signature (Anthropic), if any.
    pub fn reasoning_signature(&self) -> &str {
        &self.reasoning_signature
    }

    /// The refusal text so far (OpenAI), kept apart from the answer.
    pub fn refusal(&self) -> &str {
        &self.refusal
    }

    /// Tool calls assembled so far, in index order (arguments joined, not yet validated).
    pub fn tool_calls(&self) -> Vec<ToolCall> {
        self.tools
            .values()
            .map(|t| ToolCall {
                id: t.id.clone().or_else(|| t.name.clone()).unwrap_or_default(),
                name: t.name.clone().unwrap_or_default(),
                arguments: t.arguments.clone(),
            })
            .collect()
    }

    /// Whether some tool call's arguments are not (yet) valid JSON: the stream is inside a
    /// tool call, where a cut must not be spliced.
    pub fn inside_tool_call(&self) -> bool {
        self.tools.values().any(|t| {
            !t.arguments.trim().is_empty()
                && serde_json::from_str::<serde::de::IgnoredAny>(&t.arguments).is_err()
        })
    }

    /// The last usage the stream reported.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The finish reason, if the stream reported one.
    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.finish.as_ref().map(|(r, _)| *r)
    }

    /// The provider's own finish string.
    pub fn finish_raw(&self) -> Option<&str> {
        self.finish.as_ref().map(|(_, raw)| raw.as_str())
    }

    /// The provider's id for the answer.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The model that answered.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Events applied.
    pub fn event_count(&self) -> u64 {
        self.events
    }

    /// Body bytes recorded with [`add_bytes`](Self::add_bytes).
    pub fn byte_count(&self) -> u64 {
        self.bytes
    }

    /// The furthest commit point reached.
    pub fn commit_point(&self) -> CommitPoint {
        self.commit
    }

    /// Whether the stream reached its proper terminator.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The error that ended the stream, if one did.
    pub fn error(&self) -> Option<&ProviderError> {
        self.error.as_ref()
    }
}
