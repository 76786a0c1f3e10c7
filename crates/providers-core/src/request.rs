//! `ChatRequest` and its parts: messages, content, tools — in provider-neutral terms.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ToolCall;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// Instructions (most providers also accept [`ChatRequest::system`]).
    System,
    /// The user.
    User,
    /// The model (earlier turns, or a prefix to continue from).
    Assistant,
    /// A tool's result.
    Tool,
}

/// One piece of message content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, by URL (`https://…` or a `data:` URL).
    Image {
        /// The image URL.
        url: String,
    },
}

/// A message in the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said; several parts for images.
    pub content: Vec<ContentPart>,
    /// Tool calls the assistant made in this turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message of plain text.
    pub fn text(role: Role, text: impl Into<String>) -> Message {
        Message {
            role,
            content: vec![ContentPart::Text { text: text.into() }],
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Message {
        Message::text(Role::User, text)
    }

    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Message {
        Message::text(Role::Assistant, text)
    }

    /// A system message.
    pub fn system(text: impl Into<String>) -> Message {
        Message::text(Role::System, text)
    }

    /// A tool result answering `call_id`.
    pub fn tool_result(call_id: impl Into<String>, result: impl Into<String>) -> Message {
        Message {
            role: Role::Tool,
            content: vec![ContentPart::Text {
                text: result.into(),
            }],
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
        }
    }

    /// All text parts joined.
    pub fn joined_text(&self) -> String {
        self.content
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The tool's name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default)]
    pub description: String,
    /// Its parameters, as a JSON schema.
    pub parameters: Value,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This tool.
    Tool(String),
}

/// A chat request, in provider-neutral terms; each provider translates it to its wire format.
///
/// ```
/// use steadfast_providers_core::{ChatRequest, Message};
///
/// let req = ChatRequest::new("gpt-4o-mini", vec![Message::user("Hello!")])
///     .with_system("Be brief.")
///     .with_max_tokens(100);
/// assert_eq!(req.messages.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatRequest {
    /// The model id, as the provider names it.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// A system prompt (sent the way each provider expects it).
    pub system: Option<String>,
    /// Tools the model may call.
    pub tools: Vec<Tool>,
    /// Whether it must call one.
    pub tool_choice: Option<ToolChoice>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// The most tokens to generate.
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// A response format (e.g. OpenAI's `{"type":"json_schema",…}`), passed through as is.
    pub response_format: Option<Value>,
    /// Only the `k` most likely tokens are sampled (Anthropic `top_k`, Gemini `topK`, Ollama
    /// `options.top_k`). Not sent on the OpenAI wire, which has no such field.
    pub top_k: Option<u32>,
    /// A seed for repeatable sampling (OpenAI `seed`, Gemini `generationConfig.seed`, Ollama
    /// `options.seed`). Anthropic has none; it is not sent there.
    pub seed: Option<i64>,
    /// Penalizes tokens that already appeared (OpenAI `presence_penalty`, Gemini
    /// `presencePenalty`, Ollama `options.presence_penalty`). Not sent to Anthropic.
    pub presence_penalty: Option<f32>,
    /// Penalizes tokens by how often they appeared (OpenAI `frequency_penalty`, Gemini
    /// `frequencyPenalty`, Ollama `options.frequency_penalty`). Not sent to Anthropic.
    pub frequency_penalty: Option<f32>,
    /// Whether the model may call several tools in one turn (OpenAI `parallel_tool_calls`;
    /// Anthropic's `tool_choice.disable_parallel_tool_use` is its negation). Sent only with
    /// tools, and not to Gemini or Ollama.
    pub parallel_tool_calls: Option<bool>,
    /// An id for the end user, for the provider's abuse monitoring (OpenAI `user`, Anthropic
    /// `metadata.user_id`). Not sent to Gemini or Ollama.
    pub user: Option<String>,
    /// OpenAI's `logit_bias` (token id to bias); sent on the OpenAI wire only.
    pub logit_bias: Option<Map<String, Value>>,
    /// Provider-specific fields merged into the wire body by [`merge_extra`]: an object merges
    /// one level into an object the provider already built (so `{"options": {"num_ctx":
    /// 8192}}` adds to Ollama's options), anything else is set as given. Whatever provider
    /// serves the call gets them as they are, so a field some providers' APIs would refuse
    /// belongs in a typed field above.
    pub extra: Map<String, Value>,
    /// The timeout for this request, overriding the provider's.
    #[serde(with = "steadfast_errors::serde_duration::option")]
    pub timeout: Option<Duration>,
}

impl ChatRequest {
    /// A request for `model` with `messages`.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            messages,
            ..ChatRequest::default()
        }
    }

    /// Sets the system prompt.
    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// Sets the token limit.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Adds a tool.
    pub fn with_tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }

    /// Sets the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The request extended to continue a partial answer: `partial` becomes a trailing
    /// assistant message (merged into one if the conversation already ends with one). This is
    /// the natural resume hook of providers that accept an assistant prefix (Anthropic's
    /// prefill, DeepSeek's prefix completion, llama.cpp).
    ///
    /// A [`max_tokens`](Self::max_tokens) limit is reduced by an estimate of the tokens in
    /// `partial` (characters / 4, rounded up; at least 1 is left), so that the delivered text
    /// and its continuation together stay within what was asked; see
    /// [`resume::remaining_max_tokens`](crate::resume::remaining_max_tokens). A request
    /// without a limit keeps none.
    ///
    /// ```
    /// use steadfast_providers_core::{ChatRequest, Message};
    ///
    /// let asked = ChatRequest::new("m", vec![Message::user("Count to 50")]).with_max_tokens(100);
    /// let next = asked.continued_from("1, 2, 3, 4, 5, ");
    /// assert_eq!(next.messages.len(), 2);
    /// assert_eq!(next.max_tokens, Some(96));
    /// ```
    pub fn continued_from(&self, partial: &str) -> ChatRequest {
        let mut req = self.clone();
        req.max_tokens = self
            .max_tokens
            .map(|max| crate::resume::remaining_max_tokens(max, partial));
        match req.messages.last_mut() {
            Some(last) if last.role == Role::Assistant && last.tool_calls.is_empty() => {
                last.content.push(ContentPart::Text {
                    text: partial.to_owned(),
                });
            }
            _ => req.messages.push(Message::assistant(partial)),
        }
        req
    }
}

