//! The seam between delivered text and a continuation: recognising what the continuation
//! repeats (an echo or restart of the whole text, a repeated tail, a restart that diverges).

/// How one continuation's text joined what had been delivered before it.
///
/// Read them with [`ResumableStream::outcomes`](super::ResumableStream::outcomes); the
/// [module docs](super) say what each case guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeOutcome {
    /// The continuation went on right after the delivered text (or its start could not be
    /// told apart from that: see the module docs).
    Exact,
    /// The continuation first repeated the whole delivered text — a provider echoing the
    /// prefilled assistant message, or starting the answer over word for word — and that
    /// repeat was dropped.
    Echoed,
    /// The continuation first repeated the last `bytes` bytes of the delivered text, and
    /// they were dropped.
    Overlapped {
        /// Bytes dropped.
        bytes: usize,
    },
    /// The continuation started the answer over, repeated its first `bytes` bytes, then
    /// wrote something different. The repeated start was dropped and the different text
    /// delivered after what had been delivered: the answer joins two different attempts.
    Diverged {
        /// Bytes of the delivered start that were repeated and dropped.
        bytes: usize,
    },
}

impl ResumeOutcome {
    /// Whether the consumer's text is one answer continued exactly (every case but
    /// [`Diverged`](Self::Diverged)).
    pub fn is_exact(&self) -> bool {
        !matches!(self, ResumeOutcome::Diverged { .. })
    }
}

/// Holds a continuation's first characters until it is clear how they join the delivered
/// text. Memory: a count while the continuation repeats the delivered start, at most
/// `window` bytes (plus the last delta) while it may repeat the tail.
#[derive(Debug, Default)]
pub(super) struct Seam {
    active: bool,
    window: usize,
    min_overlap: usize,
    /// While the continuation so far equals the delivered text's first `m` bytes: `Some(m)`.
    restart: Option<usize>,
    /// The continuation so far, once it no longer repeats the delivered start (then shorter
    /// than the tail window, or it would have been decided).
    pending: String,
    /// Bytes of the delivered start the continuation repeated before it diverged.
    common: usize,
    decided: Option<ResumeOutcome>,
}

impl Seam {
    /// A seam that passes everything through (the first attempt).
    pub(super) fn open() -> Seam {
        Seam::default()
    }

    /// A seam for a new continuation: tail repeats up to `window` bytes of at least
    /// `min_overlap` are recognised, and an echo or restart of the whole text at any length.
    pub(super) fn new(window: usize, min_overlap: usize) -> Seam {
        Seam {
            active: true,
            window,
            min_overlap: min_overlap.max(1),
            restart: Some(0),
            pending: String::new(),
            common: 0,
            decided: None,
        }
    }

    /// How the seam was decided, once (then `None` again).
    pub(super) fn take_outcome(&mut self) -> Option<ResumeOutcome> {
        self.decided.take()
    }

    /// Feeds continuation text; returns what can be delivered now (`None`: held).
    pub(super) fn push(&mut self, delivered: &str, text: &str) -> Option<String> {
        if !self.active {
            return Some(text.to_owned());
        }
        if delivered.is_empty() {
            return Some(self.decide(ResumeOutcome::Exact, text.to_owned()));
        }
        let tail = tail(delivered, self.window);
        if let Some(m) = self.restart {
            let c = common_prefix(text, &delivered[m..]);
            if m + c == delivered.len() {
                // The whole delivered text came again: an echo, or a restart.
                return Some(self.decide(ResumeOutcome::Echoed, text[c..].to_owned()));
            }
            if c == text.len() {
                self.restart = Some(m + c);
                return None;
            }
            self.restart = None;
            self.common = m + c;
            if m + text.len() >= tail.len() {
                // Too long to be a tail repeat still open: decide without holding it.
                return Some(self.settle(delivered, tail, m, text));
            }
            self.pending.push_str(&delivered[..m]);
        }
        self.pending.push_str(text);
        if tail_may_grow(tail, &self.pending) {
            return None;
        }
        let held = std::mem::take(&mut self.pending);
        Some(self.settle(delivered, tail, 0, &held))
    }

