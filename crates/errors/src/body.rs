//! Reading the facts out of an error body, whatever shape the provider chose.
//!
//! One extractor serves every provider; the shapes it understands:
//! - `{"error":{"message","type","code","param"}}` — OpenAI and every compatible server;
//! - `{"type":"error","error":{"type","message"},"request_id"}` — Anthropic;
//! - `{"error":{"code":429,"message","status","details":[…]}}` — Gemini (RetryInfo,
//!   ErrorInfo, QuotaFailure read from `details`), also as a one-element array;
//! - `{"error":{"code":402,"message","metadata"}}` — OpenRouter, and its 200 responses with
//!   `choices[0].error`;
//! - `{"code":"<gRPC status text>","error":"<message>"}` — xAI;
//! - `{"error":"…"}` — Ollama; `{"error":"…","message":"…"}` — Pollinations' edge limiter;
//! - `{"status":429,"success":false,"error":{"code","message"}}` — Pollinations;
//! - `{"type":"error","code","message"}` — OpenAI Responses stream error events;
//! - `{"status":"FAILED","failure","failureCode"}` — a failed Runway task;
//! - `{"promptFeedback":{"blockReason"}}` without candidates — a blocked Gemini prompt;
//! - `{"detail":"…"}` / `{"message":"…"}` — generic frameworks;
//! - HTML pages from proxies (the `<title>` is kept), plain text, empty and truncated bodies.

use std::time::Duration;

use serde_json::{Map, Value};

/// The largest body that is parsed as JSON; a larger one is treated as opaque text.
pub(crate) const MAX_PARSED_BODY: usize = 1 << 20;

/// What an error body says, in provider-neutral terms.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ErrorBody {
    /// The provider's error code (numbers as decimal strings).
    pub(crate) code: Option<String>,
    /// The provider's error type, or Gemini's `status`.
    pub(crate) error_type: Option<String>,
    /// The human message.
    pub(crate) message: Option<String>,
    /// A numeric status carried inside the body (OpenRouter/Gemini/llama.cpp `code`,
    /// Pollinations `status`), used when the HTTP status says nothing (200 or in-band).
    pub(crate) status: Option<u16>,
    /// Extra identifiers rules may match: Gemini ErrorInfo reasons and quota ids,
    /// OpenRouter moderation markers, upstream raw messages.
    pub(crate) details: Vec<String>,
    /// A retry delay given in the body (Gemini `RetryInfo.retryDelay`).
    pub(crate) retry_delay: Option<Duration>,
    /// The provider's request id, when the body has one.
    pub(crate) request_id: Option<String>,
    /// Whether the body holds an error object at all (false for an ordinary success body).
    pub(crate) is_error: bool,
}

impl ErrorBody {
    /// Removes a known secret from every text field, before anything is matched or cut.
    pub(crate) fn scrub(&mut self, secret: Option<&str>) {
        let Some(secret) = secret else { return };
        let fields = [
            &mut self.code,
            &mut self.error_type,
            &mut self.message,
            &mut self.request_id,
        ];
        for field in fields.into_iter().flatten().chain(self.details.iter_mut()) {
            if let std::borrow::Cow::Owned(clean) = crate::redact::redact_secret(field, secret) {
                *field = clean;
            }
        }
    }

