//! The two wire formats the fault server speaks: reading a chat request, and writing the
//! answer as OpenAI chat-completion chunks or Anthropic Messages events (or whole bodies).
//!
//! Shapes are copied from real traffic (the fixtures under `tests/conformance/`): field
//! order, the OpenAI role chunk with `"content":""` and the `choices: []` usage chunk,
//! Anthropic's `ping` with its space, `message_delta` with cumulative `output_tokens`.

use serde_json::Value;

use crate::text::count_words;

use super::ServerConfig;

mod gemini;
mod ollama;
mod tool;

pub(crate) use tool::{TOOL_NAME, arguments as tool_arguments};

/// A fixed `created` timestamp, so bodies are deterministic.
const CREATED: u64 = 1_735_689_600;

/// Which wire format a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `POST …/chat/completions`.
    OpenAi,
    /// `POST …/messages`.
    Anthropic,
    /// `POST …/models/{model}:generateContent` or `:streamGenerateContent`.
    Gemini,
    /// `POST …/api/chat` (NDJSON when streamed).
    Ollama,
}

impl Dialect {
    /// The dialect of a chat request path, if it is one.
    pub(crate) fn of_path(path: &str) -> Option<Dialect> {
        if path.ends_with("/chat/completions") {
            Some(Dialect::OpenAi)
        } else if path.ends_with("/messages") {
            Some(Dialect::Anthropic)
        } else if path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent") {
            Some(Dialect::Gemini)
        } else if path.ends_with("/api/chat") {
            Some(Dialect::Ollama)
        } else {
            None
        }
    }

    /// The header that carries the request id in this dialect.
    pub(crate) fn request_id_header(self) -> &'static str {
        match self {
            Dialect::Anthropic => "request-id",
            Dialect::OpenAi | Dialect::Gemini | Dialect::Ollama => "x-request-id",
        }
    }
}

/// A JSON string literal.
pub(super) fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The text of a message `content`: a string, or the `text` of its parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

fn is_assistant(message: &Value) -> bool {
    matches!(
        message.get("role").and_then(Value::as_str),
        Some("assistant" | "model")
    )
}

/// The partial answer a request asks to continue: its last assistant message, when nothing
/// follows it but user turns asking to continue (a best-effort continuation adds one, e.g.
/// "Your previous reply was cut off. Continue it…"); empty otherwise.
pub(crate) fn continued_prefix(messages: &[Value]) -> String {
    let Some(at) = messages.iter().rposition(is_assistant) else {
        return String::new();
    };
    let asks_to_continue = messages[at + 1..].iter().all(|m| {
        content_text(m.get("content").unwrap_or(&Value::Null))
            .to_ascii_lowercase()
            .contains("continue")
    });
    if asks_to_continue {
        content_text(messages[at].get("content").unwrap_or(&Value::Null))
    } else {
        String::new()
    }
}

/// A chat request, understood.
#[derive(Debug)]
pub(crate) struct ChatCall {
    pub(crate) dialect: Dialect,
    pub(crate) stream: bool,
    /// Whether the request asked to continue a partial answer (it carried a prefix).
    pub(crate) continued: bool,
    model: String,
    include_usage: bool,
    /// The answer ends with a tool call (the request offered tools; streams only), for an
    /// answer of this many tokens.
    tool: Option<usize>,
    /// The content chunks of the answer (tokens grouped by `tokens_per_chunk`).
    pieces: Vec<String>,
    /// Whether `max_tokens` cut the answer short.
    truncated: bool,
    input_tokens: u64,
    output_tokens: u64,
    id: String,
}

