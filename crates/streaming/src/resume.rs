//! `ResumableStream`: keeps an answer going across dropped connections, every character once.
//!
//! # The guarantee
//!
//! No provider's claim to continue exactly is trusted blindly. Whatever a continuation the
//! [`Reopen`] opens does with the text already delivered, the consumer receives every
//! character of answer text (and, separately, of reasoning) **once**, and every tool call
//! **whole, once**. Case by case, for a continuation that:
//!
//! - **(a) continues exactly** after what was delivered (a prefill honoured, as Anthropic
//!   does): its text is delivered as it comes. Outcome [`ResumeOutcome::Exact`].
//! - **(b) echoes the whole delivered text first** (llama.cpp's server repeats a prefilled
//!   assistant message at the start of its answer) or **(c) restarts from the beginning**
//!   and says the same again: the repeat is recognised at *any* length — it is compared
//!   incrementally against the delivered text as deltas arrive, holding back only a count of
//!   matched bytes — and dropped; the text after it is delivered. Outcome
//!   [`ResumeOutcome::Echoed`]. This does not depend on `overlap_window`.
//! - **(d) repeats the last bytes** of the delivered text, at least `min_overlap` (default
//!   8) and at most `overlap_window` (default 1024): the longest such repeat is dropped.
//!   Outcome [`ResumeOutcome::Overlapped`]. `overlap_window: 0` turns only this case off.
//! - **(e) restarts and then says something different**: it repeats at least `min_overlap`
//!   bytes of the delivered start and then diverges. The repeated start is dropped and the
//!   different text is delivered after what was already delivered (which cannot be taken
//!   back): every character once, but the answer joins two attempts. Outcome
//!   [`ResumeOutcome::Diverged`], and [`ResumableStream::continuation_exact`] turns false,
//!   so a caller can discard or flag the answer.
//!
//! Held text is released as soon as the case is decided: at the first delta that can only
//! be (a), at the end of an echo, or when the continuation ends or sends other content. A
//! continuation cut while its case is still open has its held text dropped, not delivered:
//! the next continuation starts again from what was delivered, so nothing is lost. The
//! seam holds at most `overlap_window` bytes plus one delta while a tail repeat is possible,
//! and only a count while the continuation repeats the delivered start.
//!
//! The limits, plainly, since text alone cannot always tell the cases apart:
//! - a continuation whose genuinely new text begins with `min_overlap`+ bytes equal to the
//!   delivered text's start or end is taken for (e) or (d) and loses those bytes (shorter
//!   coincidences are common — a cut inside `w11` leaves `w1`, and the true continuation
//!   starts with `1` — and are kept);
//! - a repeat of fewer than `min_overlap` bytes of the tail, or of more than
//!   `overlap_window` bytes that is not the whole delivered text, is delivered again;
//! - a continuation that writes a different answer from its very first bytes (no repeated
//!   start) cannot be told from (a): it is delivered as [`ResumeOutcome::Exact`];
//! - a continuation that stops (or turns to a tool call) while still repeating the
//!   delivered start, after at least `min_overlap` bytes, is taken for a repeat and dropped.
//!
//! How:
//! - After an interruption (`stream_interrupted`, `timeout`, `network`, or any retryable
//!   in-band error such as `overloaded`), the stream waits a backoff and asks the [`Reopen`]
//!   for a continuation, giving it a snapshot of everything delivered ([`StreamState`]). It
//!   may reopen on the same provider or on a replacement.
//! - Tool calls are held back until complete (the next call starts, or the answer finishes)
//!   and then delivered as one [`ToolCallDelta`] carrying the whole arguments. A cut inside a
//!   tool call therefore discards the partial call, and the continuation must produce it
//!   again whole. A cut *after* a tool call was delivered is not resumed (the continuation
//!   could not avoid repeating it): the stream ends with an explicit `stream_interrupted`
//!   error, never silently.
//! - Usage is added up over every attempt, since every attempt is billed. An attempt cut
//!   before it reported its output tokens (providers report them at the end; Anthropic's
//!   early `message_start` count is not final) is billed by an **estimate**: one output
//!   token per 4 characters it delivered (text, reasoning, refusal, tool-call arguments),
//!   rounded up, or what it reported if that is more. A report that arrived after the
//!   attempt's last content is taken as it is, unless it counts no output tokens (Gemini's
//!   per-chunk `usageMetadata` before the last chunk has none). When an estimate is added the new sum is
//!   delivered with the next usage event (or, if none comes, as one before the stream ends),
//!   and [`ResumableStream::usage_estimated`] turns true. Sums saturate at `u64::MAX`.
//! - When resumes are exhausted, or the error cannot be resumed (`invalid_request`,
//!   `content_filter`, …), the stream ends with that error: an explicitly incomplete answer.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{StreamEvent, ToolCallDelta, Usage};
use steadfast_retry::{Backoff, Jitter};
use tokio::time::Sleep;

