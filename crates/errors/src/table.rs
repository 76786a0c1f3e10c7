//! The shape of a mapping rule and how rules match; the rules themselves are data.
//!
//! Rules live in `crates/errors/tables/*.toml`, one file per provider plus `default.toml`,
//! and are turned into `generated.rs` by `cargo xtask codegen`. For one response the
//! provider's rules are tried in file order (then the rules of the tables it inherits), then
//! the default rules; the first rule whose every condition holds decides the kind.

use crate::kind::ErrorKind;

/// Which HTTP statuses a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusMatch {
    /// Any status, including none (an in-band error without a status).
    Any,
    /// A status inside one of these inclusive ranges (a single status is `(s, s)`).
    In(&'static [(u16, u16)]),
}

/// One line of an error table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub(crate) status: StatusMatch,
    /// Matches when the code, type or any detail equals one of these (ASCII
    /// case-insensitive); a trailing `*` matches a prefix. Empty: no condition.
    pub(crate) codes: &'static [&'static str],
    /// Matches when the message (or a detail) contains one of these lowercase substrings.
    /// Empty: no condition.
    pub(crate) messages: &'static [&'static str],
    pub(crate) kind: ErrorKind,
    /// Overrides the kind's retry rule when set.
    pub(crate) retryable: Option<bool>,
}

/// The facts a rule is matched against.
#[derive(Debug)]
pub(crate) struct Facts<'a> {
    pub(crate) status: Option<u16>,
    pub(crate) identifiers: Vec<&'a str>,
    /// Lowercase message and details, separated by newlines.
    pub(crate) text: String,
}

impl Rule {
    pub(crate) fn matches(&self, facts: &Facts<'_>) -> bool {
        let status_ok = match (self.status, facts.status) {
            (StatusMatch::Any, _) => true,
            (StatusMatch::In(ranges), Some(s)) => {
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&s))
            }
            (StatusMatch::In(_), None) => false,
        };
        status_ok
            && (self.codes.is_empty()
                || self
                    .codes
                    .iter()
                    .any(|want| facts.identifiers.iter().any(|got| code_matches(want, got))))
            && (self.messages.is_empty() || self.messages.iter().any(|m| facts.text.contains(m)))
    }
}

fn code_matches(want: &str, got: &str) -> bool {
    match want.strip_suffix('*') {
        Some(prefix) => got
            .as_bytes()
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes())),
        None => want.eq_ignore_ascii_case(got),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: Option<u16>, ids: &[&'static str], text: &str) -> Facts<'static> {
        Facts {
            status,
            identifiers: ids.to_vec(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn every_condition_must_hold() {
        let rule = Rule {
            status: StatusMatch::In(&[(429, 429)]),
            codes: &["insufficient_quota"],
            messages: &[],
            kind: ErrorKind::QuotaExhausted,
            retryable: None,
        };
        assert!(rule.matches(&facts(Some(429), &["INSUFFICIENT_QUOTA"], "")));
        assert!(!rule.matches(&facts(Some(400), &["insufficient_quota"], "")));
        assert!(!rule.matches(&facts(Some(429), &["rate_limit_exceeded"], "")));
        assert!(!rule.matches(&facts(None, &["insufficient_quota"], "")));
    }

    #[test]
    fn prefix_codes_and_message_patterns() {
        let rule = Rule {
            status: StatusMatch::Any,
            codes: &["SAFETY.INPUT.*"],
            messages: &["blocked"],
            kind: ErrorKind::ContentFilter,
            retryable: Some(false),
        };
        assert!(rule.matches(&facts(None, &["SAFETY.INPUT.TEXT"], "input was blocked")));
        assert!(!rule.matches(&facts(None, &["SAFETY.OUTPUT.VIDEO"], "blocked")));
        // A prefix that ends inside a multi-byte character must not panic.
        assert!(!rule.matches(&facts(None, &["SAFETY.INPU¥"], "blocked")));
        assert!(!rule.matches(&facts(None, &["SAFETY.INPUT.TEXT"], "nothing")));
        let range = Rule {
            status: StatusMatch::In(&[(500, 599)]),
            codes: &[],
            messages: &[],
            kind: ErrorKind::Server,
            retryable: None,
        };
        assert!(range.matches(&facts(Some(599), &[], "")));
        assert!(!range.matches(&facts(Some(499), &[], "")));
    }
}
