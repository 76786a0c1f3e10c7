//! Classification: from what the wire gave (status, headers, body bytes, or a transport
//! failure) to a [`ProviderError`].
//!
//! ```
//! use http::HeaderMap;
//! use steadfast_errors::{classify, ErrorKind, Provider};
//!
//! // OpenAI's trap: a 429 that is billing, not a rate limit, and must not be retried.
//! let body = br#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
//! let err = classify::response(Provider::OpenAi, 429, &HeaderMap::new(), body);
//! assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
//! assert!(!err.is_retryable());
//!
//! // The same classifier reads errors that arrive inside an HTTP 200 stream.
//! let event = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
//! let err = classify::in_band(Provider::Anthropic, event).unwrap();
//! assert_eq!(err.kind(), ErrorKind::Overloaded);
//! ```
//!
//! Rules come from the per-provider tables (see `docs/error-mapping.md`); retry hints from
//! [`hint`](mod@crate::hint). Messages are redacted and bounded by [`ProviderError`] itself.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde_json::Value;

use crate::body::ErrorBody;
use crate::error::{ProviderError, Transport};
use crate::hint::{self, HeaderHints};
use crate::kind::ErrorKind;
use crate::provider::Provider;
use crate::table::Facts;

/// The retry hint given to llama.cpp server's `503 Loading model` when it sends no
/// `Retry-After`.
///
/// llama-server answers every request with that 503 while it loads the model, which takes
/// from under a second to a minute. Without a hint the retry policy's exponential backoff
/// would wait longer and longer, so a server that became ready after 3 s is first tried
/// again after 8 s or gives up; polling about once a second instead finds it ready soon
/// after it is, and is cheap for a local server. A sent `Retry-After` still wins.
pub const LOADING_MODEL_HINT: Duration = Duration::from_secs(1);

