//! `ProviderError`: one classified failure of one call, with everything needed to act on it.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::kind::{Category5, Category7, ErrorKind, Owner};
use crate::redact;

/// The longest message kept in an error, in bytes; longer ones are cut at a character
/// boundary and end with `…`. An HTML error page or a runaway body never grows an error.
pub const MAX_MESSAGE_LEN: usize = 1024;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A failure that happened before any HTTP response: the transport's own errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Transport {
    /// Nothing listens at the address (`ECONNREFUSED`).
    ConnectRefused,
    /// The peer reset or closed the connection before a response.
    ConnectionReset,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// Connecting took longer than the connect timeout.
    ConnectTimeout,
    /// The response (or a chunk of it) took longer than the read timeout.
    ReadTimeout,
    /// The response body could not be read or decoded.
    BodyDecode,
    /// The response was not well-formed HTTP (a bad status line or header, a header block
    /// over the client's limit).
    MalformedResponse,
    /// Another transport failure.
    Other,
}

impl Transport {
    /// Every transport failure.
    pub const ALL: [Transport; 9] = [
        Transport::ConnectRefused,
        Transport::ConnectionReset,
        Transport::Dns,
        Transport::Tls,
        Transport::ConnectTimeout,
        Transport::ReadTimeout,
        Transport::BodyDecode,
        Transport::MalformedResponse,
        Transport::Other,
    ];

    /// The `snake_case` name used by the fixture format.
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::ConnectRefused => "connect_refused",
            Transport::ConnectionReset => "connection_reset",
            Transport::Dns => "dns",
            Transport::Tls => "tls",
            Transport::ConnectTimeout => "connect_timeout",
            Transport::ReadTimeout => "read_timeout",
            Transport::BodyDecode => "body_decode",
            Transport::MalformedResponse => "malformed_response",
            Transport::Other => "other",
        }
    }

    /// The kind a transport failure classifies as.
    pub const fn kind(self) -> ErrorKind {
        match self {
            Transport::ConnectRefused
            | Transport::ConnectionReset
            | Transport::Dns
            | Transport::Tls
            | Transport::Other => ErrorKind::Network,
            Transport::ConnectTimeout | Transport::ReadTimeout => ErrorKind::Timeout,
            Transport::BodyDecode | Transport::MalformedResponse => ErrorKind::Protocol,
        }
    }

    /// A short human description.
    pub const fn describe(self) -> &'static str {
        match self {
            Transport::ConnectRefused => "connection refused",
            Transport::ConnectionReset => "connection reset",
            Transport::Dns => "dns lookup failed",
            Transport::Tls => "tls handshake failed",
            Transport::ConnectTimeout => "connect timed out",
            Transport::ReadTimeout => "read timed out",
            Transport::BodyDecode => "response body could not be decoded",
            Transport::MalformedResponse => "malformed http response",
            Transport::Other => "transport failure",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transport::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown transport failure `{}`",
                    s.chars().take(64).collect::<String>()
                )
            })
    }
}

/// One classified failure of a call to a provider.
///
/// Built by [`classify`](crate::classify) from what the wire gave, or by hand with
/// [`ProviderError::new`] and the `with_*` methods. The struct is opaque so it can grow;
/// it is one pointer wide, so `Result<T, ProviderError>` stays small.
///
/// Its [`Display`](fmt::Display) is meant for a human who has to act:
///
/// ```
/// use std::time::Duration;
/// use steadfast_errors::{ErrorKind, ProviderError};
///
/// let err = ProviderError::new(ErrorKind::RateLimited, "openai", "Rate limit reached for gpt-4o")
///     .with_status(429)
///     .with_code("rate_limit_exceeded")
///     .with_retry_after(Duration::from_secs(3));
/// assert_eq!(
///     err.to_string(),
///     "openai: rate_limited (429 rate_limit_exceeded) retry after 3s: Rate limit reached for gpt-4o"
/// );
/// assert!(err.is_retryable());
/// ```
///
/// Messages pass through [`redact`](crate::redact::redact) when they enter the error, so
/// neither Display nor Debug ever shows an API key or a bearer token.
pub struct ProviderError {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    owner: Owner,
    retryable: bool,
    provider: Cow<'static, str>,
    model: Option<String>,
    status: Option<u16>,
    code: Option<String>,
    error_type: Option<String>,
    message: String,
    retry_after: Option<Duration>,
    transport: Option<Transport>,
    first_byte_received: bool,
    request_id: Option<String>,
    source: Option<BoxError>,
}

