//! `Outcome`: what a [`ScriptedProvider`](crate::ScriptedProvider) does on one call.

use std::time::Duration;

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ChatResponse, StreamEvent, ToolCall};

/// What one call to a [`ScriptedProvider`](crate::ScriptedProvider) does.
///
/// The same outcome serves both `chat` (the answer whole, or the error) and `chat_stream`
/// (the answer as events, or the error before or inside the stream). Streamed text is split
/// into one `TextDelta` per word, each word with the whitespace before it, so
/// `"Hello brave world"` streams as `"Hello"`, `" brave"`, `" world"`.
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::ErrorKind;
/// use steadfast_providers_mock::{Outcome, StreamEnd};
///
/// let script = vec![
///     Outcome::Error(ErrorKind::RateLimited),                       // refused before the stream
///     Outcome::delay(Duration::from_secs(2), Outcome::text("late")), // slow to answer
///     Outcome::Stream { chunks: vec!["t0".into(), " t1".into()], then: StreamEnd::Cut },
///     Outcome::ContinueFrom("t0 t1 t2 t3".into()),                  // resumes after the prefix
/// ];
/// # let _ = script;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Outcome {
    /// Answers with this text (finish reason `stop`); streamed as one chunk per word.
    Text(String),
    /// Answers with these tool calls (finish reason `tool_calls`); each call streams as two
    /// fragments, the first with its id, name and half of the arguments, the second with
    /// the rest.
    ToolCalls(Vec<ToolCall>),
    /// Answers with exactly this response: text, reasoning, refusal, tool calls, finish
    /// reason, and usage (computed as for [`Outcome::Text`] when `None`).
    Response(ChatResponse),
    /// Fails with a scripted error of this kind, before the stream starts. The error carries
    /// the provider id, the model, and the status a provider would send for the kind (429 for
    /// `rate_limited`, 529 for `overloaded`, …).
    Error(ErrorKind),
    /// Fails with exactly this error, before the stream starts.
    ProviderError(ProviderError),
    /// Waits (a tokio sleep, so a paused clock skips it) and then does the inner outcome. In
    /// `chat_stream` the wait happens before the stream is returned, like waiting for
    /// response headers; the request timeout covers it, the stream timeouts do not.
    Delay(Duration, Box<Outcome>),
    /// Waits `every` before each streamed event of the inner outcome (a slow but live
    /// stream); in `chat` the waits add up before the answer is returned.
    Paced {
        /// The wait before each event.
        every: Duration,
        /// What is streamed.
        then: Box<Outcome>,
    },
    /// Streams these text chunks as they are, then ends as `then` says.
    Stream {
        /// The text chunks, in order.
        chunks: Vec<String>,
        /// How the stream ends after them.
        then: StreamEnd,
    },
    /// Streams these events verbatim (nothing is added, not even `Start` or `Done`), then
    /// ends as `then` says; [`StreamEnd::Complete`] adds nothing either.
    Events {
        /// The events, in order.
        events: Vec<StreamEvent>,
        /// How the stream ends after them.
        then: StreamEnd,
    },
    /// Continues `answer` after the assistant prefix the request ends with (the partial
    /// answer a [`continuation`](steadfast_providers_core::ChatProvider::continuation) sent
    /// back): streams the rest of it. A request without an assistant prefix, or with one
    /// that `answer` does not start with, gets the whole `answer`.
    ContinueFrom(String),
    /// As [`Outcome::ContinueFrom`], but the stream is cut (`stream_interrupted`) after
    /// `after` chunks of the rest; it completes when fewer remain. Scripting this repeatedly
    /// makes a provider that drops every stream part way yet always makes progress.
    ContinueCut {
        /// The whole answer.
        answer: String,
        /// Chunks delivered before each cut.
        after: usize,
    },
}

impl Outcome {
    /// [`Outcome::Text`].
    pub fn text(text: impl Into<String>) -> Outcome {
        Outcome::Text(text.into())
    }

    /// [`Outcome::Delay`]: waits `delay`, then does `then`.
    pub fn delay(delay: Duration, then: Outcome) -> Outcome {
        Outcome::Delay(delay, Box::new(then))
    }

    /// [`Outcome::Paced`]: streams `then` with a wait of `every` before each event.
    pub fn paced(every: Duration, then: Outcome) -> Outcome {
        Outcome::Paced {
            every,
            then: Box::new(then),
        }
    }

    /// A stream of `chunks` cut (`stream_interrupted`) after the last of them.
    pub fn cut<I, S>(chunks: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Outcome::Stream {
            chunks: chunks.into_iter().map(Into::into).collect(),
            then: StreamEnd::Cut,
        }
    }

    /// A stream of `chunks` that then never yields again (for idle and first-byte timeouts;
    /// no chunks at all stalls before the first event).
    pub fn stall<I, S>(chunks: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Outcome::Stream {
            chunks: chunks.into_iter().map(Into::into).collect(),
            then: StreamEnd::Stall,
        }
    }

    /// One tool call, answered with finish reason `tool_calls`.
    pub fn tool_call(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Outcome {
        Outcome::ToolCalls(vec![ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }])
    }

    /// [`Outcome::ContinueFrom`].
    pub fn continue_from(answer: impl Into<String>) -> Outcome {
        Outcome::ContinueFrom(answer.into())
    }

    /// [`Outcome::ContinueCut`].
    pub fn continue_cut(answer: impl Into<String>, after: usize) -> Outcome {
        Outcome::ContinueCut {
            answer: answer.into(),
            after,
        }
    }
}

impl From<ErrorKind> for Outcome {
    fn from(kind: ErrorKind) -> Outcome {
        Outcome::Error(kind)
    }
}

impl From<ProviderError> for Outcome {
    fn from(err: ProviderError) -> Outcome {
        Outcome::ProviderError(err)
    }
}

impl From<&str> for Outcome {
    fn from(text: &str) -> Outcome {
        Outcome::Text(text.to_owned())
    }
}

/// How a scripted stream ends after its chunks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StreamEnd {
    /// Properly: usage, finish reason `stop`, `Done`.
    Complete,
    /// Without its terminator: a `stream_interrupted` error after the chunks, as a dropped
    /// connection gives.
    Cut,
    /// Never: the stream stays open and yields nothing more (for idle and first-byte
    /// timeouts).
    Stall,
    /// With an in-band error of this kind after the chunks (like Anthropic's `event: error`
    /// `overloaded_error` inside an HTTP 200 stream).
    Error(ErrorKind),
    /// With exactly this in-band error after the chunks.
    ProviderError(ProviderError),
}
