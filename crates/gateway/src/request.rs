//! The OpenAI chat completions request, read into steadfast's [`ChatRequest`]; every
//! refusal names the field at fault.

use serde_json::{Map, Value};
use steadfast_providers_core::{
    ChatRequest, ContentPart, Message, Role, Tool, ToolCall, ToolChoice,
};

use crate::error::ApiError;

mod fields;

use fields::{Messages, Sent, fields};

/// A request refused before any provider was asked: the field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct RequestError {
    /// The field, as a path (`messages[1].role`), or `body`.
    pub param: String,
    /// What is wrong with it.
    pub message: String,
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> ApiError {
        ApiError::bad_request(e.param, e.message)
    }
}

/// A chat completions request, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The model group (`model`).
    pub group: String,
    /// What steadfast sends on.
    pub request: ChatRequest,
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
}

pub(crate) type Result<T> = std::result::Result<T, RequestError>;

pub(crate) fn bad(param: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError {
        param: param.into(),
        message: message.into(),
    }
}

/// Reads a request body. Refusals are 400s naming the field (`messages[1].role`).
///
/// ```
/// use steadfast_gateway::request::parse;
///
/// let body = br#"{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 5, "stream": true}"#;
/// let incoming = parse(body).unwrap();
/// assert_eq!((incoming.group.as_str(), incoming.stream), ("fast", true));
/// assert_eq!(incoming.request.max_tokens, Some(5));
/// let err = parse(br#"{"model": "fast", "messages": [{"role": "robot", "content": "hi"}]}"#).unwrap_err();
/// assert_eq!(err.param, "messages[0].role");
/// ```
pub fn parse(body: &[u8]) -> Result<Incoming> {
    let f = fields(body)?;
    let group = model_of(f.model)?;
    let messages = match f.messages {
        Some(Messages::List(items)) if !items.is_empty() => items
            .into_iter()
            .enumerate()
            .map(|(i, m)| message(i, m))
            .collect::<Result<Vec<_>>>()?,
        Some(Messages::List(_)) => return Err(bad("messages", "`messages` must not be empty")),
        Some(Messages::Other) => return Err(bad("messages", "`messages` must be an array")),
        None => return Err(bad("messages", "`messages` is required")),
    };
    let mut request = ChatRequest::new(group.clone(), messages);
    request.temperature = float_of("temperature", f.temperature.as_ref(), 0.0, 2.0)?;
    request.top_p = float_of("top_p", f.top_p.as_ref(), 0.0, 1.0)?;
    request.max_tokens = match uint_of("max_completion_tokens", f.max_completion_tokens.as_ref())? {
        Some(n) => Some(n),
        None => uint_of("max_tokens", f.max_tokens.as_ref())?,
    };
    request.stop = stop(f.stop.as_ref())?;
    request.tools = tools(f.tools.as_ref())?;
    request.tool_choice = tool_choice(f.tool_choice.as_ref())?;
    request.response_format = match f.response_format {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(_) => {
            return Err(bad(
                "response_format",
                "`response_format` must be an object",
            ));
        }
    };
    if uint_of("n", f.n.as_ref())?.is_some_and(|n| n != 1) {
        return Err(bad("n", "only `n: 1` is supported"));
    }
    // Typed, so each provider sends what its API has and leaves out what it would refuse
    // (Anthropic has no `seed`; `user` becomes its `metadata.user_id`).
    // Not an OpenAI field, but what OpenAI-compatible servers (vLLM, llama.cpp) read.
    request.top_k = uint_of("top_k", f.top_k.as_ref())?;
    request.presence_penalty =
        float_of("presence_penalty", f.presence_penalty.as_ref(), -2.0, 2.0)?;
    request.frequency_penalty =
        float_of("frequency_penalty", f.frequency_penalty.as_ref(), -2.0, 2.0)?;
    request.seed = match f.seed {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| bad("seed", "`seed` must be an integer"))?,
        ),
        Some(_) => return Err(bad("seed", "`seed` must be an integer")),
    };
    request.user = match f.user {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(bad("user", "`user` must be a string")),
    };
    request.parallel_tool_calls = match f.parallel_tool_calls {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => {
            return Err(bad(
                "parallel_tool_calls",
                "`parallel_tool_calls` must be a boolean",
            ));
        }
    };
    request.logit_bias = match f.logit_bias {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(o),
        Some(_) => return Err(bad("logit_bias", "`logit_bias` must be an object")),
    };
    let stream = boolean_of("stream", f.stream.as_ref())?;
    let include_usage = match f.stream_options {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => match o.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(bad(
                    "stream_options.include_usage",
                    "`include_usage` must be a boolean",
                ));
            }
        },
        Some(_) => return Err(bad("stream_options", "`stream_options` must be an object")),
    };
    Ok(Incoming {
        group,
        request,
        stream,
        include_usage,
    })
}

/// The body as a JSON object.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad("body", format!("the body is not valid JSON: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(bad("body", "the body must be a JSON object")),
    }
}