impl ProviderError {
    /// A new error of `kind` from `provider`; the message is redacted and bounded.
    ///
    /// Retryability and owner start as the kind's defaults.
    pub fn new(
        kind: ErrorKind,
        provider: impl Into<Cow<'static, str>>,
        message: impl AsRef<str>,
    ) -> ProviderError {
        ProviderError {
            inner: Box::new(Inner {
                kind,
                owner: kind.owner(),
                retryable: kind.is_retryable(),
                provider: provider.into(),
                model: None,
                status: None,
                code: None,
                error_type: None,
                message: clean_message(message.as_ref()),
                retry_after: None,
                transport: None,
                first_byte_received: false,
                request_id: None,
                source: None,
            }),
        }
    }

    /// Sets the provider name shown in messages (e.g. a deployment name such as `openai-eu`).
    pub fn with_provider(mut self, provider: impl Into<Cow<'static, str>>) -> Self {
        self.inner.provider = provider.into();
        self
    }

    /// Sets the model the call was for.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.inner.model = Some(model.into());
        self
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Sets the provider's own error code (e.g. `insufficient_quota`).
    pub fn with_code(mut self, code: impl AsRef<str>) -> Self {
        self.inner.code = Some(clean_code(code.as_ref()));
        self
    }

    /// Sets the provider's own error type (e.g. Anthropic's `overloaded_error`, Gemini's
    /// `RESOURCE_EXHAUSTED`).
    pub fn with_error_type(mut self, error_type: impl AsRef<str>) -> Self {
        self.inner.error_type = Some(clean_code(error_type.as_ref()));
        self
    }

