//! Whether Redis answers, how often it stopped answering, and the purges waiting for it.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// When `healthy` last changed, in ms since the Unix epoch (0: never).
    changed_at_ms: AtomicU64,
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
            changed_at_ms: AtomicU64::new(0),
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
            self.changed_now();
            tracing::warn!(target: "isr", error = %why, "redis is unreachable: serving from memory and rendering locally");
        }
    }

    /// Redis answered: the first success after it was down is logged.
    pub(super) fn mark_up(&self) {
        if !self.healthy.swap(true, Ordering::AcqRel) {
            self.changed_now();
            tracing::info!(target: "isr", "redis is reachable again");
        }
    }

    /// When Redis last became unreachable or reachable again, if it ever did.
    pub(super) fn changed_at(&self) -> Option<SystemTime> {
        match self.changed_at_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    fn changed_now(&self) {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        self.changed_at_ms.store(ms.max(1), Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invalidate::{InvalidationMode, InvalidationTarget};
    use crate::test_log::Captured;

    fn record(at: u64) -> StampRecord {
        StampRecord::new(
            InvalidationTarget::Tag(format!("t{at}")),
            InvalidationMode::Expire,
            at,
        )
    }

    #[test]
    fn each_change_of_state_is_logged_once_and_each_outage_counted_once() {
        let log = Captured::default();
        let health = Health::new(MAX_PENDING_STAMPS);
        log.record(|| {
            assert!(health.is_healthy());
            health.mark_up();
            health.mark_down(&"connection refused");
            health.mark_down(&"connection refused");
            assert!(!health.is_healthy());
            assert_eq!(health.outages(), 1);
            health.mark_up();
            health.mark_up();
            assert!(health.is_healthy());
            health.mark_down(&"timed out");
        });
        assert_eq!(health.outages(), 2);
        assert_eq!(log.count("redis is unreachable"), 2);
        assert_eq!(log.count("connection refused"), 1);
        assert_eq!(log.count("timed out"), 1);
        assert_eq!(log.count("redis is reachable again"), 1);
        assert_eq!(log.count(" isr:"), 3, "every line under the isr target");
    }

    #[test]
    fn the_last_change_of_state_is_dated() {
        let health = Health::new(MAX_PENDING_STAMPS);
        assert_eq!(health.changed_at(), None, "never changed");
        // Kept in whole milliseconds.
        let before = SystemTime::now() - Duration::from_millis(1);
        health.mark_down(&"refused");
        let at = health.changed_at().expect("dated");
        assert!(before <= at && at <= SystemTime::now(), "{at:?}");
    }

    #[test]
    fn while_redis_is_down_one_command_per_interval_probes_it() {
        let health = Health::new(MAX_PENDING_STAMPS);
        assert!(health.may_send_at(0), "up: every command goes");
        assert!(health.may_send_at(0));
        health.mark_down(&"refused");
        // Failing fast until an interval has passed since the store was made (or last probe).
        assert!(!health.may_send_at(0));
        assert!(!health.may_send_at(PROBE_EVERY_MS - 1));
        assert!(health.may_send_at(PROBE_EVERY_MS), "the probe");
        assert!(
            !health.may_send_at(PROBE_EVERY_MS),
            "one probe per interval"
        );
        assert!(!health.may_send_at(2 * PROBE_EVERY_MS - 1));
        assert!(health.may_send_at(2 * PROBE_EVERY_MS + 7));
        health.mark_up();
        assert!(
            health.may_send_at(2 * PROBE_EVERY_MS + 7),
            "up again: no gate"
        );
    }

    #[test]
    fn the_gate_reads_the_clock_the_store_was_made_with() {
        let health = Health::new(MAX_PENDING_STAMPS);
        assert!(health.may_send(), "up: every command goes");
        health.mark_down(&"refused");
        // Three calls in a row span far less than two probe intervals: at most two of them
        // (one probe per interval) go to Redis, the others fail fast.
        let sent = (0..3).filter(|_| health.may_send()).count();
        assert!(sent < 3, "{sent} of 3 calls went to a Redis that is down");
    }

    #[test]
    fn the_pending_queue_drops_the_oldest_past_its_bound_and_replays_in_order() {
        let health = Health::new(3);
        assert!(!health.has_pending());
        for at in 1..=5 {
            health.queue(record(at));
        }
        assert!(health.has_pending());
        let order: Vec<u64> = health.take_pending().iter().map(|r| r.at).collect();
        assert_eq!(
            order,
            [3, 4, 5],
            "the oldest two dropped, the rest oldest first"
        );
        assert!(!health.has_pending(), "taking empties the queue");
        assert!(health.take_pending().is_empty());
    }

    #[test]
    fn the_default_bound_keeps_ten_thousand_stamps() {
        let health = Health::new(MAX_PENDING_STAMPS);
        for at in 0..=MAX_PENDING_STAMPS as u64 {
            health.queue(record(at));
        }
        let pending = health.take_pending();
        assert_eq!(pending.len(), MAX_PENDING_STAMPS);
        assert_eq!(pending.first().map(|r| r.at), Some(1));
        assert_eq!(
            pending.last().map(|r| r.at),
            Some(MAX_PENDING_STAMPS as u64)
        );
    }
}
