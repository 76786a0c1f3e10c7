//! NDJSON framing: one JSON value per line, push-based, with a bound on line size.
//!
//! [`NdjsonFramer`] cuts byte chunks into lines at LF (a CR before the LF is dropped; a
//! lone CR is content, since NDJSON is LF-delimited). Blank and whitespace-only lines are
//! skipped, one byte order mark at the start is ignored, and each line is decoded as UTF-8
//! with invalid sequences replaced, so a character split across chunks decodes whole. The
//! lines are handed out as text; parsing the JSON is the decoder's job. A line longer than
//! `max_line_bytes` fails with [`FrameError::TooLarge`] instead of growing.

use std::fmt;

use crate::sse::{BomSkipper, DEFAULT_MAX_EVENT_BYTES, FrameError, extend_bounded, recycle};

/// A push-based NDJSON line splitter.
///
/// Feed it chunks with [`feed`](Self::feed), then call [`finish`](Self::finish) at the end
/// of input; afterwards it is ready for a new stream. Once it has returned
/// [`FrameError::TooLarge`] it stays failed: every later call returns the same error.
#[derive(Clone)]
pub struct NdjsonFramer {
    limit: usize,
    /// The bytes of a line whose LF has not arrived yet.
    line: Vec<u8>,
    bom: BomSkipper,
    failed: bool,
    bytes_seen: u64,
}

impl fmt::Debug for NdjsonFramer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Buffered content may be large; show sizes only.
        f.debug_struct("NdjsonFramer")
            .field("limit", &self.limit)
            .field("buffered_bytes", &self.line.len())
            .field("failed", &self.failed)
            .field("bytes_seen", &self.bytes_seen)
            .finish_non_exhaustive()
    }
}

impl Default for NdjsonFramer {
    /// A framer with a 1 MiB line bound.
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl NdjsonFramer {
    /// A framer that fails on a line longer than `max_line_bytes` (counted without its LF).
    pub fn new(max_line_bytes: usize) -> NdjsonFramer {
        NdjsonFramer {
            limit: max_line_bytes,
            line: Vec::new(),
            bom: BomSkipper::default(),
            failed: false,
            bytes_seen: 0,
        }
    }

    /// Feeds the next chunk; complete non-blank lines are appended to `out` in order.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<String>) -> Result<(), FrameError> {
        if self.failed {
            return Err(self.error());
        }
        self.bytes_seen += chunk.len() as u64;
        let (replay, rest) = self.bom.skip(chunk);
        self.push_bytes(replay, out)?;
        self.push_bytes(rest, out)
    }

    /// End of input: emits a final line that has no LF, unless it is blank.
    pub fn finish(&mut self, out: &mut Vec<String>) -> Result<(), FrameError> {
        if self.failed {
            return Err(self.error());
        }
        let replay = self.bom.finish();
        self.push_bytes(replay, out)?;
        emit(&self.line, out);
        self.line = recycle(std::mem::take(&mut self.line));
        Ok(())
    }

    /// Total bytes fed so far.
    pub fn bytes_seen(&self) -> u64 {
        self.bytes_seen
    }

    /// Bytes held right now (the pending line). Never more than the limit; exposed for
    /// tests of that bound.
    #[doc(hidden)]
    pub fn buffered_bytes(&self) -> usize {
        self.line.len()
    }

    fn error(&self) -> FrameError {
        FrameError::TooLarge { limit: self.limit }
    }

    /// Fails unless a line of `len` bytes is within the bound.
    fn check(&mut self, len: usize) -> Result<(), FrameError> {
        if len > self.limit {
            self.failed = true;
            self.line = Vec::new();
            Err(self.error())
        } else {
            Ok(())
        }
    }

