//! One decoder per wire format: bytes in, [`StreamEvent`]s (or a classified error) out.
//!
//! Every decoder is push-based and synchronous — `feed` any chunk, `finish` at end of input —
//! so the same code serves the async [`DecodedStream`](crate::DecodedStream), the
//! conformance runner (which delivers bodies whole, byte by byte and in random splits) and
//! benchmarks. A decoder yields at most one error and nothing after it: an in-band error
//! event, a protocol violation, an oversized event, or — at `finish` — the missing
//! terminator (`stream_interrupted`). Everything decoded before the error is still yielded.
//! An answer that opens more than [`MAX_TOOL_CALLS`] tool calls (distinct indices) is
//! refused with a `protocol` error at the first call past the limit.

mod anthropic;
mod gemini;
mod gemini_scan;
mod ollama;
mod openai;
pub(crate) mod typed;

#[cfg(test)]
pub(crate) mod agree_tests;

pub(crate) use anthropic::WireUsage as AnthropicUsage;
pub(crate) use anthropic::merge_usage as merge_anthropic_usage;
pub(crate) use gemini::usage_of as gemini_usage;
pub(crate) use ollama::{tool_call as ollama_tool_call, usage_of as ollama_usage};
pub(crate) use openai::WireUsage;

use steadfast_errors::{ErrorKind, Provider, ProviderError};
use steadfast_providers_core::StreamEvent;

use crate::ndjson::NdjsonFramer;
use crate::sse::{Frame, FrameError, SseFramer, Trailing};
use crate::state::{MAX_TOOL_CALLS, too_many_tool_calls};

/// One decoded item: an event, or the error that ends the stream.
pub type Item = Result<StreamEvent, ProviderError>;

/// The wire formats steadfast decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireFormat {
    /// OpenAI chat completions SSE (`data: {chunk}` … `data: [DONE]`), shared by OpenRouter,
    /// xAI, DeepSeek, llama.cpp server, Ollama `/v1` and Pollinations.
    OpenAiChat,
    /// Anthropic Messages SSE (`event: message_start` … `message_stop`).
    AnthropicMessages,
    /// Ollama's native NDJSON (`{"message":…,"done":false}` … `{"done":true,…}`).
    OllamaNdjson,
    /// Gemini `streamGenerateContent?alt=sse` (no `[DONE]`; the last chunk has a
    /// `finishReason`).
    Gemini,
}

impl WireFormat {
    /// The format a provider streams in by default.
    pub fn for_provider(provider: Provider) -> WireFormat {
        match provider {
            Provider::Anthropic => WireFormat::AnthropicMessages,
            Provider::Ollama => WireFormat::OllamaNdjson,
            Provider::Gemini => WireFormat::Gemini,
            _ => WireFormat::OpenAiChat,
        }
    }

    /// A fresh decoder for this format; errors are classified with `provider`'s table.
    pub fn decoder(self, provider: Provider) -> Decoder {
        self.decoder_with_limit(provider, crate::sse::DEFAULT_MAX_EVENT_BYTES)
    }

    /// As [`decoder`](Self::decoder), with a maximum event (or line) size in bytes.
    pub fn decoder_with_limit(self, provider: Provider, max_event_bytes: usize) -> Decoder {
        let inner = match self {
            WireFormat::OpenAiChat => Inner::Sse(
                SseFramer::new(max_event_bytes),
                SseHandler::OpenAi(openai::OpenAiChat::default()),
            ),
            WireFormat::AnthropicMessages => Inner::Sse(
                SseFramer::new(max_event_bytes),
                SseHandler::Anthropic(anthropic::AnthropicMessages::default()),
            ),
            WireFormat::Gemini => Inner::Sse(
                SseFramer::new(max_event_bytes),
                SseHandler::Gemini(gemini::GeminiStream::new(max_event_bytes)),
            ),
            WireFormat::OllamaNdjson => Inner::Ndjson(
                NdjsonFramer::new(max_event_bytes),
                ollama::OllamaNdjson::default(),
            ),
        };
        Decoder {
            provider,
            inner,
            ended: false,
            frames: Vec::new(),
            lines: Vec::new(),
            tool_indices: Vec::new(),
        }
    }
}

