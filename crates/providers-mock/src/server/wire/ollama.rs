//! Ollama's native `/api/chat`: the request read into the common shape, the answer as NDJSON
//! lines ending with a `done: true` line, and Ollama's `{"error": "…"}` bodies.
//!
//! Shapes follow the fixtures under `tests/conformance/streams/ollama/` (Go's field order:
//! model, created_at, message, done_reason, done, the counts).

use serde_json::{Value, json};

use super::{ChatCall, Layout, js};

/// `created_at` of every line, so bodies are deterministic.
const CREATED_AT: &str = "2025-01-01T00:00:00Z";

/// An Ollama request as `{model, stream, messages, max_tokens, tools}`: `stream` defaults to
/// true, `options.num_predict` is the token limit.
pub(super) fn as_chat(v: &Value) -> Value {
    let mut out = json!({
        "model": v.get("model").cloned().unwrap_or(Value::Null),
        "stream": v.get("stream").and_then(Value::as_bool).unwrap_or(true),
        "messages": v.get("messages").cloned().unwrap_or(Value::Null),
    });
    if let Some(tools) = v.get("tools") {
        out["tools"] = tools.clone();
    }
    if let Some(n) = v.pointer("/options/num_predict") {
        out["max_tokens"] = n.clone();
    }
    out
}

impl ChatCall {
    fn ollama_line(&self, content: &str) -> String {
        format!(
            "{{\"model\":{},\"created_at\":\"{CREATED_AT}\",\"message\":{{\"role\":\"assistant\",\"content\":{}}},\"done\":false}}\n",
            js(&self.model),
            js(content)
        )
    }

    fn ollama_done(&self, content: &str) -> String {
        let reason = if self.truncated { "length" } else { "stop" };
        format!(
            "{{\"model\":{},\"created_at\":\"{CREATED_AT}\",\"message\":{{\"role\":\"assistant\",\"content\":{}}},\"done_reason\":\"{reason}\",\"done\":true,\"total_duration\":1000,\"load_duration\":10,\"prompt_eval_count\":{},\"prompt_eval_duration\":100,\"eval_count\":{},\"eval_duration\":800}}",
            js(&self.model),
            js(content),
            self.input_tokens,
            self.output_tokens
        )
    }

    pub(super) fn ollama_stream(&self) -> Layout {
        Layout {
            streamed: true,
            content_type: "application/x-ndjson",
            preamble: Vec::new(),
            content: self.ollama_content(),
            epilogue: vec![format!("{}\n", self.ollama_done(""))],
            // A runner crash mid-answer, as Ollama reports it inside the 200.
            in_band_error: "{\"error\":\"llama runner process has terminated: exit status 2\"}\n"
                .to_owned(),
            malformed: format!(
                "{{\"model\":{},\"message\":{{\"role\":\"assistant\",\"content\":\n",
                js(&self.model)
            ),
            usage: None,
            bill_bound: 0,
        }
    }

    /// One line per content piece, then the tool call's line when the answer ends with one.
    fn ollama_content(&self) -> Vec<String> {
        let mut content: Vec<String> = self.pieces.iter().map(|p| self.ollama_line(p)).collect();
        if let (Some(tokens), false) = (self.tool, self.truncated) {
            content.push(format!(
                "{{\"model\":{},\"created_at\":\"{CREATED_AT}\",\"message\":{{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":{}}},\"done\":false}}\n",
                js(&self.model),
                Self::ollama_tool_calls(tokens)
            ));
        }
        content
    }

    pub(super) fn ollama_body(&self) -> String {
        self.ollama_done(&self.text())
    }
}

/// Ollama's error body for `status`.
pub(super) fn error_body(status: u16, message: Option<&str>) -> String {
    let default = match status {
        400 => "invalid request",
        401 => "unauthorized",
        404 => "model 'mock-model' not found, try pulling it first",
        429 => "too many requests",
        503 => "server busy, please try again.  maximum pending requests exceeded",
        _ => "llama runner process has terminated: exit status 2",
    };
    format!("{{\"error\":{}}}", js(message.unwrap_or(default)))
}
