//! WHATWG event-stream conformance for `SseFramer`, each case delivered whole, byte by byte
//! and in many splits, and the same cases through `eventsource-stream` 0.2 to pin down
//! where that crate differs from the standard.

use std::collections::BTreeMap;
use std::convert::Infallible;

use futures_util::StreamExt;
use proptest::prelude::*;
use steadfast_streaming::sse::{
    DEFAULT_MAX_EVENT_BYTES, Frame, FrameError, SseEvent, SseFramer, Trailing,
};

// ---------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------

/// One conformance case: input bytes and what the standard makes of them.
struct Case {
    name: &'static str,
    input: Vec<u8>,
    frames: Vec<Frame>,
    trailing: Trailing,
}

fn case(name: &'static str, input: impl AsRef<[u8]>, frames: Vec<Frame>) -> Case {
    Case {
        name,
        input: input.as_ref().to_vec(),
        frames,
        trailing: Trailing::Clean,
    }
}

fn partial(name: &'static str, input: impl AsRef<[u8]>, frames: Vec<Frame>) -> Case {
    Case {
        trailing: Trailing::PartialEvent,
        ..case(name, input, frames)
    }
}

/// A `message` event without id or retry.
fn ev(data: &str) -> Frame {
    full(None, data, None, None)
}

/// An event of a named type.
fn typed(event: &str, data: &str) -> Frame {
    full(Some(event), data, None, None)
}

/// An event carrying the last event id.
fn with_id(data: &str, id: &str) -> Frame {
    full(None, data, Some(id), None)
}

fn full(event: Option<&str>, data: &str, id: Option<&str>, retry: Option<u64>) -> Frame {
    Frame::Event(SseEvent {
        event: event.map(str::to_owned),
        data: data.to_owned(),
        id: id.map(str::to_owned),
        retry,
    })
}

fn comment(text: &str) -> Frame {
    Frame::Comment(text.to_owned())
}

fn other(line: &str) -> Frame {
    Frame::Other(line.to_owned())
}

const OPENAI_CHUNK: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
const ANTHROPIC_START: &str = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[]}}"#;
const ANTHROPIC_DELTA: &str =
    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#;
const GEMINI_CHUNK: &str =
    r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"}}]}"#;

