//! Resume seams whatever the provider does on a continuation: continue exactly, echo the
//! delivered prefix, restart from the beginning, repeat the tail, or restart and diverge.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use proptest::prelude::*;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{FinishReason, StreamEvent};
use steadfast_retry::Backoff;
use steadfast_streaming::{
    EventStream, Item, Reopen, ReopenFn, ResumableStream, ResumeConfig, ResumeOutcome, StreamState,
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

fn done() -> Vec<Item> {
    vec![
        Ok(StreamEvent::Finish {
            reason: FinishReason::Stop,
            raw: "stop".into(),
        }),
        Ok(StreamEvent::Done),
    ]
}

fn boxed(items: Vec<Item>) -> EventStream {
    Box::pin(futures_util::stream::iter(items))
}

fn config(overlap_window: usize) -> ResumeConfig {
    ResumeConfig {
        max_resumes: 10,
        backoff: Backoff::constant(Duration::from_millis(100)),
        overlap_window,
        ..ResumeConfig::default()
    }
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

fn floor(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Runs a stream and returns the consumer's text, the stream's outcomes and exactness.
fn run(
    first: EventStream,
    reopen: impl Reopen + 'static,
    config: ResumeConfig,
) -> (String, Vec<ResumeOutcome>, bool, Vec<Item>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut stream = ResumableStream::new(first, Arc::new(reopen), config);
        let mut items = Vec::new();
        let mut consumer = String::new();
        while let Some(item) = stream.next().await {
            if let Ok(StreamEvent::TextDelta { text }) = &item {
                consumer.push_str(text);
            }
            items.push(item);
        }
        (
            consumer,
            stream.outcomes().to_vec(),
            stream.continuation_exact(),
            items,
        )
    })
}

/// A llama-server-like continuation: it echoes the prefilled assistant message, then goes on.
fn echoing_reopen(rest: &'static str, sizes: Vec<usize>) -> impl Reopen {
    ReopenFn(move |delivered: StreamState, _| {
        let echoed = format!("{}{rest}", delivered.text());
        let mut items: Vec<Item> = pieces(&echoed, &sizes).iter().map(|p| text(p)).collect();
        items.extend(done());
        futures_util::future::ready(Ok::<EventStream, ProviderError>(boxed(items)))
    })
}

#[test]
fn an_echoed_prefix_is_dropped_with_overlap_window_zero() {
    let first = boxed(vec![text("PREFIX"), text("-ABC"), cut()]);
    let (consumer, outcomes, exact, items) = run(
        first,
        echoing_reopen(" v2 and the rest.", vec![3, 1, 7]),
        config(0),
    );
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(consumer, "PREFIX-ABC v2 and the rest.");
    assert_eq!(outcomes, [ResumeOutcome::Echoed]);
    assert!(exact);
}

#[test]
fn an_echo_longer_than_the_overlap_window_is_dropped() {
    // 900 deltas, far over the default 1024-byte window.
    let mut first: Vec<Item> = (0..900).map(|i| text(&format!("d{i} "))).collect();
    first.push(cut());
    let delivered: String = (0..900).map(|i| format!("d{i} ")).collect();
    let (consumer, outcomes, _, _) = run(
        boxed(first),
        echoing_reopen("and done.", vec![5, 2, 11]),
        ResumeConfig::default(),
    );
    assert_eq!(consumer, format!("{delivered}and done."));
    assert_eq!(outcomes, [ResumeOutcome::Echoed]);
}

#[test]
fn a_restart_that_writes_something_else_is_delivered_once_and_marked() {
    let first = boxed(vec![text("The answer is forty"), cut()]);
    let reopen = ReopenFn(|_, _| async {
        let mut items = vec![text("The answer"), text(" is 42.")];
        items.extend(done());
        Ok::<EventStream, ProviderError>(boxed(items))
    });
    let (consumer, outcomes, exact, _) = run(first, reopen, ResumeConfig::default());
    assert_eq!(consumer, "The answer is forty42.");
    assert_eq!(outcomes, [ResumeOutcome::Diverged { bytes: 14 }]);
    assert!(!exact);
}

#[test]
fn a_continuation_cut_while_it_still_repeats_the_start_delivers_nothing_of_it() {
    // The first continuation restarts and is cut after 5 bytes ("t0 t1", fewer than the
    // 8 needed to call it a repeat); the second one echoes everything and goes on. The 5
    // held bytes were never delivered, so they must not be: the next continuation starts
    // again from what was delivered.
    let first = boxed(vec![text("t0 t1 t2 t3 t4 t5 t6 t7"), cut()]);
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let reopen = ReopenFn(move |delivered: StreamState, _| {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let items = if n == 0 {
            vec![text("t0 t1"), cut()]
        } else {
            let mut items = vec![text(&format!("{} t8 t9", delivered.text()))];
            items.extend(done());
            items
        };
        futures_util::future::ready(Ok::<EventStream, ProviderError>(boxed(items)))
    });
    let (consumer, _, exact, items) = run(first, reopen, ResumeConfig::default());
    assert!(items.iter().all(Result::is_ok), "{items:?}");
    assert_eq!(consumer, "t0 t1 t2 t3 t4 t5 t6 t7 t8 t9");
    assert!(exact);
}

/// What a continuation does with the delivered text.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Goes on right after it.
    Exact,
    /// Repeats all of it first (an echo of the prefill, or a restart from the beginning).
    Echo,
    /// Repeats this many bytes of its tail first (at least 8, within the window).
    Tail(usize),
}

