//! wiremock helpers: the response shapes provider tests serve, a response sequence, and
//! counting what a server received.

use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// A response with `status`, `headers` and `body` as raw bytes; the `content-type` header
/// (default `application/json`) sets the body's type.
pub fn respond(status: u16, headers: &[(String, String)], body: &str) -> ResponseTemplate {
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("application/json");
    let mut t = ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), content_type);
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("content-type") {
            t = t.insert_header(k.as_str(), v.as_str());
        }
    }
    t
}

/// A `status` response whose body is the JSON text `body`, sent byte for byte.
pub fn json_body(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_owned(), "application/json; charset=utf-8")
}

/// A 200 server-sent event stream whose body is `body`, byte for byte.
pub fn sse(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/event-stream")
}

/// A 200 server-sent event stream of named `events` (each `(event, data)`), as Anthropic
/// frames them: `event: …\ndata: …\n\n`.
pub fn sse_events(events: &[(&str, &str)]) -> ResponseTemplate {
    let body: String = events
        .iter()
        .map(|(e, d)| format!("event: {e}\ndata: {d}\n\n"))
        .collect();
    sse(&body)
}

/// A 200 newline-delimited JSON stream whose body is `body`, as Ollama sends it.
pub fn ndjson(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_owned(), "application/x-ndjson")
}

/// Mounts `responses` on `matching`, answered in order, one request each, the last one
/// repeating for every request after it (a job polled until it ends).
///
/// `matching` builds the matcher afresh for each response (`|| Mock::given(method("GET"))`).
///
/// # Panics
///
/// When `responses` is empty.
pub async fn mount_in_order(
    server: &MockServer,
    matching: impl Fn() -> MockBuilder,
    responses: Vec<ResponseTemplate>,
) {
    assert!(!responses.is_empty(), "mount_in_order needs a response");
    let last = responses.len() - 1;
    for (i, response) in responses.into_iter().enumerate() {
        let mock: Mock = matching().respond_with(response);
        let mock = if i == last {
            mock
        } else {
            mock.up_to_n_times(1)
        };
        mock.mount(server).await;
    }
}

/// How many requests with `method` (`"GET"`, `"POST"` …) `server` has received.
///
/// # Panics
///
/// When the server was started without recording requests.
pub async fn received(server: &MockServer, method: &str) -> usize {
    server
        .received_requests()
        .await
        .expect("the mock server records requests")
        .iter()
        .filter(|r| r.method.as_str().eq_ignore_ascii_case(method))
        .count()
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::method;

    use super::*;

    /// One GET of `server`: status, lower-cased `name: value` header lines, body.
    async fn get(server: &MockServer) -> (u16, String, String) {
        let response = reqwest::get(format!("{}/x", server.uri())).await.unwrap();
        let status = response.status().as_u16();
        let head = response
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap()))
            .collect::<String>()
            .to_ascii_lowercase();
        (status, head, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn responses_come_in_order_and_the_last_repeats() {
        let server = MockServer::start().await;
        mount_in_order(
            &server,
            || Mock::given(method("GET")),
            vec![
                json_body(429, r#"{"error":"slow"}"#),
                sse_events(&[("ping", "{}")]),
                ndjson("{\"done\":true}\n"),
            ],
        )
        .await;
        let (status, head, body) = get(&server).await;
        assert_eq!((status, body.as_str()), (429, r#"{"error":"slow"}"#));
        assert!(head.contains("content-type: application/json; charset=utf-8"));
        let (status, head, body) = get(&server).await;
        assert_eq!((status, body.as_str()), (200, "event: ping\ndata: {}\n\n"));
        assert!(head.contains("content-type: text/event-stream"));
        for _ in 0..2 {
            let (_, head, body) = get(&server).await;
            assert_eq!(body, "{\"done\":true}\n");
            assert!(head.contains("content-type: application/x-ndjson"));
        }
        assert_eq!(received(&server, "GET").await, 4);
        assert_eq!(received(&server, "POST").await, 0);
    }

    #[tokio::test]
    async fn respond_sets_the_content_type_from_the_headers() {
        let server = MockServer::start().await;
        let headers = [
            ("Content-Type".to_owned(), "text/html".to_owned()),
            ("retry-after".to_owned(), "3".to_owned()),
        ];
        Mock::given(method("GET"))
            .respond_with(respond(502, &headers, "<html>"))
            .mount(&server)
            .await;
        let (status, head, body) = get(&server).await;
        assert_eq!((status, body.as_str()), (502, "<html>"));
        assert!(head.contains("content-type: text/html"), "{head}");
        assert!(head.contains("retry-after: 3"), "{head}");
    }
}
