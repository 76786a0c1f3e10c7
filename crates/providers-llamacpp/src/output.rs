//! The binary's stdout as answer text: UTF-8 across reads, stop sequences, and the trailer.
//!
//! In completion mode the binary writes the generated text to stdout as it is sampled, and
//! then, also on stdout, ` [end of text]\n` when the model ended its answer (an end-of-
//! generation token) followed by `\n\n` in every case. Those trailers are not answer text:
//! a suffix that may be the start of one is held back until more text shows it is not, and
//! dropped at exit. The same hold-back finds stop sequences split across reads. Everything
//! else is emitted as soon as it is complete UTF-8.

use steadfast_providers_core::Usage;

/// What the binary prints when the model emitted an end-of-generation token.
pub(crate) const EOS_MARKER: &str = " [end of text]";
/// Everything after the answer when the model ended it.
const EOS_TRAILER: &str = " [end of text]\n\n\n";
/// Everything after the answer when generation stopped for another reason (a token limit).
const LIMIT_TRAILER: &str = "\n\n";

/// Bytes in, complete UTF-8 text out; a character split across reads waits for its end.
#[derive(Debug, Default)]
pub(crate) struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Decodes what `bytes` complete; invalid sequences become U+FFFD.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // An incomplete character at the end: wait for the rest.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// The end of input: an unfinished character becomes U+FFFD.
    pub(crate) fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

/// How the answer ended, as far as stdout tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// A stop sequence was found (the text is cut before it).
    Stop,
    /// The model emitted end-of-generation (` [end of text]`).
    Eos,
    /// The process exited without an end-of-generation marker (a token limit, or a binary
    /// that prints no marker).
    Exit,
}

/// Answer text from decoded stdout: holds back possible trailers and stop sequences.
#[derive(Debug)]
pub(crate) struct Output {
    utf8: Utf8Decoder,
    /// Text not yet emitted: always a suffix that may begin a guard.
    held: String,
    stops: Vec<String>,
    /// Stops and trailers: what a held suffix may be the start of.
    guards: Vec<String>,
    stopped: bool,
}

impl Output {
    /// An output that ends at the first of `stops` (empty strings are ignored).
    pub(crate) fn new(stops: Vec<String>) -> Output {
        let stops: Vec<String> = stops.into_iter().filter(|s| !s.is_empty()).collect();
        let mut guards = stops.clone();
        guards.push(EOS_TRAILER.to_owned());
        guards.push(LIMIT_TRAILER.to_owned());
        Output {
            utf8: Utf8Decoder::default(),
            held: String::new(),
            stops,
            guards,
            stopped: false,
        }
    }

    /// Feeds stdout bytes; returns the text that can be emitted now and whether a stop
    /// sequence ended the answer (nothing more is emitted after that).
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) -> (String, bool) {
        if self.stopped {
            return (String::new(), true);
        }
        let text = self.utf8.push(bytes);
        self.push_text(&text)
    }

    fn push_text(&mut self, text: &str) -> (String, bool) {
        self.held.push_str(text);
        if let Some(at) = self.first_stop() {
            let out = self.held[..at].to_owned();
            self.held.clear();
            self.stopped = true;
            return (out, true);
        }
        let keep = self.guarded_suffix_len();
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_owned();
        self.held.drain(..cut);
        (out, false)
    }

    /// The end of stdout: the remaining text, without the binary's trailer, and how the
    /// answer ended.
    pub(crate) fn finish(&mut self) -> (String, Ending) {
        if self.stopped {
            return (String::new(), Ending::Stop);
        }
        let rest = self.utf8.finish();
        let (mut out, stopped) = self.push_text(&rest);
        if stopped {
            return (out, Ending::Stop);
        }
        let held = std::mem::take(&mut self.held);
        let without_newlines = held.trim_end_matches('\n');
        if let Some(text) = without_newlines.strip_suffix(EOS_MARKER) {
            out.push_str(text);
            return (out, Ending::Eos);
        }
        out.push_str(held.strip_suffix(LIMIT_TRAILER).unwrap_or(&held));
        (out, Ending::Exit)
    }

    /// The byte offset of the earliest stop sequence in the held text.
    fn first_stop(&self) -> Option<usize> {
        self.stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
    }

    /// The length of the longest suffix of the held text that is a prefix of a guard.
    fn guarded_suffix_len(&self) -> usize {
        let held = self.held.as_str();
        held.char_indices()
            .map(|(i, _)| &held[i..])
            .find(|suffix| self.guards.iter().any(|g| g.starts_with(suffix)))
            .map_or(0, str::len)
    }
}

