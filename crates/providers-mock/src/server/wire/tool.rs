//! The tool call the fault server adds to an answer when the request offers tools: a fixed
//! call whose arguments stream in small pieces (OpenAI, Anthropic), so that a cut can land
//! inside it, or arrive whole (Gemini, Ollama), as each API sends them.

use super::{ChatCall, js};

/// The tool name the server calls.
pub(crate) const TOOL_NAME: &str = "count";
/// The id of the call.
const TOOL_ID: &str = "call_mock_count";
/// The id of the call in Anthropic's format.
const ANTHROPIC_TOOL_ID: &str = "toolu_mock_count";
/// Bytes per streamed piece of the arguments.
const PIECE: usize = 8;

/// The tool call an answer of `tokens` tokens ends with: its name and its JSON arguments.
pub(crate) fn arguments(tokens: usize) -> String {
    format!(
        "{{\"upto\":{tokens},\"label\":\"count from t0 to t{}\"}}",
        tokens.saturating_sub(1)
    )
}

impl ChatCall {
    /// OpenAI chunks of the tool call: the head (id, name), then the arguments in pieces.
    pub(super) fn openai_tool_chunks(&self, tokens: usize) -> Vec<String> {
        let mut chunks = vec![self.openai_chunk(&format!(
            "{{\"index\":0,\"delta\":{{\"tool_calls\":[{{\"index\":0,\"id\":{},\"type\":\"function\",\"function\":{{\"name\":{},\"arguments\":\"\"}}}}]}},\"logprobs\":null,\"finish_reason\":null}}",
            js(TOOL_ID),
            js(TOOL_NAME)
        ))];
        let args = arguments(tokens);
        for piece in args.as_bytes().chunks(PIECE) {
            let piece = String::from_utf8_lossy(piece);
            chunks.push(self.openai_chunk(&format!(
                "{{\"index\":0,\"delta\":{{\"tool_calls\":[{{\"index\":0,\"function\":{{\"arguments\":{}}}}}]}},\"logprobs\":null,\"finish_reason\":null}}",
                js(&piece)
            )));
        }
        chunks
    }

    /// Anthropic events of the tool call, after the text block (index 0) closed: a
    /// `tool_use` block (index 1) whose input streams as `input_json_delta` pieces. The
    /// block's `content_block_stop` is the epilogue's.
    pub(super) fn anthropic_tool_events(&self, tokens: usize) -> Vec<String> {
        let mut events = vec![
            Self::anthropic_event(
                "content_block_stop",
                "{\"type\":\"content_block_stop\",\"index\":0}",
            ),
            Self::anthropic_event(
                "content_block_start",
                &format!(
                    "{{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{{\"type\":\"tool_use\",\"id\":{},\"name\":{},\"input\":{{}}}}}}",
                    js(ANTHROPIC_TOOL_ID),
                    js(TOOL_NAME)
                ),
            ),
        ];
        let args = arguments(tokens);
        for piece in args.as_bytes().chunks(PIECE) {
            let piece = String::from_utf8_lossy(piece);
            events.push(Self::anthropic_event(
                "content_block_delta",
                &format!(
                    "{{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{{\"type\":\"input_json_delta\",\"partial_json\":{}}}}}",
                    js(&piece)
                ),
            ));
        }
        events
    }

    /// The `functionCall` part of a Gemini answer: Gemini sends a call whole, its `args` a
    /// JSON object.
    pub(super) fn gemini_tool_part(tokens: usize) -> String {
        format!(
            "{{\"functionCall\": {{\"name\": {},\"args\": {}}}}}",
            js(TOOL_NAME),
            arguments(tokens)
        )
    }

    /// The `tool_calls` of an Ollama message: whole, `arguments` a JSON object.
    pub(super) fn ollama_tool_calls(tokens: usize) -> String {
        format!(
            "[{{\"function\":{{\"name\":{},\"arguments\":{}}}}}]",
            js(TOOL_NAME),
            arguments(tokens)
        )
    }
}
