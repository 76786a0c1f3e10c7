//! Streaming benchmarks: each decoder next to raw framing of the same bytes, and the
//! per-event cost of `StreamState` and of the timeout adapter.

use std::hint::black_box;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use steadfast_errors::Provider;
use steadfast_providers_core::StreamEvent;
use steadfast_streaming::ndjson::NdjsonFramer;
use steadfast_streaming::sse::SseFramer;
use steadfast_streaming::{Item, StreamState, Timeouts, WireFormat};

pub(crate) struct DecodeRow {
    name: &'static str,
    bytes: usize,
    events: usize,
    framing: Duration,
    decoding: Duration,
}

pub(crate) struct EventRow {
    name: &'static str,
    ns: f64,
    baseline: &'static str,
    baseline_ns: f64,
}

pub(crate) struct Rows {
    decode: Vec<DecodeRow>,
    events: Vec<EventRow>,
}

const TOKEN: &str = "token ";

fn body(format: WireFormat, events: usize) -> String {
    let mut b = String::new();
    match format {
        WireFormat::OpenAiChat => {
            for _ in 0..events {
                b.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"token \"},\"finish_reason\":null}]}\n\n");
            }
            b.push_str("data: [DONE]\n\n");
        }
        WireFormat::AnthropicMessages => {
            b.push_str("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n");
            for _ in 0..events {
                b.push_str("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"token \"}}\n\n");
            }
            b.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        }
        WireFormat::Gemini => {
            for i in 0..events {
                let finish = if i + 1 == events {
                    ",\"finishReason\":\"STOP\""
                } else {
                    ""
                };
                b.push_str(&format!("data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"token \"}}],\"role\":\"model\"}}{finish},\"index\":0}}]}}\r\n\r\n"));
            }
        }
        _ => {
            for _ in 0..events {
                b.push_str("{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:00Z\",\"message\":{\"role\":\"assistant\",\"content\":\"token \"},\"done\":false}\n");
            }
            b.push_str("{\"model\":\"llama3.2\",\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":5,\"eval_count\":7}\n");
        }
    }
    b
}

/// Median of `samples` timings of `f`.
fn time(samples: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut t: Vec<Duration> = (0..samples)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[t.len() / 2]
}

pub(crate) fn run(quick: bool, rt: &tokio::runtime::Runtime) -> Rows {
    let (events, samples) = if quick { (2_000, 3) } else { (50_000, 7) };
    let mut decode = Vec::new();
    for (name, format, provider) in [
        ("openai-chat", WireFormat::OpenAiChat, Provider::OpenAi),
        (
            "anthropic-messages",
            WireFormat::AnthropicMessages,
            Provider::Anthropic,
        ),
        ("gemini", WireFormat::Gemini, Provider::Gemini),
        (
            "ndjson (ollama)",
            WireFormat::OllamaNdjson,
            Provider::Ollama,
        ),
    ] {
        let b = body(format, events);
        let bytes = b.as_bytes();
        // Delivered in 4 KiB chunks, as a socket would.
        let chunks: Vec<&[u8]> = bytes.chunks(4096).collect();
        let framing = time(samples, || {
            if format == WireFormat::OllamaNdjson {
                let mut f = NdjsonFramer::default();
                let mut out = Vec::new();
                for c in &chunks {
                    f.feed(c, &mut out).expect("frames");
                    black_box(out.len());
                    out.clear();
                }
                f.finish(&mut out).expect("frames");
            } else {
                let mut f = SseFramer::default();
                let mut out = Vec::new();
                for c in &chunks {
                    f.feed(c, &mut out).expect("frames");
                    black_box(out.len());
                    out.clear();
                }
                let _ = f.finish(&mut out).expect("frames");
            }
        });
        let decoding = time(samples, || {
            let mut d = format.decoder(provider);
            let mut out = Vec::new();
            let mut done = false;
            for c in &chunks {
                d.feed(c, &mut out);
                done |= matches!(out.last(), Some(Ok(StreamEvent::Done)));
                black_box(out.len());
                out.clear();
            }
            d.finish(&mut out);
            done |= matches!(out.last(), Some(Ok(StreamEvent::Done)));
            assert!(done, "{name} did not complete");
        });
        decode.push(DecodeRow {
            name,
            bytes: bytes.len(),
            events,
            framing,
            decoding,
        });
    }

    let items: Vec<StreamEvent> = (0..events)
        .map(|_| StreamEvent::TextDelta { text: TOKEN.into() })
        .collect();
    let n = items.len() as f64;
    let bare = time(samples, || {
        let mut total = 0usize;
        for e in &items {
            if let StreamEvent::TextDelta { text } = e {
                total += text.len();
            }
        }
        black_box(total);
    });
    let state = time(samples, || {
        let mut s = StreamState::default();
        for e in &items {
            s.apply(e);
        }
        black_box(s.text().len());
    });
    let plain_stream = time(samples, || {
        rt.block_on(async {
            let s = futures_util::stream::iter(
                items
                    .iter()
                    .cloned()
                    .map(Ok::<_, steadfast_errors::ProviderError>),
            );
            black_box(s.count().await);
        })
    });
    let timed_stream = time(samples, || {
        rt.block_on(async {
            let t = Timeouts {
                first_byte: Some(Duration::from_secs(10)),
                idle: Some(Duration::from_secs(30)),
                total: Some(Duration::from_secs(600)),
                keep_alive_resets_idle: false,
            };
            let s = futures_util::stream::iter(
                items
                    .iter()
                    .cloned()
                    .map(Ok::<_, steadfast_errors::ProviderError>),
            );
            let s: std::pin::Pin<Box<dyn futures_util::Stream<Item = Item>>> =
                Box::pin(t.wrap("bench", s));
            black_box(s.count().await);
        })
    });
    let per = |d: Duration| d.as_nanos() as f64 / n;
    Rows {
        decode,
        events: vec![
            EventRow {
                name: "StreamState::apply per event",
                ns: per(state),
                baseline: "reading the event",
                baseline_ns: per(bare),
            },
            EventRow {
                name: "Timeouts (3 timers) per event",
                ns: per(timed_stream),
                baseline: "the same stream untimed",
                baseline_ns: per(plain_stream),
            },
        ],
    }
}

pub(crate) fn print(rows: &Rows) {
    println!(
        "{:<22} {:>9} {:>11} {:>11} {:>12} {:>8}",
        "decoder", "MB", "framing MB/s", "decode MB/s", "decode ev/s", "ratio"
    );
    for r in &rows.decode {
        let mb = r.bytes as f64 / 1e6;
        println!(
            "{:<22} {:>9.2} {:>11.0} {:>11.0} {:>12.0} {:>7.2}x",
            r.name,
            mb,
            mb / r.framing.as_secs_f64(),
            mb / r.decoding.as_secs_f64(),
            r.events as f64 / r.decoding.as_secs_f64(),
            r.decoding.as_secs_f64() / r.framing.as_secs_f64(),
        );
    }
    println!();
    println!(
        "{:<32} {:>9} {:>9} {:>9}  baseline",
        "per-event overhead", "ns", "base ns", "extra"
    );
    for r in &rows.events {
        println!(
            "{:<32} {:>9.1} {:>9.1} {:>9.1}  {}",
            r.name,
            r.ns,
            r.baseline_ns,
            r.ns - r.baseline_ns,
            r.baseline
        );
    }
}
