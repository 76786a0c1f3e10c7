//! A chat completions body read into the fields [`parse`](super::parse) looks at, straight
//! from its bytes.

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Result, bad};

/// The `visit_*` methods of a visitor for the JSON values other than objects and arrays:
/// each gives `$value`.
macro_rules! not_an_object {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// The fields of a chat completions body that [`parse`](super::parse) reads, each as sent (`None`:
/// absent). Read straight from the body: no `String` per key nor a map to look them up
/// in. Other keys are read (so the body is checked as a whole) and dropped; a key sent
/// twice keeps its last value, as a JSON object read whole does.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Fields {
    pub(super) model: Option<Value>,
    pub(super) messages: Option<Messages>,
    pub(super) temperature: Option<Value>,
    pub(super) top_p: Option<Value>,
    pub(super) max_completion_tokens: Option<Value>,
    pub(super) max_tokens: Option<Value>,
    pub(super) stop: Option<Value>,
    pub(super) tools: Option<Value>,
    pub(super) tool_choice: Option<Value>,
    pub(super) response_format: Option<Value>,
    pub(super) n: Option<Value>,
    pub(super) top_k: Option<Value>,
    pub(super) presence_penalty: Option<Value>,
    pub(super) frequency_penalty: Option<Value>,
    pub(super) seed: Option<Value>,
    pub(super) user: Option<Value>,
    pub(super) parallel_tool_calls: Option<Value>,
    pub(super) logit_bias: Option<Value>,
    pub(super) stream: Option<Value>,
    pub(super) stream_options: Option<Value>,
}

/// A key of the body: one of [`Fields`], or another.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    Model,
    Messages,
    Temperature,
    TopP,
    MaxCompletionTokens,
    MaxTokens,
    Stop,
    Tools,
    ToolChoice,
    ResponseFormat,
    N,
    TopK,
    PresencePenalty,
    FrequencyPenalty,
    Seed,
    User,
    ParallelToolCalls,
    LogitBias,
    Stream,
    StreamOptions,
    #[serde(other)]
    Other,
}

