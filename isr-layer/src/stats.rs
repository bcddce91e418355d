//! Counters: how the cache has answered so far.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::CacheStatus;
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

#[derive(Debug, Default)]
pub(crate) struct Counters {
    hits: AtomicU64,
    stale: AtomicU64,
    misses: AtomicU64,
    bypasses: AtomicU64,
    renders: AtomicU64,
    failed_renders: AtomicU64,
    regenerations_deferred: AtomicU64,
    store_errors: AtomicU64,
    invalidations: AtomicU64,
}

fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn count(&self, status: CacheStatus) {
        inc(match status {
            CacheStatus::Hit => &self.hits,
            CacheStatus::Stale => &self.stale,
            CacheStatus::Miss => &self.misses,
            CacheStatus::Bypass => &self.bypasses,
        });
    }

    pub(crate) fn inc_renders(&self) {
        inc(&self.renders);
    }

    pub(crate) fn inc_failed_renders(&self) {
        inc(&self.failed_renders);
    }

    pub(crate) fn inc_regenerations_deferred(&self) {
        inc(&self.regenerations_deferred);
    }

    pub(crate) fn inc_store_errors(&self) {
        inc(&self.store_errors);
    }

    pub(crate) fn inc_invalidations(&self) {
        inc(&self.invalidations);
    }

    pub(crate) fn snapshot(&self, usage: StoreUsage, invalidation_stamps: usize) -> IsrStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IsrStats {
            hits: get(&self.hits),
            stale: get(&self.stale),
            misses: get(&self.misses),
            bypasses: get(&self.bypasses),
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