/// `model`: the model group.
pub(crate) fn model(map: &Map<String, Value>) -> Result<String> {
    model_of(map.get("model").cloned())
}

fn model_of(v: Option<Value>) -> Result<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(bad("model", "`model` must be a non-empty string")),
        None => Err(bad("model", "`model` is required: name a model group")),
    }
}

/// A boolean field, false when absent.
pub(crate) fn boolean(map: &Map<String, Value>, key: &str) -> Result<bool> {
    boolean_of(key, map.get(key))
}

fn boolean_of(key: &str, v: Option<&Value>) -> Result<bool> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(key, format!("`{key}` must be a boolean"))),
    }
}

pub(crate) fn float(
    map: &Map<String, Value>,
    key: &str,
    min: f64,
    max: f64,
) -> Result<Option<f32>> {
    float_of(key, map.get(key), min, max)
}

fn float_of(key: &str, v: Option<&Value>, min: f64, max: f64) -> Result<Option<f32>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)]
            Some(x) if (min..=max).contains(&x) => Ok(Some(x as f32)),
            _ => Err(bad(key, format!("`{key}` must be between {min} and {max}"))),
        },
        Some(_) => Err(bad(key, format!("`{key}` must be a number"))),
    }
}

pub(crate) fn uint(map: &Map<String, Value>, key: &str) -> Result<Option<u32>> {
    uint_of(key, map.get(key))
}

fn uint_of(key: &str, v: Option<&Value>) -> Result<Option<u32>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| bad(key, format!("`{key}` must be a positive integer"))),
        Some(_) => Err(bad(key, format!("`{key}` must be a positive integer"))),
    }
}

fn stop(v: Option<&Value>) -> Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if items.len() <= 4 => items
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("stop", "`stop` must hold strings"))
            })
            .collect(),
        Some(_) => Err(bad("stop", "`stop` must be a string or up to 4 strings")),
    }
}

/// A message's role; `at` names the message, formatted only for a refusal.
fn role(at: &dyn Fn() -> String, v: Option<&Value>) -> Result<Role> {
    match v.and_then(Value::as_str) {
        Some("system" | "developer") => Ok(Role::System),
        Some("user") => Ok(Role::User),
        Some("assistant") => Ok(Role::Assistant),
        Some("tool") => Ok(Role::Tool),
        _ => Err(bad(
            format!("{}.role", at()),
            "`role` must be one of system, developer, user, assistant, tool",
        )),
    }
}

/// Message `i`, taken apart: its strings move into the core message, uncopied.
fn message(i: usize, sent: Sent) -> Result<Message> {
    let at = || format!("messages[{i}]");
    let Sent::Message(m) = sent else {
        return Err(bad(at(), "a message must be an object"));
    };
    let role = role(&at, m.role.as_ref())?;
    let content = content(&at, m.content)?;
    let tool_calls = match (role, &m.tool_calls) {
        (_, None | Some(Value::Null)) => Vec::new(),
        (Role::Assistant, Some(Value::Array(calls))) => calls
            .iter()
            .enumerate()
            .map(|(j, c)| {
                tool_call(c).ok_or_else(|| {
                    bad(
                        format!("{}.tool_calls[{j}]", at()),
                        "a tool call needs `id` and `function.name`",
                    )
                })
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(bad(
                format!("{}.tool_calls", at()),
                "`tool_calls` must be an array on an assistant message",
            ));
        }
    };
    let tool_call_id = match (role, m.tool_call_id) {
        (Role::Tool, Some(Value::String(id))) => Some(id),
        (Role::Tool, _) => {
            return Err(bad(
                format!("{}.tool_call_id", at()),
                "a tool message needs the `tool_call_id` it answers",
            ));
        }
        _ => None,
    };
    Ok(Message {
        role,
        content,
        tool_calls,
        tool_call_id,
    })
}

fn content(at: &dyn Fn() -> String, v: Option<Value>) -> Result<Vec<ContentPart>> {
    let param = || format!("{}.content", at());
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![ContentPart::Text { text }]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let param = || format!("{}[{j}]", param());
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => p
                        .get("text")
                        .and_then(Value::as_str)
                        .map(|t| ContentPart::Text { text: t.to_owned() })
                        .ok_or_else(|| {
                            bad(format!("{}.text", param()), "a text part needs `text`")
                        }),
                    Some("image_url") => p
                        .get("image_url")
                        .and_then(|u| u.get("url").or(Some(u)))
                        .and_then(Value::as_str)
                        .map(|u| ContentPart::Image { url: u.to_owned() })
                        .ok_or_else(|| {
                            bad(
                                format!("{}.image_url", param()),
                                "an image part needs `image_url.url`",
                            )
                        }),
                    _ => Err(bad(
                        format!("{}.type", param()),
                        "a content part's `type` must be `text` or `image_url`",
                    )),
                }
            })
            .collect(),
        Some(_) => Err(bad(
            param(),
            "`content` must be a string or an array of parts",
        )),
    }
}

