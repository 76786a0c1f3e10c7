//! The Messages request, read into steadfast's [`ChatRequest`]; every refusal names the
//! field at fault (`messages[1].content[0].type`).

use serde_json::{Map, Value};
use steadfast_providers_core::{
    ChatRequest, ContentPart, Message, Role, Tool, ToolCall, ToolChoice,
};

use crate::request::{Incoming, Result, bad, boolean, float, model, object, uint};

/// The text a `tool_result` with `is_error: true` starts with: the core request has no
/// error flag on a tool result, so the model reads it instead.
pub const TOOL_ERROR_PREFIX: &str = "Error: ";

/// Reads a Messages request body. Refusals are 400s naming the field.
///
/// ```
/// use steadfast_gateway::messages::request::parse;
///
/// let body = br#"{"model": "fast", "max_tokens": 64, "system": "be brief",
///     "messages": [{"role": "user", "content": "hi"}], "stream": true}"#;
/// let incoming = parse(body).unwrap();
/// assert_eq!((incoming.group.as_str(), incoming.stream), ("fast", true));
/// assert_eq!(incoming.request.max_tokens, Some(64));
/// assert_eq!(incoming.request.system.as_deref(), Some("be brief"));
/// let err = parse(br#"{"model": "fast", "messages": [{"role": "user", "content": "hi"}]}"#).unwrap_err();
/// assert_eq!(err.param, "max_tokens");
/// ```
pub fn parse(body: &[u8]) -> Result<Incoming> {
    let map = object(body)?;
    let group = model(&map)?;
    let max_tokens = match uint(&map, "max_tokens")? {
        Some(n) => n,
        None => {
            return Err(bad(
                "max_tokens",
                "`max_tokens` is required: the most tokens to generate",
            ));
        }
    };
    let mut messages = Vec::new();
    match map.get("messages") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, m) in items.iter().enumerate() {
                message(i, m, &mut messages)?;
            }
        }
        Some(Value::Array(_)) => return Err(bad("messages", "`messages` must not be empty")),
        Some(_) => return Err(bad("messages", "`messages` must be an array")),
        None => return Err(bad("messages", "`messages` is required")),
    }
    let mut request = ChatRequest::new(group.clone(), messages);
    request.max_tokens = Some(max_tokens);
    request.system = system(map.get("system"))?;
    request.temperature = float(&map, "temperature", 0.0, 1.0)?;
    request.top_p = float(&map, "top_p", 0.0, 1.0)?;
    request.top_k = uint(&map, "top_k")?;
    request.stop = stop_sequences(map.get("stop_sequences"))?;
    request.tools = tools(map.get("tools"))?;
    request.tool_choice = tool_choice(map.get("tool_choice"))?;
    // One tool call per turn, as the typed flag each provider sends its own way.
    if let Some(Value::Object(choice)) = map.get("tool_choice") {
        match choice.get("disable_parallel_tool_use") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(off)) => request.parallel_tool_calls = Some(!off),
            Some(_) => {
                return Err(bad(
                    "tool_choice.disable_parallel_tool_use",
                    "`disable_parallel_tool_use` must be a boolean",
                ));
            }
        }
    }
    request.user = match map.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => match m.get("user_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(u)) => Some(u.clone()),
            Some(_) => return Err(bad("metadata.user_id", "`user_id` must be a string")),
        },
        Some(_) => return Err(bad("metadata", "`metadata` must be an object")),
    };
    let stream = boolean(&map, "stream")?;
    Ok(Incoming {
        group,
        request,
        stream,
        include_usage: false,
    })
}

/// `system`: a string or text blocks, joined by blank lines.
fn system(v: Option<&Value>) -> Result<Option<String>> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .enumerate()
            .map(
                |(i, b)| match (b.get("type").and_then(Value::as_str), b.get("text")) {
                    (Some("text"), Some(Value::String(t))) => Ok(t.as_str()),
                    _ => Err(bad(
                        format!("system[{i}]"),
                        "a system block must be `{\"type\": \"text\", \"text\": …}`",
                    )),
                },
            )
            .collect::<Result<Vec<_>>>()?
            .join("\n\n"),
        Some(_) => {
            return Err(bad(
                "system",
                "`system` must be a string or an array of text blocks",
            ));
        }
    };
    Ok((!text.is_empty()).then_some(text))
}