fn answer(words: usize) -> String {
    (0..words)
        .map(|i| {
            if i % 5 == 0 {
                format!("w{i}✓ ")
            } else {
                format!("w{i} ")
            }
        })
        .collect::<String>()
        + "ünïcødé end."
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random answer (up to several KiB), random cuts, each continuation exact, an echo or
    /// restart of everything delivered (any length), or a repeat of the tail, in random
    /// chunks, with every overlap window: the consumer gets the answer exactly once.
    #[test]
    fn every_continuation_mode_delivers_each_character_once(
        words in 1usize..700,
        cut_fracs in proptest::collection::vec(0.0f64..1.0, 1..4),
        modes in proptest::collection::vec(prop_oneof![
            Just(Mode::Exact), Just(Mode::Echo), (8usize..1000).prop_map(Mode::Tail)
        ], 4),
        window in prop_oneof![Just(0usize), Just(64), Just(1024)],
        sizes in proptest::collection::vec(1usize..40, 1..5),
    ) {
        let answer = answer(words);
        let mut cuts: Vec<usize> = cut_fracs.iter().map(|f| floor(&answer, (f * answer.len() as f64) as usize)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let answer = Arc::new(answer);
        let cuts = Arc::new(cuts);
        let mut first: Vec<Item> = pieces(&answer[..cuts[0]], &sizes).iter().map(|p| text(p)).collect();
        first.push(cut());
        let reopen = {
            let (answer, cuts, sizes, modes) = (Arc::clone(&answer), Arc::clone(&cuts), sizes.clone(), modes.clone());
            ReopenFn(move |delivered: StreamState, attempt: u32| {
                let from = delivered.text().len();
                assert_eq!(delivered.text(), &answer[..from], "delivered text diverged");
                let start = match modes[attempt as usize % modes.len()] {
                    Mode::Echo => 0,
                    // Within the window, and never a shorter stub than the 8-byte minimum.
                    Mode::Tail(r) if window >= 16 && from >= 8 => floor(&answer, from - r.min(from).min(window - 4).max(8)),
                    _ => from,
                };
                let end = cuts.get(attempt as usize).copied().unwrap_or(answer.len()).max(from);
                let mut items: Vec<Item> = vec![Ok(StreamEvent::KeepAlive)];
                items.extend(pieces(&answer[start..end], &sizes).iter().map(|p| text(p)));
                if end < answer.len() { items.push(cut()); } else { items.extend(done()); }
                futures_util::future::ready(Ok::<EventStream, ProviderError>(boxed(items)))
            })
        };
        let (consumer, outcomes, exact, items) = run(boxed(first), reopen, config(window));
        prop_assert!(items.iter().all(Result::is_ok), "{:?}", items.iter().find(|i| i.is_err()));
        prop_assert_eq!(consumer.as_str(), answer.as_str());
        prop_assert!(exact, "{:?}", outcomes);
    }

    /// A continuation that restarts, repeats some of the delivered start, then writes other
    /// text: the consumer gets the delivered text once, then the new text, and the stream says
    /// the continuation was not exact.
    #[test]
    fn a_diverging_restart_delivers_both_once_and_is_marked(
        words in 3usize..400,
        cut_frac in 0.0f64..1.0,
        common_frac in 0.0f64..1.0,
        sizes in proptest::collection::vec(1usize..40, 1..5),
    ) {
        let answer = answer(words);
        let cut_at = floor(&answer, 9 + ((answer.len() - 9) as f64 * cut_frac) as usize);
        let common = floor(&answer, 8 + ((cut_at - 8) as f64 * common_frac) as usize).min(cut_at - 1);
        prop_assume!(common >= 8 && common < cut_at);
        let delivered = answer[..cut_at].to_owned();
        let restart = format!("{}Ω, said differently.", &answer[..common]);
        let mut first: Vec<Item> = pieces(&delivered, &sizes).iter().map(|p| text(p)).collect();
        first.push(cut());
        let reopen = {
            let (restart, sizes) = (restart.clone(), sizes.clone());
            ReopenFn(move |_, _| {
                let mut items: Vec<Item> = pieces(&restart, &sizes).iter().map(|p| text(p)).collect();
                items.extend(done());
                futures_util::future::ready(Ok::<EventStream, ProviderError>(boxed(items)))
            })
        };
        let (consumer, outcomes, exact, _) = run(boxed(first), reopen, ResumeConfig::default());
        prop_assert_eq!(consumer, format!("{delivered}Ω, said differently."));
        prop_assert_eq!(outcomes, vec![ResumeOutcome::Diverged { bytes: common }]);
        prop_assert!(!exact);
    }
}
