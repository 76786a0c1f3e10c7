//! `ResumableStream`: exactly-once text across interruptions, whole tool calls, summed usage.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use proptest::prelude::*;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{FinishReason, StreamEvent, ToolCallDelta, Usage};
use steadfast_retry::Backoff;
use steadfast_streaming::{
    EventStream, Item, ReopenFn, ResumableStream, ResumeConfig, StreamState,
};

fn text(t: &str) -> Item {
    Ok(StreamEvent::TextDelta { text: t.to_owned() })
}

fn cut() -> Item {
    Err(
        ProviderError::new(ErrorKind::StreamInterrupted, "mock", "cut")
            .with_first_byte_received(true),
    )
}

fn finish(reason: FinishReason) -> Vec<Item> {
    vec![
        Ok(StreamEvent::Finish {
            reason,
            raw: reason.as_str().into(),
        }),
        Ok(StreamEvent::Done),
    ]
}

fn boxed(items: Vec<Item>) -> EventStream {
    Box::pin(futures_util::stream::iter(items))
}

fn config(max_resumes: u32) -> ResumeConfig {
    ResumeConfig {
        max_resumes,
        backoff: Backoff::constant(Duration::from_millis(100)),
        ..ResumeConfig::default()
    }
}

async fn collect(stream: ResumableStream) -> (StreamState, Vec<Item>) {
    let items: Vec<Item> = stream.collect().await;
    let mut state = StreamState::default();
    for item in &items {
        match item {
            Ok(e) => state.apply(e),
            Err(e) => state.apply_error(e),
        }
    }
    (state, items)
}

