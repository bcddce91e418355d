//! Whether Redis answers, how often it stopped answering, and the purges waiting for it.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::invalidate::StampRecord;

/// Stamps written while Redis was unreachable, replayed when it is back (the oldest are
/// dropped past this many; their pages are then only bounded by their revalidate).
pub(super) const MAX_PENDING_STAMPS: usize = 10_000;

/// While Redis is unreachable, one command per this many milliseconds goes to it (a probe);
/// the others fail at once instead of each waiting for the timeout.
const PROBE_EVERY_MS: u64 = 500;

/// The store's view of Redis: up or down (each change logged once), the outages so far, and
/// the invalidations made here that Redis has not taken yet.
#[derive(Debug)]
pub(super) struct Health {
    healthy: AtomicBool,
    outages: AtomicU64,
    /// When (ms since `started`) a command last went to Redis while it was unhealthy.
    last_probe: AtomicU64,
    started: Instant,
    pending: Mutex<VecDeque<StampRecord>>,
    max_pending: usize,
}

impl Health {
    /// Healthy, until a command says otherwise; at most `max_pending` stamps wait for replay.
    pub(super) fn new(max_pending: usize) -> Self {
        Self {
            healthy: AtomicBool::new(true),
            outages: AtomicU64::new(0),
            last_probe: AtomicU64::new(0),
            started: Instant::now(),
            pending: Mutex::new(VecDeque::new()),
            max_pending,
        }
    }

    /// Whether the last command succeeded.
    pub(super) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// How many times Redis became unreachable.
    pub(super) fn outages(&self) -> u64 {
        self.outages.load(Ordering::Relaxed)
    }

    /// Whether a command may go to Redis now: always while it answers; while it does not, one
    /// command (the probe) per [`PROBE_EVERY_MS`], the others fail fast.
    pub(super) fn may_send(&self) -> bool {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.may_send_at(now)
    }

    /// [`may_send`](Self::may_send) at `now` ms since the store was made.
    fn may_send_at(&self, now: u64) -> bool {
        if self.is_healthy() {
            return true;
        }
        let last = self.last_probe.load(Ordering::Relaxed);
        // Of callers racing for one probe, the one whose exchange succeeds sends it.
        now.saturating_sub(last) >= PROBE_EVERY_MS
            && self
                .last_probe
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// Redis did not answer: the first failure after it was up counts an outage and is logged.
    pub(super) fn mark_down(&self, why: &dyn fmt::Display) {
        if self.healthy.swap(false, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "isr", error = %why, "redis is unreachable: serving from memory and rendering locally");
        }
    }

    /// Redis answered: the first success after it was down is logged.
    pub(super) fn mark_up(&self) {
        if !self.healthy.swap(true, Ordering::AcqRel) {
            tracing::info!(target: "isr", "redis is reachable again");
        }
    }

    /// Keeps `record` for replay, dropping the oldest past the bound.
    pub(super) fn queue(&self, record: StampRecord) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() >= self.max_pending {
            pending.pop_front();
        }
        pending.push_back(record);
    }

    /// Whether any stamp waits for replay.
    pub(super) fn has_pending(&self) -> bool {
        !self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Every stamp waiting for replay, oldest first; the queue is left empty (what fails to
    /// replay is queued again).
    pub(super) fn take_pending(&self) -> Vec<StampRecord> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect()
    }
}
