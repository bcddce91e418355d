//! Where entries live.
//!
//! A store keeps entries and knows nothing of HTTP semantics: freshness, invalidation and
//! coalescing are the engine's. Store failures never fail a request: the engine logs them under
//! the `isr` target and renders instead.
//!
//! Stores are described by capability, as a store has them:
//!
//! - [`Store`]: storage, which every store has.
//! - [`RenderLock`]: one render of a page at a time across the instances sharing the store
//!   (the Redis store).
//! - [`InvalidationLog`]: invalidations that outlive a restart or reach other instances (the
//!   file and Redis stores).
//!
//! The engine asks a store for the optional ones with [`Store::render_lock`] and
//! [`Store::invalidation_log`]; a store without them is used without them.
//!
//! The storage trait splits lookups in two so the cache-hit path of an in-memory store needs no
//! future and no allocation: [`Store::get_local`] answers from process memory without waiting,
//! and only when it finds nothing and the store has a remote tier does the engine call
//! [`Store::get`].

mod codec;
#[cfg(feature = "fs")]
mod fs;
mod invalidation_log;
mod lock;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(test)]
mod tier_tests;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use self::codec::DecodeError;
#[cfg(feature = "fs")]
pub use self::fs::{FsStore, FsStoreBuilder};
pub use self::invalidation_log::InvalidationLog;
#[cfg(any(feature = "fs", feature = "redis"))]
pub(crate) use self::invalidation_log::StampLine;
pub use self::lock::{LockOutcome, LockToken, RenderLock};
pub use self::memory::MemoryStore;
#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};
pub use crate::entry::Entry;

/// The future returned by store operations that may do I/O.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The future of a store operation that finished when it was called. It holds nothing, so
/// boxing it does not allocate: the memory store's writes cost no allocation of their own.
pub(crate) fn done<'a>() -> StoreFuture<'a, ()> {
    struct Done;
    impl Future for Done {
        type Output = Result<(), StoreError>;
        fn poll(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            std::task::Poll::Ready(Ok(()))
        }
    }
    Box::pin(Done)
}

/// A boxed error from a store backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing the backing medium failed.
    #[error("store I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// A stored entry could not be decoded; it is never served.
    #[error("corrupt entry: {0}")]
    Corrupt(#[from] DecodeError),
    /// The backend (e.g. a remote server) reported an error.
    #[error("store backend failed: {0}")]
    Backend(#[source] BoxError),
}

/// How much a store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreUsage {
    /// Entries held.
    pub entries: u64,
    /// Bytes held, as weighed by [`Entry::weight`].
    pub bytes: u64,
}

impl StoreUsage {
    /// `entries` entries weighing `bytes` bytes: what a store of another crate reports from
    /// [`Store::usage`].
    pub const fn new(entries: u64, bytes: u64) -> Self {
        Self { entries, bytes }
    }
}

/// Which store keeps the entries and whether it answers, for operators (the inspector, the
/// purge endpoint's `?view=stats`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStatus {
    /// What keeps the entries: `"memory"`, `"files"` or `"redis"` for the stores of this crate.
    pub kind: &'static str,
    /// The bound on [`StoreUsage::bytes`], if the store has one.
    pub max_bytes: Option<u64>,
    /// Whether the shared tier answered its last command (always `true` for a store without
    /// one).
    pub reachable: bool,
    /// When [`reachable`](Self::reachable) last changed, if it ever did.
    pub since: Option<std::time::SystemTime>,
    /// How many times the shared tier became unreachable.
    pub outages: u64,
}

impl StoreStatus {
    /// A store in this process only: always reachable.
    pub fn local(kind: &'static str, max_bytes: Option<u64>) -> Self {
        Self {
            kind,
            max_bytes,
            reachable: true,
            since: None,
            outages: 0,
        }
    }
}

/// A place to keep entries: the storage every store has.
///
/// The capabilities only some stores have are traits of their own, reached through this one:
/// [`render_lock`](Store::render_lock) and [`invalidation_log`](Store::invalidation_log).
///
/// Implementations must be cheap to call concurrently; the engine never holds a lock across
/// a store call.
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Looks `key` up in process memory only. Must not block or wait.
    fn get_local(&self, key: &str) -> Option<Arc<Entry>>;

    /// Looks `key` up everywhere the store keeps entries: process memory, then the shared tier.
    /// Called only after [`get_local`](Store::get_local) found nothing and
    /// [`is_local_only`](Store::is_local_only) is `false`.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Arc<Entry>>> {
        match self.get_local(key) {
            Some(entry) => Box::pin(async move { Ok(Some(entry)) }),
            None => self.get_shared(key),
        }
    }

    /// Looks `key` up in the shared tier only (disk, Redis), skipping process memory, and
    /// keeps what it finds in memory. Used before a render to see whether another instance has
    /// stored a newer entry. Default: no shared tier, nothing found.
    fn get_shared<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Arc<Entry>>> {
        let _ = key;
        Box::pin(async { Ok(None) })
    }

    /// Whether [`get_local`](Store::get_local) sees everything (no remote or disk tier).
    fn is_local_only(&self) -> bool {
        true
    }

    /// Stores `entry` under its key, replacing what was there.
    fn put(&self, entry: Arc<Entry>) -> StoreFuture<'_, ()>;

    /// `entry` grew while it was held: an encoding of its page was made for a visitor. A
    /// store that bounds the bytes it keeps in memory weighs the entry again, if it still holds
    /// that very entry under its key. Must not block or wait. Default: nothing.
    fn reweigh(&self, entry: &Arc<Entry>) {
        let _ = entry;
    }

    /// Removes the entry under `key`, if any.
    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;

    /// How much the store holds now.
    fn usage(&self) -> StoreUsage;

    /// Which store this is and whether it answers. Default: a store of this process only,
    /// `kind` `"custom"`, no bound.
    fn status(&self) -> StoreStatus {
        StoreStatus::local("custom", None)
    }

    /// Up to `limit` entries held in process memory, for inspection. Order is unspecified.
    fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>>;

    /// This store's render lock, if its entries are shared with other instances and it can
    /// keep them from rendering the same page at once. Default: none: an instance about to
    /// render asks no one, only looks whether the shared tier (if any) already holds a newer
    /// entry. A store implementing [`RenderLock`] returns `Some(self)`.
    fn render_lock(&self) -> Option<&dyn RenderLock> {
        None
    }

    /// This store's invalidation log, if it keeps invalidations beyond the process (on disk,
    /// or shared with other instances). Default: none (invalidations are forgotten with the
    /// process, like the entries of an in-memory store). A store implementing
    /// [`InvalidationLog`] returns `Some(self)`.
    fn invalidation_log(&self) -> Option<&dyn InvalidationLog> {
        None
    }
}