/// Reads a chat request body; a request the real API would refuse gives its status and
/// error body.
pub(crate) fn parse_chat(
    dialect: Dialect,
    path: &str,
    body: &[u8],
    config: &ServerConfig,
    index: u64,
) -> Result<ChatCall, (u16, String)> {
    let invalid = |message: &str| (400, error_body(dialect, 400, Some(message)));
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| invalid("We could not parse the JSON body of your request."))?;
    // Gemini and Ollama requests, read in the OpenAI shape the rest of this function reads.
    let v = match dialect {
        Dialect::Gemini => gemini::as_chat(&v, path),
        Dialect::Ollama => ollama::as_chat(&v),
        Dialect::OpenAi | Dialect::Anthropic => v,
    };
    let messages = v
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("messages: Field required"))?;
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_owned();
    let stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let offers_tools = v
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    let include_usage = v
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_u64));

    let mut input_tokens = match v.get("system") {
        Some(system) => count_words(&content_text(system)),
        None => 0,
    };
    for m in messages {
        input_tokens += count_words(&content_text(m.get("content").unwrap_or(&Value::Null)));
    }
    let ends_with_assistant = messages.last().is_some_and(is_assistant);
    let prefix = continued_prefix(messages);
    if dialect == Dialect::Anthropic && ends_with_assistant {
        if !config.anthropic_prefill {
            return Err(invalid(
                "This model does not support assistant message prefill. The conversation must end with a user message.",
            ));
        }
        if prefix.ends_with(char::is_whitespace) {
            return Err(invalid(
                "messages: final assistant content cannot end with trailing whitespace",
            ));
        }
    }

    let units = config.continuation.chunks(&prefix, config.answer_tokens);
    let limit = max_tokens.map_or(usize::MAX, |n| n.min(usize::MAX as u64) as usize);
    let truncated = units.len() > limit;
    let units = &units[..units.len().min(limit)];
    let pieces = units
        .chunks(config.tokens_per_chunk.max(1))
        .map(<[String]>::concat)
        .collect();
    let id = match dialect {
        Dialect::OpenAi => format!("chatcmpl-mock{index:08}"),
        Dialect::Anthropic => format!("msg_mock{index:08}"),
        Dialect::Gemini => format!("resp_mock{index:08}"),
        Dialect::Ollama => String::new(),
    };
    Ok(ChatCall {
        dialect,
        stream,
        continued: !prefix.is_empty(),
        model,
        include_usage,
        tool: (offers_tools && stream).then_some(config.answer_tokens),
        pieces,
        truncated,
        input_tokens,
        output_tokens: units.iter().map(|u| count_words(u)).sum(),
        id,
    })
}

/// An answer laid out for writing: the events (or body pieces) before the content, one per
/// content chunk, and after it (the last one is the terminator), plus what the body faults
/// put in.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Streamed events (chunked) or one JSON body (content-length).
    pub(crate) streamed: bool,
    /// The response's content type.
    pub(crate) content_type: &'static str,
    pub(crate) preamble: Vec<String>,
    pub(crate) content: Vec<String>,
    pub(crate) epilogue: Vec<String>,
    /// The in-band error: an event, or a whole body for a JSON answer.
    pub(crate) in_band_error: String,
    /// A malformed event, or a body suffix that breaks the JSON.
    pub(crate) malformed: String,
    /// The usage (input, output tokens) the whole answer reports, if it reports any.
    pub(crate) usage: Option<(u64, u64)>,
    /// The most output tokens a client can fairly bill for this answer if it ends early or
    /// reports no usage: its reported count, or one token per 4 characters of its text and
    /// tool arguments (rounded up), whichever is more (0 for what is not an answer).
    pub(crate) bill_bound: u64,
}

/// The content type of server-sent events.
const SSE: &str = "text/event-stream; charset=utf-8";

/// The largest piece a JSON body is written in; body faults count these pieces.
pub(crate) const JSON_PIECE: usize = 64;

impl ChatCall {
    /// The answer, laid out.
    pub(crate) fn layout(&self) -> Layout {
        let reports = !self.stream || self.include_usage || self.dialect != Dialect::OpenAi;
        let mut layout = self.layout_body();
        layout.usage = reports.then_some((self.input_tokens, self.output_tokens));
        let text: usize = self.pieces.iter().map(|p| p.chars().count()).sum();
        let args = match (self.tool, self.truncated) {
            (Some(tokens), false) => tool_arguments(tokens).chars().count(),
            _ => 0,
        };
        layout.bill_bound = self
            .output_tokens
            .max((text.div_ceil(4) + args.div_ceil(4)) as u64)
            .max(1);
        layout
    }

    fn layout_body(&self) -> Layout {
        match (self.dialect, self.stream) {
            (Dialect::OpenAi, true) => self.openai_stream(),
            (Dialect::Anthropic, true) => self.anthropic_stream(),
            (Dialect::Gemini, true) => self.gemini_stream(),
            (Dialect::Ollama, true) => self.ollama_stream(),
            (dialect, false) => {
                let body = match dialect {
                    Dialect::OpenAi => self.openai_body(),
                    Dialect::Anthropic => self.anthropic_body(),
                    Dialect::Gemini => self.gemini_body(),
                    Dialect::Ollama => self.ollama_body(),
                };
                Layout {
                    streamed: false,
                    content_type: "application/json",
                    preamble: Vec::new(),
                    content: split_pieces(&body, JSON_PIECE),
                    epilogue: Vec::new(),
                    in_band_error: in_band_body(dialect),
                    malformed: "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"
                        .to_owned(),
                    usage: None,
                    bill_bound: 0,
                }
            }
        }
    }

    fn text(&self) -> String {
        self.pieces.concat()
    }

    fn openai_chunk(&self, choices: &str) -> String {
        format!(
            "data: {{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\"model\":{},\"system_fingerprint\":\"fp_mock\",\"choices\":[{choices}]}}\n\n",
            js(&self.id),
            js(&self.model),
        )
    }