    /// Reads a raw body (any bytes).
    pub(crate) fn parse(bytes: &[u8]) -> ErrorBody {
        // DeepSeek sends blank lines before the JSON under load; proxies add BOMs.
        let trimmed = trim_ascii_ws(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes));
        if trimmed.is_empty() {
            return ErrorBody::default();
        }
        if trimmed.len() <= MAX_PARSED_BODY
            && matches!(trimmed[0], b'{' | b'[')
            && let Ok(v) = serde_json::from_slice::<Value>(trimmed)
        {
            return ErrorBody::from_value(&v);
        }
        let text = String::from_utf8_lossy(&trimmed[..trimmed.len().min(16 * 1024)]);
        ErrorBody {
            message: Some(text_message(&text)),
            ..ErrorBody::default()
        }
    }

    /// Whether [`from_value`](Self::from_value) could find an error object in `v`: a cheap
    /// test, with no allocation, run before it on every successful body. Never `false` for a
    /// value holding an error; `true` for some that hold none (an `error: null`).
    pub(crate) fn may_hold_error(v: &Value) -> bool {
        let obj = match v {
            Value::Object(o) => o,
            Value::Array(items) => match items.first() {
                Some(Value::Object(o)) => o,
                _ => return false,
            },
            _ => return false,
        };
        obj.contains_key("error")
            || obj.get("type").and_then(Value::as_str) == Some("error")
            || obj.get("status").and_then(Value::as_str) == Some("FAILED")
            || obj.contains_key("promptFeedback")
            || obj
                .get("choices")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|choice| choice.get("error").is_some()))
    }

    /// Reads an already-parsed JSON value.
    pub(crate) fn from_value(v: &Value) -> ErrorBody {
        let mut b = ErrorBody::default();
        let obj = match v {
            Value::Object(o) => o,
            // Gemini's non-SSE stream endpoint wraps objects in an array.
            Value::Array(items) => match items.first() {
                Some(Value::Object(o)) => o,
                _ => return b,
            },
            _ => return b,
        };
        b.request_id = str_field(obj, "request_id").or_else(|| str_field(obj, "requestId"));
        // Pollinations' pollen-bucket limiter: {"error":…,"retryAfterSeconds":12}.
        b.retry_delay = obj
            .get("retryAfterSeconds")
            .and_then(Value::as_f64)
            .and_then(crate::hint::seconds);

        match obj.get("error") {
            Some(Value::Object(err)) => {
                b.is_error = true;
                b.read_error_object(err);
                // Pollinations: {"status":429,"success":false,"error":{…}}
                if b.status.is_none() {
                    b.status = obj.get("status").and_then(status_number);
                }
            }
            Some(Value::String(msg)) => {
                // Ollama {"error":"…"}; xAI {"code":"…","error":"…"};
                // Pollinations edge {"error":"Rate limit exceeded","message":"…"}.
                b.is_error = true;
                b.message = Some(match str_field(obj, "message") {
                    Some(more) if !more.is_empty() => format!("{msg}: {more}"),
                    _ => msg.clone(),
                });
                b.read_code(obj.get("code"));
                b.status = b
                    .status
                    .or_else(|| obj.get("status").and_then(status_number));
            }
            _ => {}
        }
        if b.is_error {
            return b;
        }
        // OpenAI Responses stream error event: {"type":"error","code","message","param"}.
        if obj.get("type").and_then(Value::as_str) == Some("error") {
            b.is_error = true;
            b.read_code(obj.get("code"));
            b.message = str_field(obj, "message");
            return b;
        }
        // OpenRouter: HTTP 200 whose choice carries the error.
        if let Some(err) = obj
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find_map(|choice| choice.get("error")))
            .and_then(Value::as_object)
        {
            b.is_error = true;
            b.read_error_object(err);
            return b;
        }
        // Runway: a failed task.
        if obj.get("status").and_then(Value::as_str) == Some("FAILED") {
            b.is_error = true;
            b.code = str_field(obj, "failureCode");
            b.message = str_field(obj, "failure");
            return b;
        }
        // Gemini: a blocked prompt has promptFeedback.blockReason and no candidates.
        if let Some(reason) = obj
            .get("promptFeedback")
            .and_then(|p| p.get("blockReason"))
            .and_then(Value::as_str)
        {
            let has_candidates = obj
                .get("candidates")
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty());
            if !has_candidates {
                b.is_error = true;
                b.code = Some(reason.to_owned());
                b.error_type = Some("blockReason".to_owned());
                b.message = Some(format!("prompt blocked: {reason}"));
                return b;
            }
        }
        // Generic frameworks: {"detail":"…"} / {"message":"…"} / {"code":"…"}.
        b.message = str_field(obj, "detail")
            .or_else(|| str_field(obj, "message"))
            .or_else(|| str_field(obj, "error_message"));
        b.read_code(obj.get("code"));
        b.status = obj.get("status").and_then(status_number);
        b
    }

    fn read_error_object(&mut self, err: &Map<String, Value>) {
        self.message = str_field(err, "message");
        self.read_code(err.get("code"));
        // OpenAI/Anthropic/llama.cpp `type`; Gemini `status` (a string there).
        self.error_type = str_field(err, "type").or_else(|| str_field(err, "status"));
        match err.get("details") {
            Some(Value::Array(details)) => self.read_google_details(details),
            // Anthropic: "details":{"error_code":"enforced_spend_limit_reached"}.
            Some(Value::Object(d)) => self.details.extend(str_field(d, "error_code")),
            _ => {}
        }
        if let Some(meta) = err.get("metadata").and_then(Value::as_object) {
            // OpenRouter moderation: metadata.reasons / metadata.flagged_input.
            for marker in ["flagged_input", "reasons"] {
                if meta.contains_key(marker) {
                    self.details.push(marker.to_owned());
                }
            }
            // OpenRouter budgets name their source; some say how long to wait.
            self.details.extend(str_field(meta, "limit_source"));
            if let Some(secs) = meta.get("retry_after_seconds").and_then(Value::as_f64) {
                self.retry_delay = crate::hint::seconds(secs);
            }
            // OpenRouter passes the upstream's own error text in metadata.raw.
            match meta.get("raw") {
                Some(Value::String(raw)) => self.details.push(raw.chars().take(2048).collect()),
                Some(raw @ Value::Object(_)) => self
                    .details
                    .push(raw.to_string().chars().take(2048).collect()),
                _ => {}
            }
        }
        // llama.cpp puts numbers next to the type; keep them searchable.
        if let Some(Value::String(p)) = err.get("param") {
            self.details.push(p.clone());
        }
    }

    fn read_code(&mut self, code: Option<&Value>) {
        match code {
            Some(Value::String(s)) if !s.is_empty() => self.code = Some(s.clone()),
            Some(Value::Number(n)) => {
                self.code = Some(n.to_string());
                if self.status.is_none() {
                    self.status = status_number(&Value::Number(n.clone()));
                }
            }
            _ => {}
        }
    }

    fn read_google_details(&mut self, details: &[Value]) {
        for d in details {
            let ty = d.get("@type").and_then(Value::as_str).unwrap_or("");
            if ty.ends_with("google.rpc.RetryInfo") {
                self.retry_delay = d
                    .get("retryDelay")
                    .and_then(Value::as_str)
                    .and_then(crate::hint::parse_duration);
            } else if ty.ends_with("google.rpc.ErrorInfo") {
                if let Some(reason) = d.get("reason").and_then(Value::as_str) {
                    // The reason (API_KEY_INVALID) says more than the numeric code, which
                    // only repeats the HTTP status.
                    if self
                        .code
                        .as_deref()
                        .is_none_or(|c| c.bytes().all(|b| b.is_ascii_digit()))
                    {
                        self.code = Some(reason.to_owned());
                    }
                    self.details.push(reason.to_owned());
                }
            } else if ty.ends_with("google.rpc.QuotaFailure") {
                for v in d
                    .get("violations")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    for key in ["quotaId", "quotaMetric"] {
                        if let Some(id) = v.get(key).and_then(Value::as_str) {
                            self.details.push(id.to_owned());
                        }
                    }
                }
            }
        }
    }
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn status_number(v: &Value) -> Option<u16> {
    v.as_u64()
        .filter(|n| (100..=599).contains(n))
        .and_then(|n| u16::try_from(n).ok())
}