fn cases() -> Vec<Case> {
    vec![
        // Line endings.
        case("lf", "data: a\n\ndata: b\n\n", vec![ev("a"), ev("b")]),
        case(
            "crlf multi-line",
            "data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
            vec![ev("a\nb"), ev("c")],
        ),
        case(
            "crlf",
            "data: a\r\n\r\ndata: b\r\n\r\n",
            vec![ev("a"), ev("b")],
        ),
        case("cr", "data: a\r\rdata: b\r\r", vec![ev("a"), ev("b")]),
        case(
            "mixed endings",
            "data: a\r\n\ndata: b\r\rdata: c\n\r\n",
            vec![ev("a"), ev("b"), ev("c")],
        ),
        case("blank line as cr at end", "data: a\n\r", vec![ev("a")]),
        case(
            "crlf blank then lf",
            "data: a\r\n\r\n\ndata: b\n\n",
            vec![ev("a"), ev("b")],
        ),
        // Byte order mark.
        case("bom", "\u{FEFF}data: a\n\n", vec![ev("a")]),
        case(
            "second bom is content",
            "\u{FEFF}\u{FEFF}data: a\n\n",
            vec![other("\u{FEFF}data: a")],
        ),
        case(
            "bom not at start",
            "data: a\n\n\u{FEFF}data: b\n\n",
            vec![ev("a"), other("\u{FEFF}data: b")],
        ),
        // Comments.
        case(
            "comments",
            ": hello\n:no-space\n:  two spaces\n:\ndata: a\n: between\ndata: b\n\n",
            vec![
                comment("hello"),
                comment("no-space"),
                comment(" two spaces"),
                comment(""),
                comment("between"),
                ev("a\nb"),
            ],
        ),
        // Data.
        case(
            "multi-line data",
            "data: a\ndata: b\ndata: c\n\n",
            vec![ev("a\nb\nc")],
        ),
        case(
            "data without space",
            "data:a\ndata:  b\n\n",
            vec![ev("a\n b")],
        ),
        case("data without colon", "data\ndata\n\n", vec![ev("\n")]),
        case("lone data without colon", "data\n\n", vec![ev("")]),
        case("colon in value", "data: a: b:c\n\n", vec![ev("a: b:c")]),
        case(
            "trailing lf stripped once",
            "data: a\ndata:\n\n",
            vec![ev("a\n")],
        ),
        case(
            "field names are case-sensitive",
            "Data: a\ndata : b\n\n",
            vec![other("Data: a"), other("data : b")],
        ),
        // Event type.
        case(
            "event type",
            "event: add\ndata: 1\n\ndata: 2\n\n",
            vec![typed("add", "1"), ev("2")],
        ),
        case(
            "event type without data not dispatched",
            "event: ping\n\ndata: a\n\n",
            vec![ev("a")],
        ),
        case("empty event type", "event:\ndata: a\n\n", vec![ev("a")]),
        // Id.
        case(
            "id persists and an empty id resets it",
            "id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
            vec![with_id("a", "1"), with_id("b", "1"), ev("c")],
        ),
        case(
            "id set by a block without data",
            "id: 5\nevent: x\n\ndata: a\n\n",
            vec![with_id("a", "5")],
        ),
        case(
            "id with nul ignored",
            "id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n",
            vec![with_id("a", "1"), with_id("b", "1")],
        ),
        // Retry.
        case(
            "retry digits",
            "retry: 1000\ndata: a\n\n",
            vec![full(None, "a", None, Some(1000))],
        ),
        case(
            "retry belongs to its own block",
            "retry: 5\n\ndata: a\n\n",
            vec![ev("a")],
        ),
        case("retry not digits", "retry: 12a\ndata: a\n\n", vec![ev("a")]),
        case(
            "retry with plus sign",
            "retry: +5\ndata: a\n\n",
            vec![ev("a")],
        ),
        case(
            "retry with space inside",
            "retry: 1 2\ndata: a\n\n",
            vec![ev("a")],
        ),
        // End of input.
        partial(
            "partial event at eof",
            "data: a\n\ndata: b\n",
            vec![ev("a")],
        ),
        partial(
            "unterminated data line at eof",
            "data: a\n\ndata: b",
            vec![ev("a")],
        ),
        partial("typed partial event at eof", "event: x\ndata: y", vec![]),
        case(
            "unterminated comment at eof",
            "data: a\n\n: bye",
            vec![ev("a"), comment("bye")],
        ),
        case(
            "event type only at eof",
            "data: a\n\nevent: x\n",
            vec![ev("a")],
        ),
        case("empty", "", vec![]),
        case("only blank lines", "\n\r\n\r\r\n", vec![]),
        // UTF-8.
        case("utf-8 four-byte char", "data: 😀 é\n\n", vec![ev("😀 é")]),
        case(
            "invalid utf-8 replaced",
            b"data: a\xFFb\n\ndata: c\n\n",
            vec![ev("a\u{FFFD}b"), ev("c")],
        ),
        case(
            "truncated utf-8 at line end replaced",
            b"data: \xF0\x9F\x98\n\ndata: c\n\n",
            vec![ev("\u{FFFD}"), ev("c")],
        ),
        // Unknown fields.
        case(
            "unknown fields reported",
            "foo: bar\ndata: a\nbaz\n\n",
            vec![other("foo: bar"), other("baz"), ev("a")],
        ),
        case(
            "llama.cpp error field",
            "error: {\"code\":500,\"message\":\"boom\"}\n\n",
            vec![other("error: {\"code\":500,\"message\":\"boom\"}")],
        ),
        // Provider transcripts.
        case(
            "gemini error appended after the last event",
            format!(
                "data: {GEMINI_CHUNK}\r\n\r\n{{\n  \"error\": {{\n    \"code\": 503,\n    \
                 \"message\": \"The model is overloaded.\",\n    \"status\": \"UNAVAILABLE\"\n  \
                 }}\n}}\n"
            ),
            vec![
                ev(GEMINI_CHUNK),
                other("{"),
                other("  \"error\": {"),
                other("    \"code\": 503,"),
                other("    \"message\": \"The model is overloaded.\","),
                other("    \"status\": \"UNAVAILABLE\""),
                other("  }"),
                other("}"),
            ],
        ),
        case(
            "gemini error without final newline",
            format!("data: {GEMINI_CHUNK}\n\n{{\"error\": {{\"code\": 429}}}}"),
            vec![ev(GEMINI_CHUNK), other("{\"error\": {\"code\": 429}}")],
        ),
        case(
            "openai done",
            format!("data: {OPENAI_CHUNK}\n\ndata: {OPENAI_CHUNK}\n\ndata: [DONE]\n\n"),
            vec![ev(OPENAI_CHUNK), ev(OPENAI_CHUNK), ev("[DONE]")],
        ),
        case(
            "anthropic events",
            format!(
                "event: message_start\ndata: {ANTHROPIC_START}\n\nevent: ping\ndata: \
                 {{\"type\": \"ping\"}}\n\nevent: content_block_delta\ndata: \
                 {ANTHROPIC_DELTA}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
            ),
            vec![
                typed("message_start", ANTHROPIC_START),
                typed("ping", "{\"type\": \"ping\"}"),
                typed("content_block_delta", ANTHROPIC_DELTA),
                typed("message_stop", "{\"type\":\"message_stop\"}"),
            ],
        ),
        case(
            "openrouter processing comments",
            format!(
                ": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: {OPENAI_CHUNK}\n\n"
            ),
            vec![
                comment("OPENROUTER PROCESSING"),
                comment("OPENROUTER PROCESSING"),
                ev(OPENAI_CHUNK),
            ],
        ),
        case(
            "keep-alive comments",
            ": keep-alive\n\ndata: a\n\n: keep-alive\n\n",
            vec![comment("keep-alive"), ev("a"), comment("keep-alive")],
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------

/// A small deterministic generator for the split points.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The ways a case's input is cut into chunks: whole, byte by byte, at every single cut
/// point, and in pseudo-random pieces (with empty chunks mixed in).
fn deliveries(input: &[u8]) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut all = vec![
        ("whole".to_owned(), vec![input.to_vec()]),
        (
            "bytes".to_owned(),
            input.chunks(1).map(<[u8]>::to_vec).collect(),
        ),
    ];
    for cut in 1..input.len() {
        all.push((
            format!("cut at {cut}"),
            vec![input[..cut].to_vec(), input[cut..].to_vec()],
        ));
    }
    for seed in 1..=24u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut chunks = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let len = (rng.next() % 8) as usize;
            let len = len.min(rest.len());
            chunks.push(rest[..len].to_vec());
            rest = &rest[len..];
        }
        all.push((format!("random split {seed}"), chunks));
    }
    all
}

