//! The render lock: one render of a page at a time across the instances sharing a store.

use std::sync::Arc;
use std::time::Duration;

use super::{Store, StoreFuture};
use crate::entry::Entry;

/// A lock a store shares with every instance using it, so that one of them, not all, renders
/// a page that went stale or is missing.
///
/// It is a capability of a store whose entries are shared between processes: the engine gets
/// it from [`Store::render_lock`] (a store that implements this trait returns `Some(self)`
/// there) and, when a store has none, renders without asking anyone. Locks are taken per page
/// key, with a time to live, and never waited on: a caller that finds the lock
/// [`Held`](LockOutcome::Held) either serves the stale page or polls, bounded, for the
/// holder's entry.
///
/// # Guarantees an implementation must give
///
/// - **One winner per race.** Taking the lock is one atomic step (Redis: `SET NX PX`): of any
///   number of callers on any number of instances asking for a free lock at once, exactly one
///   gets [`Acquired`](LockOutcome::Acquired) and every other one gets
///   [`Held`](LockOutcome::Held) until the lock is released or expires.
/// - **A lease, not a fence.** The lock expires `ttl` after it was taken whether or not it was
///   released, so a holder that crashes blocks nobody for longer than that. A render that
///   outlives its `ttl` may then overlap with the next holder's render; both store whole
///   entries and the later write wins, which costs a render, never a wrong page. The engine
///   takes the lock for its regeneration timeout plus one second.
/// - **Release is checked.** [`unlock`](RenderLock::unlock) frees the lock only while it still
///   holds the value of the [`LockToken`] it is given, in one atomic step (compare and delete):
///   a holder whose lease expired and was taken over cannot free its successor's lock.
/// - **Failures hold nothing.** An error from [`try_lock`](RenderLock::try_lock) or
///   [`try_lock_then_get`](RenderLock::try_lock_then_get) means the caller holds no lock (the
///   engine then renders here, which is always safe: at worst two instances render once each).
///
/// A store replicated asynchronously (a Redis primary with replicas) may lose a lock taken just
/// before a failover; two instances may then render the same page once each.
pub trait RenderLock: Store {
    /// Takes the render lock of `key` for at most `ttl`, if no one holds it.
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, LockOutcome>;

    /// [`try_lock`](RenderLock::try_lock), then [`Store::get_shared`]: what a render asks
    /// before it starts (whether it may render, and whether another instance has stored the
    /// page meanwhile). The read must happen after the lock is taken, so an entry stored by
    /// the lock's previous holder is seen. A store with a network round trip per command should
    /// send both at once; the default sends one after the other.
    ///
    /// An error means this call holds no lock. The default counts a read that fails after the
    /// lock was taken as nothing found; a store that cannot tell the two failures apart must
    /// release the lock it may have taken before returning the error.
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

    /// Releases the lock of `key` if `token` still holds it; otherwise (it expired, and maybe
    /// someone else took it) leaves the lock as it is.
    fn unlock<'a>(&'a self, key: &'a str, token: LockToken) -> StoreFuture<'a, ()>;
}

/// The outcome of [`RenderLock::try_lock`].
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockOutcome {
    /// This caller holds the lock: it renders, then gives the lock back with
    /// [`RenderLock::unlock`] and this token (or lets it expire).
    Acquired(LockToken),
    /// Another caller holds the lock: another instance (or task) is rendering this key.
    Held,
}

/// What a caller that took a render lock holds: the value the lock was set to.
///
/// A token proves that, when [`RenderLock::try_lock`] answered, the lock held this value and so
/// belonged to this caller; it proves nothing later (the lock may have expired and been taken
/// by someone else since), which is why [`RenderLock::unlock`] compares before it deletes. A
/// store makes each token unique per acquisition (the Redis store: an instance id and a
/// counter). Tokens are not secrets: they keep instances from freeing each other's locks by
/// mistake, not a hostile client of the store from guessing one.
#[derive(Debug, PartialEq, Eq)]
pub struct LockToken(String);

