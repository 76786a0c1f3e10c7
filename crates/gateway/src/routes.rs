//! The HTTP routes: chat completions, Anthropic messages, models, health, metrics, under
//! the layers that check the gateway key and count every answer ([`crate::layer`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};
use steadfast_fallback::AttemptRecord;

use steadfast_providers_core::ChatResponse;

use crate::error::{ApiError, Wire};
use crate::layer::{Auth, Count};
use crate::messages::response::message_id;
use crate::messages::stream::Events;
use crate::request::{Incoming, RequestError, parse};
use crate::response::{ChunkHead, completion_id, completion_json, now_secs};
use crate::state::{InFlight, Shared};
use crate::stream::{Chunks, Encode};

/// The counter of answers, by route and status.
pub const REQUESTS: &str = "steadfast.gateway.requests";
/// The histogram of the time to an answer's headers, in seconds, by route.
pub const DURATION: &str = "steadfast.gateway.request.duration";

/// The header naming the deployment that answered.
pub const PROVIDER_HEADER: &str = "x-steadfast-provider";
/// The header counting provider attempts (retries included).
pub const ATTEMPTS_HEADER: &str = "x-steadfast-attempts";
/// The header counting deployments moved past before the one that answered.
pub const FALLBACKS_HEADER: &str = "x-steadfast-fallbacks";
/// The header giving the time spent outside provider calls, in milliseconds.
pub const OVERHEAD_HEADER: &str = "x-steadfast-overhead-ms";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let open = Router::new().route("/health", get(health));
    let guarded = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/models", get(models))
        .route("/health/providers", get(providers))
        .route("/metrics", get(metrics_text))
        .route_layer(Auth::new(&shared, Wire::OpenAi));
    let anthropic = Router::new()
        .route("/v1/messages", post(messages))
        .route_layer(Auth::new(&shared, Wire::Anthropic));
    open.merge(guarded)
        .merge(anthropic)
        .fallback(not_found)
        .layer(Count(Arc::clone(&shared)))
        .with_state(shared)
}

async fn not_found() -> Response {
    let mut e = ApiError::bad_request("path", "no such endpoint");
    e.status = StatusCode::NOT_FOUND;
    e.code = Some("not_found".to_owned());
    e.into_response()
}

async fn health() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

async fn models(State(s): State<Arc<Shared>>) -> Response {
    let data: Vec<Value> =
        s.sf.groups()
            .map(|g| json!({ "id": g, "object": "model", "created": 0, "owned_by": "steadfast" }))
            .collect();
    axum::Json(json!({ "object": "list", "data": data })).into_response()
}

async fn providers(State(s): State<Arc<Shared>>) -> Response {
    let mut out = Vec::new();
    for (group, stats) in s.sf.stats() {
        for p in stats.providers {
            let settled = p.successes.saturating_add(p.failures);
            #[allow(clippy::cast_precision_loss)]
            let error_rate = if settled == 0 {
                0.0
            } else {
                p.failures as f64 / settled as f64
            };
            out.push(json!({
                "group": group,
                "deployment": p.id,
                "enabled": p.enabled,
                "health": p.health,
                "breaker": p.breaker,
                "error_rate": error_rate,
                "requests": p.requests,
                "in_flight": p.in_flight,
                "latency_p50_ms": p.latency.p50_ms,
            }));
        }
    }
    axum::Json(json!({ "deployments": out })).into_response()
}

async fn metrics_text(State(s): State<Arc<Shared>>) -> Response {
    let text = s.config.metrics.as_ref().map(|m| m()).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// What the verification headers say about one call.
struct Verify<'a> {
    provider: &'a str,
    attempts: &'a [AttemptRecord],
    started: Instant,
}

