//! SSE framing by the WHATWG rules, push-based, with a bound on event size.
//!
//! [`SseFramer`] turns byte chunks, cut anywhere, into [`Frame`]s, following the
//! "Interpreting an event stream" section of the WHATWG HTML standard:
//!
//! - the stream is UTF-8; invalid sequences become U+FFFD, and a character split across
//!   chunks decodes as if it had arrived whole; one byte order mark at the very start is
//!   ignored, a later one is content;
//! - lines end in CRLF, LF or CR, and a CR at the end of one chunk followed by an LF at the
//!   start of the next is one line ending, not two;
//! - a line is split at its first colon and one space after the colon is dropped; `data`
//!   appends its value and an LF to the data buffer, `event` sets the event type, `id` sets
//!   the last event id (unless the value holds a NUL), `retry` is kept only when it is all
//!   ASCII digits;
//! - a blank line dispatches the event, without its final LF, when the data buffer is not
//!   empty; an event left without its blank line at the end of input is discarded and
//!   reported as [`Trailing::PartialEvent`].
//!
//! Two kinds of line that the standard ignores are reported rather than dropped, because
//! providers put information in them: comments (`: OPENROUTER PROCESSING`, `: keep-alive`)
//! come out as [`Frame::Comment`], and lines with an unknown field name as [`Frame::Other`],
//! verbatim. That is how a caller sees the pretty-printed `{"error": …}` object Gemini
//! appends after the last event (one `Other` per line: `{`, `  "error": {`, …) and the
//! `error: {json}` field of older llama.cpp servers.
//!
//! The framer holds at most `max_event_bytes` of a pending line plus the data of the event
//! being built; a stream that goes past that (an endless line, an endless event) fails with
//! [`FrameError::TooLarge`] instead of growing.
//!
//! # Why not eventsource-stream
//!
//! `eventsource-stream` 0.2 is the usual choice, and it gets most of the standard right:
//! chunks cut anywhere, CRLF across chunks, `id` persistence, `data` without a colon.
//! `tests/sse_whatwg.rs` feeds it every conformance case used here, whole, byte by byte
//! and in many splits, and pins down where 0.2.3 goes wrong:
//!
//! - a stream that starts with a byte order mark makes it panic (it cuts the BOM off with
//!   `&s[1..]`, inside the 3-byte character);
//! - a CR that ends the input is never taken as a line ending, so a stream whose lines end
//!   in CR loses its last event (`data: a\r\r`), and so does `data: a\n\r`;
//! - invalid UTF-8 is not replaced but ends the stream in an error, and every event from
//!   the bad bytes on is lost (the bytes stay buffered while later chunks pile up behind);
//! - `retry: +5` is accepted as 5 (`u64::from_str` takes a sign).
//!
//! It also drops comments and unknown fields, so Gemini's trailing error object cannot be
//! seen, and its buffer has no bound, so an endless line grows until memory runs out.
//! Owning the framer costs a few hundred lines and gives a synchronous push parser that
//! any transport can drive and that is tested without a runtime.

use std::borrow::Cow;
use std::fmt;

/// The default bound on one event (its pending line plus its data buffer): 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// Buffers that grew past this are shrunk back after use, so one large event does not
/// pin its memory for the rest of a long stream.
const SHRINK_ABOVE: usize = 64 * 1024;
/// The capacity a shrunk buffer keeps.
const SHRINK_TO: usize = 8 * 1024;

/// One unit of an event stream, in the order it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// An event dispatched by a blank line.
    Event(SseEvent),
    /// A comment line (`:` first), without the colon and one leading space.
    Comment(String),
    /// A line whose field name is not `data`, `event`, `id` or `retry`, verbatim (without
    /// its line ending).
    Other(String),
}

/// An event dispatched from the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type; `None` when the stream set none (the standard's `message`).
    pub event: Option<String>,
    /// The data lines joined with LF.
    pub data: String,
    /// The last event id seen on the stream so far, this event's or an earlier one's;
    /// `None` when none was set or an empty `id` reset it.
    pub id: Option<String>,
    /// The `retry` value (milliseconds) given in this event's block, if any.
    pub retry: Option<u64>,
}

/// What [`SseFramer::finish`] found at the end of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trailing {
    /// The stream ended between events.
    Clean,
    /// The stream ended inside an event that had data but no closing blank line; the
    /// event was discarded, as the standard says.
    PartialEvent,
}

