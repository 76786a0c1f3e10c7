//! Prompt templates: how a conversation becomes the one prompt a completion binary reads.
//!
//! # Why steadfast renders the prompt
//!
//! `llama-cli` can apply the model's own chat template (`--jinja`, `--chat-template`), but
//! only in its conversation mode, which reads turns from a terminal: it cannot be handed a
//! whole multi-turn conversation, nor an assistant prefix to continue, in one
//! non-interactive run. So the binary runs in plain completion mode (`-no-cnv`) and
//! steadfast renders the conversation with a [`PromptTemplate`] — or with your own
//! [`PromptFormatter`] when the model's format is not among them.
//!
//! Every template:
//! - puts [`ChatRequest::system`] first (and system messages where they occur);
//! - renders each message in its role's turn markers;
//! - ends with the open assistant turn, so the model writes the answer; **when the last
//!   message is an assistant message its turn is left open instead**, so the model
//!   continues that text exactly (a prefill — the resume hook relies on it);
//! - leaves out the BOS token, which the binary adds itself;
//! - writes assistant tool calls as one JSON object per line (`{"name":…,"arguments":…}`)
//!   and tool results as their text, in the `tool` role where the format has one.
//!
//! The chat models' templates end their turns with special tokens (`<|im_end|>`,
//! `<|eot_id|>`, `<end_of_turn>`) that the binary treats as end of generation; the
//! [`Plain`](PromptTemplate::Plain) template has none, so it brings its own stop sequence.

use std::fmt;

use serde::{Deserialize, Serialize};
use steadfast_providers_core::{ChatRequest, Message, Role};

/// Renders a conversation as a prompt. Implement it for a model whose format is not a
/// [`PromptTemplate`], or wrap a closure in [`FormatFn`].
pub trait PromptFormatter: Send + Sync + fmt::Debug {
    /// The prompt for `request`, ending where the model should start writing.
    fn render(&self, request: &ChatRequest) -> String;

    /// Sequences that end the answer (cut before them) in addition to the request's `stop`.
    fn stop_sequences(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A closure as a [`PromptFormatter`].
///
/// ```
/// use std::sync::Arc;
/// use steadfast_providers_core::{ChatRequest, Message};
/// use steadfast_providers_llamacpp::{FormatFn, LlamaCppConfig, PromptFormatter};
///
/// let alpaca = FormatFn(|req: &ChatRequest| {
///     let question = req.messages.last().map(Message::joined_text).unwrap_or_default();
///     format!("### Instruction:\n{question}\n\n### Response:\n")
/// });
/// let prompt = alpaca.render(&ChatRequest::new("m", vec![Message::user("Hi")]));
/// assert_eq!(prompt, "### Instruction:\nHi\n\n### Response:\n");
/// let config = LlamaCppConfig { formatter: Some(Arc::new(alpaca)), ..LlamaCppConfig::default() };
/// # let _ = config;
/// ```
#[derive(Clone, Copy)]
pub struct FormatFn<F>(pub F);

impl<F> fmt::Debug for FormatFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FormatFn(..)")
    }
}

impl<F> PromptFormatter for FormatFn<F>
where
    F: Fn(&ChatRequest) -> String + Send + Sync,
{
    fn render(&self, request: &ChatRequest) -> String {
        (self.0)(request)
    }
}

