//! Removing API keys and bearer tokens from text before it enters an error or a log.
//!
//! Providers echo credentials back more often than one would think: OpenAI's 401 names the
//! (masked) key, proxies echo request headers, Google puts `?key=` in URLs inside messages.
//! Every message that [`classify`](crate::classify) stores passes through [`redact`].
//!
//! What counts as a secret:
//! - a token that starts like a known key (`sk-`, `sk_`, `xai-`, `AIza`, `key_`, `gsk_`,
//!   `hf_`, `r8_`, `pplx-`, `ghp_`) followed by at least eight key characters;
//! - the token after `Bearer`, or after a `key=`, `api_key=`, `apikey=`, `token=`,
//!   `access_token=`, `x-api-key:`, `api-key:`, `x-goog-api-key:` marker;
//! - any run of 40 or more key characters mixing letters and digits (a random secret of a
//!   provider nobody told us about), unless it starts like a well-known identifier
//!   (`req_`, `msg_`, `chatcmpl-`, `org-`, `gen-`, `resp_`).
//!
//! The exact key a provider was configured with, and any piece of it of at least
//! [`MIN_SECRET_FRAGMENT`] characters, is removed with [`redact_secret`] (or [`redact_exact`],
//! which applies both).

use std::borrow::Cow;

/// What a removed secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

const KEY_PREFIXES: &[&str] = &[
    "sk-", "sk_", "xai-", "AIza", "key_", "gsk_", "hf_", "r8_", "pplx-", "ghp_",
];
const SAFE_PREFIXES: &[&str] = &[
    "req_",
    "msg_",
    "chatcmpl-",
    "org-",
    "gen-",
    "resp_",
    "file-",
];
/// Markers after which the next token is a credential (compared lowercase, spaces skipped).
const MARKERS: &[&str] = &[
    "bearer",
    "basic",
    "key=",
    "api_key=",
    "apikey=",
    "api-key=",
    "token=",
    "access_token=",
    "x-api-key:",
    "api-key:",
    "x-goog-api-key:",
    "authorization:",
];
const GENERIC_MIN_LEN: usize = 40;

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*')
}

/// Returns `text` with anything that looks like a credential replaced by [`REDACTED`].
///
/// Borrows when there is nothing to remove, so calling it on every message is cheap.
///
/// ```
/// use steadfast_errors::redact::redact;
///
/// let msg = "Incorrect API key provided: sk-proj-abcdefghijklmnop1234. See the docs.";
/// assert_eq!(redact(msg), "Incorrect API key provided: [REDACTED]. See the docs.");
/// assert_eq!(redact("Authorization: Bearer eyJhbGci.eyJzdWIi.sig"), "Authorization: Bearer [REDACTED]");
/// assert_eq!(redact("nothing to hide here"), "nothing to hide here");
/// ```
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut copied_to = 0; // bytes of `text` already reflected in `out`
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        if !is_key_char(c) {
            i += c.len_utf8();
            continue;
        }
        // A token of key characters starts at i.
        let start = i;
        let mut end = i;
        for (off, ch) in text[i..].char_indices() {
            if is_key_char(ch) {
                end = i + off + ch.len_utf8();
            } else {
                break;
            }
        }
        let token = &text[start..end];
        let mut secret_end = None;
        if let Some(marker) = marker_before(&text[..start]) {
            // After `Bearer` the credential may hold dots or slashes (JWT, base64):
            // take everything up to white space or a quote.
            let mut e = start;
            for (off, ch) in text[start..].char_indices() {
                if ch.is_whitespace()
                    || matches!(ch, '"' | '\'' | ',' | ';' | '&' | ')' | ']' | '}')
                {
                    break;
                }
                e = start + off + ch.len_utf8();
            }
            // Keep a sentence's final period out of the secret.
            while e > start && bytes[e - 1] == b'.' {
                e -= 1;
            }
            if plausible_credential(marker, &text[start..e]) {
                secret_end = Some(e);
            }
        } else if looks_like_key(token) {
            secret_end = Some(end);
        }
        match secret_end {
            Some(e) if e > start => {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied_to..start]);
                o.push_str(REDACTED);
                copied_to = e;
                i = e;
            }
            _ => i = end.max(start + 1),
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied_to..]);
            Cow::Owned(o)
        }
    }
}

