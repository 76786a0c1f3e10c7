//! Decoders: any split decodes identically, arbitrary bytes never panic, memory stays bounded.

use proptest::prelude::*;
use steadfast_errors::{ErrorKind, Provider};
use steadfast_streaming::{Item, StreamState, WireFormat};

fn decode(format: WireFormat, provider: Provider, pieces: &[&[u8]]) -> (StreamState, Vec<Item>) {
    let mut d = format.decoder(provider);
    let mut items = Vec::new();
    for p in pieces {
        d.feed(p, &mut items);
    }
    d.finish(&mut items);
    let mut state = StreamState::default();
    for i in &items {
        match i {
            Ok(e) => state.apply(e),
            Err(e) => state.apply_error(e),
        }
    }
    (state, items)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A valid stream of `parts` in each wire format, with the given line ending.
fn body(format: WireFormat, parts: &[String], eol: &str) -> String {
    let mut b = String::new();
    let ev = |b: &mut String, lines: &[String]| {
        for l in lines {
            b.push_str(l);
            b.push_str(eol);
        }
        b.push_str(eol);
    };
    match format {
        WireFormat::OpenAiChat => {
            ev(&mut b, &[": OPENROUTER PROCESSING".into()]);
            for p in parts {
                ev(
                    &mut b,
                    &[format!(
                        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}}}}]}}",
                        json_str(p)
                    )],
                );
            }
            ev(
                &mut b,
                &[
                    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}"
                        .into(),
                ],
            );
            ev(&mut b, &["data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}".into()]);
            ev(&mut b, &["data: [DONE]".into()]);
        }
        WireFormat::AnthropicMessages => {
            ev(&mut b, &["event: message_start".into(), "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}".into()]);
            ev(
                &mut b,
                &["event: ping".into(), "data: {\"type\": \"ping\"}".into()],
            );
            for p in parts {
                ev(
                    &mut b,
                    &[
                        "event: content_block_delta".into(),
                        format!(
                            "data: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{}}}}}",
                            json_str(p)
                        ),
                    ],
                );
            }
            ev(&mut b, &["event: message_delta".into(), "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}".into()]);
            ev(
                &mut b,
                &[
                    "event: message_stop".into(),
                    "data: {\"type\":\"message_stop\"}".into(),
                ],
            );
        }
        WireFormat::Gemini => {
            for (i, p) in parts.iter().enumerate() {
                let finish = if i + 1 == parts.len() {
                    ",\"finishReason\":\"STOP\""
                } else {
                    ""
                };
                ev(
                    &mut b,
                    &[format!(
                        "data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":{}}}],\"role\":\"model\"}}{finish}}}],\"usageMetadata\":{{\"promptTokenCount\":5,\"candidatesTokenCount\":7}}}}",
                        json_str(p)
                    )],
                );
            }
        }
        _ => {
            for p in parts {
                b.push_str(&format!("{{\"model\":\"m\",\"message\":{{\"role\":\"assistant\",\"content\":{}}},\"done\":false}}\n", json_str(p)));
            }
            b.push_str("{\"model\":\"m\",\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":5,\"eval_count\":7}\n");
        }
    }
    b
}

fn formats() -> impl Strategy<Value = (WireFormat, Provider)> {
    prop_oneof![
        Just((WireFormat::OpenAiChat, Provider::OpenRouter)),
        Just((WireFormat::AnthropicMessages, Provider::Anthropic)),
        Just((WireFormat::Gemini, Provider::Gemini)),
        Just((WireFormat::OllamaNdjson, Provider::Ollama)),
    ]
}

