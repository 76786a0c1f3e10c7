//! A provider's URL, parsed once and sent with its `Host` header already built.

use reqwest::header::{HOST, HeaderValue};

/// A URL as joined from the configuration (see [`join_url`](super::join_url)), parsed once
/// when it parses rather than by reqwest on every call. One that does not parse is handed to
/// reqwest as text, so it fails as it always did.
///
/// A plain `http://` URL also carries its `Host` header (`host`, or `host:port` off the
/// scheme's default port: what the HTTP/1 client would format for every request). Local
/// servers — vLLM, llama.cpp, Ollama — are where a call's own cost shows. An `https://` URL
/// carries none: the connection may speak HTTP/2, which names the host in `:authority`.
///
/// ```
/// use steadfast_providers_core::http::Endpoint;
///
/// let client = reqwest::Client::new();
/// let local = Endpoint::new("http://127.0.0.1:8080/v1/chat/completions".into());
/// let request = local.post(&client).build().unwrap();
/// assert_eq!(request.url().as_str(), "http://127.0.0.1:8080/v1/chat/completions");
/// assert_eq!(request.headers()["host"], "127.0.0.1:8080");
///
/// let remote = Endpoint::new("https://api.openai.com/v1/chat/completions".into());
/// assert!(remote.post(&client).build().unwrap().headers().get("host").is_none());
/// ```
#[derive(Clone)]
pub struct Endpoint {
    text: String,
    parsed: Option<reqwest::Url>,
    host: Option<HeaderValue>,
}

/// Never the URL: it may hold a password or a `?key=` (the configurations' Debug redact them).
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Endpoint { .. }")
    }
}

impl Endpoint {
    /// The endpoint at `text`.
    pub fn new(text: String) -> Endpoint {
        let parsed = reqwest::Url::parse(&text).ok();
        let host = parsed.as_ref().and_then(host_header);
        Endpoint { text, parsed, host }
    }

    /// A `method` request to this URL: what `client.request(method, text)` builds, with the
    /// `Host` header of a plain `http://` URL.
    pub fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
    ) -> reqwest::RequestBuilder {
        let builder = match &self.parsed {
            Some(url) => client.request(method, url.clone()),
            None => client.request(method, self.text.as_str()),
        };
        match &self.host {
            Some(host) => builder.header(HOST, host.clone()),
            None => builder,
        }
    }

    /// A POST to this URL ([`request`](Self::request)).
    pub fn post(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        self.request(client, reqwest::Method::POST)
    }
}

/// The `Host` header hyper's HTTP/1 client writes for `url`, for plain `http` only.
fn host_header(url: &reqwest::Url) -> Option<HeaderValue> {
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    // `port()` is `None` on the scheme's default port, as hyper leaves it out there.
    let value = match url.port() {
        Some(port) => HeaderValue::try_from(format!("{host}:{port}")).ok()?,
        None => HeaderValue::from_str(host).ok()?,
    };
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    /// An endpoint parsed once requests exactly where (and fails exactly as) its text would.
    #[test]
    fn an_endpoint_requests_where_its_text_would() {
        let client = reqwest::Client::new();
        for text in [
            "http://127.0.0.1:8080/v1/chat/completions",
            "https://api.example.com/v1/../v1/chat/completions?x=1",
            "HTTP://Example.COM:443/chat/completions",
            "http://user:pw@[::1]:80/api/chat",
            "not a url/chat/completions",
            "file:///etc/hosts/chat/completions",
        ] {
            let endpoint = Endpoint::new(text.to_owned());
            let url = |b: reqwest::RequestBuilder| {
                b.build()
                    .map(|r| r.url().to_string())
                    .map_err(|e| e.to_string())
            };
            for method in [reqwest::Method::POST, reqwest::Method::GET] {
                assert_eq!(
                    url(endpoint.request(&client, method.clone())),
                    url(client.request(method, text)),
                    "{text}"
                );
            }
        }
    }

    /// The prebuilt `Host` is the one hyper would have written: port only off the default,
    /// never the user info, IPv6 in brackets; none over https.
    #[test]
    fn the_host_header_is_the_one_hyper_writes() {
        let client = reqwest::Client::new();
        for (text, host) in [
            ("http://127.0.0.1:8080/x", Some("127.0.0.1:8080")),
            ("http://Example.COM:80/x", Some("example.com")),
            ("http://user:pw@[::1]:81/x", Some("[::1]:81")),
            ("http://localhost/x", Some("localhost")),
            ("https://api.example.com/x", None),
            ("https://api.example.com:8443/x", None),
        ] {
            let request = Endpoint::new(text.to_owned())
                .post(&client)
                .build()
                .unwrap();
            let sent = request.headers().get("host").map(|v| v.to_str().unwrap());
            assert_eq!(sent, host, "{text}");
        }
    }

    /// On the wire, the server sees one `Host`, the same as a request from the text sends.
    #[tokio::test]
    async fn the_server_sees_one_host_as_from_the_text() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let client = reqwest::Client::new();
        let url = format!("{}/v1/chat/completions", server.uri());
        client.post(url.as_str()).send().await.unwrap();
        Endpoint::new(url).post(&client).send().await.unwrap();
        let seen = server.received_requests().await.unwrap();
        let hosts: Vec<Vec<_>> = seen
            .iter()
            .map(|r| r.headers.get_all("host").iter().cloned().collect())
            .collect();
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[0].len(), 1, "{hosts:?}");
        assert_eq!(hosts[0], hosts[1]);
    }
}
