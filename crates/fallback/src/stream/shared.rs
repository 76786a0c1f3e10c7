//! What a stream, its parts and its reopens share: the chain, the request, the plan, and
//! the progress so far (attempt log, constraints, the provider streaming now).

use std::sync::{Arc, Mutex};

use steadfast_errors::ProviderError;
use steadfast_providers_core::ChatRequest;

use crate::attempt::lock;
use crate::constraints::Constraints;
use crate::entry::Inner;
use crate::plan::Plan;
use crate::record::AttemptRecord;

/// What the stream, its parts and its reopens share.
pub(super) struct Shared {
    pub(super) chain: Arc<Inner>,
    pub(super) request: ChatRequest,
    pub(super) plan: Plan,
    pub(super) progress: Mutex<Progress>,
}

/// How far the stream got.
pub(super) struct Progress {
    /// The plan position of the provider streaming now.
    pub(super) position: usize,
    /// The record of the part streaming now.
    pub(super) record: usize,
    pub(super) attempts: Vec<AttemptRecord>,
    pub(super) constraints: Constraints,
    /// An error that ends the stream now, without further resumes.
    pub(super) fatal: Option<ProviderError>,
    /// Parts in a row that failed on the provider streaming now.
    pub(super) failures_here: u32,
}

impl Shared {
    /// Appends `record` to the log; its index.
    pub(super) fn push(&self, record: AttemptRecord) -> usize {
        let mut p = lock(&self.progress);
        p.attempts.push(record);
        p.attempts.len() - 1
    }

    /// Keeps `err` as the error that ends the stream now; returns it.
    pub(super) fn fatal(&self, err: ProviderError) -> ProviderError {
        lock(&self.progress).fatal = Some(err.clone());
        err
    }
}
