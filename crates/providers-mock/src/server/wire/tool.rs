//! The tool call the fault server adds to an answer when the request offers tools: a fixed
//! call whose arguments stream in small pieces, so that a cut can land inside it.

use super::{ChatCall, js};

/// The tool name the server calls.
pub(crate) const TOOL_NAME: &str = "count";
/// The id of the call.
const TOOL_ID: &str = "call_mock_count";
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
}
