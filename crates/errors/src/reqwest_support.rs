//! Classifying `reqwest::Error` (feature `reqwest`).

use std::error::Error as StdError;
use std::io;

use crate::error::{ProviderError, Transport};
use crate::kind::ErrorKind;
use crate::provider::Provider;

pub(crate) fn classify(provider: Provider, err: reqwest::Error) -> ProviderError {
    // URLs may carry credentials (`?key=`): never keep them.
    let err = err.without_url();
    if let Some(status) = err.status() {
        // From `error_for_status`: there is no body left to read.
        return crate::classify::response(provider, status.as_u16(), &http::HeaderMap::new(), b"")
            .with_source(err);
    }
    if err.is_builder() {
        return ProviderError::new(
            ErrorKind::InvalidRequest,
            provider.as_str(),
            format!("the request could not be built: {}", chain_text(&err)),
        )
        .with_source(err);
    }
    if err.is_redirect() {
        return ProviderError::new(ErrorKind::Protocol, provider.as_str(), "too many redirects")
            .with_source(err);
    }
    let failure = transport_of(&err);
    let detail = chain_text(&err);
    ProviderError::new(
        failure.kind(),
        provider.as_str(),
        format!("{}: {detail}", failure.describe()),
    )
    .with_transport(failure)
    .with_source(err)
}

fn transport_of(err: &reqwest::Error) -> Transport {
    let io_kinds: Vec<io::ErrorKind> = sources(err)
        .filter_map(|e| e.downcast_ref::<io::Error>().map(io::Error::kind))
        .collect();
    let text = chain_text(err).to_ascii_lowercase();
    let has_io = |k: io::ErrorKind| io_kinds.contains(&k);
    if err.is_timeout() || has_io(io::ErrorKind::TimedOut) {
        return if err.is_connect() {
            Transport::ConnectTimeout
        } else {
            Transport::ReadTimeout
        };
    }
    if text.contains("dns error")
        || text.contains("failed to lookup address")
        || text.contains("name or service not known")
        || text.contains("no such host")
    {
        return Transport::Dns;
    }
    if has_io(io::ErrorKind::ConnectionRefused) {
        return Transport::ConnectRefused;
    }
    if text.contains("tls")
        || text.contains("certificate")
        || text.contains("handshake")
        || text.contains("invalidcontenttype")
        || text.contains("corrupt message")
        || text.contains("invalid peer")
    {
        return Transport::Tls;
    }
    if has_io(io::ErrorKind::ConnectionReset)
        || has_io(io::ErrorKind::ConnectionAborted)
        || has_io(io::ErrorKind::BrokenPipe)
        || has_io(io::ErrorKind::UnexpectedEof)
        || text.contains("connection closed")
        || text.contains("connection reset")
        || text.contains("incomplete message")
        || text.contains("end of file before message length reached")
    {
        return Transport::ConnectionReset;
    }
    // After the connection checks: reqwest reports a body cut by a closed connection as a
    // decode error too, but that is the network's failure, not the provider's bytes.
    if err.is_decode() || err.is_body() {
        return Transport::BodyDecode;
    }
    if err.is_connect() {
        return Transport::ConnectRefused;
    }
    Transport::Other
}

fn sources<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(err);
    std::iter::from_fn(move || {
        let current = next?;
        next = current.source();
        Some(current)
    })
}

/// The messages of the whole cause chain, joined; reqwest's own Display names only the top.
fn chain_text(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in sources(err) {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}