/// The built-in chat formats. Names in config files are lowercase (`"chatml"`, `"llama3"`,
/// `"gemma"`, `"plain"`).
///
/// ```
/// use steadfast_providers_core::{ChatRequest, Message};
/// use steadfast_providers_llamacpp::{PromptFormatter, PromptTemplate};
///
/// let req = ChatRequest::new("qwen", vec![Message::user("Hi"), Message::assistant("Hello! I am")])
///     .with_system("Be brief.");
/// assert_eq!(
///     PromptTemplate::ChatMl.render(&req),
///     "<|im_start|>system\nBe brief.<|im_end|>\n\
///      <|im_start|>user\nHi<|im_end|>\n\
///      <|im_start|>assistant\nHello! I am", // left open: the model continues it
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PromptTemplate {
    /// `<|im_start|>role\n…<|im_end|>\n` — Qwen, Hermes, Yi, SmolLM and many fine-tunes.
    /// The default.
    #[default]
    #[serde(rename = "chatml")]
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>` — Llama 3, 3.1, 3.2, 3.3
    /// (tool results in the `ipython` role).
    Llama3,
    /// `<start_of_turn>user\n…<end_of_turn>\n` / `model` — Gemma 1–3 (no system role: the
    /// system text opens the first user turn).
    Gemma,
    /// `User: …` / `Assistant: …` paragraphs, for base models; stops at `\nUser:`.
    Plain,
}

impl PromptFormatter for PromptTemplate {
    fn render(&self, request: &ChatRequest) -> String {
        match self {
            PromptTemplate::ChatMl => chatml(request),
            PromptTemplate::Llama3 => llama3(request),
            PromptTemplate::Gemma => gemma(request),
            PromptTemplate::Plain => plain(request),
        }
    }

    fn stop_sequences(&self) -> Vec<String> {
        match self {
            PromptTemplate::Plain => vec!["\nUser:".to_owned()],
            _ => Vec::new(),
        }
    }
}

/// A message's text: its text parts, then one JSON line per tool call.
fn body(message: &Message) -> String {
    let mut text = message.joined_text();
    for call in &message.tool_calls {
        // Written by hand so that `name` comes first whatever serde_json's map order.
        let arguments = serde_json::from_str::<serde_json::Value>(&call.arguments)
            .unwrap_or_else(|_| serde_json::Value::String(call.arguments.clone()));
        let name = serde_json::Value::String(call.name.clone());
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(r#"{{"name":{name},"arguments":{arguments}}}"#));
    }
    text
}

/// Whether message `i` of `messages` is a trailing assistant message (to be continued).
fn is_prefill(messages: &[Message], i: usize) -> bool {
    i + 1 == messages.len() && messages[i].role == Role::Assistant
}

fn system_prompt(request: &ChatRequest) -> Option<&str> {
    request.system.as_deref().filter(|s| !s.is_empty())
}

fn chatml(request: &ChatRequest) -> String {
    let mut out = String::new();
    if let Some(system) = system_prompt(request) {
        out.push_str(&format!("<|im_start|>system\n{system}<|im_end|>\n"));
    }
    for (i, m) in request.messages.iter().enumerate() {
        let role = match m.role {
            Role::System => "system",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            _ => "user",
        };
        out.push_str(&format!("<|im_start|>{role}\n{}", body(m)));
        if is_prefill(&request.messages, i) {
            return out;
        }
        out.push_str("<|im_end|>\n");
    }
    out.push_str("<|im_start|>assistant\n");
    out
}

fn llama3(request: &ChatRequest) -> String {
    let mut out = String::new();
    let header = |role: &str| format!("<|start_header_id|>{role}<|end_header_id|>\n\n");
    if let Some(system) = system_prompt(request) {
        out.push_str(&header("system"));
        out.push_str(system);
        out.push_str("<|eot_id|>");
    }
    for (i, m) in request.messages.iter().enumerate() {
        let role = match m.role {
            Role::System => "system",
            Role::Assistant => "assistant",
            Role::Tool => "ipython",
            _ => "user",
        };
        out.push_str(&header(role));
        out.push_str(&body(m));
        if is_prefill(&request.messages, i) {
            return out;
        }
        out.push_str("<|eot_id|>");
    }
    out.push_str(&header("assistant"));
    out
}

fn gemma(request: &ChatRequest) -> String {
    let mut out = String::new();
    // Gemma has no system turn: system text waits for the next user turn.
    let mut pending_system: Vec<String> = system_prompt(request)
        .map(|s| vec![s.to_owned()])
        .unwrap_or_default();
    for (i, m) in request.messages.iter().enumerate() {
        if m.role == Role::System {
            pending_system.push(body(m));
            continue;
        }
        let role = if m.role == Role::Assistant {
            "model"
        } else {
            "user"
        };
        out.push_str(&format!("<start_of_turn>{role}\n"));
        if role == "user" && !pending_system.is_empty() {
            out.push_str(&pending_system.join("\n\n"));
            out.push_str("\n\n");
            pending_system.clear();
        }
        out.push_str(&body(m));
        if is_prefill(&request.messages, i) {
            return out;
        }
        out.push_str("<end_of_turn>\n");
    }
    if !pending_system.is_empty() {
        out.push_str(&format!(
            "<start_of_turn>user\n{}<end_of_turn>\n",
            pending_system.join("\n\n")
        ));
    }
    out.push_str("<start_of_turn>model\n");
    out
}

fn plain(request: &ChatRequest) -> String {
    let mut out = String::new();
    if let Some(system) = system_prompt(request) {
        out.push_str(system);
        out.push_str("\n\n");
    }
    for (i, m) in request.messages.iter().enumerate() {
        let text = body(m);
        match m.role {
            Role::System => {
                out.push_str(&text);
                out.push_str("\n\n");
                continue;
            }
            Role::Assistant if is_prefill(&request.messages, i) => {
                out.push_str("Assistant: ");
                out.push_str(&text);
                return out;
            }
            Role::Assistant => out.push_str("Assistant: "),
            Role::Tool => out.push_str("Tool: "),
            _ => out.push_str("User: "),
        }
        out.push_str(&text);
        out.push_str("\n\n");
    }
    out.push_str("Assistant:");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use steadfast_providers_core::ToolCall;

    fn conversation() -> ChatRequest {
        ChatRequest::new(
            "m",
            vec![
                Message::user("What's the weather in Paris?"),
                Message {
                    role: Role::Assistant,
                    content: vec![],
                    tool_calls: vec![ToolCall {
                        id: "c1".into(),
                        name: "weather".into(),
                        arguments: r#"{"city":"Paris"}"#.into(),
                    }],
                    tool_call_id: None,
                },
                Message::tool_result("c1", "18°C, sunny"),
            ],
        )
        .with_system("You are terse.")
    }

    #[test]
    fn chatml_renders_turns_and_opens_the_answer() {
        assert_eq!(
            PromptTemplate::ChatMl.render(&conversation()),
            "<|im_start|>system\nYou are terse.<|im_end|>\n\
             <|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n\
             <|im_start|>assistant\n{\"name\":\"weather\",\"arguments\":{\"city\":\"Paris\"}}<|im_end|>\n\
             <|im_start|>tool\n18°C, sunny<|im_end|>\n\
             <|im_start|>assistant\n"
        );
    }

    #[test]
    fn llama3_renders_headers_and_continues_a_prefix() {
        let req = ChatRequest::new("m", vec![Message::user("Hi"), Message::assistant("Hel")])
            .with_system("S");
        assert_eq!(
            PromptTemplate::Llama3.render(&req),
            "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\nHel"
        );
        assert!(
            PromptTemplate::Llama3
                .render(&conversation())
                .contains("<|start_header_id|>ipython<|end_header_id|>\n\n18°C, sunny<|eot_id|>")
        );
    }

    #[test]
    fn gemma_folds_the_system_prompt_into_the_first_user_turn() {
        let req = ChatRequest::new("m", vec![Message::user("Hi")]).with_system("S");
        assert_eq!(
            PromptTemplate::Gemma.render(&req),
            "<start_of_turn>user\nS\n\nHi<end_of_turn>\n<start_of_turn>model\n"
        );
        let prefix = ChatRequest::new("m", vec![Message::user("Hi"), Message::assistant("Yo")]);
        assert_eq!(
            PromptTemplate::Gemma.render(&prefix),
            "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nYo"
        );
    }

    #[test]
    fn plain_has_its_own_stop_and_prefill() {
        let req = ChatRequest::new("m", vec![Message::user("Hi")]).with_system("S");
        assert_eq!(
            PromptTemplate::Plain.render(&req),
            "S\n\nUser: Hi\n\nAssistant:"
        );
        assert_eq!(PromptTemplate::Plain.stop_sequences(), ["\nUser:"]);
        let cont = req.continued_from("Hello");
        assert_eq!(
            PromptTemplate::Plain.render(&cont),
            "S\n\nUser: Hi\n\nAssistant: Hello"
        );
        assert!(PromptTemplate::ChatMl.stop_sequences().is_empty());
    }

    #[test]
    fn template_names_round_trip_through_serde() {
        for (t, name) in [
            (PromptTemplate::ChatMl, "\"chatml\""),
            (PromptTemplate::Llama3, "\"llama3\""),
            (PromptTemplate::Gemma, "\"gemma\""),
            (PromptTemplate::Plain, "\"plain\""),
        ] {
            assert_eq!(serde_json::to_string(&t).unwrap(), name);
            assert_eq!(serde_json::from_str::<PromptTemplate>(name).unwrap(), t);
        }
    }
}
