//! Translating a `ChatRequest` into a `generateContent` body, and the model's URL path.
//!
//! Sampling goes in `generationConfig` (`temperature`, `topP`, `topK`, `seed`,
//! `presencePenalty`, `frequencyPenalty`, `maxOutputTokens`, `stopSequences`); `user`,
//! `parallel_tool_calls` and `logit_bias` have no Gemini field and are not sent.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use steadfast_providers_core::{ChatRequest, ContentPart, Message, Role, ToolChoice, json_float};

use crate::config::GeminiConfig;

/// The URL path of `model` under the API version: `models/{model}` (a `models/` prefix in
/// the id is accepted), or the id as given when it names another collection
/// (`tunedModels/…`). Ids that could escape the path are refused.
pub(crate) fn model_path(model: &str) -> Result<String, String> {
    let model = model.trim();
    if model.is_empty() {
        return Err("the request names no model".to_owned());
    }
    let safe = model
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/'))
        && !model.contains("..")
        && !model.starts_with('/')
        && !model.ends_with('/');
    if !safe {
        return Err("the model id is not a valid Gemini model id (letters, digits, `-._/`)".into());
    }
    Ok(if model.contains('/') {
        model.to_owned()
    } else {
        format!("models/{model}")
    })
}

/// Builds the body of `generateContent` / `streamGenerateContent`.
pub(crate) fn build(request: &ChatRequest, config: &GeminiConfig) -> Result<Value, String> {
    let mut system: Vec<String> = request.system.iter().cloned().collect();
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        let (role, parts) = match message.role {
            Role::System => {
                let text = message.joined_text();
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            Role::Assistant => {
                for call in &message.tool_calls {
                    names.insert(&call.id, &call.name);
                }
                ("model", model_parts(message)?)
            }
            Role::Tool => ("user", function_response(message, &names)?),
            // User, and roles added to the core after this was written.
            _ => ("user", content_parts(&message.content)?),
        };
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => turns.push((role, parts)),
        }
    }
    for (role, parts) in &mut turns {
        if *role == "user" {
            // Function responses first, in the order of the calls they answer.
            parts.sort_by_key(|p| p.get("functionResponse").is_none());
        } else {
            join_adjacent_text(parts);
            if let Some(signature) = &config.thought_signature_placeholder
                && let Some(first) = parts.iter_mut().find(|p| p.get("functionCall").is_some())
                && first.get("thoughtSignature").is_none()
            {
                first["thoughtSignature"] = json!(signature);
            }
        }
    }

    let mut body = Map::new();
    body.insert(
        "contents".into(),
        Value::Array(
            turns
                .into_iter()
                .map(|(role, parts)| json!({"role": role, "parts": parts}))
                .collect(),
        ),
    );
    let system = system.join("\n\n");
    if !system.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system}]}),
        );
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                let mut d = Map::new();
                d.insert("name".into(), json!(t.name));
                if !t.description.is_empty() {
                    d.insert("description".into(), json!(t.description));
                }
                if matches!(&t.parameters, Value::Object(o) if !o.is_empty()) {
                    // Full JSON Schema; `parameters` would take only Google's OpenAPI subset.
                    d.insert("parametersJsonSchema".into(), t.parameters.clone());
                }
                Value::Object(d)
            })
            .collect();
        body.insert(
            "tools".into(),
            json!([{ "functionDeclarations": declarations }]),
        );
        if let Some(choice) = request.tool_choice.as_ref().and_then(tool_config) {
            body.insert("toolConfig".into(), choice);
        }
    }
    let mut generation = Map::new();
    if let Some(t) = request.temperature {
        generation.insert("temperature".into(), json_float(t));
    }
    if let Some(p) = request.top_p {
        generation.insert("topP".into(), json_float(p));
    }
    if let Some(k) = request.top_k {
        generation.insert("topK".into(), json!(k));
    }
    if let Some(seed) = request.seed {
        // generationConfig.seed is an int32: a larger seed is folded into its range.
        generation.insert("seed".into(), json!(seed as i32));
    }
    if let Some(p) = request.presence_penalty {
        generation.insert("presencePenalty".into(), json_float(p));
    }
    if let Some(p) = request.frequency_penalty {
        generation.insert("frequencyPenalty".into(), json_float(p));
    }
    if let Some(n) = request.max_tokens {
        generation.insert("maxOutputTokens".into(), json!(n));
    }
    if !request.stop.is_empty() {
        generation.insert("stopSequences".into(), json!(request.stop));
    }
    if let Some(format) = &request.response_format {
        response_format(format, &mut generation);
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    steadfast_providers_core::merge_extra(&mut body, &request.extra);
    Ok(Value::Object(body))
}