/// Why a stream could not be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A line, or the data of one event, went past the configured bound.
    #[error("frame exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
}

/// A push-based WHATWG event-stream parser.
///
/// Feed it chunks as they arrive with [`feed`](Self::feed), then call
/// [`finish`](Self::finish) at the end of input. After `finish` the framer is ready for a
/// new stream (a reconnection): the byte order mark and line state start afresh, while the
/// last event id is kept, as an `EventSource` keeps it across reconnections.
///
/// Once it has returned [`FrameError::TooLarge`] the framer stays failed: every later call
/// returns the same error. Frames completed before the error in the same call are still
/// appended to `out`.
#[derive(Clone)]
pub struct SseFramer {
    limit: usize,
    /// The bytes of a line whose ending has not arrived yet.
    line: Vec<u8>,
    /// The data buffer of the event being built.
    data: String,
    /// The event type buffer.
    event_type: String,
    last_id: Option<String>,
    retry: Option<u64>,
    bom: BomSkipper,
    /// The last line ended in CR at the end of a chunk: an LF that comes next belongs to it.
    after_cr: bool,
    failed: bool,
    bytes_seen: u64,
}

impl fmt::Debug for SseFramer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Buffered content may be large; show sizes only.
        f.debug_struct("SseFramer")
            .field("limit", &self.limit)
            .field("buffered_bytes", &self.buffered_bytes())
            .field("last_id", &self.last_id)
            .field("failed", &self.failed)
            .field("bytes_seen", &self.bytes_seen)
            .finish_non_exhaustive()
    }
}

impl Default for SseFramer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseFramer {
    /// A framer that fails once a pending line plus the data of the event being built
    /// exceed `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> SseFramer {
        SseFramer {
            limit: max_event_bytes,
            line: Vec::new(),
            data: String::new(),
            event_type: String::new(),
            last_id: None,
            retry: None,
            bom: BomSkipper::default(),
            after_cr: false,
            failed: false,
            bytes_seen: 0,
        }
    }

    /// Feeds the next chunk; complete frames are appended to `out` in order.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FrameError> {
        if self.failed {
            return Err(self.error());
        }
        self.bytes_seen += chunk.len() as u64;
        let (replay, rest) = self.bom.skip(chunk);
        self.push_bytes(replay, out)?;
        self.push_bytes(rest, out)
    }

    /// End of input: flushes a final line without its terminator (as a line), reports
    /// whether an event was left undispatched (and discards it, per the spec).
    pub fn finish(&mut self, out: &mut Vec<Frame>) -> Result<Trailing, FrameError> {
        if self.failed {
            return Err(self.error());
        }
        let replay = self.bom.finish();
        self.push_bytes(replay, out)?;
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let result = self.process_line(&line, out);
            self.line = recycle(line);
            result?;
        }
        let trailing = if self.data.is_empty() {
            Trailing::Clean
        } else {
            Trailing::PartialEvent
        };
        self.data.clear();
        self.event_type.clear();
        self.retry = None;
        self.after_cr = false;
        self.bom = BomSkipper::default();
        Ok(trailing)
    }

    /// Total bytes fed so far.
    pub fn bytes_seen(&self) -> u64 {
        self.bytes_seen
    }

    /// Bytes held right now: the pending line plus the data buffer. Never more than the
    /// limit; exposed for tests of that bound.
    #[doc(hidden)]
    pub fn buffered_bytes(&self) -> usize {
        self.line.len() + self.data.len()
    }

    fn error(&self) -> FrameError {
        FrameError::TooLarge { limit: self.limit }
    }

    /// Enters the failed state and frees the buffers.
    fn fail(&mut self) -> FrameError {
        self.failed = true;
        self.line = Vec::new();
        self.data = String::new();
        self.event_type = String::new();
        self.error()
    }

    /// Fails unless a line of `line_len` bytes fits beside the data buffer.
    fn check_line(&mut self, line_len: usize) -> Result<(), FrameError> {
        if line_len.saturating_add(self.data.len()) > self.limit {
            Err(self.fail())
        } else {
            Ok(())
        }
    }

    /// Splits `input` into lines, continuing the pending one.
    fn push_bytes(&mut self, mut input: &[u8], out: &mut Vec<Frame>) -> Result<(), FrameError> {
        if self.after_cr {
            match input.first() {
                None => return Ok(()),
                Some(b'\n') => input = &input[1..],
                Some(_) => {}
            }
            self.after_cr = false;
        }
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', input) {
            let part = &input[..pos];
            if self.line.is_empty() {
                // The whole line is in this chunk: no copy.
                self.check_line(part.len())?;
                self.process_line(part, out)?;
            } else {
                self.check_line(self.line.len() + part.len())?;
                let mut line = std::mem::take(&mut self.line);
                extend_bounded(&mut line, part, self.limit);
                let result = self.process_line(&line, out);
                self.line = recycle(line);
                result?;
            }
            let ending = input[pos];
            input = &input[pos + 1..];
            if ending == b'\r' {
                match input.first() {
                    Some(b'\n') => input = &input[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        if !input.is_empty() {
            self.check_line(self.line.len() + input.len())?;
            let limit = self.limit;
            extend_bounded(&mut self.line, input, limit);
        }
        Ok(())
    }

    /// Interprets one complete line (without its ending).
    fn process_line(&mut self, line: &[u8], out: &mut Vec<Frame>) -> Result<(), FrameError> {
        let Some((&first, rest)) = line.split_first() else {
            self.dispatch(out);
            return Ok(());
        };
        if first == b':' {
            out.push(Frame::Comment(decode(strip_space(rest)).into_owned()));
            return Ok(());
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => (&line[..colon], strip_space(&line[colon + 1..])),
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                let value = decode(value);
                if self.data.len() + value.len() + 1 > self.limit {
                    return Err(self.fail());
                }
                reserve_bounded(&mut self.data, value.len() + 1, self.limit);
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&decode(value));
            }
            b"id" => {
                if !value.contains(&0) {
                    self.last_id = (!value.is_empty()).then(|| decode(value).into_owned());
                }
            }
            b"retry" => {
                if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
                    let millis = value.iter().fold(0u64, |acc, digit| {
                        acc.saturating_mul(10)
                            .saturating_add(u64::from(digit - b'0'))
                    });
                    self.retry = Some(millis);
                }
            }
            _ => out.push(Frame::Other(decode(line).into_owned())),
        }
        Ok(())
    }

    /// A blank line: dispatches the event if the data buffer holds anything.
    fn dispatch(&mut self, out: &mut Vec<Frame>) {
        let retry = self.retry.take();
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event = SseEvent {
            event: (!self.event_type.is_empty()).then(|| self.event_type.clone()),
            data: self.data.as_str().to_owned(),
            id: self.last_id.clone(),
            retry,
        };
        self.data.clear();
        if self.data.capacity() > SHRINK_ABOVE {
            self.data.shrink_to(SHRINK_TO);
        }
        self.event_type.clear();
        out.push(Frame::Event(event));
    }
}

