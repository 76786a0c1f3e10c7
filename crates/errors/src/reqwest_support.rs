//! Classifying `reqwest::Error` (feature `reqwest`) by the types in its cause chain.
//!
//! The chain is walked through `source()` and into the errors that `std::io::Error`s wrap;
//! `hyper::Error` (parse, incomplete message, closed, timeout), `rustls::Error` and
//! `std::io::ErrorKind` say what happened, together with `reqwest::Error`'s own
//! `is_timeout` / `is_connect` / `is_decode` / `is_body`. The chain's text is consulted
//! only for what no type names (a DNS failure: the resolver's error is boxed as text), and
//! as a last resort for errors of libraries this crate does not know.

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
    let flags = Flags {
        timeout: err.is_timeout(),
        connect: err.is_connect(),
        decode: err.is_decode() || err.is_body(),
    };
    let failure = decide(&Seen::in_chain(&err), flags, || chain_text(&err));
    let detail = chain_text(&err);
    ProviderError::new(
        failure.kind(),
        provider.as_str(),
        format!("{}: {detail}", failure.describe()),
    )
    .with_transport(failure)
    .with_source(err)
}

/// What `reqwest::Error` says about itself.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    timeout: bool,
    connect: bool,
    /// `is_decode() || is_body()`.
    decode: bool,
}

/// The typed facts found in a cause chain.
#[derive(Debug, Default)]
struct Seen {
    io: Vec<io::ErrorKind>,
    tls: bool,
    /// `hyper::Error::is_parse` / `is_parse_status`: the response was not valid HTTP.
    malformed: bool,
    /// `hyper::Error::is_incomplete_message` / `is_closed` / `is_canceled`.
    cut: bool,
    timeout: bool,
}

/// How deep a cause chain is followed (a chain is short; this only guards against a cycle).
const MAX_DEPTH: usize = 32;

