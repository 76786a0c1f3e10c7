//! A hand-written reader for the common Gemini chunk, tried before the serde readings.
//!
//! Nearly every event of `streamGenerateContent?alt=sse` is one small object:
//! `candidates[0].content.parts[].text` (perhaps `thought: true`), perhaps a `finishReason`,
//! `usageMetadata`, `modelVersion`, `responseId`. Read through derived serde structs, each of
//! the five nested levels costs a visitor and a field-name match, which is most of the price
//! of a ~100-byte event. This module reads the same bytes directly: keys compared as bytes,
//! strings borrowed from the event unless they hold an escape (then unescaped into one
//! `String`), values it does not need skipped by a validating skipper.
//!
//! # Decline, never guess
//!
//! [`scan`] either gives exactly what the `serde_json::Value` reading (the reference) would
//! give, or declines: it returns `None` with `out` as it found it, and the typed and `Value`
//! readings run as before. It declines on anything it does not fully understand: a
//! `functionCall` part (its arguments are re-serialized), an `error`, a `promptFeedback` with
//! no candidate (a blocked prompt), an array of chunks, a known key seen twice or with an
//! escape in its name, a value of a type the readings treat as absent or reject (a float or
//! negative token count, a non-object candidate), nesting deeper than [`MAX_DEPTH`] in a
//! skipped value, a number that could overflow a float, and anything that is not JSON.
//! Because a skipped value is validated as strictly as `serde_json` reads it (control
//! characters and bad escapes in strings, lone surrogates, leading zeros, trailing commas,
//! trailing bytes), the scanner never takes an event the reference would call malformed.
//!
//! It never panics (every index is checked), never loops without consuming input, and
//! allocates at most an unescaped copy of the strings it keeps plus the events it pushes.

use std::borrow::Cow;

use memchr::memchr2;
use steadfast_providers_core::{StreamEvent, Usage};

use super::Item;
use super::gemini::usage_from;

/// How deep a skipped value may nest (below the chunk's own levels) before the scanner
/// declines; well inside `serde_json`'s recursion limit of 128.
pub(crate) const MAX_DEPTH: usize = 48;

/// Longest number token skipped; longer ones, and exponents of more than two digits (which
/// could overflow an `f64`, an error for `serde_json`), are declined.
const MAX_NUMBER: usize = 40;

/// What a scanned chunk holds besides its parts (already pushed as events).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Scanned<'a> {
    /// `responseId`, when a string.
    pub(crate) response_id: Option<Cow<'a, str>>,
    /// `modelVersion`, when a string.
    pub(crate) model_version: Option<Cow<'a, str>>,
    /// `usageMetadata` in neutral counts, when present (`null` counts as zeros).
    pub(crate) usage: Option<Usage>,
    /// The first candidate's `finishReason`, when a string.
    pub(crate) finish: Option<Cow<'a, str>>,
}

/// Reads one event's data (already trimmed). On success the parts' text and reasoning
/// deltas are pushed to `out` and the rest is returned; `None` leaves `out` unchanged.
pub(crate) fn scan<'a>(data: &'a str, out: &mut Vec<Item>) -> Option<Scanned<'a>> {
    let mark = out.len();
    let scanned = Reader::new(data).chunk(out);
    if scanned.is_none() {
        out.truncate(mark);
    }
    scanned
}

/// A cursor over the event's bytes.
struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Known keys of one object, each allowed once.
#[derive(Default)]
struct Seen(u8);

impl Seen {
    /// Marks key number `bit`; `None` when it was seen already.
    fn first(&mut self, bit: u8) -> Option<()> {
        let m = 1 << bit;
        if self.0 & m != 0 {
            return None;
        }
        self.0 |= m;
        Some(())
    }
}