/// Splits `s` into pieces of the given sizes (cycled), at char boundaries.
fn pieces(s: &str, sizes: &[usize]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    let mut i = 0;
    while !rest.is_empty() {
        let mut n = sizes[i % sizes.len()].clamp(1, rest.len());
        while !rest.is_char_boundary(n) {
            n += 1;
        }
        out.push(rest[..n].to_owned());
        rest = &rest[n..];
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random answer, random cut points (several interruptions, often inside a word or a
    /// multi-byte character), random repeated overlaps (none, 8..60 bytes of the tail, or a
    /// restart of the whole answer — the documented guarantee), keep-alives and usage before
    /// a continuation's text, and random chunking: the answer arrives exactly once, usage is
    /// summed.
    #[test]
    fn resume_never_duplicates_or_drops_text(
        words in 3usize..80,
        cut_fracs in proptest::collection::vec(0.0f64..1.0, 1..4),
        overlaps in proptest::collection::vec(prop_oneof![Just(0usize), 8usize..60, Just(usize::MAX)], 4),
        sizes in proptest::collection::vec(1usize..12, 1..5),
    ) {
        let answer: String = (0..words).map(|i| format!("w{i} ")).collect::<String>() + "ünïcødé ✓ end.";
        let mut cuts: Vec<usize> = cut_fracs
            .iter()
            .map(|f| {
                let mut c = (f * answer.len() as f64) as usize;
                while !answer.is_char_boundary(c) { c += 1; }
                c
            })
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let answer = Arc::new(answer);
        let cuts = Arc::new(cuts);

        // Attempt 0 streams answer[..cuts[0]] then is cut.
        let first_end = cuts[0];
        let mut first: Vec<Item> = vec![Ok(StreamEvent::Start { id: Some("a".into()), model: None })];
        first.extend(pieces(&answer[..first_end], &sizes).iter().map(|p| text(p)));
        first.push(Ok(StreamEvent::Usage(Usage { input_tokens: 10, output_tokens: 3, ..Usage::default() })));
        first.push(cut());

        let reopen = {
            let (answer, cuts, sizes, overlaps) = (Arc::clone(&answer), Arc::clone(&cuts), sizes.clone(), overlaps.clone());
            ReopenFn(move |delivered: StreamState, attempt: u32| {
                let (answer, cuts, sizes, overlaps) = (Arc::clone(&answer), Arc::clone(&cuts), sizes.clone(), overlaps.clone());
                async move {
                    // Like a real provider continuing from the delivered prefix, it may first
                    // repeat a few characters of the tail.
                    let from = delivered.text().len();
                    assert!(answer.starts_with(delivered.text()), "delivered text diverged");
                    // Repeat nothing, min_overlap..60 bytes (never a shorter stub), or start
                    // the whole answer over (usize::MAX), as best-effort continuations do.
                    let wanted = overlaps[attempt as usize % overlaps.len()];
                    let repeat = if wanted == usize::MAX { from } else if wanted <= from { wanted } else { 0 };
                    let mut start = from - repeat;
                    while !answer.is_char_boundary(start) { start -= 1; }
                    let end = cuts.get(attempt as usize).copied().unwrap_or(answer.len()).max(from);
                    // Real continuations send events before their first text: Anthropic's
                    // message_start usage and ping, SSE keep-alive comments.
                    let mut items: Vec<Item> = vec![
                        Ok(StreamEvent::Start { id: Some("b".into()), model: None }),
                        Ok(StreamEvent::KeepAlive),
                        Ok(StreamEvent::Usage(Usage { input_tokens: 20, output_tokens: 1, ..Usage::default() })),
                        Ok(StreamEvent::KeepAlive),
                    ];
                    items.extend(pieces(&answer[start..end], &sizes).iter().map(|p| text(p)));
                    items.push(Ok(StreamEvent::Usage(Usage { input_tokens: 20, output_tokens: 2, ..Usage::default() })));
                    if end < answer.len() {
                        items.push(cut());
                    } else {
                        items.extend(finish(FinishReason::Stop));
                    }
                    Ok::<EventStream, ProviderError>(boxed(items))
                }
            })
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let n_cuts = cuts.len() as u32;
        let (state, items) = rt.block_on(collect(ResumableStream::new(boxed(first), Arc::new(reopen), config(10))));
        prop_assert!(items.iter().all(Result::is_ok), "an error reached the consumer: {:?}", items.iter().find(|i| i.is_err()));
        prop_assert_eq!(state.text(), answer.as_str());
        prop_assert!(state.is_complete());
        let usage = state.usage().unwrap();
        prop_assert_eq!(usage.input_tokens, 10 + 20 * u64::from(n_cuts));
        prop_assert_eq!(usage.output_tokens, 3 + 2 * u64::from(n_cuts));
    }
}

#[tokio::test(start_paused = true)]
async fn a_cut_inside_a_tool_call_is_requested_again_whole() {
    let first = boxed(vec![
        text("Let me check."),
        Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
            index: 0,
            id: Some("call_1".into()),
            name: Some("weather".into()),
            arguments: "{\"city\":\"Par".into(),
        })),
        cut(),
    ]);
    let reopen = ReopenFn(|delivered: StreamState, _| async move {
        assert!(
            delivered.tool_calls().is_empty(),
            "the partial call was never delivered, so the continuation does not see it"
        );
        let mut items = vec![
            Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 1,
                id: Some("call_9".into()),
                name: Some("weather".into()),
                arguments: "{\"city\":".into(),
            })),
            Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 1,
                arguments: "\"Paris\"}".into(),
                ..ToolCallDelta::default()
            })),
        ];
        items.extend(finish(FinishReason::ToolCalls));
        Ok::<EventStream, ProviderError>(boxed(items))
    });
    let (state, items) = collect(ResumableStream::new(first, Arc::new(reopen), config(3))).await;
    let calls: Vec<&ToolCallDelta> = items
        .iter()
        .filter_map(|i| match i {
            Ok(StreamEvent::ToolCallDelta(d)) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "one whole call, delivered once: {calls:?}");
    assert_eq!(calls[0].index, 0);
    assert_eq!(calls[0].arguments, "{\"city\":\"Paris\"}");
    assert_eq!(state.text(), "Let me check.");
    assert_eq!(state.finish_reason(), Some(FinishReason::ToolCalls));
}

#[tokio::test(start_paused = true)]
async fn a_cut_after_a_delivered_tool_call_ends_explicitly_incomplete() {
    let reopened = Arc::new(AtomicU32::new(0));
    let first = boxed(vec![
        Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
            index: 0,
            id: Some("a".into()),
            name: Some("f".into()),
            arguments: "{}".into(),
        })),
        Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
            index: 1,
            id: Some("b".into()),
            name: Some("g".into()),
            arguments: "{\"x\"".into(),
        })),
        cut(),
    ]);
    let counter = Arc::clone(&reopened);
    let reopen = ReopenFn(move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<EventStream, ProviderError>(boxed(vec![])) }
    });
    let (state, items) = collect(ResumableStream::new(first, Arc::new(reopen), config(3))).await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamInterrupted);
    assert!(
        err.message().contains("after a tool call was delivered"),
        "{err}"
    );
    assert_eq!(reopened.load(Ordering::SeqCst), 0);
    assert_eq!(
        state.tool_calls().len(),
        1,
        "the complete first call was delivered once"
    );
    assert!(!state.is_complete());
}

