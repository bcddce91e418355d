//! Counters: how the cache has answered so far.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::status::CacheStatus;
use crate::store::StoreUsage;

/// A snapshot of the layer's counters, from [`IsrLayer::stats`](crate::IsrLayer::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IsrStats {
    /// Requests served from a fresh entry.
    pub hits: u64,
    /// Requests served from a stale entry.
    pub stale: u64,
    /// Requests that waited for a render.
    pub misses: u64,
    /// Requests passed through uncached.
    pub bypasses: u64,
    /// Calls of the inner service made by the cache (misses, regenerations, bypassed renders).
    pub renders: u64,
    /// Renders that failed (error, 5xx, panic, timeout, broken body).
    pub failed_renders: u64,
    /// Background regenerations not started because the concurrency bound was reached.
    pub regenerations_deferred: u64,
    /// Store operations that failed (and were fallen back from).
    pub store_errors: u64,
    /// Revalidations applied (paths, layouts, tags, all).
    pub invalidations: u64,
    /// Invalidation stamps held (tags, paths, layouts); bounded by
    /// [`IsrBuilder::max_invalidation_stamps`](crate::IsrBuilder::max_invalidation_stamps).
    pub invalidation_stamps: u64,
    /// Entries held by the store.
    pub entries: u64,
    /// Bytes held by the store.
    pub bytes: u64,
}

/// Slots of a [`Sharded`] counter: more than the worker threads of most servers.
const SHARDS: usize = 8;

/// One slot on a cache line of its own (two, for the adjacent-line prefetcher).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

/// A counter written on every answer: each thread adds to a slot of its own, so threads
/// answering hits at once never write the same cache line; reading sums the slots.
#[derive(Debug, Default)]
struct Sharded([Slot; SHARDS]);

impl Sharded {
    fn inc(&self) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
        }
        let slot = SLOT.try_with(|slot| *slot).unwrap_or(0);
        self.0[slot].0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0
            .iter()
            .map(|slot| slot.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    hits: Sharded,
    stale: Sharded,
    misses: Sharded,
    bypasses: Sharded,
    renders: AtomicU64,
    failed_renders: AtomicU64,
    regenerations_deferred: AtomicU64,
    store_errors: AtomicU64,
    invalidations: AtomicU64,
}

fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Every counter is also emitted through the `metrics` facade (feature `metrics`), under the
/// names the README's metrics table lists; this is the one place that names them.
impl Counters {
    pub(crate) fn count(&self, status: CacheStatus) {
        match status {
            CacheStatus::Hit => &self.hits,
            CacheStatus::Stale => &self.stale,
            CacheStatus::Miss => &self.misses,
            CacheStatus::Bypass => &self.bypasses,
        }
        .inc();
        #[cfg(feature = "metrics")]
        metrics::counter!("isr_requests_total", "status" => status.as_str()).increment(1);
    }

    pub(crate) fn inc_renders(&self) {
        inc(&self.renders);
        #[cfg(feature = "metrics")]
        metrics::counter!("isr_renders_total").increment(1);
    }

    pub(crate) fn inc_failed_renders(&self) {
        inc(&self.failed_renders);
        #[cfg(feature = "metrics")]
        metrics::counter!("isr_failed_renders_total").increment(1);
    }

    pub(crate) fn inc_regenerations_deferred(&self) {
        inc(&self.regenerations_deferred);
        #[cfg(feature = "metrics")]
        metrics::counter!("isr_regenerations_deferred_total").increment(1);
    }

    pub(crate) fn inc_store_errors(&self) {
        inc(&self.store_errors);
        #[cfg(feature = "metrics")]
        metrics::counter!("isr_store_errors_total").increment(1);
    }

    pub(crate) fn inc_invalidations(&self, mode: crate::invalidate::InvalidationMode) {
        inc(&self.invalidations);
        #[cfg(feature = "metrics")]
        metrics::counter!("isr_invalidations_total", "mode" => mode.as_str()).increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = mode;
    }

    /// What the store holds now, for the gauges (called when it changes, never on a hit).
    #[cfg_attr(not(feature = "metrics"), allow(clippy::unused_self))]
    pub(crate) fn record_usage(&self, usage: StoreUsage) {
        #[cfg(feature = "metrics")]
        {
            // Gauges are f64; entry counts and byte sizes stay exact far past any real cache.
            #[allow(clippy::cast_precision_loss)]
            {
                metrics::gauge!("isr_store_entries").set(usage.entries as f64);
                metrics::gauge!("isr_store_bytes").set(usage.bytes as f64);
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = usage;
    }

    pub(crate) fn snapshot(&self, usage: StoreUsage, invalidation_stamps: usize) -> IsrStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IsrStats {
            hits: self.hits.get(),
            stale: self.stale.get(),
            misses: self.misses.get(),
            bypasses: self.bypasses.get(),
            renders: get(&self.renders),
            failed_renders: get(&self.failed_renders),
            regenerations_deferred: get(&self.regenerations_deferred),
            store_errors: get(&self.store_errors),
            invalidations: get(&self.invalidations),
            invalidation_stamps: invalidation_stamps as u64,
            entries: usage.entries,
            bytes: usage.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counters = Counters::default();
        std::thread::scope(|scope| {
            for _ in 0..(SHARDS + 3) {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        counters.count(CacheStatus::Hit);
                    }
                    counters.count(CacheStatus::Stale);
                });
            }
        });
        let snapshot = counters.snapshot(StoreUsage::default(), 0);
        assert_eq!(snapshot.hits, 1_000 * (SHARDS as u64 + 3));
        assert_eq!(snapshot.stale, SHARDS as u64 + 3);
        assert_eq!(snapshot.misses, 0);
    }
}