    /// Sets the retry hint; it is clamped to [`MAX_RETRY_HINT`](crate::hint::MAX_RETRY_HINT).
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.inner.retry_after = Some(crate::hint::cap(after));
        self
    }

    /// Overrides whether the same provider may be tried again (as `x-should-retry` does).
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.inner.retryable = retryable;
        self
    }

    /// Overrides who is at fault (e.g. [`Owner::Local`] for a local rate limit).
    pub fn with_owner(mut self, owner: Owner) -> Self {
        self.inner.owner = owner;
        self
    }

    /// Records which transport failure this was.
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.inner.transport = Some(transport);
        self
    }

    /// Records whether the failure came after the first byte of a streamed body.
    pub fn with_first_byte_received(mut self, received: bool) -> Self {
        self.inner.first_byte_received = received;
        self
    }

    /// Records the provider's request id (for support tickets).
    pub fn with_request_id(mut self, id: impl AsRef<str>) -> Self {
        self.inner.request_id = Some(clean_code(id.as_ref()));
        self
    }

    /// Keeps the underlying cause, available through [`Error::source`](StdError::source).
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// Removes a known secret (the configured API key) from every text the error holds:
    /// message, code, type, request id, model, provider name and the source's text.
    ///
    /// Classification already removes anything that *looks* like a key; a provider that
    /// knows its exact key calls this as well, so that a key of any shape never shows: the
    /// whole value and every run of at least
    /// [`MIN_SECRET_FRAGMENT`](crate::redact::MIN_SECRET_FRAGMENT) characters of it are
    /// removed, as [`redact_secret`](crate::redact::redact_secret) describes. A source whose
    /// text held the secret is replaced by its redacted text (it can then no longer be
    /// downcast). Prefer the `*_with_secret` functions of [`classify`](crate::classify) when
    /// classifying, which also redact before any field is cut to its bound.
    ///
    /// ```
    /// use steadfast_errors::{ErrorKind, ProviderError};
    ///
    /// let key = "quokka-Mango-7731-zebra-Lime";
    /// let err = ProviderError::new(ErrorKind::Auth, "llamacpp", "no such key quokka-Mango-77")
    ///     .with_status(401)
    ///     .with_code(key)
    ///     .redact_secret(key);
    /// assert_eq!(err.to_string(), "llamacpp: auth (401 [REDACTED]): no such key [REDACTED]");
    /// ```
    #[must_use]
    pub fn redact_secret(mut self, secret: &str) -> Self {
        let i = &mut *self.inner;
        let scrub = |field: &mut String| {
            if let Cow::Owned(clean) = redact::redact_secret(field, secret) {
                *field = clean;
            }
        };
        scrub(&mut i.message);
        i.message = bound(std::mem::take(&mut i.message), MAX_MESSAGE_LEN);
        for field in [
            &mut i.model,
            &mut i.code,
            &mut i.error_type,
            &mut i.request_id,
        ]
        .into_iter()
        .flatten()
        {
            scrub(field);
        }
        if let Cow::Owned(clean) = redact::redact_secret(&i.provider, secret) {
            i.provider = Cow::Owned(clean);
        }
        if let Some(source) = &i.source
            && let Cow::Owned(clean) = redact::redact_secret(&source.to_string(), secret)
        {
            i.source = Some(BoxError::from(redact::redact(&clean).into_owned()));
        }
        self
    }

    /// Why the call failed.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Who is at fault.
    pub fn owner(&self) -> Owner {
        self.inner.owner
    }

    /// Whether the same provider may be tried again: the kind's rule unless the provider
    /// said otherwise (`x-should-retry`) or a table rule overrides it.
    pub fn is_retryable(&self) -> bool {
        self.inner.retryable
    }

    /// Whether this failure counts against the provider's health.
    pub fn counts_against_health(&self) -> bool {
        self.inner.kind.counts_against_health()
    }

    /// The provider name (`openai`, or a deployment name set with [`with_provider`](Self::with_provider)).
    pub fn provider(&self) -> &str {
        &self.inner.provider
    }

    /// The model, when known.
    pub fn model(&self) -> Option<&str> {
        self.inner.model.as_deref()
    }

    /// The HTTP status, when there was a response.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The provider's error code as received, when it sent one.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    /// The provider's error type (or Gemini `status`) as received, when it sent one.
    pub fn error_type(&self) -> Option<&str> {
        self.inner.error_type.as_deref()
    }

    /// The most specific identifier the provider gave: a non-numeric code, else the type,
    /// else a numeric code.
    pub fn provider_code(&self) -> Option<&str> {
        let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        match (self.code(), self.error_type()) {
            (Some(c), _) if !numeric(c) => Some(c),
            (_, Some(t)) => Some(t),
            (c, None) => c,
        }
    }

    /// The message, redacted and at most [`MAX_MESSAGE_LEN`] bytes.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// How long the provider asked us to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The transport failure, when there was no HTTP response.
    pub fn transport(&self) -> Option<Transport> {
        self.inner.transport
    }

    /// Whether the failure happened after the first byte of a streamed body arrived.
    pub fn first_byte_received(&self) -> bool {
        self.inner.first_byte_received
    }

    /// The provider's request id, when it sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The seed-000 five-category view of the kind.
    pub fn category5(&self) -> Category5 {
        self.inner.kind.category5()
    }

    /// The seed-002 seven-category view of the kind.
    pub fn category7(&self) -> Category7 {
        self.inner.kind.category7()
    }
}

/// Strips control characters, redacts and bounds a message, in that order: redacting
/// before cutting means a credential across the cut is removed whole, not left as a prefix.
fn clean_message(raw: &str) -> String {
    let head = head(raw.trim(), MAX_MESSAGE_LEN);
    let mut out = String::with_capacity(head.len());
    let mut last_space = false;
    for c in head.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    let out = match redact::redact(&out) {
        Cow::Borrowed(_) => out,
        Cow::Owned(clean) => clean,
    };
    bound(out, MAX_MESSAGE_LEN)
}

