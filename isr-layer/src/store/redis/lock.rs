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
