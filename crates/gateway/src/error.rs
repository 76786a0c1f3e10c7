//! `ApiError`: a refusal or failure before the first byte, as OpenAI's or Anthropic's error
//! JSON with its HTTP status.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use steadfast_config::CallError;
use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_fallback::AttemptRecord;
use steadfast_router::RouterError;

/// One provider's turn, as the error body lists it: no message text, so nothing a
/// provider said (or a key it echoed) reaches the client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptView {
    /// The deployment (provider id).
    pub provider: String,
    /// The model it was asked for.
    pub model: String,
    /// How its turn ended (`failed`, `skipped_breaker_open`, …).
    pub outcome: &'static str,
    /// The failure's kind, when it failed.
    pub kind: Option<&'static str>,
    /// The HTTP status it answered, when there was one.
    pub status: Option<u16>,
    /// Attempts made on it (0 when skipped).
    pub attempts: u32,
}

impl AttemptView {
    /// The view of `record`.
    pub fn of(record: &AttemptRecord) -> AttemptView {
        AttemptView {
            provider: record.provider.clone(),
            model: record.model.clone(),
            outcome: record.outcome.as_str(),
            kind: record.kind.map(ErrorKind::as_str),
            status: record.status,
            attempts: record.attempts(),
        }
    }
}

/// An error answered before the first byte of a response: status, OpenAI's
/// `{"error": {"message", "type", "param", "code"}}` body (plus `attempts` when providers
/// were tried), and `Retry-After` when waiting helps.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, in words (never a key, never the request body).
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`,
    /// `rate_limit_error`, `api_error`, …
    pub error_type: &'static str,
    /// The request field at fault, for a 400.
    pub param: Option<String>,
    /// A short machine-readable code (`model_not_found`, an error kind, …).
    pub code: Option<String>,
    /// Seconds to wait before trying again, sent as `Retry-After`.
    pub retry_after: Option<Duration>,
    /// Every provider's turn, when providers were tried.
    pub attempts: Vec<AttemptView>,
}

impl ApiError {
    fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            error_type,
            param: None,
            code: None,
            retry_after: None,
            attempts: Vec::new(),
        }
    }

    /// A 400 for the request field `param`.
    pub fn bad_request(param: impl Into<String>, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.param = Some(param.into());
        e
    }

    /// A 401: no gateway key, or not one of the configured ones.
    pub fn unauthorized() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "a valid gateway key is required: send `Authorization: Bearer <key>` or `x-api-key: <key>`",
        );
        e.code = Some("invalid_api_key".to_owned());
        e
    }

    /// A 404 for a model group that does not exist.
    pub fn unknown_model(model: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("the model `{model}` does not exist: it is not a model group of this gateway"),
        );
        e.param = Some("model".to_owned());
        e.code = Some("model_not_found".to_owned());
        e
    }

    /// A 413 for a body over the cap.
    pub fn too_large(limit: usize) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("the request body is larger than {limit} bytes"),
        );
        e.code = Some("request_too_large".to_owned());
        e
    }

    /// A 503 when the gateway already serves its maximum of requests.
    pub fn busy() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "the gateway is serving its maximum of concurrent requests; try again shortly",
        );
        e.code = Some("gateway_busy".to_owned());
        e.retry_after = Some(Duration::from_secs(1));
        e
    }

    /// A 503 while the gateway shuts down.
    pub fn shutting_down() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "the gateway is shutting down",
        );
        e.code = Some("shutting_down".to_owned());
        e
    }

    /// The answer for a call that got none.
    pub fn from_call(err: &CallError) -> ApiError {
        match err {
            CallError::UnknownGroup(g) => ApiError::unknown_model(g),
            CallError::Failed { source, .. } => ApiError::from_router(source),
            other => ApiError::new(StatusCode::BAD_GATEWAY, "api_error", other.to_string()),
        }
    }

    fn from_router(err: &RouterError) -> ApiError {
        match err {
            RouterError::Refused(e) => {
                let mut out = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    format!("refused by a local limit: {}", e.kind()),
                );
                out.code = Some(e.kind().as_str().to_owned());
                // A budget has no hint; a minute is the smallest window a limit counts.
                out.retry_after = Some(e.retry_after().unwrap_or(Duration::from_secs(
                    if e.kind() == ErrorKind::RateLimited {
                        1
                    } else {
                        60
                    },
                )));
                out
            }
            RouterError::NoProvider { reason } => {
                let mut out = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "api_error",
                    format!("no deployment may take this request: {reason}"),
                );
                out.code = Some("no_provider".to_owned());
                out
            }
            RouterError::Failed(f) => {
                let attempts: Vec<AttemptView> = f.attempts.iter().map(AttemptView::of).collect();
                let mut out = match f.kind() {
                    Some(
                        k @ (ErrorKind::InvalidRequest
                        | ErrorKind::ContextLength
                        | ErrorKind::ContentFilter),
                    ) => {
                        let mut e = ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "invalid_request_error",
                            client_message(k, f.last.as_ref()),
                        );
                        e.param = (k == ErrorKind::ContextLength).then(|| "messages".to_owned());
                        e.code = Some(openai_code(k).to_owned());
                        e
                    }
                    kind => {
                        let status = if kind == Some(ErrorKind::Protocol) {
                            StatusCode::BAD_GATEWAY
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        };
                        let mut e = ApiError::new(
                            status,
                            "api_error",
                            format!(
                                "every deployment failed ({}): {}",
                                f.reason,
                                summary(&attempts)
                            ),
                        );
                        e.code = Some(kind.map_or("all_failed", ErrorKind::as_str).to_owned());
                        e.retry_after = f.last.as_ref().and_then(ProviderError::retry_after);
                        e
                    }
                };
                out.attempts = attempts;
                out
            }
            other => ApiError::new(StatusCode::BAD_GATEWAY, "api_error", other.to_string()),
        }
    }

    /// Anthropic's error `type` for this error's status (`invalid_request_error`,
    /// `authentication_error`, `not_found_error`, `rate_limit_error`, `overloaded_error` for
    /// a 503, `api_error`, …).
    pub fn anthropic_type(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            _ => "api_error",
        }
    }

    /// The JSON body in Anthropic's shape, `{"type": "error", "error": {"type", "message"}}`
    /// (plus `attempts` when providers were tried); the field at fault leads the message
    /// (`max_tokens: …`), as Anthropic's own messages do.
    ///
    /// ```
    /// use steadfast_gateway::ApiError;
    ///
    /// let body = ApiError::bad_request("max_tokens", "`max_tokens` is required").anthropic_body();
    /// assert_eq!(body["type"], "error");
    /// assert_eq!(body["error"]["type"], "invalid_request_error");
    /// assert_eq!(body["error"]["message"], "max_tokens: `max_tokens` is required");
    /// ```
    pub fn anthropic_body(&self) -> Value {
        let message = match &self.param {
            Some(p) => format!("{p}: {}", self.message),
            None => self.message.clone(),
        };
        let mut error = json!({ "type": self.anthropic_type(), "message": message });
        if let Some(code) = &self.code {
            error["code"] = json!(code);
        }
        if !self.attempts.is_empty() {
            error["attempts"] = json!(self.attempts);
        }
        json!({ "type": "error", "error": error })
    }

    /// The answer in the wire format of the route that failed.
    pub(crate) fn respond(self, wire: Wire) -> Response {
        let body = match wire {
            Wire::OpenAi => self.body(),
            Wire::Anthropic => self.anthropic_body(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code,
        });
        if !self.attempts.is_empty() {
            error["attempts"] = json!(self.attempts);
        }
        json!({ "error": error })
    }
}

/// The message of a request every provider refuses: the kind, and the HTTP status the
/// provider gave (not its text, which might quote the request).
fn client_message(kind: ErrorKind, last: Option<&ProviderError>) -> String {
    let what = match kind {
        ErrorKind::ContextLength => "the request is longer than every deployment's context window",
        ErrorKind::ContentFilter => "the request was refused by the provider's content policy",
        _ => "the provider refused the request as invalid",
    };
    match last.and_then(ProviderError::status) {
        Some(s) => format!("{what} (provider status {s})"),
        None => what.to_owned(),
    }
}

fn openai_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ContextLength => "context_length_exceeded",
        ErrorKind::ContentFilter => "content_filter",
        _ => "invalid_request",
    }
}

fn summary(attempts: &[AttemptView]) -> String {
    attempts
        .iter()
        .map(|a| {
            let mut s = format!("{} {}", a.provider, a.kind.unwrap_or(a.outcome));
            if let Some(st) = a.status {
                s.push_str(&format!(" {st}"));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The wire format a route speaks, and so the shape of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// OpenAI's `{"error": {…}}`.
    OpenAi,
    /// Anthropic's `{"type": "error", "error": {…}}`.
    Anthropic,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond(Wire::OpenAi)
    }
}