/// The shortest piece of a known secret that [`redact_secret`] removes on its own.
///
/// Eight characters of a random key are already worth protecting (a cut-off prefix, the
/// tail a provider echoes after masking), while shorter runs would match ordinary words.
pub const MIN_SECRET_FRAGMENT: usize = 8;

/// Removes a known secret (the configured API key) from `text`, however it appears: the
/// whole value, and every run of at least [`MIN_SECRET_FRAGMENT`] consecutive bytes of it
/// (a prefix left by a cut, a suffix after a mask, a part split by other text). Each
/// stretch of text made of such runs becomes one [`REDACTED`]. A secret shorter than
/// [`MIN_SECRET_FRAGMENT`] is removed only whole; an empty one removes nothing.
///
/// The comparison is exact (case-sensitive, byte for byte) and linear in the lengths of
/// `text` and `secret`. It does not apply the pattern rules of [`redact`]; use both.
///
/// ```
/// use steadfast_errors::redact::redact_secret;
///
/// let key = "quokka-Mango-7731-zebra-Lime";
/// assert_eq!(redact_secret("auth failed for quokka-Mango-7731-zebra-Lime", key), "auth failed for [REDACTED]");
/// assert_eq!(redact_secret("invalid key quokka-Mango-77", key), "invalid key [REDACTED]");
/// assert_eq!(redact_secret("key ****zebra-Lime rejected", key), "key ****[REDACTED] rejected");
/// assert_eq!(redact_secret("a quokka ate a mango", key), "a quokka ate a mango");
/// ```
pub fn redact_secret<'a>(text: &'a str, secret: &str) -> Cow<'a, str> {
    let (t, s) = (text.as_bytes(), secret.as_bytes());
    let width = MIN_SECRET_FRAGMENT.min(s.len());
    if width == 0 || t.len() < width {
        return Cow::Borrowed(text);
    }
    // Every piece of text of `width` bytes that also occurs in the secret: their union is
    // exactly the text covered by common runs of at least `width` bytes.
    let pieces: std::collections::HashSet<&[u8]> = s.windows(width).collect();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (at, piece) in t.windows(width).enumerate() {
        if !pieces.contains(piece) {
            continue;
        }
        // Widen to character boundaries so a shared UTF-8 byte cannot split a character.
        let (mut start, mut end) = (at, at + width);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        match runs.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => runs.push((start, end)),
        }
    }
    if runs.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied_to = 0;
    for (start, end) in runs {
        out.push_str(&text[copied_to..start]);
        out.push_str(REDACTED);
        copied_to = end;
    }
    out.push_str(&text[copied_to..]);
    Cow::Owned(out)
}

/// [`redact_secret`], then [`redact`].
///
/// ```
/// use steadfast_errors::redact::redact_exact;
///
/// assert_eq!(redact_exact("key was plainpassword99", "plainpassword99"), "key was [REDACTED]");
/// ```
pub fn redact_exact<'a>(text: &'a str, secret: &str) -> Cow<'a, str> {
    match redact_secret(text, secret) {
        Cow::Borrowed(b) => redact(b),
        Cow::Owned(o) => Cow::Owned(redact(&o).into_owned()),
    }
}