/// A tool call of an assistant message; `None` without `id` or `function.name`.
fn tool_call(v: &Value) -> Option<ToolCall> {
    let f = v.get("function");
    let id = v.get("id").and_then(Value::as_str)?;
    let name = f.and_then(|f| f.get("name")).and_then(Value::as_str)?;
    let arguments = f.and_then(|f| f.get("arguments")).and_then(Value::as_str);
    Some(ToolCall {
        id: id.to_owned(),
        name: name.to_owned(),
        arguments: arguments.unwrap_or("").to_owned(),
    })
}

fn tools(v: Option<&Value>) -> Result<Vec<Tool>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let at = format!("tools[{i}]");
                let f = t
                    .get("function")
                    .filter(|_| t.get("type").and_then(Value::as_str) == Some("function"))
                    .ok_or_else(|| {
                        bad(
                            &at,
                            "a tool must be `{\"type\": \"function\", \"function\": {…}}`",
                        )
                    })?;
                let name = f
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| bad(format!("{at}.function.name"), "a tool needs a name"))?;
                Ok(Tool {
                    name: name.to_owned(),
                    description: f
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    parameters: f
                        .get("parameters")
                        .cloned()
                        .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
                })
            })
            .collect(),
        Some(_) => Err(bad("tools", "`tools` must be an array")),
    }
}

fn tool_choice(v: Option<&Value>) -> Result<Option<ToolChoice>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Ok(Some(ToolChoice::Auto)),
            "none" => Ok(Some(ToolChoice::None)),
            "required" => Ok(Some(ToolChoice::Required)),
            _ => Err(bad(
                "tool_choice",
                "`tool_choice` must be auto, none, required or a function",
            )),
        },
        Some(o) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(|n| Some(ToolChoice::Tool(n.to_owned())))
            .ok_or_else(|| bad("tool_choice", "`tool_choice` names no function")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_sent_twice_keeps_its_last_value_and_others_are_dropped() {
        let body = br#"{"model": "a", "extra": {"x": [1, 2]}, "model": "b", "messages": [{"role": "user", "content": "hi"}]}"#;
        assert_eq!(parse(body).unwrap().group, "b");
        for (body, message) in [
            (&br#"["model"]"#[..], "the body must be a JSON object"),
            (b"\"text\"", "the body must be a JSON object"),
            (b"null", "the body must be a JSON object"),
        ] {
            assert_eq!(parse(body).unwrap_err().message, message);
        }
        let broken = parse(br#"{"model": "g", "extra": [1,}"#).unwrap_err();
        assert_eq!(broken.param, "body");
        assert!(
            broken.message.starts_with("the body is not valid JSON"),
            "{broken}"
        );
        let null_messages = parse(br#"{"model": "g", "messages": null}"#).unwrap_err();
        assert_eq!(null_messages.message, "`messages` must be an array");
    }

    #[test]
    fn tools_calls_and_results_come_through() {
        let body = br#"{"model": "g", "user": "u-1", "stop": "END", "temperature": 0.2,
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "response_format": {"type": "json_object"},
            "messages": [
              {"role": "developer", "content": "be brief"},
              {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
              {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
              {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
            ]}"#;
        let r = parse(body).unwrap().request;
        assert_eq!(r.messages[0].role, Role::System);
        assert_eq!(r.messages[2].tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("call_1"));
        assert_eq!(r.tools[0].name, "get_weather");
        assert_eq!(r.tool_choice, Some(ToolChoice::Tool("get_weather".into())));
        assert_eq!(r.stop, ["END"]);
        assert_eq!(r.user.as_deref(), Some("u-1"));
        assert!(r.extra.is_empty());
        assert_eq!(r.response_format.unwrap()["type"], "json_object");
        assert!((r.temperature.unwrap() - 0.2).abs() < 1e-6);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: &[(&[u8], &str)] = &[
            (b"not json", "body"),
            (b"[]", "body"),
            (br#"{"messages": [{"role": "user", "content": "x"}]}"#, "model"),
            (br#"{"model": "g"}"#, "messages"),
            (br#"{"model": "g", "messages": []}"#, "messages"),
            (br#"{"model": "g", "messages": [{"role": "user", "content": 5}]}"#, "messages[0].content"),
            (br#"{"model": "g", "messages": [{"role": "tool", "content": "x"}]}"#, "messages[0].tool_call_id"),
            (br#"{"model": "g", "temperature": 9, "messages": [{"role": "user", "content": "x"}]}"#, "temperature"),
            (br#"{"model": "g", "max_tokens": -1, "messages": [{"role": "user", "content": "x"}]}"#, "max_tokens"),
            (br#"{"model": "g", "n": 2, "messages": [{"role": "user", "content": "x"}]}"#, "n"),
            (br#"{"model": "g", "tools": [{"type": "web"}], "messages": [{"role": "user", "content": "x"}]}"#, "tools[0]"),
            (br#"{"model": "g", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}"#, "stream"),
        ];
        for (body, param) in cases {
            let err = parse(body).unwrap_err();
            assert_eq!(err.param, *param, "{}", String::from_utf8_lossy(body));
            assert_eq!(ApiError::from(err).status, 400);
        }
    }
}
