//! The plan of one call: the order providers are tried in, whether it may fall back, and
//! the deadline.

use std::time::Duration;

use tokio::time::Instant;

use crate::entry::Inner;
use crate::options::CallOptions;

/// The fixed part of a call's plan.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Entry indices, in the order they are tried.
    pub(crate) order: Vec<usize>,
    /// Whether the call may move past the first provider it calls.
    pub(crate) fallback: bool,
    /// When the call must be over.
    pub(crate) deadline_at: Option<Instant>,
}

impl Plan {
    /// `prefer` first (alone when `fallback` is off), then the explicit `order` if given,
    /// else the priority order.
    pub(crate) fn new(inner: &Inner, options: &CallOptions) -> Plan {
        let position = |id: &str| inner.entries.iter().position(|e| e.id() == id);
        let mut base: Vec<usize> = match &options.order {
            Some(ids) => ids.iter().filter_map(|id| position(id)).collect(),
            None => (0..inner.entries.len()).collect(),
        };
        let mut seen = vec![false; inner.entries.len()];
        base.retain(|&i| !std::mem::replace(&mut seen[i], true));
        let preferred = options.prefer.as_deref().and_then(position);
        let order = match preferred {
            Some(p) if !options.fallback => vec![p],
            Some(p) => std::iter::once(p)
                .chain(base.into_iter().filter(|&i| i != p))
                .collect(),
            None => base,
        };
        let deadline_at = options
            .deadline
            .or(inner.config.deadline)
            .and_then(|d| Instant::now().checked_add(d));
        Plan {
            order,
            fallback: options.fallback,
            deadline_at,
        }
    }

    /// Time left before the deadline (zero once it passed), or `None` without one.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.deadline_at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }
}