fn trim_ascii_ws(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// A message for a body that is not JSON: the `<title>` of an HTML page, or the text itself.
fn text_message(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let looks_html = lower.trim_start().starts_with('<')
        && (lower.contains("<html") || lower.contains("<!doctype") || lower.contains("<title"));
    if looks_html {
        let title = lower
            .find("<title>")
            .map(|s| s + "<title>".len())
            .and_then(|s| {
                lower[s..]
                    .find("</title>")
                    .map(|e| text[s..s + e].trim().to_owned())
            })
            .filter(|t| !t.is_empty())
            .or_else(|| {
                lower.find("<h1>").map(|s| s + 4).and_then(|s| {
                    lower[s..]
                        .find("</h1>")
                        .map(|e| text[s..s + e].trim().to_owned())
                })
            });
        return match title {
            Some(t) => format!("html error page: {t}"),
            None => "html error page".to_owned(),
        };
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ErrorBody {
        ErrorBody::parse(s.as_bytes())
    }

    #[test]
    fn openai_shape() {
        let b = parse(
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
        );
        assert_eq!(b.code.as_deref(), Some("insufficient_quota"));
        assert_eq!(b.error_type.as_deref(), Some("insufficient_quota"));
        assert!(b.is_error);
    }

    #[test]
    fn gemini_shape_reads_details() {
        let b = parse(
            r#"[{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED","details":[
              {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
              {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED"},
              {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17.5s"}]}}]"#,
        );
        assert_eq!(b.status, Some(429));
        assert_eq!(b.error_type.as_deref(), Some("RESOURCE_EXHAUSTED"));
        assert_eq!(b.retry_delay, Some(Duration::from_millis(17_500)));
        assert!(b.details.iter().any(|d| d.contains("PerDay")));
        assert!(b.details.iter().any(|d| d == "RATE_LIMIT_EXCEEDED"));
    }

    #[test]
    fn xai_and_ollama_and_pollinations_shapes() {
        let x = parse(r#"{"code":"Some resource has been exhausted","error":"Too many requests"}"#);
        assert_eq!(x.code.as_deref(), Some("Some resource has been exhausted"));
        assert_eq!(x.message.as_deref(), Some("Too many requests"));
        let o = parse("{\"error\":\"model 'llama3' not found, try pulling it first\"}");
        assert!(o.message.unwrap().contains("not found"));
        let p = parse(
            r#"{"status":402,"success":false,"error":{"code":"UNKNOWN_ERROR","message":"balance too low"}}"#,
        );
        assert_eq!(
            (p.status, p.code.as_deref()),
            (Some(402), Some("UNKNOWN_ERROR"))
        );
        let edge = parse(
            r#"{"error":"Rate limit exceeded","message":"Too many requests. Please slow down."}"#,
        );
        assert_eq!(
            edge.message.as_deref(),
            Some("Rate limit exceeded: Too many requests. Please slow down.")
        );
    }

    #[test]
    fn success_bodies_are_not_errors() {
        let ok = parse(r#"{"id":"c1","choices":[{"index":0,"message":{"content":"hi"}}]}"#);
        assert!(!ok.is_error);
        let runway_running = parse(r#"{"id":"t","status":"RUNNING","progress":0.4}"#);
        assert!(!runway_running.is_error);
    }

    #[test]
    fn unknown_shapes_still_give_a_message() {
        let html =
            parse("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>");
        assert_eq!(
            html.message.as_deref(),
            Some("html error page: 502 Bad Gateway")
        );
        let cut = parse(r#"{"error":{"message":"Internal serv"#);
        assert!(cut.message.unwrap().starts_with("{\"error\""));
        assert_eq!(parse("\n\n  \n"), ErrorBody::default());
        let deepseek = parse("\n\n{\"error\":{\"message\":\"Server Overloaded\",\"type\":\"x\"}}");
        assert_eq!(deepseek.message.as_deref(), Some("Server Overloaded"));
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0u64..600).prop_map(Value::from),
            proptest::sample::select(&["error", "FAILED", "SAFETY", "x", ""][..])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            let key = proptest::sample::select(
                &[
                    "error",
                    "type",
                    "status",
                    "choices",
                    "promptFeedback",
                    "blockReason",
                    "candidates",
                    "message",
                    "code",
                ][..],
            );
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key.prop_map(str::to_owned), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The cheap test never skips a value that holds an error.
        #[test]
        fn the_cheap_test_never_misses_an_error(v in json_value()) {
            if ErrorBody::from_value(&v).is_error {
                proptest::prop_assert!(ErrorBody::may_hold_error(&v));
            }
        }
    }
}