/// Drops one leading space.
fn strip_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// Decodes one line's bytes, replacing invalid UTF-8. Line endings are ASCII and never
/// inside a multi-byte sequence, so decoding line by line equals decoding the stream.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    // `from_utf8` first: its validation is much faster than the lossy one's on valid input.
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Empties a line buffer for reuse, shrinking it if one long line made it large.
pub(crate) fn recycle(mut line: Vec<u8>) -> Vec<u8> {
    line.clear();
    if line.capacity() > SHRINK_ABOVE {
        line.shrink_to(SHRINK_TO);
    }
    line
}

/// The capacity to grow to for `needed` bytes: doubling as usual, but never past `limit`
/// (unless `needed` itself is larger).
fn bounded_capacity(capacity: usize, needed: usize, limit: usize) -> usize {
    needed
        .max(capacity.saturating_mul(2))
        .min(limit.max(needed))
}

/// `buf.extend_from_slice(bytes)` without letting the capacity double past `limit`.
pub(crate) fn extend_bounded(buf: &mut Vec<u8>, bytes: &[u8], limit: usize) {
    let needed = buf.len() + bytes.len();
    if needed > buf.capacity() {
        let target = bounded_capacity(buf.capacity(), needed, limit);
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(bytes);
}

/// Makes room for `additional` bytes in `buf` without doubling its capacity past `limit`.
fn reserve_bounded(buf: &mut String, additional: usize, limit: usize) {
    let needed = buf.len() + additional;
    if needed > buf.capacity() {
        let target = bounded_capacity(buf.capacity(), needed, limit);
        buf.reserve_exact(target - buf.len());
    }
}

/// The UTF-8 byte order mark.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// Skips one byte order mark at the start of a stream, even when it arrives split across
/// chunks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BomSkipper {
    /// How many BOM bytes have been matched and held back so far.
    matched: u8,
    /// The start of the stream is behind us.
    done: bool,
}