use crate::decode::Item;
use crate::state::{MAX_TOOL_CALLS, StreamState};

mod seam;

pub use seam::ResumeOutcome;
use seam::Seam;

/// A boxed stream of decoded items, as a continuation returns it.
pub type EventStream = Pin<Box<dyn Stream<Item = Item> + Send>>;

/// A boxed future that opens a continuation.
pub type ReopenFuture = Pin<Box<dyn Future<Output = Result<EventStream, ProviderError>> + Send>>;

/// Opens a continuation of an interrupted answer; implemented by the provider layer.
///
/// `delivered` is everything the consumer has received (text, reasoning, tool calls, usage);
/// `attempt` is 1 for the first resume. A typical implementation resends the request with
/// `delivered.text()` as an assistant prefix and asks the model to continue.
pub trait Reopen: Send + Sync {
    /// Opens the continuation.
    fn reopen(&self, delivered: StreamState, attempt: u32) -> ReopenFuture;
}

/// A [`Reopen`] from a closure.
///
/// ```
/// use steadfast_errors::ProviderError;
/// use steadfast_streaming::{EventStream, ReopenFn, StreamState};
///
/// let reopen = ReopenFn(|delivered: StreamState, _attempt: u32| async move {
///     // Send the request again with `delivered.text()` as the assistant prefix…
///     let _prefix = delivered.text().to_owned();
///     let continuation: EventStream = Box::pin(futures_util::stream::empty());
///     Ok::<_, ProviderError>(continuation)
/// });
/// # let _ = reopen;
/// ```
#[derive(Debug, Clone)]
pub struct ReopenFn<F>(pub F);

impl<F, Fut> Reopen for ReopenFn<F>
where
    F: Fn(StreamState, u32) -> Fut + Send + Sync,
    Fut: Future<Output = Result<EventStream, ProviderError>> + Send + 'static,
{
    fn reopen(&self, delivered: StreamState, attempt: u32) -> ReopenFuture {
        Box::pin((self.0)(delivered, attempt))
    }
}

/// How a [`ResumableStream`] resumes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResumeConfig {
    /// Continuations opened at most. Default 3.
    pub max_resumes: u32,
    /// The wait before each reopen. Default 250 ms doubling to 4 s, full jitter.
    pub backoff: Backoff,
    /// The longest repeated tail a continuation may start with, in bytes; 0 turns tail
    /// detection off. Echoes and restarts of the whole delivered text are recognised
    /// whatever this is. Default 1024.
    pub overlap_window: usize,
    /// The shortest repeat (of the tail, or of the start before a restart diverges) that is
    /// taken for one, in bytes. Default 8.
    pub min_overlap: usize,
}

impl Default for ResumeConfig {
    fn default() -> Self {
        ResumeConfig {
            max_resumes: 3,
            backoff: Backoff {
                initial: Duration::from_millis(250),
                multiplier: 2.0,
                max: Duration::from_secs(4),
                jitter: Jitter::Full,
            },
            overlap_window: 1024,
            min_overlap: 8,
        }
    }
}

/// Whether an error ends an answer for good or may be resumed.
pub fn is_resumable(err: &ProviderError) -> bool {
    matches!(
        err.kind(),
        ErrorKind::StreamInterrupted | ErrorKind::Timeout | ErrorKind::Network
    ) || err.is_retryable()
}