/// Cuts `text` to at most `limit` bytes at a character boundary, ending it with `…` when cut.
fn bound(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.truncate(text.trim_end().len());
        text.push('…');
    }
    text.truncate(text.trim_end().len());
    text
}

/// The start of `raw` that is enough to fill `limit` bytes after redaction, four times that
/// at most, cut between tokens (never inside a run of key characters) where it can be.
fn head(raw: &str, limit: usize) -> &str {
    let window = limit.saturating_mul(4);
    if raw.len() <= window {
        return raw;
    }
    let mut cut = window;
    while !raw.is_char_boundary(cut) {
        cut -= 1;
    }
    let token_char = |c: char| c.is_ascii_alphanumeric() || "-_*.+/=".contains(c);
    match raw[..cut].rfind(|c: char| !token_char(c)) {
        Some(at) if at > limit => &raw[..at],
        _ => &raw[..cut],
    }
}

/// Codes and ids are short identifiers: redact, then bound them.
fn clean_code(raw: &str) -> String {
    let head = head(raw.trim(), 128);
    let no_controls: String = head.chars().filter(|c| !c.is_control()).collect();
    let clean = redact::redact(&no_controls);
    clean.chars().take(128).collect()
}

fn fmt_duration(d: Duration, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let ms = d.as_millis();
    if ms < 1000 {
        write!(f, "{ms}ms")
    } else if ms.is_multiple_of(1000) {
        write!(f, "{}s", ms / 1000)
    } else {
        let s = format!("{:.3}", d.as_secs_f64());
        write!(f, "{}s", s.trim_end_matches('0'))
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &*self.inner;
        f.write_str(&i.provider)?;
        if let Some(model) = &i.model {
            write!(f, "/{model}")?;
        }
        write!(f, ": {}", i.kind)?;
        let code = self.provider_code();
        match (i.status, code, i.transport) {
            (Some(s), Some(c), _) => write!(f, " ({s} {c})")?,
            (Some(s), None, _) => write!(f, " ({s})")?,
            (None, Some(c), _) => write!(f, " ({c})")?,
            (None, None, Some(t)) => write!(f, " ({})", t.describe())?,
            (None, None, None) => {}
        }
        if let Some(after) = i.retry_after {
            f.write_str(" retry after ")?;
            fmt_duration(after, f)?;
        }
        if !i.message.is_empty() {
            write!(f, ": {}", i.message)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &*self.inner;
        let mut d = f.debug_struct("ProviderError");
        d.field("kind", &i.kind)
            .field("provider", &i.provider)
            .field("model", &i.model)
            .field("status", &i.status)
            .field("code", &i.code)
            .field("error_type", &i.error_type)
            .field("message", &i.message)
            .field("retry_after", &i.retry_after)
            .field("retryable", &i.retryable)
            .field("owner", &i.owner)
            .field("transport", &i.transport)
            .field("first_byte_received", &i.first_byte_received)
            .field("request_id", &i.request_id);
        // The source's own Debug may print URLs or headers: show its redacted Display only.
        let source = i
            .source
            .as_ref()
            .map(|s| redact::redact(&s.to_string()).into_owned());
        d.field("source", &source).finish()
    }
}

impl StdError for ProviderError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl Clone for ProviderError {
    /// Clones everything but the source, which is not `Clone`; the clone keeps the source's
    /// (redacted) text as its own source instead.
    fn clone(&self) -> Self {
        let i = &*self.inner;
        ProviderError {
            inner: Box::new(Inner {
                kind: i.kind,
                owner: i.owner,
                retryable: i.retryable,
                provider: i.provider.clone(),
                model: i.model.clone(),
                status: i.status,
                code: i.code.clone(),
                error_type: i.error_type.clone(),
                message: i.message.clone(),
                retry_after: i.retry_after,
                transport: i.transport,
                first_byte_received: i.first_byte_received,
                request_id: i.request_id.clone(),
                source: i
                    .source
                    .as_ref()
                    .map(|s| BoxError::from(redact::redact(&s.to_string()).into_owned())),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_omits_what_is_absent() {
        let e = ProviderError::new(ErrorKind::Network, "deepseek", "")
            .with_transport(Transport::ConnectionReset);
        assert_eq!(e.to_string(), "deepseek: network (connection reset)");
        let e = ProviderError::new(ErrorKind::Overloaded, "anthropic", "Overloaded")
            .with_error_type("overloaded_error")
            .with_model("claude-x")
            .with_retry_after(Duration::from_millis(1500));
        assert_eq!(
            e.to_string(),
            "anthropic/claude-x: overloaded (overloaded_error) retry after 1.5s: Overloaded"
        );
        let e = ProviderError::new(ErrorKind::Server, "openai", "boom")
            .with_status(500)
            .with_retry_after(Duration::from_millis(250));
        assert_eq!(
            e.to_string(),
            "openai: server (500) retry after 250ms: boom"
        );
    }

    #[test]
    fn provider_code_prefers_a_named_code() {
        let e = ProviderError::new(ErrorKind::RateLimited, "gemini", "x")
            .with_code("429")
            .with_error_type("RESOURCE_EXHAUSTED");
        assert_eq!(e.provider_code(), Some("RESOURCE_EXHAUSTED"));
        let e = ProviderError::new(ErrorKind::QuotaExhausted, "openrouter", "x").with_code("402");
        assert_eq!(e.provider_code(), Some("402"));
        let e = ProviderError::new(ErrorKind::RateLimited, "openai", "x")
            .with_code("rate_limit_exceeded")
            .with_error_type("requests");
        assert_eq!(e.provider_code(), Some("rate_limit_exceeded"));
    }

    #[test]
    fn messages_are_bounded_and_single_line() {
        let long = "é".repeat(5000);
        let e = ProviderError::new(ErrorKind::Server, "x", &long);
        assert!(e.message().len() <= MAX_MESSAGE_LEN + '…'.len_utf8());
        assert!(e.message().ends_with('…'));
        let e = ProviderError::new(ErrorKind::Server, "x", "line one\r\n\tline two\u{0}");
        assert_eq!(e.message(), "line one line two");
    }

    #[test]
    fn overrides_and_clone_keep_everything_but_a_live_source() {
        let io = std::io::Error::other("reset by peer");
        let e = ProviderError::new(ErrorKind::Server, "x", "m")
            .with_retryable(false)
            .with_owner(Owner::Local)
            .with_source(io);
        assert!(!e.is_retryable());
        assert_eq!(e.owner(), Owner::Local);
        let c = e.clone();
        assert_eq!(c.to_string(), e.to_string());
        assert_eq!(c.source().unwrap().to_string(), "reset by peer");
    }

    #[test]
    fn the_error_is_one_pointer_wide() {
        assert_eq!(
            std::mem::size_of::<ProviderError>(),
            std::mem::size_of::<usize>()
        );
    }

    /// Regression: the bound used to be applied before redaction, so a key across the cut
    /// left its prefix (`…sk-proj-a`), too short for the pattern rules to recognise.
    #[test]
    fn a_key_across_the_message_bound_is_removed_whole() {
        let message = format!("{} sk-proj-abcdefghijklmnop1234 rest", "a".repeat(1014));
        let e = ProviderError::new(ErrorKind::Auth, "openai", &message);
        assert!(!e.message().contains("sk-proj"), "{}", e.message());
        assert!(e.message().len() <= MAX_MESSAGE_LEN + '…'.len_utf8());
        let code = format!("{}sk-proj-abcdefghijklmnop1234", "c".repeat(120));
        let e = ProviderError::new(ErrorKind::Auth, "openai", "m").with_code(&code);
        assert!(!e.code().unwrap().contains("sk-proj"), "{:?}", e.code());
    }
}