    fn push_bytes(&mut self, mut input: &[u8], out: &mut Vec<String>) -> Result<(), FrameError> {
        while let Some(pos) = memchr::memchr(b'\n', input) {
            let part = &input[..pos];
            if self.line.is_empty() {
                self.check(part.len())?;
                emit(part, out);
            } else {
                self.check(self.line.len() + part.len())?;
                extend_bounded(&mut self.line, part, self.limit);
                emit(&self.line, out);
                self.line = recycle(std::mem::take(&mut self.line));
            }
            input = &input[pos + 1..];
        }
        if !input.is_empty() {
            self.check(self.line.len() + input.len())?;
            extend_bounded(&mut self.line, input, self.limit);
        }
        Ok(())
    }
}

/// Appends `line` (without its LF) to `out` unless it is blank, dropping one trailing CR.
fn emit(line: &[u8], out: &mut Vec<String>) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    // `from_utf8` first: its validation is much faster than the lossy one's on valid input.
    out.push(match std::str::from_utf8(line) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(line).into_owned(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(framer: &mut NdjsonFramer, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for chunk in chunks {
            framer.feed(chunk, &mut out).unwrap();
        }
        framer.finish(&mut out).unwrap();
        out
    }

    fn lines(chunks: &[&[u8]]) -> Vec<String> {
        run(&mut NdjsonFramer::default(), chunks)
    }

    #[test]
    fn splits_on_lf_and_drops_one_trailing_cr() {
        assert_eq!(
            lines(&[b"{\"a\":1}\n{\"b\":2}\r\n{\"c\":3}\r\r\n"]),
            vec!["{\"a\":1}", "{\"b\":2}", "{\"c\":3}\r"]
        );
    }

    #[test]
    fn lone_cr_is_not_a_line_ending() {
        assert_eq!(
            lines(&[b"{\"a\":1}\r{\"b\":2}\n"]),
            vec!["{\"a\":1}\r{\"b\":2}"]
        );
    }

    #[test]
    fn blank_and_whitespace_only_lines_are_skipped() {
        assert_eq!(
            lines(&[b"\n\r\n  \t \n{}\n \r\n\n[]\n   "]),
            vec!["{}", "[]"]
        );
    }

    #[test]
    fn final_line_without_lf_is_emitted_by_finish() {
        let mut framer = NdjsonFramer::default();
        let mut out = Vec::new();
        framer
            .feed(b"{\"done\":false}\n{\"done\":", &mut out)
            .unwrap();
        assert_eq!(out, vec!["{\"done\":false}"]);
        framer.feed(b"true}", &mut out).unwrap();
        framer.finish(&mut out).unwrap();
        assert_eq!(out, vec!["{\"done\":false}", "{\"done\":true}"]);
    }

    #[test]
    fn bom_is_ignored_once_even_when_split() {
        assert_eq!(lines(&[b"\xEF", b"\xBB\xBF{}\n"]), vec!["{}"]);
        assert_eq!(
            lines(&[b"\xEF\xBB\xBF\xEF\xBB\xBF{}\n"]),
            vec!["\u{FEFF}{}"]
        );
        assert_eq!(lines(&[b"{}\n\xEF\xBB\xBF[]\n"]), vec!["{}", "\u{FEFF}[]"]);
    }

    #[test]
    fn utf8_split_across_chunks_and_invalid_bytes() {
        let smile = "😀".as_bytes();
        assert_eq!(
            lines(&[b"\"", &smile[..1], &smile[1..3], &smile[3..], b"\"\n"]),
            vec!["\"😀\""]
        );
        assert_eq!(lines(&[b"\"a\xFFb\"\n"]), vec!["\"a\u{FFFD}b\""]);
    }

    #[test]
    fn long_line_fails_and_the_framer_stays_failed() {
        let limit = 100;
        let mut framer = NdjsonFramer::new(limit);
        let mut out = Vec::new();
        framer.feed(&[b'x'; 100], &mut out).unwrap();
        assert!(framer.line.capacity() <= limit);
        assert_eq!(
            framer.feed(b"y", &mut out),
            Err(FrameError::TooLarge { limit })
        );
        assert_eq!(framer.buffered_bytes(), 0);
        assert_eq!(
            framer.feed(b"\n", &mut out),
            Err(FrameError::TooLarge { limit })
        );
        assert_eq!(framer.finish(&mut out), Err(FrameError::TooLarge { limit }));
        assert!(out.is_empty());

        // A complete line in one chunk is held to the same bound.
        let mut framer = NdjsonFramer::new(limit);
        let mut line = vec![b'x'; 101];
        line.push(b'\n');
        assert_eq!(
            framer.feed(&line, &mut out),
            Err(FrameError::TooLarge { limit })
        );
    }

    #[test]
    fn endless_line_never_buffers_past_the_limit() {
        let limit = 1 << 20;
        let mut framer = NdjsonFramer::new(limit);
        let chunk = vec![b'7'; 64 * 1024];
        let mut out = Vec::new();
        let mut fed = 0usize;
        let error = loop {
            match framer.feed(&chunk, &mut out) {
                Ok(()) => fed += chunk.len(),
                Err(error) => break error,
            }
            assert!(framer.buffered_bytes() <= limit);
            assert!(framer.line.capacity() <= limit);
            assert!(fed < 3 << 20);
        };
        assert_eq!(error, FrameError::TooLarge { limit });
        assert_eq!(fed, limit);
    }

    #[test]
    fn bytes_seen_counts_every_byte() {
        let mut framer = NdjsonFramer::default();
        let mut out = Vec::new();
        framer.feed(b"\xEF\xBB\xBF{}\n", &mut out).unwrap();
        framer.feed(b"\n[]", &mut out).unwrap();
        assert_eq!(framer.bytes_seen(), 9);
    }

    /// A generated NDJSON stream: its bytes and the lines a framer must produce.
    fn stream() -> impl Strategy<Value = (Vec<u8>, Vec<String>)> {
        let line = prop_oneof![
            // A JSON-ish value, never blank.
            "[{}\\[\\]\"a-z0-9:, é😀\\\\]{0,20}[{}a-z0-9😀]",
            // Blank or whitespace-only.
            "[ \t]{0,3}",
        ];
        let ending = prop_oneof![Just("\n"), Just("\r\n")];
        (
            any::<bool>(),
            prop::collection::vec((line, ending), 0..12),
            prop::option::of("[{}a-z0-9😀]{1,10}"),
        )
            .prop_map(|(bom, lines, last)| {
                let mut bytes = Vec::new();
                if bom {
                    bytes.extend_from_slice(b"\xEF\xBB\xBF");
                }
                let mut expected = Vec::new();
                for (line, ending) in lines {
                    bytes.extend_from_slice(line.as_bytes());
                    bytes.extend_from_slice(ending.as_bytes());
                    if !line.trim().is_empty() {
                        expected.push(line);
                    }
                }
                if let Some(last) = last {
                    bytes.extend_from_slice(last.as_bytes());
                    expected.push(last);
                }
                (bytes, expected)
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

    proptest! {
        #[test]
        fn any_split_gives_the_same_lines(
            (bytes, expected) in stream(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let whole = lines(&[&bytes]);
            prop_assert_eq!(&whole, &expected);
            let chunks = split(&bytes, &cuts);
            prop_assert_eq!(lines(&chunks), expected.clone());
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            prop_assert_eq!(lines(&bytewise), expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_ignore_splits(
            bytes in prop::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b' '), Just(0xEF), any::<u8>()],
                0..200,
            ),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            limit in prop_oneof![Just(DEFAULT_MAX_EVENT_BYTES), 0usize..24],
        ) {
            let drive = |chunks: &[&[u8]]| {
                let mut framer = NdjsonFramer::new(limit);
                let mut out = Vec::new();
                for chunk in chunks {
                    if let Err(error) = framer.feed(chunk, &mut out) {
                        return (out, Err(error));
                    }
                    assert!(framer.buffered_bytes() <= limit);
                }
                let end = framer.finish(&mut out);
                (out, end)
            };
            let whole = drive(&[&bytes]);
            prop_assert_eq!(drive(&split(&bytes, &cuts)), whole);
        }
    }
}