enum Phase {
    Streaming(EventStream),
    Waiting(Pin<Box<Sleep>>),
    Opening(ReopenFuture),
    Ended,
}

/// An event stream that resumes after interruptions; see the [module docs](self) for the
/// guarantee and its limits.
pub struct ResumableStream {
    phase: Phase,
    reopen: Arc<dyn Reopen>,
    config: ResumeConfig,
    /// What the consumer has received.
    delivered: StreamState,
    out: std::collections::VecDeque<Item>,
    resumes: u32,
    rng: fastrand::Rng,
    previous_delay: Duration,
    /// Usage of finished attempts, and the latest report of the current one.
    usage_before: Usage,
    usage_now: Option<Usage>,
    text: Seam,
    reasoning: Seam,
    /// How each continuation's text joined the delivered text.
    outcomes: Vec<ResumeOutcome>,
    /// Whether every continuation's reasoning joined exactly.
    reasoning_exact: bool,
    /// Characters of content the current attempt delivered.
    attempt_chars: u64,
    /// Whether the current attempt's last usage report came after its last content.
    usage_covers: bool,
    /// Whether the summed usage holds an estimate for a killed part.
    usage_estimated: bool,
    /// Whether an estimate was added that no usage event has delivered yet.
    usage_unsent: bool,
    /// Tool calls of the current attempt, not yet delivered.
    held: BTreeMap<u32, ToolCallDelta>,
    tools_delivered: u32,
    started: bool,
    last_error: Option<ProviderError>,
}

