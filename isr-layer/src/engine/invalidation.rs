//! Invalidations made in this process: stamped on the tag clock, recorded in the store (which
//! persists or shares them), logged and announced; and the views of what the engine holds.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::Engine;
use crate::clock::Micros;
use crate::entry::Entry;
use crate::invalidate::{
    EntrySummary, Invalidation, InvalidationMode, InvalidationTarget, Origin, Revalidation,
    StampRecord, StampSink,
};

impl Engine {
    /// Invalidates `target`: the stamp holds here when this returns, and the store has been
    /// asked to record it for other instances and restarts (a store that cannot is logged).
    pub(crate) async fn invalidate(
        &self,
        target: InvalidationTarget,
        mode: InvalidationMode,
        origin: Origin,
        affected: Option<u64>,
    ) -> Revalidation {
        let stamp = self.tags.invalidate(&target, mode, &self.clock);
        let record = StampRecord::new(target, mode, stamp);
        // The page store carries invalidations for the data cache too: both read one tag clock.
        if let Some(log) = self.store.invalidation_log()
            && let Err(error) = log.record_invalidation(&record).await
        {
            let target = record.target.to_string();
            self.store_failed(
                &target,
                &error,
                "the store could not record an invalidation",
            );
        }
        self.trace_invalidation(&record.target.to_string(), mode, origin.as_str(), affected);
        let at = UNIX_EPOCH + Duration::from_micros(stamp);
        // Nobody listening is fine: the send only fails when there are no receivers.
        let _ = self.invalidations.send(Invalidation {
            target: record.target,
            mode,
            at,
            origin,
        });
        Revalidation { at, affected }
    }

    /// Where stores hand the invalidations made elsewhere (another instance, a restart).
    pub(crate) fn stamp_sink(&self) -> StampSink {
        let tags = Arc::clone(&self.tags);
        let clock = Arc::clone(&self.clock);
        StampSink::new(move |record| {
            clock.observe(record.at);
            tags.apply(record);
        })
    }

    /// Announcements of the invalidations made through this engine.
    pub(crate) fn subscribe_invalidations(&self) -> tokio::sync::broadcast::Receiver<Invalidation> {
        self.invalidations.subscribe()
    }

    /// Whether this process's memory holds an entry under `key`.
    pub(crate) fn holds_locally(&self, key: &str) -> bool {
        self.store.get_local(key).is_some()
    }

    /// Up to `limit` entries held in this process's memory, with their state now.
    pub(crate) fn inspect(&self, limit: usize) -> Vec<EntrySummary> {
        let now = self.clock.now();
        self.store
            .local_entries(limit)
            .into_iter()
            .map(|entry| self.summarize(entry, now))
            .collect()
    }

    /// Up to `limit` entries held in this process's memory, as they are (no state computed).
    #[cfg(feature = "inspector")]
    pub(crate) fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>> {
        self.store.local_entries(limit)
    }

    /// `entry` with its state, age and weight at `now`.
    pub(crate) fn summarize(&self, entry: Arc<Entry>, now: Micros) -> EntrySummary {
        EntrySummary {
            state: self.freshness(&entry, now),
            age: Duration::from_micros(now.saturating_sub(entry.stored_at)),
            bytes: entry.weight(),
            entry,
        }
    }

    fn trace_invalidation(
        &self,
        target: &str,
        mode: InvalidationMode,
        origin: &str,
        affected: Option<u64>,
    ) {
        self.stats.inc_invalidations(mode);
        let affected =
            affected.map_or_else(|| "unknown (O(1), no scan)".to_owned(), |n| n.to_string());
        let mode = mode.as_str();
        if self.config.debug {
            tracing::info!(target: "isr", %target, mode, by = origin, affected, "REVALIDATE");
        } else {
            tracing::debug!(target: "isr", %target, mode, by = origin, affected, "REVALIDATE");
        }
    }
}
