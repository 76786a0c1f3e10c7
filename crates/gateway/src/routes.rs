//! The HTTP routes: chat completions, Anthropic messages, models, health, metrics — and the
//! middleware that checks the gateway key and counts every answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};
use steadfast_fallback::AttemptRecord;

use steadfast_providers_core::ChatResponse;

use crate::error::{ApiError, Wire};
use crate::messages::response::message_id;
use crate::messages::stream::Events;
use crate::request::{Incoming, RequestError, parse};
use crate::response::{ChunkHead, completion, completion_id, now_secs};
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
        .route_layer(middleware::from_fn_with_state(Arc::clone(&shared), auth));
    let anthropic = Router::new()
        .route("/v1/messages", post(messages))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            auth_anthropic,
        ));
    open.merge(guarded)
        .merge(anthropic)
        .fallback(not_found)
        .layer(middleware::from_fn(count))
        .with_state(shared)
}

/// The gateway key, from `Authorization: Bearer` or `x-api-key` (what Anthropic's SDKs
/// send); a 401 in the route's wire format without it.
async fn check(s: &Shared, req: Request, next: Next, wire: Wire) -> Response {
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let api_key = headers.get("x-api-key").map(HeaderValue::as_bytes);
    if s.authorized(bearer, api_key) {
        next.run(req).await
    } else {
        ApiError::unauthorized().respond(wire)
    }
}

async fn auth(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    check(&s, req, next, Wire::OpenAi).await
}

async fn auth_anthropic(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    check(&s, req, next, Wire::Anthropic).await
}

async fn count(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(DURATION, "route" => route).record(start.elapsed().as_secs_f64());
    response
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
        let attempts: u32 = self.attempts.iter().map(AttemptRecord::attempts).sum();
        let fallbacks = self.attempts.len().saturating_sub(1);
        let in_providers: Duration = self.attempts.iter().map(|a| a.duration).sum();
        let overhead = self.started.elapsed().saturating_sub(in_providers);
        let values = [
            (PROVIDER_HEADER, self.provider.to_owned()),
            (ATTEMPTS_HEADER, attempts.to_string()),
            (FALLBACKS_HEADER, fallbacks.to_string()),
            (
                OVERHEAD_HEADER,
                format!("{:.3}", overhead.as_secs_f64() * 1000.0),
            ),
        ];
        for (name, value) in values {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }
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

/// A whole answer's response under the verification headers.
fn json_response(
    body: Value,
    routed: &steadfast_router::Routed<ChatResponse>,
    started: Instant,
) -> Response {
    let mut response = axum::Json(body).into_response();
    Verify {
        provider: &routed.provider,
        attempts: &routed.attempts,
        started,
    }
    .apply(response.headers_mut());
    response
}

async fn chat(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let (bytes, guard) = match admit(&s, &headers, body).await {
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
                let body = completion(&routed.value, &routed.model);
                let response = json_response(body, &routed, started);
                drop(guard);
                response
            }
            Err(e) => failed(&e, started, Wire::OpenAi),
        }
    }
}

/// `POST /v1/messages`: the Anthropic wire format over the same routing.
async fn messages(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let (bytes, guard) = match admit(&s, &headers, body).await {
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
                        Ok(body) => json_response(body, &routed, started),
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