    /// Decides with what has arrived (the continuation ended, or sent content of another
    /// kind). With nothing held there is nothing to decide: the seam stays open for the
    /// continuation's first text.
    pub(super) fn flush(&mut self, delivered: &str) -> Option<String> {
        if !self.active {
            return None;
        }
        match self.restart {
            Some(0) => None,
            // It stopped while still repeating the delivered start: a repeat, dropped when
            // it is long enough to tell.
            Some(m) if m >= self.min_overlap => {
                Some(self.decide(ResumeOutcome::Echoed, String::new()))
            }
            Some(m) => {
                self.common = 0;
                let tail = tail(delivered, self.window);
                Some(self.settle(delivered, tail, m, ""))
            }
            None if self.pending.is_empty() => None,
            None => {
                let tail = tail(delivered, self.window);
                let held = std::mem::take(&mut self.pending);
                Some(self.settle(delivered, tail, 0, &held))
            }
        }
    }

    /// Decides for the held text `delivered[..m] + rest`, which no longer repeats the
    /// delivered start (beyond `self.common` bytes) and can no longer grow into a longer
    /// tail repeat.
    fn settle(&mut self, delivered: &str, tail: &str, m: usize, rest: &str) -> String {
        let held_len = m + rest.len();
        // Only the first `tail.len()` bytes can be a tail repeat.
        let mut head = String::with_capacity(tail.len().min(held_len));
        let mut from_delivered = m.min(tail.len());
        while !delivered.is_char_boundary(from_delivered) {
            from_delivered -= 1;
        }
        head.push_str(&delivered[..from_delivered]);
        if head.len() == m {
            let mut take = rest.len().min(tail.len().saturating_sub(m));
            while !rest.is_char_boundary(take) {
                take -= 1;
            }
            head.push_str(&rest[..take]);
        }
        let whole = tail.len() == delivered.len();
        let overlap = (1..=head.len().min(tail.len()))
            .rev()
            .find(|&k| {
                (k >= self.min_overlap || (whole && k == tail.len()))
                    && head.is_char_boundary(k)
                    && tail.ends_with(&head[..k])
            })
            .unwrap_or(0);
        let common = if self.common >= self.min_overlap {
            self.common
        } else {
            0
        };
        let (drop, outcome) = if overlap == 0 && common == 0 {
            (0, ResumeOutcome::Exact)
        } else if overlap >= common {
            let outcome = if overlap == delivered.len() {
                ResumeOutcome::Echoed
            } else {
                ResumeOutcome::Overlapped { bytes: overlap }
            };
            (overlap, outcome)
        } else {
            (common, ResumeOutcome::Diverged { bytes: common })
        };
        // What is left of `delivered[..m] + rest` after `drop` bytes.
        let mut out = String::new();
        if drop < m {
            out.push_str(&delivered[drop..m]);
            out.push_str(rest);
        } else {
            out.push_str(&rest[drop - m..]);
        }
        self.decide(outcome, out)
    }

    fn decide(&mut self, outcome: ResumeOutcome, text: String) -> String {
        self.active = false;
        self.restart = None;
        self.pending = String::new();
        self.decided = Some(outcome);
        text
    }
}

/// Whether `held` occurs in `tail` with room after it: a longer tail repeat is still possible.
fn tail_may_grow(tail: &str, held: &str) -> bool {
    held.len() < tail.len()
        && tail
            .match_indices(held)
            .any(|(at, _)| at + held.len() < tail.len())
}

/// The length of the common prefix of `a` and `b`, at a char boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    let mut n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !a.is_char_boundary(n) {
        n -= 1;
    }
    n
}

