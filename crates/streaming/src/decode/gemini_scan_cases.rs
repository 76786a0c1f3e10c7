//! Case tests of the Gemini chunk scanner: real chunk shapes taken, each decline case declined.

use steadfast_errors::Provider;
use steadfast_providers_core::{FinishReason, StreamEvent, Usage};

use super::super::super::Item;
use super::super::super::gemini::GeminiStream;
use super::super::MAX_DEPTH;

fn shown(items: &[Item]) -> String {
    format!("{items:?}")
}

/// The scanner takes `data` from `d`'s state and agrees with the `Value` reading.
fn takes_from(d: &mut GeminiStream, data: &str) -> Vec<StreamEvent> {
    let mut by_value = d.clone();
    let mut from_value = Vec::new();
    by_value.value(Provider::Gemini, data, &mut from_value);
    let mut out = Vec::new();
    assert!(d.scanned(data, &mut out).is_some(), "declined {data}");
    assert_eq!(shown(&out), shown(&from_value), "events for {data}");
    assert_eq!(
        format!("{d:?}"),
        format!("{by_value:?}"),
        "state for {data}"
    );
    out.into_iter().map(|i| i.expect("an event")).collect()
}

fn takes(data: &str) -> Vec<StreamEvent> {
    takes_from(&mut GeminiStream::new(1 << 20), data)
}

/// The scanner declines `data`: nothing pushed, no state changed.
fn declines(data: &str) {
    let mut d = GeminiStream::new(1 << 20);
    takes_from(
        &mut d,
        r#"{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}"#,
    );
    let before = format!("{d:?}");
    let mut out = vec![Ok(StreamEvent::KeepAlive)];
    assert!(d.scanned(data, &mut out).is_none(), "took {data}");
    assert_eq!(out.len(), 1, "pushed before declining {data}");
    assert_eq!(format!("{d:?}"), before);
}

fn text(t: &str) -> StreamEvent {
    StreamEvent::TextDelta { text: t.into() }
}

fn start() -> StreamEvent {
    StreamEvent::Start {
        id: None,
        model: None,
    }
}

#[test]
fn the_common_chunk_is_one_text_delta() {
    let ev = takes(
        r#"{"candidates":[{"content":{"parts":[{"text":"token "}],"role":"model"},"index":0}]}"#,
    );
    assert_eq!(ev, vec![start(), text("token ")]);
}