impl Seen {
    fn in_chain(err: &(dyn StdError + 'static)) -> Seen {
        let mut seen = Seen::default();
        seen.walk(err, 0);
        seen
    }

    fn walk(&mut self, err: &(dyn StdError + 'static), depth: usize) {
        let mut next = Some(err);
        let mut depth = depth;
        while let Some(e) = next {
            if depth >= MAX_DEPTH {
                return;
            }
            depth += 1;
            self.note(e);
            if let Some(inner) = e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
                // `io::Error::source` skips the error it wraps: look at that one too.
                self.walk(inner, depth);
            }
            next = e.source();
        }
    }

    fn note(&mut self, e: &(dyn StdError + 'static)) {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            self.io.push(io.kind());
        }
        if e.is::<rustls::Error>() {
            self.tls = true;
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            self.malformed |= h.is_parse() || h.is_parse_status();
            self.cut |= h.is_incomplete_message() || h.is_closed() || h.is_canceled();
            self.timeout |= h.is_timeout();
        }
    }

    fn has_io(&self, kinds: &[io::ErrorKind]) -> bool {
        self.io.iter().any(|k| kinds.contains(k))
    }
}

/// Types first, text last.
fn decide(seen: &Seen, flags: Flags, text: impl FnOnce() -> String) -> Transport {
    use io::ErrorKind as Io;
    if flags.timeout || seen.timeout || seen.has_io(&[Io::TimedOut]) {
        return if flags.connect {
            Transport::ConnectTimeout
        } else {
            Transport::ReadTimeout
        };
    }
    if seen.tls {
        return Transport::Tls;
    }
    if seen.has_io(&[Io::ConnectionRefused]) {
        return Transport::ConnectRefused;
    }
    if seen.malformed {
        return Transport::MalformedResponse;
    }
    if seen.cut
        || seen.has_io(&[
            Io::ConnectionReset,
            Io::ConnectionAborted,
            Io::BrokenPipe,
            Io::UnexpectedEof,
        ])
    {
        return Transport::ConnectionReset;
    }
    // After the connection checks: reqwest reports a body cut by a closed connection as a
    // decode error too, but that is the network's failure, not the provider's bytes.
    if flags.decode {
        return Transport::BodyDecode;
    }
    from_text(&text().to_ascii_lowercase(), flags)
}

/// The last resort: what the chain's text says, for failures no known type describes.
fn from_text(text: &str, flags: Flags) -> Transport {
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&[
        "dns error",
        "failed to lookup address",
        "name or service not known",
        "no such host",
    ]) {
        return Transport::Dns;
    }
    if has(&["tls", "certificate", "handshake"]) {
        return Transport::Tls;
    }
    if has(&["connection closed", "connection reset"]) {
        return Transport::ConnectionReset;
    }
    if flags.connect {
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
    .take(MAX_DEPTH)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An error whose text lies about its cause, wrapping `inner`.
    #[derive(Debug)]
    struct Wrapper(Box<dyn StdError + Send + Sync>);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("tls dns error connection closed")
        }
    }

    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.0)
        }
    }

    fn lying_text() -> String {
        "dns error tls handshake connection closed".to_owned()
    }

    fn typed(err: &(dyn StdError + 'static), flags: Flags) -> Transport {
        decide(&Seen::in_chain(err), flags, lying_text)
    }

    #[test]
    fn types_decide_before_any_text() {
        let io = |k| Wrapper(Box::new(io::Error::new(k, "tls dns error")));
        let no = Flags::default();
        let cases = [
            (io::ErrorKind::ConnectionRefused, Transport::ConnectRefused),
            (io::ErrorKind::ConnectionReset, Transport::ConnectionReset),
            (io::ErrorKind::ConnectionAborted, Transport::ConnectionReset),
            (io::ErrorKind::UnexpectedEof, Transport::ConnectionReset),
            (io::ErrorKind::TimedOut, Transport::ReadTimeout),
        ];
        for (kind, want) in cases {
            assert_eq!(typed(&io(kind), no), want, "{kind:?}");
        }
        let connect = Flags {
            connect: true,
            ..no
        };
        assert_eq!(
            typed(&io(io::ErrorKind::TimedOut), connect),
            Transport::ConnectTimeout
        );
    }

    #[test]
    fn a_rustls_error_inside_an_io_error_is_tls() {
        // tokio-rustls reports handshake failures as `io::Error(InvalidData, rustls::Error)`,
        // and `io::Error::source` does not reach the wrapped error.
        let inner = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::General("peer sent no certificates".into()),
        );
        let err = Wrapper(Box::new(inner));
        assert_eq!(
            decide(&Seen::in_chain(&err), Flags::default(), String::new),
            Transport::Tls
        );
    }

    #[test]
    fn text_is_the_last_resort() {
        let other = Wrapper(Box::new(io::Error::other("opaque")));
        let seen = Seen::in_chain(&other);
        let say = |s: &'static str| move || s.to_owned();
        let no = Flags::default();
        assert_eq!(
            decide(&seen, no, say("dns error: no such host")),
            Transport::Dns
        );
        assert_eq!(
            decide(&seen, no, say("invalid peer certificate")),
            Transport::Tls
        );
        assert_eq!(decide(&seen, no, say("something else")), Transport::Other);
        let connect = Flags {
            connect: true,
            ..no
        };
        assert_eq!(
            decide(&seen, connect, say("unknown")),
            Transport::ConnectRefused
        );
        let decode = Flags { decode: true, ..no };
        assert_eq!(
            decide(&seen, decode, say("dns error")),
            Transport::BodyDecode
        );
    }

    #[test]
    fn a_cyclic_or_endless_chain_ends() {
        #[derive(Debug)]
        struct Endless;
        impl std::fmt::Display for Endless {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("again")
            }
        }
        impl StdError for Endless {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&Endless)
            }
        }
        assert_eq!(
            decide(&Seen::in_chain(&Endless), Flags::default(), String::new),
            Transport::Other
        );
    }
}