impl<'a> Reader<'a> {
    fn new(s: &'a str) -> Reader<'a> {
        Reader {
            s,
            b: s.as_bytes(),
            i: 0,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// Consumes `c` after whitespace.
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? != c {
            return None;
        }
        self.i += 1;
        Some(())
    }

    /// Consumes `lit` when the input continues with it.
    fn literal(&mut self, lit: &[u8]) -> bool {
        let end = self.i.saturating_add(lit.len());
        if self.b.get(self.i..end) == Some(lit) {
            self.i = end;
            return true;
        }
        false
    }

    /// Consumes `null` when it is next; the caller has skipped whitespace.
    fn null(&mut self) -> bool {
        self.literal(b"null")
    }

    /// Walks an object, calling `member` with each key; `member` consumes the value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.eat(b'"')?;
            let key = self.key()?;
            self.eat(b':')?;
            self.ws();
            member(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Walks an array, calling `element` with each index; `element` consumes the value.
    fn array(&mut self, mut element: impl FnMut(&mut Self, usize) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        let mut n = 0;
        loop {
            self.ws();
            element(self, n)?;
            n += 1;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A key after its opening quote: bytes up to the closing one, with no escape.
    fn key(&mut self) -> Option<&'a [u8]> {
        let rest = self.b.get(self.i..)?;
        let n = memchr2(b'"', b'\\', rest)?;
        let key = rest.get(..n)?;
        if rest.get(n) != Some(&b'"') || key.iter().any(|&c| c < 0x20) {
            return None;
        }
        self.i += n + 1;
        Some(key)
    }

    /// A string value (the next byte is its opening quote), borrowed when it has no escape.
    /// With `keep` false it is only validated, and an escaped one comes back raw.
    fn string(&mut self, keep: bool) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let mut owned: Option<String> = None;
        loop {
            let rest = self.b.get(self.i..)?;
            let n = memchr2(b'"', b'\\', rest)?;
            if rest.get(..n)?.iter().any(|&c| c < 0x20) {
                return None;
            }
            // Both ends sit next to an ASCII byte, so on character boundaries.
            let run = self.s.get(self.i..self.i + n)?;
            let quote = rest.get(n) == Some(&b'"');
            self.i += n + 1;
            if quote {
                return Some(match owned {
                    Some(mut o) => {
                        o.push_str(run);
                        Cow::Owned(o)
                    }
                    None => Cow::Borrowed(self.s.get(start..self.i - 1)?),
                });
            }
            let c = self.escape()?;
            if keep {
                let o = owned.get_or_insert_with(|| String::with_capacity(run.len() + 8));
                o.push_str(run);
                o.push(c);
            }
        }
    }

    /// One escape after its backslash, as `serde_json` reads it; a lone surrogate declines.
    fn escape(&mut self) -> Option<char> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                match hi {
                    0xD800..=0xDBFF => {
                        if !self.literal(b"\\u") {
                            return None;
                        }
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return None;
                        }
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(hi)?,
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.i..self.i.saturating_add(4))?;
        let mut v = 0;
        for &d in digits {
            v = v * 16 + char::from(d).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    /// A string or `null` (`None`); any other value declines.
    fn opt_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'"' => self.string(true).map(Some),
            _ if self.null() => Some(None),
            _ => None,
        }
    }

    /// A token count: a non-negative integer that fits `u64`, or `null` (0, as both serde
    /// readings count it). Floats, negatives and larger integers decline.
    fn count(&mut self) -> Option<u64> {
        if self.peek()? != b'n' {
            let mut v: u64 = 0;
            let start = self.i;
            while let Some(&d @ b'0'..=b'9') = self.b.get(self.i) {
                v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                self.i += 1;
            }
            let digits = self.i - start;
            let leading_zero = digits > 1 && self.b.get(start) == Some(&b'0');
            let more = matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E'));
            return (digits > 0 && !leading_zero && !more).then_some(v);
        }
        self.null().then_some(0)
    }

    /// A number of any shape, validated against JSON's grammar and skipped.
    fn number(&mut self) -> Option<()> {
        let start = self.i;
        self.literal(b"-");
        let int = self.digits();
        if int == 0 || (int > 1 && self.b.get(self.i - int) == Some(&b'0')) {
            return None;
        }
        if self.literal(b".") && self.digits() == 0 {
            return None;
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            // At most 99: with the length limit, no number overflows an `f64`.
            if !(1..=2).contains(&self.digits()) {
                return None;
            }
        }
        (self.i - start <= MAX_NUMBER).then_some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    /// Any value, validated and skipped; `depth` is how many skipped levels enclose it.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string(false).map(drop),
            b'{' => self.object(|r, _| r.skip(depth + 1)),
            b'[' => self.array(|r, _| r.skip(depth + 1)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => (self.literal(b"true") || self.literal(b"false") || self.null()).then_some(()),
        }
    }

    /// The whole event: one chunk object and nothing after it.
    fn chunk(&mut self, out: &mut Vec<Item>) -> Option<Scanned<'a>> {
        let mut v = Scanned::default();
        let mut seen = Seen::default();
        let mut candidate = false;
        let mut feedback = false;
        self.object(|r, key| match key {
            b"candidates" => {
                seen.first(0)?;
                if r.peek()? == b'n' {
                    return r.null().then_some(());
                }
                r.array(|r, n| {
                    if n > 0 {
                        return r.skip(0);
                    }
                    candidate = true;
                    r.candidate(out, &mut v.finish)
                })
            }
            b"usageMetadata" => {
                seen.first(1)?;
                v.usage = Some(r.usage()?);
                Some(())
            }
            b"responseId" => {
                seen.first(2)?;
                v.response_id = r.opt_string()?;
                Some(())
            }
            b"modelVersion" => {
                seen.first(3)?;
                v.model_version = r.opt_string()?;
                Some(())
            }
            b"promptFeedback" => {
                seen.first(4)?;
                feedback = true;
                r.skip(0)
            }
            b"error" => None,
            _ => r.skip(0),
        })?;
        self.ws();
        if self.i != self.b.len() || (feedback && !candidate) {
            return None;
        }
        Some(v)
    }

    /// The first candidate: its parts pushed, its finish reason kept.
    fn candidate(&mut self, out: &mut Vec<Item>, finish: &mut Option<Cow<'a, str>>) -> Option<()> {
        let mut seen = Seen::default();
        self.object(|r, key| match key {
            b"content" => {
                seen.first(0)?;
                if r.peek()? == b'n' {
                    return r.null().then_some(());
                }
                r.content(out)
            }
            b"finishReason" => {
                seen.first(1)?;
                *finish = r.opt_string()?;
                Some(())
            }
            _ => r.skip(0),
        })
    }

    fn content(&mut self, out: &mut Vec<Item>) -> Option<()> {
        let mut seen = Seen::default();
        self.object(|r, key| match key {
            b"parts" => {
                seen.first(0)?;
                if r.peek()? == b'n' {
                    return r.null().then_some(());
                }
                r.array(|r, _| r.part(out))
            }
            _ => r.skip(0),
        })
    }

    /// One part: its text pushed as a text or reasoning delta when not empty.
    fn part(&mut self, out: &mut Vec<Item>) -> Option<()> {
        let mut seen = Seen::default();
        let mut text = None;
        let mut thought = false;
        self.object(|r, key| match key {
            b"text" => {
                seen.first(0)?;
                text = r.opt_string()?;
                Some(())
            }
            b"thought" => {
                seen.first(1)?;
                thought = if r.literal(b"true") {
                    true
                } else if r.literal(b"false") || r.null() {
                    false
                } else {
                    return None;
                };
                Some(())
            }
            b"functionCall" => None,
            _ => r.skip(0),
        })?;
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            let text = text.into_owned();
            out.push(Ok(if thought {
                StreamEvent::ReasoningDelta { text }
            } else {
                StreamEvent::TextDelta { text }
            }));
        }
        Some(())
    }

    /// `usageMetadata`: an object of counts, or `null` (all zeros).
    fn usage(&mut self) -> Option<Usage> {
        if self.peek()? == b'n' {
            return self.null().then(|| usage_from(0, 0, 0, 0));
        }
        let mut seen = Seen::default();
        let (mut prompt, mut candidates, mut thoughts, mut cached) = (0, 0, 0, 0);
        self.object(|r, key| {
            let (bit, slot) = match key {
                b"promptTokenCount" => (0, &mut prompt),
                b"candidatesTokenCount" => (1, &mut candidates),
                b"thoughtsTokenCount" => (2, &mut thoughts),
                b"cachedContentTokenCount" => (3, &mut cached),
                _ => return r.skip(0),
            };
            seen.first(bit)?;
            *slot = r.count()?;
            Some(())
        })?;
        Some(usage_from(prompt, candidates, thoughts, cached))
    }
}

#[cfg(test)]
#[path = "gemini_scan_tests.rs"]
mod tests;