/// Classifies an HTTP response that is not a success.
///
/// `body` is the raw bytes, whatever they are: JSON in the provider's shape, an HTML page
/// from a proxy, nothing, or JSON cut short. A 2xx status is accepted too: when the body
/// holds an error object (OpenRouter, Runway tasks) it classifies like the equivalent status;
/// otherwise the result is a `protocol` error, since a success was not expected here.
pub fn response(
    provider: Provider,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> ProviderError {
    response_at(provider, status, headers, body, SystemTime::now())
}

/// [`response`] with an explicit clock for HTTP-date and reset-time hints.
pub fn response_at(
    provider: Provider,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> ProviderError {
    classify_response(provider, status, headers, body, now, None)
}

/// [`response`] for a caller that knows its API key: the key, and every piece of it of at
/// least [`MIN_SECRET_FRAGMENT`](crate::redact::MIN_SECRET_FRAGMENT) characters, is removed
/// from every field (message, code, type, request id) *before* the field is cut to its
/// bound, so a key the provider echoes back in any shape never shows, not even as a prefix.
/// An empty `secret` removes nothing more than [`response`] does.
///
/// ```
/// use http::HeaderMap;
/// use steadfast_errors::{classify, Provider};
///
/// let key = "quokka-Mango-7731-zebra-Lime";
/// let body = br#"{"error":{"code":401,"message":"bad key","type":"quokka-Mango-7731-zebra-Lime"}}"#;
/// let err = classify::response_with_secret(Provider::LlamaCpp, 401, &HeaderMap::new(), body, key);
/// assert_eq!(err.to_string(), "llamacpp: auth (401 [REDACTED]): bad key");
/// ```
pub fn response_with_secret(
    provider: Provider,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
) -> ProviderError {
    classify_response(
        provider,
        status,
        headers,
        body,
        SystemTime::now(),
        Some(secret),
    )
}

fn classify_response(
    provider: Provider,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    secret: Option<&str>,
) -> ProviderError {
    let mut parsed = ErrorBody::parse(body);
    parsed.scrub(secret);
    let success = (200..300).contains(&status);
    let effective = if success { parsed.status } else { Some(status) };
    let mut err = if success && !parsed.is_error {
        ProviderError::new(
            ErrorKind::Protocol,
            provider.as_str(),
            "expected an error response but the body holds none",
        )
        .with_status(status)
    } else {
        build(
            provider,
            effective,
            effective.or(Some(status)),
            &parsed,
            body.is_empty(),
        )
    };

    let hints = HeaderHints::from_headers(headers, now);
    let from_body = parsed
        .retry_delay
        .or_else(|| parsed.message.as_deref().and_then(hint::try_again_in));
    let reset = (err.kind() == ErrorKind::RateLimited || status == 429)
        .then_some(hints.rate_limit_reset)
        .flatten();
    let loading = (provider == Provider::LlamaCpp
        && err.kind() == ErrorKind::Overloaded
        && parsed
            .message
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("loading model")))
    .then_some(LOADING_MODEL_HINT);
    if let Some(after) = hints.retry_after.or(from_body).or(reset).or(loading) {
        err = err.with_retry_after(after);
    }
    if let Some(should) = hints.should_retry {
        err = err.with_retryable(should);
    }
    let header_id = ["x-request-id", "request-id", "x-goog-request-id"]
        .into_iter()
        .find_map(|h| headers.get(h).and_then(|v| v.to_str().ok()));
    if let Some(id) = header_id.or(parsed.request_id.as_deref()) {
        err = err.with_request_id(scrubbed(id, secret));
    }
    err
}

/// Classifies an error that arrived inside a successful response: an SSE `error` event, a
/// `{"error":…}` line in an NDJSON stream, an OpenRouter error chunk, a failed Runway task.
///
/// Returns `None` when the bytes hold no error object. The result is the same as for the
/// equivalent status response: an Anthropic `overloaded_error` event is `overloaded` exactly
/// like a 529.
pub fn in_band(provider: Provider, body: &[u8]) -> Option<ProviderError> {
    let parsed = ErrorBody::parse(body);
    parsed
        .is_error
        .then(|| in_band_parsed(provider, parsed, None))
}

/// [`in_band`] for a body a decoder has already parsed.
pub fn in_band_value(provider: Provider, value: &Value) -> Option<ProviderError> {
    if !ErrorBody::may_hold_error(value) {
        return None;
    }
    let parsed = ErrorBody::from_value(value);
    parsed
        .is_error
        .then(|| in_band_parsed(provider, parsed, None))
}

/// [`in_band`] for a caller that knows its API key: removes it as
/// [`response_with_secret`] does.
pub fn in_band_with_secret(provider: Provider, body: &[u8], secret: &str) -> Option<ProviderError> {
    let parsed = ErrorBody::parse(body);
    parsed
        .is_error
        .then(|| in_band_parsed(provider, parsed, Some(secret)))
}

/// [`in_band_value`] for a caller that knows its API key: removes it as
/// [`response_with_secret`] does.
pub fn in_band_value_with_secret(
    provider: Provider,
    value: &Value,
    secret: &str,
) -> Option<ProviderError> {
    if !ErrorBody::may_hold_error(value) {
        return None;
    }
    let parsed = ErrorBody::from_value(value);
    parsed
        .is_error
        .then(|| in_band_parsed(provider, parsed, Some(secret)))
}

/// `text` without the secret, when there is one.
fn scrubbed<'a>(text: &'a str, secret: Option<&str>) -> std::borrow::Cow<'a, str> {
    match secret {
        Some(secret) => crate::redact::redact_secret(text, secret),
        None => std::borrow::Cow::Borrowed(text),
    }
}

fn in_band_parsed(
    provider: Provider,
    mut parsed: ErrorBody,
    secret: Option<&str>,
) -> ProviderError {
    parsed.scrub(secret);
    let parsed = &parsed;
    let mut err =
        build(provider, parsed.status, parsed.status, parsed, false).with_first_byte_received(true);
    let from_body = parsed
        .retry_delay
        .or_else(|| parsed.message.as_deref().and_then(hint::try_again_in));
    if let Some(after) = from_body {
        err = err.with_retry_after(after);
    }
    if let Some(id) = &parsed.request_id {
        err = err.with_request_id(id);
    }
    err
}