fn stop_sequences(v: Option<&Value>) -> Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("stop_sequences", "`stop_sequences` must hold strings"))
            })
            .collect(),
        Some(_) => Err(bad(
            "stop_sequences",
            "`stop_sequences` must be an array of strings",
        )),
    }
}

/// One Messages turn, as core messages: a user turn's `tool_result` blocks become `tool`
/// messages (first, as Anthropic orders them), the rest one `user` message; an assistant
/// turn's `tool_use` blocks become its tool calls.
fn message(i: usize, v: &Value, out: &mut Vec<Message>) -> Result<()> {
    let at = format!("messages[{i}]");
    let Value::Object(m) = v else {
        return Err(bad(at, "a message must be an object"));
    };
    let role = match m.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        _ => {
            return Err(bad(
                format!("{at}.role"),
                "`role` must be user or assistant",
            ));
        }
    };
    let at = format!("{at}.content");
    let blocks: Vec<Value> = match m.get("content") {
        Some(Value::String(s)) => vec![serde_json::json!({"type": "text", "text": s})],
        Some(Value::Array(blocks)) => blocks.clone(),
        Some(_) => {
            return Err(bad(
                at,
                "`content` must be a string or an array of content blocks",
            ));
        }
        None => return Err(bad(at, "`content` is required")),
    };
    let mut content = Vec::new();
    let mut tool_calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}[{j}]");
        match (role, block.get("type").and_then(Value::as_str)) {
            (_, Some("text")) => content.push(text(&at, block)?),
            (_, Some("image")) => content.push(image(&at, block)?),
            (Role::Assistant, Some("tool_use")) => tool_calls.push(tool_use(&at, block)?),
            (Role::User, Some("tool_result")) => out.push(tool_result(&at, block)?),
            // Thinking from an earlier answer: steadfast sends no signed thinking on, so it
            // is dropped rather than refused (agents send it back on every turn).
            (Role::Assistant, Some("thinking" | "redacted_thinking")) => {}
            _ => {
                let allowed = if role == Role::User {
                    "text, image or tool_result"
                } else {
                    "text, image, tool_use or thinking"
                };
                return Err(bad(
                    format!("{at}.type"),
                    format!(
                        "a {} content block's `type` must be {allowed}",
                        role_name(role)
                    ),
                ));
            }
        }
    }
    if !content.is_empty() || !tool_calls.is_empty() {
        out.push(Message {
            role,
            content,
            tool_calls,
            tool_call_id: None,
        });
    }
    Ok(())
}

fn role_name(role: Role) -> &'static str {
    if role == Role::User {
        "user"
    } else {
        "assistant"
    }
}

fn text(at: &str, block: &Value) -> Result<ContentPart> {
    block
        .get("text")
        .and_then(Value::as_str)
        .map(|t| ContentPart::Text { text: t.to_owned() })
        .ok_or_else(|| bad(format!("{at}.text"), "a text block needs `text`"))
}

/// An `image` block: a `base64` source becomes a `data:` URL, a `url` source its URL.
fn image(at: &str, block: &Value) -> Result<ContentPart> {
    let source = block.get("source");
    let field = |k: &str| source.and_then(|s| s.get(k)).and_then(Value::as_str);
    match field("type") {
        Some("base64") => match (field("media_type"), field("data")) {
            (Some(media), Some(data)) if media.starts_with("image/") && !data.is_empty() => {
                Ok(ContentPart::Image {
                    url: format!("data:{media};base64,{data}"),
                })
            }
            _ => Err(bad(
                format!("{at}.source"),
                "a base64 image needs an `image/…` `media_type` and `data`",
            )),
        },
        Some("url") => match field("url") {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Ok(ContentPart::Image {
                    url: url.to_owned(),
                })
            }
            _ => Err(bad(
                format!("{at}.source.url"),
                "an image url must be http(s)://",
            )),
        },
        _ => Err(bad(
            format!("{at}.source.type"),
            "an image `source.type` must be base64 or url",
        )),
    }
}