/// A push-based decoder for one stream. Create it with [`WireFormat::decoder`].
///
/// ```
/// use steadfast_errors::Provider;
/// use steadfast_providers_core::StreamEvent;
/// use steadfast_streaming::WireFormat;
///
/// let mut decoder = WireFormat::OpenAiChat.decoder(Provider::OpenAi);
/// let mut out = Vec::new();
/// decoder.feed(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\nda", &mut out);
/// decoder.feed(b"ta: [DONE]\n\n", &mut out);
/// decoder.finish(&mut out);
/// let events: Vec<StreamEvent> = out.into_iter().map(Result::unwrap).collect();
/// assert!(events.contains(&StreamEvent::TextDelta { text: "Hi".into() }));
/// assert_eq!(events.last(), Some(&StreamEvent::Done));
/// ```
#[derive(Debug)]
pub struct Decoder {
    provider: Provider,
    inner: Inner,
    ended: bool,
    frames: Vec<Frame>,
    lines: Vec<String>,
    /// The distinct tool-call indices seen, at most [`MAX_TOOL_CALLS`].
    tool_indices: Vec<u32>,
}

#[derive(Debug)]
enum Inner {
    Sse(SseFramer, SseHandler),
    Ndjson(NdjsonFramer, ollama::OllamaNdjson),
}

#[derive(Debug)]
enum SseHandler {
    OpenAi(openai::OpenAiChat),
    Anthropic(anthropic::AnthropicMessages),
    Gemini(gemini::GeminiStream),
}

/// What a format handler reports after each frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// An error was pushed: nothing more is decoded.
    Stop,
}