#[tokio::test(start_paused = true)]
async fn errors_that_cannot_be_resumed_end_the_stream() {
    let first = boxed(vec![
        text("partial"),
        Err(ProviderError::new(
            ErrorKind::ContentFilter,
            "mock",
            "refused",
        )),
    ]);
    let reopen = ReopenFn(|_, _| async { panic!("must not reopen a content_filter stop") });
    let (state, items) = collect(ResumableStream::new(first, Arc::new(reopen), config(3))).await;
    assert_eq!(state.text(), "partial");
    assert_eq!(
        items.last().unwrap().as_ref().unwrap_err().kind(),
        ErrorKind::ContentFilter
    );
}

#[tokio::test(start_paused = true)]
async fn resumes_are_bounded_and_failed_reopens_count() {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&attempts);
    let reopen = ReopenFn(move |_, attempt| {
        log.lock().unwrap().push(attempt);
        async move {
            if attempt % 2 == 1 {
                Err(ProviderError::new(ErrorKind::Network, "mock", "refused"))
            } else {
                // Distinct text each time: "x" after "ax" would be taken for an overlap.
                let t = if attempt == 2 { "y" } else { "z" };
                Ok::<EventStream, ProviderError>(boxed(vec![text(t), cut()]))
            }
        }
    });
    let first = boxed(vec![text("a"), cut()]);
    let begun = tokio::time::Instant::now();
    let (state, items) = collect(ResumableStream::new(first, Arc::new(reopen), config(4))).await;
    assert_eq!(*attempts.lock().unwrap(), [1, 2, 3, 4]);
    assert_eq!(state.text(), "ayz");
    assert!(items.last().unwrap().is_err(), "ends with the last error");
    assert_eq!(
        begun.elapsed(),
        Duration::from_millis(400),
        "one backoff per resume"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_cancels_the_pending_reopen() {
    let reopened = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&reopened);
    let reopen = ReopenFn(move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<EventStream, ProviderError>(boxed(finish(FinishReason::Stop))) }
    });
    let mut stream =
        ResumableStream::new(boxed(vec![text("a"), cut()]), Arc::new(reopen), config(3));
    assert!(matches!(
        stream.next().await,
        Some(Ok(StreamEvent::TextDelta { .. }))
    ));
    // The next poll starts the backoff wait; drop the stream while it waits.
    let poll = tokio::time::timeout(Duration::from_millis(10), stream.next()).await;
    assert!(poll.is_err(), "still waiting");
    drop(stream);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(reopened.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_continuation_opening_endless_tool_calls_is_refused() {
    // The items come straight from the Reopen, not through a decoder: the bound holds anyway.
    let calls = (0..100_000u32).map(|i| {
        Ok(StreamEvent::ToolCallDelta(ToolCallDelta {
            index: i.wrapping_mul(7919),
            id: Some(format!("c{i}")),
            name: Some("f".into()),
            arguments: "{}".into(),
        }))
    });
    let first: EventStream = Box::pin(futures_util::stream::iter(calls));
    let reopen = ReopenFn(|_, _| async { panic!("a refused answer is not resumed") });
    let (state, items) = collect(ResumableStream::new(first, Arc::new(reopen), config(3))).await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(items.len() <= steadfast_streaming::MAX_TOOL_CALLS + 1);
    assert!(state.tool_calls().len() < steadfast_streaming::MAX_TOOL_CALLS);
}

/// 40 characters of answer, then a cut; Anthropic-like, the only usage report came first.
fn killed_after_40_chars() -> EventStream {
    boxed(vec![
        Ok(StreamEvent::Start {
            id: Some("a".into()),
            model: None,
        }),
        Ok(StreamEvent::Usage(Usage {
            input_tokens: 10,
            output_tokens: 1,
            ..Usage::default()
        })),
        text("0123456789"),
        text("abcdefghijklmnopqrstuvwxyz✓✓✓✓"),
        cut(),
    ])
}

#[tokio::test(start_paused = true)]
async fn the_killed_part_is_billed_by_an_estimate_when_it_never_reported() {
    let reopen = ReopenFn(|_, _| async {
        let mut items = vec![
            text(" and on."),
            Ok(StreamEvent::Usage(Usage {
                input_tokens: 20,
                output_tokens: 5,
                ..Usage::default()
            })),
        ];
        items.extend(finish(FinishReason::Stop));
        Ok::<EventStream, ProviderError>(boxed(items))
    });
    let stream = ResumableStream::new(killed_after_40_chars(), Arc::new(reopen), config(3));
    let mut stream = Box::pin(stream);
    let mut state = StreamState::default();
    while let Some(item) = stream.next().await {
        state.apply(&item.unwrap());
    }
    let usage = state.usage().unwrap();
    // 40 characters delivered by the killed part: ceil(40 / 4) = 10 output tokens.
    assert_eq!((usage.input_tokens, usage.output_tokens), (30, 15));
    assert!(stream.usage_estimated());
}

#[tokio::test(start_paused = true)]
async fn an_answer_ended_by_its_cut_still_bills_the_killed_part() {
    let reopen = ReopenFn(|_, _| async { panic!("no resumes allowed") });
    let stream = ResumableStream::new(killed_after_40_chars(), Arc::new(reopen), config(0));
    let (state, items) = collect(stream).await;
    assert!(items.last().unwrap().is_err());
    let usage = state.usage().unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (10, 10));
}

