//! The gateway's own metric handles, each made on its first use and kept.
//!
//! `metrics::counter!(name, labels)` looks its series up in the recorder's registry on
//! every call (the name and labels hashed, a shard locked); a handle kept here does that
//! once, and each request then only adds to it. Handles bind to the recorder installed
//! when they are made, as the router's `MetricsObserver` does: install the recorder
//! before the gateway serves. Routes and statuses outside the known sets are looked up
//! per request, as before.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::StatusCode;
use metrics::{Counter, Gauge, Histogram, SharedString};

use crate::routes::{DURATION, REQUESTS};

/// The open client connections.
pub(crate) const CONNECTIONS: &str = "steadfast.gateway.connections";
/// The requests holding a concurrency slot.
pub(crate) const IN_FLIGHT: &str = "steadfast.gateway.in_flight";

/// The `route` labels kept as static strings (the gateway's routes and `unmatched`); any
/// other is copied.
const ROUTES: [&str; 9] = [
    "/health",
    "/v1/chat/completions",
    "/chat/completions",
    "/v1/models",
    "/models",
    "/health/providers",
    "/metrics",
    "/v1/messages",
    "unmatched",
];

/// The statuses whose label is a static string.
const STATUSES: [(u16, &str); 11] = [
    (200, "200"),
    (400, "400"),
    (401, "401"),
    (404, "404"),
    (405, "405"),
    (413, "413"),
    (429, "429"),
    (500, "500"),
    (502, "502"),
    (503, "503"),
    (504, "504"),
];

/// A request's route: one of [`ROUTES`] by index, or another path.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    Known(usize),
    Other(String),
}

impl Route {
    /// The route of a request: as registered, `unmatched` without one.
    pub(crate) fn of(path: Option<&MatchedPath>) -> Route {
        let path = path.map_or("unmatched", MatchedPath::as_str);
        match ROUTES.iter().position(|r| *r == path) {
            Some(i) => Route::Known(i),
            None => Route::Other(path.to_owned()),
        }
    }

    fn label(&self) -> SharedString {
        match self {
            Route::Known(i) => SharedString::const_str(ROUTES[*i]),
            Route::Other(path) => SharedString::from_owned(path.clone()),
        }
    }
}

/// The `status` label of an answer: its three digits.
fn status_label(status: StatusCode) -> SharedString {
    match STATUSES.iter().find(|(code, _)| *code == status.as_u16()) {
        Some((_, text)) => SharedString::const_str(text),
        None => SharedString::from_owned(status.as_str().to_owned()),
    }
}

/// The handles, one per series, made on first use.
#[derive(Default)]
pub(crate) struct Meters {
    requests: [[OnceLock<Counter>; STATUSES.len()]; ROUTES.len()],
    duration: [OnceLock<Histogram>; ROUTES.len()],
    /// Requests in flight (streams until their last byte).
    in_flight: OnceLock<Gauge>,
    connections: OnceLock<Gauge>,
}

impl Meters {
    /// Counts one answer of `route` with `status`, and its time to headers.
    pub(crate) fn answered(&self, route: &Route, status: StatusCode, took: Duration) {
        let seconds = took.as_secs_f64();
        let known_status = STATUSES.iter().position(|(c, _)| *c == status.as_u16());
        match (route, known_status) {
            (Route::Known(r), Some(s)) => {
                self.requests[*r][s]
                    .get_or_init(|| counter(route, status))
                    .increment(1);
            }
            _ => counter(route, status).increment(1),
        }
        match route {
            Route::Known(r) => self.duration[*r]
                .get_or_init(|| histogram(route))
                .record(seconds),
            Route::Other(_) => histogram(route).record(seconds),
        }
    }

    /// The gauge of requests in flight.
    pub(crate) fn in_flight(&self) -> &Gauge {
        self.in_flight.get_or_init(|| metrics::gauge!(IN_FLIGHT))
    }

    /// The gauge of open connections.
    pub(crate) fn connections(&self) -> &Gauge {
        self.connections
            .get_or_init(|| metrics::gauge!(CONNECTIONS))
    }
}

fn counter(route: &Route, status: StatusCode) -> Counter {
    metrics::counter!(REQUESTS, "route" => route.label(), "status" => status_label(status))
}

fn histogram(route: &Route) -> Histogram {
    metrics::histogram!(DURATION, "route" => route.label())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::StatusCode;
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::{Meters, Route, status_label};

    #[test]
    fn status_labels_are_the_three_digits() {
        for code in [200, 201, 401, 418, 503, 599] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(&*status_label(status), code.to_string());
        }
    }

    /// A kept handle counts into the same series as a fresh lookup would, for known and
    /// unknown routes and statuses alike.
    #[test]
    fn kept_handles_count_into_the_labelled_series() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let meters = Meters::default();
            let chat = Route::Known(1);
            let other = Route::Other("/elsewhere".into());
            for _ in 0..3 {
                meters.answered(&chat, StatusCode::OK, Duration::from_millis(2));
            }
            meters.answered(&chat, StatusCode::IM_A_TEAPOT, Duration::ZERO);
            meters.answered(&other, StatusCode::OK, Duration::ZERO);
            meters.in_flight().increment(2.0);
            meters.in_flight().decrement(1.0);
            meters.connections().increment(1.0);
        });
        let text = handle.render();
        for line in [
            r#"steadfast_gateway_requests{route="/v1/chat/completions",status="200"} 3"#,
            r#"steadfast_gateway_requests{route="/v1/chat/completions",status="418"} 1"#,
            r#"steadfast_gateway_requests{route="/elsewhere",status="200"} 1"#,
            r#"steadfast_gateway_request_duration_count{route="/v1/chat/completions"} 4"#,
            "steadfast_gateway_in_flight 1",
            "steadfast_gateway_connections 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
    }
}
