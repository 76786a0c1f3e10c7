//! Sending a request and classifying whatever comes back: the one place providers touch HTTP
//! errors.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use steadfast_errors::{ErrorKind, Provider, ProviderError, classify};

use crate::ApiKey;

mod endpoint;

pub use endpoint::Endpoint;

/// The largest error body read in order to classify it; the rest is dropped.
pub const MAX_ERROR_BODY: usize = 64 * 1024;
/// The largest non-streamed success body accepted.
pub const MAX_RESPONSE_BODY: usize = 32 * 1024 * 1024;

/// The total deadline of a streamed answer by default, for every provider: 30 minutes.
///
/// The idle timer ends a stream that goes silent; this ends one that never goes silent but
/// never finishes either (a server trickling a token just under the idle limit). Long enough
/// for the longest real answers (reasoning models that stream for many minutes); set the
/// provider's stream `total` to `None` to remove it.
pub const DEFAULT_STREAM_TOTAL: Duration = Duration::from_secs(30 * 60);

/// The most redirects to the same origin a call follows.
pub const MAX_REDIRECTS: usize = 5;

/// The message of the error a redirect to another origin becomes.
pub const CROSS_ORIGIN_REDIRECT: &str = "redirect to another origin not followed";

/// The host and port of `base_url` (the scheme's default port when it names none), for
/// telemetry's `server.address` / `server.port`: nothing else of the URL — user info, path
/// and query, where a secret may sit — comes out. `None` when it does not parse.
///
/// ```
/// use steadfast_providers_core::http::server_of;
///
/// assert_eq!(server_of("https://user:sk-secret@api.openai.com/v1?key=x"), Some(("api.openai.com".to_owned(), 443)));
/// assert_eq!(server_of("http://127.0.0.1:8080"), Some(("127.0.0.1".to_owned(), 8080)));
/// assert_eq!(server_of("not a url"), None);
/// ```
pub fn server_of(base_url: &str) -> Option<(String, u16)> {
    let url = reqwest::Url::parse(base_url).ok()?;
    Some((url.host_str()?.to_owned(), url.port_or_known_default()?))
}

/// How long a new connection may take to open (TCP and TLS) by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A reqwest client with the settings every provider shares: rustls, a
/// [`DEFAULT_CONNECT_TIMEOUT`] connect timeout, TCP_NODELAY, pooled keep-alive connections,
/// and [`redirect_policy`] (a redirect to another origin is never followed, so the key never
/// goes there). Clone it freely (it is an `Arc`).
pub fn default_client() -> reqwest::Client {
    client_with_connect_timeout(DEFAULT_CONNECT_TIMEOUT)
}

/// [`default_client`] with its own connect timeout: a connection that has not opened
/// within `connect` fails with a `timeout` error (`connect_timeout`), and the call may be
/// retried or fall back at once instead of waiting on a black-holed address.
///
/// ```
/// use std::time::Duration;
/// use steadfast_providers_core::http::client_with_connect_timeout;
///
/// let client = client_with_connect_timeout(Duration::from_millis(500));
/// # drop(client);
/// ```
pub fn client_with_connect_timeout(connect: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(redirect_policy())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The redirect policy of API calls: a redirect to the same origin (scheme, host and port)
/// is followed, at most [`MAX_REDIRECTS`] times; a redirect to another origin is not, and
/// [`Caller::send`] turns it into a `protocol` error ([`CROSS_ORIGIN_REDIRECT`]).
///
/// Build a client you pass to a provider's `with_client` with it: a client that follows
/// redirects across origins would send the key headers (`x-api-key`, `x-goog-api-key`, any
/// configured header) to the other host before steadfast sees the answer. [`Caller::send`]
/// still refuses any answer that came from another origin, but by then the request has
/// been sent.
///
/// ```
/// use steadfast_providers_core::http::redirect_policy;
///
/// let client = reqwest::Client::builder().redirect(redirect_policy()).build().unwrap();
/// # drop(client);
/// ```
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// Who is calling, for the errors: the dialect, the instance id, the model, the key to keep
/// out of every message.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The wire dialect (error table).
    pub kind: Provider,
    /// The provider instance's id, shown in errors.
    pub id: &'a str,
    /// The model the call is for.
    pub model: &'a str,
    /// The key, removed from any message that echoes it.
    pub key: Option<&'a ApiKey>,
}