fn frame_all<C: AsRef<[u8]>>(framer: &mut SseFramer, chunks: &[C]) -> (Vec<Frame>, Trailing) {
    let mut out = Vec::new();
    for chunk in chunks {
        framer
            .feed(chunk.as_ref(), &mut out)
            .expect("within the limit");
    }
    let trailing = framer.finish(&mut out).expect("within the limit");
    (out, trailing)
}

fn frame<C: AsRef<[u8]>>(chunks: &[C]) -> (Vec<Frame>, Trailing) {
    frame_all(&mut SseFramer::default(), chunks)
}

#[test]
fn whatwg_cases_any_delivery() {
    let cases = cases();
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(names.insert(case.name), "duplicate case {}", case.name);
        for (how, chunks) in deliveries(&case.input) {
            let (frames, trailing) = frame(&chunks);
            assert_eq!(frames, case.frames, "case {:?}, delivered {how}", case.name);
            assert_eq!(
                trailing, case.trailing,
                "case {:?}, delivered {how}",
                case.name
            );
            let total: usize = chunks.iter().map(Vec::len).sum();
            assert_eq!(total, case.input.len());
        }
    }
}

#[test]
fn bytes_seen_counts_the_input() {
    for case in cases() {
        let mut framer = SseFramer::default();
        frame_all(&mut framer, &deliveries(&case.input)[1].1);
        assert_eq!(
            framer.bytes_seen(),
            case.input.len() as u64,
            "{}",
            case.name
        );
    }
}

