//! Translating a `ChatRequest` into a Messages API body.
//!
//! - System text (`ChatRequest::system` and any `system` messages, in order) becomes the
//!   top-level `system` string.
//! - Assistant tool calls become `tool_use` blocks whose `input` is the parsed JSON of the
//!   arguments; tool results become `tool_result` blocks (with `tool_use_id`) in a user
//!   message, placed before any other content of that message, as the API requires.
//! - Images become `image` blocks: a `url` source, or a `base64` source from a `data:` URL.
//! - Consecutive messages of the same role are merged into one turn; empty text is dropped
//!   (the API refuses empty text blocks); adjacent assistant text parts are joined.
//! - A final assistant message is a prefill: its trailing whitespace is trimmed (the API
//!   refuses it) and reported, so the answer can skip the whitespace the caller already has.
//! - `max_tokens` falls back to the configured default; `response_format` of type
//!   `json_schema` becomes `output_config.format`; `extra` is merged last (objects one level
//!   deep, so `extra.output_config` adds to the mapped one).
//! - `top_k` is sent as is, `user` as `metadata.user_id`, `parallel_tool_calls: false` as
//!   `tool_choice.disable_parallel_tool_use`; `seed` and the presence and frequency penalties
//!   have no Messages API field and are not sent.

use serde_json::{Map, Value, json};
use steadfast_providers_core::{ChatRequest, ContentPart, Message, Role, ToolChoice, json_float};

use crate::config::AnthropicConfig;

/// A request body and what was trimmed from its prefill.
#[derive(Debug)]
pub(crate) struct Wire {
    pub(crate) body: Value,
    /// Trailing whitespace removed from the final assistant message.
    pub(crate) trimmed: String,
}

/// Builds the body of `POST /v1/messages`; an error names what the API could not accept.
pub(crate) fn build(
    request: &ChatRequest,
    config: &AnthropicConfig,
    stream: bool,
) -> Result<Wire, String> {
    if request.model.trim().is_empty() {
        return Err("the request names no model".to_owned());
    }
    let mut system: Vec<String> = request.system.iter().cloned().collect();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        if message.role == Role::System {
            let text = message.joined_text();
            if !text.is_empty() {
                system.push(text);
            }
            continue;
        }
        let (role, blocks) = convert(message)?;
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    for (role, blocks) in &mut turns {
        if *role == "user" {
            // Tool results first: the API refuses text before a tool_result in a user turn.
            blocks.sort_by_key(|b| b.get("type").and_then(Value::as_str) != Some("tool_result"));
        } else {
            join_adjacent_text(blocks);
        }
    }
    let trimmed = trim_prefill(&mut turns);

    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert(
        "max_tokens".into(),
        json!(request.max_tokens.unwrap_or(config.default_max_tokens)),
    );
    let system = system.join("\n\n");
    if !system.is_empty() {
        body.insert("system".into(), json!(system));
    }
    body.insert(
        "messages".into(),
        Value::Array(
            turns
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        ),
    );
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json_float(t));
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), json_float(p));
    }
    if let Some(k) = request.top_k {
        body.insert("top_k".into(), json!(k));
    }
    if let Some(user) = &request.user {
        body.insert("metadata".into(), json!({ "user_id": user }));
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                let mut tool = Map::new();
                tool.insert("name".into(), json!(t.name));
                if !t.description.is_empty() {
                    tool.insert("description".into(), json!(t.description));
                }
                let schema = match &t.parameters {
                    Value::Object(o) if !o.is_empty() => t.parameters.clone(),
                    _ => json!({"type": "object", "properties": {}}),
                };
                tool.insert("input_schema".into(), schema);
                Value::Object(tool)
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        let mut choice = request.tool_choice.as_ref().and_then(tool_choice);
        if request.parallel_tool_calls == Some(false) {
            // One tool call per turn: a flag on the choice, which defaults to `auto`.
            let choice = choice.get_or_insert_with(|| json!({"type": "auto"}));
            if choice["type"] != "none" {
                choice["disable_parallel_tool_use"] = Value::Bool(true);
            }
        }
        if let Some(choice) = choice {
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(format) = request.response_format.as_ref().and_then(output_format) {
        body.insert("output_config".into(), json!({ "format": format }));
    }
    if stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    steadfast_providers_core::merge_extra(&mut body, &request.extra);
    Ok(Wire {
        body: Value::Object(body),
        trimmed,
    })
}

/// A message's role on the wire and its content blocks.
fn convert(message: &Message) -> Result<(&'static str, Vec<Value>), String> {
    let mut blocks = Vec::new();
    match message.role {
        Role::Assistant => {
            blocks.extend(content_blocks(&message.content)?);
            for call in &message.tool_calls {
                let input = call.object_arguments()?;
                blocks.push(json!({
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": input,
                }));
            }
            Ok(("assistant", blocks))
        }
        Role::Tool => {
            let Some(id) = &message.tool_call_id else {
                return Err("a tool message has no tool_call_id".to_owned());
            };
            let mut result = Map::new();
            result.insert("type".into(), json!("tool_result"));
            result.insert("tool_use_id".into(), json!(id));
            let content = content_blocks(&message.content)?;
            if !content.is_empty() {
                result.insert("content".into(), Value::Array(content));
            }
            blocks.push(Value::Object(result));
            Ok(("user", blocks))
        }
        // User, and roles added to the core after this was written.
        _ => {
            blocks.extend(content_blocks(&message.content)?);
            Ok(("user", blocks))
        }
    }
}

fn content_blocks(parts: &[ContentPart]) -> Result<Vec<Value>, String> {
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            ContentPart::Text { text } if text.is_empty() => {}
            ContentPart::Text { text } => blocks.push(json!({"type": "text", "text": text})),
            ContentPart::Image { url } => blocks.push(image_block(url)?),
            // Content kinds added to the core after this was written.
            _ => return Err("a message holds a content part this provider cannot send".into()),
        }
    }
    Ok(blocks)
}

