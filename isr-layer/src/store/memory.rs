//! The in-memory store, bounded by bytes.

use std::fmt;
use std::sync::Arc;

use moka::sync::Cache;

use super::{Store, StoreFuture, StoreStatus, StoreUsage};
use crate::entry::Entry;

/// The default store: entries in process memory, bounded by their total size in bytes.
///
/// Built on [`moka`]'s synchronous cache, whose lookups never wait, so a cache hit is served
/// without a future or an allocation. Entries are weighed with [`Entry::weight`] (body, headers,
/// key and a fixed overhead); when the total passes the bound, the least useful entries are
/// evicted (moka's TinyLFU policy).
///
/// ```
/// use isr_layer::{IsrLayer, store::MemoryStore};
///
/// let isr = IsrLayer::builder()
///     .store(MemoryStore::new(64 * 1024 * 1024)) // 64 MiB
///     .build()
///     .unwrap();
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    // aHash with per-process random keys: URLs are chosen by visitors, so the hasher must resist
    // crafted collisions, and it is several times cheaper than the standard SipHash on the
    // lookup every hit makes.
    cache: Cache<Arc<str>, Arc<Entry>, ahash::RandomState>,
    max_bytes: u64,
}

impl MemoryStore {
    /// The default bound: 256 MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

    /// A store holding at most `max_bytes` of entries.
    pub fn new(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_key: &Arc<str>, entry: &Arc<Entry>| {
                u32::try_from(entry.weight()).unwrap_or(u32::MAX)
            })
            .build_with_hasher(ahash::RandomState::new());
        Self { cache, max_bytes }
    }

    /// The byte bound this store was built with.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    pub(crate) fn insert(&self, entry: Arc<Entry>) {
        self.cache.insert(entry.key.clone(), entry);
    }

    /// Weighs `entry` again if it is what the cache holds under its key (a newer render or a
    /// removal since is left alone).
    pub(crate) fn reweigh_local(&self, entry: &Arc<Entry>) {
        self.cache
            .entry(Arc::clone(&entry.key))
            .and_compute_with(|held| match held {
                Some(held) if Arc::ptr_eq(held.value(), entry) => {
                    moka::ops::compute::Op::Put(Arc::clone(entry))
                }
                _ => moka::ops::compute::Op::Nop,
            });
    }

    /// Keeps an entry read from a shared tier. When memory already holds that very entry (same
    /// render), the copy in memory stays: it carries this process's retry back-off state.
    #[cfg_attr(not(any(feature = "fs", feature = "redis")), allow(dead_code))]
    pub(crate) fn keep(&self, entry: Entry) -> Arc<Entry> {
        if let Some(held) = self.cache.get(&*entry.key)
            && held.rendered_at == entry.rendered_at
            && held.stored_at == entry.stored_at
        {
            return held;
        }
        let entry = Arc::new(entry);
        self.insert(Arc::clone(&entry));
        entry
    }

    #[cfg_attr(not(any(feature = "fs", feature = "redis")), allow(dead_code))]
    pub(crate) fn remove_local(&self, key: &str) {
        self.cache.invalidate(key);
    }

    /// Drops every entry (the Redis store, when Redis comes back after an outage).
    #[cfg(feature = "redis")]
    pub(crate) fn clear(&self) {
        self.cache.invalidate_all();
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_BYTES)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_bytes", &self.max_bytes)
            .field("entries", &self.cache.entry_count())
            .field("bytes", &self.cache.weighted_size())
            .finish()
    }
}

impl Store for MemoryStore {
    fn get_local(&self, key: &str) -> Option<Arc<Entry>> {
        self.cache.get(key)
    }

    fn put(&self, entry: Arc<Entry>) -> StoreFuture<'_, ()> {
        self.insert(entry);
        super::done()
    }

    fn reweigh(&self, entry: &Arc<Entry>) {
        self.reweigh_local(entry);
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.cache.invalidate(key);
        super::done()
    }

    fn status(&self) -> StoreStatus {
        StoreStatus::local("memory", Some(self.max_bytes))
    }

    fn usage(&self) -> StoreUsage {
        // Counts are updated by moka's housekeeping; run it so the numbers are current.
        self.cache.run_pending_tasks();
        StoreUsage {
            entries: self.cache.entry_count(),
            bytes: self.cache.weighted_size(),
        }
    }

    fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>> {
        self.cache.iter().take(limit).map(|(_, e)| e).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Revalidate;
    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};

    fn render(rendered_at: u64, stored_at: u64) -> Entry {
        Entry::fetched(
            Arc::from("/k"),
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from_static(b"page"),
            rendered_at,
            stored_at,
            Revalidate::Never,
            Box::default(),
        )
    }

    #[test]
    fn the_memory_store_keeps_entries_and_has_no_other_capability() {
        let store = MemoryStore::default();
        assert!(store.is_local_only());
        assert!(store.render_lock().is_none());
        assert!(store.invalidation_log().is_none());
    }

    #[test]
    fn the_bound_is_the_one_asked_for_and_256_mib_by_default() {
        assert_eq!(MemoryStore::new(1234).max_bytes(), 1234);
        assert_eq!(MemoryStore::default().max_bytes(), 256 * 1024 * 1024);
    }

    /// An encoding made for a render that has been replaced since (a newer render, or a
    /// removal) must not bring the old render back when the store weighs it again.
    #[test]
    fn weighing_a_replaced_render_again_leaves_the_newer_one() {
        let store = MemoryStore::new(1 << 20);
        let old = Arc::new(render(1, 2));
        store.insert(Arc::clone(&old));
        let newer = Arc::new(render(3, 4));
        store.insert(Arc::clone(&newer));
        store.reweigh_local(&old);
        assert!(Arc::ptr_eq(&store.get_local("/k").unwrap(), &newer));
        store.reweigh_local(&newer);
        assert!(Arc::ptr_eq(&store.get_local("/k").unwrap(), &newer));
    }

    #[test]
    fn keeping_the_same_render_again_keeps_the_copy_in_memory() {
        let store = MemoryStore::new(1 << 20);
        let first = store.keep(render(1, 2));
        // The same render read again from a shared tier: the copy held (and its back-off
        // state) stays.
        assert!(Arc::ptr_eq(&store.keep(render(1, 2)), &first));
        // Another render replaces it.
        for other in [render(3, 4), render(1, 5)] {
            let kept = store.keep(other);
            assert!(!Arc::ptr_eq(&kept, &first));
            assert!(Arc::ptr_eq(&store.get_local("/k").unwrap(), &kept));
        }
    }
}
