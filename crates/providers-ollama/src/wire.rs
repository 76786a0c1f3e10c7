//! The `/api/chat` request body: a [`ChatRequest`] in Ollama's native shape.
//!
//! - `messages`: `role`, `content` (text parts joined), `images` (base64 strings taken from
//!   `data:` URLs — Ollama does not fetch URLs), `tool_calls` (`arguments` as a JSON
//!   object, as Ollama requires), and tool results as `role: "tool"` with `tool_name` (looked
//!   up from the assistant call they answer) and `tool_call_id`. [`ChatRequest::system`]
//!   becomes a leading system message.
//! - `tools`: `{"type":"function","function":{name, description, parameters}}`;
//!   `tool_choice: none` leaves them out (Ollama has no `tool_choice`).
//! - `options`: `temperature`, `top_p`, `top_k`, `seed`, `presence_penalty`,
//!   `frequency_penalty`, `num_predict` (from `max_tokens`), `stop`. `user`,
//!   `parallel_tool_calls` and `logit_bias` have no Ollama field and are not sent.
//! - `format`: from `response_format` — `json_object` → `"json"`, `json_schema` → its
//!   schema, a bare schema or `"json"` as is, `text` → nothing.
//! - `stream`: true or false.
//! - `extra` is merged at the top level (`think`, `keep_alive`, …); an `options` object in
//!   `extra` is merged into `options` key by key.

use serde_json::{Map, Value, json};
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ChatRequest, ContentPart, Message, Role, ToolChoice, json_float};

/// Builds the body for `request`; `stream` selects NDJSON or one JSON object.
pub(crate) fn chat_body(request: &ChatRequest, stream: bool) -> Result<Value, ProviderError> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for (i, message) in request.messages.iter().enumerate() {
        messages.push(message_json(message, &request.messages[..i])?);
    }

    let mut body = Map::new();
    body.insert("model".into(), Value::String(request.model.clone()));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), Value::Bool(stream));

    let tools_off = matches!(request.tool_choice, Some(ToolChoice::None));
    if !request.tools.is_empty() && !tools_off {
        let tools = request
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    }
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }

    let mut options = Map::new();
    if let Some(t) = request.temperature {
        options.insert("temperature".into(), json!(t));
    }
    if let Some(p) = request.top_p {
        options.insert("top_p".into(), json!(p));
    }
    if let Some(k) = request.top_k {
        options.insert("top_k".into(), json!(k));
    }
    if let Some(seed) = request.seed {
        options.insert("seed".into(), json!(seed));
    }
    if let Some(p) = request.presence_penalty {
        options.insert("presence_penalty".into(), json_float(p));
    }
    if let Some(p) = request.frequency_penalty {
        options.insert("frequency_penalty".into(), json_float(p));
    }
    if let Some(n) = request.max_tokens {
        options.insert("num_predict".into(), json!(n));
    }
    if !request.stop.is_empty() {
        options.insert("stop".into(), json!(request.stop));
    }

    if let Some(format) = request.response_format.as_ref().and_then(format_of) {
        body.insert("format".into(), format);
    }

    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    // `extra.options` merges into the options built above, like every other object field.
    steadfast_providers_core::merge_extra(&mut body, &request.extra);
    Ok(Value::Object(body))
}

/// Ollama's `format` for an OpenAI-style (or already Ollama-style) `response_format`.
fn format_of(response_format: &Value) -> Option<Value> {
    match response_format {
        Value::String(s) if s == "json" => Some(Value::String("json".into())),
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("json_object") => Some(Value::String("json".into())),
            Some("json_schema") => o
                .get("json_schema")
                .and_then(|js| js.get("schema").or(Some(js)))
                .cloned(),
            Some("text") => None,
            // Anything else is taken for a JSON schema (`{"type":"object","properties":…}`).
            _ => Some(response_format.clone()),
        },
        _ => None,
    }
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        // `Role` is non-exhaustive: a future role is sent as a user turn.
        _ => "user",
    }
}

fn message_json(message: &Message, earlier: &[Message]) -> Result<Value, ProviderError> {
    let mut m = Map::new();
    m.insert("role".into(), Value::String(role_str(message.role).into()));
    m.insert("content".into(), Value::String(message.joined_text()));

    let mut images = Vec::new();
    for part in &message.content {
        if let ContentPart::Image { url } = part {
            images.push(Value::String(image_base64(url)?.to_owned()));
        }
    }
    if !images.is_empty() {
        m.insert("images".into(), Value::Array(images));
    }

    if !message.tool_calls.is_empty() {
        let calls = message
            .tool_calls
            .iter()
            .map(|tc| {
                let mut call = Map::new();
                if !tc.id.is_empty() {
                    call.insert("id".into(), Value::String(tc.id.clone()));
                }
                call.insert(
                    "function".into(),
                    json!({"name": tc.name, "arguments": arguments_object(&tc.arguments)}),
                );
                Value::Object(call)
            })
            .collect();
        m.insert("tool_calls".into(), Value::Array(calls));
    }

    if let Some(call_id) = message.tool_call_id.as_deref() {
        let name = earlier
            .iter()
            .rev()
            .flat_map(|msg| msg.tool_calls.iter())
            .find(|tc| tc.id == call_id)
            .map(|tc| tc.name.as_str())
            // Ollama fills `id` with the tool's name when the model gave no id.
            .unwrap_or(call_id);
        m.insert("tool_name".into(), Value::String(name.to_owned()));
        m.insert("tool_call_id".into(), Value::String(call_id.to_owned()));
    }
    Ok(Value::Object(m))
}

