//! Property tests: the typed request writer gives the same JSON as the `Value` body.

use proptest::prelude::*;
use serde_json::{Value, json};
use steadfast_providers_core::{
    ChatRequest, ContentPart, Message, Role, Tool, ToolCall, ToolChoice,
};

use super::{BodyOptions, body, body_bytes};
use crate::config::MaxTokensField;

fn part() -> impl Strategy<Value = ContentPart> {
    prop_oneof![
        "[a-z \"\\\\é🙂\n]{0,8}".prop_map(|text| ContentPart::Text { text }),
        "[a-z:/.]{0,12}".prop_map(|url| ContentPart::Image { url }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let role =
        proptest::sample::select(&[Role::System, Role::User, Role::Assistant, Role::Tool][..]);
    let call = (
        "[a-z0-9_]{0,6}",
        "[a-z]{0,6}",
        prop_oneof![
            Just(String::new()),
            Just("  ".to_owned()),
            "\\{\"[a-z]\":[0-9]\\}"
        ],
    )
        .prop_map(|(id, name, arguments)| ToolCall {
            id,
            name,
            arguments,
        });
    (
        role,
        proptest::collection::vec(part(), 0..4),
        proptest::collection::vec(call, 0..3),
        proptest::option::of("[a-z0-9_]{0,6}"),
    )
        .prop_map(|(role, content, tool_calls, tool_call_id)| Message {
            role,
            content,
            tool_calls,
            tool_call_id,
        })
}

fn request() -> impl Strategy<Value = ChatRequest> {
    let choice = prop_oneof![
        Just(ToolChoice::Auto),
        Just(ToolChoice::None),
        Just(ToolChoice::Required),
        "[a-z]{1,5}".prop_map(ToolChoice::Tool),
    ];
    let tool = ("[a-z]{1,5}", "[a-z ]{0,6}").prop_map(|(name, description)| Tool {
        name,
        description,
        parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
    });
    let float = prop_oneof![
        (0f32..2.0),
        Just(0.7f32),
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(1e-7f32),
    ];
    (
        "[a-z0-9.-]{0,10}",
        proptest::collection::vec(message(), 0..5),
        proptest::option::of("[a-zé ]{0,8}"),
        proptest::collection::vec(tool, 0..3),
        proptest::option::of(choice),
        (
            proptest::option::of(float.clone()),
            proptest::option::of(float.clone()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(float.clone()),
            proptest::option::of(float),
            proptest::option::of(any::<bool>()),
            proptest::option::of("[a-z\"é]{0,6}"),
            proptest::option::of(any::<u32>()),
            proptest::option::of(Just(json!({"50256": -100}))),
        ),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec("[A-Z]{0,3}", 0..3),
        proptest::option::of(Just(json!({"type": "json_object"}))),
        proptest::option::of(prop_oneof![
            Just(json!({"seed": 7})),
            Just(json!({"model": "other", "stream_options": {"x": 1}})),
        ]),
    )
        .prop_map(
            |(
                model,
                messages,
                system,
                tools,
                tool_choice,
                (temperature, top_p, seed, presence, frequency, parallel, user, top_k, bias),
                max_tokens,
                stop,
                response_format,
                extra,
            )| {
                let mut r = ChatRequest::new(model, messages);
                r.system = system;
                r.tools = tools;
                r.tool_choice = tool_choice;
                r.temperature = temperature;
                r.top_p = top_p;
                r.seed = seed;
                r.presence_penalty = presence;
                r.frequency_penalty = frequency;
                r.parallel_tool_calls = parallel;
                r.user = user;
                r.top_k = top_k;
                r.logit_bias = bias.and_then(|b| b.as_object().cloned());
                r.max_tokens = max_tokens;
                r.stop = stop;
                r.response_format = response_format;
                if let Some(Value::Object(extra)) = extra {
                    r.extra = extra;
                }
                r
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn typed_bytes_are_the_value_body(
        req in request(),
        completion in any::<bool>(),
        stream in any::<bool>(),
        stream_usage in any::<bool>(),
        prefix in any::<bool>(),
    ) {
        let opts = BodyOptions {
            max_tokens_field: if completion { MaxTokensField::MaxCompletionTokens } else { MaxTokensField::MaxTokens },
            stream,
            stream_usage,
            prefix,
        };
        let bytes = body_bytes(&req, opts);
        let sent: Value = serde_json::from_slice(&bytes).expect("the body is JSON");
        prop_assert_eq!(&sent, &body(&req, opts));
        // Byte for byte too: the typed fields are written in the order the map writes them.
        prop_assert_eq!(bytes, serde_json::to_vec(&body(&req, opts)).unwrap());
    }
}
