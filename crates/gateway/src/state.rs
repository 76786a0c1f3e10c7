//! What every handler shares: the config, the concurrency permits, the in-flight gauge and
//! the shutdown signals.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use steadfast_config::Steadfast;
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::config::GatewayConfig;
use crate::meters::Meters;

pub(crate) struct Shared {
    pub(crate) sf: Arc<Steadfast>,
    pub(crate) config: GatewayConfig,
    permits: Arc<Semaphore>,
    in_flight: watch::Sender<usize>,
    connections: watch::Sender<usize>,
    draining: AtomicBool,
    /// Set when the shutdown grace has passed: streams still open end with an error.
    pub(crate) expired: watch::Sender<bool>,
    /// The gateway's metric handles.
    pub(crate) meters: Meters,
}

impl Shared {
    pub(crate) fn new(sf: Arc<Steadfast>, config: GatewayConfig) -> Shared {
        Shared {
            sf,
            permits: Arc::new(Semaphore::new(config.max_concurrency)),
            config,
            in_flight: watch::Sender::new(0),
            connections: watch::Sender::new(0),
            draining: AtomicBool::new(false),
            expired: watch::Sender::new(false),
            meters: Meters::default(),
        }
    }

    /// A slot for one request, or `None` when all are taken.
    pub(crate) fn enter(self: &Arc<Self>) -> Option<InFlight> {
        let permit = Arc::clone(&self.permits).try_acquire_owned().ok()?;
        self.in_flight.send_modify(|n| *n += 1);
        self.meters.in_flight().increment(1.0);
        Some(InFlight {
            shared: Arc::clone(self),
            permit: Some(permit),
        })
    }

    /// Whether `bearer` (the `Authorization` value, `Bearer <key>`) or `api_key` (the
    /// `x-api-key` value) carries one of the keys, compared in constant time; true when no
    /// key is configured.
    pub(crate) fn authorized(&self, bearer: Option<&[u8]>, api_key: Option<&[u8]>) -> bool {
        if self.config.keys.is_empty() {
            return true;
        }
        let tokens = [bearer.and_then(|h| h.strip_prefix(b"Bearer ")), api_key];
        let mut ok = subtle::Choice::from(0);
        for token in tokens.into_iter().flatten() {
            for key in &self.config.keys {
                ok |= key.expose().as_bytes().ct_eq(token);
            }
        }
        ok.into()
    }

    pub(crate) fn in_flight(&self) -> watch::Receiver<usize> {
        self.in_flight.subscribe()
    }

    pub(crate) fn connections(&self) -> &watch::Sender<usize> {
        &self.connections
    }

    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}

/// One request in flight: holds a concurrency permit and counts in the gauge until dropped
/// (a stream's guard lives in its body, so it drops with the last byte or the client).
pub(crate) struct InFlight {
    shared: Arc<Shared>,
    /// `Some` until dropped.
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The permit goes back before the gauge moves: whoever sees the count fall must
        // find the permit free (fields drop only after this body).
        drop(self.permit.take());
        self.shared
            .in_flight
            .send_modify(|n| *n = n.saturating_sub(1));
        self.shared.meters.in_flight().decrement(1.0);
    }
}