impl LockToken {
    /// A token of the value a lock was set to (for stores implementing [`RenderLock`]).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value the lock was set to.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::store::tier_tests::entry;
    use crate::store::{MemoryStore, StoreError, StoreUsage};

    /// A store whose lock and shared tier answer as told, recording what was asked in order.
    #[derive(Debug, Default)]
    struct Scripted {
        memory: MemoryStore,
        lock_fails: bool,
        read_fails: bool,
        asked: Mutex<Vec<&'static str>>,
    }

    impl Scripted {
        fn asked(&self) -> Vec<&'static str> {
            self.asked.lock().unwrap().clone()
        }
    }

    fn failure() -> StoreError {
        StoreError::Io(std::io::Error::other("down"))
    }

    impl Store for Scripted {
        fn get_local(&self, key: &str) -> Option<Arc<Entry>> {
            self.memory.get_local(key)
        }
        fn get_shared<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Arc<Entry>>> {
            self.asked.lock().unwrap().push("get_shared");
            let found = if self.read_fails {
                Err(failure())
            } else {
                Ok(self.memory.get_local(key))
            };
            Box::pin(async move { found })
        }
        fn is_local_only(&self) -> bool {
            false
        }
        fn put(&self, entry: Arc<Entry>) -> StoreFuture<'_, ()> {
            self.memory.put(entry)
        }
        fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
            self.memory.remove(key)
        }
        fn usage(&self) -> StoreUsage {
            self.memory.usage()
        }
        fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>> {
            self.memory.local_entries(limit)
        }
        fn render_lock(&self) -> Option<&dyn RenderLock> {
            Some(self)
        }
    }

    impl RenderLock for Scripted {
        fn try_lock<'a>(&'a self, _: &'a str, _: Duration) -> StoreFuture<'a, LockOutcome> {
            self.asked.lock().unwrap().push("try_lock");
            let outcome = if self.lock_fails {
                Err(failure())
            } else {
                Ok(LockOutcome::Acquired(LockToken::new("t")))
            };
            Box::pin(async move { outcome })
        }
        fn unlock<'a>(&'a self, _: &'a str, _: LockToken) -> StoreFuture<'a, ()> {
            self.asked.lock().unwrap().push("unlock");
            Box::pin(async { Ok(()) })
        }
    }

    const TTL: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn the_default_try_lock_then_get_reads_after_taking_the_lock() {
        let store = Scripted::default();
        store.memory.put(entry("/p", "page")).await.unwrap();
        let lock = store.render_lock().expect("a lock");
        let (outcome, entry) = lock.try_lock_then_get("/p", TTL).await.unwrap();
        assert_eq!(outcome, LockOutcome::Acquired(LockToken::new("t")));
        assert_eq!(&entry.expect("the stored page").body()[..], b"page");
        assert_eq!(store.asked(), ["try_lock", "get_shared"]);
    }

    #[tokio::test]
    async fn the_default_try_lock_then_get_counts_a_failed_read_as_nothing_found() {
        let store = Scripted {
            read_fails: true,
            ..Scripted::default()
        };
        let (outcome, entry) = store.try_lock_then_get("/p", TTL).await.unwrap();
        assert_eq!(outcome, LockOutcome::Acquired(LockToken::new("t")));
        assert!(entry.is_none());
    }

    #[tokio::test]
    async fn the_default_try_lock_then_get_does_not_read_when_the_lock_fails() {
        let store = Scripted {
            lock_fails: true,
            ..Scripted::default()
        };
        assert!(store.try_lock_then_get("/p", TTL).await.is_err());
        assert_eq!(store.asked(), ["try_lock"]);
    }

    #[test]
    fn a_token_is_the_value_the_lock_was_set_to() {
        let token = LockToken::new("instance-7");
        assert_eq!(token.as_str(), "instance-7");
        assert_eq!(token, LockToken::new(String::from("instance-7")));
        assert_ne!(token, LockToken::new("instance-8"));
    }
}