    fn openai_usage(&self) -> String {
        format!(
            "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{}}}",
            self.input_tokens,
            self.output_tokens,
            self.input_tokens + self.output_tokens
        )
    }

    fn openai_stream(&self) -> Layout {
        let preamble = vec![self.openai_chunk(
            "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}",
        )];
        let mut content: Vec<String> = self
            .pieces
            .iter()
            .map(|p| {
                self.openai_chunk(&format!(
                    "{{\"index\":0,\"delta\":{{\"content\":{}}},\"logprobs\":null,\"finish_reason\":null}}",
                    js(p)
                ))
            })
            .collect();
        let finish = match self.tool {
            _ if self.truncated => "length",
            Some(tokens) => {
                content.extend(self.openai_tool_chunks(tokens));
                "tool_calls"
            }
            None => "stop",
        };
        let mut epilogue = vec![self.openai_chunk(&format!(
            "{{\"index\":0,\"delta\":{{}},\"logprobs\":null,\"finish_reason\":\"{finish}\"}}"
        ))];
        if self.include_usage {
            epilogue.push(format!(
                "data: {{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\"model\":{},\"system_fingerprint\":\"fp_mock\",\"choices\":[],\"usage\":{}}}\n\n",
                js(&self.id),
                js(&self.model),
                self.openai_usage()
            ));
        }
        epilogue.push("data: [DONE]\n\n".to_owned());
        Layout {
            streamed: true,
            content_type: SSE,
            preamble,
            content,
            epilogue,
            // OpenRouter's documented mid-stream error chunk, with OpenAI's overloaded code.
            in_band_error: format!(
                "data: {{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\"model\":{},\"error\":{{\"message\":\"The server is overloaded. Please try again later.\",\"type\":\"server_error\",\"param\":null,\"code\":\"server_is_overloaded\"}},\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"\"}},\"finish_reason\":\"error\"}}]}}\n\n",
                js(&self.id),
                js(&self.model)
            ),
            malformed: format!(
                "data: {{\"id\":{},\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\n\n",
                js(&self.id)
            ),
            usage: None,
            bill_bound: 0,
        }
    }

    fn openai_body(&self) -> String {
        let finish = if self.truncated { "length" } else { "stop" };
        format!(
            "{{\"id\":{},\"object\":\"chat.completion\",\"created\":{CREATED},\"model\":{},\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":{},\"refusal\":null,\"annotations\":[]}},\"logprobs\":null,\"finish_reason\":\"{finish}\"}}],\"usage\":{},\"system_fingerprint\":\"fp_mock\"}}",
            js(&self.id),
            js(&self.model),
            js(&self.text()),
            self.openai_usage()
        )
    }

    fn anthropic_event(ty: &str, data: &str) -> String {
        format!("event: {ty}\ndata: {data}\n\n")
    }

    fn anthropic_stream(&self) -> Layout {
        let preamble = vec![
            Self::anthropic_event(
                "message_start",
                &format!(
                    "{{\"type\":\"message_start\",\"message\":{{\"id\":{},\"type\":\"message\",\"role\":\"assistant\",\"model\":{},\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}}}}",
                    js(&self.id),
                    js(&self.model),
                    self.input_tokens
                ),
            ),
            Self::anthropic_event(
                "content_block_start",
                "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
            ),
            Self::anthropic_event("ping", "{\"type\": \"ping\"}"),
        ];
        let mut content: Vec<String> = self
            .pieces
            .iter()
            .map(|p| {
                Self::anthropic_event(
                    "content_block_delta",
                    &format!(
                        "{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{}}}}}",
                        js(p)
                    ),
                )
            })
            .collect();
        let (stop, last_block) = match self.tool {
            _ if self.truncated => ("max_tokens", 0),
            Some(tokens) => {
                content.extend(self.anthropic_tool_events(tokens));
                ("tool_use", 1)
            }
            None => ("end_turn", 0),
        };
        let epilogue = vec![
            Self::anthropic_event(
                "content_block_stop",
                &format!("{{\"type\":\"content_block_stop\",\"index\":{last_block}}}"),
            ),
            Self::anthropic_event(
                "message_delta",
                &format!(
                    "{{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"{stop}\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{}}}}}",
                    self.output_tokens
                ),
            ),
            Self::anthropic_event("message_stop", "{\"type\":\"message_stop\"}"),
        ];
        Layout {
            streamed: true,
            content_type: SSE,
            preamble,
            content,
            epilogue,
            // Verbatim from Anthropic's streaming docs (error events).
            in_band_error: Self::anthropic_event(
                "error",
                "{\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}",
            ),
            malformed: "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\n\n".to_owned(),
            usage: None,
            bill_bound: 0,
        }
    }

    fn anthropic_body(&self) -> String {
        let stop = if self.truncated {
            "max_tokens"
        } else {
            "end_turn"
        };
        format!(
            "{{\"id\":{},\"type\":\"message\",\"role\":\"assistant\",\"model\":{},\"content\":[{{\"type\":\"text\",\"text\":{}}}],\"stop_reason\":\"{stop}\",\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":{}}}}}",
            js(&self.id),
            js(&self.model),
            js(&self.text()),
            self.input_tokens,
            self.output_tokens
        )
    }
}

