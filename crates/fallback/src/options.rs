//! What a caller passes to one call (`CallOptions`) and gets back from it (`Answered`).

use std::time::Duration;

use crate::record::AttemptRecord;

/// Per-call options.
///
/// ```
/// use std::time::Duration;
/// use steadfast_fallback::CallOptions;
///
/// // Only runway, and give up after 30 s (seed 000's `prefer="runway", fallback=False`).
/// let pinned = CallOptions {
///     prefer: Some("runway".into()),
///     fallback: false,
///     deadline: Some(Duration::from_secs(30)),
///     ..CallOptions::default()
/// };
/// assert!(CallOptions::default().fallback);
/// # let _ = pinned;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOptions {
    /// Try the provider with this id first (if it exists and is eligible), then the others in
    /// priority order. Default `None`.
    pub prefer: Option<String>,
    /// Whether the call may move on to another provider. With `false` exactly one provider
    /// is called: `prefer` when given (skipped if ineligible — nothing else is tried), else
    /// the first eligible one in priority order. Its retries still happen. Default `true`.
    pub fallback: bool,
    /// The time allowed for this call, replacing
    /// [`ChainConfig::deadline`](crate::ChainConfig::deadline). Default `None`.
    pub deadline: Option<Duration>,
    /// The providers to try, by id and in this order, instead of the priority order (how a
    /// router's strategy steers the chain). Unknown ids are ignored; providers not listed
    /// are not tried. `prefer` still goes first. Default `None`.
    pub order: Option<Vec<String>>,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            prefer: None,
            order: None,
            fallback: true,
            deadline: None,
        }
    }
}

/// A value and who produced it: the provider, the model, and every attempt on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered<T> {
    /// The answer.
    pub value: T,
    /// The id of the provider that answered.
    pub provider: String,
    /// The model it was asked for.
    pub model: String,
    /// Every provider's turn, in order; the last one succeeded.
    pub attempts: Vec<AttemptRecord>,
}

impl<T> Answered<T> {
    /// Whether another provider was called or skipped before the one that answered.
    pub fn fell_back(&self) -> bool {
        self.attempts.len() > 1
    }

    /// Retries made across every provider.
    pub fn retries(&self) -> u32 {
        self.attempts.iter().map(|a| a.retries).sum()
    }
}