impl Verify<'_> {
    fn apply(&self, headers: &mut HeaderMap) {
        const PROVIDER: HeaderName = HeaderName::from_static(PROVIDER_HEADER);
        const ATTEMPTS: HeaderName = HeaderName::from_static(ATTEMPTS_HEADER);
        const FALLBACKS: HeaderName = HeaderName::from_static(FALLBACKS_HEADER);
        const OVERHEAD: HeaderName = HeaderName::from_static(OVERHEAD_HEADER);
        let attempts: u32 = self.attempts.iter().map(AttemptRecord::attempts).sum();
        let fallbacks = self.attempts.len().saturating_sub(1);
        let in_providers: Duration = self.attempts.iter().map(|a| a.duration).sum();
        let overhead = self.started.elapsed().saturating_sub(in_providers);
        // A deployment id a header cannot carry leaves the header out.
        if let Ok(v) = HeaderValue::from_str(self.provider) {
            headers.insert(PROVIDER, v);
        }
        headers.insert(ATTEMPTS, count(u64::from(attempts)));
        headers.insert(FALLBACKS, count(fallbacks as u64));
        headers.insert(OVERHEAD, millis(overhead));
    }
}

/// `n` as a header value; the usual small counts without an allocation.
fn count(n: u64) -> HeaderValue {
    const SMALL: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    usize::try_from(n)
        .ok()
        .and_then(|i| SMALL.get(i))
        .map_or_else(|| HeaderValue::from(n), |s| HeaderValue::from_static(s))
}

/// `d` in milliseconds with three decimals (`12.345`), rounded to the microsecond.
fn millis(d: Duration) -> HeaderValue {
    let micros = u64::try_from(d.as_nanos().saturating_add(500) / 1000).unwrap_or(u64::MAX);
    // u64's 20 digits at most and the point, written from the end.
    let mut buf = [0u8; 24];
    let mut at = buf.len();
    let (mut n, mut digits) = (micros, 0);
    while digits < 4 || n > 0 {
        at -= 1;
        buf[at] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        digits += 1;
        if digits == 3 {
            at -= 1;
            buf[at] = b'.';
        }
    }
    // Digits and a point are valid header bytes.
    HeaderValue::from_bytes(&buf[at..]).unwrap_or(HeaderValue::from_static("0.000"))
}

async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::too_large(limit)),
        Err(_) => Err(ApiError::bad_request(
            "body",
            "the request body could not be read",
        )),
    }
}