fn tool_use(at: &str, block: &Value) -> Result<ToolCall> {
    let id = block
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let name = block
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let (Some(id), Some(name)) = (id, name) else {
        return Err(bad(at, "a tool_use block needs `id` and `name`"));
    };
    let arguments = match block.get("input") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(input @ Value::Object(_)) => input.to_string(),
        Some(_) => return Err(bad(format!("{at}.input"), "`input` must be an object")),
    };
    Ok(ToolCall {
        id: id.to_owned(),
        name: name.to_owned(),
        arguments,
    })
}

/// A `tool_result` block as a `tool` message; `is_error: true` prefixes its text with
/// [`TOOL_ERROR_PREFIX`].
fn tool_result(at: &str, block: &Value) -> Result<Message> {
    let Some(id) = block.get("tool_use_id").and_then(Value::as_str) else {
        return Err(bad(
            format!("{at}.tool_use_id"),
            "a tool_result block needs the `tool_use_id` it answers",
        ));
    };
    let mut content = match block.get("content") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![ContentPart::Text { text: s.clone() }],
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let at = format!("{at}.content[{k}]");
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => text(&at, p),
                    Some("image") => image(&at, p),
                    _ => Err(bad(
                        format!("{at}.type"),
                        "a tool_result content block's `type` must be text or image",
                    )),
                }
            })
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(bad(
                format!("{at}.content"),
                "`content` must be a string or an array of blocks",
            ));
        }
    };
    match block.get("is_error") {
        None | Some(Value::Null | Value::Bool(false)) => {}
        Some(Value::Bool(true)) => match content.first_mut() {
            Some(ContentPart::Text { text }) => text.insert_str(0, TOOL_ERROR_PREFIX),
            _ => content.insert(
                0,
                ContentPart::Text {
                    text: TOOL_ERROR_PREFIX.trim_end().to_owned(),
                },
            ),
        },
        Some(_) => {
            return Err(bad(
                format!("{at}.is_error"),
                "`is_error` must be a boolean",
            ));
        }
    }
    Ok(Message {
        role: Role::Tool,
        content,
        tool_calls: Vec::new(),
        tool_call_id: Some(id.to_owned()),
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
                let Value::Object(t) = t else {
                    return Err(bad(at, "a tool must be an object"));
                };
                if t.get("type").is_some_and(|ty| !ty.is_null() && ty != "custom") {
                    return Err(bad(
                        format!("{at}.type"),
                        "only client tools (`name`, `input_schema`) are supported, not Anthropic's server tools",
                    ));
                }
                let name = t
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| bad(format!("{at}.name"), "a tool needs a name"))?;
                let parameters = match t.get("input_schema") {
                    Some(s @ Value::Object(_)) => s.clone(),
                    _ => {
                        return Err(bad(
                            format!("{at}.input_schema"),
                            "a tool needs an `input_schema` object",
                        ));
                    }
                };
                Ok(Tool {
                    name: name.to_owned(),
                    description: description(t),
                    parameters,
                })
            })
            .collect(),
        Some(_) => Err(bad("tools", "`tools` must be an array")),
    }
}