/// Splits a body into pieces of at most `size` bytes, at character boundaries.
fn split_pieces(body: &str, size: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < body.len() {
        let mut end = (start + size).min(body.len());
        while !body.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(body[start..end].to_owned());
        start = end;
    }
    pieces
}

/// The error object of an overloaded provider as the whole body of a 200.
fn in_band_body(dialect: Dialect) -> String {
    match dialect {
        Dialect::OpenAi => "{\"error\":{\"message\":\"The server is overloaded. Please try again later.\",\"type\":\"server_error\",\"param\":null,\"code\":\"server_is_overloaded\"}}".to_owned(),
        Dialect::Anthropic => "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}".to_owned(),
        Dialect::Gemini => gemini::error_body(503, None),
        Dialect::Ollama => ollama::error_body(503, None),
    }
}

/// A realistic error body for `status` in `dialect`, with `message` or the provider's usual
/// wording.
pub(crate) fn error_body(dialect: Dialect, status: u16, message: Option<&str>) -> String {
    match dialect {
        Dialect::Gemini => gemini::error_body(status, message),
        Dialect::Ollama => ollama::error_body(status, message),
        Dialect::Anthropic => {
            let (ty, default) = match status {
                401 => ("authentication_error", "invalid x-api-key"),
                402 => (
                    "billing_error",
                    "Your credit balance is too low to access the Anthropic API.",
                ),
                403 => (
                    "permission_error",
                    "Your API key does not have permission to use the specified resource.",
                ),
                404 => (
                    "not_found_error",
                    "The requested resource could not be found.",
                ),
                413 => (
                    "request_too_large",
                    "Request exceeds the maximum allowed size.",
                ),
                429 => (
                    "rate_limit_error",
                    "Number of request tokens has exceeded your per-minute rate limit.",
                ),
                503 | 529 => ("overloaded_error", "Overloaded"),
                504 => ("timeout_error", "Request timed out."),
                400..=499 => ("invalid_request_error", "Invalid request."),
                _ => ("api_error", "Internal server error"),
            };
            format!(
                "{{\"type\":\"error\",\"error\":{{\"type\":\"{ty}\",\"message\":{}}},\"request_id\":\"req_mock\"}}",
                js(message.unwrap_or(default))
            )
        }
        Dialect::OpenAi => {
            let (ty, code, default) = match status {
                401 => (
                    "invalid_request_error",
                    Some("invalid_api_key"),
                    "Incorrect API key provided.",
                ),
                403 => (
                    "invalid_request_error",
                    Some("unsupported_country_region_territory"),
                    "Country, region, or territory not supported.",
                ),
                404 => (
                    "invalid_request_error",
                    Some("model_not_found"),
                    "The model does not exist or you do not have access to it.",
                ),
                429 => (
                    "requests",
                    Some("rate_limit_exceeded"),
                    "Rate limit reached for requests per min (RPM).",
                ),
                503 | 529 => (
                    "server_error",
                    Some("server_is_overloaded"),
                    "The server is overloaded. Please try again later.",
                ),
                400..=499 => ("invalid_request_error", None, "Invalid request."),
                _ => (
                    "server_error",
                    None,
                    "The server had an error while processing your request. Sorry about that!",
                ),
            };
            let code = code.map_or("null".to_owned(), js);
            format!(
                "{{\"error\":{{\"message\":{},\"type\":\"{ty}\",\"param\":null,\"code\":{code}}}}}",
                js(message.unwrap_or(default))
            )
        }
    }
}

/// The model list served at `GET …/models`, readable as OpenAI's and as Anthropic's shape.
pub(crate) fn models_body(models: &[String]) -> String {
    let data: Vec<String> = models
        .iter()
        .map(|m| {
            format!(
                "{{\"id\":{0},\"object\":\"model\",\"type\":\"model\",\"created\":{CREATED},\"created_at\":\"2025-01-01T00:00:00Z\",\"display_name\":{0},\"owned_by\":\"steadfast-mock\"}}",
                js(m)
            )
        })
        .collect();
    let first = models.first().map_or("null".to_owned(), |m| js(m));
    let last = models.last().map_or("null".to_owned(), |m| js(m));
    format!(
        "{{\"object\":\"list\",\"data\":[{}],\"has_more\":false,\"first_id\":{first},\"last_id\":{last}}}",
        data.join(",")
    )
}
