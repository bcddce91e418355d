//! The render lock of [`RedisStore`]: `SET NX PX` on the page's lock key, released with a
//! token check.
//!
//! Redis runs each command alone, so of any number of instances sending `SET NX` for one free
//! lock exactly one gets `OK`. The lock carries a token unique to the acquisition and expires
//! after its time to live; [`unlock`](RenderLock::unlock) deletes it in a script only while it
//! still holds that token.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Cmd;

use super::RedisStore;
use crate::entry::Entry;
use crate::store::{LockOutcome, LockToken, RenderLock, StoreFuture};

/// Makes tokens unique to an acquisition: this store's instance id and a counter.
#[derive(Debug)]
pub(super) struct Tokens {
    instance: String,
    counter: AtomicU64,
}

impl Tokens {
    pub(super) fn new(instance: String) -> Self {
        Self {
            instance,
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> LockToken {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        LockToken::new(format!("{}-{n}", self.instance))
    }
}

/// The `SET NX PX` setting `lock_key` to `token` for `ttl` (at least a millisecond).
fn lock_command(lock_key: String, token: &LockToken, ttl: Duration) -> Cmd {
    let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut set = redis::cmd("SET");
    set.arg(lock_key)
        .arg(token.as_str())
        .arg("NX")
        .arg("PX")
        .arg(ttl);
    set
}

/// What the answer to the lock command (`SET NX`: `OK` or nil) means for `token`.
fn lock_outcome(set: Option<String>, token: LockToken) -> LockOutcome {
    match set {
        Some(_) => LockOutcome::Acquired(token),
        None => LockOutcome::Held,
    }
}

impl RenderLock for RedisStore {
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, LockOutcome> {
        Box::pin(async move {
            let inner = &self.inner;
            let token = inner.tokens.next();
            let set_lock = lock_command(inner.keys.lock(key), &token, ttl);
            let set: Option<String> = inner
                .run(|mut c| async move { set_lock.query_async(&mut c).await })
                .await?;
            Ok(lock_outcome(set, token))
        })
    }

    /// One round trip: `SET NX PX` on the lock, then `GET` of the entry, pipelined (Redis runs
    /// them in that order, so an entry stored before the lock was taken is seen). Both keys
    /// carry the page's hash tag, so the pipeline goes to one Redis Cluster slot.
    fn try_lock_then_get<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, (LockOutcome, Option<Arc<Entry>>)> {
        Box::pin(async move {
            let inner = &self.inner;
            let token = inner.tokens.next();
            let set_lock = lock_command(inner.keys.lock(key), &token, ttl);
            let redis_key = inner.keys.entry(key);
            let mut pipe = redis::pipe();
            pipe.add_command(set_lock).get(&redis_key);
            let answer = inner
                .run(|mut c| async move { pipe.query_async(&mut c).await })
                .await;
            let (set, bytes): (Option<String>, Option<Vec<u8>>) = match answer {
                Ok(answer) => answer,
                Err(error) => {
                    // The lock may have been taken before the read failed: give it back (the
                    // token check makes this safe), so no lock is held past this call.
                    let _ = self.unlock(key, token).await;
                    return Err(error);
                }
            };
            let entry = inner.found(key, redis_key, bytes).await;
            Ok((lock_outcome(set, token), entry))
        })
    }

    fn unlock<'a>(&'a self, key: &'a str, token: LockToken) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            let unlock = inner.scripts.unlock(inner.keys.lock(key), &token);
            inner
                .run(|mut c| async move { unlock.invoke_async::<i64>(&mut c).await })
                .await
                .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use redis::AsyncCommands;

    use super::*;
    use crate::store::Store;
    use crate::store::redis::testing;
    use crate::store::tier_tests::entry;

    const TTL: Duration = Duration::from_secs(30);

    #[test]
    fn the_answer_to_set_nx_maps_to_the_outcome() {
        assert_eq!(
            lock_outcome(Some("OK".to_owned()), LockToken::new("a-1")),
            LockOutcome::Acquired(LockToken::new("a-1"))
        );
        assert_eq!(lock_outcome(None, LockToken::new("a-2")), LockOutcome::Held);
    }

    #[test]
    fn tokens_are_unique_to_each_acquisition_and_name_their_instance() {
        let tokens = Tokens::new("00ab".to_owned());
        let (first, second) = (tokens.next(), tokens.next());
        assert_ne!(first, second);
        assert_eq!(first.as_str(), "00ab-0");
        assert_eq!(second.as_str(), "00ab-1");
        assert_ne!(Tokens::new("00ac".to_owned()).next(), first);
    }

    #[test]
    fn the_lock_command_sets_the_token_only_if_free_with_a_ttl_of_at_least_a_millisecond() {
        let args = |ttl| -> Vec<String> {
            lock_command("p:{t}:lock".to_owned(), &LockToken::new("i-7"), ttl)
                .args_iter()
                .map(|arg| match arg {
                    redis::Arg::Simple(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
                    other => panic!("a plain argument: {other:?}"),
                })
                .collect()
        };
        assert_eq!(
            args(Duration::from_millis(1500)),
            ["SET", "p:{t}:lock", "i-7", "NX", "PX", "1500"]
        );
        assert_eq!(
            args(Duration::ZERO),
            ["SET", "p:{t}:lock", "i-7", "NX", "PX", "1"]
        );
    }

    #[tokio::test]
    async fn a_lock_taken_twice_is_held_for_the_second_caller_until_unlocked() {
        let store = testing::store(&testing::unique_prefix("lock-twice")).await;
        let LockOutcome::Acquired(token) = store.try_lock("/p", TTL).await.unwrap() else {
            panic!("a free lock is acquired")
        };
        assert_eq!(store.try_lock("/p", TTL).await.unwrap(), LockOutcome::Held);
        assert!(
            matches!(
                store.try_lock("/other", TTL).await.unwrap(),
                LockOutcome::Acquired(_)
            ),
            "locks are per page"
        );
        store.unlock("/p", token).await.unwrap();
        assert!(matches!(
            store.try_lock("/p", TTL).await.unwrap(),
            LockOutcome::Acquired(_)
        ));
    }

    #[tokio::test]
    async fn unlocking_with_a_wrong_token_leaves_the_lock() {
        let store = testing::store(&testing::unique_prefix("lock-wrong-token")).await;
        let LockOutcome::Acquired(token) = store.try_lock("/p", TTL).await.unwrap() else {
            panic!("a free lock is acquired")
        };
        store
            .unlock("/p", LockToken::new(format!("{}-not", token.as_str())))
            .await
            .unwrap();
        assert_eq!(store.try_lock("/p", TTL).await.unwrap(), LockOutcome::Held);
        let mut redis = testing::raw().await;
        let held: Option<String> = redis.get(store.inner.keys.lock("/p")).await.unwrap();
        assert_eq!(held.as_deref(), Some(token.as_str()));
    }

    #[tokio::test]
    async fn the_lock_is_a_lease_that_expires_by_itself() {
        let store = testing::store(&testing::unique_prefix("lock-lease")).await;
        let ttl = Duration::from_secs(7);
        assert!(matches!(
            store.try_lock("/p", ttl).await.unwrap(),
            LockOutcome::Acquired(_)
        ));
        let mut redis = testing::raw().await;
        let left: i64 = redis.pttl(store.inner.keys.lock("/p")).await.unwrap();
        assert!(0 < left && left <= 7_000, "{left} ms left");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_two_instances_racing_for_a_free_lock_exactly_one_gets_it() {
        let prefix = testing::unique_prefix("lock-race");
        let stores = [testing::store(&prefix).await, testing::store(&prefix).await];
        let racers: Vec<_> = (0..16)
            .map(|n| {
                let store = stores[n % 2].clone();
                tokio::spawn(async move { store.try_lock("/p", TTL).await.unwrap() })
            })
            .collect();
        let mut acquired = 0;
        for racer in racers {
            match racer.await.unwrap() {
                LockOutcome::Acquired(_) => acquired += 1,
                LockOutcome::Held => {}
            }
        }
        assert_eq!(acquired, 1);
    }

    #[tokio::test]
    async fn the_entry_is_read_after_the_lock_is_taken_in_one_call() {
        let prefix = testing::unique_prefix("lock-then-get");
        let (a, b) = (testing::store(&prefix).await, testing::store(&prefix).await);
        let (lock, entry_read) = b.try_lock_then_get("/p", TTL).await.unwrap();
        let LockOutcome::Acquired(token) = lock else {
            panic!("a free lock is acquired")
        };
        assert!(entry_read.is_none());
        // The holder stores its render and gives the lock back; the next caller sees the page.
        b.put(entry("/p", "rendered by b")).await.unwrap();
        b.unlock("/p", token).await.unwrap();
        let (lock, entry_read) = a.try_lock_then_get("/p", TTL).await.unwrap();
        assert!(matches!(lock, LockOutcome::Acquired(_)), "{lock:?}");
        assert_eq!(&entry_read.unwrap().body()[..], b"rendered by b");
        let (lock, entry_read) = b.try_lock_then_get("/p", TTL).await.unwrap();
        assert_eq!(lock, LockOutcome::Held);
        assert!(entry_read.is_some());
    }

    #[tokio::test]
    async fn a_lock_that_cannot_be_asked_is_an_error() {
        let store = testing::unreachable_store(&testing::unique_prefix("lock-down")).await;
        assert!(store.try_lock("/p", TTL).await.is_err());
        assert!(store.try_lock_then_get("/p", TTL).await.is_err());
    }
}