impl std::fmt::Debug for ResumableStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumableStream")
            .field("config", &self.config)
            .field("resumes", &self.resumes)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl ResumableStream {
    /// Wraps the first attempt's stream; `reopen` opens continuations.
    pub fn new(first: EventStream, reopen: Arc<dyn Reopen>, config: ResumeConfig) -> Self {
        ResumableStream {
            phase: Phase::Streaming(first),
            reopen,
            config,
            delivered: StreamState::default(),
            out: std::collections::VecDeque::new(),
            resumes: 0,
            rng: fastrand::Rng::new(),
            previous_delay: Duration::ZERO,
            usage_before: Usage::default(),
            usage_now: None,
            text: Seam::open(),
            reasoning: Seam::open(),
            outcomes: Vec::new(),
            reasoning_exact: true,
            attempt_chars: 0,
            usage_covers: false,
            usage_estimated: false,
            usage_unsent: false,
            held: BTreeMap::new(),
            tools_delivered: 0,
            started: false,
            last_error: None,
        }
    }

    /// Everything delivered to the consumer so far.
    pub fn delivered(&self) -> &StreamState {
        &self.delivered
    }

    /// How many continuations were opened.
    pub fn resumes(&self) -> u32 {
        self.resumes
    }

    /// How each continuation's answer text joined what had been delivered, in order: one
    /// entry per continuation that sent text (a continuation cut before its first text has
    /// none).
    pub fn outcomes(&self) -> &[ResumeOutcome] {
        &self.outcomes
    }

    /// Whether the usage reported includes an estimate for an attempt that was cut before it
    /// reported its output tokens (see the [module docs](self)).
    pub fn usage_estimated(&self) -> bool {
        self.usage_estimated
    }

    /// Whether the delivered text (answer and reasoning) is one answer continued exactly:
    /// false once a continuation restarted and then wrote something different
    /// ([`ResumeOutcome::Diverged`]).
    pub fn continuation_exact(&self) -> bool {
        self.reasoning_exact && self.outcomes.iter().all(ResumeOutcome::is_exact)
    }

    fn emit(&mut self, event: StreamEvent) {
        let chars = match &event {
            StreamEvent::TextDelta { text }
            | StreamEvent::ReasoningDelta { text }
            | StreamEvent::RefusalDelta { text } => text.chars().count(),
            StreamEvent::ToolCallDelta(d) => d.arguments.chars().count(),
            _ => 0,
        };
        if chars > 0 {
            self.attempt_chars = self.attempt_chars.saturating_add(chars as u64);
            self.usage_covers = false;
        }
        self.delivered.apply(&event);
        self.out.push_back(Ok(event));
    }

    fn flush_text(&mut self) {
        if let Some(rest) = self.text.flush(self.delivered.text())
            && !rest.is_empty()
        {
            self.emit(StreamEvent::TextDelta { text: rest });
        }
        if let Some(rest) = self.reasoning.flush(self.delivered.reasoning())
            && !rest.is_empty()
        {
            self.emit(StreamEvent::ReasoningDelta { text: rest });
        }
        self.note_outcomes();
    }

    /// Records how a seam was decided, when one just was.
    fn note_outcomes(&mut self) {
        if let Some(outcome) = self.text.take_outcome() {
            self.outcomes.push(outcome);
        }
        if let Some(outcome) = self.reasoning.take_outcome() {
            self.reasoning_exact &= outcome.is_exact();
        }
    }

    fn release_tools(&mut self, below: Option<u32>) {
        let ready: Vec<u32> = self
            .held
            .keys()
            .copied()
            .filter(|i| below.is_none_or(|b| *i < b))
            .collect();
        for i in ready {
            if let Some(mut call) = self.held.remove(&i) {
                call.index = self.tools_delivered;
                self.tools_delivered += 1;
                self.emit(StreamEvent::ToolCallDelta(call));
            }
        }
    }

    fn on_event(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Start { .. } if self.started => {}
            StreamEvent::Start { .. } => {
                self.started = true;
                self.emit(event);
            }
            StreamEvent::TextDelta { text } => {
                let joined = self.text.push(self.delivered.text(), &text);
                self.note_outcomes();
                if let Some(t) = joined
                    && !t.is_empty()
                {
                    self.emit(StreamEvent::TextDelta { text: t });
                }
            }
            StreamEvent::ReasoningDelta { text } => {
                let joined = self.reasoning.push(self.delivered.reasoning(), &text);
                self.note_outcomes();
                if let Some(t) = joined
                    && !t.is_empty()
                {
                    self.emit(StreamEvent::ReasoningDelta { text: t });
                }
            }
            StreamEvent::ToolCallDelta(d) => {
                if !self.held.contains_key(&d.index)
                    && self.held.len() + self.tools_delivered as usize >= MAX_TOOL_CALLS
                {
                    // However the continuation was decoded, the answer's calls stay bounded.
                    self.end_with(crate::state::too_many_tool_calls("stream"));
                    return;
                }
                self.flush_text();
                // A new index means every earlier call is complete.
                self.release_tools(Some(d.index));
                let entry = self.held.entry(d.index).or_insert_with(|| ToolCallDelta {
                    index: d.index,
                    ..ToolCallDelta::default()
                });
                if entry.id.is_none() {
                    entry.id = d.id;
                }
                if entry.name.is_none() {
                    entry.name = d.name;
                }
                entry.arguments.push_str(&d.arguments);
            }
            StreamEvent::Usage(u) => {
                self.usage_now = Some(u);
                self.usage_covers = true;
                self.usage_unsent = false;
                let total = self.usage_before + u;
                self.emit(StreamEvent::Usage(total));
            }
            StreamEvent::Finish { .. } | StreamEvent::Done => {
                self.flush_text();
                self.release_tools(None);
                let done = matches!(event, StreamEvent::Done);
                if done {
                    self.send_unsent_usage();
                }
                self.emit(event);
                if done {
                    self.phase = Phase::Ended;
                }
            }
            // Keep-alives (an Anthropic `ping` comes before the first text) and usage carry no
            // content: they must not end overlap detection.
            StreamEvent::KeepAlive => self.emit(event),
            other => {
                self.flush_text();
                self.emit(other);
            }
        }
    }

    /// The current attempt failed with `err`: resume or end.
    fn on_error(&mut self, err: ProviderError) {
        let cut_after_tool = self.tools_delivered > 0;
        let ends = !is_resumable(&err) || self.resumes >= self.config.max_resumes || cut_after_tool;
        if ends {
            // Text held at the seam is all the answer will have: deliver it.
            self.flush_text();
        }
        // When the stream resumes, text still held at the seam (a continuation cut before it
        // was clear whether it repeats the delivered text) is dropped, not delivered: it was
        // never delivered, and the next continuation starts again from what was.
        self.bill_the_cut_attempt();
        if ends {
            let err = if cut_after_tool && is_resumable(&err) {
                ProviderError::new(
                    ErrorKind::StreamInterrupted,
                    err.provider().to_owned(),
                    format!(
                        "the stream was cut after a tool call was delivered; not resumed, so as not to repeat it: {}",
                        err.message()
                    ),
                )
                .with_first_byte_received(true)
                .with_source(err)
            } else {
                err
            };
            self.end_with(err);
            return;
        }
        // The partial tool call (if any) is discarded: the continuation produces it whole.
        self.held.clear();
        self.resumes += 1;
        let delay = self
            .config
            .backoff
            .delay(self.resumes - 1, self.previous_delay, &mut self.rng);
        self.previous_delay = delay;
        self.last_error = Some(err);
        self.phase = Phase::Waiting(Box::pin(tokio::time::sleep(delay)));
    }

    /// Adds the attempt that just failed to the summed usage: what it reported, or — when it
    /// delivered content after its last report, never reported, or reported no output
    /// tokens — at least an estimate of
    /// one output token per 4 characters it delivered, rounded up. A new sum is delivered as
    /// a usage event with the next report, or before the stream ends.
    fn bill_the_cut_attempt(&mut self) {
        let mut part = self.usage_now.take().unwrap_or_default();
        let estimate = self.attempt_chars.div_ceil(4);
        // A report of no output after content is no count of it (Gemini puts
        // `usageMetadata` without output tokens on every chunk before the last).
        let covered = self.usage_covers && part.output_tokens > 0;
        let estimated = !covered && estimate > part.output_tokens;
        if estimated {
            part.output_tokens = estimate;
            self.usage_estimated = true;
        }
        self.usage_before += part;
        self.attempt_chars = 0;
        self.usage_covers = false;
        self.usage_unsent |= estimated;
    }

    /// Delivers the summed usage before the stream ends, when an estimate was added that no
    /// later usage event carried.
    fn send_unsent_usage(&mut self) {
        if self.usage_unsent {
            let total = self.usage_before + self.usage_now.unwrap_or_default();
            self.emit(StreamEvent::Usage(total));
        }
    }

    /// Ends the stream with `err`, after whatever was already queued.
    fn end_with(&mut self, err: ProviderError) {
        self.held.clear();
        self.send_unsent_usage();
        self.delivered.apply_error(&err);
        self.out.push_back(Err(err));
        self.phase = Phase::Ended;
    }

    fn begin_continuation(&mut self, stream: EventStream) {
        let (window, min) = (self.config.overlap_window, self.config.min_overlap);
        self.text = Seam::new(window, min);
        self.reasoning = Seam::new(window, min);
        self.phase = Phase::Streaming(stream);
    }
}

impl Stream for ResumableStream {
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.out.pop_front() {
                return Poll::Ready(Some(item));
            }
            match &mut this.phase {
                Phase::Ended => return Poll::Ready(None),
                Phase::Streaming(s) => match s.as_mut().poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(ev))) => this.on_event(ev),
                    Poll::Ready(Some(Err(e))) => this.on_error(e),
                    Poll::Ready(None) => {
                        let provider = this
                            .last_error
                            .as_ref()
                            .map_or("stream", |e| e.provider())
                            .to_owned();
                        this.on_error(crate::decode::interrupted_named(
                            provider,
                            "the stream ended without its terminator",
                        ));
                    }
                },
                Phase::Waiting(sleep) => match sleep.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => {
                        let snapshot = this.delivered.clone();
                        this.phase = Phase::Opening(this.reopen.reopen(snapshot, this.resumes));
                    }
                },
                Phase::Opening(fut) => match fut.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(stream)) => this.begin_continuation(stream),
                    Poll::Ready(Err(e)) => this.on_error(e),
                },
            }
        }
    }
}