/// Classifies a failure that produced no HTTP response.
///
/// ```
/// use steadfast_errors::{classify, ErrorKind, Provider, Transport};
///
/// let err = classify::transport(Provider::DeepSeek, Transport::ConnectionReset);
/// assert_eq!(err.kind(), ErrorKind::Network);
/// assert!(err.is_retryable());
/// ```
pub fn transport(provider: Provider, failure: Transport) -> ProviderError {
    ProviderError::new(failure.kind(), provider.as_str(), "").with_transport(failure)
}

/// Classifies a `reqwest::Error`: connect refused, reset, DNS, TLS, connect and read
/// timeouts, body decoding, or a status error.
///
/// The error's URL is dropped before it is kept as the source: URLs may carry keys
/// (`?key=` for Google).
#[cfg(feature = "reqwest")]
pub fn reqwest(provider: Provider, err: ::reqwest::Error) -> ProviderError {
    crate::reqwest_support::classify(provider, err)
}

/// Builds the error from a parsed body: kind by the tables, message, code, type.
fn build(
    provider: Provider,
    match_status: Option<u16>,
    shown_status: Option<u16>,
    parsed: &ErrorBody,
    empty: bool,
) -> ProviderError {
    let (kind, retryable) = resolve(provider, match_status, parsed);
    let message = match &parsed.message {
        Some(m) if !m.trim().is_empty() => m.as_str(),
        _ if empty => "empty response body",
        _ => "",
    };
    let mut err = ProviderError::new(kind, provider.as_str(), message);
    if let Some(s) = shown_status {
        err = err.with_status(s);
    }
    if let Some(code) = &parsed.code {
        err = err.with_code(code);
    }
    if let Some(ty) = &parsed.error_type {
        err = err.with_error_type(ty);
    }
    if let Some(r) = retryable {
        err = err.with_retryable(r);
    }
    err
}