#[test]
fn a_recorded_thinking_stream_is_taken_chunk_by_chunk() {
    let mut d = GeminiStream::new(1 << 20);
    let first = takes_from(
        &mut d,
        r#"{"candidates":[{"content":{"parts":[{"text":"There are **3**"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5,"totalTokenCount":199,"promptTokensDetails":[{"modality":"TEXT","tokenCount":9}],"thoughtsTokenCount":185},"modelVersion":"gemini-3-pro-preview","responseId":"bH6LaZW8Fp_3nsEPqtaSwQ4"}"#,
    );
    assert_eq!(
        first[0],
        StreamEvent::Start {
            id: Some("bH6LaZW8Fp_3nsEPqtaSwQ4".into()),
            model: Some("gemini-3-pro-preview".into()),
        }
    );
    let second = takes_from(
        &mut d,
        r#"{"candidates":[{"content":{"parts":[{"text":" \"r\"s in strawberry.\n\nst**r**awbe**rr**y"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":23,"thoughtsTokenCount":185}}"#,
    );
    assert_eq!(
        second[0],
        text(" \"r\"s in strawberry.\n\nst**r**awbe**rr**y")
    );
    let last = takes_from(
        &mut d,
        r#"{"candidates":[{"content":{"parts":[{"text":"","thoughtSignature":"EqsF+/9="}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":23,"thoughtsTokenCount":185,"cachedContentTokenCount":4}}"#,
    );
    let usage = Usage {
        input_tokens: 9,
        output_tokens: 208,
        cache_read_tokens: 4,
        cache_write_tokens: 0,
        reasoning_tokens: 185,
    };
    assert_eq!(
        last,
        vec![
            StreamEvent::Usage(usage),
            StreamEvent::Finish {
                reason: FinishReason::Stop,
                raw: "STOP".into()
            }
        ]
    );
    // A second finish reason is not a second finish.
    let again = takes_from(&mut d, r#"{"candidates":[{"finishReason":"STOP"}]}"#);
    assert!(again.is_empty());
}

#[test]
fn thought_parts_are_reasoning_and_fields_come_in_any_order() {
    let ev = takes(
        " {\r\n \"usageMetadata\" : null ,\t\"candidates\": [ { \"finishReason\" : \"MAX_TOKENS\", \
         \"content\": {\"role\":\"model\", \"parts\": [ {\"thought\": true, \"text\": \"hm\"}, \
         {\"text\":\"ok\",\"thought\":false} ] } } , {\"content\":{\"parts\":[{\"text\":\"no\"}]}} ] } ",
    );
    assert_eq!(ev[1], StreamEvent::ReasoningDelta { text: "hm".into() });
    assert_eq!(ev[2], text("ok"));
    assert_eq!(ev.len(), 5, "{ev:?}");
}

#[test]
fn escapes_are_read_as_serde_json_reads_them() {
    let ev = takes(
        r#"{"candidates":[{"content":{"parts":[{"text":"a\"\\\/\b\f\n\r\t\u00e9\u00E9\ud83d\ude42\u2028z"}]}}]}"#,
    );
    assert_eq!(ev[1], text("a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{e9}🙂\u{2028}z"));
}

#[test]
fn safety_ratings_citations_and_unknown_fields_are_skipped() {
    let ev = takes(
        r#"{"candidates":[{"content":{"parts":[{"text":"x","inlineData":{"mimeType":"image/png","data":"AA=="}}]},"finishReason":"SAFETY","safetyRatings":[{"category":"HARM_CATEGORY_HATE_SPEECH","probability":"HIGH","blocked":true,"probabilityScore":0.9,"severityScore":1.5e-3}],"citationMetadata":{"citationSources":[{"startIndex":0,"endIndex":5,"uri":"https:\/\/x"}]},"avgLogprobs":-0.25,"groundingMetadata":{}}],"createTime":"2025-01-01T00:00:00Z","promptFeedback":{"safetyRatings":[]}}"#,
    );
    assert_eq!(
        ev.last(),
        Some(&StreamEvent::Finish {
            reason: FinishReason::ContentFilter,
            raw: "SAFETY".into()
        })
    );
}

#[test]
fn a_finish_after_a_tool_call_is_tool_calls() {
    let mut d = GeminiStream::new(1 << 20);
    let mut out = Vec::new();
    // The function call itself is for the serde readings.
    let call =
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}"#;
    assert!(d.scanned(call, &mut out).is_none());
    d.value(Provider::Gemini, call, &mut out);
    let ev = takes_from(&mut d, r#"{"candidates":[{"finishReason":"STOP"}]}"#);
    assert_eq!(
        ev,
        vec![StreamEvent::Finish {
            reason: FinishReason::ToolCalls,
            raw: "STOP".into()
        }]
    );
}

#[test]
fn nulls_count_as_absent() {
    let ev = takes(
        r#"{"candidates":[{"content":{"parts":[{"text":null,"thought":null}]},"finishReason":null}],"responseId":null,"modelVersion":null,"usageMetadata":{"promptTokenCount":null}}"#,
    );
    assert_eq!(ev.len(), 2);
    assert!(takes(r#"{"candidates":null}"#).len() == 1);
    assert!(takes(r#"{"candidates":[{"content":null}]}"#).len() == 1);
    assert!(takes(r#"{"candidates":[{"content":{"parts":null}}]}"#).len() == 1);
}

#[test]
fn what_the_serde_readings_must_handle_is_declined() {
    for data in [
        // Function calls, errors, blocked prompts, arrays of chunks.
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}"#,
        r#"{"error":{"code":429}}"#,
        r#"{"error":null}"#,
        r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#,
        r#"{"candidates":[],"promptFeedback":{"blockReason":"SAFETY"}}"#,
        r#"[{"candidates":[]}]"#,
        // A known key twice, or escaped.
        r#"{"candidates":[],"candidates":[]}"#,
        r#"{"modelVersion":"a","modelVersion":"b"}"#,
        r#"{"candidates":[{"finishReason":"STOP","finishReason":"OTHER"}]}"#,
        r#"{"candidates":[{"content":{"parts":[],"parts":[]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"a","text":"b"}]}}]}"#,
        r#"{"usageMetadata":{"promptTokenCount":1,"promptTokenCount":2}}"#,
        r#"{"candid\u0061tes":[]}"#,
        // Types the readings treat as absent or refuse.
        r#"{"candidates":{}}"#,
        r#"{"candidates":[5]}"#,
        r#"{"candidates":[{"content":[]}]}"#,
        r#"{"candidates":[{"content":{"parts":[1]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":5}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"thought":"yes"}]}}]}"#,
        r#"{"candidates":[{"finishReason":1}]}"#,
        r#"{"responseId":7}"#,
        r#"{"usageMetadata":[]}"#,
        r#"{"usageMetadata":{"promptTokenCount":1.0}}"#,
        r#"{"usageMetadata":{"promptTokenCount":1e2}}"#,
        r#"{"usageMetadata":{"promptTokenCount":-1}}"#,
        r#"{"usageMetadata":{"promptTokenCount":18446744073709551616}}"#,
        r#"{"usageMetadata":{"promptTokenCount":"3"}}"#,
        // Not JSON, or JSON serde_json refuses.
        r#"{"usageMetadata":{"promptTokenCount":01}}"#,
        r#"{"x":01}"#,
        r#"{"x":1.}"#,
        r#"{"x":-}"#,
        r#"{"x":1e400}"#,
        r#"{"x":"\ud83d"}"#,
        r#"{"x":"\ude42"}"#,
        r#"{"x":"\ud83d\u0041"}"#,
        r#"{"x":"\x"}"#,
        r#"{"x":"\u12g4"}"#,
        "{\"x\":\"a\u{1}b\"}",
        r#"{"x":1,}"#,
        r#"{"x":[1,]}"#,
        r#"{"x":1}}"#,
        r#"{"x":1} x"#,
        r#"{"x":tru}"#,
        r#"{"x":nul}"#,
        r#"{"x" 1}"#,
        r#"{x:1}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"a"#,
        "{\"x\":\u{a0}1}",
        "",
    ] {
        declines(data);
    }
}

#[test]
fn deep_nesting_in_a_skipped_value_is_declined() {
    let ok = format!(
        "{{\"x\":{}{}}}",
        "[".repeat(MAX_DEPTH),
        "]".repeat(MAX_DEPTH)
    );
    takes(&ok);
    let deep = 100_000;
    declines(&format!(
        "{{\"x\":{}{}}}",
        "[".repeat(deep),
        "]".repeat(deep)
    ));
}

#[test]
fn a_decline_leaves_what_was_pushed_before() {
    let mut d = GeminiStream::new(1 << 20);
    let mut out = vec![Ok(StreamEvent::KeepAlive)];
    // The text part is read before the function call that makes the chunk declined.
    let data =
        r#"{"candidates":[{"content":{"parts":[{"text":"a"},{"functionCall":{"name":"f"}}]}}]}"#;
    assert!(d.scanned(data, &mut out).is_none());
    assert_eq!(shown(&out), shown(&[Ok(StreamEvent::KeepAlive)]));
}
