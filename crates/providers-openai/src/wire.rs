//! The request body: a provider-neutral `ChatRequest` as OpenAI chat-completions JSON.

use serde_json::{Map, Value, json};
use steadfast_providers_core::{ChatRequest, ContentPart, Message, Role, ToolCall, ToolChoice};

use crate::config::MaxTokensField;

/// How the body is shaped beyond the request itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyOptions {
    /// The token-limit field.
    pub(crate) max_tokens_field: MaxTokensField,
    /// `"stream": true`.
    pub(crate) stream: bool,
    /// `"stream_options": {"include_usage": true}` (streams only).
    pub(crate) stream_usage: bool,
    /// Mark the trailing assistant message `"prefix": true` (DeepSeek prefix completion).
    pub(crate) prefix: bool,
}

/// Whether `request` ends with an assistant message that a prefix completion can continue.
pub(crate) fn ends_with_assistant_text(request: &ChatRequest) -> bool {
    request
        .messages
        .last()
        .is_some_and(|m| m.role == Role::Assistant && m.tool_calls.is_empty())
}

/// The chat-completions body for `request`. `extra` is merged last, so it may override any
/// field this function wrote.
pub(crate) fn body(request: &ChatRequest, opts: BodyOptions) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), Value::String(request.model.clone()));

    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({ "role": "system", "content": system }));
    }
    messages.extend(request.messages.iter().map(message));
    if opts.prefix
        && ends_with_assistant_text(request)
        && let Some(Value::Object(last)) = messages.last_mut()
    {
        last.insert("prefix".into(), Value::Bool(true));
    }
    body.insert("messages".into(), Value::Array(messages));

    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|t| {
                let mut function = Map::new();
                function.insert("name".into(), Value::String(t.name.clone()));
                if !t.description.is_empty() {
                    function.insert("description".into(), Value::String(t.description.clone()));
                }
                function.insert("parameters".into(), t.parameters.clone());
                json!({ "type": "function", "function": function })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = request.tool_choice.as_ref().and_then(tool_choice) {
        body.insert("tool_choice".into(), choice);
    }
    if let Some(t) = request.temperature.and_then(number) {
        body.insert("temperature".into(), t);
    }
    if let Some(p) = request.top_p.and_then(number) {
        body.insert("top_p".into(), p);
    }
    if let Some(max) = request.max_tokens {
        body.insert(opts.max_tokens_field.as_str().into(), Value::from(max));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    if let Some(format) = &request.response_format {
        body.insert("response_format".into(), format.clone());
    }
    if opts.stream {
        body.insert("stream".into(), Value::Bool(true));
        if opts.stream_usage {
            body.insert("stream_options".into(), json!({ "include_usage": true }));
        }
    }
    steadfast_providers_core::merge_extra(&mut body, &request.extra);
    Value::Object(body)
}

/// An `f32` as the JSON number it was written as (`0.7`, not `0.699999988079071`).
fn number(x: f32) -> Option<Value> {
    let shortest: f64 = x.to_string().parse().ok()?;
    serde_json::Number::from_f64(shortest).map(Value::Number)
}

fn tool_choice(choice: &ToolChoice) -> Option<Value> {
    Some(match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Tool(name) => json!({ "type": "function", "function": { "name": name } }),
        _ => return None,
    })
}

fn message(m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        _ => "user",
    };
    let mut obj = Map::new();
    obj.insert("role".into(), Value::String(role.to_owned()));
    let has_image = m
        .content
        .iter()
        .any(|p| matches!(p, ContentPart::Image { .. }));
    let content = if has_image {
        Value::Array(m.content.iter().filter_map(part).collect())
    } else {
        let text = m.joined_text();
        if text.is_empty() && !m.tool_calls.is_empty() {
            // OpenAI's documented shape for a turn that only calls tools.
            Value::Null
        } else {
            Value::String(text)
        }
    };
    obj.insert("content".into(), content);
    if !m.tool_calls.is_empty() {
        obj.insert(
            "tool_calls".into(),
            Value::Array(m.tool_calls.iter().map(tool_call).collect()),
        );
    }
    if let Some(id) = &m.tool_call_id {
        obj.insert("tool_call_id".into(), Value::String(id.clone()));
    }
    Value::Object(obj)
}

