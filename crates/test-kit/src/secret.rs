//! The "key never appears" check: no secret, nor a distinctive part of one, in a text.

use std::fmt::{Debug, Display};

/// Panics when `text` contains any of `secrets`, naming `what` was inspected and which secret
/// showed. Pass the whole key and a distinctive part of it (`&[KEY, "LEAKCANARY"]`): a
/// redactor that cut the key in two would hide the whole key but not its parts.
///
/// # Panics
///
/// When a secret is in `text`, or when a secret is empty (it would be in every text).
///
/// ```
/// use steadfast_test_kit::assert_hidden;
///
/// assert_hidden("an error", "auth failed: Bearer [REDACTED]", &["sk-LEAK-1234", "LEAK"]);
/// ```
///
/// ```should_panic
/// steadfast_test_kit::assert_hidden("an error", "bad key sk-LEAK-1234", &["sk-LEAK-1234"]);
/// ```
#[track_caller]
pub fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!secret.is_empty(), "an empty secret is in every text");
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret:?}: {text}"
        );
    }
}

/// Everything `value` shows a user: its `Display` and its `Debug`, on one line.
///
/// ```
/// let err = std::io::Error::other("refused");
/// assert_eq!(steadfast_test_kit::shown(&err), r#"refused Custom { kind: Other, error: "refused" }"#);
/// ```
pub fn shown<T: Display + Debug + ?Sized>(value: &T) -> String {
    format!("{value} {value:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_without_the_secrets_passes() {
        assert_hidden("logs", "key=[REDACTED]", &["sk-abc-123", "abc"]);
        assert_hidden("logs", "", &["sk-abc-123"]);
    }

    #[test]
    #[should_panic(expected = "the logs shows the secret \"sk-abc-123\"")]
    fn the_whole_secret_is_caught() {
        assert_hidden("the logs", "sending with sk-abc-123", &["sk-abc-123"]);
    }

    #[test]
    #[should_panic(expected = "shows the secret \"abc\"")]
    fn a_part_of_the_secret_is_caught() {
        assert_hidden("an error", "sk-*** abc", &["sk-abc-123", "abc"]);
    }

    #[test]
    #[should_panic(expected = "an empty secret")]
    fn an_empty_secret_is_refused() {
        assert_hidden("an error", "anything", &[""]);
    }

    #[test]
    fn shown_joins_display_and_debug() {
        assert_eq!(shown("a\"b"), "a\"b \"a\\\"b\"");
    }
}
