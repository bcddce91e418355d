//! Where entries live.
//!
//! A store keeps entries and knows nothing of HTTP semantics: freshness, invalidation and
//! coalescing are the engine's. Store failures never fail a request: the engine logs them under
//! the `isr` target and renders instead.
//!
//! The trait splits lookups in two so the cache-hit path of an in-memory store needs no future
//! and no allocation: [`Store::get_local`] answers from process memory without waiting, and
//! only when it finds nothing and the store has a remote tier does the engine call
//! [`Store::get`].

mod codec;
#[cfg(feature = "fs")]
mod fs;
mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use self::codec::DecodeError;
#[cfg(feature = "fs")]
pub use self::fs::{FsStore, FsStoreBuilder};
pub use self::memory::MemoryStore;
#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};
pub use crate::entry::Entry;
use crate::invalidate::{StampRecord, StampSink};

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

/// A place to keep entries.
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

    /// Removes the entry under `key`, if any.
    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;

    /// How much the store holds now.
    fn usage(&self) -> StoreUsage;

    /// Up to `limit` entries held in process memory, for inspection. Order is unspecified.
    fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>>;

    /// Called once when the layer is built. A store that persists or shares invalidations
    /// hands them to `sink`: those made before a restart at once, those of other instances as
    /// they arrive. Default: nothing to hand.
    fn attach(&self, sink: StampSink) {
        let _ = sink;
    }

    /// Records an invalidation made in this process, so it survives a restart or reaches
    /// other instances. Default: nothing (an in-memory store forgets with the process).
    fn record_invalidation<'a>(&'a self, record: &'a StampRecord) -> StoreFuture<'a, ()> {
        let _ = record;
        done()
    }

    /// Takes the render lock of `key` across every instance sharing this store, for at most
    /// `ttl`. Default (a store of one process): always granted, with no token.
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, LockOutcome> {
        let _ = (key, ttl);
        Box::pin(async { Ok(LockOutcome::Acquired(None)) })
    }

    /// [`try_lock`](Store::try_lock), then [`get_shared`](Store::get_shared): what a render
    /// asks before it starts (whether it may render, and whether another instance has stored
    /// the page meanwhile). The read must happen after the lock is taken, so an entry stored by
    /// the lock's previous holder is seen. A store with a network round trip per command should
    /// send both at once; the default sends one after the other. An error means this call holds
    /// no lock (the engine then renders here, which is always safe); the default counts a read
    /// that fails after the lock was taken as nothing found, and a store that cannot tell the
    /// two failures apart releases the lock and returns the error.
    fn try_lock_then_get<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, (LockOutcome, Option<Arc<Entry>>)> {
        Box::pin(async move {
            let lock = self.try_lock(key, ttl).await?;
            let entry = self.get_shared(key).await.unwrap_or_default();
            Ok((lock, entry))
        })
    }

    /// Releases a lock taken with [`try_lock`](Store::try_lock), if `token` still holds it.
    fn unlock<'a>(&'a self, key: &'a str, token: String) -> StoreFuture<'a, ()> {
        let _ = (key, token);
        done()
    }
}

/// The outcome of [`Store::try_lock`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockOutcome {
    /// This instance renders; release with the token (if any) when done.
    Acquired(Option<String>),
    /// Another instance is rendering this key.
    Busy,
}

/// An invalidation stamp as persisted (files) and published (Redis): one JSON object.
#[cfg(any(feature = "fs", feature = "redis"))]
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct StampLine {
    kind: String,
    name: String,
    mode: String,
    pub(crate) at: u64,
}

#[cfg(any(feature = "fs", feature = "redis"))]
impl From<&StampRecord> for StampLine {
    fn from(record: &StampRecord) -> Self {
        Self {
            kind: record.target.kind().to_owned(),
            name: record.target.name().to_owned(),
            mode: record.mode.as_str().to_owned(),
            at: record.at,
        }
    }
}

#[cfg(any(feature = "fs", feature = "redis"))]
impl StampLine {
    /// The record, unless the line names an unknown kind or mode.
    pub(crate) fn record(self) -> Option<StampRecord> {
        use crate::invalidate::{InvalidationMode, InvalidationTarget};
        let mode = InvalidationMode::from_name(&self.mode)?;
        let target = InvalidationTarget::from_kind(&self.kind, self.name)?;
        Some(StampRecord::new(target, mode, self.at))
    }
}

#[cfg(all(test, any(feature = "fs", feature = "redis")))]
mod tests {
    use super::*;
    use crate::invalidate::{InvalidationMode, InvalidationTarget};

    #[test]
    fn stamp_lines_round_trip_every_target_and_mode() {
        for target in [
            InvalidationTarget::Page("/docs/a".to_owned()),
            InvalidationTarget::Layout("/docs".to_owned()),
            InvalidationTarget::Tag("docs".to_owned()),
            InvalidationTarget::All,
        ] {
            for mode in [InvalidationMode::Expire, InvalidationMode::Stale] {
                let record = StampRecord::new(target.clone(), mode, 1_700_000_000_000_000);
                let line = StampLine::from(&record);
                let json = serde_json::to_string(&line).unwrap();
                let back: StampLine = serde_json::from_str(&json).unwrap();
                assert_eq!(back.record(), Some(record), "{json}");
            }
        }
        let unknown: StampLine =
            serde_json::from_str(r#"{"kind":"page","name":"/a","mode":"later","at":1}"#).unwrap();
        assert_eq!(unknown.record(), None);
        let unknown: StampLine =
            serde_json::from_str(r#"{"kind":"route","name":"/a","mode":"stale","at":1}"#).unwrap();
        assert_eq!(unknown.record(), None);
    }
}