impl Caller<'_> {
    /// Labels an error with this caller and scrubs the key from it.
    pub fn label(&self, err: ProviderError) -> ProviderError {
        let err = err.with_provider(self.id.to_owned());
        let err = if self.model.is_empty() {
            err
        } else {
            err.with_model(self.model.to_owned())
        };
        match self.key {
            Some(k) if !k.is_empty() => err.redact_secret(k.expose()),
            _ => err,
        }
    }

    /// The key to remove from errors, for the `*_with_secret` functions of
    /// `steadfast_errors::classify` (empty when there is none).
    pub fn secret(&self) -> &str {
        self.key.map_or("", ApiKey::expose)
    }

    /// `key` as a header value marked sensitive, so that the HTTP stack never logs it (for
    /// APIs that take the key in their own header, such as `x-api-key`). A key that cannot be
    /// a header value is a labelled `auth` error that does not show it.
    pub fn key_header(&self, key: &ApiKey) -> Result<reqwest::header::HeaderValue, ProviderError> {
        let mut value = reqwest::header::HeaderValue::from_str(key.expose()).map_err(|_| {
            self.label(ProviderError::new(
                ErrorKind::Auth,
                self.kind.as_str(),
                "the configured API key is not a valid header value",
            ))
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Sends `request`; a transport failure or a non-2xx response becomes a classified error.
    ///
    /// A redirect that was not followed (one to another origin, see [`redirect_policy`]) and
    /// an answer that came from another origin than the one asked (a client that followed
    /// it) are `protocol` errors that are not retried ([`CROSS_ORIGIN_REDIRECT`]): the base
    /// URL points somewhere that moved, and the key must not follow it.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ProviderError> {
        let (client, request) = request.build_split();
        let request = request.map_err(|e| self.label(classify::reqwest(self.kind, e)))?;
        let asked = request.url().origin();
        let response = client
            .execute(request)
            .await
            .map_err(|e| self.label(classify::reqwest(self.kind, e)))?;
        let status = response.status();
        if response.url().origin() != asked {
            return Err(self.redirect_refused(
                status.as_u16(),
                format!("{CROSS_ORIGIN_REDIRECT} (the answer came from another origin)"),
            ));
        }
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| response.url().join(v).ok());
            let message = match location {
                Some(to) if to.origin() != asked => CROSS_ORIGIN_REDIRECT.to_owned(),
                Some(_) => format!("redirect ({status}) not followed"),
                None => format!("redirect ({status}) without a usable location"),
            };
            return Err(self.redirect_refused(status.as_u16(), message));
        }
        tracing::debug!(
            provider = self.id,
            model = self.model,
            status = status.as_u16(),
            "response headers received"
        );
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = read_limited(response, MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        Err(self.label(classify::response_with_secret(
            self.kind,
            status.as_u16(),
            &headers,
            &body,
            self.secret(),
        )))
    }

    /// The error a refused redirect becomes (the other origin is not named: it may carry a
    /// token in its URL).
    fn redirect_refused(&self, status: u16, message: String) -> ProviderError {
        self.label(
            ProviderError::new(ErrorKind::Protocol, self.kind.as_str(), message)
                .with_status(status)
                .with_retryable(false),
        )
    }

    /// Reads a whole success body, refusing one over [`MAX_RESPONSE_BODY`].
    pub async fn body(&self, response: reqwest::Response) -> Result<Bytes, ProviderError> {
        match read_limited(response, MAX_RESPONSE_BODY).await {
            Ok(body) if body.len() < MAX_RESPONSE_BODY => Ok(body),
            Ok(_) => Err(self.label(ProviderError::new(
                ErrorKind::Protocol,
                self.kind.as_str(),
                "response body exceeds the size limit",
            ))),
            Err(e) => Err(self.label(classify::reqwest(self.kind, e))),
        }
    }

    /// [`body`](Self::body), the whole read bounded by `limit`: for a body read after the
    /// request's own timer stopped (a stream request answered with a whole body), so that a
    /// server that sends part of a body and then nothing cannot hold the call forever. A
    /// read past `limit` is a `timeout` error.
    pub async fn body_within(
        &self,
        response: reqwest::Response,
        limit: Duration,
    ) -> Result<Bytes, ProviderError> {
        match tokio::time::timeout(limit, self.body(response)).await {
            Ok(result) => result,
            Err(_) => Err(self.label(
                ProviderError::new(
                    ErrorKind::Timeout,
                    self.kind.as_str(),
                    format!("the response body did not arrive within {limit:?}"),
                )
                .with_transport(steadfast_errors::Transport::ReadTimeout),
            )),
        }
    }

    /// The body as a stream of chunks, transport failures classified.
    pub fn body_stream(
        &self,
        response: reqwest::Response,
    ) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send + 'static {
        let kind = self.kind;
        let id = self.id.to_owned();
        let model = self.model.to_owned();
        let key = self.key.cloned();
        response.bytes_stream().map(move |chunk| {
            chunk.map_err(|e| {
                Caller {
                    kind,
                    id: &id,
                    model: &model,
                    key: key.as_ref(),
                }
                .label(classify::reqwest(kind, e))
            })
        })
    }
}