/// What every model route does before reading its wire format: refuse while draining or
/// full, take a concurrency slot, read the body under the cap.
async fn admit(
    s: &Arc<Shared>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(bytes::Bytes, InFlight), ApiError> {
    if s.draining() {
        return Err(ApiError::shutting_down());
    }
    let Some(guard) = s.enter() else {
        return Err(ApiError::busy());
    };
    let limit = s.config.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    let bytes = read_body(body, limit).await?;
    Ok((bytes, guard))
}

/// A request read, for a group that exists (the refusal boxed: it is the rare path).
fn known(s: &Shared, incoming: Result<Incoming, RequestError>) -> Result<Incoming, Box<ApiError>> {
    let incoming = incoming.map_err(|e| Box::new(ApiError::from(e)))?;
    if s.sf.groups().any(|g| g == incoming.group) {
        Ok(incoming)
    } else {
        Err(Box::new(ApiError::unknown_model(&incoming.group)))
    }
}

/// A streamed answer's response: the SSE body under the verification headers.
fn sse_response<E: Encode>(
    s: &Shared,
    routed: steadfast_router::Routed<steadfast_router::RouterStream>,
    encoder: E,
    guard: InFlight,
    started: Instant,
) -> Response {
    let mut out_headers = HeaderMap::new();
    Verify {
        provider: &routed.provider,
        attempts: &routed.attempts,
        started,
    }
    .apply(&mut out_headers);
    let body = crate::stream::body(routed.value, encoder, s.expired.subscribe(), guard);
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.extend(out_headers);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A whole answer's response (its JSON text) under the verification headers.
fn json_response(
    body: Vec<u8>,
    routed: &steadfast_router::Routed<ChatResponse>,
    started: Instant,
) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Verify {
        provider: &routed.provider,
        attempts: &routed.attempts,
        started,
    }
    .apply(response.headers_mut());
    response
}

async fn chat(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let started = Instant::now();
    // The request itself, not a `HeaderMap` extractor: that would copy every header.
    let (parts, body) = req.into_parts();
    let (bytes, guard) = match admit(&s, &parts.headers, body).await {
        Ok(admitted) => admitted,
        Err(e) => return e.into_response(),
    };
    let Incoming {
        group,
        request,
        stream,
        include_usage,
    } = match known(&s, parse(&bytes)) {
        Ok(i) => i,
        Err(e) => return e.respond(Wire::OpenAi),
    };
    let options = s.sf.route_options();
    if stream {
        match s.sf.chat_stream(Some(&group), &request, options).await {
            Ok(routed) => {
                let head = ChunkHead {
                    id: completion_id(),
                    created: now_secs(),
                    model: routed.model.clone(),
                };
                let encoder = Chunks::new(head, include_usage);
                sse_response(&s, routed, encoder, guard, started)
            }
            Err(e) => failed(&e, started, Wire::OpenAi),
        }
    } else {
        match s.sf.chat(Some(&group), &request, options).await {
            Ok(routed) => {
                let body = completion_json(&routed.value, &routed.model);
                let response = json_response(body, &routed, started);
                drop(guard);
                response
            }
            Err(e) => failed(&e, started, Wire::OpenAi),
        }
    }
}

/// `POST /v1/messages`: the Anthropic wire format over the same routing.
async fn messages(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let (bytes, guard) = match admit(&s, &parts.headers, body).await {
        Ok(admitted) => admitted,
        Err(e) => return e.respond(Wire::Anthropic),
    };
    let Incoming {
        group,
        request,
        stream,
        ..
    } = match known(&s, crate::messages::request::parse(&bytes)) {
        Ok(i) => i,
        Err(e) => return e.respond(Wire::Anthropic),
    };
    let options = s.sf.route_options();
    if stream {
        match s.sf.chat_stream(Some(&group), &request, options).await {
            Ok(routed) => {
                let encoder = Events::new(message_id(), routed.model.clone());
                sse_response(&s, routed, encoder, guard, started)
            }
            Err(e) => failed(&e, started, Wire::Anthropic),
        }
    } else {
        match s.sf.chat(Some(&group), &request, options).await {
            Ok(routed) => {
                let response =
                    match crate::messages::response::message(&routed.value, &routed.model) {
                        // A `Value` always serializes.
                        Ok(body) => json_response(
                            serde_json::to_vec(&body).unwrap_or_default(),
                            &routed,
                            started,
                        ),
                        Err(why) => {
                            let mut e = ApiError::bad_request("content", why);
                            e.status = StatusCode::BAD_GATEWAY;
                            e.error_type = "api_error";
                            e.param = None;
                            e.code = Some("protocol".to_owned());
                            e.respond(Wire::Anthropic)
                        }
                    };
                drop(guard);
                response
            }
            Err(e) => failed(&e, started, Wire::Anthropic),
        }
    }
}

fn failed(e: &steadfast_config::CallError, started: Instant, wire: Wire) -> Response {
    let attempts = match e {
        steadfast_config::CallError::Failed {
            source: steadfast_router::RouterError::Failed(f),
            ..
        } => f.attempts.clone(),
        _ => Vec::new(),
    };
    let provider = attempts
        .last()
        .map_or("none", |a| a.provider.as_str())
        .to_owned();
    let mut response = ApiError::from_call(e).respond(wire);
    Verify {
        provider: &provider,
        attempts: &attempts,
        started,
    }
    .apply(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{count, millis};

    #[test]
    fn counts_are_their_digits() {
        for n in [0, 1, 9, 10, 11, 12_345, u64::MAX] {
            assert_eq!(count(n).to_str().unwrap(), n.to_string());
        }
    }

    #[test]
    fn overhead_is_milliseconds_with_three_decimals() {
        let cases = [
            (Duration::ZERO, "0.000"),
            (Duration::from_nanos(499), "0.000"),
            (Duration::from_nanos(17_600), "0.018"),
            (Duration::from_micros(12_345), "12.345"),
            (Duration::from_micros(999_999_999), "999999.999"),
            (Duration::from_secs(3), "3000.000"),
        ];
        for (d, text) in cases {
            assert_eq!(millis(d).to_str().unwrap(), text, "{d:?}");
        }
        assert_eq!(millis(Duration::MAX).to_str().unwrap().len(), 21);
    }
}