#[test]
fn cr_and_lf_in_separate_chunks_are_one_line_ending() {
    // Were the CR and the LF two endings, the empty line between them would dispatch
    // `a` alone and then `b` alone.
    let (frames, _) = frame(&["data: a\r", "\ndata: b\r", "\n\r", "\n"]);
    assert_eq!(frames, vec![ev("a\nb")]);
}

#[test]
fn utf8_char_split_across_chunks() {
    let smile = "😀".as_bytes();
    let chunks: [&[u8]; 5] = [b"data: ", &smile[..1], &smile[1..2], &smile[2..], b"\n\n"];
    assert_eq!(frame(&chunks).0, vec![ev("😀")]);
}

#[test]
fn bom_split_across_chunks() {
    let chunks: [&[u8]; 3] = [b"\xEF", b"\xBB", b"\xBFdata: a\n\n"];
    assert_eq!(frame(&chunks).0, vec![ev("a")]);
}

// ---------------------------------------------------------------------------------------
// Memory bound
// ---------------------------------------------------------------------------------------

/// Feeds `chunk` until the framer fails, checking the bound after every call; returns the
/// bytes accepted before the failure.
fn feed_until_too_large(framer: &mut SseFramer, chunk: &[u8], total: usize, limit: usize) -> usize {
    let mut out = Vec::new();
    let mut fed = 0;
    while fed < total {
        match framer.feed(chunk, &mut out) {
            Ok(()) => fed += chunk.len(),
            Err(error) => {
                assert_eq!(error, FrameError::TooLarge { limit });
                assert!(out.is_empty());
                return fed;
            }
        }
        assert!(
            framer.buffered_bytes() <= limit,
            "buffered {}",
            framer.buffered_bytes()
        );
    }
    panic!("{total} bytes without a line ending were accepted");
}

#[test]
fn endless_line_hits_the_limit() {
    let limit = DEFAULT_MAX_EVENT_BYTES;
    let mut framer = SseFramer::default();
    let chunk = vec![b'x'; 64 * 1024];
    let fed = feed_until_too_large(&mut framer, &chunk, 3 << 20, limit);
    assert_eq!(fed, limit);
    // The framer stays failed.
    let mut out = Vec::new();
    assert_eq!(
        framer.feed(b"\n\n", &mut out),
        Err(FrameError::TooLarge { limit })
    );
    assert_eq!(framer.finish(&mut out), Err(FrameError::TooLarge { limit }));
    assert!(out.is_empty());
}

#[test]
fn endless_event_hits_the_limit() {
    let limit = DEFAULT_MAX_EVENT_BYTES;
    let mut framer = SseFramer::default();
    let line = format!("data: {}\n", "y".repeat(1000));
    feed_until_too_large(&mut framer, line.as_bytes(), 3 << 20, limit);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// A generated event stream built from well-formed lines with any line endings.
fn valid_stream() -> impl Strategy<Value = Vec<u8>> {
    let text = "[a-z0-9 :{}\"é😀\u{0}-]{0,12}";
    let line = prop_oneof![
        4 => text.prop_map(|v| format!("data: {v}")),
        1 => text.prop_map(|v| format!("data:{v}")),
        1 => Just("data".to_owned()),
        1 => "[a-z_]{0,10}".prop_map(|v| format!("event: {v}")),
        1 => text.prop_map(|v| format!("id: {v}")),
        1 => "[0-9a]{0,5}".prop_map(|v| format!("retry: {v}")),
        1 => text.prop_map(|v| format!(":{v}")),
        1 => text.prop_map(|v| format!("x-{v}")),
        4 => Just(String::new()),
    ];
    let ending = prop_oneof![Just("\n"), Just("\r"), Just("\r\n")];
    (
        any::<bool>(),
        prop::collection::vec((line, ending), 0..24),
        prop::option::of(text),
    )
        .prop_map(|(bom, lines, last)| {
            let mut bytes = Vec::new();
            if bom {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
            }
            for (line, ending) in lines {
                bytes.extend_from_slice(line.as_bytes());
                bytes.extend_from_slice(ending.as_bytes());
            }
            if let Some(last) = last {
                bytes.extend_from_slice(format!("data: {last}").as_bytes());
            }
            bytes
        })
}

fn split<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(&bytes[start..cut]);
        start = cut;
    }
    chunks.push(&bytes[start..]);
    chunks
}