fn description(t: &Map<String, Value>) -> String {
    t.get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn tool_choice(v: Option<&Value>) -> Result<Option<ToolChoice>> {
    let refuse = || {
        bad(
            "tool_choice",
            "`tool_choice` must be {\"type\": auto | any | none} or {\"type\": \"tool\", \"name\": …}",
        )
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some("auto") => Ok(Some(ToolChoice::Auto)),
            Some("any") => Ok(Some(ToolChoice::Required)),
            Some("none") => Ok(Some(ToolChoice::None)),
            Some("tool") => o
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(|n| Some(ToolChoice::Tool(n.to_owned())))
                .ok_or_else(|| bad("tool_choice.name", "`tool_choice` names no tool")),
            _ => Err(refuse()),
        },
        Some(_) => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    fn with(extra: &str) -> Vec<u8> {
        format!(r#"{{"model": "g", "max_tokens": 8, {extra}}}"#).into_bytes()
    }

    #[test]
    fn turns_become_core_messages() {
        let body = with(
            r#""tool_choice": {"type": "tool", "name": "f"},
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "messages": [
              {"role": "user", "content": "hi"},
              {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
              {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "ok"}]},
                {"type": "tool_result", "tool_use_id": "t2", "is_error": true}
              ]},
              {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]},
              {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}
            ]"#,
        );
        let r = parse(&body).unwrap().request;
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Tool,
                Role::User
            ]
        );
        assert_eq!(r.messages[1].tool_calls[0].arguments, r#"{"a":1}"#);
        assert_eq!(r.messages[2].joined_text(), "ok");
        assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("t2"));
        assert_eq!(r.messages[3].joined_text(), "Error:");
        assert_eq!(
            r.messages[4].content,
            [ContentPart::Image {
                url: "https://example.com/a.png".into()
            }]
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Tool("f".into())));
        assert_eq!(r.max_tokens, Some(8));
        assert!(r.extra.is_empty());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: &[(&str, &str)] = &[
            (r#""messages": []"#, "messages"),
            (r#""messages": [{"role": "user"}]"#, "messages[0].content"),
            (
                r#""messages": [{"role": "user", "content": 5}]"#,
                "messages[0].content",
            ),
            (
                r#""messages": [{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]"#,
                "messages[0].content[0].type",
            ),
            (
                r#""messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f"}]}]"#,
                "messages[0].content[0].type",
            ),
            (
                r#""messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "f"}]}]"#,
                "messages[0].content[0]",
            ),
            (
                r#""messages": [{"role": "user", "content": [{"type": "tool_result"}]}]"#,
                "messages[0].content[0].tool_use_id",
            ),
            (
                r#""messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]}]"#,
                "messages[0].content[0].is_error",
            ),
            (
                r#""messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "text/html", "data": "x"}}]}]"#,
                "messages[0].content[0].source",
            ),
            (
                r#""messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]"#,
                "messages[0].content[0].source.type",
            ),
            (
                r#""messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "ftp://x"}}]}]"#,
                "messages[0].content[0].source.url",
            ),
            (
                r#""system": 5, "messages": [{"role": "user", "content": "x"}]"#,
                "system",
            ),
            (
                r#""system": [{"type": "image"}], "messages": [{"role": "user", "content": "x"}]"#,
                "system[0]",
            ),
            (
                r#""stop_sequences": "END", "messages": [{"role": "user", "content": "x"}]"#,
                "stop_sequences",
            ),
            (
                r#""top_k": 0, "messages": [{"role": "user", "content": "x"}]"#,
                "top_k",
            ),
            (
                r#""top_p": 2, "messages": [{"role": "user", "content": "x"}]"#,
                "top_p",
            ),
            (
                r#""metadata": {"user_id": 5}, "messages": [{"role": "user", "content": "x"}]"#,
                "metadata.user_id",
            ),
            (
                r#""tools": [{"name": "f"}], "messages": [{"role": "user", "content": "x"}]"#,
                "tools[0].input_schema",
            ),
            (
                r#""tools": [{"input_schema": {}}], "messages": [{"role": "user", "content": "x"}]"#,
                "tools[0].name",
            ),
            (
                r#""tool_choice": {"type": "tool"}, "messages": [{"role": "user", "content": "x"}]"#,
                "tool_choice.name",
            ),
            (
                r#""tool_choice": {"type": "required"}, "messages": [{"role": "user", "content": "x"}]"#,
                "tool_choice",
            ),
            (
                r#""stream": 1, "messages": [{"role": "user", "content": "x"}]"#,
                "stream",
            ),
        ];
        for (extra, param) in cases {
            let err = parse(&with(extra)).unwrap_err();
            assert_eq!(err.param, *param, "{extra}");
            assert_eq!(ApiError::from(err).status, 400);
        }
        let err = parse(
            br#"{"model": "g", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.param, "max_tokens");
        assert_eq!(parse(b"[]").unwrap_err().param, "body");
    }
}
