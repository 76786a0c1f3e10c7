//! The typed, borrowing readings of whole OpenAI-compatible and Anthropic bodies.
//!
//! [`openai`] reads a `chat.completion` body (and [`anthropic`] a Messages `message`) into
//! borrowed structs and builds the
//! [`ChatResponse`] from them, copying each string once. It keeps the `serde_json::Value`
//! reading of [`crate::response`] as its reference: whenever the typed structs cannot take
//! the body (a field of an unexpected type, a duplicated key, an array in place of an
//! object, bytes that are not UTF-8), or the body may hold an in-band error (an `error`
//! key, `type: "error"`, `status: "FAILED"`, `promptFeedback`, a choice with an `error`),
//! it returns `None` and the caller reads the body as a `Value`. So the cheap in-band test
//! is the typed struct itself, and the error classification path is unchanged.
//!
//! Like the typed stream decoders, fields it does not read are skipped without being
//! converted: a number outside `f64`'s range or a lone surrogate escape in such a field does
//! not make the body malformed here, as it would for the `Value` reading.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use steadfast_providers_core::{ChatResponse, FinishReason, ToolCall};

use crate::decode::typed::{Obj, any_value, nullable, present};
use crate::decode::{AnthropicUsage, WireUsage};

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(default, deserialize_with = "present")]
    error: bool,
    #[serde(default, borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, rename = "promptFeedback", deserialize_with = "present")]
    prompt_feedback: bool,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    choices: Option<Choices<'a>>,
    #[serde(default)]
    usage: Option<Obj<WireUsage>>,
}

/// The first choice (the only one read) and whether any choice carries an `error`.
struct Choices<'a> {
    first: Option<Choice<'a>>,
    any_error: bool,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default, deserialize_with = "present")]
    error: bool,
    #[serde(default, borrow)]
    message: Option<Obj<Message<'a>>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

/// A later choice: only whether it carries an `error`.
#[derive(Deserialize)]
struct OtherChoice {
    #[serde(default, deserialize_with = "present")]
    error: bool,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default, borrow)]
    content: Option<Content<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<Obj<WireToolCall<'a>>>>,
}

/// `content`: a string, or an array of parts whose texts are joined.
enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(String),
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireToolCall<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<Obj<Function<'a>>>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Arguments<'a>>,
}

/// `arguments`: a string, or an object re-serialized as the `Value` reading writes it.
enum Arguments<'a> {
    Text(Cow<'a, str>),
    Object(String),
}

/// Reads an OpenAI-compatible body (already trimmed) into a response, or `None` when the body
/// is for the `Value` reading (see the module docs).
pub(crate) fn openai(body: &[u8]) -> Option<ChatResponse> {
    // Checked here because skipped strings are not: the `Value` reading refuses such bytes.
    let text = std::str::from_utf8(body).ok()?;
    let Obj(b) = serde_json::from_str::<Obj<Body<'_>>>(text).ok()?;
    let choices = b.choices.unwrap_or(Choices {
        first: None,
        any_error: false,
    });
    if b.error
        || b.prompt_feedback
        || choices.any_error
        || b.ty.as_deref() == Some("error")
        || b.status.as_deref() == Some("FAILED")
    {
        return None;
    }
    let mut r = ChatResponse {
        id: b.id.map(Cow::into_owned),
        model: b.model.map(Cow::into_owned),
        ..ChatResponse::default()
    };
    if let Some(choice) = choices.first {
        if let Some(Obj(msg)) = choice.message {
            match msg.content {
                Some(Content::Text(t)) => r.text = t.into_owned(),
                Some(Content::Parts(t)) => r.text = t,
                None => {}
            }
            r.reasoning = msg
                .reasoning_content
                .or(msg.reasoning)
                .map(Cow::into_owned)
                .unwrap_or_default();
            r.refusal = msg.refusal.map(Cow::into_owned).unwrap_or_default();
            for Obj(tc) in msg.tool_calls.into_iter().flatten() {
                let (name, arguments) = match tc.function {
                    Some(Obj(f)) => (f.name, f.arguments),
                    None => (None, None),
                };
                r.tool_calls.push(ToolCall {
                    id: tc.id.map(Cow::into_owned).unwrap_or_default(),
                    name: name.map(Cow::into_owned).unwrap_or_default(),
                    arguments: match arguments {
                        Some(Arguments::Text(a)) => a.into_owned(),
                        Some(Arguments::Object(a)) => a,
                        None => String::new(),
                    },
                });
            }
        }
        if let Some(raw) = choice.finish_reason {
            r.finish_reason = Some(FinishReason::from_openai(&raw));
            r.finish_raw = Some(raw.into_owned());
        }
    }
    if let Some(Obj(u)) = b.usage {
        r.usage = Some(u.to_usage());
    }
    Some(r)
}