/// Runs the provider's table, then the default table; `unknown` when nothing matches.
fn resolve(
    provider: Provider,
    status: Option<u16>,
    parsed: &ErrorBody,
) -> (ErrorKind, Option<bool>) {
    let mut identifiers: Vec<&str> = Vec::with_capacity(2 + parsed.details.len());
    identifiers.extend(parsed.code.as_deref());
    identifiers.extend(parsed.error_type.as_deref());
    identifiers.extend(parsed.details.iter().map(String::as_str));
    let mut text = parsed.message.as_deref().unwrap_or("").to_lowercase();
    for d in &parsed.details {
        text.push('\n');
        text.push_str(&d.to_lowercase());
    }
    let facts = Facts {
        status,
        identifiers,
        text,
    };
    crate::generated::rules(provider)
        .iter()
        .flat_map(|table| table.iter())
        .chain(crate::generated::DEFAULT)
        .find(|rule| rule.matches(&facts))
        .map_or((ErrorKind::Unknown, None), |rule| {
            (rule.kind, rule.retryable)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn kind(provider: Provider, status: u16, body: &str) -> ErrorKind {
        response(provider, status, &HeaderMap::new(), body.as_bytes()).kind()
    }

    #[test]
    fn the_traps_of_provider_facts() {
        use ErrorKind::*;
        use Provider::*;
        let cases: &[(Provider, u16, &str, ErrorKind)] = &[
            (
                OpenAi,
                429,
                r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
                QuotaExhausted,
            ),
            (
                OpenAi,
                429,
                r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
                RateLimited,
            ),
            (
                OpenAi,
                400,
                r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
                ContextLength,
            ),
            (
                Xai,
                400,
                r#"{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***ab. You can obtain an API key from https://console.x.ai."}"#,
                Auth,
            ),
            (
                Xai,
                429,
                r#"{"code":"Some resource has been exhausted","error":"Your team has either used all available credits or reached its monthly spending limit."}"#,
                QuotaExhausted,
            ),
            (
                Gemini,
                400,
                r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#,
                Auth,
            ),
            (
                OpenRouter,
                402,
                r#"{"error":{"code":402,"message":"Insufficient credits"}}"#,
                QuotaExhausted,
            ),
            (
                LlamaCpp,
                503,
                r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#,
                Overloaded,
            ),
            (
                Anthropic,
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
                ContextLength,
            ),
            (
                Anthropic,
                529,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                Overloaded,
            ),
            (
                DeepSeek,
                402,
                r#"{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}"#,
                QuotaExhausted,
            ),
        ];
        for (p, status, body, want) in cases {
            assert_eq!(kind(*p, *status, body), *want, "{p} {status} {body}");
        }
    }

    #[test]
    fn unknown_shapes_classify_from_the_status() {
        use ErrorKind::*;
        let html = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>";
        assert_eq!(kind(Provider::OpenAi, 502, html), Server);
        assert_eq!(kind(Provider::Anthropic, 503, ""), Overloaded);
        assert_eq!(
            kind(Provider::Gemini, 500, r#"{"error":{"code":500,"mess"#),
            Server
        );
        assert_eq!(kind(Provider::Ollama, 418, "I'm a teapot"), Unknown);
        assert_eq!(kind(Provider::Runway, 302, ""), Protocol);
        let err = response(Provider::OpenAi, 502, &HeaderMap::new(), html.as_bytes());
        assert_eq!(err.message(), "html error page: 502 Bad Gateway");
    }

    #[test]
    fn hints_follow_their_precedence() {
        let body = br#"{"error":{"message":"Rate limit reached. Please try again in 41.724s.","type":"tokens","code":"rate_limit_exceeded"}}"#;
        let e = response(Provider::OpenAi, 429, &HeaderMap::new(), body);
        assert_eq!(e.retry_after(), Some(Duration::from_millis(41_724)));
        let e = response(
            Provider::OpenAi,
            429,
            &headers(&[("retry-after", "2")]),
            body,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        let gemini = br#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}"#;
        let e = response(Provider::Gemini, 429, &HeaderMap::new(), gemini);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(17)));
        assert_eq!(e.kind(), ErrorKind::RateLimited);
    }

    #[test]
    fn x_should_retry_overrides_the_kind() {
        let e = response(
            Provider::OpenAi,
            500,
            &headers(&[("x-should-retry", "false")]),
            b"",
        );
        assert_eq!((e.kind(), e.is_retryable()), (ErrorKind::Server, false));
        let e = response(
            Provider::OpenAi,
            409,
            &headers(&[("x-should-retry", "true")]),
            b"",
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn in_band_errors_classify_like_their_status() {
        let openrouter = br#"{"id":"gen-1","choices":[{"index":0,"delta":{"content":""},"finish_reason":"error","error":{"code":502,"message":"Provider returned error"}}]}"#;
        let e = in_band(Provider::OpenRouter, openrouter).unwrap();
        assert_eq!((e.kind(), e.status()), (ErrorKind::Server, Some(502)));
        assert!(e.first_byte_received());
        let runway = br#"{"id":"t1","status":"FAILED","failure":"Input flagged","failureCode":"SAFETY.INPUT.TEXT"}"#;
        let e = in_band(Provider::Runway, runway).unwrap();
        assert_eq!(
            (e.kind(), e.is_retryable()),
            (ErrorKind::ContentFilter, false)
        );
        let out = br#"{"id":"t1","status":"FAILED","failure":"Output flagged","failureCode":"SAFETY.OUTPUT.VIDEO"}"#;
        let e = in_band(Provider::Runway, out).unwrap();
        // Runway's guide: "You should not retry these generations" (input and output alike).
        assert_eq!(
            (e.kind(), e.is_retryable()),
            (ErrorKind::ContentFilter, false)
        );
        assert!(in_band(Provider::OpenAi, br#"{"choices":[]}"#).is_none());
        assert!(in_band(Provider::OpenAi, b"not json").is_none());
    }

    #[test]
    fn a_success_without_an_error_is_a_protocol_error() {
        let e = response(
            Provider::OpenAi,
            200,
            &HeaderMap::new(),
            br#"{"choices":[]}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Protocol);
    }

    const KEYS: [&str; 5] = [
        "sk-proj-FAKEabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
        "sk-ant-api03-FAKEabcdefghijklmnopqrstuvwxyz0123456789",
        "xai-FAKEabcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop",
        "AIzaSyFAKE1234567890abcdefghijklmnopqr",
        "key_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd",
    ];

    #[test]
    fn echoed_keys_never_reach_display_or_debug() {
        for key in KEYS {
            let bodies = [
                format!(
                    r#"{{"error":{{"message":"Incorrect API key provided: {key}.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}}}"#
                ),
                format!(
                    r#"{{"code":"Client specified an invalid argument","error":"Incorrect API key provided: {key}"}}"#
                ),
                format!(r#"{{"error":"unauthorized: Authorization: Bearer {key}"}}"#),
                format!("<html><title>401 for {key}</title></html>"),
                format!("upstream said key={key} was refused"),
            ];
            for body in &bodies {
                for p in Provider::ALL {
                    let e = response(
                        p,
                        401,
                        &headers(&[("x-request-id", "req_1")]),
                        body.as_bytes(),
                    );
                    let shown = format!("{e} {e:?} {:?}", e.clone());
                    assert!(!shown.contains(key), "{p}: key leaked: {shown}");
                    assert!(
                        !shown.contains(&key[..20]),
                        "{p}: key prefix leaked: {shown}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_openai_compatible_preset_reads_both_llama_over_context_answers() {
        let python = r#"{"error":{"message":"This model's maximum context length is 2048 tokens. However, you requested 2611 tokens (2355 in the messages, 256 in the completion). Please reduce the length of the messages or completion.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let server = r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#;
        for p in [
            Provider::OpenAi,
            Provider::OpenRouter,
            Provider::Xai,
            Provider::DeepSeek,
            Provider::Ollama,
            Provider::Pollinations,
            Provider::LlamaCpp,
        ] {
            for body in [python, server] {
                assert_eq!(
                    kind(p, 400, body),
                    ErrorKind::ContextLength,
                    "{p:?}: {body}"
                );
                let in_band = in_band(p, body.as_bytes()).expect("an error object");
                assert_eq!(in_band.kind(), ErrorKind::ContextLength, "{p:?} in band");
            }
        }
    }

    #[test]
    fn a_loading_llama_server_is_retried_after_about_a_second() {
        let body =
            br#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#;
        let e = response(Provider::LlamaCpp, 503, &HeaderMap::new(), body);
        assert_eq!(e.kind(), ErrorKind::Overloaded);
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(LOADING_MODEL_HINT));
        let e = response(
            Provider::LlamaCpp,
            503,
            &headers(&[("retry-after", "7")]),
            body,
        );
        assert_eq!(
            e.retry_after(),
            Some(Duration::from_secs(7)),
            "a sent hint wins"
        );
        let other =
            br#"{"error":{"code":503,"message":"no slot available","type":"unavailable_error"}}"#;
        let e = response(Provider::LlamaCpp, 503, &HeaderMap::new(), other);
        assert_eq!(
            e.retry_after(),
            None,
            "only the loading answer gets the default"
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(
            status in 0u16..1000,
            body in proptest::collection::vec(any::<u8>(), 0..512),
            retry_after in "\\PC{0,24}",
            pi in 0usize..10,
        ) {
            let mut h = HeaderMap::new();
            if let Ok(v) = http::HeaderValue::from_str(&retry_after) {
                h.insert("retry-after", v.clone());
                h.insert("retry-after-ms", v.clone());
                h.insert("x-ratelimit-reset-requests", v);
                h.insert("x-ratelimit-remaining-requests", http::HeaderValue::from_static("0"));
            }
            let p = Provider::ALL[pi];
            let e = response(p, status, &h, &body);
            prop_assert!(e.retry_after().is_none_or(|d| d <= hint::MAX_RETRY_HINT));
            let _ = in_band(p, &body);
            let _ = e.to_string();
        }

        #[test]
        fn json_shaped_garbage_never_panics(
            code in prop_oneof![Just(serde_json::json!(null)), any::<i64>().prop_map(|n| serde_json::json!(n)), "\\PC{0,12}".prop_map(|s| serde_json::json!(s))],
            message in "\\PC{0,64}",
            delay in "\\PC{0,12}",
        ) {
            let body = serde_json::json!({"error": {"code": code, "message": message, "status": code,
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]}});
            let bytes = serde_json::to_vec(&body).unwrap();
            for p in Provider::ALL {
                let e = response(p, 429, &HeaderMap::new(), &bytes);
                prop_assert!(e.retry_after().is_none_or(|d| d <= hint::MAX_RETRY_HINT));
            }
        }
    }
}