/// Frames `chunks` with `limit`, stopping at the first error.
fn frame_limited(chunks: &[&[u8]], limit: usize) -> (Vec<Frame>, Result<Trailing, FrameError>) {
    let mut framer = SseFramer::new(limit);
    let mut out = Vec::new();
    for chunk in chunks {
        if let Err(error) = framer.feed(chunk, &mut out) {
            return (out, Err(error));
        }
        assert!(framer.buffered_bytes() <= limit);
    }
    let end = framer.finish(&mut out);
    (out, end)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_split_of_a_valid_stream_gives_the_same_frames(
        bytes in valid_stream(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let whole = frame(&[&bytes]);
        prop_assert_eq!(frame(&split(&bytes, &cuts)), whole.clone());
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(frame(&bytewise), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_ignore_splits(
        bytes in prop::collection::vec(
            prop_oneof![
                Just(b'\n'), Just(b'\r'), Just(b':'), Just(b' '), Just(0xEF), Just(0xBB),
                Just(0xBF), Just(b'd'), any::<u8>(),
            ],
            0..300,
        ),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        limit in prop_oneof![Just(DEFAULT_MAX_EVENT_BYTES), 0usize..32],
    ) {
        let whole = frame_limited(&[&bytes], limit);
        prop_assert_eq!(frame_limited(&split(&bytes, &cuts), limit), whole);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn endless_line_in_any_chunking_stays_bounded(
        chunk_len in 1usize..=(128 * 1024),
        prefix in prop_oneof![Just(""), Just("data: "), Just("data: a\ndata: b\n"), Just(": ")],
        fill in prop_oneof![Just(b'x'), Just(b':'), Just(0xFF), Just(0xEF)],
    ) {
        let limit = DEFAULT_MAX_EVENT_BYTES;
        let mut framer = SseFramer::new(limit);
        let mut out = Vec::new();
        framer.feed(prefix.as_bytes(), &mut out).unwrap();
        let chunk = vec![fill; chunk_len];
        let fed = feed_until_too_large(&mut framer, &chunk, 3 << 20, limit);
        prop_assert!(fed <= limit);
        prop_assert_eq!(framer.finish(&mut out), Err(FrameError::TooLarge { limit }));
    }
}

// ---------------------------------------------------------------------------------------
// eventsource-stream 0.2
// ---------------------------------------------------------------------------------------

/// What `eventsource-stream` made of one delivery: its events in our terms, or the error
/// it stopped with, or the message it panicked with.
async fn eventsource_stream(chunks: Vec<Vec<u8>>) -> Result<Vec<SseEvent>, String> {
    let run = tokio::spawn(async move {
        let source = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|chunk| Ok::<_, Infallible>(bytes::Bytes::from(chunk))),
        );
        let mut stream = std::pin::pin!(eventsource_stream::EventStream::new(source));
        let mut events = Vec::new();
        while let Some(item) = stream.next().await {
            let event = item.map_err(|error| format!("error: {error}"))?;
            events.push(SseEvent {
                event: (event.event != "message").then_some(event.event),
                data: event.data,
                id: (!event.id.is_empty()).then_some(event.id),
                retry: event.retry.map(|retry| retry.as_millis() as u64),
            });
        }
        Ok(events)
    });
    match run.await {
        Ok(result) => result,
        Err(error) => {
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(format!("panic: {message}"))
        }
    }
}

/// Keeps the expected panics inside eventsource-stream from cluttering the test output;
/// every other panic is reported as usual.
fn quiet_eventsource_stream_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let theirs = info
                .location()
                .is_some_and(|location| location.file().contains("eventsource-stream"));
            if !theirs {
                default(info);
            }
        }));
    });
}