fn model_parts(message: &Message) -> Result<Vec<Value>, String> {
    let mut parts = content_parts(&message.content)?;
    for call in &message.tool_calls {
        let args = call.object_arguments()?;
        let mut fc = Map::new();
        fc.insert("name".into(), json!(call.name));
        fc.insert("args".into(), Value::Object(args));
        // Gemini ids are optional; steadfast uses the name as the id when Gemini sent none.
        if !call.id.is_empty() && call.id != call.name {
            fc.insert("id".into(), json!(call.id));
        }
        parts.push(json!({ "functionCall": fc }));
    }
    Ok(parts)
}

/// A tool result as a `functionResponse` part (plus any images it holds).
fn function_response(message: &Message, names: &HashMap<&str, &str>) -> Result<Vec<Value>, String> {
    let Some(id) = message.tool_call_id.as_deref() else {
        return Err("a tool message has no tool_call_id".to_owned());
    };
    // The call's name from the conversation; without it, the id (which is the name when
    // Gemini itself made the call).
    let name = names.get(id).copied().unwrap_or(id);
    let text = message.joined_text();
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(v) => json!({ "result": v }),
        Err(_) => json!({ "result": text }),
    };
    let mut fr = Map::new();
    fr.insert("name".into(), json!(name));
    if id != name {
        fr.insert("id".into(), json!(id));
    }
    fr.insert("response".into(), response);
    let mut parts = vec![json!({ "functionResponse": fr })];
    for part in &message.content {
        if let ContentPart::Image { url } = part {
            parts.push(image_part(url)?);
        }
    }
    Ok(parts)
}

fn content_parts(content: &[ContentPart]) -> Result<Vec<Value>, String> {
    let mut parts = Vec::with_capacity(content.len());
    for part in content {
        match part {
            ContentPart::Text { text } if text.is_empty() => {}
            ContentPart::Text { text } => parts.push(json!({ "text": text })),
            ContentPart::Image { url } => parts.push(image_part(url)?),
            // Content kinds added to the core after this was written.
            _ => return Err("a message holds a content part this provider cannot send".into()),
        }
    }
    Ok(parts)
}

/// `inlineData` from a base64 `data:` URL, `fileData` from any other URL (a Files API URI or
/// a public `https://` URL), with the MIME type taken from the extension.
fn image_part(url: &str) -> Result<Value, String> {
    if let Some(parsed) = steadfast_providers_core::parse_data_url(url) {
        let (mime, data) = parsed?;
        return Ok(json!({"inlineData": {"mimeType": mime, "data": data}}));
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("gs://"))
    {
        return Err("an image URL must be http(s)://, gs:// or a base64 data: URL".to_owned());
    }
    let path = lower.split(['?', '#']).next().unwrap_or("");
    let mime = match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("heic") => "image/heic",
        Some("heif") => "image/heif",
        _ => "image/jpeg",
    };
    Ok(json!({"fileData": {"mimeType": mime, "fileUri": url}}))
}

/// Joins adjacent text parts of a model turn (a continued answer is one text).
fn join_adjacent_text(parts: &mut Vec<Value>) {
    let mut joined: Vec<Value> = Vec::with_capacity(parts.len());
    for part in parts.drain(..) {
        if let Some(Value::String(add)) = part.get("text")
            && part.as_object().is_some_and(|o| o.len() == 1)
            && let Some(prev) = joined.last_mut()
            && prev.as_object().is_some_and(|o| o.len() == 1)
            && let Some(Value::String(text)) = prev.get_mut("text")
        {
            text.push_str(add);
            continue;
        }
        joined.push(part);
    }
    *parts = joined;
}

