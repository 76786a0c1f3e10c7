//! Gemini's `generateContent` / `streamGenerateContent?alt=sse`: the request read into the
//! common shape, the answer as SSE chunks (CRLF framed, no terminator but the chunk with a
//! `finishReason`), and Google's error bodies.
//!
//! Shapes follow the fixtures under `tests/conformance/streams/gemini/` (Google's `"key":
//! value` spacing, `usageMetadata` on every chunk, a raw JSON error object as the body's tail
//! when the model fails mid-stream).

use serde_json::{Value, json};

use super::{ChatCall, Layout, SSE, js};

/// A Gemini request as `{model, stream, messages, system, max_tokens}`: the model and the
/// stream flag come from the path, `contents[].parts[].text` become messages (role `model`
/// is the assistant), and `tools` stays when it declares functions.
pub(super) fn as_chat(v: &Value, path: &str) -> Value {
    let last = path.rsplit('/').next().unwrap_or("");
    let (model, method) = last.split_once(':').unwrap_or((last, ""));
    let text = |c: &Value| -> String {
        c.get("parts")
            .and_then(Value::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    };
    let messages: Vec<Value> = v
        .get("contents")
        .and_then(Value::as_array)
        .map(|contents| {
            contents
                .iter()
                .map(|c| json!({"role": c.get("role").cloned().unwrap_or(Value::Null), "content": text(c)}))
                .collect()
        })
        .unwrap_or_default();
    let mut out = json!({
        "model": model,
        "stream": method == "streamGenerateContent",
        "messages": messages,
    });
    if let Some(system) = v.get("systemInstruction") {
        out["system"] = Value::String(text(system));
    }
    let declares_functions = v
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| {
            tools.iter().any(|t| {
                t.get("functionDeclarations")
                    .and_then(Value::as_array)
                    .is_some_and(|d| !d.is_empty())
            })
        });
    if declares_functions {
        out["tools"] = v["tools"].clone();
    }
    if let Some(n) = v.pointer("/generationConfig/maxOutputTokens") {
        out["max_tokens"] = n.clone();
    }
    out
}

impl ChatCall {
    fn gemini_usage(&self, done: bool) -> String {
        if done {
            format!(
                "{{\"promptTokenCount\": {},\"candidatesTokenCount\": {},\"totalTokenCount\": {}}}",
                self.input_tokens,
                self.output_tokens,
                self.input_tokens + self.output_tokens
            )
        } else {
            format!(
                "{{\"promptTokenCount\": {0},\"totalTokenCount\": {0}}}",
                self.input_tokens
            )
        }
    }

    fn gemini_chunk(&self, text: &str, finish: Option<&str>) -> String {
        let finish = finish.map_or(String::new(), |f| {
            format!(",\"finishReason\": \"{f}\",\"index\": 0")
        });
        format!(
            "data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": {}}}],\"role\": \"model\"}}{finish}}}],\"usageMetadata\": {},\"modelVersion\": {},\"responseId\": {}}}\r\n\r\n",
            js(text),
            self.gemini_usage(!finish.is_empty()),
            js(&self.model),
            js(&self.id),
        )
    }

    /// One chunk per content piece, then the tool call's chunk when the answer ends with one.
    fn gemini_content(&self) -> Vec<String> {
        let mut content: Vec<String> = self
            .pieces
            .iter()
            .map(|p| self.gemini_chunk(p, None))
            .collect();
        if let (Some(tokens), false) = (self.tool, self.truncated) {
            content.push(format!(
                "data: {{\"candidates\": [{{\"content\": {{\"parts\": [{}],\"role\": \"model\"}}}}],\"usageMetadata\": {},\"modelVersion\": {},\"responseId\": {}}}\r\n\r\n",
                Self::gemini_tool_part(tokens),
                self.gemini_usage(false),
                js(&self.model),
                js(&self.id),
            ));
        }
        content
    }

    fn gemini_finish(&self) -> &'static str {
        if self.truncated { "MAX_TOKENS" } else { "STOP" }
    }

    pub(super) fn gemini_stream(&self) -> Layout {
        Layout {
            streamed: true,
            content_type: SSE,
            preamble: Vec::new(),
            content: self.gemini_content(),
            epilogue: vec![self.gemini_chunk("", Some(self.gemini_finish()))],
            // Verbatim in shape from a real mid-stream failure: the error object as raw JSON.
            in_band_error: format!("{}\n", error_json(503, None, true)),
            malformed: "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \r\n\r\n"
                .to_owned(),
            usage: None,
            bill_bound: 0,
        }
    }

    pub(super) fn gemini_body(&self) -> String {
        format!(
            "{{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": {}}}],\"role\": \"model\"}},\"finishReason\": \"{}\",\"index\": 0}}],\"usageMetadata\": {},\"modelVersion\": {},\"responseId\": {}}}",
            js(&self.text()),
            self.gemini_finish(),
            self.gemini_usage(true),
            js(&self.model),
            js(&self.id),
        )
    }
}

/// Google's status name and usual message for an HTTP status.
fn status_of(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ),
        403 => ("PERMISSION_DENIED", "The caller does not have permission."),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        429 => (
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        ),
        500 => ("INTERNAL", "An internal error has occurred."),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        _ if status >= 500 => (
            "UNAVAILABLE",
            "This model is currently experiencing high demand. Spikes in demand are usually temporary. Please try again later.",
        ),
        _ => ("FAILED_PRECONDITION", "Precondition check failed."),
    }
}

fn error_json(status: u16, message: Option<&str>, pretty: bool) -> String {
    let (name, default) = status_of(status);
    let code = if status == 529 { 503 } else { status };
    if pretty {
        format!(
            "{{\n  \"error\": {{\n    \"code\": {code},\n    \"message\": {},\n    \"status\": \"{name}\"\n  }}\n}}",
            js(message.unwrap_or(default))
        )
    } else {
        format!(
            "{{\"error\":{{\"code\":{code},\"message\":{},\"status\":\"{name}\"}}}}",
            js(message.unwrap_or(default))
        )
    }
}

/// Gemini's error body for `status`.
pub(super) fn error_body(status: u16, message: Option<&str>) -> String {
    error_json(status, message, true)
}