impl Decoder {
    /// Decodes the next chunk of the body, appending what it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Item>) {
        if self.ended {
            return;
        }
        let provider = self.provider;
        let result = match &mut self.inner {
            Inner::Sse(framer, _) => framer.feed(chunk, &mut self.frames),
            Inner::Ndjson(framer, _) => framer.feed(chunk, &mut self.lines),
        };
        let start = out.len();
        self.drain(out);
        self.limit_tool_calls(start, out);
        if let Err(e) = result {
            self.fail(too_large(provider, &e), out);
        }
    }

    /// Ends the input: yields what remains, then `Done` — or `stream_interrupted` when the
    /// format's terminator never arrived.
    pub fn finish(&mut self, out: &mut Vec<Item>) {
        if self.ended {
            return;
        }
        let provider = self.provider;
        let result = match &mut self.inner {
            Inner::Sse(framer, _) => framer.finish(&mut self.frames).map(Some),
            Inner::Ndjson(framer, _) => framer.finish(&mut self.lines).map(|()| None),
        };
        // A final NDJSON line without its newline that is not JSON was cut by the connection,
        // not malformed by the provider.
        let mut cut_inside_line = false;
        if let Inner::Ndjson(..) = self.inner
            && let Some(last) = self.lines.last()
            && serde_json::from_str::<serde::de::IgnoredAny>(last).is_err()
        {
            self.lines.pop();
            cut_inside_line = true;
        }
        let start = out.len();
        self.drain(out);
        self.limit_tool_calls(start, out);
        if self.ended {
            return;
        }
        if let Err(e) = result {
            self.fail(too_large(provider, &e), out);
            return;
        }
        let complete = match &mut self.inner {
            Inner::Sse(_, SseHandler::OpenAi(h)) => h.done,
            Inner::Sse(_, SseHandler::Anthropic(h)) => h.done,
            Inner::Sse(_, SseHandler::Gemini(h)) => {
                if h.finish(provider, out) == Flow::Stop {
                    self.ended = true;
                    return;
                }
                h.finished
            }
            Inner::Ndjson(_, h) => h.done,
        };
        if complete {
            if matches!(self.inner, Inner::Sse(_, SseHandler::Gemini(_))) {
                out.push(Ok(StreamEvent::Done));
            }
        } else {
            let partial = cut_inside_line || matches!(result, Ok(Some(Trailing::PartialEvent)));
            let what = if partial {
                "the stream ended inside an event, before its terminator"
            } else {
                "the stream ended before its terminator"
            };
            self.fail(interrupted(provider, what), out);
        }
        self.ended = true;
    }

    /// Whether the decoder has yielded its last item.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    fn drain(&mut self, out: &mut Vec<Item>) {
        let provider = self.provider;
        match &mut self.inner {
            Inner::Sse(_, handler) => {
                for frame in self.frames.drain(..) {
                    if self.ended {
                        break;
                    }
                    let flow = match handler {
                        SseHandler::OpenAi(h) => h.frame(provider, frame, out),
                        SseHandler::Anthropic(h) => h.frame(provider, frame, out),
                        SseHandler::Gemini(h) => h.frame(provider, frame, out),
                    };
                    self.ended = flow == Flow::Stop;
                }
                self.frames.clear();
            }
            Inner::Ndjson(_, handler) => {
                for line in self.lines.drain(..) {
                    if self.ended {
                        break;
                    }
                    self.ended = handler.line(provider, &line, out) == Flow::Stop;
                }
                self.lines.clear();
            }
        }
    }

    /// Refuses the first tool-call delta in `out[start..]` that would open call number
    /// [`MAX_TOOL_CALLS`]` + 1`: it and everything after it are replaced by a `protocol` error.
    fn limit_tool_calls(&mut self, start: usize, out: &mut Vec<Item>) {
        let over = out[start..].iter().position(|item| match item {
            Ok(StreamEvent::ToolCallDelta(d)) => {
                if self.tool_indices.contains(&d.index) {
                    false
                } else if self.tool_indices.len() < MAX_TOOL_CALLS {
                    self.tool_indices.push(d.index);
                    false
                } else {
                    true
                }
            }
            _ => false,
        });
        if let Some(at) = over {
            out.truncate(start + at);
            self.ended = false;
            self.fail(too_many_tool_calls(self.provider.as_str()), out);
        }
    }

    fn fail(&mut self, err: ProviderError, out: &mut Vec<Item>) {
        if !self.ended {
            out.push(Err(err));
            self.ended = true;
        }
    }
}

fn too_large(provider: Provider, e: &FrameError) -> ProviderError {
    ProviderError::new(ErrorKind::Protocol, provider.as_str(), e.to_string())
        .with_first_byte_received(true)
}

/// The error for an answer that opens more than [`MAX_TOOL_CALLS`] tool calls.
pub(crate) fn interrupted(provider: Provider, what: &str) -> ProviderError {
    interrupted_named(provider.as_str().to_owned(), what)
}

pub(crate) fn interrupted_named(provider: String, what: &str) -> ProviderError {
    ProviderError::new(ErrorKind::StreamInterrupted, provider, what).with_first_byte_received(true)
}

/// A data payload that is not the JSON the format promises.
pub(crate) fn malformed(provider: Provider, e: &serde_json::Error, data: &str) -> ProviderError {
    let preview: String = data.chars().take(120).collect();
    ProviderError::new(
        ErrorKind::Protocol,
        provider.as_str(),
        format!("malformed stream event ({e}): {preview}"),
    )
    .with_first_byte_received(true)
}

/// Classifies an error object found in the stream, like the equivalent status response.
pub(crate) fn in_band(provider: Provider, value: &serde_json::Value) -> ProviderError {
    steadfast_errors::classify::in_band_value(provider, value).unwrap_or_else(|| {
        ProviderError::new(
            ErrorKind::Unknown,
            provider.as_str(),
            "the stream reported an error without details",
        )
        .with_first_byte_received(true)
    })
}

/// Pushes a text-like event only when it carries text.
pub(crate) fn push_text(out: &mut Vec<Item>, text: Option<&str>, make: fn(String) -> StreamEvent) {
    if let Some(t) = text
        && !t.is_empty()
    {
        out.push(Ok(make(t.to_owned())));
    }
}