/// The last `window` bytes of `s`, from a char boundary.
fn tail(s: &str, window: usize) -> &str {
    let mut start = s.len().saturating_sub(window);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(delivered: &str, pieces: &[&str], window: usize) -> (String, Option<ResumeOutcome>) {
        let mut seam = Seam::new(window, 8);
        let mut out = String::new();
        let mut outcome = None;
        for p in pieces {
            if let Some(t) = seam.push(delivered, p) {
                out.push_str(&t);
            }
            outcome = outcome.or(seam.take_outcome());
        }
        if let Some(t) = seam.flush(delivered) {
            out.push_str(&t);
        }
        (out, outcome.or(seam.take_outcome()))
    }

    #[test]
    fn each_kind_of_seam() {
        let d = "The quick brown fox jumps over the lazy dog";
        assert_eq!(
            run(d, &[" and", " runs."], 1024),
            (" and runs.".into(), Some(ResumeOutcome::Exact))
        );
        assert_eq!(
            run(
                d,
                &[
                    "The quick ",
                    "brown fox jumps over the lazy dog",
                    " and runs."
                ],
                0
            ),
            (" and runs.".into(), Some(ResumeOutcome::Echoed))
        );
        assert_eq!(
            run(d, &["the lazy", " dog and runs."], 1024),
            (
                " and runs.".into(),
                Some(ResumeOutcome::Overlapped { bytes: 12 })
            )
        );
        assert_eq!(
            run(d, &["The quick brown cat", " sleeps."], 1024),
            (
                "cat sleeps.".into(),
                Some(ResumeOutcome::Diverged { bytes: 16 })
            )
        );
        // A short coincidence with the start is kept.
        assert_eq!(
            run(d, &["The", "n it ran."], 1024),
            ("Then it ran.".into(), Some(ResumeOutcome::Exact))
        );
    }

    proptest::proptest! {
        /// Arbitrary text (multi-byte characters, repeats), any chunking, any window: no
        /// panic, only a start of the continuation is ever dropped, and a continuation that
        /// begins with the whole delivered text loses exactly that.
        #[test]
        fn the_seam_only_drops_a_start_of_the_continuation(
            delivered in "[ab✓é ]{0,40}",
            continuation in "[ab✓é ]{0,60}",
            echo in proptest::bool::ANY,
            sizes in proptest::collection::vec(1usize..9, 1..4),
            window in 0usize..50,
            min_overlap in 0usize..10,
        ) {
            let continuation = if echo { format!("{delivered}{continuation}") } else { continuation };
            let mut seam = Seam::new(window, min_overlap);
            let mut out = String::new();
            let mut rest = continuation.as_str();
            let mut i = 0;
            while !rest.is_empty() {
                let mut n = sizes[i % sizes.len()].min(rest.len());
                while !rest.is_char_boundary(n) {
                    n += 1;
                }
                if let Some(t) = seam.push(&delivered, &rest[..n]) {
                    out.push_str(&t);
                }
                rest = &rest[n..];
                i += 1;
            }
            if let Some(t) = seam.flush(&delivered) {
                out.push_str(&t);
            }
            proptest::prop_assert!(continuation.ends_with(&out), "{out:?}");
            if echo && !delivered.is_empty() {
                proptest::prop_assert_eq!(out.as_str(), &continuation[delivered.len()..]);
            }
        }
    }

    #[test]
    fn an_echo_longer_than_the_window_is_held_as_a_count() {
        let d = "x".repeat(10) + &"abcdefghij".repeat(300);
        let mut seam = Seam::new(1024, 8);
        let mut out = String::new();
        for chunk in d.as_bytes().chunks(7) {
            if let Some(t) = seam.push(&d, std::str::from_utf8(chunk).unwrap()) {
                out.push_str(&t);
            }
            assert!(seam.pending.is_empty(), "nothing stored while it echoes");
        }
        assert_eq!(out, "");
        assert_eq!(seam.take_outcome(), Some(ResumeOutcome::Echoed));
        assert_eq!(seam.push(&d, "NEW").as_deref(), Some("NEW"));
        assert_eq!(seam.push(&d, "more").as_deref(), Some("more"));
    }
}
