//! The request body: a provider-neutral `ChatRequest` as OpenAI chat-completions JSON.
//!
//! [`body_bytes`] writes it straight from borrowed typed structs; a request with `extra`
//! fields (which may override or deep-merge into any field) goes through the
//! `serde_json::Value` of [`body`], the reference the typed writer is tested against.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
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
    if let Some(seed) = request.seed {
        body.insert("seed".into(), Value::from(seed));
    }
    if let Some(p) = request.presence_penalty.and_then(number) {
        body.insert("presence_penalty".into(), p);
    }
    if let Some(p) = request.frequency_penalty.and_then(number) {
        body.insert("frequency_penalty".into(), p);
    }
    if let Some(parallel) = parallel_tool_calls(request) {
        body.insert("parallel_tool_calls".into(), Value::Bool(parallel));
    }
    if let Some(user) = &request.user {
        body.insert("user".into(), Value::String(user.clone()));
    }
    if let Some(bias) = &request.logit_bias {
        body.insert("logit_bias".into(), Value::Object(bias.clone()));
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

/// `parallel_tool_calls`, sent only with tools: OpenAI refuses it on a request without any.
fn parallel_tool_calls(request: &ChatRequest) -> Option<bool> {
    request
        .parallel_tool_calls
        .filter(|_| !request.tools.is_empty())
}

/// The chat-completions body for `request`, as the bytes sent: the same JSON as [`body`].
pub(crate) fn body_bytes(request: &ChatRequest, opts: BodyOptions) -> Vec<u8> {
    if !request.extra.is_empty() {
        return serde_json::to_vec(&body(request, opts)).unwrap_or_default();
    }
    let max = |field| {
        (opts.max_tokens_field == field)
            .then_some(request.max_tokens)
            .flatten()
    };
    let typed = WireBody {
        frequency_penalty: request.frequency_penalty.and_then(shortest),
        logit_bias: request.logit_bias.as_ref(),
        max_completion_tokens: max(MaxTokensField::MaxCompletionTokens),
        max_tokens: max(MaxTokensField::MaxTokens),
        messages: Messages { request, opts },
        model: &request.model,
        parallel_tool_calls: parallel_tool_calls(request),
        presence_penalty: request.presence_penalty.and_then(shortest),
        response_format: request.response_format.as_ref(),
        seed: request.seed,
        stop: &request.stop,
        stream: opts.stream.then_some(true),
        stream_options: (opts.stream && opts.stream_usage).then_some(StreamOptions {
            include_usage: true,
        }),
        temperature: request.temperature.and_then(shortest),
        tool_choice: request.tool_choice.as_ref().and_then(WireToolChoice::of),
        tools: (!request.tools.is_empty()).then_some(Tools(&request.tools)),
        top_p: request.top_p.and_then(shortest),
        user: request.user.as_deref(),
    };
    // Serializing plain structs of strings, numbers and `Value`s into a Vec cannot fail.
    serde_json::to_vec(&typed).unwrap_or_default()
}

/// The body's fields, in the order `serde_json::Map` writes them (sorted).
#[derive(Serialize)]
struct WireBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logit_bias: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    messages: Messages<'a>,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Tools<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// The system prompt, then every message; the last one marked `prefix` when asked.
struct Messages<'a> {
    request: &'a ChatRequest,
    opts: BodyOptions,
}

impl Serialize for Messages<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let request = self.request;
        let system = request
            .system
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| WireMessage {
                content: Content::Text(Cow::Borrowed(t)),
                prefix: None,
                role: "system",
                tool_call_id: None,
                tool_calls: &[],
            });
        let prefix = self.opts.prefix && ends_with_assistant_text(request);
        let last = request.messages.len().wrapping_sub(1);
        let messages = request.messages.iter().enumerate().map(|(i, m)| {
            let mut w = WireMessage::of(m);
            if prefix && i == last {
                w.prefix = Some(true);
            }
            w
        });
        s.collect_seq(system.into_iter().chain(messages))
    }
}

#[derive(Serialize)]
struct WireMessage<'a> {
    content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<bool>,
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
    #[serde(
        skip_serializing_if = "<[ToolCall]>::is_empty",
        serialize_with = "tool_calls"
    )]
    tool_calls: &'a [ToolCall],
}

impl<'a> WireMessage<'a> {
    fn of(m: &'a Message) -> WireMessage<'a> {
        let has_image = m
            .content
            .iter()
            .any(|p| matches!(p, ContentPart::Image { .. }));
        let content = if has_image {
            Content::Parts(&m.content)
        } else {
            let text = joined(&m.content);
            if text.is_empty() && !m.tool_calls.is_empty() {
                Content::Null
            } else {
                Content::Text(text)
            }
        };
        WireMessage {
            content,
            prefix: None,
            role: role(m.role),
            tool_call_id: m.tool_call_id.as_deref(),
            tool_calls: &m.tool_calls,
        }
    }
}

/// The text parts joined, borrowed when there is at most one.
fn joined(parts: &[ContentPart]) -> Cow<'_, str> {
    let mut texts = parts.iter().filter_map(|p| match p {
        ContentPart::Text { text } => Some(text.as_str()),
        _ => None,
    });
    match (texts.next(), texts.next()) {
        (None, _) => Cow::Borrowed(""),
        (Some(one), None) => Cow::Borrowed(one),
        (Some(a), Some(b)) => {
            let mut all = String::from(a);
            all.push_str(b);
            all.extend(texts);
            Cow::Owned(all)
        }
    }
}