fn tool_config(choice: &ToolChoice) -> Option<Value> {
    let config = match choice {
        ToolChoice::Auto => json!({"mode": "AUTO"}),
        ToolChoice::None => json!({"mode": "NONE"}),
        ToolChoice::Required => json!({"mode": "ANY"}),
        ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        _ => return None,
    };
    Some(json!({ "functionCallingConfig": config }))
}

/// Maps a response format into `generationConfig`: OpenAI's `json_object` → JSON MIME type;
/// `json_schema` (OpenAI's nested shape or a flat `schema`) → JSON MIME type plus
/// `responseJsonSchema` (full JSON Schema); Gemini's own keys (`responseMimeType`,
/// `responseSchema`, `responseJsonSchema`) are copied as given; `text` adds nothing.
fn response_format(format: &Value, generation: &mut Map<String, Value>) {
    let Some(obj) = format.as_object() else {
        return;
    };
    let native = ["responseMimeType", "responseSchema", "responseJsonSchema"];
    if native.iter().any(|k| obj.contains_key(*k)) {
        for k in native {
            if let Some(v) = obj.get(k) {
                generation.insert(k.into(), v.clone());
            }
        }
        return;
    }
    match obj.get("type").and_then(Value::as_str) {
        Some("json_object") => {
            generation.insert("responseMimeType".into(), json!("application/json"));
        }
        Some("json_schema") => {
            generation.insert("responseMimeType".into(), json!("application/json"));
            let schema = obj
                .get("json_schema")
                .and_then(|j| j.get("schema"))
                .or_else(|| obj.get("schema"));
            if let Some(schema) = schema {
                generation.insert("responseJsonSchema".into(), schema.clone());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steadfast_providers_core::{Tool, ToolCall};

    fn body(request: &ChatRequest) -> Value {
        build(request, &GeminiConfig::default()).unwrap()
    }

    #[test]
    fn model_paths() {
        assert_eq!(
            model_path("gemini-2.5-flash").unwrap(),
            "models/gemini-2.5-flash"
        );
        assert_eq!(
            model_path("models/gemini-2.5-flash").unwrap(),
            "models/gemini-2.5-flash"
        );
        assert_eq!(
            model_path("tunedModels/my-model-7").unwrap(),
            "tunedModels/my-model-7"
        );
        for bad in [
            "",
            "gemini?key=x",
            "../admin",
            "a b",
            "/models/x",
            "models/../x",
        ] {
            assert!(model_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_system_and_merging() {
        let req = ChatRequest::new(
            "gemini-2.5-flash",
            vec![
                Message::system("Be brief."),
                Message::user("Hi"),
                Message::user("Anyone there?"),
                Message::assistant("Yes."),
            ],
        )
        .with_system("You are helpful.");
        let b = body(&req);
        assert_eq!(
            b["systemInstruction"],
            json!({"parts": [{"text": "You are helpful.\n\nBe brief."}]})
        );
        assert_eq!(
            b["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Hi"}, {"text": "Anyone there?"}]},
                {"role": "model", "parts": [{"text": "Yes."}]}
            ])
        );
        assert!(b.get("generationConfig").is_none());
    }

    #[test]
    fn function_calls_and_responses_round_trip() {
        let mut a = Message::assistant("");
        a.tool_calls = vec![
            ToolCall {
                id: "get_weather".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            },
            ToolCall {
                id: "call_2".into(),
                name: "get_time".into(),
                arguments: "{}".into(),
            },
        ];
        let req = ChatRequest::new(
            "gemini-3-pro-preview",
            vec![
                Message::user("Weather and time?"),
                a,
                Message::tool_result("get_weather", r#"{"temp_c": 18}"#),
                Message::tool_result("call_2", "noon"),
            ],
        );
        let b = body(&req);
        let model = &b["contents"][1]["parts"];
        assert_eq!(
            model[0],
            json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                   "thoughtSignature": "skip_thought_signature_validator"})
        );
        assert_eq!(
            model[1],
            json!({"functionCall": {"name": "get_time", "args": {}, "id": "call_2"}})
        );
        let user = &b["contents"][2]["parts"];
        assert_eq!(
            user[0],
            json!({"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}})
        );
        assert_eq!(
            user[1],
            json!({"functionResponse": {"name": "get_time", "id": "call_2", "response": {"result": "noon"}}})
        );
    }

    #[test]
    fn generation_config_tools_and_extra() {
        let mut req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("Hi")])
            .with_max_tokens(256)
            .with_tool(Tool {
                name: "lookup".into(),
                description: String::new(),
                parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": false}),
            })
            .with_tool(Tool {
                name: "now".into(),
                description: "The time".into(),
                parameters: Value::Null,
            });
        req.temperature = Some(0.7);
        req.top_p = Some(0.95);
        req.stop = vec!["###".into()];
        req.tool_choice = Some(ToolChoice::Tool("lookup".into()));
        req.response_format = Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "out", "strict": true, "schema": {"type": "object"}}
        }));
        req.extra.insert(
            "generationConfig".into(),
            json!({"thinkingConfig": {"thinkingBudget": 0}}),
        );
        req.extra.insert(
            "safetySettings".into(),
            json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]),
        );
        let b = body(&req);
        assert_eq!(
            b["generationConfig"],
            json!({
                "temperature": 0.7, "topP": 0.95, "maxOutputTokens": 256, "stopSequences": ["###"],
                "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
                "thinkingConfig": {"thinkingBudget": 0}
            })
        );
        assert_eq!(
            b["tools"][0]["functionDeclarations"],
            json!([
                {"name": "lookup", "parametersJsonSchema": {"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": false}},
                {"name": "now", "description": "The time"}
            ])
        );
        assert_eq!(
            b["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}})
        );
        assert_eq!(b["safetySettings"][0]["threshold"], "BLOCK_NONE");
    }

    #[test]
    fn images_inline_and_by_uri() {
        let mut m = Message::user("Compare");
        m.content.push(ContentPart::Image {
            url: "data:image/webp;base64,UklGRg==".into(),
        });
        m.content.push(ContentPart::Image {
            url: "https://generativelanguage.googleapis.com/v1beta/files/abc123".into(),
        });
        m.content.push(ContentPart::Image {
            url: "https://example.com/a/cat.PNG?x=1".into(),
        });
        let b = body(&ChatRequest::new("gemini-2.5-flash", vec![m]));
        let parts = &b["contents"][0]["parts"];
        assert_eq!(
            parts[1],
            json!({"inlineData": {"mimeType": "image/webp", "data": "UklGRg=="}})
        );
        assert_eq!(parts[2]["fileData"]["mimeType"], "image/jpeg");
        assert_eq!(parts[3]["fileData"]["mimeType"], "image/png");
        let mut bad = Message::user("x");
        bad.content.push(ContentPart::Image {
            url: "file:///etc/passwd".into(),
        });
        assert!(build(&ChatRequest::new("m", vec![bad]), &GeminiConfig::default()).is_err());
    }

    #[test]
    fn response_formats() {
        let mut g = Map::new();
        response_format(&json!({"type": "json_object"}), &mut g);
        assert_eq!(
            Value::Object(g),
            json!({"responseMimeType": "application/json"})
        );
        let mut g = Map::new();
        response_format(
            &json!({"responseMimeType": "text/x.enum", "responseSchema": {"type": "STRING", "enum": ["a"]}}),
            &mut g,
        );
        assert_eq!(g["responseMimeType"], "text/x.enum");
        let mut g = Map::new();
        response_format(&json!({"type": "text"}), &mut g);
        assert!(g.is_empty());
    }

    #[test]
    fn a_continued_model_turn_is_one_text() {
        let req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("Count")])
            .continued_from("One, ")
            .continued_from("two, ");
        let b = body(&req);
        assert_eq!(
            b["contents"][1],
            json!({"role": "model", "parts": [{"text": "One, two, "}]})
        );
    }

    #[test]
    fn sampling_fields_go_in_generation_config_and_the_rest_stay_out() {
        let mut req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("Hi")]);
        req.top_k = Some(40);
        req.seed = Some(7);
        req.presence_penalty = Some(0.5);
        req.frequency_penalty = Some(-0.5);
        req.user = Some("u-1".into());
        req.parallel_tool_calls = Some(false);
        req.logit_bias = json!({"1": 2}).as_object().cloned();
        let b = body(&req);
        assert_eq!(
            b["generationConfig"],
            json!({"topK": 40, "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": -0.5})
        );
        let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["contents", "generationConfig"], "{b}");
    }
}