/// Ollama's `arguments` is a JSON object, never a string: parse what the model produced,
/// keeping unparseable text as `{}` (the call is still shown to the model by name).
fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            if !arguments.trim().is_empty() {
                tracing::debug!("tool call arguments are not a JSON object; sending {{}}");
            }
            Value::Object(Map::new())
        }
    }
}

/// The base64 payload of a `data:` URL; Ollama takes images only inline.
fn image_base64(url: &str) -> Result<&str, ProviderError> {
    steadfast_providers_core::parse_data_url(url)
        .and_then(Result::ok)
        .map(|(_, data)| data)
        .ok_or_else(|| {
            let shown: String = url.chars().take(60).collect();
            ProviderError::new(
                ErrorKind::InvalidRequest,
                "ollama",
                format!(
                    "ollama takes images inline only: pass a base64 `data:` URL, not `{shown}`"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use steadfast_providers_core::{Tool, ToolCall};

    #[test]
    fn a_full_request_maps_to_the_native_shape() {
        let mut req = ChatRequest::new(
            "llava",
            vec![
                Message {
                    role: Role::User,
                    content: vec![
                        ContentPart::Text {
                            text: "What is this?".into(),
                        },
                        ContentPart::Image {
                            url: "data:image/png;base64,iVBORw0KGgo=".into(),
                        },
                    ],
                    tool_calls: vec![],
                    tool_call_id: None,
                },
                Message {
                    role: Role::Assistant,
                    content: vec![],
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "lookup".into(),
                        arguments: r#"{"q":"cat"}"#.into(),
                    }],
                    tool_call_id: None,
                },
                Message::tool_result("call_1", "a cat"),
            ],
        )
        .with_system("Be brief.")
        .with_max_tokens(64)
        .with_tool(Tool {
            name: "lookup".into(),
            description: "Looks things up".into(),
            parameters: json!({"type":"object","properties":{"q":{"type":"string"}}}),
        });
        req.temperature = Some(0.5);
        req.top_p = Some(0.25);
        req.stop = vec!["\n\n".into()];
        req.response_format = Some(json!({"type":"json_object"}));
        req.extra.insert("think".into(), json!(true));
        req.extra.insert("keep_alive".into(), json!("10m"));
        req.extra.insert("options".into(), json!({"num_ctx": 8192}));

        let body = chat_body(&req, true).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "llava",
                "stream": true,
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "What is this?", "images": ["iVBORw0KGgo="]},
                    {"role": "assistant", "content": "", "tool_calls": [
                        {"id": "call_1", "function": {"name": "lookup", "arguments": {"q": "cat"}}}
                    ]},
                    {"role": "tool", "content": "a cat", "tool_name": "lookup", "tool_call_id": "call_1"}
                ],
                "tools": [{"type": "function", "function": {
                    "name": "lookup", "description": "Looks things up",
                    "parameters": {"type":"object","properties":{"q":{"type":"string"}}}
                }}],
                "options": {"temperature": 0.5, "top_p": 0.25, "num_predict": 64, "stop": ["\n\n"], "num_ctx": 8192},
                "format": "json",
                "think": true,
                "keep_alive": "10m"
            })
        );
    }

    #[test]
    fn response_formats_map_to_format() {
        let schema = json!({"type":"object","properties":{"age":{"type":"integer"}}});
        let cases = [
            (json!({"type":"json_object"}), Some(json!("json"))),
            (json!("json"), Some(json!("json"))),
            (json!({"type":"text"}), None),
            (
                json!({"type":"json_schema","json_schema":{"name":"x","schema":schema}}),
                Some(schema.clone()),
            ),
            (schema.clone(), Some(schema.clone())),
        ];
        for (rf, want) in cases {
            assert_eq!(format_of(&rf), want, "{rf}");
        }
    }

    #[test]
    fn url_images_are_refused_with_a_clear_error() {
        let req = ChatRequest::new(
            "llava",
            vec![Message {
                role: Role::User,
                content: vec![ContentPart::Image {
                    url: "https://example.com/cat.png".into(),
                }],
                tool_calls: vec![],
                tool_call_id: None,
            }],
        );
        let err = chat_body(&req, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.message().contains("data:"));
    }

    #[test]
    fn tool_choice_none_drops_tools_and_bad_arguments_become_an_object() {
        let mut req = ChatRequest::new(
            "m",
            vec![Message {
                role: Role::Assistant,
                content: vec![],
                tool_calls: vec![ToolCall {
                    id: String::new(),
                    name: "f".into(),
                    arguments: "{not json".into(),
                }],
                tool_call_id: None,
            }],
        )
        .with_tool(Tool {
            name: "f".into(),
            description: String::new(),
            parameters: json!({}),
        });
        req.tool_choice = Some(ToolChoice::None);
        let body = chat_body(&req, false).unwrap();
        assert!(body.get("tools").is_none());
        assert_eq!(
            body["messages"][0]["tool_calls"][0],
            json!({"function": {"name": "f", "arguments": {}}})
        );
        assert!(body.get("options").is_none());
    }

    #[test]
    fn sampling_fields_go_in_options_and_the_rest_stay_out() {
        let mut req = ChatRequest::new("llama3", vec![Message::user("Hi")]);
        req.top_k = Some(40);
        req.seed = Some(7);
        req.presence_penalty = Some(0.5);
        req.frequency_penalty = Some(-0.5);
        req.user = Some("u-1".into());
        req.parallel_tool_calls = Some(false);
        req.logit_bias = json!({"1": 2}).as_object().cloned();
        let b = chat_body(&req, false).unwrap();
        assert_eq!(
            b["options"],
            json!({"top_k": 40, "seed": 7, "presence_penalty": 0.5, "frequency_penalty": -0.5})
        );
        let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["messages", "model", "options", "stream"], "{b}");
    }
}
