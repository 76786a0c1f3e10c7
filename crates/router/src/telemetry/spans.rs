//! The span of one routed call, named and attributed per the OpenTelemetry GenAI
//! conventions (`chat {gen_ai.request.model}`), so `tracing-opentelemetry` exports it as is.
//! The chain's attempt spans (target `steadfast_fallback`) are its children.

use tracing::Span;
use tracing::field::Empty;

use steadfast_errors::ErrorKind;

use crate::metered::CallTotals;

/// The GenAI operation of every routed call.
pub(crate) const OPERATION: &str = "chat";

/// A new call span for `request_model` in model group `group`. Its fields are filled as
/// they become known ([`record_end`]). Nothing is formatted unless a subscriber wants the
/// span.
pub(crate) fn call_span(group: &str, request_model: &str, stream: bool) -> Span {
    tracing::info_span!(
        target: "steadfast_router",
        "chat",
        otel.name = %format_args!("{OPERATION} {request_model}"),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = OPERATION,
        gen_ai.request.model = request_model,
        gen_ai.provider.name = Empty,
        gen_ai.response.model = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        error.type = Empty,
        steadfast.model_group = group,
        steadfast.provider = Empty,
        steadfast.stream = stream,
    )
}

/// Fills in how the call ended: who answered (`provider` id and its GenAI name), with which
/// model, the tokens billed, and the error kind when it failed.
pub(crate) fn record_end(
    span: &Span,
    answered: Option<(&str, &str, &str)>,
    totals: &CallTotals,
    error: Option<ErrorKind>,
) {
    if span.is_disabled() {
        return;
    }
    if let Some((provider, provider_name, model)) = answered {
        span.record("steadfast.provider", provider);
        span.record("gen_ai.provider.name", provider_name);
        span.record("gen_ai.response.model", model);
    }
    span.record("gen_ai.usage.input_tokens", totals.usage.input_tokens);
    span.record("gen_ai.usage.output_tokens", totals.usage.output_tokens);
    if let Some(kind) = error {
        span.record("error.type", kind.as_str());
        span.record("otel.status_code", "ERROR");
    }
}