enum Content<'a> {
    Null,
    Text(Cow<'a, str>),
    Parts(&'a [ContentPart]),
}

impl Serialize for Content<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Content::Null => s.serialize_unit(),
            Content::Text(t) => s.serialize_str(t),
            Content::Parts(parts) => s.collect_seq(parts.iter().filter_map(WirePart::of)),
        }
    }
}

enum WirePart<'a> {
    Text(&'a str),
    Image(&'a str),
}

impl<'a> WirePart<'a> {
    fn of(p: &'a ContentPart) -> Option<WirePart<'a>> {
        match p {
            ContentPart::Text { text } => Some(WirePart::Text(text)),
            ContentPart::Image { url } => Some(WirePart::Image(url)),
            _ => None,
        }
    }
}

impl Serialize for WirePart<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Url<'a> {
            url: &'a str,
        }
        let mut map = s.serialize_map(Some(2))?;
        match self {
            WirePart::Text(text) => {
                map.serialize_entry("text", text)?;
                map.serialize_entry("type", "text")?;
            }
            WirePart::Image(url) => {
                map.serialize_entry("image_url", &Url { url })?;
                map.serialize_entry("type", "image_url")?;
            }
        }
        map.end()
    }
}

fn tool_calls<S: Serializer>(calls: &&[ToolCall], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Function<'a> {
        arguments: &'a str,
        name: &'a str,
    }
    #[derive(Serialize)]
    struct Call<'a> {
        function: Function<'a>,
        id: &'a str,
        #[serde(rename = "type")]
        ty: &'static str,
    }
    s.collect_seq(calls.iter().map(|tc| Call {
        function: Function {
            arguments: if tc.arguments.trim().is_empty() {
                "{}"
            } else {
                &tc.arguments
            },
            name: &tc.name,
        },
        id: &tc.id,
        ty: "function",
    }))
}

struct Tools<'a>(&'a [steadfast_providers_core::Tool]);

impl Serialize for Tools<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Function<'a> {
            #[serde(skip_serializing_if = "str::is_empty")]
            description: &'a str,
            name: &'a str,
            parameters: &'a Value,
        }
        #[derive(Serialize)]
        struct WireTool<'a> {
            function: Function<'a>,
            #[serde(rename = "type")]
            ty: &'static str,
        }
        s.collect_seq(self.0.iter().map(|t| WireTool {
            function: Function {
                description: &t.description,
                name: &t.name,
                parameters: &t.parameters,
            },
            ty: "function",
        }))
    }
}

enum WireToolChoice<'a> {
    Word(&'static str),
    Tool(&'a str),
}

impl<'a> WireToolChoice<'a> {
    fn of(choice: &'a ToolChoice) -> Option<WireToolChoice<'a>> {
        Some(match choice {
            ToolChoice::Auto => WireToolChoice::Word("auto"),
            ToolChoice::None => WireToolChoice::Word("none"),
            ToolChoice::Required => WireToolChoice::Word("required"),
            ToolChoice::Tool(name) => WireToolChoice::Tool(name),
            _ => return None,
        })
    }
}

impl Serialize for WireToolChoice<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Name<'a> {
            name: &'a str,
        }
        match self {
            WireToolChoice::Word(w) => s.serialize_str(w),
            WireToolChoice::Tool(name) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("function", &Name { name })?;
                map.serialize_entry("type", "function")?;
                map.end()
            }
        }
    }
}

/// An `f32` as the shortest `f64` that prints like it, when finite (as [`number`]).
fn shortest(x: f32) -> Option<f64> {
    let v: f64 = x.to_string().parse().ok()?;
    v.is_finite().then_some(v)
}

fn role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        _ => "user",
    }
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
    let mut obj = Map::new();
    obj.insert("role".into(), Value::String(role(m.role).to_owned()));
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

    #[test]
    fn sampling_and_user_fields_take_their_openai_names() {
        let mut req = ChatRequest::new("m", vec![Message::user("Hi")]);
        req.seed = Some(42);
        req.presence_penalty = Some(0.5);
        req.frequency_penalty = Some(-0.25);
        req.user = Some("u-1".into());
        req.top_k = Some(5);
        req.parallel_tool_calls = Some(false);
        req.logit_bias = json!({"50256": -100}).as_object().cloned();
        let b = body(&req, opts());
        assert_eq!(b["seed"], 42);
        assert_eq!(b["presence_penalty"], 0.5);
        assert_eq!(b["frequency_penalty"], -0.25);
        assert_eq!(b["user"], "u-1");
        assert_eq!(b["logit_bias"], json!({"50256": -100}));
        // OpenAI has no top_k, and refuses parallel_tool_calls without tools.
        assert!(b.get("top_k").is_none());
        assert!(b.get("parallel_tool_calls").is_none());
        req.tools.push(Tool {
            name: "f".into(),
            description: String::new(),
            parameters: json!({"type": "object"}),
        });
        assert_eq!(body(&req, opts())["parallel_tool_calls"], false);
        let bytes: Value = serde_json::from_slice(&body_bytes(&req, opts())).unwrap();
        assert_eq!(bytes, body(&req, opts()));
    }
}

#[cfg(test)]
#[path = "wire_agree_tests.rs"]
mod agree_tests;