fn part(p: &ContentPart) -> Option<Value> {
    match p {
        ContentPart::Text { text } => Some(json!({ "type": "text", "text": text })),
        ContentPart::Image { url } => {
            Some(json!({ "type": "image_url", "image_url": { "url": url } }))
        }
        _ => None,
    }
}

fn tool_call(tc: &ToolCall) -> Value {
    let arguments = if tc.arguments.trim().is_empty() {
        "{}"
    } else {
        tc.arguments.as_str()
    };
    json!({
        "id": tc.id,
        "type": "function",
        "function": { "name": tc.name, "arguments": arguments },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use steadfast_providers_core::Tool;

    fn opts() -> BodyOptions {
        BodyOptions {
            max_tokens_field: MaxTokensField::MaxTokens,
            stream: false,
            stream_usage: true,
            prefix: false,
        }
    }

    #[test]
    fn a_full_request_has_the_openai_shape() {
        let mut req = ChatRequest::new(
            "gpt-4o-mini",
            vec![
                Message {
                    role: Role::User,
                    content: vec![
                        ContentPart::Text {
                            text: "What is here?".into(),
                        },
                        ContentPart::Image {
                            url: "https://example.com/cat.png".into(),
                        },
                    ],
                    tool_calls: Vec::new(),
                    tool_call_id: None,
                },
                Message {
                    role: Role::Assistant,
                    content: Vec::new(),
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "lookup".into(),
                        arguments: String::new(),
                    }],
                    tool_call_id: None,
                },
                Message::tool_result("call_1", "a cat"),
            ],
        )
        .with_system("Be brief.")
        .with_max_tokens(50)
        .with_tool(Tool {
            name: "lookup".into(),
            description: String::new(),
            parameters: json!({"type": "object"}),
        });
        req.temperature = Some(0.7);
        req.top_p = Some(0.9);
        req.tool_choice = Some(ToolChoice::Tool("lookup".into()));
        req.stop = vec!["END".into()];
        req.extra.insert("seed".into(), json!(7));
        let body = body(&req, opts());
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is here?"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
                    ]},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
                    ]},
                    {"role": "tool", "content": "a cat", "tool_call_id": "call_1"}
                ],
                "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
                "tool_choice": {"type": "function", "function": {"name": "lookup"}},
                "temperature": 0.7,
                "top_p": 0.9,
                "max_tokens": 50,
                "stop": ["END"],
                "seed": 7
            })
        );
    }

    #[test]
    fn prefix_marks_only_a_trailing_assistant_text_message() {
        let req = ChatRequest::new("deepseek-chat", vec![Message::user("Hi")])
            .continued_from("Hello, wor");
        let prefixed = body(
            &req,
            BodyOptions {
                prefix: true,
                ..opts()
            },
        );
        assert_eq!(
            prefixed["messages"][1],
            json!({"role": "assistant", "content": "Hello, wor", "prefix": true})
        );
        let plain = ChatRequest::new("deepseek-chat", vec![Message::user("Hi")]);
        let b = body(
            &plain,
            BodyOptions {
                prefix: true,
                ..opts()
            },
        );
        assert!(b["messages"][0].get("prefix").is_none());
    }

    #[test]
    fn streams_ask_for_usage_unless_told_not_to() {
        let req = ChatRequest::new("m", vec![Message::user("Hi")]);
        let on = body(
            &req,
            BodyOptions {
                stream: true,
                ..opts()
            },
        );
        assert_eq!(on["stream"], json!(true));
        assert_eq!(on["stream_options"], json!({"include_usage": true}));
        let off = body(
            &req,
            BodyOptions {
                stream: true,
                stream_usage: false,
                ..opts()
            },
        );
        assert!(off.get("stream_options").is_none());
        assert!(body(&req, opts()).get("stream").is_none());
    }
}