/// Reads at most `limit` bytes of a body (the rest is not read).
async fn read_limited(response: reqwest::Response, limit: usize) -> Result<Bytes, reqwest::Error> {
    let mut stream = response.bytes_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    Ok(Bytes::from(out))
}

/// Joins a base URL and a path with exactly one slash. A query string on the base (Azure
/// OpenAI's `?api-version=…`) stays at the end.
///
/// ```
/// use steadfast_providers_core::http::join_url;
///
/// assert_eq!(join_url("https://api.openai.com/v1/", "/chat/completions"), "https://api.openai.com/v1/chat/completions");
/// assert_eq!(
///     join_url("https://r.openai.azure.com/openai/deployments/d?api-version=2024-10-21", "chat/completions"),
///     "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21",
/// );
/// ```
pub fn join_url(base: &str, path: &str) -> String {
    let (base, query) = match base.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (base, None),
    };
    let mut url = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn error_bodies_are_classified_labelled_and_scrubbed() {
        let server = MockServer::start().await;
        let key = ApiKey::new("sk-live-unusual-shape-0000");
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(401).set_body_string(
                r#"{"error":{"message":"bad key sk-live-unusual-shape-0000","type":"invalid_request_error","code":"invalid_api_key"}}"#,
            ))
            .mount(&server)
            .await;
        let caller = Caller {
            kind: Provider::OpenAi,
            id: "openai-eu",
            model: "gpt-4o",
            key: Some(&key),
        };
        let err = caller
            .send(default_client().post(server.uri()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert_eq!((err.provider(), err.model()), ("openai-eu", Some("gpt-4o")));
        assert!(!format!("{err} {err:?}").contains("sk-live-unusual-shape-0000"));
    }

    #[tokio::test]
    async fn a_huge_error_body_is_read_only_up_to_the_limit() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(502).set_body_string("x".repeat(4 * 1024 * 1024)))
            .mount(&server)
            .await;
        let caller = Caller {
            kind: Provider::OpenAi,
            id: "openai",
            model: "",
            key: None,
        };
        let err = caller
            .send(default_client().get(server.uri()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
        assert!(err.message().len() <= steadfast_errors::MAX_MESSAGE_LEN + 4);
    }
}