/// The marker the text before a token ends with, if any.
fn marker_before(before: &str) -> Option<&'static str> {
    // Skip spaces and quotes that may sit between a header name and its value.
    let tail = before.trim_end_matches([' ', '\t', '"', '\'']);
    let start = tail.char_indices().rev().nth(23).map_or(0, |(i, _)| i);
    let tail_lower = tail[start..].to_ascii_lowercase();
    MARKERS.iter().copied().find(|m| {
        if !tail_lower.ends_with(m) {
            return false;
        }
        // A word marker ("bearer") must be a whole word.
        let cut = tail_lower.len() - m.len();
        m.ends_with(['=', ':']) || !tail_lower[..cut].ends_with(|c: char| c.is_ascii_alphanumeric())
    })
}

/// Whether the text after a marker is plausibly a credential rather than a word of prose.
fn plausible_credential(marker: &str, value: &str) -> bool {
    // `Authorization: Bearer x`: the scheme is not the secret; its own marker takes the next token.
    if ["bearer", "basic"]
        .iter()
        .any(|scheme| value.eq_ignore_ascii_case(scheme))
    {
        return false;
    }
    if marker.ends_with(['=', ':']) {
        return !value.is_empty();
    }
    value.len() >= 8
        && value.bytes().any(|b| {
            b.is_ascii_digit() || b.is_ascii_uppercase() || matches!(b, b'.' | b'_' | b'-')
        })
}

fn looks_like_key(token: &str) -> bool {
    if let Some(p) = KEY_PREFIXES.iter().find(|p| token.starts_with(**p)) {
        return token.len() >= p.len() + 8;
    }
    if token.len() < GENERIC_MIN_LEN || SAFE_PREFIXES.iter().any(|p| token.starts_with(p)) {
        return false;
    }
    let has_digit = token.bytes().any(|b| b.is_ascii_digit());
    let has_alpha = token.bytes().any(|b| b.is_ascii_alphabetic());
    has_digit && has_alpha
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn removes_the_keys_providers_echo() {
        let cases = [
            (
                "Incorrect API key provided: sk-proj-********************************1234. You can find your API key at https://platform.openai.com/account/api-keys.",
                "Incorrect API key provided: [REDACTED]. You can find your API key at https://platform.openai.com/account/api-keys.",
            ),
            (
                "invalid x-api-key: sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-abcdefgh",
                "invalid x-api-key: [REDACTED]",
            ),
            (
                "Incorrect API key provided: xai-AbCd1234EfGh5678. You can obtain",
                "Incorrect API key provided: [REDACTED]. You can obtain",
            ),
            (
                "POST https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent?key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW failed",
                "POST https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent?key=[REDACTED] failed",
            ),
            (
                r#"{"authorization":"Bearer sk-or-v1-0123456789abcdef0123456789abcdef"}"#,
                r#"{"authorization":"Bearer [REDACTED]"}"#,
            ),
            ("token=abc.def/ghi+jkl&x=1", "token=[REDACTED]&x=1"),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZA==",
                "Authorization: Basic [REDACTED]",
            ),
            (
                "secret 9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928 leaked",
                "secret [REDACTED] leaked",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "input: {input}");
        }
    }

    #[test]
    fn leaves_ordinary_text_and_identifiers_alone() {
        let keep = [
            "Rate limit reached for gpt-4o-mini in organization org-abc123 on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
            "model 'llama3.1:8b' not found, try pulling it first",
            "request req_0123456789abcdef0123456789abcdef0123 failed",
            "bearer of bad news",
            "sk-short",
            "The bearer token",
        ];
        for input in keep {
            assert!(
                matches!(redact(input), Cow::Borrowed(_)),
                "changed: {input} -> {}",
                redact(input)
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_never_keeps_a_planted_key(
            before in "[ -~]{0,40}",
            after in "[ -~]{0,40}",
            body in "[A-Za-z0-9]{20,40}",
        ) {
            let key = format!("sk-proj-{body}");
            let text = format!("{before} {key} {after}");
            let out = redact(&text);
            prop_assert!(!out.contains(&key));
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = redact(&s);
            let _ = redact_exact(&s, "abcdefgh");
        }
    }
}