/// An `f32` (a temperature, a `top_p`) as the JSON number it reads as: `0.2`, not the
/// `0.20000000298023224` a plain `f64` conversion gives.
///
/// ```
/// use steadfast_providers_core::json_float;
///
/// assert_eq!(json_float(0.2).to_string(), "0.2");
/// assert!(json_float(f32::NAN).is_null());
/// ```
pub fn json_float(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// Merges [`ChatRequest::extra`] into a wire body: for each key, an object merges one level
/// into an object already there; anything else is set as given (replacing what was there).
///
/// ```
/// use serde_json::json;
/// use steadfast_providers_core::merge_extra;
///
/// let mut body = json!({"model": "m", "generationConfig": {"temperature": 0.2}});
/// let extra = json!({"generationConfig": {"topK": 40}, "safetySettings": []});
/// merge_extra(body.as_object_mut().unwrap(), extra.as_object().unwrap());
/// assert_eq!(body, json!({"model": "m", "generationConfig": {"temperature": 0.2, "topK": 40}, "safetySettings": []}));
/// ```
pub fn merge_extra(body: &mut Map<String, Value>, extra: &Map<String, Value>) {
    for (key, value) in extra {
        match (body.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(add)) => {
                for (k, v) in add {
                    existing.insert(k.clone(), v.clone());
                }
            }
            _ => {
                body.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The parts of a base64 `data:` URL (an inline image): its media type (`image/png` when the
/// URL names none) and the base64 payload. `None` when `url` is not a `data:` URL at all;
/// an error when it is one but not base64 or has no payload.
///
/// ```
/// use steadfast_providers_core::parse_data_url;
///
/// assert_eq!(parse_data_url("data:image/jpeg;base64,/9j/4AAQ"), Some(Ok(("image/jpeg", "/9j/4AAQ"))));
/// assert_eq!(parse_data_url("data:;base64,iVBOR"), Some(Ok(("image/png", "iVBOR"))));
/// assert!(parse_data_url("data:text/plain,hello").unwrap().is_err());
/// assert_eq!(parse_data_url("https://example.com/cat.png"), None);
/// ```
pub fn parse_data_url(url: &str) -> Option<Result<(&str, &str), String>> {
    let rest = url.strip_prefix("data:")?;
    let Some((meta, data)) = rest.split_once(',') else {
        return Some(Err("an image data: URL has no comma".to_owned()));
    };
    let Some(media_type) = meta.strip_suffix(";base64") else {
        return Some(Err("an image data: URL is not base64".to_owned()));
    };
    let media_type = if media_type.is_empty() {
        "image/png"
    } else {
        media_type
    };
    Some(Ok((media_type, data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_continuation_asks_only_for_the_tokens_still_owed() {
        let request = ChatRequest::new("m", vec![Message::user("Count")]).with_max_tokens(100);
        // 41 characters delivered: an estimated 11 tokens (41 / 4, rounded up).
        let next = request.continued_from(&"x".repeat(41));
        assert_eq!(next.max_tokens, Some(89));
        // A second resume counts only what the second partial adds.
        assert_eq!(next.continued_from("abcd").max_tokens, Some(88));
        // Far more delivered than asked: at least one token is still asked for.
        assert_eq!(
            request.continued_from(&"x".repeat(10_000)).max_tokens,
            Some(1)
        );
        // Characters, not bytes: four multi-byte characters are one token.
        assert_eq!(request.continued_from("éééé").max_tokens, Some(99));
    }

    #[test]
    fn a_continuation_without_a_limit_stays_without_one() {
        let request = ChatRequest::new("m", vec![Message::user("Count")]);
        assert_eq!(request.continued_from("one two").max_tokens, None);
    }
}