/// A body read as JSON: its fields when it is an object, `None` when it is another value.
struct Body(Option<Fields>);

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Body, D::Error> {
        d.deserialize_any(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Body, A::Error> {
        let mut f = Fields::default();
        while let Some(key) = map.next_key::<Key>()? {
            if matches!(key, Key::Messages) {
                f.messages = Some(map.next_value()?);
                continue;
            }
            let value = map.next_value::<Value>()?;
            let slot = match key {
                Key::Model => &mut f.model,
                Key::Temperature => &mut f.temperature,
                Key::TopP => &mut f.top_p,
                Key::MaxCompletionTokens => &mut f.max_completion_tokens,
                Key::MaxTokens => &mut f.max_tokens,
                Key::Stop => &mut f.stop,
                Key::Tools => &mut f.tools,
                Key::ToolChoice => &mut f.tool_choice,
                Key::ResponseFormat => &mut f.response_format,
                Key::N => &mut f.n,
                Key::TopK => &mut f.top_k,
                Key::PresencePenalty => &mut f.presence_penalty,
                Key::FrequencyPenalty => &mut f.frequency_penalty,
                Key::Seed => &mut f.seed,
                Key::User => &mut f.user,
                Key::ParallelToolCalls => &mut f.parallel_tool_calls,
                Key::LogitBias => &mut f.logit_bias,
                Key::Stream => &mut f.stream,
                Key::StreamOptions => &mut f.stream_options,
                Key::Messages | Key::Other => continue,
            };
            *slot = Some(value);
        }
        Ok(Body(Some(f)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Body, A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(Body(None))
    }

    not_an_object!(Body(None));
}

/// The body's fields, with [`object`](super::object)'s refusals.
pub(super) fn fields(body: &[u8]) -> Result<Fields> {
    let Body(fields) = serde_json::from_slice(body)
        .map_err(|e| bad("body", format!("the body is not valid JSON: {e}")))?;
    fields.ok_or_else(|| bad("body", "the body must be a JSON object"))
}

/// `messages` as sent: an array of messages, or another value.
#[derive(Debug, PartialEq)]
pub(super) enum Messages {
    List(Vec<Sent>),
    Other,
}

/// One entry of `messages`: its fields when it is an object.
#[derive(Debug, PartialEq)]
pub(super) enum Sent {
    Message(MessageFields),
    Other,
}

/// The fields of a message that [`parse`](super::parse) reads, each as sent; other keys
/// are read and dropped, and a key sent twice keeps its last value.
#[derive(Debug, Default, PartialEq)]
pub(super) struct MessageFields {
    pub(super) role: Option<Value>,
    pub(super) content: Option<Value>,
    pub(super) tool_calls: Option<Value>,
    pub(super) tool_call_id: Option<Value>,
}

/// A key of a message: one of [`MessageFields`], or another.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum MessageKey {
    Role,
    Content,
    ToolCalls,
    ToolCallId,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Messages, D::Error> {
        d.deserialize_any(MessagesVisitor)
    }
}

struct MessagesVisitor;

impl<'de> Visitor<'de> for MessagesVisitor {
    type Value = Messages;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Messages, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(sent) = seq.next_element::<Sent>()? {
            list.push(sent);
        }
        Ok(Messages::List(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Messages, A::Error> {
        while map.next_entry::<String, Value>()?.is_some() {}
        Ok(Messages::Other)
    }

    not_an_object!(Messages::Other);
}

impl<'de> Deserialize<'de> for Sent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Sent, D::Error> {
        d.deserialize_any(SentVisitor)
    }
}

struct SentVisitor;

impl<'de> Visitor<'de> for SentVisitor {
    type Value = Sent;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Sent, A::Error> {
        let mut m = MessageFields::default();
        while let Some(key) = map.next_key::<MessageKey>()? {
            let value = map.next_value::<Value>()?;
            let slot = match key {
                MessageKey::Role => &mut m.role,
                MessageKey::Content => &mut m.content,
                MessageKey::ToolCalls => &mut m.tool_calls,
                MessageKey::ToolCallId => &mut m.tool_call_id,
                MessageKey::Other => continue,
            };
            *slot = Some(value);
        }
        Ok(Sent::Message(m))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Sent, A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(Sent::Other)
    }

    not_an_object!(Sent::Other);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::{Fields, MessageFields, Messages, Sent, fields};
    use crate::request::object;

    /// What the body's fields were when it was read as a whole `Map` first.
    fn fields_of_map(mut m: Map<String, Value>) -> Fields {
        let mut take = |k: &str| m.remove(k);
        Fields {
            model: take("model"),
            messages: take("messages").map(messages_of),
            temperature: take("temperature"),
            top_p: take("top_p"),
            max_completion_tokens: take("max_completion_tokens"),
            max_tokens: take("max_tokens"),
            stop: take("stop"),
            tools: take("tools"),
            tool_choice: take("tool_choice"),
            response_format: take("response_format"),
            n: take("n"),
            top_k: take("top_k"),
            presence_penalty: take("presence_penalty"),
            frequency_penalty: take("frequency_penalty"),
            seed: take("seed"),
            user: take("user"),
            parallel_tool_calls: take("parallel_tool_calls"),
            logit_bias: take("logit_bias"),
            stream: take("stream"),
            stream_options: take("stream_options"),
        }
    }

    /// What `messages` was when it was read as a whole value first.
    fn messages_of(v: Value) -> Messages {
        match v {
            Value::Array(items) => Messages::List(
                items
                    .into_iter()
                    .map(|m| match m {
                        Value::Object(mut o) => Sent::Message(MessageFields {
                            role: o.remove("role"),
                            content: o.remove("content"),
                            tool_calls: o.remove("tool_calls"),
                            tool_call_id: o.remove("tool_call_id"),
                        }),
                        _ => Sent::Other,
                    })
                    .collect(),
            ),
            _ => Messages::Other,
        }
    }

    /// A `messages` array as text: objects with message keys (some twice), and others.
    fn message_list() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("role"),
            Just("content"),
            Just("tool_calls"),
            Just("tool_call_id"),
            Just("name"),
        ];
        let message = prop_oneof![
            4 => proptest::collection::vec((key, json_text()), 0..5).prop_map(|kv| {
                let kv: Vec<String> = kv.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", kv.join(","))
            }),
            1 => json_text(),
        ];
        proptest::collection::vec(message, 0..4).prop_map(|m| format!("[{}]", m.join(",")))
    }

    /// JSON text: scalars, small arrays and objects, and now and then a broken piece.
    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            8 => Just("null".to_owned()),
            8 => Just("true".to_owned()),
            8 => Just("-1.5e3".to_owned()),
            8 => (0u64..u64::MAX).prop_map(|n| n.to_string()),
            16 => "[a-z\\u{e9}]{0,6}".prop_map(|s| format!("{:?}", s)),
            8 => Just(r#""\u00e9\n""#.to_owned()),
            1 => Just("[1,".to_owned()),
            1 => Just(r#""\ud800""#.to_owned()),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(("[a-z_]{1,8}", inner), 0..4).prop_map(|kv| {
                    let kv: Vec<String> =
                        kv.into_iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                    format!("{{{}}}", kv.join(","))
                }),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("model"),
            Just("messages"),
            Just("stream"),
            Just("stream_options"),
            Just("max_tokens"),
            Just("temperature"),
            Just("user"),
            Just("top_p"),
            Just("other"),
            Just("mod\\u0065l"),
        ]
        .prop_map(str::to_owned)
    }

    proptest! {
        #[test]
        fn fields_are_what_a_whole_map_holds(
            pairs in proptest::collection::vec((key(), prop_oneof![json_text(), message_list()]), 0..8),
            top in prop_oneof![6 => Just(None), 1 => json_text().prop_map(Some)],
        ) {
            let body = match top {
                Some(other) => other,
                None => {
                    let kv: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", kv.join(","))
                }
            };
            let direct = fields(body.as_bytes());
            let whole = object(body.as_bytes()).map(fields_of_map);
            prop_assert_eq!(direct, whole, "{}", body);
        }
    }
}
