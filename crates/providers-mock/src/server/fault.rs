//! `Fault`: what the [`FaultServer`](crate::FaultServer) does wrong with one request.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the [`FaultServer`](crate::FaultServer) does with one request.
///
/// Body faults count **content chunks**: the events that carry answer text (one per
/// `tokens_per_chunk` tokens), after the preamble every answer starts with (OpenAI's role
/// chunk; Anthropic's `message_start`, `content_block_start` and `ping`). So `CutAfter {
/// chunks: 3 }` delivers exactly the text `t0 t1 t2` in both formats. A non-streamed (JSON)
/// answer is written in pieces of 64 bytes, and the counts are in those pieces.
///
/// Faults are data: a scenario file can list them.
///
/// ```
/// use std::time::Duration;
/// use steadfast_providers_mock::Fault;
///
/// let faults: Vec<Fault> = serde_json::from_str(
///     r#"["none", {"status": {"status": 529}}, {"delay": "250ms"}, {"cut_after": {"chunks": 3}}]"#,
/// ).unwrap();
/// assert_eq!(faults[2], Fault::Delay(Duration::from_millis(250)));
/// assert_eq!(faults[3], Fault::CutAfter { chunks: 3 });
/// assert_eq!(Fault::rate_limited(Duration::from_secs(2)).retry_after_header(), Some("2"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// No fault: the whole answer, properly terminated, on a connection kept alive.
    #[default]
    None,
    /// An error response with this status, instead of the answer. `body` defaults to the
    /// provider's own error shape for the status and the request's format (OpenAI
    /// `{"error":{…}}`, Anthropic `{"type":"error",…}`); `headers` are added as they are
    /// (e.g. `retry-after`). The connection is kept alive.
    Status {
        /// The HTTP status (429, 503, 529, 500, 401, …).
        status: u16,
        /// The body; the dialect's usual error body for `status` when absent.
        #[serde(default)]
        body: Option<String>,
        /// Extra response headers.
        #[serde(default)]
        headers: Vec<(String, String)>,
    },
    /// The connection is closed after the request is read, before any response byte: a
    /// `network` error (connection reset) on the client.
    ResetBeforeResponse,
    /// Waits this long before the response headers, then answers normally.
    Delay(#[serde(with = "steadfast_errors::serde_duration")] Duration),
    /// Closes the connection mid-answer: after `chunks` content chunks, half of the next
    /// event is written and the connection closed, before the body's end (and never after
    /// the format's terminator). The client sees a `stream_interrupted` error (`network` if
    /// no complete event came first) with every earlier chunk delivered.
    CutAfter {
        /// Content chunks delivered before the cut.
        chunks: usize,
    },
    /// Ends the body cleanly (the HTTP body is complete) after `chunks` content chunks,
    /// without the format's terminator: the decoder reports `stream_interrupted`.
    EndAfter {
        /// Content chunks delivered before the end.
        chunks: usize,
    },
    /// After `after` content chunks, an event whose data is not JSON, then the body ends: a
    /// `protocol` error. A JSON answer is cut after `after` pieces and followed by an HTML
    /// error page.
    Malformed {
        /// Content chunks delivered before the malformed one.
        after: usize,
    },
    /// Drips the answer: waits `per_chunk` before every event after the preamble (every
    /// piece of a JSON body).
    SlowDrip {
        /// The wait before each chunk.
        #[serde(with = "steadfast_errors::serde_duration")]
        per_chunk: Duration,
    },
    /// After `after` content chunks, an error inside the HTTP 200 stream, then the body
    /// ends: Anthropic's `event: error` with `overloaded_error`, or for OpenAI-format
    /// requests OpenRouter's error chunk (`"error":{…"code":"server_is_overloaded"}` with
    /// `finish_reason: "error"`). Both classify as `overloaded`. A JSON answer is replaced
    /// by the error object in a 200.
    InBandError {
        /// Content chunks delivered before the error.
        after: usize,
    },
    /// After `after` content chunks the server says nothing more but keeps the connection
    /// open (until the client gives up or the server is dropped): for first-byte (`after:
    /// 0`) and idle timeouts.
    Stall {
        /// Content chunks delivered before the silence.
        after: usize,
    },
}

impl Fault {
    /// An error status with the dialect's usual body and no extra headers.
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    /// A 429 rate limit with a `retry-after` header (whole seconds, rounded up) and, when
    /// `after` is not whole seconds, a `retry-after-ms` header too (which clients prefer).
    pub fn rate_limited(after: Duration) -> Fault {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        let mut headers = vec![("retry-after".to_owned(), secs.to_string())];
        if after.subsec_nanos() > 0 {
            headers.push(("retry-after-ms".to_owned(), after.as_millis().to_string()));
        }
        Fault::Status {
            status: 429,
            body: None,
            headers,
        }
    }

    /// A 529 `overloaded_error` (Anthropic's overload status; OpenAI-format requests get
    /// OpenAI's overloaded body with it).
    pub fn overloaded() -> Fault {
        Fault::status(529)
    }

    /// A short name of the fault's kind (`"status"`, `"cut_after"`, …), as it is written in
    /// files; [`FaultServer::faults_fired`](crate::FaultServer::faults_fired) counts by it.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Status { .. } => "status",
            Fault::ResetBeforeResponse => "reset_before_response",
            Fault::Delay(_) => "delay",
            Fault::CutAfter { .. } => "cut_after",
            Fault::EndAfter { .. } => "end_after",
            Fault::Malformed { .. } => "malformed",
            Fault::SlowDrip { .. } => "slow_drip",
            Fault::InBandError { .. } => "in_band_error",
            Fault::Stall { .. } => "stall",
        }
    }

    /// The `retry-after` header this fault sends, if any.
    pub fn retry_after_header(&self) -> Option<&str> {
        match self {
            Fault::Status { headers, .. } => headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}