impl BomSkipper {
    /// Returns the bytes to process for `chunk`: first bytes held back earlier that turned
    /// out not to be a BOM, then the rest of `chunk`.
    pub(crate) fn skip<'a>(&mut self, chunk: &'a [u8]) -> (&'static [u8], &'a [u8]) {
        if self.done {
            return (&[], chunk);
        }
        let matched = usize::from(self.matched);
        let want = &BOM[matched..];
        let n = want.len().min(chunk.len());
        if chunk[..n] == want[..n] {
            if n == want.len() {
                self.done = true;
            } else {
                // The chunk ended inside a possible BOM: hold its bytes back.
                self.matched += n as u8;
            }
            return (&[], &chunk[n..]);
        }
        self.done = true;
        (&BOM[..matched], chunk)
    }

    /// End of input: the bytes still held back (a lone prefix of a BOM), and a fresh start.
    pub(crate) fn finish(&mut self) -> &'static [u8] {
        let held = if self.done {
            &[][..]
        } else {
            &BOM[..usize::from(self.matched)]
        };
        *self = BomSkipper::default();
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str) -> Frame {
        Frame::Event(SseEvent {
            data: data.to_owned(),
            ..SseEvent::default()
        })
    }

    fn run(chunks: &[&[u8]]) -> (Vec<Frame>, Trailing) {
        let mut framer = SseFramer::default();
        let mut out = Vec::new();
        for chunk in chunks {
            framer.feed(chunk, &mut out).unwrap();
        }
        let trailing = framer.finish(&mut out).unwrap();
        (out, trailing)
    }

    #[test]
    fn dispatches_on_blank_line() {
        let (frames, trailing) = run(&[b"data: a\n\ndata: b\n"]);
        assert_eq!(frames, vec![event("a")]);
        assert_eq!(trailing, Trailing::PartialEvent);
    }

    #[test]
    fn cr_at_chunk_end_and_lf_at_next_start_is_one_ending() {
        let (frames, trailing) = run(&[b"data: a\r", b"\n", b"data: b\r", b"\n\r", b"\n"]);
        assert_eq!(frames, vec![event("a\nb")]);
        assert_eq!(trailing, Trailing::Clean);
        // An empty chunk between the CR and the LF changes nothing.
        let (frames, _) = run(&[b"data: a\r", b"", b"\ndata: b\r\n\r", b"", b"\n"]);
        assert_eq!(frames, vec![event("a\nb")]);
    }

    #[test]
    fn lone_cr_at_chunk_end_still_ends_the_line() {
        let (frames, _) = run(&[b"data: a\r", b"\r", b"data: b\r\r"]);
        assert_eq!(frames, vec![event("a"), event("b")]);
    }

    #[test]
    fn bom_split_across_chunks_is_skipped_and_a_false_start_is_kept() {
        let (frames, _) = run(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"]);
        assert_eq!(frames, vec![event("a")]);
        // EF BB then something else: the two bytes are content (invalid UTF-8 here).
        let (frames, _) = run(&[b"\xEF\xBB", b"x: y\n"]);
        assert_eq!(frames, vec![Frame::Other("\u{FFFD}x: y".to_owned())]);
        // A lone BOM prefix at the end of input is a (final) line too.
        let (frames, _) = run(&[b"\xEF"]);
        assert_eq!(frames, vec![Frame::Other("\u{FFFD}".to_owned())]);
    }

    #[test]
    fn finish_resets_for_a_new_stream_but_keeps_the_last_id() {
        let mut framer = SseFramer::default();
        let mut out = Vec::new();
        framer
            .feed(b"id: 7\ndata: a\n\ndata: lost", &mut out)
            .unwrap();
        assert_eq!(framer.finish(&mut out).unwrap(), Trailing::PartialEvent);
        framer.feed(b"\xEF\xBB\xBFdata: b\n\n", &mut out).unwrap();
        assert_eq!(framer.finish(&mut out).unwrap(), Trailing::Clean);
        let ids: Vec<_> = out
            .iter()
            .map(|frame| match frame {
                Frame::Event(e) => (e.data.as_str(), e.id.as_deref()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(ids, vec![("a", Some("7")), ("b", Some("7"))]);
    }

    #[test]
    fn retry_saturates_instead_of_overflowing() {
        let (frames, _) = run(&[b"retry: 99999999999999999999999\ndata: a\n\n"]);
        assert_eq!(
            frames,
            vec![Frame::Event(SseEvent {
                data: "a".to_owned(),
                retry: Some(u64::MAX),
                ..SseEvent::default()
            })]
        );
    }

    #[test]
    fn retry_applies_only_to_its_own_block() {
        let (frames, _) = run(&[b"retry: 5\n\ndata: a\n\n"]);
        assert_eq!(frames, vec![event("a")]);
    }

    #[test]
    fn endless_line_fails_without_growing_past_the_limit() {
        let limit = 1000;
        let mut framer = SseFramer::new(limit);
        let mut out = Vec::new();
        let chunk = [b'x'; 64];
        let mut result = Ok(());
        for _ in 0..100 {
            result = framer.feed(&chunk, &mut out);
            assert!(
                framer.line.capacity() <= limit,
                "{}",
                framer.line.capacity()
            );
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(FrameError::TooLarge { limit }));
        assert!(framer.bytes_seen() <= (limit + 64) as u64);
        assert_eq!(
            framer.feed(b"\n\n", &mut out),
            Err(FrameError::TooLarge { limit })
        );
        assert_eq!(framer.finish(&mut out), Err(FrameError::TooLarge { limit }));
        assert!(out.is_empty());
    }

    #[test]
    fn endless_event_fails_without_growing_past_the_limit() {
        let limit = 1000;
        let mut framer = SseFramer::new(limit);
        let mut out = Vec::new();
        let mut fed = 0;
        let error = loop {
            match framer.feed(b"data: 0123456789\n", &mut out) {
                Ok(()) => fed += 1,
                Err(error) => break error,
            }
            assert!(framer.data.capacity() <= limit);
            assert!(framer.buffered_bytes() <= limit);
        };
        assert_eq!(error, FrameError::TooLarge { limit });
        // Each line adds 11 bytes of data; the 91st line (16 bytes) no longer fits beside
        // the 990 bytes of data already held.
        assert_eq!(fed, 90);
        assert!(out.is_empty());
    }

    #[test]
    fn a_pending_line_counts_against_the_data_already_held() {
        let limit = 100;
        let mut framer = SseFramer::new(limit);
        let mut out = Vec::new();
        // 80 bytes of data held ("x" * 79 + LF), then a line still arriving.
        let line = format!("data: {}\n", "x".repeat(79));
        framer.feed(line.as_bytes(), &mut out).unwrap();
        framer.feed(b"data: 0123456789", &mut out).unwrap();
        assert_eq!(framer.buffered_bytes(), 96);
        assert_eq!(
            framer.feed(b"01234", &mut out),
            Err(FrameError::TooLarge { limit })
        );
        assert_eq!(framer.buffered_bytes(), 0);
    }

    #[test]
    fn an_event_exactly_at_the_limit_passes() {
        let mut framer = SseFramer::new(8);
        let mut out = Vec::new();
        // "data: ab" is 8 bytes; the data buffer then holds "ab\n".
        framer.feed(b"data: ab\n\n", &mut out).unwrap();
        assert_eq!(out, vec![event("ab")]);
        assert!(framer.feed(b"data: abc\n", &mut out).is_err());
    }

    #[test]
    fn large_event_buffers_shrink_back_after_dispatch() {
        let mut framer = SseFramer::default();
        let mut out = Vec::new();
        let big = format!("data: {}\n\n", "x".repeat(200_000));
        for piece in big.as_bytes().chunks(1000) {
            framer.feed(piece, &mut out).unwrap();
        }
        assert_eq!(out.len(), 1);
        assert!(framer.data.capacity() <= SHRINK_TO);
        assert!(framer.line.capacity() <= SHRINK_TO);
    }

    #[test]
    fn bytes_seen_counts_every_byte() {
        let mut framer = SseFramer::default();
        let mut out = Vec::new();
        framer.feed(b"\xEF\xBB\xBFdata: a\r", &mut out).unwrap();
        framer.feed(b"\n\n", &mut out).unwrap();
        assert_eq!(framer.bytes_seen(), 13);
    }

    #[test]
    fn debug_shows_sizes_not_content() {
        let mut framer = SseFramer::default();
        framer.feed(b"data: secret", &mut Vec::new()).unwrap();
        let shown = format!("{framer:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("buffered_bytes: 12"), "{shown}");
    }
}