#[tokio::test(start_paused = true)]
async fn a_usage_report_after_the_killed_part_s_text_is_taken_as_is() {
    let first = boxed(vec![
        text("0123456789abcdefghijklmnopqrstuvwxyz✓✓✓✓"),
        Ok(StreamEvent::Usage(Usage {
            input_tokens: 10,
            output_tokens: 7,
            ..Usage::default()
        })),
        cut(),
    ]);
    let reopen = ReopenFn(|_, _| async {
        let mut items = vec![
            text("!"),
            Ok(StreamEvent::Usage(Usage {
                input_tokens: 20,
                output_tokens: 1,
                ..Usage::default()
            })),
        ];
        items.extend(finish(FinishReason::Stop));
        Ok::<EventStream, ProviderError>(boxed(items))
    });
    let mut stream = Box::pin(ResumableStream::new(first, Arc::new(reopen), config(3)));
    let mut state = StreamState::default();
    while let Some(item) = stream.next().await {
        state.apply(&item.unwrap());
    }
    let usage = state.usage().unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (30, 8));
    assert!(!stream.usage_estimated());
}

/// Gemini puts `usageMetadata` on every chunk, without output tokens until the last: a
/// report of no output after the text is no count of it, so the cut part is estimated.
#[tokio::test(start_paused = true)]
async fn a_report_of_no_output_after_the_killed_part_s_text_is_estimated() {
    let first = boxed(vec![
        text("0123456789abcdefghijklmnopqrstuvwxyz✓✓✓✓"),
        Ok(StreamEvent::Usage(Usage {
            input_tokens: 10,
            output_tokens: 0,
            ..Usage::default()
        })),
        cut(),
    ]);
    let reopen = ReopenFn(|_, _| async {
        let mut items = vec![
            text("!"),
            Ok(StreamEvent::Usage(Usage {
                input_tokens: 20,
                output_tokens: 1,
                ..Usage::default()
            })),
        ];
        items.extend(finish(FinishReason::Stop));
        Ok::<EventStream, ProviderError>(boxed(items))
    });
    let mut stream = Box::pin(ResumableStream::new(first, Arc::new(reopen), config(3)));
    let mut state = StreamState::default();
    while let Some(item) = stream.next().await {
        state.apply(&item.unwrap());
    }
    // 40 characters: ceil(40 / 4) = 10 for the cut part, then the continuation's 1.
    let usage = state.usage().unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (30, 11));
    assert!(stream.usage_estimated());
}

#[tokio::test(start_paused = true)]
async fn usage_sums_saturate_across_attempts() {
    let huge = Usage {
        input_tokens: u64::MAX,
        output_tokens: u64::MAX - 1,
        ..Usage::default()
    };
    let first = boxed(vec![text("a"), Ok(StreamEvent::Usage(huge)), cut()]);
    let reopen = ReopenFn(move |_, _| async move {
        let mut items = vec![text("b"), Ok(StreamEvent::Usage(huge))];
        items.extend(finish(FinishReason::Stop));
        Ok::<EventStream, ProviderError>(boxed(items))
    });
    let (state, _) = collect(ResumableStream::new(first, Arc::new(reopen), config(3))).await;
    let usage = state.usage().unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (u64::MAX, u64::MAX)
    );
}
