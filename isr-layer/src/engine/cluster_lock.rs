//! One render per key across the instances sharing a store: the store's render lock.

use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::entry::Entry;
use crate::invalidate::EntryState;
use crate::store::{LockOutcome, LockToken};

/// What the stores shared with other instances say about rendering now.
pub(super) enum Turn {
    /// Render, releasing this lock token (if any) afterwards.
    Render(Option<LockToken>),
    /// Another instance already stored a newer, fresh entry: use it.
    Adopt(Arc<Entry>),
    /// Another instance is regenerating; nobody waits here, so leave it to them.
    Skip,
}

/// Whether this instance may render now.
enum Claim {
    /// Yes; give the lock back with this token (if the store has a lock) when done.
    Granted(Option<LockToken>),
    /// Another instance holds the lock.
    Held,
}

/// With a store shared by several instances, one render per key across all of them: take the
/// store's lock; if another instance holds it, a background regeneration steps aside and a
/// visitor waits (bounded by the waiter timeout) for that instance's entry. Whoever renders
/// first checks whether a newer entry has landed meanwhile. A store with no lock (files) only
/// has that check.
pub(super) async fn cluster_turn(
    engine: &Engine,
    lookup: &str,
    replaces: Option<&Entry>,
    background: bool,
) -> Turn {
    let newer = |entry: &Arc<Entry>| {
        replaces.is_none_or(|old| entry.stored_at > old.stored_at)
            && engine.freshness(entry, engine.clock.now()) == EntryState::Fresh
    };
    let ttl = engine.config.regeneration_timeout + Duration::from_secs(1);
    let deadline = tokio::time::Instant::now() + engine.config.waiter_timeout;
    loop {
        let (claim, fresh) = claim(engine, lookup, ttl).await;
        match (claim, fresh.filter(newer)) {
            (Claim::Granted(token), Some(entry)) => {
                if let (Some(token), Some(lock)) = (token, engine.store.render_lock()) {
                    let _ = lock.unlock(lookup, token).await;
                }
                return Turn::Adopt(entry);
            }
            (Claim::Granted(token), None) => return Turn::Render(token),
            (Claim::Held, Some(entry)) => return Turn::Adopt(entry),
            (Claim::Held, None) if background => return Turn::Skip,
            (Claim::Held, None) if tokio::time::Instant::now() >= deadline => {
                return Turn::Render(None);
            }
            (Claim::Held, None) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Asks the store's render lock for `lookup` and reads the shared tier after it; without a
/// lock, only reads. A lock that cannot be asked grants the render (rendering here is always
/// safe) without a read.
async fn claim(engine: &Engine, lookup: &str, ttl: Duration) -> (Claim, Option<Arc<Entry>>) {
    let Some(lock) = engine.store.render_lock() else {
        let entry = engine.store.get_shared(lookup).await.unwrap_or_default();
        return (Claim::Granted(None), entry);
    };
    match lock.try_lock_then_get(lookup, ttl).await {
        Ok((LockOutcome::Acquired(token), entry)) => (Claim::Granted(Some(token)), entry),
        Ok((LockOutcome::Held, entry)) => (Claim::Held, entry),
        Err(error) => {
            engine.store_failed(lookup, &error, "store lock failed; rendering here");
            (Claim::Granted(None), None)
        }
    }
}