#[derive(Deserialize)]
struct AnthropicBody<'a> {
    #[serde(default, deserialize_with = "present")]
    error: bool,
    #[serde(default, borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, rename = "promptFeedback", deserialize_with = "present")]
    prompt_feedback: bool,
    /// Only whether it is there: a choice may carry an error.
    #[serde(default, deserialize_with = "present")]
    choices: bool,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    content: Option<Vec<Obj<Block<'a>>>>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "nullable")]
    usage: Option<Option<Obj<AnthropicUsage>>>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(default, borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    /// Re-serialized as the arguments, so kept as a value (`null` included).
    #[serde(default, deserialize_with = "any_value")]
    input: Option<Value>,
}

/// Reads an Anthropic Messages body (already trimmed) into a response, or `None` when the
/// body is for the `Value` reading (see the module docs).
pub(crate) fn anthropic(body: &[u8]) -> Option<ChatResponse> {
    let text = std::str::from_utf8(body).ok()?;
    let Obj(b) = serde_json::from_str::<Obj<AnthropicBody<'_>>>(text).ok()?;
    if b.error
        || b.prompt_feedback
        || b.choices
        || b.ty.as_deref() == Some("error")
        || b.status.as_deref() == Some("FAILED")
    {
        return None;
    }
    let mut r = ChatResponse {
        id: b.id.map(Cow::into_owned),
        model: b.model.map(Cow::into_owned),
        ..ChatResponse::default()
    };
    for Obj(block) in b.content.into_iter().flatten() {
        match block.ty.as_deref() {
            Some("text") => r.text.push_str(block.text.as_deref().unwrap_or("")),
            Some("thinking") => r
                .reasoning
                .push_str(block.thinking.as_deref().unwrap_or("")),
            Some("tool_use") => r.tool_calls.push(ToolCall {
                id: block.id.map(Cow::into_owned).unwrap_or_default(),
                name: block.name.map(Cow::into_owned).unwrap_or_default(),
                arguments: block
                    .input
                    .map_or_else(|| "{}".to_owned(), |v| v.to_string()),
            }),
            _ => {}
        }
    }
    if let Some(raw) = b.stop_reason {
        r.finish_reason = Some(FinishReason::from_anthropic(&raw));
        r.finish_raw = Some(raw.into_owned());
    }
    if let Some(u) = b.usage {
        let mut usage = steadfast_providers_core::Usage::default();
        if let Some(Obj(u)) = u {
            u.merge_into(&mut usage);
        }
        r.usage = Some(usage);
    }
    Some(r)
}

impl<'de: 'a, 'a> Deserialize<'de> for Choices<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Choices<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Choices<'a>, A::Error> {
                let first = seq.next_element::<Obj<Choice<'a>>>()?.map(|c| c.0);
                let mut any_error = first.as_ref().is_some_and(|c| c.error);
                while let Some(Obj(other)) = seq.next_element::<Obj<OtherChoice>>()? {
                    any_error |= other.error;
                }
                Ok(Choices { first, any_error })
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of parts")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Content<'a>, E> {
                Ok(Content::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Content<'a>, E> {
                Ok(Content::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Content<'a>, E> {
                Ok(Content::Text(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content<'a>, A::Error> {
                let mut text = String::new();
                while let Some(Obj(part)) = seq.next_element::<Obj<Part<'_>>>()? {
                    if let Some(t) = part.text {
                        text.push_str(&t);
                    }
                }
                Ok(Content::Parts(text))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Arguments<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Arguments<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an object")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Arguments<'a>, E> {
                Ok(Arguments::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Arguments<'a>, E> {
                Ok(Arguments::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Arguments<'a>, E> {
                Ok(Arguments::Text(Cow::Owned(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Arguments<'a>, A::Error> {
                // As the `Value` reading writes it: through a `Value`, so keys come out in
                // the same order whatever `serde_json`'s features.
                let v = Value::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Arguments::Object(v.to_string()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
#[path = "response_typed_tests.rs"]
mod tests;