/// An `image` block from an `https://` URL or a base64 `data:` URL.
fn image_block(url: &str) -> Result<Value, String> {
    if let Some(parsed) = steadfast_providers_core::parse_data_url(url) {
        let (media_type, data) = parsed?;
        return Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err("an image URL must be http(s):// or a base64 data: URL".to_owned())
}

/// Joins adjacent text blocks of an assistant turn, so that a prefill is one string.
fn join_adjacent_text(blocks: &mut Vec<Value>) {
    let mut joined: Vec<Value> = Vec::with_capacity(blocks.len());
    for block in blocks.drain(..) {
        let is_text = block.get("type").and_then(Value::as_str) == Some("text");
        if is_text
            && let Some(prev) = joined.last_mut()
            && prev.get("type").and_then(Value::as_str) == Some("text")
            && let (Some(Value::String(a)), Some(b)) = (
                prev.get_mut("text"),
                block.get("text").and_then(Value::as_str),
            )
        {
            a.push_str(b);
            continue;
        }
        joined.push(block);
    }
    *blocks = joined;
}

/// Trims trailing whitespace from a final assistant turn; returns what was removed.
fn trim_prefill(turns: &mut Vec<(&'static str, Vec<Value>)>) -> String {
    let mut trimmed = String::new();
    let Some((role, blocks)) = turns.last_mut() else {
        return trimmed;
    };
    if *role != "assistant" {
        return trimmed;
    }
    while let Some(block) = blocks.last_mut() {
        if block.get("type").and_then(Value::as_str) != Some("text") {
            break;
        }
        let Some(Value::String(text)) = block.get_mut("text") else {
            break;
        };
        let keep = text.trim_end().len();
        trimmed.insert_str(0, &text[keep..]);
        text.truncate(keep);
        if !text.is_empty() {
            break;
        }
        blocks.pop();
    }
    if blocks.is_empty() {
        turns.pop();
    }
    trimmed
}

fn tool_choice(choice: &ToolChoice) -> Option<Value> {
    Some(match choice {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        _ => return None,
    })
}

/// `output_config.format` from a response format: OpenAI's
/// `{"type":"json_schema","json_schema":{"schema":…}}` or Anthropic's own
/// `{"type":"json_schema","schema":…}`. Anthropic has no schema-less JSON mode, so
/// `json_object` (and `text`) send nothing.
fn output_format(format: &Value) -> Option<Value> {
    if format.get("type").and_then(Value::as_str) != Some("json_schema") {
        return None;
    }
    if format.get("schema").is_some() {
        return Some(format.clone());
    }
    let schema = format.get("json_schema")?.get("schema")?;
    Some(json!({"type": "json_schema", "schema": schema}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use steadfast_providers_core::{Tool, ToolCall};

    fn body(request: &ChatRequest) -> Wire {
        build(request, &AnthropicConfig::default(), false).unwrap()
    }

    #[test]
    fn system_messages_move_to_the_top_level_system() {
        let req = ChatRequest::new(
            "claude-x",
            vec![Message::system("Be terse."), Message::user("Hi")],
        )
        .with_system("You are a pirate.");
        let w = body(&req);
        assert_eq!(w.body["system"], "You are a pirate.\n\nBe terse.");
        assert_eq!(w.body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(w.body["max_tokens"], DEFAULT);
    }

    const DEFAULT: u32 = crate::config::DEFAULT_MAX_TOKENS;

    #[test]
    fn tool_results_merge_into_one_user_turn_before_text() {
        let mut assistant = Message::assistant("Let me look.");
        assistant.tool_calls = vec![
            ToolCall {
                id: "toolu_1".into(),
                name: "weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            },
            ToolCall {
                id: "toolu_2".into(),
                name: "time".into(),
                arguments: String::new(),
            },
        ];
        let req = ChatRequest::new(
            "claude-x",
            vec![
                Message::user("Weather and time in Paris?"),
                assistant,
                Message::user("(also, be quick)"),
                Message::tool_result("toolu_1", "18°C"),
                Message::tool_result("toolu_2", "noon"),
            ],
        );
        let w = body(&req);
        let msgs = w.body["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1]["content"][1]["input"], json!({"city": "Paris"}));
        assert_eq!(msgs[1]["content"][2]["input"], json!({}));
        let last = msgs[2]["content"].as_array().unwrap();
        assert_eq!(last[0]["type"], "tool_result");
        assert_eq!(last[0]["tool_use_id"], "toolu_1");
        assert_eq!(last[1]["tool_use_id"], "toolu_2");
        assert_eq!(last[2]["text"], "(also, be quick)");
    }

    #[test]
    fn a_prefill_is_joined_and_its_trailing_whitespace_trimmed() {
        let req = ChatRequest::new("claude-x", vec![Message::user("Count")])
            .continued_from("One, two, ")
            .continued_from("three,\n");
        let w = body(&req);
        let msgs = w.body["messages"].as_array().unwrap();
        assert_eq!(
            msgs[1]["content"],
            json!([{"type": "text", "text": "One, two, three,"}])
        );
        assert_eq!(w.trimmed, "\n");
    }

    #[test]
    fn a_whitespace_only_prefill_disappears() {
        let req = ChatRequest::new("claude-x", vec![Message::user("Hi")]).continued_from(" \n");
        let w = body(&req);
        assert_eq!(w.body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(w.trimmed, " \n");
    }

    #[test]
    fn images_from_data_and_https_urls() {
        let mut m = Message::user("What is this?");
        m.content.push(ContentPart::Image {
            url: "data:image/jpeg;base64,/9j/4AAQ".into(),
        });
        m.content.push(ContentPart::Image {
            url: "https://example.com/cat.png".into(),
        });
        let w = body(&ChatRequest::new("claude-x", vec![m]));
        let c = &w.body["messages"][0]["content"];
        assert_eq!(
            c[1]["source"],
            json!({"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"})
        );
        assert_eq!(
            c[2]["source"],
            json!({"type": "url", "url": "https://example.com/cat.png"})
        );
        let mut bad = Message::user("x");
        bad.content.push(ContentPart::Image {
            url: "data:image/png,%00".into(),
        });
        assert!(
            build(
                &ChatRequest::new("m", vec![bad]),
                &AnthropicConfig::default(),
                false
            )
            .is_err()
        );
    }

    #[test]
    fn tools_choice_format_and_extra() {
        let mut req = ChatRequest::new("claude-x", vec![Message::user("Hi")]).with_tool(Tool {
            name: "lookup".into(),
            description: "Looks things up".into(),
            parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
        });
        req.tool_choice = Some(ToolChoice::Required);
        req.response_format = Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}}
        }));
        req.extra
            .insert("output_config".into(), json!({"effort": "low"}));
        req.extra.insert("top_k".into(), json!(5));
        let w = body(&req);
        assert_eq!(
            w.body["tools"][0]["input_schema"]["properties"]["q"]["type"],
            "string"
        );
        assert_eq!(w.body["tool_choice"], json!({"type": "any"}));
        assert_eq!(
            w.body["output_config"],
            json!({"format": {"type": "json_schema", "schema": {"type": "object"}}, "effort": "low"})
        );
        assert_eq!(w.body["top_k"], 5);
    }

    #[test]
    fn sampling_user_and_parallel_fields_map_to_the_messages_api() {
        let mut req = ChatRequest::new("claude-x", vec![Message::user("Hi")]);
        req.top_k = Some(40);
        req.user = Some("u-1".into());
        req.seed = Some(7);
        req.presence_penalty = Some(0.5);
        req.frequency_penalty = Some(0.5);
        req.parallel_tool_calls = Some(false);
        req.logit_bias = json!({"1": 2}).as_object().cloned();
        let w = body(&req);
        assert_eq!(w.body["top_k"], 40);
        assert_eq!(w.body["metadata"], json!({"user_id": "u-1"}));
        // No Messages API field for these; the API would refuse them.
        for absent in [
            "seed",
            "presence_penalty",
            "frequency_penalty",
            "logit_bias",
            "user",
            "parallel_tool_calls",
            // No tools: no tool_choice to carry the flag.
            "tool_choice",
        ] {
            assert!(w.body.get(absent).is_none(), "{absent}: {}", w.body);
        }
        let mut req = req.with_tool(Tool {
            name: "lookup".into(),
            description: String::new(),
            parameters: json!({"type": "object"}),
        });
        assert_eq!(
            body(&req).body["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        req.tool_choice = Some(ToolChoice::Tool("lookup".into()));
        assert_eq!(
            body(&req).body["tool_choice"],
            json!({"type": "tool", "name": "lookup", "disable_parallel_tool_use": true})
        );
        req.tool_choice = Some(ToolChoice::None);
        assert_eq!(body(&req).body["tool_choice"], json!({"type": "none"}));
    }

    #[test]
    fn bad_tool_arguments_are_refused() {
        let mut a = Message::assistant("");
        a.tool_calls.push(ToolCall {
            id: "t".into(),
            name: "f".into(),
            arguments: "{not json".into(),
        });
        let req = ChatRequest::new("m", vec![Message::user("x"), a]);
        assert!(build(&req, &AnthropicConfig::default(), false).is_err());
    }
}