proptest! {
    #[test]
    fn any_split_of_a_valid_stream_decodes_identically(
        (format, provider) in formats(),
        parts in proptest::collection::vec("[a-z ]{0,6}|[é✓ü漢字🙂]{1,3}|\\\\n|\"", 1..12),
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        cuts in proptest::collection::vec(0usize..2000, 0..20),
    ) {
        let eol = if format == WireFormat::OllamaNdjson { "\n" } else { eol };
        let b = body(format, &parts, eol);
        let bytes = b.as_bytes();
        let (whole, _) = decode(format, provider, &[bytes]);
        prop_assert!(whole.error().is_none(), "{:?}", whole.error());
        prop_assert!(whole.is_complete());
        prop_assert_eq!(whole.text(), parts.concat());
        prop_assert_eq!(whole.usage().map(|u| (u.input_tokens, u.output_tokens)), Some((5, 7)));
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut pieces = Vec::new();
        let mut last = 0;
        for p in points {
            pieces.push(&bytes[last..p]);
            last = p;
        }
        pieces.push(&bytes[last..]);
        let (split, _) = decode(format, provider, &pieces);
        prop_assert_eq!(split.text(), whole.text());
        prop_assert_eq!(split.is_complete(), whole.is_complete());
        prop_assert_eq!(split.usage(), whole.usage());
        prop_assert_eq!(split.finish_reason(), whole.finish_reason());
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        let (by_byte, _) = decode(format, provider, &bytewise);
        prop_assert_eq!(by_byte.text(), whole.text());
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        (format, provider) in formats(),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
    ) {
        let pieces: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let (_, items) = decode(format, provider, &pieces);
        // At most one error, and it is the last item.
        let errors = items.iter().filter(|i| i.is_err()).count();
        prop_assert!(errors <= 1);
        if errors == 1 {
            prop_assert!(items.last().unwrap().is_err());
        }
    }

    #[test]
    fn a_cut_stream_delivers_what_arrived_and_says_interrupted(
        (format, provider) in formats(),
        parts in proptest::collection::vec("[a-z]{1,5}", 2..8),
        keep in 0.1f64..0.9,
    ) {
        let b = body(format, &parts, "\n");
        let cut = (b.len() as f64 * keep) as usize;
        let (state, _) = decode(format, provider, &[&b.as_bytes()[..cut]]);
        let err = state.error().expect("a cut stream ends with an error");
        prop_assert_eq!(err.kind(), ErrorKind::StreamInterrupted);
        prop_assert!(err.is_retryable());
        prop_assert!(parts.concat().starts_with(state.text()), "delivered text is a prefix of the answer");
    }
}

#[test]
fn an_endless_line_is_refused_with_bounded_memory() {
    for (format, provider) in [
        (WireFormat::OpenAiChat, Provider::OpenAi),
        (WireFormat::AnthropicMessages, Provider::Anthropic),
        (WireFormat::Gemini, Provider::Gemini),
        (WireFormat::OllamaNdjson, Provider::Ollama),
    ] {
        let mut d = format.decoder_with_limit(provider, 64 * 1024);
        let mut items = Vec::new();
        let chunk = vec![b'a'; 16 * 1024];
        let mut fed = 0usize;
        while !d.is_ended() && fed < 8 * 1024 * 1024 {
            d.feed(&chunk, &mut items);
            fed += chunk.len();
        }
        assert!(d.is_ended(), "{format:?} kept accepting an endless line");
        assert!(
            fed <= 128 * 1024,
            "{format:?} only refused after {fed} bytes"
        );
        let err = items.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{format:?}: {err}");
    }
}

#[test]
fn in_band_errors_after_text_keep_the_text() {
    let gemini = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hello\"}]}}]}\r\n\r\n{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"The model is overloaded. Please try again later.\",\n    \"status\": \"UNAVAILABLE\"\n  }\n}\n";
    let (state, _) = decode(WireFormat::Gemini, Provider::Gemini, &[gemini.as_bytes()]);
    assert_eq!(state.text(), "Hello");
    let err = state.error().unwrap();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert!(err.first_byte_received());

    let anthropic = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let (state, _) = decode(
        WireFormat::AnthropicMessages,
        Provider::Anthropic,
        &[anthropic.as_bytes()],
    );
    assert_eq!(
        (state.text(), state.error().unwrap().kind()),
        ("Hi", ErrorKind::Overloaded)
    );

    let llama_old = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\nerror: {\"code\":500,\"message\":\"slot unavailable\",\"type\":\"server_error\"}\n\ndata: [DONE]\n\n";
    let (state, _) = decode(
        WireFormat::OpenAiChat,
        Provider::LlamaCpp,
        &[llama_old.as_bytes()],
    );
    assert_eq!(
        (state.text(), state.error().unwrap().kind()),
        ("x", ErrorKind::Server)
    );
    assert!(
        !state.is_complete(),
        "the [DONE] after an error does not make it complete"
    );
}
