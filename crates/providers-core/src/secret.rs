//! Secrets a configuration may hold besides its [`ApiKey`](crate::ApiKey): a base URL's
//! password or query values, and extra header values — how they print and serialize.
//!
//! The rule: such values never print and never serialize back out. A URL prints and
//! serializes with its password and every query value replaced by [`REDACTED`]; a header
//! map prints its names only and is not serialized at all (like the key, it is read from a
//! file but never written back), because a marker in place of a value would be sent as the
//! value by whoever reloads the file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Serializer;

/// What a hidden value is replaced by.
pub const REDACTED: &str = "[REDACTED]";

/// `url` with any password (or a lone user token) and every query value replaced by
/// [`REDACTED`]; the scheme, host, port, path and query names stay readable.
///
/// ```
/// use steadfast_providers_core::secret::redact_url;
///
/// assert_eq!(redact_url("https://api.openai.com/v1"), "https://api.openai.com/v1");
/// assert_eq!(
///     redact_url("https://gw.example/gemini?key=AIzaSecret&alt=sse"),
///     "https://gw.example/gemini?key=[REDACTED]&alt=[REDACTED]"
/// );
/// assert_eq!(redact_url("http://bob:hunter2@proxy:8080/v1"), "http://bob:[REDACTED]@proxy:8080/v1");
/// assert_eq!(redact_url("https://tok3n@proxy/v1"), "https://[REDACTED]@proxy/v1");
/// ```
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let (before_fragment, fragment) = match url.find('#') {
        Some(at) => (&url[..at], &url[at..]),
        None => (url, ""),
    };
    let (head, query) = match before_fragment.find('?') {
        Some(at) => (&before_fragment[..at], Some(&before_fragment[at + 1..])),
        None => (before_fragment, None),
    };
    let authority_start = head.find("://").map_or(0, |at| at + 3);
    let authority_end = head[authority_start..]
        .find('/')
        .map_or(head.len(), |at| authority_start + at);
    let authority = &head[authority_start..authority_end];
    let userinfo = authority.rfind('@').map(|at| &authority[..at]);
    if userinfo.is_none() && query.is_none() && fragment.is_empty() {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len() + 16);
    out.push_str(&head[..authority_start]);
    match userinfo {
        Some(info) => {
            match info.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(REDACTED);
                }
                None => out.push_str(REDACTED),
            }
            out.push_str(&authority[info.len()..]);
        }
        None => out.push_str(authority),
    }
    out.push_str(&head[authority_end..]);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) if !value.is_empty() => format!("{name}={REDACTED}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(REDACTED);
    }
    Cow::Owned(out)
}

/// Serializes a URL as [`redact_url`] prints it, for `#[serde(serialize_with = …)]`.
pub fn serialize_url<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url))
}

/// A header map for `Debug`: its names, never its values.
///
/// ```
/// use std::collections::BTreeMap;
/// use steadfast_providers_core::secret::HeaderNames;
///
/// let headers = BTreeMap::from([("x-gateway-token".to_owned(), "tok-secret".to_owned())]);
/// assert_eq!(format!("{:?}", HeaderNames(&headers)), r#"["x-gateway-token"]"#);
/// ```
#[derive(Clone, Copy)]
pub struct HeaderNames<'a>(pub &'a BTreeMap<String, String>);

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// A URL for `Debug`, as [`redact_url`] shows it.
#[derive(Clone, Copy)]
pub struct RedactedUrl<'a>(pub &'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*redact_url(self.0), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn urls_keep_what_is_not_secret() {
        let cases = [
            ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
            ("https://h/p?x", "https://h/p?x"),
            ("https://h/p?a=&b=1", "https://h/p?a=&b=[REDACTED]"),
            ("https://h/p#frag", "https://h/p#[REDACTED]"),
            ("https://u:p@h", "https://u:[REDACTED]@h"),
            ("not a url?k=v", "not a url?k=[REDACTED]"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }

    proptest! {
        #[test]
        fn a_query_value_or_password_never_survives(
            secret in "[A-Za-z0-9]{12,24}",
            host in "[a-z]{1,10}(\\.[a-z]{2,5})?",
            user in "[a-z]{1,8}",
            name in "[a-z]{1,8}",
        ) {
            for url in [
                format!("https://{host}/v1?{name}={secret}"),
                format!("https://{user}:{secret}@{host}/v1"),
                format!("https://{host}/v1?a=b&{name}={secret}#x"),
            ] {
                let shown = redact_url(&url);
                prop_assert!(!shown.contains(&secret), "{} -> {}", url, shown);
                prop_assert!(shown.contains(&host));
            }
        }
    }
}