/// The events of `frames`; an explicit `event: message` compares equal to none.
fn events(frames: &[Frame]) -> Vec<SseEvent> {
    frames
        .iter()
        .filter_map(|frame| match frame {
            Frame::Event(event) => Some(SseEvent {
                event: event.event.clone().filter(|name| name != "message"),
                ..event.clone()
            }),
            _ => None,
        })
        .collect()
}

/// How a delivery went wrong for eventsource-stream.
fn failure_kind(theirs: &Result<Vec<SseEvent>, String>, expected: &[SseEvent]) -> &'static str {
    match theirs {
        Err(message) if message.starts_with("panic") => "panics",
        Err(_) => "errors",
        Ok(events) if events.len() < expected.len() => "drops events",
        Ok(_) => "wrong events",
    }
}

/// The cases where eventsource-stream 0.2.3 does not deliver the events the standard
/// requires: in which deliveries ("whole", "bytes", "splits" = any other cut) and how.
const EVENTSOURCE_STREAM_DIVERGES: &[(&str, &str, &str)] = &[
    // `data: a\n\r`: a CR that ends the input is not taken as a line ending.
    (
        "blank line as cr at end",
        "whole,bytes,splits",
        "drops events",
    ),
    // A leading BOM is cut with `&s[1..]`, which is not a char boundary (BOM is 3 bytes).
    ("bom", "whole,bytes,splits", "panics"),
    // `data: b\r\r` at the end of input: the final CR again.
    ("cr", "whole,bytes,splits", "drops events"),
    // Invalid UTF-8 is an error, and nothing after it is delivered.
    ("invalid utf-8 replaced", "whole,bytes,splits", "errors"),
    // `retry: +5` parses with `u64::from_str`, which takes a sign.
    ("retry with plus sign", "whole,bytes,splits", "wrong events"),
    // As `bom`.
    ("second bom is content", "whole,bytes,splits", "panics"),
    // As `invalid utf-8 replaced`.
    (
        "truncated utf-8 at line end replaced",
        "whole,bytes,splits",
        "errors",
    ),
];

#[tokio::test]
async fn eventsource_stream_divergences_are_as_recorded() {
    quiet_eventsource_stream_panics();
    // Case name -> (deliveries that failed, kinds of failure).
    let mut observed: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    let mut detail: BTreeMap<&str, String> = BTreeMap::new();
    for case in cases() {
        let expected = events(&case.frames);
        for (how, chunks) in deliveries(&case.input) {
            // Our framer is right on every case and delivery.
            assert_eq!(events(&frame(&chunks).0), expected, "{} ({how})", case.name);
            let theirs = eventsource_stream(chunks).await;
            if theirs.as_ref() == Ok(&expected) {
                continue;
            }
            let mode = match how.as_str() {
                "whole" => "whole",
                "bytes" => "bytes",
                _ => "splits",
            };
            let (modes, kinds) = observed.entry(case.name).or_default();
            if !modes.contains(&mode) {
                modes.push(mode);
            }
            let kind = failure_kind(&theirs, &expected);
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
            detail
                .entry(case.name)
                .or_insert_with(|| format!("{how}: {theirs:?}"));
        }
    }
    let observed: Vec<(&str, String, String)> = observed
        .into_iter()
        .map(|(name, (modes, mut kinds))| {
            kinds.sort_unstable();
            (name, modes.join(","), kinds.join(","))
        })
        .collect();
    let recorded: Vec<(&str, String, String)> = EVENTSOURCE_STREAM_DIVERGES
        .iter()
        .map(|&(name, modes, kinds)| (name, modes.to_owned(), kinds.to_owned()))
        .collect();
    assert_eq!(observed, recorded, "details: {detail:#?}");
}
