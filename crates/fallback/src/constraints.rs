//! The constraints that earlier failures of a call put on the providers that may follow
//! (a larger context window, a content-policy fallback).

use steadfast_errors::{ErrorKind, FallbackRule};

use crate::config::EntryConfig;
use crate::record::AttemptOutcome;

/// What an earlier failure asks of the next provider's context window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ContextNeed {
    /// Nothing.
    #[default]
    Any,
    /// A known window (the one that failed was not configured, so nothing is comparable).
    Known,
    /// A known window larger than this.
    LargerThan(u32),
}

/// The constraints that earlier failures of a call put on the providers that follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Constraints {
    context: ContextNeed,
    content_policy: bool,
}

impl Constraints {
    /// Why `entry` may not be tried under these constraints, if it may not.
    pub(crate) fn excludes(&self, entry: &EntryConfig) -> Option<AttemptOutcome> {
        let window = entry.context_window;
        let fits = match self.context {
            ContextNeed::Any => true,
            ContextNeed::Known => window.is_some(),
            ContextNeed::LargerThan(w) => window.is_some_and(|n| n > w),
        };
        if !fits {
            Some(AttemptOutcome::SkippedContextTooSmall)
        } else if self.content_policy && !entry.content_policy_fallback {
            Some(AttemptOutcome::SkippedNotContentPolicy)
        } else {
            None
        }
    }

    /// Tightens the constraints after `failed` failed with `kind`. They only ever tighten:
    /// a request too long for one window stays too long after an unrelated failure.
    pub(crate) fn after_failure(&mut self, kind: ErrorKind, failed: &EntryConfig) {
        match kind.fallback_rule() {
            FallbackRule::LargerContext => {
                self.context = match (self.context, failed.context_window) {
                    (ContextNeed::LargerThan(w), Some(n)) => ContextNeed::LargerThan(w.max(n)),
                    (ContextNeed::LargerThan(w), None) => ContextNeed::LargerThan(w),
                    (_, Some(n)) => ContextNeed::LargerThan(n),
                    (_, None) => ContextNeed::Known,
                };
            }
            FallbackRule::ContentPolicy => self.content_policy = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(window: Option<u32>, policy: bool) -> EntryConfig {
        EntryConfig {
            context_window: window,
            content_policy_fallback: policy,
            ..EntryConfig::default()
        }
    }

    #[test]
    fn context_length_needs_a_known_larger_window() {
        let mut c = Constraints::default();
        assert_eq!(c.excludes(&entry(None, false)), None);
        c.after_failure(ErrorKind::ContextLength, &entry(Some(8_000), false));
        let too_small = Some(AttemptOutcome::SkippedContextTooSmall);
        assert_eq!(c.excludes(&entry(Some(8_000), false)), too_small);
        assert_eq!(c.excludes(&entry(None, false)), too_small);
        assert_eq!(c.excludes(&entry(Some(32_000), false)), None);
        // An unrelated failure changes nothing; a failing unknown window keeps the bound.
        c.after_failure(ErrorKind::Server, &entry(Some(32_000), false));
        c.after_failure(ErrorKind::ContextLength, &entry(None, false));
        assert_eq!(c.excludes(&entry(Some(32_000), false)), None);

        let mut unknown = Constraints::default();
        unknown.after_failure(ErrorKind::ContextLength, &entry(None, false));
        assert_eq!(unknown.excludes(&entry(None, false)), too_small);
        assert_eq!(unknown.excludes(&entry(Some(1), false)), None);
    }

    #[test]
    fn content_filter_needs_a_policy_fallback() {
        let mut c = Constraints::default();
        c.after_failure(ErrorKind::ContentFilter, &entry(None, false));
        assert_eq!(
            c.excludes(&entry(None, false)),
            Some(AttemptOutcome::SkippedNotContentPolicy)
        );
        assert_eq!(c.excludes(&entry(None, true)), None);
    }
}