/// Token counts from the performance report the binary prints on stderr at exit:
/// `… prompt eval time = 12.34 ms / 26 tokens …` and `… eval time = 45.67 ms / 9 runs …`.
pub(crate) fn usage_from_stderr(stderr: &str) -> Option<Usage> {
    let mut input = None;
    let mut output = None;
    for line in stderr.lines() {
        if let Some(at) = line.find("prompt eval time") {
            input = count_after_slash(&line[at..]).or(input);
        } else if let Some(at) = line.find(" eval time") {
            output = count_after_slash(&line[at..]).or(output);
        }
    }
    (input.is_some() || output.is_some()).then(|| Usage {
        input_tokens: input.unwrap_or(0),
        output_tokens: output.unwrap_or(0),
        ..Usage::default()
    })
}

fn count_after_slash(s: &str) -> Option<u64> {
    let after = s.split_once('/')?.1.trim_start();
    let end = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    after[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(chunks: &[&[u8]], stops: &[&str]) -> (String, Ending) {
        let mut out = Output::new(stops.iter().map(|s| (*s).to_owned()).collect());
        let mut text = String::new();
        for chunk in chunks {
            let (t, stopped) = out.push_bytes(chunk);
            text.push_str(&t);
            if stopped {
                return (text, Ending::Stop);
            }
        }
        let (t, ending) = out.finish();
        text.push_str(&t);
        (text, ending)
    }

    #[test]
    fn the_eos_trailer_is_dropped_and_reported() {
        let (text, ending) = run(&[b"Hello", b", world! [end", b" of text]\n", b"\n\n"], &[]);
        assert_eq!((text.as_str(), ending), ("Hello, world!", Ending::Eos));
    }

    #[test]
    fn the_limit_trailer_is_dropped_but_real_newlines_are_kept() {
        assert_eq!(
            run(&[b"a\n\nb\n", b"\n\n"], &[]),
            ("a\n\nb\n".into(), Ending::Exit)
        );
        assert_eq!(run(&[b"plain"], &[]), ("plain".into(), Ending::Exit));
    }

    #[test]
    fn held_text_is_released_once_it_cannot_be_a_trailer() {
        let mut out = Output::new(vec![]);
        assert_eq!(out.push_bytes(b"one [end"), ("one".into(), false));
        assert_eq!(out.push_bytes(b"less]"), (" [endless]".into(), false));
        assert_eq!(out.push_bytes(b"\n"), (String::new(), false));
        assert_eq!(out.push_bytes(b"x"), ("\nx".into(), false));
    }

    #[test]
    fn a_stop_split_across_reads_cuts_the_answer() {
        let (text, ending) = run(&[b"Answer: 4\n\nUs", b"er: next question"], &["\nUser:"]);
        assert_eq!((text.as_str(), ending), ("Answer: 4\n", Ending::Stop));
    }

    #[test]
    fn utf8_split_inside_characters_is_joined_and_garbage_replaced() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(&[0xe4, 0xb8]), "");
        assert_eq!(d.push(&[0x96, 0xe7]), "世");
        assert_eq!(d.push(&[0x95, 0x8c, b'!']), "界!");
        assert_eq!(d.push(&[0xff, b'a']), "\u{FFFD}a");
        assert_eq!(d.push(&[0xf0, 0x9f]), "");
        assert_eq!(d.finish(), "\u{FFFD}");
    }

    #[test]
    fn usage_comes_from_the_perf_report() {
        let stderr = "llama_perf_sampler_print:    sampling time =       1.23 ms /    35 runs   (    0.04 ms per token, 28455.28 tokens per second)\n\
            llama_perf_context_print:        load time =     567.89 ms\n\
            llama_perf_context_print: prompt eval time =     123.45 ms /    26 tokens (    4.75 ms per token,   210.61 tokens per second)\n\
            llama_perf_context_print:        eval time =     456.78 ms /     9 runs   (   50.75 ms per token,    19.70 tokens per second)\n\
            llama_perf_context_print:       total time =     600.00 ms /    35 tokens\n";
        let usage = usage_from_stderr(stderr).unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (26, 9));
        assert_eq!(
            usage_from_stderr("load_tensors: offloaded 0/29 layers"),
            None
        );
    }

    proptest! {
        /// However stdout is split into reads, the answer, the stop and the ending are the same.
        #[test]
        fn splitting_never_changes_the_answer(
            answer in "[a-zé世\n ]{0,40}",
            tail in prop_oneof![Just(" [end of text]\n\n\n"), Just("\n\n"), Just("")],
            cuts in proptest::collection::vec(0usize..80, 0..8),
        ) {
            let whole = format!("{answer}{tail}");
            let bytes = whole.as_bytes();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points {
                chunks.push(&bytes[last..p]);
                last = p;
            }
            chunks.push(&bytes[last..]);
            let split = run(&chunks, &["STOP"]);
            let once = run(&[bytes], &["STOP"]);
            prop_assert_eq!(&split, &once);
            if tail == " [end of text]\n\n\n" {
                prop_assert_eq!(split, (answer, Ending::Eos));
            }
        }
    }
}
